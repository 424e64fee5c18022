"""Headers towards the target (spec §4.2): XFF modes (the worked-example table verbatim), 463,
X-Forwarded-Proto/Port, X-Amzn-Trace-Id, Host rules, drop_invalid_header_fields."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb.headers import (
    TooManyForwardedFor,
    client_element,
    forward_headers,
    get_header,
    new_trace_id,
    rewrite_host,
    split_absolute_form,
)
from albfargate.model.elbv2 import LoadBalancerAttributes

NOW = 0x63441C4A  # 2022-10-10, the doc's example time
RAND = bytes.fromhex("abcdef012345678912345678")
TRACE = "1-63441c4a-abcdef012345678912345678"
R1 = "Root=1-5759e988-bd862e3fe1be46a994272793"
R2 = "Root=1-67891233-abcdef012345678912345678;CalledFrom=app"
R3 = "Root=1-22222222-111111111111111111111111"


def fwd(
    headers: Sequence[tuple[str, str]],
    *,
    attrs: LoadBalancerAttributes | None = None,
    client_ip: str = "127.0.0.1",
    client_port: int = 50123,
    scheme: str = "http",
    listener_port: int = 80,
    uri_host: str | None = None,
) -> list[tuple[str, str]]:
    return forward_headers(
        headers,
        client_ip=client_ip,
        client_port=client_port,
        scheme=scheme,
        listener_port=listener_port,
        attributes=attrs or LoadBalancerAttributes(),
        now=NOW,
        trace_random=RAND,
        uri_host=uri_host,
    )


def all_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


# ------------------------------------------------------------------ X-Forwarded-For: spec table verbatim
# | request XFF | append | preserve | remove |   (last hop 127.0.0.1)
XFF_TABLE: list[tuple[str | None, str | None, str | None, str | None]] = [
    (None, "127.0.0.1", None, None),
    ("127.0.0.4", "127.0.0.4, 127.0.0.1", "127.0.0.4", None),
    ("127.0.0.4, 127.0.0.8", "127.0.0.4, 127.0.0.8, 127.0.0.1", "127.0.0.4, 127.0.0.8", None),
]
XFF_CASES = [
    (request, mode, expected)
    for request, append, preserve, remove in XFF_TABLE
    for mode, expected in (("append", append), ("preserve", preserve), ("remove", remove))
]


@pytest.mark.parametrize(("request_xff", "mode", "expected"), XFF_CASES)
def test_xff_worked_examples(request_xff: str | None, mode: str, expected: str | None) -> None:
    headers = [("Host", "example.com")]
    if request_xff is not None:
        headers.append(("X-Forwarded-For", request_xff))
    out = fwd(headers, attrs=LoadBalancerAttributes(xff_header_processing_mode=mode))
    got = all_values(out, "X-Forwarded-For")
    assert got == ([] if expected is None else [expected])


CLIENT_PORT_CASES = [
    ("127.0.0.1", "append", None, "127.0.0.1:50123"),
    ("127.0.0.1", "append", "10.0.0.9", "10.0.0.9, 127.0.0.1:50123"),
    ("::1", "append", None, "[::1]:50123"),
    ("2001:db8::7", "append", "1.2.3.4", "1.2.3.4, [2001:db8::7]:50123"),
    ("127.0.0.1", "preserve", "10.0.0.9", "10.0.0.9"),  # client port has no effect
    ("127.0.0.1", "remove", "10.0.0.9", None),
]


@pytest.mark.parametrize(("ip", "mode", "request_xff", "expected"), CLIENT_PORT_CASES)
def test_xff_client_port(ip: str, mode: str, request_xff: str | None, expected: str | None) -> None:
    attrs = LoadBalancerAttributes(xff_header_processing_mode=mode, xff_client_port=True)
    headers = [("Host", "a.example.com")] + ([("X-Forwarded-For", request_xff)] if request_xff else [])
    got = all_values(fwd(headers, attrs=attrs, client_ip=ip), "X-Forwarded-For")
    assert got == ([] if expected is None else [expected])


def test_xff_several_headers_are_joined_in_place() -> None:
    headers = [
        ("Host", "e.com"),
        ("x-forwarded-for", "1.1.1.1"),
        ("Accept", "*/*"),
        ("X-Forwarded-For", "2.2.2.2"),
    ]
    out = fwd(headers)
    assert out[:3] == [
        ("Host", "e.com"),
        ("x-forwarded-for", "1.1.1.1, 2.2.2.2, 127.0.0.1"),
        ("Accept", "*/*"),
    ]
    assert len(all_values(out, "X-Forwarded-For")) == 1


@pytest.mark.parametrize(("count", "raises"), [(29, False), (30, False), (31, True), (45, True)])
@pytest.mark.parametrize("mode", ["append", "preserve", "remove"])
def test_more_than_30_addresses_is_463(count: int, raises: bool, mode: str) -> None:
    xff = ", ".join(f"10.0.0.{i}" for i in range(count))
    attrs = LoadBalancerAttributes(xff_header_processing_mode=mode)
    if raises:
        with pytest.raises(TooManyForwardedFor) as info:
            fwd([("X-Forwarded-For", xff)], attrs=attrs)
        assert info.value.status == 463 and info.value.count == count
    else:
        fwd([("X-Forwarded-For", xff)], attrs=attrs)


def test_31_addresses_across_two_headers_is_463() -> None:
    a = ", ".join(f"10.0.0.{i}" for i in range(16))
    b = ", ".join(f"10.0.1.{i}" for i in range(15))
    with pytest.raises(TooManyForwardedFor):
        fwd([("X-Forwarded-For", a), ("X-Forwarded-For", b)])


def test_client_element() -> None:
    assert client_element("10.0.0.1", 5, with_port=False) == "10.0.0.1"
    assert client_element("fe80::1", 5, with_port=True) == "[fe80::1]:5"


# ------------------------------------------------------------------ X-Forwarded-Proto / Port
@pytest.mark.parametrize(("scheme", "port"), [("http", 80), ("https", 443), ("HTTP", 8080)])
def test_forwarded_proto_and_port_overwrite(scheme: str, port: int) -> None:
    headers = [("Host", "e.com"), ("X-Forwarded-Proto", "gopher"), ("x-forwarded-port", "1")]
    out = fwd(headers, scheme=scheme, listener_port=port)
    assert all_values(out, "X-Forwarded-Proto") == [scheme.lower()]
    assert all_values(out, "X-Forwarded-Port") == [str(port)]


# ------------------------------------------------------------------ X-Amzn-Trace-Id
TRACE_CASES: list[tuple[str, str | None, str]] = [
    ("absent -> Root", None, f"Root={TRACE}"),
    ("Root present -> Self prepended", R1, f"Self={TRACE};{R1}"),
    ("unknown fields kept", R2, f"Self={TRACE};{R2}"),
    ("Self replaced", f"Self=1-11111111-000000000000000000000000;{R3}", f"Self={TRACE};{R3}"),
    ("no Root (inferred) -> Root added", "CalledFrom=app", f"Root={TRACE};CalledFrom=app"),
]


@pytest.mark.parametrize(("name", "existing", "expected"), TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_id(name: str, existing: str | None, expected: str) -> None:
    headers = [("Host", "e.com")] + ([("X-Amzn-Trace-Id", existing)] if existing else [])
    assert all_values(fwd(headers), "X-Amzn-Trace-Id") == [expected]


def test_trace_id_format() -> None:
    tid = new_trace_id(1_700_000_000.9, bytes(range(16)))
    assert tid == "1-6553f100-000102030405060708090a0b"
    with pytest.raises(ValueError):
        new_trace_id(0, b"short")


@pytest.mark.parametrize(("extra", "fresh"), [(7200, True), (7000, False)])
def test_trace_id_over_7kb_gets_fresh_root(extra: int, fresh: bool) -> None:
    headers = [
        ("Host", "e.com"),
        ("X-Amzn-Trace-Id", R1),
        ("X-Pad", "p" * extra),
    ]
    got = all_values(fwd(headers), "X-Amzn-Trace-Id")
    assert got == ([f"Root={TRACE}"] if fresh else [f"Self={TRACE};{R1}"])


# ------------------------------------------------------------------ Host
HOST_CASES = [
    ("example.com", 8080, "example.com:8080"),  # doc example
    ("example.com:80", 80, "example.com"),  # doc example
    ("example.com:443", 443, "example.com"),
    ("example.com", 80, "example.com"),
    ("example.com:9000", 8080, "example.com:9000"),  # client port kept on other listener ports
    ("[::1]", 8080, "[::1]:8080"),
    ("[::1]:80", 80, "[::1]"),
    ("EXAMPLE.com", 8080, "EXAMPLE.com:8080"),
]


@pytest.mark.parametrize(("host", "port", "expected"), HOST_CASES)
def test_host_rewrite(host: str, port: int, expected: str) -> None:
    assert rewrite_host(host, port) == expected
    out = fwd([("Host", host)], listener_port=port)
    assert all_values(out, "Host") == [expected]


def test_host_first_only_unless_preserved() -> None:
    headers = [("Host", "a.example.com"), ("Host", "b.example.com")]
    assert all_values(fwd(headers, listener_port=8080), "Host") == ["a.example.com:8080"]
    kept = fwd(headers, listener_port=8080, attrs=LoadBalancerAttributes(preserve_host_header=True))
    assert all_values(kept, "Host") == ["a.example.com", "b.example.com"]


def test_absolute_form_host_replaces_host() -> None:
    host, rest = split_absolute_form("https://dns_name/index.html")
    assert (host, rest) == ("dns_name", "/index.html")
    out = fwd([("Host", "other.example.com")], uri_host=host, listener_port=443)
    assert all_values(out, "Host") == ["dns_name"]
    assert all_values(fwd([], uri_host="dns_name:81", listener_port=8080), "Host") == ["dns_name:81"]


SPLIT_CASES = [
    ("/index.html", (None, "/index.html")),
    ("*", (None, "*")),
    ("http://h.example.com", ("h.example.com", "/")),
    ("HTTP://h.example.com:8080/a?b=1", ("h.example.com:8080", "/a?b=1")),
    ("http://user:pw@h.example.com/x", ("h.example.com", "/x")),
    ("http://h.example.com?q=1", ("h.example.com", "/?q=1")),
    ("http://[::1]:8080/x", ("[::1]:8080", "/x")),
]


@pytest.mark.parametrize(("target", "expected"), SPLIT_CASES)
def test_split_absolute_form(target: str, expected: tuple[str | None, str]) -> None:
    assert split_absolute_form(target) == expected


# ------------------------------------------------------------------ drop_invalid_header_fields
@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("X-Good-1", True),
        ("X_Under", False),
        ("X.Dot", False),
        ("X Space", False),
        ("Ünï", False),
        ("a", True),
    ],
)
def test_drop_invalid_header_fields(name: str, kept: bool) -> None:
    headers = [("Host", "e.com"), (name, "v")]
    dropped = fwd(headers, attrs=LoadBalancerAttributes(drop_invalid_header_fields=True))
    assert ((name, "v") in dropped) is kept
    assert (name, "v") in fwd(headers)  # off by default: passed through


def test_order_and_other_headers_untouched() -> None:
    headers = [("Host", "e.com"), ("Accept", "*/*"), ("Cookie", "a=1"), ("X-Custom", " spaced ")]
    out = fwd(headers, listener_port=80)
    assert out[:4] == headers
    assert [k for k, _ in out[4:]] == [
        "X-Forwarded-For",
        "X-Amzn-Trace-Id",
        "X-Forwarded-Proto",
        "X-Forwarded-Port",
    ]
    assert get_header(out, "x-forwarded-for") == "127.0.0.1"


def test_tls_headers_only_when_enabled() -> None:
    on = LoadBalancerAttributes(tls_version_and_cipher_suite_headers=True)
    base = [("Host", "e.com"), ("x-amzn-tls-version", "forged")]
    kw = {
        "client_ip": "127.0.0.1",
        "client_port": 1,
        "scheme": "https",
        "listener_port": 443,
        "now": NOW,
        "trace_random": RAND,
    }
    out = forward_headers(
        base, attributes=on, tls_version="TLSv1.3", tls_cipher="TLS_AES_128_GCM_SHA256", **kw
    )  # type: ignore[arg-type]
    assert all_values(out, "x-amzn-tls-version") == ["TLSv1.3"]
    assert all_values(out, "x-amzn-tls-cipher-suite") == ["TLS_AES_128_GCM_SHA256"]
    off = forward_headers(
        base, attributes=LoadBalancerAttributes(), tls_version="TLSv1.3", tls_cipher="x", **kw
    )  # type: ignore[arg-type]
    assert all_values(off, "x-amzn-tls-version") == ["forged"]


# ------------------------------------------------------------------ property: never crashes
_NAMES = st.sampled_from(["Host", "X-Forwarded-For", "x-amzn-trace-id", "X-Forwarded-Port", "Bad_Name", "A"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_NAMES, st.text(max_size=40)), max_size=8),
    st.sampled_from(["append", "preserve", "remove"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([80, 443, 8080]),
)
def test_forward_headers_total(
    headers: list[tuple[str, str]], mode: str, drop: bool, preserve_host: bool, port: int
) -> None:
    attrs = LoadBalancerAttributes(
        xff_header_processing_mode=mode, drop_invalid_header_fields=drop, preserve_host_header=preserve_host
    )
    try:
        out = fwd(headers, attrs=attrs, listener_port=port)
    except TooManyForwardedFor:
        return
    assert len(all_values(out, "X-Forwarded-Port")) == 1
    assert len(all_values(out, "X-Amzn-Trace-Id")) == 1
    assert len(all_values(out, "X-Forwarded-For")) <= 1
    if not preserve_host:
        assert len(all_values(out, "Host")) <= 1
