"""The proxy's byte-level framing (no sockets): chunked-body delimiting fed whole and one byte at a time,
request-head parsing with the ALB's status for each refusal, response-head parsing and framing."""

from __future__ import annotations

import pytest

from albfargate.alb.http1 import (
    ChunkedFramer,
    ProtocolError,
    parse_request_head,
    parse_response_head,
)

CHUNKED = [  # (body, what follows it)
    (b"0\r\n\r\n", b""),
    (b"5\r\nhello\r\n0\r\n\r\n", b"NEXT"),
    (b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n", b"GET / HTTP/1.1\r\n"),
    (b"A\r\n0123456789\r\n0\n\n", b"\r\n"),  # bare LF line ends
]


@pytest.mark.parametrize(("body", "rest"), CHUNKED)
def test_chunked_framer_finds_the_end(body: bytes, rest: bytes) -> None:
    data, body_len = body + rest, len(body)
    f = ChunkedFramer()
    assert f.feed(data) == body_len
    assert f.done
    g = ChunkedFramer()
    used = 0
    for i in range(len(data)):
        if g.done:
            break
        used += g.feed(data[i : i + 1])
    assert used == body_len and g.done


@pytest.mark.parametrize(
    "data", [b"zz\r\n", b"5\r\nhelloXX\r\n", b"-1\r\n", b"1" * 20 + b"\r\n", b"5\r\n" + b"x" * 5 + b"\r\r\n"]
)
def test_chunked_framer_rejects_malformed(data: bytes) -> None:
    with pytest.raises(ValueError):
        ChunkedFramer().feed(data)


def test_chunked_framer_incomplete_is_not_done() -> None:
    f = ChunkedFramer()
    assert f.feed(b"10\r\nabc") == 7
    assert not f.done


REFUSED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / FOO/1.1\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: " + b"v" * 17000 + b"\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET nothing HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\rContent-Length: 5\r\n\r\n", 400),  # bare CR inside a line
    (b"GET / HTTP/1.1\r\r\n\r\n", 400),
]


@pytest.mark.parametrize(("head", "status"), REFUSED)
def test_request_head_refusals(head: bytes, status: int) -> None:
    with pytest.raises(ProtocolError) as e:
        parse_request_head(head)
    assert e.value.status == status


ACCEPTED = [
    # head, method, path, query, body_length, chunked, close, upgrade
    (b"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/a", "b=c", 0, False, False, None),
    (b"GET / HTTP/1.0\r\n\r\n", "GET", "/", "", 0, False, True, None),
    (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", "", 0, False, False, None),
    (b"POST /p HTTP/1.1\r\nContent-Length: 12\r\n\r\n", "POST", "/p", "", 12, False, False, None),
    (
        b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST",
        "/p",
        "",
        0,
        True,
        False,
        None,
    ),
    (b"GET http://h.example/x/y?z HTTP/1.1\r\n\r\n", "GET", "/x/y", "z", 0, False, False, None),
    (
        b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET",
        "/ws",
        "",
        0,
        False,
        False,
        "websocket",
    ),
    (b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "GET", "/ws", "", 0, False, False, None),
    (b"GET / HTTP/1.1\nHost: lf\n\n", "GET", "/", "", 0, False, False, None),
    (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "GET", "/", "", 0, False, True, None),
]


@pytest.mark.parametrize(
    ("head", "method", "path", "query", "length", "chunked", "close", "upgrade"), ACCEPTED
)
def test_request_head_parsing(
    head: bytes,
    method: str,
    path: str,
    query: str,
    length: int,
    chunked: bool,
    close: bool,
    upgrade: str | None,
) -> None:
    p = parse_request_head(head)
    assert (p.method, p.path, p.query, p.body_length, p.body_chunked, p.close, p.upgrade) == (
        method,
        path,
        query,
        length,
        chunked,
        close,
        upgrade,
    )


RESPONSES = [
    # head, method, status, framing, length, reusable
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", 200, "length", 5, True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "chunked", 0, True),
    (b"HTTP/1.1 200 OK\r\n\r\n", "GET", 200, "close", 0, False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 200, "none", 0, True),
    (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET", 304, "none", 0, True),
    (b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", "GET", 204, "none", 0, False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "GET", 200, "length", 1, False),
    (
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
        "GET",
        200,
        "length",
        1,
        True,
    ),
]


@pytest.mark.parametrize(("head", "method", "status", "framing", "length", "reusable"), RESPONSES)
def test_response_head_framing(
    head: bytes, method: str, status: int, framing: str, length: int, reusable: bool
) -> None:
    st, out, fr, ln, keep = parse_response_head(head, method, [])
    assert (st, fr, ln, keep) == (status, framing, length, reusable)
    assert out.startswith(b"HTTP/1.1 ") and out.endswith(b"\r\n\r\n")
    assert b"connection:" not in out.lower() or status == 101


def test_response_head_adds_cookies_and_drops_hop_by_hop() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n"
        b"X-A: 1\r\nContent-Length: 0\r\n\r\n"
    )
    _, out, _, _, _ = parse_response_head(head, "GET", [("Set-Cookie", "AWSALB=v; Path=/")])
    assert out == b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 0\r\nSet-Cookie: AWSALB=v; Path=/\r\n\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"NOT HTTP\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad : space\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
    ],
)
def test_malformed_response_is_502(head: bytes) -> None:
    with pytest.raises(ProtocolError) as e:
        parse_response_head(head, "GET", [])
    assert e.value.status == 502


NON_COMPLIANT = [
    # head -> (target as forwarded, path, body length, chunked): what the mode lets through is framed
    (b"GET /a?p=not escaped  HTTP/1.1\r\n\r\n", "/a?p=not%20escaped", "/a", 0, False),
    (b"GET /a\tb\x01\x7f HTTP/1.1\r\n\r\n", "/a%09b%01%7F", "/a%09b%01%7F", 0, False),
    (b"GET /a\rHTTP/1.1 HTTP/1.1\r\n\r\n", "/a%0DHTTP/1.1", "/a%0DHTTP/1.1", 0, False),
    (b"GET /nine\r\n\r\n", "/nine", "/nine", 0, False),
    (b"POST / HTTP/1.1\r\n\x01Transfer-Encoding: chunked\r\n\r\n", "/", "/", 0, True),
    (b"POST / HTTP/1.1\r\nTransfer_Encoding: chunked\r\nContent-Length: 4\r\n\r\n", "/", "/", 0, True),
    (b"POST / HTTP/1.1\r\nContent-Length : 7\r\n\r\n", "/", "/", 7, False),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked;ext=1\r\n\r\n", "/", "/", 0, True),
]


@pytest.mark.parametrize(("head", "target", "path", "length", "chunked"), NON_COMPLIANT)
def test_non_compliant_heads_are_framed_not_refused(
    head: bytes, target: str, path: str, length: int, chunked: bool
) -> None:
    from albfargate.alb.http1 import parse_request_head_general

    p = parse_request_head_general(head, non_compliant=True)
    assert (p.target, p.path, p.body_length, p.body_chunked) == (target, path, length, chunked)
    # a suspicious framing header is recorded under the name it frames as (never forwarded as it came)
    assert all(n.strip() == n and "\x01" not in n and "_" not in n for n, _ in p.headers)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /a\nHost: evil HTTP/1.1\r\nX: y\r\n\r\n",  # an LF inside the URI: 0.9 with headers
        b"GET HTTP/1.1\r\nHost: h\r\n\r\n",  # MissingUri
        b"GET / FOO/1.1 x\r\n\r\n",
        b"GET \x00/a HTTP/1.1\r\n\r\n",  # BadUri: after escaping, not a path
    ],
)
def test_non_compliant_heads_the_shell_still_refuses(head: bytes) -> None:
    from albfargate.alb.http1 import parse_request_head_general

    with pytest.raises(ProtocolError) as e:
        parse_request_head_general(head, non_compliant=True)
    assert e.value.status == 400


def test_host_headers_are_counted() -> None:
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").host_count == 2
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").host_count == 1
