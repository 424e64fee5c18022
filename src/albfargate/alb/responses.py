"""Responses the load balancer makes itself (pure): error pages, redirects and fixed responses.

Owns the byte-exact HTML bodies of spec §2.5 (``Server: awselb/2.0``, CRLF lines; 503 = 162 bytes,
502 = 122, 301 = 134, 302 = 110), the status lines (``503 Service Temporarily Unavailable``,
``302 Moved Temporarily`` whose body title is ``302 Found``) and the redirect ``Location`` of §2.2
(placeholders, the port always written, ``?`` only before a non-empty query), rewritten to the address a
listener is served on locally so a browser can follow it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Final

from albfargate.model.elbv2 import FixedResponseAction, RedirectAction

__all__ = [
    "SERVER",
    "STATUS_LINE_TEXT",
    "STATUS_TEXT",
    "alb_response",
    "error_body",
    "fixed_response",
    "redirect_location",
    "redirect_response",
    "status_line_text",
]

SERVER: Final = "awselb/2.0"

# Body titles (spec §2.5). 503/502/301/302 are byte-verified against AWS; the rest are nginx-style
# texts (*inferred*, spec §11.5).
STATUS_TEXT: Final[dict[int, str]] = {
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    401: "Authorization Required",
    403: "Forbidden",
    405: "Not Allowed",
    408: "Request Time-out",
    413: "Request Entity Too Large",
    414: "Request-URI Too Large",
    460: "Client Closed Request",
    463: "Bad Request",
    464: "Bad Request",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
    505: "HTTP Version Not Supported",
    561: "Unauthorized",
}

# Where the status line differs from the body title (observed: 302 says "Moved Temporarily").
STATUS_LINE_TEXT: Final[dict[int, str]] = {**STATUS_TEXT, 302: "Moved Temporarily"}


def status_line_text(code: int) -> str:
    """Reason phrase for the status line of an ALB-made response with ``code``."""
    text = STATUS_LINE_TEXT.get(code)
    if text is not None:
        return text
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def _title(code: int) -> str:
    text = STATUS_TEXT.get(code)
    if text is None:
        text = status_line_text(code)
    return f"{code} {text}"


_BODY_CACHE: Final[dict[int, bytes]] = {}


def error_body(code: int) -> bytes:
    """The ALB's HTML page for ``code`` (spec §2.5), byte-exact."""
    body = _BODY_CACHE.get(code)
    if body is None:
        title = _title(code)
        body = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
        ).encode("ascii")
        _BODY_CACHE[code] = body
    return body


def _head(
    code: int,
    *,
    content_type: str | None,
    length: int,
    keep_alive: bool,
    extra_headers: Sequence[tuple[str, str]],
    date: str | None,
) -> bytes:
    lines = [f"HTTP/1.1 {code} {status_line_text(code)}", f"Server: {SERVER}"]
    if date is not None:
        lines.append(f"Date: {date}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {length}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    lines.extend(f"{name}: {value}" for name, value in extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def alb_response(
    code: int,
    *,
    keep_alive: bool,
    extra_headers: Sequence[tuple[str, str]] = (),
    date: str | None = None,
    head_only: bool = False,
) -> bytes:
    """A whole HTTP/1.1 response made by the ALB: status line, ``Server: awselb/2.0``, (``Date`` when
    the shell passes one), ``Content-Type: text/html``, ``Content-Length``, ``Connection``, any extra
    headers, then the HTML body (left out, Content-Length kept, when ``head_only`` for a HEAD request)."""
    body = error_body(code)
    head = _head(
        code,
        content_type="text/html",
        length=len(body),
        keep_alive=keep_alive,
        extra_headers=extra_headers,
        date=date,
    )
    return head if head_only else head + body


def _format_host(host: str) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]"  # an IPv6 literal in a URL
    return host


def redirect_location(
    action: RedirectAction,
    *,
    scheme: str,
    host: str,
    listener_port: int,
    path: str,
    query: str,
    local_ports: Mapping[tuple[str, int], int],
) -> str:
    """The ``Location`` of a redirect action (spec §2.2).

    ``scheme`` is the client->ALB protocol (http/https), ``host`` the Host value without its port,
    ``listener_port`` the listener's (template) port, ``path``/``query`` the request's as received.
    ``local_ports`` maps (protocol, template port) -> the local port that listener is served on; a port
    with no local listener is written as given. The port is always written; ``?`` only precedes a
    non-empty query."""
    scheme = scheme.lower()
    port_text = str(listener_port)
    path_no_slash = path[1:] if path.startswith("/") else path
    subs = {
        "#{protocol}": scheme,
        "#{host}": host,
        "#{port}": port_text,
        "#{path}": path_no_slash,
        "#{query}": query,
    }

    def sub(template: str, allowed: tuple[str, ...]) -> str:
        out = template
        for kw in allowed:
            if kw in out:
                out = out.replace(kw, subs[kw])
        return out

    protocol = sub(action.protocol, ("#{protocol}",)).lower()
    new_host = sub(action.host, ("#{host}",))
    port_str = sub(action.port, ("#{port}",))
    new_path = sub(action.path, ("#{host}", "#{path}", "#{port}"))
    new_query = sub(action.query, ("#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"))
    if not new_path.startswith("/"):
        new_path = "/" + new_path
    try:
        template_port = int(port_str)
    except ValueError:
        template_port = listener_port
    local = local_ports.get((protocol.upper(), template_port), template_port)
    location = f"{protocol}://{_format_host(new_host)}:{local}{new_path}"
    if new_query:
        location += "?" + new_query
    return location


def redirect_response(
    action: RedirectAction,
    location: str,
    *,
    keep_alive: bool,
    date: str | None = None,
    head_only: bool = False,
) -> bytes:
    """301 (``HTTP_301``) or 302 (``HTTP_302``) with ``Location`` and the §2.5 HTML body."""
    code = 302 if action.status_code == "HTTP_302" else 301
    return alb_response(
        code, keep_alive=keep_alive, extra_headers=(("Location", location),), date=date, head_only=head_only
    )


def fixed_response(
    action: FixedResponseAction,
    *,
    keep_alive: bool,
    date: str | None = None,
    head_only: bool = False,
) -> bytes:
    """The configured status, ``Server: awselb/2.0``, the configured Content-Type (omitted when none
    is configured, spec §2.3 *inferred*) and the message body (UTF-8; empty when none)."""
    code = int(action.status_code)
    body = (action.message_body or "").encode("utf-8")
    head = _head(
        code,
        content_type=action.content_type,
        length=len(body),
        keep_alive=keep_alive,
        extra_headers=(),
        date=date,
    )
    return head if head_only else head + body
