"""The S3 object API on the shared AWS endpoint, through real boto3 clients: buckets, objects, listing,
ranges, copies, multipart, tagging, presigned URLs, path- and virtual-hosted-style requests, the
loopback Host guard, AWS's error codes; and what is written to ``<state_dir>/data/s3`` before each
answer."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from albfargate.api.server import ApiServer
from albfargate.api.store import ConfigStore
from albfargate.model.s3 import Bucket
from tests.api.fakes import FakeBackend, demo_model

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from albfargate.backing.s3 import S3Service  # noqa: E402


@dataclass
class S3Endpoint:
    url: str
    port: int
    state_dir: Path
    service: S3Service

    def client(self, *, url: str | None = None, style: str = "path", **config: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=url or self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": style}, **config),
        )


@contextlib.contextmanager
def serve_s3(state_dir: Path, buckets: tuple[Bucket, ...] = ()) -> Iterator[S3Endpoint]:
    model = demo_model()
    service = S3Service(state_dir, buckets)
    server = ApiServer(FakeBackend(model), ConfigStore(model), port=0, s3=service)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(service.start())
        url.append(loop.run_until_complete(server.start()))
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.run_until_complete(service.stop())
        loop.close()

    thread = threading.Thread(target=run, name="s3-test-server", daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield S3Endpoint(url[0], server.port, state_dir, service)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def s3ep(tmp_path: Path) -> Iterator[S3Endpoint]:
    buckets = (Bucket(name="template-bucket", stack="S", logical_id="B"),)
    with serve_s3(tmp_path / ".albfargate", buckets) as ep:
        yield ep


@pytest.fixture
def localhost_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """``*.localhost`` resolves to loopback (RFC 6761), as systemd's nss-myhostname, curl and browsers do;
    this machine's glibc resolves only ``localhost`` itself, so the test's process does it here."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def raw(
    port: int, method: str, target: str, host: str, body: bytes = b"", **headers: str
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---- buckets ---------------------------------------------------------------------------------------------


def test_template_bucket_exists_and_buckets_are_created_listed_and_deleted(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["template-bucket"]
    s3.create_bucket(Bucket="made-by-api")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"template-bucket", "made-by-api"}
    s3.head_bucket(Bucket="made-by-api")
    s3.delete_bucket(Bucket="made-by-api")
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket="made-by-api")
    assert err.value.response["Error"]["Code"] == "404"


def test_a_bucket_that_is_not_empty_cannot_be_deleted(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    s3.put_object(Bucket="template-bucket", Key="k", Body=b"x")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket="template-bucket")
    assert err.value.response["Error"]["Code"] == "BucketNotEmpty"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_object(Bucket="template-bucket", Key="k")["Body"].read() == b"x"


def test_errors_are_s3s_codes(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="template-bucket", Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket="no-such-bucket")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.put_object(Bucket="template-bucket", Key="kept", Body=b"1")
    s3.create_bucket(Bucket="template-bucket")  # us-east-1: re-creating an owned bucket answers 200
    assert s3.get_object(Bucket="template-bucket", Key="kept")["Body"].read() == b"1"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="Not_A_Valid_Name")
    assert err.value.response["Error"]["Code"] == "InvalidBucketName"


# ---- objects ---------------------------------------------------------------------------------------------


def test_put_get_head_delete_an_object_with_metadata(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    put = s3.put_object(
        Bucket="template-bucket",
        Key="dir/hello.txt",
        Body=b"hello world",
        ContentType="text/plain",
        Metadata={"owner": "me"},
    )
    got = s3.get_object(Bucket="template-bucket", Key="dir/hello.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "me"}
    assert got["ETag"] == put["ETag"] == '"5eb63bbbe01eeed093cb22bb8f5acdc3"'
    head = s3.head_object(Bucket="template-bucket", Key="dir/hello.txt")
    assert head["ContentLength"] == 11
    s3.delete_object(Bucket="template-bucket", Key="dir/hello.txt")
    assert s3.list_objects_v2(Bucket="template-bucket")["KeyCount"] == 0


def test_listing_with_prefix_delimiter_and_pages(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    for i in range(5):
        s3.put_object(Bucket="template-bucket", Key=f"a/{i}", Body=b"1")
    s3.put_object(Bucket="template-bucket", Key="b/x", Body=b"1")
    top = s3.list_objects_v2(Bucket="template-bucket", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/"]
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="template-bucket", Prefix="a/", PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["Contents"]) for p in pages] == [2, 2, 1]


def test_range_copy_and_tagging(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    s3.put_object(Bucket="template-bucket", Key="src", Body=b"0123456789")
    part = s3.get_object(Bucket="template-bucket", Key="src", Range="bytes=2-4")
    assert part["Body"].read() == b"234"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    s3.copy_object(
        Bucket="template-bucket", Key="dst", CopySource={"Bucket": "template-bucket", "Key": "src"}
    )
    assert s3.get_object(Bucket="template-bucket", Key="dst")["Body"].read() == b"0123456789"
    s3.put_object_tagging(
        Bucket="template-bucket", Key="dst", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    assert s3.get_object_tagging(Bucket="template-bucket", Key="dst")["TagSet"] == [
        {"Key": "k", "Value": "v"}
    ]


def test_delete_objects_in_one_request(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    for k in ("x", "y", "z"):
        s3.put_object(Bucket="template-bucket", Key=k, Body=k.encode())
    out = s3.delete_objects(Bucket="template-bucket", Delete={"Objects": [{"Key": "x"}, {"Key": "y"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["x", "y"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="template-bucket")["Contents"]] == ["z"]


def test_multipart_upload_of_a_large_object(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    part = b"a" * (5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket="template-bucket", Key="big")
    etags = []
    for n, body in enumerate((part, b"tail"), start=1):
        r = s3.upload_part(
            Bucket="template-bucket", Key="big", UploadId=up["UploadId"], PartNumber=n, Body=body
        )
        etags.append({"ETag": r["ETag"], "PartNumber": n})
    done = s3.complete_multipart_upload(
        Bucket="template-bucket", Key="big", UploadId=up["UploadId"], MultipartUpload={"Parts": etags}
    )
    assert done["ETag"].endswith('-2"')
    head = s3.head_object(Bucket="template-bucket", Key="big")
    assert head["ContentLength"] == len(part) + 4


def test_upload_fileobj_and_download_fileobj(s3ep: S3Endpoint, tmp_path: Path) -> None:
    s3 = s3ep.client()
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 4096)
    s3.upload_file(str(src), "template-bucket", "file.bin")
    dst = tmp_path / "dst.bin"
    s3.download_file("template-bucket", "file.bin", str(dst))
    assert dst.read_bytes() == src.read_bytes()


def test_presigned_get_works_without_credentials(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client()
    s3.put_object(Bucket="template-bucket", Key="shared.txt", Body=b"via a presigned URL")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "template-bucket", "Key": "shared.txt"})
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"via a presigned URL"


# ---- addressing ------------------------------------------------------------------------------------------


def test_path_style_on_the_loopback_address(s3ep: S3Endpoint) -> None:
    s3 = s3ep.client(style="auto")  # an address endpoint: botocore uses path style itself
    s3.put_object(Bucket="template-bucket", Key="p", Body=b"path", ACL="public-read")
    status, body = raw(s3ep.port, "GET", "/template-bucket/p", f"127.0.0.1:{s3ep.port}")
    assert (status, body) == (200, b"path")


@pytest.mark.parametrize("suffix", ["localhost", "s3.localhost", "s3.us-east-1.localhost"])
def test_virtual_hosted_style_hosts(s3ep: S3Endpoint, localhost_resolves: None, suffix: str) -> None:
    s3 = s3ep.client(url=f"http://{suffix}:{s3ep.port}", style="virtual")
    s3.put_object(Bucket="template-bucket", Key="v/1.txt", Body=b"virtual", ACL="public-read")
    assert s3.get_object(Bucket="template-bucket", Key="v/1.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="template-bucket")["Contents"]] == ["v/1.txt"]
    status, body = raw(s3ep.port, "GET", "/v/1.txt", f"template-bucket.{suffix}:{s3ep.port}")
    assert (status, body) == (200, b"virtual")


def test_a_dotted_bucket_name_in_a_virtual_host(s3ep: S3Endpoint, localhost_resolves: None) -> None:
    path = s3ep.client()
    path.create_bucket(Bucket="my.dotted.bucket")
    path.put_object(Bucket="my.dotted.bucket", Key="k", Body=b"dots", ACL="public-read")
    status, body = raw(s3ep.port, "GET", "/k", f"my.dotted.bucket.s3.localhost:{s3ep.port}")
    assert (status, body) == (200, b"dots")


def test_an_unsigned_get_of_a_private_object_is_denied(s3ep: S3Endpoint) -> None:
    s3ep.client().put_object(Bucket="template-bucket", Key="private", Body=b"p")
    status, body = raw(s3ep.port, "GET", "/template-bucket/private", f"127.0.0.1:{s3ep.port}")
    assert status == 403
    assert body != b"p"


def test_a_foreign_host_is_refused_dns_rebinding(s3ep: S3Endpoint) -> None:
    s3ep.client().put_object(Bucket="template-bucket", Key="secret", Body=b"s", ACL="public-read")
    for host in (
        f"template-bucket.evil.example:{s3ep.port}",
        "evil.example",
        "template-bucket.s3.amazonaws.com",
    ):
        status, body = raw(s3ep.port, "GET", "/template-bucket/secret", host)
        assert status == 403, host
        assert b"<Code>AccessDenied</Code>" in body
        assert b"secret" not in body.replace(b"template-bucket/secret", b"")


def test_ecs_and_elbv2_still_answer_beside_s3(s3ep: S3Endpoint) -> None:
    ecs = boto3.client(
        "ecs",
        endpoint_url=s3ep.url,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    assert ecs.list_clusters()["clusterArns"]
    status, body = raw(s3ep.port, "GET", "/", f"127.0.0.1:{s3ep.port}")
    assert status == 200 and json.loads(body) == {"status": "running"}


def test_chunked_request_body(s3ep: S3Endpoint) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", s3ep.port, timeout=10)
    try:
        conn.request(
            "PUT",
            "/template-bucket/chunked",
            body=iter([b"abc", b"defg"]),
            encode_chunked=True,
            headers={"Transfer-Encoding": "chunked"},
        )
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert s3ep.client().get_object(Bucket="template-bucket", Key="chunked")["Body"].read() == b"abcdefg"


def test_an_oversized_single_put_is_refused_unread(s3ep: S3Endpoint) -> None:
    conn = socket.create_connection(("127.0.0.1", s3ep.port), timeout=10)
    try:
        conn.sendall(
            b"PUT /template-bucket/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6000000000\r\n\r\n"
        )
        data = b""
        while b"EntityTooLarge" not in data:  # the answer may come in more than one segment
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        conn.close()
    assert b" 400 " in data.split(b"\r\n", 1)[0], data[:200]
    assert b"EntityTooLarge" in data, data[:400]


# ---- persistence -----------------------------------------------------------------------------------------


def test_objects_survive_a_restart_with_their_metadata_tags_and_etags(tmp_path: Path) -> None:
    state = tmp_path / ".albfargate"
    with serve_s3(state) as ep:
        s3 = ep.client()
        s3.create_bucket(Bucket="kept")
        s3.put_bucket_tagging(Bucket="kept", Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
        s3.put_object(
            Bucket="kept",
            Key="a.json",
            Body=b'{"a": 1}',
            ContentType="application/json",
            Metadata={"m": "1"},
            Tagging="t=1",
        )
        s3.put_object(Bucket="kept", Key="gone", Body=b"soon deleted")
        s3.delete_object(Bucket="kept", Key="gone")
        up = s3.create_multipart_upload(Bucket="kept", Key="multi")
        r = s3.upload_part(Bucket="kept", Key="multi", UploadId=up["UploadId"], PartNumber=1, Body=b"x" * 100)
        s3.complete_multipart_upload(
            Bucket="kept",
            Key="multi",
            UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"ETag": r["ETag"], "PartNumber": 1}]},
        )
        before = {k: s3.head_object(Bucket="kept", Key=k) for k in ("a.json", "multi")}

    with serve_s3(state) as ep:
        s3 = ep.client()
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]) == ["a.json", "multi"]
        got = s3.get_object(Bucket="kept", Key="a.json")
        assert got["Body"].read() == b'{"a": 1}'
        assert got["ContentType"] == "application/json"
        assert got["Metadata"] == {"m": "1"}
        for k in ("a.json", "multi"):
            after = s3.head_object(Bucket="kept", Key=k)
            assert after["ETag"] == before[k]["ETag"]
            assert after["LastModified"] == before[k]["LastModified"]
        assert s3.get_object_tagging(Bucket="kept", Key="a.json")["TagSet"] == [{"Key": "t", "Value": "1"}]
        assert s3.get_bucket_tagging(Bucket="kept")["TagSet"] == [{"Key": "team", "Value": "a"}]
        assert [(b["name"], b["objects"]) for b in ep.service.status()] == [("kept", 2)]


def test_a_deleted_bucket_stays_deleted_and_its_files_are_gone(tmp_path: Path) -> None:
    state = tmp_path / ".albfargate"
    with serve_s3(state) as ep:
        s3 = ep.client()
        s3.create_bucket(Bucket="short-lived")
        assert (state / "data" / "s3" / "buckets" / "short-lived" / "bucket.json").is_file()
        s3.delete_bucket(Bucket="short-lived")
        assert not (state / "data" / "s3" / "buckets" / "short-lived").exists()
    with serve_s3(state) as ep:
        assert ep.client().list_buckets()["Buckets"] == []


def test_what_an_interrupted_write_left_is_removed_and_the_committed_object_kept(tmp_path: Path) -> None:
    state = tmp_path / ".albfargate"
    with serve_s3(state) as ep:
        s3 = ep.client()
        s3.create_bucket(Bucket="bucket-one")
        s3.put_object(Bucket="bucket-one", Key="k", Body=b"committed")
    objects = state / "data" / "s3" / "buckets" / "bucket-one" / "objects"
    (objects / "deadbeef.0123.bin").write_bytes(b"bytes of a write that never committed")
    (objects / "deadbeef.json.tmp").write_text("{")
    with serve_s3(state) as ep:
        assert ep.client().get_object(Bucket="bucket-one", Key="k")["Body"].read() == b"committed"
    assert sorted(p.suffix for p in objects.iterdir()) == [".bin", ".json"]


def test_a_foreign_data_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    from albfargate.backing.s3_store import S3DataError

    root = tmp_path / ".albfargate" / "data" / "s3"
    root.mkdir(parents=True)
    (root / "someone-elses.txt").write_text("keep me")
    service = S3Service(tmp_path / ".albfargate", (Bucket(name="bucket-b"),))
    with pytest.raises(S3DataError, match="not an albfargate S3 data directory"):
        asyncio.run(service.start())
    assert sorted(p.name for p in root.iterdir()) == ["someone-elses.txt"]
    assert (root / "someone-elses.txt").read_text() == "keep me"


def test_a_corrupt_object_record_is_reported_not_wiped(tmp_path: Path) -> None:
    from albfargate.backing.s3_store import S3DataError

    state = tmp_path / ".albfargate"
    with serve_s3(state) as ep:
        s3 = ep.client()
        s3.create_bucket(Bucket="bucket-two")
        s3.put_object(Bucket="bucket-two", Key="k", Body=b"v")
    record = next((state / "data" / "s3" / "buckets" / "bucket-two" / "objects").glob("*.json"))
    record.write_text("not json")
    with pytest.raises(S3DataError, match="corrupt"):
        asyncio.run(S3Service(state).start())
    assert record.read_text() == "not json"


def test_moto_is_not_imported_for_an_app_without_buckets(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from albfargate.backing.s3 import S3Service\n"
        f"s = S3Service(Path({str(tmp_path)!r}))\n"
        "asyncio.run(s.start())\n"
        "print('moto' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
    assert not (tmp_path / "data").exists()


def test_without_the_s3_library_the_engine_warns_once_and_s3_requests_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from albfargate.backing import s3 as backing_s3
    from albfargate.engine import Engine, EngineConfig
    from albfargate.model import SystemModel
    from tests.api.conftest import api_client

    monkeypatch.setattr(backing_s3, "available", lambda: False)
    model = SystemModel(buckets=(Bucket(name="photos-bucket", stack="S", logical_id="Photos"),))
    engine = Engine(EngineConfig(model=model, state_dir=tmp_path / "state"))
    assert engine.s3 is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "albfargate: warning: S3 bucket(s) photos-bucket are not served: the S3 library is not installed "
        "(pip install 'albfargate[s3]'); the rest runs"
    ]
    assert engine.status()["backing"] is None  # no bucket entry without the S3 library

    fake = demo_model()
    server = ApiServer(FakeBackend(fake), ConfigStore(fake), port=0, s3=None)
    loop = asyncio.new_event_loop()
    try:
        url = loop.run_until_complete(server.start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        with pytest.raises(ClientError) as e:
            api_client(url, "s3").list_buckets()
        assert e.value.response["Error"]["Code"] == "NotImplemented"
        assert "pip install 'albfargate[s3]'" in e.value.response["Error"]["Message"]
        assert api_client(url, "ecs").list_clusters()["clusterArns"]  # the rest still answers
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(server.stop())
        loop.close()


def test_the_task_environment_names_the_endpoint_and_credentials_and_the_apps_endpoint_wins(
    tmp_path: Path,
) -> None:
    from albfargate.engine import Engine, EngineConfig
    from albfargate.model import ContainerDefinition, SystemModel, TaskDefinition

    def env_of(environment: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], tuple[str, ...]]:
        c = ContainerDefinition(name="app", image="x", environment=environment)
        td = TaskDefinition("arn:aws:ecs:us-east-1:000000000000:task-definition/f:1", "f", 1, (c,))
        engine = Engine(
            EngineConfig(model=SystemModel(task_definitions=(td,)), state_dir=tmp_path, stand_in=("*",))
        )
        engine.api_url = "http://127.0.0.1:4566"
        spec = engine.build_spec(td, "a" * 32, None)
        [container] = spec.containers
        return dict(container.env), container.secret_names

    env, hidden = env_of((("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example/"),))
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")  # ECS sets it itself
    assert "/v2/credentials/" in env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert len(env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 32
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" in hidden
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("us-east-1", "us-east-1")

    env, _ = env_of((("AWS_ENDPOINT_URL", "http://my-own-endpoint:9000"),))
    assert env["AWS_ENDPOINT_URL"] == "http://my-own-endpoint:9000"  # the app's value wins


def test_an_internal_error_is_answered_in_s3s_format_and_logs_no_query(
    s3ep: S3Endpoint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from moto.s3.responses import S3Response

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(S3Response, "key_dispatch", boom)
    s3 = s3ep.client()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "template-bucket", "Key": "k"})
    url += "&X-Amz-Security-Token=SECRET-SESSION-TOKEN"
    with caplog.at_level("ERROR"):
        try:
            urllib.request.urlopen(url, timeout=10)
        except urllib.error.HTTPError as e:
            assert e.code == 500 and b"<Code>InternalError</Code>" in e.read()
        else:  # pragma: no cover
            raise AssertionError("expected a 500")
    assert "a bug" in caplog.text
    assert "SECRET-SESSION-TOKEN" not in caplog.text
    assert s3.list_buckets()["Buckets"]  # the endpoint keeps serving
