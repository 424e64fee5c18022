"""The endpoint's HTTP edge: loopback Host guard, body limit, dispatch by signed service name and
target, protocol errors (never a traceback), keep-alive, port selection."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from typing import Any

import pytest

from albfargate.api import server as server_mod
from albfargate.api.server import ApiServer, is_loopback_host, signed_service
from albfargate.api.store import ConfigStore
from tests.api.conftest import Endpoint
from tests.api.fakes import FakeBackend, demo_model

ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
SIG = (
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00"
)


def _post(endpoint: Endpoint, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    host, port = endpoint.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _ecs(op: str, body: Any, **extra: str) -> tuple[bytes, dict[str, str]]:
    headers = {
        "X-Amz-Target": ECS_TARGET + op,
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": SIG.format(svc="ecs"),
        **extra,
    }
    return (body if isinstance(body, bytes) else json.dumps(body).encode()), headers


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost", True),
        ("localhost:4566", True),
        ("127.0.0.1:4566", True),
        ("127.1.2.3", True),
        ("[::1]:4566", True),
        ("api.localhost", True),
        ("LOCALHOST.", True),
        ("evil.example.com", False),
        ("evil.example.com:4566", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
        ("localhost.evil.com", False),
    ],
)
def test_is_loopback_host(host: str | None, ok: bool) -> None:
    assert is_loopback_host(host) is ok


def test_signed_service_from_credential_scope() -> None:
    assert signed_service({"authorization": SIG.format(svc="ecs")}, {}) == "ecs"
    assert signed_service(
        {}, {"X-Amz-Credential": "AKID/20260101/eu-west-1/elasticloadbalancing/aws4_request"}
    ) == ("elasticloadbalancing")
    assert signed_service({"authorization": "Bearer x"}, {}) is None


def test_dns_rebinding_host_is_refused(endpoint: Endpoint) -> None:
    body, headers = _ecs("ListClusters", {}, Host="attacker.example.com")
    status, _, out = _post(endpoint, body, headers)
    assert status == 403
    assert json.loads(out)["__type"] == "AccessDenied"
    status, _, out = _post(
        endpoint,
        b"Action=DescribeLoadBalancers&Version=2015-12-01",
        {"Host": "rebind.example", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403 and b"<Code>AccessDenied</Code>" in out and b"<ErrorResponse" in out


def test_body_limit(endpoint: Endpoint) -> None:
    body, headers = _ecs("ListClusters", b"{" + b" " * (server_mod.MAX_BODY + 1) + b"}")
    status, _, out = _post(endpoint, body, headers)
    assert status == 413 and json.loads(out)["__type"] == "RequestEntityTooLarge"


def test_malformed_requests_get_protocol_errors(endpoint: Endpoint) -> None:
    body, headers = _ecs("ListClusters", b"{not json")
    status, hdrs, out = _post(endpoint, body, headers)
    assert status == 400 and json.loads(out)["__type"] == "SerializationException"
    assert hdrs["content-type"] == "application/x-amz-json-1.1"
    body, headers = _ecs("Frobnicate", {})
    status, _, out = _post(endpoint, body, headers)
    assert status == 400 and json.loads(out)["__type"] == "UnknownOperationException"
    body, headers = _ecs("DescribeServices", {"services": "web"})  # wrong type
    status, _, out = _post(endpoint, body, headers)
    assert status == 400 and json.loads(out)["__type"] == "InvalidParameterException"
    form = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": SIG.format(svc="elasticloadbalancing"),
    }
    status, hdrs, out = _post(endpoint, b"Action=Frobnicate&Version=2015-12-01", form)
    assert status == 400 and b"<Code>InvalidAction</Code>" in out and hdrs["content-type"] == "text/xml"
    status, _, out = _post(endpoint, b"Action=DescribeLoadBalancers&Version=2012-06-01", form)
    assert status == 400 and b"<ErrorResponse" in out  # classic ELB is not served
    status, _, out = _post(endpoint, b"%%%=&&&", form)
    assert status == 400 and b"<ErrorResponse" in out


def test_dispatch_is_by_signed_service_not_guessing(endpoint: Endpoint) -> None:
    # an ECS target signed for another service is refused rather than guessed
    body, headers = _ecs("ListClusters", {}, Authorization=SIG.format(svc="application-autoscaling"))
    status, _, out = _post(endpoint, body, headers)
    assert status == 400 and json.loads(out)["__type"] == "UnknownOperationException"
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": SIG.format(svc="ecs")}
    status, _, out = _post(endpoint, b"Action=DescribeLoadBalancers&Version=2015-12-01", form)
    assert status == 400 and b"<Code>InvalidAction</Code>" in out
    # unsigned requests name their API unambiguously (target prefix / query Version)
    body, headers = _ecs("ListClusters", {})
    del headers["Authorization"]
    status, _, out = _post(endpoint, body, headers)
    assert status == 200 and "clusterArns" in json.loads(out)


def test_internal_error_is_a_protocol_error_without_traceback(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(endpoint.backend, "clusters", boom)
    body, headers = _ecs("ListClusters", {})
    status, _, out = _post(endpoint, body, headers)
    assert status == 500
    assert json.loads(out) == {"__type": "ServerException", "message": "Internal server error"}
    assert b"Traceback" not in out and b"secret" not in out


def test_keep_alive_serves_several_requests_on_one_connection(endpoint: Endpoint) -> None:
    host, port = endpoint.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        for _ in range(3):
            body, headers = _ecs("ListClusters", {})
            conn.request("POST", "/", body=body, headers=headers)
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["clusterArns"]
    finally:
        conn.close()


def test_raw_garbage_and_health() -> None:
    async def scenario() -> None:
        model = demo_model()
        srv = ApiServer(FakeBackend(model), ConfigStore(model), port=0)
        await srv.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"\x00\x01 garbage\r\n\r\n")
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(), 5)
            assert reply.startswith(b"HTTP/1.1 400") and b"Traceback" not in reply
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            reply = await asyncio.wait_for(reader.read(), 5)
            assert reply.startswith(b"HTTP/1.1 200") and b'"running"' in reply
            writer.close()
        finally:
            await srv.stop()

    asyncio.run(scenario())


def test_port_taken_moves_to_next_free() -> None:
    async def scenario() -> None:
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen()
            taken = blocker.getsockname()[1]
            model = demo_model()
            srv = ApiServer(FakeBackend(model), ConfigStore(model), port=taken)
            url = await srv.start()
            try:
                assert srv.port > taken and url == f"http://127.0.0.1:{srv.port}"
            finally:
                await srv.stop()

    asyncio.run(scenario())


def test_backend_refusals_become_protocol_errors(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    from albfargate.api.backend import BackendError

    def refuse(*args: object) -> None:
        raise BackendError("InvalidTarget", "No load balancer is running locally")

    monkeypatch.setattr(endpoint.backend, "register_target", refuse)
    elb = endpoint.client("elbv2")
    from botocore.exceptions import ClientError

    from tests.api.fakes import TG_ARN

    with pytest.raises(ClientError) as exc:
        elb.register_targets(TargetGroupArn=TG_ARN, Targets=[{"Id": "127.0.0.1", "Port": 5}])
    assert exc.value.response["Error"]["Code"] == "InvalidTarget"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_query_protocol_as_get(endpoint: Endpoint) -> None:
    host, port = endpoint.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/?Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=demo-lb")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 200 and b"<LoadBalancerName>demo-lb</LoadBalancerName>" in body


def test_aws_endpoint_url_environment_variable(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    session = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name="ap-south-1"
    )
    assert session.client("ecs").list_clusters()["clusterArns"] == [
        "arn:aws:ecs:us-east-1:000000000000:cluster/demo"
    ]
    assert (
        session.client("elbv2").describe_load_balancers()["LoadBalancers"][0]["LoadBalancerName"] == "demo-lb"
    )
