"""Malformed API bodies get the protocol's 400, never a 500 (issue 12, items 12 and 13): deeply nested
JSON on the JSON 1.1 protocol is ``SerializationException``; a malformed percent-escape (``%zz``) or a
percent-escape that decodes to invalid UTF-8 in a query-protocol body is ``MalformedQueryString``. Sent as
raw HTTP to a real endpoint, and through boto3 where the SDK can carry it."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.api.conftest import Endpoint

SIG = (
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00"
)
ECS = {
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": SIG.format(svc="ecs"),
}
AAS = {
    "X-Amz-Target": "AnyScaleFrontendService.DescribeScalableTargets",
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": SIG.format(svc="application-autoscaling"),
}
FORM = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": SIG.format(svc="elasticloadbalancing"),
}


def _post(endpoint: Endpoint, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = endpoint.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("headers", [ECS, AAS], ids=["ecs", "application-autoscaling"])
@pytest.mark.parametrize("opening", [b"[", b'{"a":'], ids=["arrays", "objects"])
@pytest.mark.parametrize("depth", [101, 900, 100_000])
def test_deeply_nested_json_is_a_serialization_exception(
    endpoint: Endpoint, headers: dict[str, str], opening: bytes, depth: int
) -> None:
    body = b'{"x":' + opening * depth + b"1" + (b"]" if opening == b"[" else b"}") * depth + b"}"
    status, out = _post(endpoint, body, headers)
    assert status == 400, out[:200]
    error = json.loads(out)
    assert error["__type"] == "SerializationException"
    assert "nested" in error["message"]
    # the endpoint keeps serving
    status, out = _post(endpoint, b"{}", ECS)
    assert status == 200 and "clusterArns" in json.loads(out)


def test_moderately_nested_json_is_still_parsed(endpoint: Endpoint) -> None:
    body = b'{"x":' + b"[" * 99 + b"]" * 99 + b"}"  # 100 levels with the outer object
    status, out = _post(endpoint, body, ECS)
    assert status == 200, out


@pytest.mark.parametrize(
    "body",
    [
        b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=%zz",
        b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%2",
        b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%",
        b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.%zz=a",
        b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=%ff%fe",  # not UTF-8
    ],
    ids=["zz", "one-digit", "bare-percent", "in-a-key", "invalid-utf8"],
)
def test_malformed_percent_escape_is_malformed_query_string(endpoint: Endpoint, body: bytes) -> None:
    status, out = _post(endpoint, body, FORM)
    assert status == 400, out
    assert b"<Code>MalformedQueryString</Code>" in out


def test_well_formed_percent_escapes_are_decoded(endpoint: Endpoint) -> None:
    status, out = _post(
        endpoint, b"Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=demo%2Dlb", FORM
    )
    assert status == 200 and b"<LoadBalancerName>demo-lb</LoadBalancerName>" in out


def test_malformed_query_string_through_boto3(endpoint: Endpoint) -> None:
    """boto3 percent-encodes what it sends, so a `%zz` typed by a user arrives as `%25zz` and is a
    name, not an escape: the request is answered normally (LoadBalancerNotFound), not refused."""
    from botocore.exceptions import ClientError

    elb = endpoint.client("elbv2")
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(Names=["%zz"])
    assert exc.value.response["Error"]["Code"] == "LoadBalancerNotFound"
