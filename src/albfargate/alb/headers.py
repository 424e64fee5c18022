"""Request headers towards the target (pure), spec §4.2.

Owns what the load balancer adds to or changes in a request before forwarding it:

* ``X-Forwarded-For`` per ``routing.http.xff_header_processing.mode``: ``append`` (default; adds the TCP
  peer, ``ip:port`` / ``[ipv6]:port`` with ``xff_client_port``), ``preserve``, ``remove``; more than 30
  addresses in the incoming header -> :class:`TooManyForwardedFor` (the proxy answers 463);
* ``X-Forwarded-Proto`` / ``X-Forwarded-Port``: always overwritten (*inferred*, spec §11.3);
* ``X-Amzn-Trace-Id``: ``Root=1-<8 hex time>-<24 hex id>`` when absent, ``Self=`` prepended when a
  ``Root`` is present, an existing ``Self`` replaced, unknown fields kept; request headers over 7 KB ->
  a fresh ``Root=`` only;
* ``Host`` (unless ``preserve_host_header``): the first Host only, the port stripped on listener ports
  80/443, ``:<listener port>`` appended on other ports when the client sent none; an absolute-form
  request target's host (:func:`split_absolute_form`) replaces it;
* ``drop_invalid_header_fields``: names outside ``[-A-Za-z0-9]+`` are dropped.

Hop-by-hop headers (Connection, Keep-Alive, TE, Upgrade, ...) are the proxy's business, not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Final

from albfargate.model.elbv2 import LoadBalancerAttributes

__all__ = [
    "MAX_FORWARDED_FOR",
    "TRACE_HEADER_LIMIT",
    "TooManyForwardedFor",
    "client_element",
    "forward_block",
    "forward_headers",
    "get_header",
    "new_trace_id",
    "rewrite_host",
    "split_absolute_form",
    "trace_header",
]

MAX_FORWARDED_FOR: Final = 30  # more addresses than this in the incoming X-Forwarded-For -> 463 (doc)
TRACE_HEADER_LIMIT: Final = 7 * 1024  # request headers larger than 7 KB get a fresh Root only (doc)
_VALID_NAME: Final = re.compile(r"[-A-Za-z0-9]+")
# the header names forward_headers looks at (every other header passes through as it came)
_SPECIAL: Final = frozenset(
    {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-amzn-tls-version",
        "x-amzn-tls-cipher-suite",
        "x-amzn-trace-id",
        "host",
    }
)


# ----------------------------------------------------------------------------------------------------
# Header kinds: what the proxy and the rules above do with a request header, by its lower-cased name. The
# one-pass request parser (http1.parse_plain_request_head) records each header's kind, so that
# forward_block needs no lower-casing or set lookup of its own.
KIND_PLAIN: Final = 0  # passed to the target as it came
KIND_HOST: Final = 1
KIND_USER_AGENT: Final = 2
KIND_CONTENT_LENGTH: Final = 3  # hop-by-hop from here to KIND_HOP: the proxy re-declares the framing itself
KIND_TRANSFER_ENCODING: Final = 4
KIND_CONNECTION: Final = 5
KIND_UPGRADE: Final = 6
KIND_EXPECT: Final = 7
KIND_HOP: Final = 8  # keep-alive, proxy-connection, te, trailer
KIND_XFF: Final = 9  # x-forwarded-for (forward_headers' rules from here on)
KIND_XF_PROTO_PORT: Final = 10  # x-forwarded-proto, x-forwarded-port: always overwritten
KIND_TLS: Final = 11  # x-amzn-tls-version, x-amzn-tls-cipher-suite
KIND_TRACE: Final = 12  # x-amzn-trace-id
KIND_COOKIE: Final = 13
KIND_SUSPICIOUS: Final = 14  # a name the desync classifier may read as Transfer-Encoding / Content-Length
KIND_NOT_TOKEN: Final = 15  # not a token: the head is not plain

KIND_OF: Final[dict[str, int]] = {
    "host": KIND_HOST,
    "user-agent": KIND_USER_AGENT,
    "content-length": KIND_CONTENT_LENGTH,
    "transfer-encoding": KIND_TRANSFER_ENCODING,
    "connection": KIND_CONNECTION,
    "upgrade": KIND_UPGRADE,
    "expect": KIND_EXPECT,
    "keep-alive": KIND_HOP,
    "proxy-connection": KIND_HOP,
    "te": KIND_HOP,
    "trailer": KIND_HOP,
    "x-forwarded-for": KIND_XFF,
    "x-forwarded-proto": KIND_XF_PROTO_PORT,
    "x-forwarded-port": KIND_XF_PROTO_PORT,
    "x-amzn-tls-version": KIND_TLS,
    "x-amzn-tls-cipher-suite": KIND_TLS,
    "x-amzn-trace-id": KIND_TRACE,
    "cookie": KIND_COOKIE,
}


class TooManyForwardedFor(Exception):
    """The incoming X-Forwarded-For holds more than 30 addresses: the ALB answers 463."""

    status: ClassVar[int] = 463  # ClassVar: compiled, an unannotated class attribute would be missing

    def __init__(self, count: int) -> None:
        super().__init__(f"X-Forwarded-For holds {count} addresses (limit {MAX_FORWARDED_FOR})")
        self.count = count


def get_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """First value of ``name`` (case-insensitive), or None."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


# ----------------------------------------------------------------------------------------------------
# X-Forwarded-For


def client_element(client_ip: str, client_port: int, *, with_port: bool) -> str:
    """The element the ALB appends: ``ip``, ``ip:port`` or ``[ipv6]:port``."""
    if not with_port:
        return client_ip
    if ":" in client_ip:
        return f"[{client_ip}]:{client_port}"
    return f"{client_ip}:{client_port}"


def _count_addresses(values: list[str]) -> int:
    return sum(1 for v in values for part in v.split(",") if part.strip())


# ----------------------------------------------------------------------------------------------------
# X-Amzn-Trace-Id


# "1-<epoch seconds, 8 hex>-" of the last seconds seen (one formatting per second, not per request); bounded
_SECOND_PREFIX: Final[dict[int, str]] = {}


def new_trace_id(now: float, trace_random: bytes) -> str:
    """``1-<epoch seconds, 8 hex>-<96-bit id, 24 hex>``; ``trace_random`` gives the id (>= 12 bytes)."""
    if len(trace_random) < 12:
        raise ValueError("trace_random needs at least 12 bytes")
    sec = int(now) & 0xFFFFFFFF
    prefix = _SECOND_PREFIX.get(sec)
    if prefix is None:
        if len(_SECOND_PREFIX) > 64:
            _SECOND_PREFIX.clear()
        prefix = _SECOND_PREFIX[sec] = f"1-{sec:08x}-"
    return prefix + (trace_random if len(trace_random) == 12 else trace_random[:12]).hex()


def trace_header(existing: str | None, now: float, trace_random: bytes, *, oversized: bool) -> str:
    """The X-Amzn-Trace-Id value sent to the target, from the client's value (None when absent)."""
    fresh = new_trace_id(now, trace_random)
    if existing is None or oversized:
        return f"Root={fresh}"
    fields = [f.strip() for f in existing.split(";") if f.strip()]
    names = [f.partition("=")[0].strip().lower() for f in fields]
    if "self" in names:
        i = names.index("self")
        fields[i] = f"Self={fresh}"
        return ";".join(fields)
    if "root" in names:
        return ";".join([f"Self={fresh}", *fields])
    # no Root in the client's header (*inferred*): start a trace, keep the client's fields
    return ";".join([f"Root={fresh}", *fields])


# ----------------------------------------------------------------------------------------------------
# Host


def split_absolute_form(target: str) -> tuple[str | None, str]:
    """An absolute-form request target ``http://host[:port]/path?q`` -> (``host[:port]``, ``/path?q``);
    origin-form targets -> (None, target unchanged)."""
    lower = target[:8].lower()
    if not (lower.startswith("http://") or lower.startswith("https://")):
        return None, target
    rest = target.split("://", 1)[1]
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1 and i < cut:
            cut = i
    authority, tail = rest[:cut], rest[cut:]
    authority = authority.rsplit("@", 1)[-1]  # userinfo is never part of Host
    if not tail.startswith("/"):
        tail = "/" + tail
    return authority, tail


def _split_port(host: str) -> tuple[str, str | None]:
    if host.startswith("["):
        end = host.find("]")
        if end != -1:
            rest = host[end + 1 :]
            return host[: end + 1], rest[1:] if rest.startswith(":") else None
        return host, None
    if host.count(":") == 1:
        name, port = host.split(":", 1)
        return name, port
    return host, None


def rewrite_host(host: str, listener_port: int) -> str:
    """Host towards the target: port stripped on listener ports 80/443, else ``:<listener port>`` added
    when the client sent no port (spec §4.2)."""
    name, port = _split_port(host.strip())
    if listener_port in (80, 443):
        return name
    if port is None or port == "":
        return f"{name}:{listener_port}"
    return f"{name}:{port}"


# ----------------------------------------------------------------------------------------------------
# Everything together


def _header_bytes(headers: Sequence[tuple[str, str]]) -> int:
    return sum([len(k) + len(v) for k, v in headers]) + 4 * len(headers)  # "name: value\r\n"


def forward_headers(
    headers: Sequence[tuple[str, str]],
    *,
    client_ip: str,
    client_port: int,
    scheme: str,
    listener_port: int,
    attributes: LoadBalancerAttributes,
    now: float,
    trace_random: bytes,
    uri_host: str | None = None,
    tls_version: str | None = None,
    tls_cipher: str | None = None,
) -> list[tuple[str, str]]:
    """The header list to send upstream (arrival order kept; changed headers stay where they were,
    added ones go at the end). ``uri_host`` is the host of an absolute-form request target (see
    :func:`split_absolute_form`); ``tls_version``/``tls_cipher`` are added as ``x-amzn-tls-version`` /
    ``x-amzn-tls-cipher-suite`` when the load-balancer attribute asks for them.

    Raises :class:`TooManyForwardedFor` when the incoming X-Forwarded-For holds more than 30 addresses."""
    mode = attributes.xff_header_processing_mode
    drop_invalid = attributes.drop_invalid_header_fields
    preserve_host = attributes.preserve_host_header

    out: list[tuple[str, str]] = []
    xff_values: list[str] = []
    xff_at = -1
    trace_value: str | None = None
    trace_at = -1
    host_at = -1
    special = _SPECIAL
    for name, value in headers:
        if drop_invalid and not _VALID_NAME.fullmatch(name):
            continue
        lname = name.lower()
        if lname not in special:
            out.append((name, value))
            continue
        if lname == "x-forwarded-for":
            xff_values.append(value.strip())
            if xff_at == -1:
                xff_at = len(out)
                out.append((name, value))
            continue
        if lname in ("x-forwarded-proto", "x-forwarded-port"):
            continue  # overwritten below
        if lname in ("x-amzn-tls-version", "x-amzn-tls-cipher-suite") and (
            attributes.tls_version_and_cipher_suite_headers
        ):
            continue  # never trust a client's copy of what the ALB asserts
        if lname == "x-amzn-trace-id":
            if trace_at == -1:
                trace_value = value.strip()
                trace_at = len(out)
                out.append((name, value))
            continue
        if lname == "host" and not preserve_host:
            if host_at == -1:
                host_at = len(out)
                out.append((name, value))
            continue
        out.append((name, value))

    # X-Forwarded-For
    count = _count_addresses(xff_values)
    if count > MAX_FORWARDED_FOR:
        raise TooManyForwardedFor(count)
    if mode == "remove":
        if xff_at != -1:
            del out[xff_at]
            trace_at -= trace_at > xff_at
            host_at -= host_at > xff_at
    elif mode == "preserve":
        if xff_at != -1 and len(xff_values) > 1:
            out[xff_at] = (out[xff_at][0], ", ".join(xff_values))
    else:  # append (default)
        element = client_element(client_ip, client_port, with_port=attributes.xff_client_port)
        existing = ", ".join(v for v in xff_values if v)
        value = f"{existing}, {element}" if existing else element
        if xff_at == -1:
            out.append(("X-Forwarded-For", value))
        else:
            out[xff_at] = (out[xff_at][0], value)

    # Host
    if not preserve_host:
        if uri_host is not None:
            new_host = rewrite_host(uri_host, listener_port)
            if host_at == -1:
                out.append(("Host", new_host))
            else:
                out[host_at] = (out[host_at][0], new_host)
        elif host_at != -1:
            out[host_at] = (out[host_at][0], rewrite_host(out[host_at][1], listener_port))

    # X-Amzn-Trace-Id
    # (the size of the headers matters only when the client sent a trace header to extend)
    oversized = trace_value is not None and _header_bytes(headers) > TRACE_HEADER_LIMIT
    trace = trace_header(trace_value, now, trace_random, oversized=oversized)
    if trace_at == -1:
        out.append(("X-Amzn-Trace-Id", trace))
    else:
        out[trace_at] = (out[trace_at][0], trace)

    out.append(("X-Forwarded-Proto", scheme.lower()))
    out.append(("X-Forwarded-Port", str(listener_port)))
    if attributes.tls_version_and_cipher_suite_headers and tls_version and tls_cipher:
        out.append(("x-amzn-tls-version", tls_version))
        out.append(("x-amzn-tls-cipher-suite", tls_cipher))
    return out


def forward_block(
    headers: Sequence[tuple[str, str]],
    kinds: Sequence[int] | None,
    *,
    client_ip: str,
    client_port: int,
    scheme: str,
    listener_port: int,
    attributes: LoadBalancerAttributes,
    now: float,
    trace_random: bytes,
    uri_host: str | None = None,
    tls_version: str | None = None,
    tls_cipher: str | None = None,
) -> tuple[str, str]:
    """The header lines sent upstream, as text (``Name: value\\r\\n`` each), and the X-Amzn-Trace-Id
    sent: exactly what :func:`forward_headers` gives, without the hop-by-hop headers (the proxy's), in one
    loop over the headers. ``kinds``: the kinds the one-pass parser recorded (``kinds[i]`` is
    ``http1.header_kind`` of ``headers[i][0]``), so no name is lower-cased again; None (a head the
    general parser read) looks each name up in :data:`KIND_OF`. Raises :class:`TooManyForwardedFor` as
    :func:`forward_headers` does."""
    mode = attributes.xff_header_processing_mode
    preserve_host = attributes.preserve_host_header
    drop_invalid = attributes.drop_invalid_header_fields
    kind_of = KIND_OF
    tls_headers = attributes.tls_version_and_cipher_suite_headers
    parts: list[str] = []
    xff_values: list[str] = []
    xff_at = -1
    xff_name = xff_first = ""
    trace_value: str | None = None
    trace_at = -1
    trace_name = ""
    host_at = -1
    host_name = host_value = ""
    for i in range(len(headers)):
        name, value = headers[i]
        if drop_invalid and _VALID_NAME.fullmatch(name) is None:
            continue
        kind = kinds[i] if kinds is not None else kind_of.get(name.lower(), KIND_PLAIN)
        if kind <= KIND_USER_AGENT:  # plain, user-agent (and Host with preserve_host_header, below)
            if kind != KIND_HOST or preserve_host:
                parts.append(f"{name}: {value}\r\n")
            elif host_at == -1:
                host_at = len(parts)
                host_name, host_value = name, value
                parts.append("")
        elif kind < KIND_XFF:  # hop-by-hop: the proxy's business
            continue
        elif kind == KIND_XFF:
            xff_values.append(value.strip())
            if xff_at == -1:
                xff_at = len(parts)
                xff_name, xff_first = name, value
                parts.append("")
        elif kind == KIND_TRACE:
            if trace_at == -1:
                trace_value = value.strip()
                trace_at = len(parts)
                trace_name = name
                parts.append("")
        elif kind == KIND_TLS:
            if not tls_headers:
                parts.append(f"{name}: {value}\r\n")
        elif kind != KIND_XF_PROTO_PORT:  # cookie
            parts.append(f"{name}: {value}\r\n")

    # X-Forwarded-For
    count = _count_addresses(xff_values)
    if count > MAX_FORWARDED_FOR:
        raise TooManyForwardedFor(count)
    if mode == "remove":
        pass  # its place stays empty
    elif mode == "preserve":
        if xff_at != -1:
            value = ", ".join(xff_values) if len(xff_values) > 1 else xff_first
            parts[xff_at] = f"{xff_name}: {value}\r\n"
    else:  # append (default)
        element = client_element(client_ip, client_port, with_port=attributes.xff_client_port)
        existing = ", ".join([v for v in xff_values if v])
        value = f"{existing}, {element}" if existing else element
        if xff_at == -1:
            parts.append(f"X-Forwarded-For: {value}\r\n")
        else:
            parts[xff_at] = f"{xff_name}: {value}\r\n"

    # Host
    if not preserve_host:
        if uri_host is not None:
            new_host = rewrite_host(uri_host, listener_port)
            if host_at == -1:
                parts.append(f"Host: {new_host}\r\n")
            else:
                parts[host_at] = f"{host_name}: {new_host}\r\n"
        elif host_at != -1:
            parts[host_at] = f"{host_name}: {rewrite_host(host_value, listener_port)}\r\n"

    # X-Amzn-Trace-Id
    oversized = trace_value is not None and _header_bytes(headers) > TRACE_HEADER_LIMIT
    trace = trace_header(trace_value, now, trace_random, oversized=oversized)
    if trace_at == -1:
        parts.append(f"X-Amzn-Trace-Id: {trace}\r\n")
    else:
        parts[trace_at] = f"{trace_name}: {trace}\r\n"

    parts.append(f"X-Forwarded-Proto: {scheme.lower()}\r\nX-Forwarded-Port: {listener_port}\r\n")
    if tls_headers and tls_version and tls_cipher:
        parts.append(f"x-amzn-tls-version: {tls_version}\r\nx-amzn-tls-cipher-suite: {tls_cipher}\r\n")
    return "".join(parts), trace
