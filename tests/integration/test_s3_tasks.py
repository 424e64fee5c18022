"""``albfargate up`` of a template with an ``AWS::S3::Bucket`` and a service whose task is a real boto3
program (process driver): the task writes and reads objects with no credentials or endpoint of its own,
through ``AWS_ENDPOINT_URL`` and the ECS credentials endpoint; objects persist across ``down``/``up`` and a
SIGKILLed supervisor; the task's credentials appear in no log, ``status`` or ``describe``."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly.s3 import generated_bucket_name
from tests.integration.up_support import (
    Svc,
    assert_nothing_left,
    cli,
    down_after,
    free_port,
    get,
    make_template,
    status,
    up_detached,
    wait_for,
)

pytestmark = pytest.mark.integration
boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")

APP = textwrap.dedent(
    """
    import http.server, json, os
    import boto3

    bucket, task = os.environ["BUCKET"], os.environ["ALBFARGATE_TASK_ID"]
    creds = boto3.session.Session().get_credentials()
    info = {
        "method": creds.method,
        "key_prefix": creds.access_key[:4],
        "has_session_token": bool(creds.token),
        "env_keys": sorted(k for k in os.environ if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=f"tasks/{task}.json", Body=json.dumps(info).encode())

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = s3.get_object(Bucket=bucket, Key=f"tasks/{task}.json")["Body"].read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
    """
)


def _app(tmp_path: Path) -> Path:
    tpl = make_template(
        tmp_path / "template.json", [Svc(name="web", desired=1, container="app", hc_interval=5)]
    )
    doc = json.loads(tpl.read_text())
    doc["Resources"]["Uploads"] = {"Type": "AWS::S3::Bucket"}
    env = doc["Resources"]["S0TaskDef"]["Properties"]["ContainerDefinitions"][0]["Environment"]
    env.append({"Name": "BUCKET", "Value": {"Ref": "Uploads"}})
    tpl.write_text(json.dumps(doc))
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "albfargate.toml").write_text(
        f'[containers.app]\ncommand = ["{sys.executable}", "app.py"]\nworkdir = "."\n'
    )
    return tpl


def _client(api_url: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=api_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _bucket(st: dict[str, Any]) -> str:
    [bucket] = st["backing"]["buckets"]
    assert bucket["engine"] == "s3" and bucket["state"] == "running" and bucket["logical_id"] == "Uploads"
    assert bucket["url"] == f"{st['api_url']}/{bucket['name']}"
    return str(bucket["name"])


def _task_env(state: Path) -> dict[str, str]:
    pid_dir = state / "pids"
    for pid_file in pid_dir.rglob("*"):
        if pid_file.is_file():
            pid = int(pid_file.read_text().split()[0])
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            return dict(e.decode().split("=", 1) for e in raw if b"=" in e)
    raise AssertionError("no task process")


def test_a_boto3_task_uses_the_bucket_through_the_credentials_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tpl = _app(tmp_path)
    state = tmp_path / ".albfargate"
    # the shell that runs `up` has credentials of its own: a task must not inherit them (ECS: task role)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOUTERSHELLKEY000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "outer-shell-secret")
    port = free_port()
    with down_after(state):
        p = up_detached(
            state, "--template", str(tpl), "--driver", "process", "--port", f"80={port}", timeout=60
        )
        assert p.returncode == 0, p.stderr
        st = status(state)
        bucket = _bucket(st)
        assert bucket == generated_bucket_name("template", "Uploads")  # <stack>-<logical id>-<suffix>
        s3 = _client(st["api_url"])
        [obj] = wait_for(
            lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tasks/").get("Contents"),
            30,
            "the task's object",
        )
        info = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        assert info == {
            "method": "container-role",
            "key_prefix": "ASIA",
            "has_session_token": True,
            "env_keys": [],
            "endpoint": st["api_url"],
        }
        code, body = get(f"http://127.0.0.1:{port}/")  # the task reads its object back through the ALB
        assert code == 200 and json.loads(body) == info
        [entry] = status(state)["backing"]["buckets"]
        assert entry["objects"] == 1 and entry["bytes"] == obj["Size"]
        assert (
            f"bucket Uploads  s3 {bucket}  running  1 objects"
            in cli("status", "--state-dir", str(state)).stdout
        )

        env = _task_env(state)
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
        secrets = [token]
        # the secret key is what the credentials endpoint answers with the token (as botocore asks)
        req = urllib.request.Request(
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={"Authorization": token}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            doc = json.loads(r.read())
        secrets += [doc["SecretAccessKey"], doc["Token"]]
        shown = [
            cli("status", "--state-dir", str(state)).stdout,
            cli("status", "--json", "--state-dir", str(state)).stdout,
            cli("describe", "--template", str(tpl)).stdout,
            cli("describe", "--template", str(tpl), "--json").stdout,
            cli("logs", "web", "--state-dir", str(state)).stdout,
        ]
        shown += [f.read_text(errors="replace") for f in state.rglob("*.log")]
        for secret in secrets:
            assert all(secret not in text for text in shown)


def test_objects_persist_across_down_up_and_a_sigkilled_supervisor(tmp_path: Path) -> None:
    tpl = _app(tmp_path)
    state = tmp_path / ".albfargate"
    args = ("--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}")
    with down_after(state):
        assert up_detached(state, *args, timeout=60).returncode == 0
        st = status(state)
        bucket = _bucket(st)
        _client(st["api_url"]).put_object(Bucket=bucket, Key="kept.txt", Body=b"across down and up")
        cli("down", "--state-dir", str(state))
        assert_nothing_left(state)

        assert up_detached(state, *args, timeout=60).returncode == 0
        st = status(state)
        s3 = _client(st["api_url"])
        assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"across down and up"

        # the 200 of a PUT means it is on disk: SIGKILL the supervisor right after it
        s3.put_object(Bucket=bucket, Key="acked.bin", Body=os.urandom(1024) * 1024)
        expected = s3.head_object(Bucket=bucket, Key="acked.bin")["ETag"]
        os.kill(st["supervisor_pid"], signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{st['supervisor_pid']}").exists(), 10, "the supervisor gone")

        assert up_detached(state, *args, timeout=60).returncode == 0  # cleans what the crash left
        s3 = _client(status(state)["api_url"])
        assert s3.head_object(Bucket=bucket, Key="acked.bin")["ETag"] == expected
        assert s3.get_object(Bucket=bucket, Key="kept.txt")["Body"].read() == b"across down and up"
    assert_nothing_left(state)
