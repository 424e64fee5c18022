"""Responses the ALB makes itself (spec §2.2, §2.3, §2.5, §4.5): byte-exact bodies, status lines,
redirect Location, fixed responses."""

from __future__ import annotations

import pytest

from albfargate.alb.responses import (
    STATUS_TEXT,
    alb_response,
    error_body,
    fixed_response,
    redirect_location,
    redirect_response,
    status_line_text,
)
from albfargate.model.elbv2 import FixedResponseAction, RedirectAction


def parse(raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return lines[0], headers, body


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


# ------------------------------------------------------------------ byte-exact bodies (observed)
BODY_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


def test_503_body_byte_exact() -> None:
    assert error_body(503) == BODY_503


@pytest.mark.parametrize(("code", "length"), [(503, 162), (502, 122), (301, 134), (302, 110)])
def test_observed_content_lengths(code: int, length: int) -> None:
    assert len(error_body(code)) == length


# every status the ALB itself generates (spec §4.5): status line, headers, body
ALB_CODES = [
    (400, "400 Bad Request"),
    (405, "405 Not Allowed"),
    (408, "408 Request Time-out"),
    (413, "413 Request Entity Too Large"),
    (414, "414 Request-URI Too Large"),
    (463, "463 Bad Request"),
    (464, "464 Bad Request"),
    (500, "500 Internal Server Error"),
    (501, "501 Not Implemented"),
    (502, "502 Bad Gateway"),
    (503, "503 Service Temporarily Unavailable"),
    (504, "504 Gateway Time-out"),
    (505, "505 HTTP Version Not Supported"),
]


@pytest.mark.parametrize(("code", "title"), ALB_CODES)
@pytest.mark.parametrize("keep_alive", [True, False])
def test_alb_response(code: int, title: str, keep_alive: bool) -> None:
    raw = alb_response(code, keep_alive=keep_alive)
    status, headers, body = parse(raw)
    assert status == f"HTTP/1.1 {title}"
    assert headers[0] == ("Server", "awselb/2.0")
    assert header(headers, "Content-Type") == "text/html"
    assert header(headers, "Content-Length") == str(len(body))
    assert header(headers, "Connection") == ("keep-alive" if keep_alive else "close")
    assert (
        body
        == (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
        ).encode()
    )


def test_alb_response_503_exact_bytes() -> None:
    assert alb_response(503, keep_alive=True) == (
        b"HTTP/1.1 503 Service Temporarily Unavailable\r\nServer: awselb/2.0\r\nContent-Type: text/html\r\n"
        b"Content-Length: 162\r\nConnection: keep-alive\r\n\r\n" + BODY_503
    )


def test_alb_response_extra_headers_date_and_head() -> None:
    raw = alb_response(
        502, keep_alive=False, extra_headers=[("X-Test", "1")], date="Thu, 26 Nov 2026 15:00:00 GMT"
    )
    _, headers, body = parse(raw)
    assert header(headers, "Date") == "Thu, 26 Nov 2026 15:00:00 GMT"
    assert header(headers, "X-Test") == "1"
    assert len(body) == 122
    head_only = alb_response(502, keep_alive=False, head_only=True)
    assert head_only.endswith(b"\r\n\r\n") and b"<html>" not in head_only
    assert b"Content-Length: 122\r\n" in head_only


def test_status_texts() -> None:
    assert STATUS_TEXT[302] == "Found"  # body title
    assert status_line_text(302) == "Moved Temporarily"  # status line (observed)
    assert status_line_text(301) == "Moved Permanently"
    assert status_line_text(418) == "I'm a Teapot"  # fallback to the standard phrase
    assert status_line_text(599) == "Unknown"


# ------------------------------------------------------------------ redirects
LOCAL = {("HTTP", 80): 8080, ("HTTPS", 443): 8443}
# (action, scheme, host, listener_port, path, query, local_ports, expected Location)
REDIRECT_CASES: list[tuple[str, RedirectAction, str, str, int, str, str, dict[tuple[str, int], int], str]] = [
    (
        "http->https, port always written (observed)",
        RedirectAction(protocol="HTTPS", port="443"),
        "http", "staging.example.com", 80, "/", "", {}, "https://staging.example.com:443/",
    ),
    (
        "http->https served locally on 8443",
        RedirectAction(protocol="HTTPS", port="443"),
        "http", "localhost", 80, "/a/b", "x=1", LOCAL, "https://localhost:8443/a/b?x=1",
    ),
    (
        "port without local listener kept",
        RedirectAction(protocol="HTTPS", port="9443"),
        "http", "localhost", 80, "/", "", LOCAL, "https://localhost:9443/",
    ),
    (
        "#{port} keeps the listener port, mapped locally",
        RedirectAction(host="www.example.com"),
        "http", "example.com", 80, "/p", "", LOCAL, "http://www.example.com:8080/p",
    ),
    (
        "query kept, '?' only when non-empty",
        RedirectAction(host="new.example.com"),
        "https", "old.example.com", 443, "/x", "a=1&b=2", {}, "https://new.example.com:443/x?a=1&b=2",
    ),
    (
        "empty query: no '?'",
        RedirectAction(host="new.example.com", query=""),
        "https", "old.example.com", 443, "/x", "a=1", {}, "https://new.example.com:443/x",
    ),
    (
        "path placeholder: leading slash removed",
        RedirectAction(path="/v2/#{path}"),
        "http", "example.com", 8080, "/items/7", "", {}, "http://example.com:8080/v2/items/7",
    ),
    (
        "host/port in path",
        RedirectAction(path="/#{host}/#{port}/#{path}"),
        "http", "example.com", 8000, "/a", "", {}, "http://example.com:8000/example.com/8000/a",
    ),
    (
        "every keyword in the query",
        RedirectAction(path="/new", query="p=#{protocol}&h=#{host}&o=#{port}&a=#{path}&q=#{query}"),
        "http", "e.com", 80, "/old", "z=1", {}, "http://e.com:80/new?p=http&h=e.com&o=80&a=old&q=z=1",
    ),
    (
        "fixed path, #{query} empty",
        RedirectAction(path="/maintenance"),
        "https", "E.com", 443, "/x", "", {}, "https://E.com:443/maintenance",
    ),
    (
        "IPv6 host bracketed",
        RedirectAction(protocol="HTTPS", port="443"),
        "http", "::1", 80, "/", "", LOCAL, "https://[::1]:8443/",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "action", "scheme", "host", "port", "path", "query", "local", "expected"),
    REDIRECT_CASES,
    ids=[c[0] for c in REDIRECT_CASES],
)
def test_redirect_location(
    name: str,
    action: RedirectAction,
    scheme: str,
    host: str,
    port: int,
    path: str,
    query: str,
    local: dict[tuple[str, int], int],
    expected: str,
) -> None:
    got = redirect_location(
        action, scheme=scheme, host=host, listener_port=port, path=path, query=query, local_ports=local
    )
    assert got == expected


@pytest.mark.parametrize(
    ("status_code", "line", "length"),
    [
        ("HTTP_301", "HTTP/1.1 301 Moved Permanently", 134),
        ("HTTP_302", "HTTP/1.1 302 Moved Temporarily", 110),
    ],
)
def test_redirect_response(status_code: str, line: str, length: int) -> None:
    action = RedirectAction(status_code=status_code, protocol="HTTPS", port="443")
    raw = redirect_response(action, "https://example.com:443/", keep_alive=True)
    status, headers, body = parse(raw)
    assert status == line
    assert header(headers, "Server") == "awselb/2.0"
    assert header(headers, "Content-Type") == "text/html"
    assert header(headers, "Location") == "https://example.com:443/"
    assert header(headers, "Connection") == "keep-alive"
    assert header(headers, "Content-Length") == str(length) == str(len(body))
    title = "302 Found" if status_code == "HTTP_302" else "301 Moved Permanently"
    assert f"<title>{title}</title>".encode() in body


# ------------------------------------------------------------------ fixed responses
FIXED_CASES = [
    (
        FixedResponseAction("200", "text/plain", "Hello world"),
        "HTTP/1.1 200 OK",
        "text/plain",
        b"Hello world",
    ),
    (
        FixedResponseAction("404", "application/json", '{"e":1}'),
        "HTTP/1.1 404 Not Found",
        "application/json",
        b'{"e":1}',
    ),
    (FixedResponseAction("503"), "HTTP/1.1 503 Service Temporarily Unavailable", None, b""),
    (FixedResponseAction("204", "text/html", ""), "HTTP/1.1 204 No Content", "text/html", b""),
    (FixedResponseAction("200", "text/plain", "héllo"), "HTTP/1.1 200 OK", "text/plain", "héllo".encode()),
    (FixedResponseAction("599", "text/css", "x"), "HTTP/1.1 599 Unknown", "text/css", b"x"),
]


@pytest.mark.parametrize(("action", "line", "ctype", "body"), FIXED_CASES)
def test_fixed_response(action: FixedResponseAction, line: str, ctype: str | None, body: bytes) -> None:
    status, headers, got = parse(fixed_response(action, keep_alive=False))
    assert status == line
    assert header(headers, "Server") == "awselb/2.0"
    assert header(headers, "Content-Type") == ctype
    assert header(headers, "Content-Length") == str(len(body))
    assert header(headers, "Connection") == "close"
    assert got == body
