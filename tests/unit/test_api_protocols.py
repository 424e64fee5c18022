"""The API's wire protocols, pure: query-form parsing into nested values, XML and JSON 1.1 encoding,
error documents, loopback host names and pagination tokens — tables of cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from albfargate.api.errors import ApiError
from albfargate.api.protocols import json11, query
from albfargate.api.wire import Reader, page

FORM_CASES = [
    (
        b"Action=DescribeLoadBalancers&Version=2015-12-01",
        {"Action": "DescribeLoadBalancers", "Version": "2015-12-01"},
    ),
    (b"Names.member.1=a&Names.member.2=b", {"Names": ["a", "b"]}),
    (b"Names.member.2=b&Names.member.1=a", {"Names": ["a", "b"]}),  # order by index, not arrival
    (b"Names.member.10=j&Names.member.9=i", {"Names": ["i", "j"]}),  # numeric, not lexical
    (
        b"Targets.member.1.Id=10.0.0.1&Targets.member.1.Port=80&Targets.member.2.Id=10.0.0.2",
        {"Targets": [{"Id": "10.0.0.1", "Port": "80"}, {"Id": "10.0.0.2"}]},
    ),
    (
        b"Conditions.member.1.Field=path-pattern&Conditions.member.1.PathPatternConfig.Values.member.1=%2Fapi%2F%2A",
        {"Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}]},
    ),
    (
        b"Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=x"
        b"&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=3",
        {"Actions": [{"ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "x", "Weight": "3"}]}}]},
    ),
    (b"Attributes.member.1.Key=k&Attributes.member.1.Value=", {"Attributes": [{"Key": "k", "Value": ""}]}),
    (b"Names=", {"Names": ""}),  # an empty list on the wire
    (b"Names=&Names.member.1=a", {"Names": ["a"]}),
    (b"Message=a+b%26c", {"Message": "a b&c"}),
    (b"", {}),
]


@pytest.mark.parametrize(("body", "expected"), FORM_CASES)
def test_parse_form(body: bytes, expected: dict[str, object]) -> None:
    assert query.parse_form(body) == expected


def test_parse_form_rejects_conflicts_and_bad_utf8() -> None:
    with pytest.raises(ApiError) as exc:
        query.parse_form(b"Names.member.1=a&Names.member.1.Id=b")
    assert exc.value.code == "MalformedQueryString"
    with pytest.raises(ApiError):
        query.parse_form(b"A=\xff\xfe")


def test_xml_response_shape() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    out = query.encode_response(
        "DescribeThings",
        {
            "Things": [{"Name": "a<b", "On": True, "N": 3, "At": when, "Skip": None}],
            "Next": None,
            "Empty": [],
        },
        xmlns="urn:x",
        request_id="rid",
    )
    assert out == (
        b'<DescribeThingsResponse xmlns="urn:x"><DescribeThingsResult><Things><member><Name>a&lt;b</Name>'
        b"<On>true</On><N>3</N><At>2026-01-02T03:04:05.678Z</At></member></Things><Empty></Empty>"
        b"</DescribeThingsResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>"
        b"</DescribeThingsResponse>"
    )


def test_xml_error_document() -> None:
    status, body = query.encode_error(
        ApiError("RuleNotFound", "One <or> more"), xmlns="urn:x", request_id="r"
    )
    assert status == 400
    assert body == (
        b'<ErrorResponse xmlns="urn:x"><Error><Type>Sender</Type><Code>RuleNotFound</Code>'
        b"<Message>One &lt;or&gt; more</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
    status, body = query.encode_error(
        ApiError("InternalFailure", "x", status=500, sender=False), xmlns="urn:x", request_id="r"
    )
    assert status == 500 and b"<Type>Receiver</Type>" in body


def test_json_encoding_and_errors() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    out = json.loads(json11.encode_response({"a": when, "b": None, "c": [{"d": None, "e": 1}]}))
    assert out == {"a": when.timestamp(), "c": [{"e": 1}]}
    assert json11.encode_error(ApiError("ServiceNotFoundException", "Service not found.")) == (
        400,
        b'{"__type": "ServiceNotFoundException", "message": "Service not found."}',
    )
    assert json11.parse_body(b"") == {} and json11.parse_body(b"  ") == {}
    for bad in (b"[1]", b"{", b"\xff"):
        with pytest.raises(ApiError) as exc:
            json11.parse_body(bad)
        assert exc.value.code == "SerializationException"


def test_pagination_tokens() -> None:
    items = list(range(7))
    first, token = page(items, None, 3, "X", "nextToken")
    assert first == [0, 1, 2] and token
    second, token2 = page(items, token, 3, "X", "nextToken")
    third, token3 = page(items, token2, 3, "X", "nextToken")
    assert second == [3, 4, 5] and third == [6] and token3 is None
    for bad in ("nope", "e30=", "eyJvIjogOTl9"):  # garbage, {}, {"o": 99}
        with pytest.raises(ApiError) as exc:
            page(items, bad, 3, "X", "nextToken")
        assert exc.value.code == "X"


def test_reader_validation_messages() -> None:
    r = Reader({"n": "5", "b": "true", "l": "x"}, "ValidationError")
    assert r.integer("n", lo=1, hi=9) == 5 and r.flag("b") is True
    with pytest.raises(ApiError) as exc:
        r.integer("n", lo=6)
    assert exc.value.message.startswith("1 validation error detected: Value '5' at 'n'")
    with pytest.raises(ApiError):
        r.items("l")
    with pytest.raises(ApiError) as exc:
        r.req("missing")
    assert exc.value.code == "ValidationError"


def test_xml_never_carries_characters_xml_cannot_hold() -> None:
    import xml.etree.ElementTree as ET

    _, body = query.encode_error(
        ApiError("ValidationError", "bad \x08\x00 \ud800 value"), xmlns="u", request_id="r"
    )
    assert ET.fromstring(body).findtext("{u}Error/{u}Message") == "bad \ufffd\ufffd \ufffd value"
    out = query.encode_response("Op", {"A": "x\x1fy"}, xmlns="u", request_id="r")
    assert ET.fromstring(out).findtext("{u}OpResult/{u}A") == "x\ufffdy"
