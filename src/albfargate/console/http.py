"""The console's HTTP/1.1 wire pieces (pure): parsing a request head into a :class:`Request`, rendering a
:class:`Response` with the headers every console answer carries (docs/console.md), and Server-Sent Events
framing. The asyncio shell (``console/server.py``) reads bytes and writes what these return."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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


class HeadError(ValueError):
    """A request head the console does not take (answered 400 and the connection closed)."""


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
    """Method, target and headers (names lower-cased) of a request head ending in a blank line."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise HeadError(f"malformed request line {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HeadError(f"malformed header line {line[:100]!r}")
        key = name.lower()
        v = value.strip()
        headers[key] = f"{headers[key]},{v}" if key in headers else v
    return parts[0], parts[1], headers


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


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
    lines = [f"HTTP/1.1 {status} {reason(status)}", f"Content-Type: {content_type}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(f"{k}: {v}" for k, v in SECURITY_HEADERS)
    lines.extend(f"{k}: {v}" for k, v in extra if "\r" not in v and "\n" not in v)
    lines.append("Server: albfargate-console")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def render(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    head = render_head(
        response.status,
        response.content_type,
        length=len(response.body),
        keep_alive=keep_alive,
        extra=response.headers,
    )
    return head if head_only else head + response.body


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
