"""The pure part of the control endpoints' HTTP/1.1 server (no sockets, no clock): a request head parsed
into a :class:`RequestHead`, the body's framing decided from it (:func:`body_plan`), a chunk-size line
read (:func:`chunk_size`), an answer rendered (:func:`render`, :func:`render_head`), the refusals a
server makes before its endpoint sees a request (:class:`Problem`), and the loopback ``Host`` guard
(:func:`is_loopback_host`). ``albfargate.net.server`` does the I/O with these."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

__all__ = [
    "BodyPlan",
    "BodyRules",
    "HeadError",
    "Problem",
    "ProblemKind",
    "RequestHead",
    "Response",
    "body_plan",
    "chunk_size",
    "is_loopback_host",
    "parse_head",
    "reason",
    "render",
    "render_head",
]

#: RFC 9110 §5.6.2 ``tchar``: what a method (a token) is made of.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class HeadError(ValueError):
    """A request head that is not HTTP/1.x (answered 400, or the connection closed, by each endpoint)."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A parsed request head: header names lower-cased, repeated headers joined with ``,``."""

    method: str
    target: str  # as received
    version: str  # "HTTP/1.1", "HTTP/1.0"
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def path(self) -> str:
        """The target without its query (not percent-decoded)."""
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        """False when the client asked to close (a ``close`` token in ``Connection``)."""
        return "close" not in _tokens(self.headers.get("connection", ""))

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def expects_continue(self) -> bool:
        return self.headers.get("expect", "").lower() == "100-continue"


def _tokens(value: str) -> set[str]:
    return {t.strip().lower() for t in value.split(",")}


def parse_head(head: bytes) -> RequestHead:
    """The request line (``METHOD SP target SP HTTP/1.x``, the method a token) and the header lines
    (``name: value``, no white space around the name) of a head ending in a blank line; else
    :class:`HeadError` naming the first bad line."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if (
        len(parts) != 3
        or not parts[2].startswith("HTTP/1.")
        or not parts[0]
        or not _TCHAR.issuperset(parts[0])
        or not parts[1]
    ):
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
    return RequestHead(parts[0], parts[1], parts[2], headers)


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``*.localhost``, 127.0.0.0/8 and ::1, with or without a port: the guard
    against DNS rebinding (a browser tricked into sending an attacker's host name to 127.0.0.1)."""
    if not host:
        return False
    host = host.strip()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host
    name = name.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# ---- bodies ------------------------------------------------------------------------------------------


class ProblemKind(StrEnum):
    """What the server refuses before an endpoint sees the request, and the status it stands for."""

    MALFORMED_HEAD = "malformed_head"  # 400
    HEAD_TOO_LARGE = "head_too_large"  # 431
    FOREIGN_HOST = "foreign_host"  # 403: Host is not a loopback name (the endpoint guards it)
    CHUNKED_REFUSED = "chunked_refused"  # 411: the endpoint takes Content-Length bodies only
    BAD_LENGTH = "bad_length"  # 400: Content-Length is not a number >= 0
    BODY_TOO_LARGE = "body_too_large"  # 413
    BAD_CHUNKED = "bad_chunked"  # 400: a malformed chunked body, or one above the limit
    INTERNAL = "internal"  # 500: the endpoint raised (a bug; logged)


STATUS: Mapping[ProblemKind, int] = {
    ProblemKind.MALFORMED_HEAD: 400,
    ProblemKind.HEAD_TOO_LARGE: 431,
    ProblemKind.FOREIGN_HOST: 403,
    ProblemKind.CHUNKED_REFUSED: 411,
    ProblemKind.BAD_LENGTH: 400,
    ProblemKind.BODY_TOO_LARGE: 413,
    ProblemKind.BAD_CHUNKED: 400,
    ProblemKind.INTERNAL: 500,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A refusal for the endpoint to word in its own error format (or to answer by closing)."""

    kind: ProblemKind
    message: str
    length: int | None = None  # BODY_TOO_LARGE: the Content-Length given
    limit: int | None = None  # BODY_TOO_LARGE / BAD_CHUNKED: the endpoint's body limit

    @property
    def status(self) -> int:
        return STATUS[self.kind]


@dataclass(frozen=True, slots=True)
class BodyRules:
    """What bodies an endpoint takes: up to ``max_body`` bytes, by Content-Length (and chunked when
    ``chunked``)."""

    max_body: int
    chunked: bool = False


@dataclass(frozen=True, slots=True)
class BodyPlan:
    """How to read the body: ``length`` bytes, or chunked (``length`` None) up to ``limit`` bytes."""

    length: int | None
    limit: int


def body_plan(head: RequestHead, rules: BodyRules) -> BodyPlan | Problem:
    """The body's framing (RFC 9112 §6.3: chunked wins over Content-Length), or the refusal."""
    if head.chunked:
        if not rules.chunked:
            return Problem(ProblemKind.CHUNKED_REFUSED, "chunked request bodies are not accepted")
        return BodyPlan(None, rules.max_body)
    raw = head.headers.get("content-length", "0").strip()
    if not raw or any(c not in "0123456789" for c in raw):  # 1*DIGIT (RFC 9110 §8.6)
        return Problem(ProblemKind.BAD_LENGTH, "invalid Content-Length")
    length = int(raw)
    if length > rules.max_body:
        return Problem(
            ProblemKind.BODY_TOO_LARGE,
            f"a body of {length} bytes is above the {rules.max_body} byte limit",
            length=length,
            limit=rules.max_body,
        )
    return BodyPlan(length, rules.max_body)


def chunk_size(line: bytes) -> int:
    """The size of a chunk from its size line (``1a;ext=1\\r\\n``, RFC 9112 §7.1); ValueError otherwise."""
    text = line.split(b";", 1)[0].strip()
    if not text or any(c not in b"0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"malformed chunk size {text[:20]!r}")
    return int(text, 16)


# ---- answers -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """An answer. ``headers`` are the endpoint's own: the server adds ``Content-Length`` (``length`` when
    given, e.g. a HEAD answer naming the object's size, else ``len(body)``; none for 1xx, 204 and 304)
    and ``Connection``. ``close``: close the connection after it."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    length: int | None = None
    close: bool = False


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _bodiless(status: int) -> bool:
    return status < 200 or status in (204, 304)


def render_head(
    status: int, headers: Sequence[tuple[str, str]], *, length: int | None, keep_alive: bool
) -> bytes:
    """A response head: the status line, ``headers`` (a value with CR or LF is left out, and so are
    ``Content-Length`` and ``Connection``, which are the server's), ``Content-Length: length`` unless
    None, ``Connection``."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    for name, value in headers:
        if "\r" in value or "\n" in value or name.lower() in ("content-length", "connection"):
            continue
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def render(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    """The whole answer; ``head_only`` (a HEAD request) and 1xx/204/304 send no body."""
    bodiless = _bodiless(response.status)
    length = None if bodiless else (response.length if response.length is not None else len(response.body))
    head = render_head(response.status, response.headers, length=length, keep_alive=keep_alive)
    return head if head_only or bodiless else head + response.body
