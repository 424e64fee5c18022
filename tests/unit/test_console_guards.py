"""The console's guards (console/security.py): the DNS-rebinding Host guard, the CSRF token and the
same-Origin rule of state-changing requests; credentials masked (console/views.py); the wire pieces
(console/http.py): every answer carries the security headers and no CORS header."""

from __future__ import annotations

import pytest

from albfargate.console.http import HeadError, error, parse_head, render, request_of, sse_event
from albfargate.console.security import check_host, check_state_change, same_origin
from albfargate.console.views import mask_headers

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:4590",
        "127.0.0.1",
        "localhost:4590",
        "LOCALHOST",
        "app.localhost:1",
        "[::1]:4590",
        "127.3.4.5",
    ],
)
def test_loopback_hosts_pass(host: str) -> None:
    assert check_host(host) is None


@pytest.mark.parametrize(
    "host",
    [None, "", "evil.example", "evil.example:4590", "127.0.0.1.evil.example", "10.0.0.1:4590", "0.0.0.0"],
)
def test_foreign_hosts_are_403(host: str | None) -> None:
    refusal = check_host(host)
    assert refusal is not None and refusal.status == 403 and refusal.code == "host"


def headers(**kw: str) -> dict[str, str]:
    return {k.replace("_", "-"): v for k, v in kw.items()}


def test_reads_need_neither_token_nor_origin() -> None:
    assert check_state_change("GET", {}, TOKEN) is None
    assert check_state_change("HEAD", {}, TOKEN) is None


def test_a_post_needs_the_token_first() -> None:
    for h in (
        headers(host="127.0.0.1:4590", origin="http://127.0.0.1:4590"),
        headers(host="127.0.0.1:4590", origin="http://127.0.0.1:4590", x_albfargate_csrf="wrong"),
        headers(host="127.0.0.1:4590", x_albfargate_csrf=TOKEN[:-1]),
    ):
        refusal = check_state_change("POST", h, TOKEN)
        assert refusal is not None and (refusal.status, refusal.code) == (403, "csrf")
    # an empty token (never issued) accepts nothing
    assert check_state_change("POST", headers(x_albfargate_csrf=""), "") is not None


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "http://evil.example",
        "http://127.0.0.1:4591",
        "https://127.0.0.1:4590",
        "http://localhost:4590",
    ],
)
def test_a_post_needs_the_consoles_own_origin(origin: str | None) -> None:
    h = headers(host="127.0.0.1:4590", x_albfargate_csrf=TOKEN)
    if origin is not None:
        h["origin"] = origin
    refusal = check_state_change("POST", h, TOKEN)
    assert refusal is not None and (refusal.status, refusal.code) == (403, "origin")


def test_a_post_with_token_and_same_origin_passes() -> None:
    h = headers(host="127.0.0.1:4590", origin="http://127.0.0.1:4590", x_albfargate_csrf=TOKEN)
    assert check_state_change("POST", h, TOKEN) is None
    h = headers(host="localhost:4590", origin="http://LOCALHOST:4590/", x_albfargate_csrf=TOKEN)
    assert check_state_change("DELETE", h, TOKEN) is None
    assert same_origin("http://127.0.0.1:4590", "127.0.0.1:4590")


def test_credentials_are_masked() -> None:
    shown = mask_headers(
        [
            ("Authorization", "Bearer s3cret"),
            ("cookie", "a=b"),
            ("X-Amz-Security-Token", "t"),
            ("Accept", "*/*"),
        ]
    )
    assert shown == [
        ["Authorization", "****"],
        ["cookie", "****"],
        ["X-Amz-Security-Token", "****"],
        ["Accept", "*/*"],
    ]


def test_every_answer_has_the_security_headers_and_no_cors() -> None:
    data = render(error(404, "not_found", "no"), keep_alive=True).decode()
    head = data.split("\r\n\r\n", 1)[0].lower()
    for h in (
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "content-security-policy: default-src 'self'",
        "referrer-policy: no-referrer",
    ):
        assert h in head
    assert "access-control" not in head
    assert data.endswith('{"error":"no","code":"not_found"}')


def test_request_heads_are_parsed_and_bad_ones_refused() -> None:
    method, target, hs = parse_head(
        b"GET /api/requests?status=5xx&x=1&x=2 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
    )
    req = request_of(method, target, hs)
    assert req.path == "/api/requests" and req.query == {"status": "5xx", "x": "1"}
    assert req.header("X-A") == "1,2"
    for bad in (b"GET /\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n", b"G@T / HTTP/1.1\r\n\r\n"):
        with pytest.raises(HeadError):
            parse_head(bad)


def test_sse_framing() -> None:
    assert sse_event("task", {"a": 1}, 7) == b'id: 7\nevent: task\ndata: {"a":1}\n\n'
    assert sse_event("hello", {}) == b"event: hello\ndata: {}\n\n"
