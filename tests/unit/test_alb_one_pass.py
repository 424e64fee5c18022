"""The one-pass request path of the ALB (issue 14, item 8) gives exactly what the passes it replaces gave:

* ``http1.parse_plain_request_head`` takes only heads the desync classifier finds Compliant, and parses
  them as ``parse_request_head`` does (plus each header's kind);
* ``headers.forward_block`` is ``forward_headers`` without the hop-by-hop headers, serialised
  (``_header_block`` below, the serialisation the shell used before), for every attribute combination,
  ``drop_invalid_header_fields`` included, on the heads the one-pass parser read (by their recorded kinds)
  and on those the general parser read (kinds None: every head is forwarded through it);
* ``http1.parse_response_head``'s one-pass reader agrees with the general parser (also in
  test_alb_fast_paths.py) and keeps the head as it came but for the hop-by-hop lines."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb import desync, headers, http1
from albfargate.model import LoadBalancerAttributes

from .test_alb_fast_paths import _PARSED_FIELDS, _parsed, _request_heads

_LINES = [
    b"GET / HTTP/1.1",
    b"GET /a/b?x=1&y=2#frag HTTP/1.1",
    b"HEAD /h HTTP/1.0",
    b"POST /upload HTTP/1.1",
    b"POST /upload HTTP/1.0",
    b"PUT /p HTTP/1.1",
    b"DELETE /d?q HTTP/1.1",
    b"OPTIONS /o HTTP/1.1",
    b"PATCH /x HTTP/1.1",
    b"TRACE / HTTP/1.1",
    b"PROPFIND / HTTP/1.1",
    b"get / HTTP/1.1",
    b"GET http://h/x HTTP/1.1",
    b"GET /sp ace HTTP/1.1",
    b"GET / HTTP/1.2",
    b"GET /caf\xe9 HTTP/1.1",
]
_HEADERS = [
    b"Host: example.com",
    b"host:example.com:8080",
    b"HOST:  a  ",
    b"Host: second",
    b"User-Agent: curl/8.0",
    b"Accept: */*",
    b"Accept-Encoding: gzip, deflate, br",
    b"Cookie: a=1; AWSALB=x",
    b"Content-Type: text/plain",
    b"Content-Length: 5",
    b"content-length:0",
    b"Content-Length: 12345678901234567890",
    b"Content-Length: x",
    b"Content-Length: 5, 5",
    b"Transfer-Encoding: chunked",
    b"transfer-encoding:  Chunked ",
    b"Transfer-Encoding: gzip, chunked",
    b"Connection: close",
    b"Connection: keep-alive",
    b"connection: Keep-Alive, Upgrade",
    b"Upgrade: websocket",
    b"Expect: 100-continue",
    b"Keep-Alive: timeout=5",
    b"TE: trailers",
    b"Trailer: X",
    b"Proxy-Connection: close",
    b"X-Forwarded-For: 1.2.3.4",
    b"x-forwarded-for: 5.6.7.8, 9.9.9.9",
    b"X-Forwarded-Proto: https",
    b"X-Forwarded-Port: 443",
    b"X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793",
    b"x-amzn-trace-id: Self=1-2-3;Root=x",
    b"X-Amzn-Tls-Version: TLSv1.3",
    b"Content-Encoding: gzip",  # 16 characters, starts with a c: the classifier's full analysis
    b"Transfer_Encoding: chunked",  # SuspiciousHeader
    b"Content-Lengthy: 3",
    b"Cache-Control: no-cache",
    b"X-Empty:",
    b"X-Tab:\tv",
    b"X-High: caf\xe9",
    b"X_Under: v",
    b"Bad Name: x",
    b"Name : x",
    b"NoColon",
    b": novalue",
    b" folded",
]


@st.composite
def _heads(draw: st.DrawFn) -> bytes:
    rl = draw(st.sampled_from(_LINES))
    lines = draw(st.lists(st.sampled_from(_HEADERS), max_size=8))
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n"]))
    return eol.join([rl, *lines]) + eol + eol


def _check_plain(head: bytes) -> bool:
    try:
        plain = http1.parse_plain_request_head(head)
    except http1.ProtocolError as e:
        assert _parsed(http1.parse_request_head, head) == ("error", e.status, str(e))
        assert desync.classify(head) == desync.COMPLIANT
        return True
    if plain is None:
        return False
    assert desync.classify(head) == desync.COMPLIANT, head
    assert {k: getattr(plain, k) for k in _PARSED_FIELDS if k != "kinds"} == {
        k: v
        for k, v in _parsed(http1.parse_request_head, head).items()
        if k != "kinds"  # type: ignore[union-attr]
    }
    assert plain.kinds == [http1.header_kind(n) for n, _ in plain.headers]
    return True


@settings(max_examples=6000, deadline=None)
@given(st.one_of(_heads(), _request_heads()))
def test_a_plain_head_is_compliant_and_parsed_as_the_fast_parser_parses_it(head: bytes) -> None:
    _check_plain(head)


def test_the_one_pass_parser_takes_the_usual_heads() -> None:
    usual = [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",  # wrk
        b"GET /index.html?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11)\r\n"
        b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, br\r\n"
        b"Connection: keep-alive\r\nCookie: s=1\r\nCache-Control: max-age=0\r\n\r\n",
        b"POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
        b"PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    ]
    for head in usual:
        assert http1.parse_plain_request_head(head) is not None, head
        assert _check_plain(head)
    # not plain: left to the classifier and the parsers as before
    for head in [
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",  # GetHeadZeroContentLength
        b"GET / HTTP/1.1\nHost: h\n\n",  # bare LF
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\n\r\n",  # the classifier's full analysis
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ]:
        assert http1.parse_plain_request_head(head) is None, head


_ATTRIBUTES = st.builds(
    LoadBalancerAttributes,
    xff_header_processing_mode=st.sampled_from(["append", "preserve", "remove"]),
    xff_client_port=st.booleans(),
    preserve_host_header=st.booleans(),
    tls_version_and_cipher_suite_headers=st.booleans(),
    drop_invalid_header_fields=st.booleans(),
)


def _header_block(out_headers: list[tuple[str, str]]) -> tuple[str, str]:
    """``forward_headers``' list as the shell sent it before ``forward_block`` (hop-by-hop headers
    dropped: the proxy declares the framing and the upgrade itself) and the last X-Amzn-Trace-Id."""
    parts: list[str] = []
    trace = ""
    for n, v in out_headers:
        ln = n.lower()
        if ln in http1.HOP_BY_HOP:
            continue
        if ln == "x-amzn-trace-id":
            trace = v
        parts.append(f"{n}: {v}\r\n")
    return "".join(parts), trace


@settings(max_examples=4000, deadline=None)
@given(
    _heads(),
    _ATTRIBUTES,
    st.sampled_from([None, "other.example:81"]),
    st.sampled_from([(None, None), ("TLSv1.3", "TLS_AES_128_GCM_SHA256")]),
    st.sampled_from([80, 8080]),
)
def test_forward_block_is_forward_headers_without_hop_by_hop(
    head: bytes,
    attributes: LoadBalancerAttributes,
    uri_host: str | None,
    tls: tuple[str | None, str | None],
    port: int,
) -> None:
    try:
        p = http1.parse_plain_request_head(head)
        if p is None:  # any other head: the general parser, as dispatch reads it (no kinds)
            p = http1.parse_request_head_general(head, non_compliant=desync.classify(head).reason is not None)
            assert p.kinds is None
    except http1.ProtocolError:
        return
    args = {
        "client_ip": "10.1.2.3",
        "client_port": 40000,
        "scheme": "https",
        "listener_port": port,
        "attributes": attributes,
        "now": 1_800_000_000.5,
        "trace_random": bytes(range(12)),
        "uri_host": uri_host,
        "tls_version": tls[0],
        "tls_cipher": tls[1],
    }
    try:
        want: object = _header_block(headers.forward_headers(p.headers, **args))  # type: ignore[arg-type]
    except headers.TooManyForwardedFor as e:
        want = ("463", e.count)
    try:
        got: object = headers.forward_block(p.headers, p.kinds, **args)  # type: ignore[arg-type]
    except headers.TooManyForwardedFor as e:
        got = ("463", e.count)
    assert got == want


def test_forward_block_refuses_too_many_forwarded_for_as_forward_headers_does() -> None:
    p = http1.parse_plain_request_head(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " + b", ".join([b"1.1.1.1"] * 31) + b"\r\n\r\n"
    )
    assert p is not None and p.kinds is not None
    try:
        headers.forward_block(
            p.headers,
            p.kinds,
            client_ip="1.2.3.4",
            client_port=1,
            scheme="http",
            listener_port=80,
            attributes=LoadBalancerAttributes(),
            now=0.0,
            trace_random=bytes(12),
        )
    except headers.TooManyForwardedFor as e:
        assert e.count == 31
    else:
        raise AssertionError("31 addresses were accepted")


def test_the_response_reader_keeps_the_head_but_its_hop_by_hop_lines() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nContent-Length: 13\r\n"
        b"keep-alive: timeout=5\r\nX-Caf\xe9: \xe9\r\n\r\n"
    )
    status, out, framing, length, keep = http1.parse_response_head(head, "GET", [])
    assert (status, framing, length, keep) == (200, "length", 13, True)
    assert out == b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\nX-Caf\xe9: \xe9\r\n\r\n"
    assert http1.parse_response_head(b"HTTP/1.0 204 No Content\r\nDate: d\r\n\r\n", "GET", []) == (
        204,
        b"HTTP/1.1 204 No Content\r\nDate: d\r\n\r\n",
        "none",
        0,
        False,  # HTTP/1.0 without keep-alive: the target closes
    )
