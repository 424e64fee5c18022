"""The console's HTTP/1.1 wire pieces (pure): a request head as a :class:`Request`, a :class:`Response`
with the headers every console answer carries (docs/console.md) turned into the shared server's answer
(:func:`wire`), and Server-Sent Events framing. Heads are parsed and answers rendered by the control
endpoints' one HTTP module (``albfargate.net.http``); ``console/server.py`` serves through
``albfargate.net.server``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from albfargate.net import http as net
from albfargate.net.http import HeadError as HeadError  # a head the console does not take (400)
from albfargate.net.http import reason as reason

#: Request line + headers accepted (a browser sends a few KiB).
MAX_HEAD = 32 * 1024
#: Largest request body (actions and the rule tester take small JSON objects).
MAX_BODY = 64 * 1024

#: Headers of every answer (docs/console.md, "Console API").
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
)

JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # as received
    path: str  # percent-decoded path
    query: Mapping[str, str]  # the first value of each query parameter
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ","
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """Method, target and headers (names lower-cased) of a request head ending in a blank line
    (:class:`HeadError` otherwise)."""
    parsed = net.parse_head(head)
    return parsed.method, parsed.target, dict(parsed.headers)


def request_of(method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Request:
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(k, v)
    return Request(method, target, unquote(parts.path or "/"), query, dict(headers), body)


def json_response(status: int, doc: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    return Response(status, json.dumps(doc, separators=(",", ":")).encode(), JSON_TYPE, tuple(headers))


def error(status: int, code: str, message: str) -> Response:
    """The console's one error shape: ``{"error": ..., "code": ...}``."""
    return json_response(status, {"error": message, "code": code})


def wire_headers(content_type: str, extra: Sequence[tuple[str, str]] = ()) -> tuple[tuple[str, str], ...]:
    """The headers of a console answer: its type, the security headers, ``extra``, ``Server``."""
    return (
        ("Content-Type", content_type),
        *SECURITY_HEADERS,
        *extra,
        ("Server", "albfargate-console"),
    )


def wire(response: Response, *, close: bool = False) -> net.Response:
    """The answer as the shared server writes it (it adds Content-Length and Connection)."""
    return net.Response(
        response.status, wire_headers(response.content_type, response.headers), response.body, close=close
    )


def render_head(
    status: int,
    content_type: str,
    *,
    length: int | None,
    keep_alive: bool,
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A response head with the security headers; ``length`` None: no Content-Length (an event stream,
    which ends with the connection)."""
    return net.render_head(status, wire_headers(content_type, extra), length=length, keep_alive=keep_alive)


def render(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    return net.render(wire(response), keep_alive=keep_alive, head_only=head_only)


def sse_event(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One Server-Sent Event: ``id:`` (when given), ``event:``, one ``data:`` line of compact JSON."""
    payload = json.dumps(data, separators=(",", ":"))
    out = f"event: {event}\ndata: {payload}\n\n"
    if event_id is not None:
        out = f"id: {event_id}\n" + out
    return out.encode()


SSE_KEEPALIVE = b": keep-alive\n\n"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".woff2": "font/woff2",
}


def content_type_of(name: str) -> str:
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:].lower() if dot >= 0 else "", "application/octet-stream")
