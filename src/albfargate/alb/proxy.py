"""The listener servers of the local ALB: HTTP/1.1 parsing and framing, routing through the rule
engine, upstream keep-alive pools, request/response streaming, WebSocket pass-through, timeouts,
draining cuts and the responses the ALB makes itself (spec §2, §4).

Shape: one :class:`ClientConnection` per client connection over a lean :class:`Stream` protocol (uvloop
when the process runs it), driven by protocol callbacks: a request forwarded on a pooled target
connection is served from the callbacks of the two connections without a task or a coroutine switch (the
fast lane); what must wait (connecting, a streamed body, Expect, WebSocket, a retry, a slow client) runs
as a task that hands the connection back when its exchange is over. The request head is framed here
byte-exactly, not by httptools (it must be: the desync classifier and the size limits of §4.4 look at
the raw bytes, and httptools would refuse or normalise what monitor mode must forward); bodies in both
directions are streamed through verbatim — a Content-Length body is counted, a chunked body is delimited
by :class:`ChunkedFramer` without being re-encoded — and never held whole: every write to the other side
is followed by ``drain()`` once its buffer passes ``STREAM_HIGH_WATER``, which pauses our reads from the
sending side (flow control).

Every decision comes from the pure cores: rules (routing), desync (classification), headers (what goes
to the target), balancing (via the target registry), responses (ALB-made bytes). This module only
moves bytes and keeps time.

Timeouts (§4.3): one idle watchdog per client connection (a single ``call_at`` handle re-armed lazily
from a last-activity stamp, so the hot path only stores a float). What the watchdog does depends on
the phase: idle keep-alive → close; partial request → 408; waiting for the target → 504 (response not
started) or close; WebSocket → close both sides. Target connect timeout: 10 s → 504."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from albfargate.alb import balancing, desync, headers, responses
from albfargate.alb.exchange import Exchange, ExchangeSink
from albfargate.alb.metrics import LbCounters, Metrics, TgCounters
from albfargate.alb.rules import CompiledRules, RequestView
from albfargate.alb.targets import LiveTargets, Target
from albfargate.model import (
    FixedResponseAction,
    ForwardAction,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    RedirectAction,
    Rule,
)
from albfargate.model.elbv2 import Action

# ---------------------------------------------------------------------------------------------- limits
# Spec §4.4: request line 16K, one header line 16K, whole request head 64K -> 400; response head from
# a target 32K -> 502.
MAX_REQUEST_LINE = 16 * 1024
MAX_HEADER_LINE = 16 * 1024
MAX_REQUEST_HEAD = 64 * 1024
MAX_RESPONSE_HEAD = 32 * 1024
# 414 for a URL above this many bytes (*inferred*: AWS documents 414 "URL or query string too large"
# without a figure; 8 KiB is nginx's request-line buffer, which the ALB's front end descends from).
MAX_URL = 8 * 1024
# More than this many X-Forwarded-For addresses -> 463 (spec §4.2); counted by headers.forward_headers.
# Unconsumed received bytes a connection holds before it stops reading from its socket (flow control:
# a client or target sending faster than the other side takes is paused here, never buffered whole).
READ_BUFFER_LIMIT = 256 * 1024
# Above this many bytes queued towards a peer we await drain(), which stops us reading from the other
# side until the slow peer catches up: a large upload/download is never held whole in memory.
STREAM_HIGH_WATER = 256 * 1024
# Idle upstream connections kept per target (more concurrent requests open more; extra are closed).
POOL_MAX_IDLE_PER_TARGET = 256
# Target connect timeout (spec §4.3).
CONNECT_TIMEOUT = 10.0
# Grace period for in-flight requests on stop() before they are cut.
STOP_GRACE = 5.0

_log = logging.getLogger(__name__)

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _head_end(buf: bytes | bytearray, start: int) -> int:
    """Where the first blank line at or after ``start`` ends (what ``_HEAD_END.search`` finds: CRLF CRLF,
    or either line end a bare LF), -1 when there is none. Searched as LF, optional CR, LF: the same end,
    with a pattern that starts with a literal the engine skips to (``_HEAD_END`` is tried at every
    position)."""
    m = _BLANK_LINE.search(buf, start)
    return -1 if m is None else m.end()


def _take(buf: bytearray, end: int) -> bytes:
    """The first ``end`` bytes of ``buf``, taken off it (one copy when they are all of it, the common
    case: nothing pipelined behind a head)."""
    if end == len(buf):
        out = bytes(buf)
        buf.clear()
    else:
        out = bytes(buf[:end])
        del buf[:end]
    return out


_HEX_DIGITS = b"0123456789abcdefABCDEF"
_CTL_OR_SPACE = re.compile(rb"[\x00-\x20\x7f]")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    }
)
_RESP_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection"})

# Client-connection phases (what the idle watchdog does when it fires).
IDLE, HEAD, BODY, UPSTREAM, RESPONSE, TUNNEL, CLOSED = range(7)


class ProtocolError(Exception):
    """The peer broke HTTP framing; ``status`` is the response the ALB owes the client."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(reason or str(status))
        self.status = status


# ------------------------------------------------------------------------------------ chunked framing
class ChunkedFramer:
    """Finds where a chunked body ends in a byte stream without copying or decoding its payload.

    ``feed(data)`` returns how many leading bytes of ``data`` belong to the body; once ``done`` is true
    the rest of ``data`` is the next message. Malformed framing raises :class:`ValueError`."""

    __slots__ = ("_line", "_remaining", "_state", "done")

    SIZE = 0  # one assignment per line: mypyc compiles no tuple unpacking in a class body
    DATA = 1
    DATA_END = 2
    TRAILER = 3
    MAX_LINE = 8192  # chunk-size line with extensions, or one trailer line

    def __init__(self) -> None:
        self._state = self.SIZE
        self._remaining = 0
        self._line = b""
        self.done = False

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        pos = 0
        n = len(data)
        while pos < n and not self.done:
            st = self._state
            if st == self.DATA:
                take = min(self._remaining, n - pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self.DATA_END
                continue
            nl = bytes(data[pos : pos + self.MAX_LINE + 2]).find(b"\n")
            if nl < 0:
                self._line += bytes(data[pos:n])
                if len(self._line) > self.MAX_LINE:
                    raise ValueError("chunk line too long")
                return n
            line = self._line + bytes(data[pos : pos + nl])
            self._line = b""
            pos += nl + 1
            if len(line) > self.MAX_LINE:
                raise ValueError("chunk line too long")
            if line[-1:] == b"\r":
                line = line[:-1]
            if st == self.SIZE:
                size_text = line.split(b";", 1)[0].strip(b" \t")
                if not size_text or len(size_text) > 16 or size_text.strip(_HEX_DIGITS):
                    raise ValueError("bad chunk size")
                size = int(size_text, 16)
                if size == 0:
                    self._state = self.TRAILER
                else:
                    self._remaining = size
                    self._state = self.DATA
            elif st == self.DATA_END:
                if line:
                    raise ValueError("missing CRLF after chunk data")
                self._state = self.SIZE
            else:  # TRAILER
                if not line:
                    self.done = True
        return pos


# ---------------------------------------------------------------------------------------- shared state
@dataclass(slots=True, eq=False)
class ListenerState:
    """One listener's live configuration; replaced field by field by the runtime (next request
    sees the change)."""

    listener: Listener
    lb: LoadBalancer
    counters: LbCounters
    scheme: str  # "http" | "https"
    local_port: int
    rules: CompiledRules
    attributes: LoadBalancerAttributes
    connections: set[ClientConnection] = field(default_factory=set)
    lb_full_name: str = ""  # app/<name>/<id>, computed once
    template_port: int = 0  # the listener's port in the template

    def __post_init__(self) -> None:
        self.lb_full_name = self.lb.full_name
        self.template_port = self.listener.port

    def set_rules(self, rules: tuple[Rule, ...], default_actions: tuple[Action, ...]) -> None:
        self.rules = CompiledRules(rules, default_actions)


# Writes one stream holds at most; the next one sends them (see HeldWrites).
HELD_WRITES_MAX = 16


class HeldWrites:
    """The streams of one event loop holding written bytes until the loop's current iteration ends.

    Writes are not sent when the hot path makes them but once per loop iteration, back to back, after
    every connection that became ready in that iteration had its turn (``call_soon`` runs before the
    loop polls again). A peer asleep in ``epoll_wait`` is then woken once for a burst instead of once
    per write: on loopback the writer pays for that wake-up, and spreading writes 10 µs apart woke wrk
    and the targets nearly once per request (docs/alb.md, "Writes held to the end of the iteration").
    Order per stream is kept; ``drain``, ``write_eof`` and closing send what is held first, and so does
    a stream's ``HELD_WRITES_MAX``-th write in an iteration (a client pipelining hundreds of requests the
    ALB answers itself: past the high-water mark the transport pauses the pump, as it would unheld)."""

    __slots__ = ("streams",)

    def __init__(self) -> None:
        self.streams: list[Stream] = []

    def release(self) -> None:
        streams = self.streams
        self.streams = []
        for s in streams:
            s.flush()


_held_writes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeldWrites] = weakref.WeakKeyDictionary()


def held_writes(loop: asyncio.AbstractEventLoop) -> HeldWrites:
    """The :class:`HeldWrites` of ``loop`` (one per loop: a process may run several in threads)."""
    h = _held_writes.get(loop)
    if h is None:
        h = _held_writes[loop] = HeldWrites()
    return h


class Stream(asyncio.Protocol):
    """A lean byte stream over one transport (instead of StreamReader/StreamWriter): received bytes
    land directly in ``buf``, which the consumer parses and trims in place (no intermediate copies).

    Flow control: reading pauses while ``buf`` holds more than ``READ_BUFFER_LIMIT`` unconsumed bytes
    and resumes when the consumer asks for more; ``drain()`` waits while the transport's write buffer
    is above its high-water mark (``pause_writing`` / ``resume_writing``).

    ``write`` holds its bytes until the end of the loop iteration (:class:`HeldWrites`)."""

    __slots__ = (
        "_drain",
        "_held",
        "_loop",
        "_out",
        "_read_paused",
        "_waiter",
        "_write_paused",
        "buf",
        "closed",
        "eof",
        "on_data",
        "on_made",
        "transport",
    )

    def __init__(self, on_made: Callable[[Stream], None] | None = None) -> None:
        self.buf = bytearray()
        self.eof = False
        self.closed = False
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._out: list[bytes] | None = None
        self._held: HeldWrites = None  # type: ignore[assignment]
        self.on_made = on_made
        # called (no arguments) when bytes or the end of stream arrive and no read_more() waits
        self.on_data: Callable[[], None] | None = None

    # protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()  # once: each lookup costs a getpid() syscall
        self._held = held_writes(self._loop)
        self.transport.set_write_buffer_limits(high=STREAM_HIGH_WATER)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > READ_BUFFER_LIMIT and not self._read_paused:
            self._read_paused = True
            with contextlib.suppress(Exception):
                self.transport.pause_reading()
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        elif self.on_data is not None:
            self.on_data()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        # keep the transport open for writing (half-close: the answer may still be owed); we close
        # it ourselves. TLS transports cannot stay half-open.
        return self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.closed = True
        self._wake()
        d = self._drain
        if d is not None:
            self._drain = None
            if not d.done():
                d.set_exception(ConnectionResetError("connection lost"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        d = self._drain
        if d is not None:
            self._drain = None
            if not d.done():
                d.set_result(None)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        elif self.on_data is not None:
            self.on_data()

    # consumer side
    async def read_more(self) -> bool:
        """Wait for more bytes in ``buf``; False at end of stream (nothing new arrived).

        The consumer asks for more only when it cannot progress with what ``buf`` holds, so reading
        resumes even if ``buf`` filled up meanwhile (e.g. while the consumer awaited the other side's
        drain): waiting with reading paused would never end."""
        self.want_more()
        if self.eof:
            return False
        before = len(self.buf)
        fut = self._loop.create_future()
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None
        return len(self.buf) > before or not self.eof

    def want_more(self) -> None:
        """Resume reading if the buffer limit paused it (the consumer cannot progress without more)."""
        if self._read_paused:
            self._read_paused = False
            with contextlib.suppress(Exception):
                self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        """Send ``data`` (bytes: it is held, so it must not change) when the loop iteration ends."""
        if not self.closed:
            out = self._out
            if out is None:
                h = self._held
                if not h.streams:
                    self._loop.call_soon(h.release)
                h.streams.append(self)
                self._out = [data]
            else:
                out.append(data)
                if len(out) >= HELD_WRITES_MAX:  # many answers in one go (pipelining): the
                    self.flush()  # transport's flow control (pause_writing) must see them

    def backlog(self) -> int:
        """Bytes written and not yet sent: held ones and the transport's buffer."""
        out = self._out
        held = sum(map(len, out)) if out is not None else 0
        return held + self.transport.get_write_buffer_size()

    def flush(self) -> None:
        """Send the held bytes now."""
        out = self._out
        if out is not None:
            self._out = None
            if not self.closed:
                try:
                    if len(out) == 1:
                        self.transport.write(out[0])
                    else:
                        self.transport.writelines(out)
                except Exception:  # the transport was closed under the held bytes (uvloop raises once
                    pass  # its handle is): they go with it, and the other held streams still go out

    async def drain(self) -> None:
        self.flush()
        if self.closed:
            raise ConnectionResetError("connection lost")
        if not self._write_paused:
            return
        fut = self._loop.create_future()
        self._drain = fut
        await fut

    def write_eof(self) -> None:
        self.flush()
        with contextlib.suppress(Exception):
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:
                self.transport.close()

    def get_extra_info(self, name: str) -> Any:
        return self.transport.get_extra_info(name)

    def abort(self) -> None:
        self._out = None  # what is held goes with the connection
        with contextlib.suppress(Exception):
            self.transport.abort()


class Upstream:
    """One keep-alive connection to a target."""

    __slots__ = ("buf", "last_used", "reused", "s", "target")

    def __init__(self, target: Target, stream: Stream) -> None:
        self.target = target
        self.s = stream
        self.buf = stream.buf
        self.reused = False
        self.last_used = 0.0

    def close(self) -> None:
        self.s.abort()


def _target_tls() -> ssl.SSLContext:
    """HTTPS to targets does not validate target certificates (spec §3.1)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Pools:
    """Idle keep-alive upstream connections per target (spec §4.3: the ALB reuses them). Keyed by the
    registry's Target object, so a target registered again (or in two groups) never shares a pool
    with its former self."""

    def __init__(self) -> None:
        self._idle: dict[Target, list[Upstream]] = {}
        self._tls: ssl.SSLContext | None = None

    def take_idle(self, target: Target, idle_timeout: float, now: float) -> Upstream | None:
        """A pooled connection to ``target`` still fit for a request, or None (no coroutine: the hot path
        calls this first and awaits :meth:`connect` only when it must). ``now``: the event loop's clock,
        as the caller last read it (the pool reads no clock of its own)."""
        stack = self._idle.get(target)
        if stack:
            while stack:
                up = stack.pop()
                # unsolicited bytes (up.buf) mean the connection is out of step with its requests
                if up.s.eof or up.buf or up.s.transport.is_closing() or now - up.last_used >= idle_timeout:
                    up.close()
                    continue
                up.reused = True
                return up
        return None

    async def connect(self, target: Target, connect_timeout: float) -> Upstream:
        """A new connection to ``target``."""
        ssl_ctx = None
        if target.tls:
            if self._tls is None:
                self._tls = _target_tls()
            ssl_ctx = self._tls
        async with asyncio.timeout(connect_timeout):
            _, stream = await asyncio.get_running_loop().create_connection(
                Stream, target.tid.id, target.tid.port, ssl=ssl_ctx
            )
        sock = stream.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Upstream(target, stream)

    def release(self, up: Upstream, now: float) -> None:
        """Keep ``up`` for the next request to its target (``now``: the event loop's clock)."""
        up.s.on_data = None
        t = up.target
        if t.gone or up.buf or up.s.transport.is_closing() or up.s.eof:
            up.close()
            return
        stack = self._idle.setdefault(t, [])
        if len(stack) >= POOL_MAX_IDLE_PER_TARGET:
            up.close()
            return
        up.last_used = now
        stack.append(up)

    def drop_target(self, target: Target) -> None:
        for up in self._idle.pop(target, []):
            up.close()

    def close(self) -> None:
        for stack in self._idle.values():
            for up in stack:
                up.close()
        self._idle.clear()


@dataclass(slots=True, eq=False)
class ProxyContext:
    """Everything the listeners share."""

    registry: LiveTargets
    metrics: Metrics
    tg_counters: dict[str, TgCounters]
    local_ports: Mapping[tuple[str, int], int]
    sticky_key: bytes
    rng: Any  # random.Random
    pools: Pools = field(default_factory=Pools)
    sink: ExchangeSink | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    stopping: bool = False


# ------------------------------------------------------------------------------------------- helpers
def _http_date() -> str:
    return formatdate(usegmt=True)


def _cookies(hdrs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in hdrs:
        if name.lower() == "cookie":
            for part in value.split(";"):
                k, sep, v = part.strip().partition("=")
                if sep and k not in out:
                    out[k] = v
    return out


class _Parsed:
    """A request head split into what the shell needs."""

    __slots__ = (
        "body_chunked",
        "body_length",
        "close",
        "expect_continue",
        "headers",
        "host",
        "host_count",
        "method",
        "path",
        "query",
        "target",
        "upgrade",
        "user_agent",
        "version",
    )

    def __init__(self) -> None:
        self.method = ""
        self.target = ""
        self.version = ""
        self.path = ""
        self.query = ""
        self.headers: list[tuple[str, str]] = []
        self.body_length = 0
        self.body_chunked = False
        self.close = False
        self.upgrade: str | None = None
        self.expect_continue = False
        self.host: str | None = None  # the first Host header
        self.host_count = 0  # how many Host headers there are
        self.user_agent: str | None = None


# A well-formed origin-form request head below every size limit (CRLF only, an upper-case method,
# token header names right before the colon, no obs-fold, no bare CR): parse_request_head's fast path.
_REQ_WELL_FORMED = re.compile(
    rb"[A-Z]+ /[!-~]* HTTP/1\.[01]\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*\r\n"
)
_REQ_SPECIAL = frozenset(
    {"content-length", "transfer-encoding", "connection", "upgrade", "expect", "host", "user-agent"}
)


def _content_length(value: str, seen: int | None) -> int:
    """One Content-Length header value (a comma list is allowed when every element agrees) checked against
    the value already ``seen``: 400 when malformed, over 19 digits, or conflicting."""
    for v in value.split(","):
        v = v.strip()
        if not v.isdigit() or len(v) > 19:
            raise ProtocolError(400, "bad content-length")
        n = int(v)
        if seen is not None and seen != n:
            raise ProtocolError(400, "conflicting content-length")
        seen = n
    assert seen is not None  # split() yields at least one element; each one sets ``seen`` or raises
    return seen


def parse_request_head(head: bytes) -> _Parsed:
    """Split a complete request head (request line + header lines + blank line). Raises
    :class:`ProtocolError` with the status the ALB answers: 400, 414, 501, 505.

    A well-formed head short enough to be under every limit (the common case) is validated by one regex
    and split with C-level str methods; any other goes line by line (:func:`_parse_request_head_general`).
    Both give the same result (property-tested)."""
    if len(head) > MAX_URL or _REQ_WELL_FORMED.fullmatch(head) is None:
        return _parse_request_head_general(head)
    text = head.decode("latin-1")
    eol = text.index("\r\n")
    method, target, version = text[:eol].split(" ")
    p = _Parsed()
    p.method = method
    p.target = target
    p.version = version
    path, _, query = target.split("#", 1)[0].partition("?")
    p.path, p.query = path, query
    if eol + 4 == len(text):
        hdrs: list[tuple[str, str]] = []
    else:
        hdrs = [
            (n, v.strip(" \t")) for n, _, v in [x.partition(":") for x in text[eol + 2 : -4].split("\r\n")]
        ]
    p.headers = hdrs
    cl: int | None = None
    te: list[str] = []
    conn_tokens: list[str] = []
    special = _REQ_SPECIAL
    for name, value in hdrs:
        lname = name.lower()
        if lname in special:
            cl = _note_header(p, lname, value, cl, te, conn_tokens)
    return _finish_request(p, cl, te, conn_tokens)


def _parse_request_head_general(head: bytes, non_compliant: bool = False) -> _Parsed:
    """:func:`parse_request_head` for any head (line by line).

    What the desync mode lets through is framed here, not refused (spec §4.6): the request line is split
    as the classifier splits it (the method up to the first space, the version the last token), so a URI
    with spaces or control characters (`SpaceInUri`, `AmbiguousUri`, and in monitor mode `BadUri`) is
    kept, with every space, control byte and DEL percent-encoded (:func:`_escape_target`): that is the
    request target the rules see and the target receives, which can then never read a second request
    line or a version out of it. A version-less request line is HTTP/0.9 (forwarded as HTTP/1.0, closed
    after the response) only when no header line follows: with headers it cannot be told apart from a
    URI that carried a bare LF (``GET /a\nHost: evil HTTP/1.1``), and is refused.

    ``non_compliant`` (the classifier did not find the head Compliant): a header whose name the
    classifier reads as Transfer-Encoding or Content-Length (`SuspiciousHeader`: ``Content-Length :``,
    ``\x01Transfer-Encoding``, ``Transfer_Encoding``, ...) frames the body as that header, as the
    classifier analysed it, and like every TE/CL is not forwarded as it came: the target gets the one
    framing header the proxy writes, so it frames the body as the proxy did."""
    lines = _split_lines(head)
    if not lines:
        raise ProtocolError(400, "empty request")
    rl = lines[0]
    if len(rl) > MAX_REQUEST_LINE:
        raise ProtocolError(400, "request line too long")
    parts = rl.split(b" ")
    if len(parts) != 3:
        parts = _split_request_line(rl, has_headers=len(lines) > 1)
    method_b, target_b, version_b = parts
    if not method_b.isalpha() and not re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", method_b):
        raise ProtocolError(400, "bad method")
    if not version_b.startswith(b"HTTP/"):
        raise ProtocolError(400, "bad version")
    if version_b not in (b"HTTP/1.1", b"HTTP/1.0"):
        if version_b == b"HTTP/0.9":
            version_b = b"HTTP/1.0"  # no keep-alive; the target gets an HTTP/1.1 request as always
        elif re.fullmatch(rb"HTTP/\d\.\d", version_b):
            if version_b.startswith(b"HTTP/1."):
                version_b = b"HTTP/1.1"
            else:
                raise ProtocolError(505, "unsupported version")
        else:
            raise ProtocolError(400, "bad version")
    if len(target_b) > MAX_URL:
        raise ProtocolError(414, "URL too long")
    if not target_b:
        raise ProtocolError(400, "bad request target")
    if _CTL_OR_SPACE.search(target_b):
        target_b = _escape_target(target_b)
        if len(target_b) > MAX_URL:
            raise ProtocolError(414, "URL too long")
    p = _Parsed()
    p.method = method_b.decode("latin-1")
    p.target = target_b.decode("latin-1")
    p.version = version_b.decode("latin-1")
    t = p.target
    if not t.startswith("/"):
        if "://" in t:  # absolute form: path from the URI (Host handled by headers.forward_headers)
            rest = t.split("://", 1)[1]
            slash = rest.find("/")
            t = rest[slash:] if slash >= 0 else "/"
        elif t == "*" and p.method == "OPTIONS":
            t = "*"
        else:
            raise ProtocolError(400, "bad request target")
    t = t.split("#", 1)[0]
    path, _, query = t.partition("?")
    p.path, p.query = path, query
    hdrs = p.headers
    cl: int | None = None
    te: list[str] = []
    conn_tokens: list[str] = []
    for line in lines[1:]:
        if len(line) > MAX_HEADER_LINE:
            raise ProtocolError(400, "header line too long")
        if b"\r" in line:  # a bare CR is never forwarded, whatever the desync mode
            raise ProtocolError(400, "bare CR in a header line")
        if not line or line[:1] in (b" ", b"\t"):
            continue  # obs-fold / whitespace-only lines are not forwarded
        name_b, sep, value_b = line.partition(b":")
        if not sep or not name_b:
            continue  # MissingHeaderColon / EmptyHeader: classified Ambiguous, dropped here
        # whitespace around a name is not part of it (``X-Custom :``): neither forwarded nor matched
        name = name_b.strip(b" \t").decode("latin-1")
        value = value_b.strip(b" \t").decode("latin-1")
        lname = name.lower()
        if non_compliant and lname not in ("transfer-encoding", "content-length"):
            framing = desync.framing_name(name_b)
            if framing is not None:  # SuspiciousHeader: framed as the header it resembles
                lname = name = framing.decode("latin-1")
        cl = _note_header(p, lname, value, cl, te, conn_tokens)
        hdrs.append((name, value))
    return _finish_request(p, cl, te, conn_tokens)


def _split_request_line(rl: bytes, has_headers: bool) -> list[bytes]:
    """Method, request target and version of a request line that is not three space-separated parts,
    split as the desync classifier splits it: the method is what precedes the first space, the version
    the last space-separated token when it starts with ``HTTP/``, the target all in between (spaces
    included, the outer ones trimmed). One token after the method is an HTTP/0.9 request, accepted only
    without header lines. ProtocolError(400) for anything else."""
    sp = rl.find(b" ")
    rest = rl[sp + 1 :].strip(b" ") if sp > 0 else b""
    if not rest:
        raise ProtocolError(400, "malformed request line")
    last = rest.rfind(b" ")
    if last == -1:
        if has_headers:
            raise ProtocolError(400, "request line without a version, followed by header lines")
        return [rl[:sp], rest, b"HTTP/0.9"]
    version = rest[last + 1 :]
    if not version.startswith(b"HTTP/"):
        raise ProtocolError(400, "malformed request line")
    return [rl[:sp], rest[:last].rstrip(b" "), version]


def _escape_target(target: bytes) -> bytes:
    """``target`` with every space, control byte and DEL percent-encoded (``%20``, ``%09``, ``%7F``...):
    the bytes sent to the target for a URI the desync mode lets through, so that no raw space or CTL
    reaches it (a space would end the URI there; a CR, LF or NUL could end the line)."""
    return _CTL_OR_SPACE.sub(_percent, target)


def _percent(m: re.Match[bytes]) -> bytes:
    return b"%%%02X" % m[0][0]


def _note_header(
    p: _Parsed, lname: str, value: str, cl: int | None, te: list[str], conn_tokens: list[str]
) -> int | None:
    """Take in one request header (lower-cased name) the shell acts on: Host and User-Agent go to ``p``
    (the first Host), Transfer-Encoding and Connection tokens to ``te`` / ``conn_tokens``, Upgrade and
    Expect to ``p``; returns the Content-Length so far (``cl``, checked by :func:`_content_length`).
    Any other name changes nothing. Both request-head parsers call it."""
    if lname == "host":
        p.host_count += 1
        if p.host is None:
            p.host = value
    elif lname == "user-agent":
        p.user_agent = value
    elif lname == "content-length":
        return _content_length(value, cl)
    elif lname == "transfer-encoding":
        # a coding's parameters (`chunked;ext=1`) do not change which coding it is
        te.extend(c for c in (x.split(";", 1)[0].strip().lower() for x in value.split(",")) if c)
    elif lname == "connection":
        conn_tokens.extend(x.strip().lower() for x in value.split(","))
    elif lname == "upgrade":
        p.upgrade = value
    elif lname == "expect":
        p.expect_continue = value.lower() == "100-continue"
    return cl


def _finish_request(p: _Parsed, cl: int | None, te: list[str], conn_tokens: list[str]) -> _Parsed:
    """Body framing and connection handling from the headers parse_request_head collected."""
    if te:
        for x in te:
            if x not in ("chunked", "identity"):
                raise ProtocolError(501, "unsupported transfer-encoding")
        if te.count("chunked") > 1 or (te[-1] != "chunked" and "chunked" in te):
            raise ProtocolError(400, "bad transfer-encoding")
        if "chunked" in te:
            p.body_chunked = True
            cl = None
    if p.version == "HTTP/1.0":
        p.close = "keep-alive" not in conn_tokens
    else:
        p.close = "close" in conn_tokens
    if p.upgrade is not None and "upgrade" not in conn_tokens:
        p.upgrade = None
    p.body_length = cl or 0
    return p


# ------------------------------------------------------------------------------- client connections
# Who drives a client connection (ClientConnection.mode): protocol callbacks between requests and while
# the request head arrives; callbacks of the target connection during a fast exchange; a task for
# everything that must wait (a new target connection, a streamed body, Expect, WebSocket, a retry).
CALLBACK, FAST, TASK, DONE = range(4)


class _Plan:
    """A request on its way to a target: what :meth:`ClientConnection._prepare` decided."""

    __slots__ = (
        "app_cookie",
        "close_after",
        "ex",
        "keep_alive",
        "p",
        "set_cookies",
        "t_sent",
        "target",
        "tg_arn",
        "up_head",
    )

    def __init__(
        self,
        ex: Exchange,
        p: _Parsed,
        tg_arn: str,
        target: Target,
        up_head: bytes,
        set_cookies: list[tuple[str, str]],
        keep_alive: bool,
        close_after: bool,
        app_cookie: tuple[bytes, list[tuple[str, str]]] | None,
    ) -> None:
        self.ex = ex
        self.p = p
        self.tg_arn = tg_arn
        self.target = target
        self.up_head = up_head
        self.set_cookies = set_cookies
        self.keep_alive = keep_alive
        self.close_after = close_after
        self.app_cookie = app_cookie
        self.t_sent = 0.0


class _Rest:
    """A response whose head is decided (and, except for a tunnel, sent) and whose body is still to come."""

    __slots__ = ("client_keep", "framing", "length", "out_head", "sent", "status", "t_resp", "up", "up_keep")

    def __init__(
        self,
        up: Upstream,
        status: int,
        framing: str,
        length: int,
        sent: int,
        out_head: bytes,
        client_keep: bool,
        up_keep: bool,
        t_resp: float,
    ) -> None:
        self.up = up
        self.status = status
        self.framing = framing
        self.length = length
        self.sent = sent
        self.out_head = out_head
        self.client_keep = client_keep
        self.up_keep = up_keep
        self.t_resp = t_resp


class ClientConnection:
    """One client connection, served from protocol callbacks (no task per connection, no coroutine
    switch per request): :meth:`_pump` frames each request head as its bytes arrive and answers it (ALB
    responses) or forwards it. A forward on a pooled target connection with no request body left to
    stream (mode FAST) is finished from the target connection's callback when the response head and a
    buffered body are there. Anything that must wait — connecting, streaming a body either way, Expect,
    WebSocket, the keep-alive-race retry, a slow client to drain — runs as a task (mode TASK) that hands
    the connection back to the callbacks when its exchange is over. Pipelined requests wait their turn in
    the read buffer."""

    def __init__(
        self,
        ctx: ProxyContext,
        ls: ListenerState,
        stream: Stream,
    ) -> None:
        self.ctx = ctx
        self.ls = ls
        self.writer = stream
        self.transport = stream.transport
        self.loop = stream._loop
        peer = stream.get_extra_info("peername") or ("0.0.0.0", 0)
        self.client = (str(peer[0]), int(peer[1]))
        self.buf = stream.buf
        self.phase = IDLE
        self.mode = CALLBACK
        self.last = self.loop.time()
        self.opened = self.last
        self.timer: asyncio.TimerHandle | None = None
        self.upstream: Upstream | None = None
        self.plan: _Plan | None = None
        self.scan = 0  # where the search for the end of the request head resumes
        self.rscan = 0  # same for the response head
        self.timed_out = False
        self.cut = False
        self.response_started = False
        self.closed = False
        self.task: asyncio.Task[None] | None = None
        self.cut_cb = self._cut  # one bound method: the registry keeps it in a set while in flight
        sslobj = stream.get_extra_info("ssl_object")
        self.tls: tuple[str | None, str | None] | None = None
        self.sni: str | None = None
        if sslobj is not None:
            cipher = sslobj.cipher()
            self.tls = (cipher[0] if cipher else None, sslobj.version())
            self.sni = getattr(sslobj, "albfargate_sni", None)  # set by tls.server_context

    # ------------------------------------------------------------------------------ idle watchdog
    def _arm(self) -> None:
        idle = float(self.ls.attributes.idle_timeout_seconds)
        self.timer = self.loop.call_at(self.last + idle, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if self.closed:
            return
        idle = float(self.ls.attributes.idle_timeout_seconds)
        if self.loop.time() - self.last < idle - 0.001:
            self._arm()
            return
        ph = self.phase
        if ph == IDLE:
            self._close()
        elif ph == HEAD:
            self._send_final(408)
        elif ph in (BODY, UPSTREAM):
            self.timed_out = True
            if self.upstream is not None:
                self.upstream.close()
            if ph == BODY:
                self._close()
        else:  # RESPONSE, TUNNEL
            self.timed_out = True
            if self.upstream is not None:
                self.upstream.close()
            self._close()
        if self.closed and self.mode == CALLBACK:
            self._finish()

    def _send_final(self, code: int) -> None:
        if self.closed:
            return
        with contextlib.suppress(Exception):
            self.writer.write(responses.alb_response(code, keep_alive=False, date=_http_date()))
        self.ctx.metrics.elb_response(self.ls.counters, code)
        self._log_bare(code)
        self._close(abort=False)

    def _close(self, abort: bool = True) -> None:
        if self.closed:
            return
        self.closed = True
        self.phase = CLOSED
        self.writer.flush()
        if abort and self.transport.get_write_buffer_size() == 0:
            abort = False
        with contextlib.suppress(Exception):
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    def _cut(self) -> None:
        """Called by the registry when the deregistration delay ran out with this request in flight."""
        self.cut = True
        if self.upstream is not None:
            self.upstream.close()
        if self.response_started:
            self._close()

    def stop_if_idle(self) -> None:
        if self.phase == IDLE:
            self._close()
            if self.mode == CALLBACK:
                self._finish()

    # ------------------------------------------------------------------------------ driving
    def start(self) -> None:
        """Called once the transport is up: count the connection and serve it from callbacks."""
        ls = self.ls
        ls.connections.add(self)
        ls.counters.active_connections += 1
        ls.counters.new_connections += 1
        self._arm()
        self.writer.on_data = self._on_data
        if self.buf or self.writer.eof:
            self._on_data()

    def _finish(self) -> None:
        """The connection is over (once): uncount it, stop its watchdog, close it."""
        if self.mode == DONE:
            return
        self.mode = DONE
        self.writer.on_data = None
        ls = self.ls
        ls.counters.active_connections -= 1
        ls.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None
        self._close(abort=False)

    def _on_data(self) -> None:
        """Client bytes (or end of stream) arrived: served now unless an exchange owns the connection
        (then they wait in the buffer; the stream pauses reading past ``READ_BUFFER_LIMIT``)."""
        if self.mode != CALLBACK:
            return
        self.last = self.loop.time()
        try:
            self._pump()
        except Exception:  # a bug must cost this connection only, never the listener
            _log.exception("albfargate ALB: connection from %s:%s failed", *self.client)
            self._exchange_over()
            self._finish()

    def _pump(self) -> None:
        """Serve the requests buffered on this connection until one needs more bytes, waits for a
        target, or ends the connection."""
        w = self.writer
        buf = self.buf
        while True:
            if self.closed:
                self._finish()
                return
            if w._write_paused:  # a slow reader (its buffer passed STREAM_HIGH_WATER): wait for it
                self._to_task(self._drain_then_continue())
                return
            try:
                head = self._frame_head()
            except ProtocolError as e:
                self._send_final(e.status)
                self._finish()
                return
            if head is None:
                if w.eof or (self.ctx.stopping and not buf):
                    if buf:
                        self._send_final(400)  # the client closed mid-request
                    self._finish()
                    return
                w.want_more()
                return
            r = self._prepare(head)
            if r is True:
                continue
            if r is False:
                self._finish()
                return
            self._begin(r)
            if not self._fast(r):
                self._to_task(self._exchange(r, 0))
            return

    def _to_task(self, work: Coroutine[Any, Any, bool]) -> None:
        self.mode = TASK
        self.task = self.loop.create_task(self._task_main(work))

    async def _task_main(self, work: Coroutine[Any, Any, bool]) -> None:
        """Run one exchange (or the wait for a slow client) as a task; then back to the callbacks."""
        keep = False
        try:
            keep = await work
        except (ConnectionError, OSError, asyncio.IncompleteReadError, _ClientGone):
            pass
        except Exception:  # a bug must cost this connection only, never the listener
            _log.exception("albfargate ALB: connection from %s:%s failed", *self.client)
        finally:
            self.task = None
            self._exchange_over()
            if not keep or self.closed:
                self._finish()
        if self.mode == DONE:
            return
        self.mode = CALLBACK
        self._on_data()

    async def _drain_then_continue(self) -> bool:
        await self._drain_client()
        return True

    def _frame_head(self) -> bytes | None:
        """The next complete request head, taken off the read buffer; None while it is incomplete.
        Past the size limits of §4.4 → ProtocolError(400)."""
        buf = self.buf
        if buf and buf[0] in (13, 10):  # empty lines before a request line are ignored
            stripped = buf.lstrip(b"\r\n")
            del buf[: len(buf) - len(stripped)]
            self.scan = 0
        if not buf:
            self.phase = IDLE
            return None
        self.phase = HEAD
        end = _head_end(buf, self.scan)
        if end >= 0:
            self.scan = 0
            if end > MAX_REQUEST_HEAD:
                raise ProtocolError(400, "request head too large")
            return _take(buf, end)
        if len(buf) > MAX_REQUEST_HEAD:
            raise ProtocolError(400, "request head too large")
        nl = buf.find(b"\n")
        if (nl < 0 and len(buf) > MAX_REQUEST_LINE) or nl > MAX_REQUEST_LINE:
            raise ProtocolError(400, "request line too long")
        self.scan = max(0, len(buf) - 3)
        return None

    async def _read_more(self) -> bool:
        if not await self.writer.read_more():
            return False
        self.last = self.loop.time()
        return True

    # ------------------------------------------------------------------------------ one request
    def _prepare(self, head: bytes) -> bool | _Plan:
        """Classify, parse and route one request. An ALB answer is sent here (→ whether the connection
        stays open); a forward returns its plan (target chosen, head for the target built)."""
        t0 = time.time()
        ls = self.ls
        ex = Exchange(
            kind="https" if ls.scheme == "https" else "http",
            lb_name=ls.lb_full_name,
            client=self.client,
            received_at=t0,
            received_bytes=len(head),
        )
        if self.tls is not None:
            ex.ssl_cipher, ex.ssl_protocol = self.tls
            certs = ls.listener.certificates
            ex.chosen_cert_arn = certs[0] if certs else None
            ex.domain_name = self.sni
        attrs = ls.attributes
        # desync classification of the raw head (spec §4.6)
        cls = desync.classify(head)
        close_after = False
        if cls.tier != desync.Tier.COMPLIANT:
            ls.counters.desync_non_compliant += 1
            ex.classification = cls.tier.name.capitalize()
            ex.classification_reason = cls.reason
            verdict = desync.verdict(cls, attrs.desync_mitigation_mode)
            if verdict == desync.Verdict.BLOCK:
                return self._finish_alb(ex, 400, keep_alive=False)
            if verdict == desync.Verdict.ALLOW_AND_CLOSE:
                close_after = True
        try:
            # a Compliant head (nearly all) takes the fast parser; any other the general one, which
            # frames what the desync mode let through rather than refusing it
            if cls.reason is None:
                p = parse_request_head(head)
            else:
                p = _parse_request_head_general(head, non_compliant=True)
            if p.host_count > 1 and not attrs.preserve_host_header:
                raise ProtocolError(400, "duplicate Host header")
        except ProtocolError as e:
            ex.request_line = _request_line_of(head)
            return self._finish_alb(ex, e.status, keep_alive=False)
        if self.ctx.sink is not None:  # fields only the access log reads
            ex.request_line = f"{p.method} {ls.scheme}://{_host_of(p.host, ls)}{p.target} {p.version}"
            if p.user_agent is not None:
                ex.user_agent = p.user_agent
        keep_alive = not (p.close or close_after)
        if self.loop.time() - self.opened > attrs.client_keep_alive_seconds or self.ctx.stopping:
            keep_alive = False
        has_body = p.body_chunked or p.body_length > 0
        if p.method == "TRACE":
            return self._alb_error(ex, p, 405, keep_alive)
        rules = ls.rules
        match = rules.only_default  # no rule to evaluate: the default rule matches
        if match is None:
            try:
                match = rules.evaluate(RequestView(p.method, p.path, p.query, p.headers, self.client[0]))
            except Exception:
                ex.matched_rule_priority = -1
                return self._alb_error(ex, p, 500, keep_alive)
        ex.matched_rule_priority = match.priority
        action = match.actions[-1] if match.actions else None
        head_only = p.method == "HEAD"
        if isinstance(action, RedirectAction):
            host = _host_of(p.host, ls, with_port=False)
            loc = responses.redirect_location(
                action,
                scheme=ls.scheme,
                host=host,
                listener_port=ls.template_port,
                path=p.path,
                query=p.query,
                local_ports=self.ctx.local_ports,
            )
            ex.actions_executed = ("redirect",)
            ex.redirect_url = loc
            # a request body is never read for an ALB answer: the connection closes instead
            ka = keep_alive and not has_body
            data = responses.redirect_response(
                action, loc, keep_alive=ka, date=_http_date(), head_only=head_only
            )
            code = 302 if action.status_code == "HTTP_302" else 301
            return self._finish_alb(ex, code, keep_alive=ka, data=data)
        if isinstance(action, FixedResponseAction):
            ex.actions_executed = ("fixed-response",)
            ka = keep_alive and not has_body
            data = responses.fixed_response(action, keep_alive=ka, date=_http_date(), head_only=head_only)
            return self._finish_alb(ex, int(action.status_code), keep_alive=ka, data=data)
        if not isinstance(action, ForwardAction):
            return self._alb_error(ex, p, 500, keep_alive)
        ex.actions_executed = ("forward",)
        # headers towards the target (may refuse with 463)
        try:
            out_headers = headers.forward_headers(
                p.headers,
                client_ip=self.client[0],
                client_port=self.client[1],
                scheme=ls.scheme,
                listener_port=ls.template_port,
                attributes=attrs,
                now=t0,
                trace_random=self.ctx.rng.getrandbits(96).to_bytes(12, "big"),
                uri_host=None if p.target[:1] == "/" else headers.split_absolute_form(p.target)[0],
                tls_version=self.tls[1] if self.tls else None,
                tls_cipher=self.tls[0] if self.tls else None,
            )
        except headers.TooManyForwardedFor:
            return self._alb_error(ex, p, 463, keep_alive)
        return self._plan_forward(ex, p, action, out_headers, keep_alive, close_after)

    # ------------------------------------------------------------------------------ ALB answers
    def _finish_alb(self, ex: Exchange, code: int, *, keep_alive: bool, data: bytes | None = None) -> bool:
        if data is None:
            data = responses.alb_response(code, keep_alive=keep_alive, date=_http_date())
        if not self.closed:
            self.writer.write(data)
        ex.elb_status = code
        ex.sent_bytes = len(data)
        self.ctx.metrics.elb_response(self.ls.counters, code)
        self._log(ex)
        if not keep_alive:
            self._close(abort=False)
        self.last = self.loop.time()
        return keep_alive

    def _alb_error(self, ex: Exchange, p: _Parsed, code: int, keep_alive: bool) -> bool:
        """An ALB-made error page; the connection stays open when the request allows it and had no
        body (the body is never read, so the connection must close then)."""
        ka = keep_alive and not (p.body_chunked or p.body_length > 0) and not self.ctx.stopping
        data = responses.alb_response(code, keep_alive=ka, date=_http_date(), head_only=p.method == "HEAD")
        return self._finish_alb(ex, code, keep_alive=ka, data=data)

    def _log_bare(self, code: int) -> None:
        if self.ctx.sink is None:
            return
        ex = Exchange(
            kind="https" if self.ls.scheme == "https" else "http",
            lb_name=self.ls.lb.full_name,
            client=self.client,
            received_at=time.time(),
            elb_status=code,
        )
        self._log(ex)

    def _log(self, ex: Exchange, now: float = 0.0) -> None:
        """Hand the exchange to the access log; ``now`` (the wall clock, when the caller has read it)
        is when the response went out."""
        sink = self.ctx.sink
        if sink is not None:
            ex.sent_at = now or time.time()
            try:  # (not contextlib.suppress: an object per request)
                sink(ex)
            except Exception:  # logging is best effort, never the request's failure
                return

    # ------------------------------------------------------------------------------ forwarding
    def _choose(
        self, action: ForwardAction, cookies: dict[str, str] | None, now_wall: float
    ) -> tuple[str | None, list[tuple[str, str]], str | None]:
        """(target group arn, Set-Cookie headers for target-group stickiness, error reason)."""
        ctx = self.ctx
        tuples = action.target_groups
        set_cookies: list[tuple[str, str]] = []
        err: str | None = None
        if len(tuples) == 1:
            arn: str | None = tuples[0].target_group_arn  # a single group: its weight is moot
        else:
            arn = None
            if action.stickiness_enabled and cookies is not None:
                raw = cookies.get("AWSALBTG")
                if raw is not None:
                    dur = action.stickiness_duration_seconds or 86400
                    named = balancing.decode_sticky(ctx.sticky_key, raw, now_wall, dur)
                    if named is not None and any(
                        t.target_group_arn == named and t.weight > 0 for t in tuples
                    ):
                        arn = named
                    elif named is None:
                        err = "AWSALBTGCookieInvalid"
            if arn is None:
                arn = balancing.choose_target_group(tuples, ctx.rng)
        if arn is not None and action.stickiness_enabled:
            set_cookies = balancing.set_cookie_headers(
                "AWSALBTG", balancing.encode_sticky(ctx.sticky_key, arn, now_wall), now_wall
            )
        return arn, set_cookies, err

    def _plan_forward(
        self,
        ex: Exchange,
        p: _Parsed,
        action: ForwardAction,
        out_headers: list[tuple[str, str]],
        keep_alive: bool,
        close_after: bool,
    ) -> bool | _Plan:
        """Target group, target (stickiness), cookies to add, and the head to send; or an ALB answer."""
        ctx = self.ctx
        now_wall = ex.received_at
        tuples = action.target_groups
        if len(tuples) == 1 and not action.stickiness_enabled:  # what _choose gives, without calling it
            cookies: dict[str, str] | None = None
            tg_arn: str | None = tuples[0].target_group_arn
            set_cookies: list[tuple[str, str]] = []
        else:
            cookies = _cookies(p.headers) if action.stickiness_enabled else None
            tg_arn, set_cookies, err = self._choose(action, cookies, now_wall)
            ex.error_reason = err
        tg = ctx.registry.target_group(tg_arn) if tg_arn else None
        if tg is None or tg_arn is None:
            return self._alb_error(ex, p, 503, keep_alive)
        ex.target_group_arn = tg_arn
        if tg.protocol_version.upper() in ("HTTP2", "GRPC"):
            # an HTTP/1.1 request to an HTTP2/gRPC target group (spec §4.5)
            return self._alb_error(ex, p, 464, keep_alive)
        a = tg.attributes
        sticky_target: str | None = None
        app_cookie_seen = False
        app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None
        if a.stickiness_enabled and cookies is None:
            cookies = _cookies(p.headers)
        if a.stickiness_enabled and cookies is not None:
            if a.stickiness_type == "app_cookie":
                app_cookie_seen = a.app_cookie_name is not None and a.app_cookie_name in cookies
                raw = balancing.app_cookie_value(p.headers)
                if raw is not None and app_cookie_seen:
                    sticky_target = balancing.decode_sticky(
                        ctx.sticky_key, raw, now_wall, a.app_cookie_duration_seconds
                    )
            else:
                raw = cookies.get("AWSALB")
                if raw is not None:
                    sticky_target = balancing.decode_sticky(
                        ctx.sticky_key, raw, now_wall, a.lb_cookie_duration_seconds
                    )
        target = ctx.registry.pick(tg_arn, ctx.registry.now(), sticky_target)
        if target is None:
            return self._alb_error(ex, p, 503, keep_alive)
        if a.stickiness_enabled:
            if a.stickiness_type == "app_cookie":
                alb_app = balancing.app_cookie_headers(
                    balancing.encode_sticky(ctx.sticky_key, target.key, now_wall), now_wall
                )
                if app_cookie_seen:
                    set_cookies += alb_app
                elif a.app_cookie_name:  # added when the target sets its cookie
                    app_cookie = (a.app_cookie_name.encode("latin-1") + b"=", alb_app)
            else:
                set_cookies += balancing.set_cookie_headers(
                    "AWSALB", balancing.encode_sticky(ctx.sticky_key, target.key, now_wall), now_wall
                )
        ex.target = target.key
        upgrade = p.upgrade
        # the head sent to the target: origin-form target, forwarded headers minus hop-by-hop ones;
        # the (last) X-Amzn-Trace-Id sent is the access log's trace id
        parts = [f"{p.method} {p.path}{'?' + p.query if p.query else ''} HTTP/1.1\r\n"]
        hop = _HOP_BY_HOP
        trace: str | None = None
        for n, v in out_headers:
            ln = n.lower()
            if ln in hop:
                continue
            if ln == "x-amzn-trace-id":
                trace = v
            parts.append(f"{n}: {v}\r\n")
        if trace is not None:
            ex.trace_id = trace
        if upgrade is not None:
            parts.append(f"Connection: Upgrade\r\nUpgrade: {upgrade}\r\n")
        if p.body_chunked:
            parts.append("Transfer-Encoding: chunked\r\n")
        elif p.body_length > 0 or p.method in ("POST", "PUT", "PATCH"):
            parts.append(f"Content-Length: {p.body_length}\r\n")
        parts.append("\r\n")
        up_head = "".join(parts).encode("latin-1")
        return _Plan(ex, p, tg_arn, target, up_head, set_cookies, keep_alive, close_after, app_cookie)

    def _begin(self, plan: _Plan) -> None:
        """The request is dispatched to its target (in flight until :meth:`_exchange_over`)."""
        self.ctx.registry.begin(plan.tg_arn, plan.target, self.cut_cb)
        self.cut = self.timed_out = self.response_started = False
        self.plan = plan

    def _exchange_over(self) -> None:
        """The in-flight request (if any) is over: the registry is told, an upstream connection still
        held is closed (a reusable one went back to the pool before)."""
        plan = self.plan
        if plan is None:
            return
        self.plan = None
        self.ctx.registry.end(plan.target, self.cut_cb)
        up = self.upstream
        if up is not None:
            self.upstream = None
            up.s.on_data = None
            up.close()

    # ------------------------------------------------------------------------------ fast exchange
    def _fast(self, plan: _Plan) -> bool:
        """Send the request on a pooled connection and finish it from that connection's callbacks;
        False (nothing done) when the request needs the task: a body still to stream, Expect, upgrade,
        or no pooled connection to the target."""
        p = plan.p
        n = p.body_length
        if p.body_chunked or p.upgrade is not None or (n and (p.expect_continue or n > len(self.buf))):
            return False
        up = self.ctx.pools.take_idle(plan.target, float(self.ls.attributes.idle_timeout_seconds), self.last)
        if up is None:
            return False
        self.mode = FAST
        self.phase = UPSTREAM
        self.upstream = up
        self.rscan = 0
        s = up.s
        s.on_data = self._on_upstream_data
        if n:
            buf = self.buf
            s.write(plan.up_head + buf[:n])
            del buf[:n]
        else:
            s.write(plan.up_head)
        plan.t_sent = t = time.time()
        plan.ex.request_processing = t - plan.ex.received_at
        return True

    def _on_upstream_data(self) -> None:
        """Target bytes (or its end of stream) during a fast exchange."""
        if self.mode != FAST:
            return
        try:
            self._upstream_step()
        except Exception:  # a bug must cost this connection only, never the listener
            _log.exception("albfargate ALB: connection from %s:%s failed", *self.client)
            self._exchange_over()
            self._finish()

    def _upstream_step(self) -> None:
        up = self.upstream
        plan = self.plan
        assert up is not None and plan is not None
        self.last = self.loop.time()
        p = plan.p
        try:
            rhead = self._frame_response_head(up)
        except ProtocolError as e:
            self._fast_done(self._upstream_failed(plan.ex, p, e.status, plan.keep_alive and e.status != 400))
            return
        s = up.s
        if rhead is None:
            if not s.eof:
                s.want_more()
                return
            if up.buf:  # the target closed mid-head
                code = 504 if self.timed_out else 502
            else:
                code = self._unanswered(up, may_retry=p.body_length == 0)
            if not code:  # a pooled connection the target closed (AWS's keep-alive race): once more, fresh
                s.on_data = None
                up.close()
                self.upstream = None
                self._to_task(self._exchange(plan, 1))
                return
            self._fast_done(self._upstream_failed(plan.ex, p, code, plan.keep_alive))
            return
        r = self._respond_head(plan, up, rhead)
        if isinstance(r, bool):
            self._fast_done(r)
            return
        s.on_data = None  # the task reads the rest with read_more()
        self._to_task(self._respond_rest(plan, r))

    def _unanswered(self, up: Upstream, *, may_retry: bool) -> int:
        """The target closed ``up`` before any byte of a response: 504 when the idle timeout fired, 502
        when the request was cut, the connection was a new one or no retry is left; 0: retry once on a
        fresh connection (AWS's keep-alive race). The fast lane and the task decide alike here."""
        if self.timed_out:
            return 504
        if self.cut or not up.reused or not may_retry:
            return 502
        return 0

    def _fast_done(self, keep: bool) -> None:
        self._exchange_over()
        if keep and not self.closed:
            self.mode = CALLBACK
            self._pump()
        else:
            self._finish()

    # ------------------------------------------------------------------------------ exchange (task)
    async def _exchange(self, plan: _Plan, first_attempt: int) -> bool:
        """Send the request (connecting when no pooled connection is fit) and relay the answer."""
        ctx = self.ctx
        ex = plan.ex
        p = plan.p
        target = plan.target
        keep_alive = plan.keep_alive
        idle = float(self.ls.attributes.idle_timeout_seconds)
        has_body = p.body_chunked or p.body_length > 0
        attempts = 1 if has_body else 2  # a reused connection the target closed: retry once, fresh
        up: Upstream | None = None
        rhead: bytes | None = None
        for attempt in range(first_attempt, attempts):
            self.phase = UPSTREAM
            try:
                up = ctx.pools.take_idle(target, idle, self.loop.time()) if attempt == 0 else None
                if up is None:
                    up = await ctx.pools.connect(target, ctx.connect_timeout)
            except TimeoutError:
                return self._upstream_failed(ex, p, 504, keep_alive)
            except OSError:
                return self._upstream_failed(ex, p, 502, keep_alive)
            if self.cut or self.closed:
                up.close()
                return self._upstream_failed(ex, p, 502, keep_alive)
            self.upstream = up
            self.last = self.loop.time()
            try:
                up.s.write(plan.up_head)
                ex.request_processing = time.time() - ex.received_at  # until the head went to the target
                if p.expect_continue and has_body:
                    self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if has_body:
                    self.phase = BODY
                    await self._send_body(p, up)
                    self.phase = UPSTREAM
                plan.t_sent = time.time()
                rhead = await self._read_response_head(up)
            except ProtocolError as e:
                return self._upstream_failed(ex, p, e.status, keep_alive and e.status != 400)
            except _ClientGone:
                return False
            except (OSError, asyncio.IncompleteReadError):
                rhead = None
            if rhead is not None:
                break
            code = self._unanswered(up, may_retry=attempt < attempts - 1)
            if code:
                return self._upstream_failed(ex, p, code, keep_alive)
            up.close()
            self.upstream = None
        assert up is not None and rhead is not None
        r = self._respond_head(plan, up, rhead)
        if isinstance(r, bool):
            return r
        if r.framing == "tunnel":
            return await self._tunnel(ex, up, r.out_head, target)
        return await self._respond_rest(plan, r)

    def _respond_head(self, plan: _Plan, up: Upstream, rhead: bytes) -> bool | _Rest:
        """Parse the target's response head and send it on; a body already buffered in full goes with
        it in one write and the exchange is finished here (→ whether the client connection stays
        open). Otherwise what the body relay (or the tunnel) needs."""
        ex = plan.ex
        p = plan.p
        t_resp = time.time()  # the response head arrived (one clock read for both figures)
        ex.target_processing = t_resp - plan.t_sent
        try:
            status, out_head, framing, length, up_keep = _parse_response_head(
                rhead, p.method, plan.set_cookies, plan.app_cookie
            )
        except ProtocolError as e:
            return self._upstream_failed(ex, p, e.status, plan.keep_alive and e.status != 400)
        ex.target_status = status
        ex.elb_status = status
        if status == 101 and p.upgrade is not None:
            return _Rest(up, status, "tunnel", 0, 0, out_head, False, False, 0.0)
        client_keep = plan.keep_alive and framing != "close" and not self.ctx.stopping
        if not client_keep:
            out_head = _set_connection_close(out_head)
        self.phase = RESPONSE
        self.response_started = True
        ubuf = up.buf
        if framing == "length" and len(ubuf) >= length:
            # the whole body is already here (the common small response): one write, one syscall
            if len(ubuf) == length:
                self.writer.write(out_head + ubuf)
                ubuf.clear()
            else:
                self.writer.write(out_head + ubuf[:length])
                del ubuf[:length]
            sent = len(out_head) + length
        else:
            self.writer.write(out_head)
            sent = len(out_head)
            if framing != "none":
                return _Rest(up, status, framing, length, sent, out_head, client_keep, up_keep, t_resp)
        return self._response_done(plan, up, status, sent, t_resp, client_keep, up_keep)

    async def _respond_rest(self, plan: _Plan, r: _Rest) -> bool:
        """Relay the response body that was not buffered with its head."""
        ex = plan.ex
        try:
            sent = r.sent + await self._relay_response_body(r.up, r.framing, r.length)
        except _ClientGone:
            ex.sent_bytes = r.sent
            self._record_target(ex, plan.target, r.status)
            return False
        except (OSError, asyncio.IncompleteReadError, ValueError):
            # target reset / cut / timed out mid-response: the client connection is closed
            ex.sent_bytes = r.sent
            ex.elb_status = 502 if not self.timed_out else 504
            self._record_target(ex, plan.target, r.status)
            self._close()
            return False
        return self._response_done(plan, r.up, r.status, sent, r.t_resp, r.client_keep, r.up_keep)

    def _response_done(
        self,
        plan: _Plan,
        up: Upstream,
        status: int,
        sent: int,
        t_resp: float,
        client_keep: bool,
        up_keep: bool,
    ) -> bool:
        """The response went out whole: record it; the target connection goes back to the pool when it
        can be reused. Whether the client connection stays open."""
        ex = plan.ex
        now = time.time()
        ex.response_processing = now - t_resp
        ex.sent_bytes = sent
        self._record_target(ex, plan.target, status, now)
        self.upstream = None
        up.s.on_data = None
        if up_keep and not plan.close_after and not self.cut:
            self.ctx.pools.release(up, self.last)
        else:
            up.close()
        # (self.last: stamped when the target's bytes arrived, a moment ago)
        if not client_keep:
            self._close(abort=False)
            return False
        return True

    def _record_target(self, ex: Exchange, target: Target, status: int, now: float = 0.0) -> None:
        tgc = self.ctx.tg_counters.get(ex.target_group_arn or "")
        if tgc is not None:
            self.ctx.metrics.target_response(
                self.ls.counters, tgc, target.key, status, max(0.0, ex.target_processing)
            )
        self._log(ex, now)

    def _upstream_failed(self, ex: Exchange, p: _Parsed, code: int, keep_alive: bool = False) -> bool:
        if self.upstream is not None:
            self.upstream.s.on_data = None
            self.upstream.close()
            self.upstream = None
        if self.closed:
            return False
        if self.response_started:
            self._close()
            return False
        ex.target_processing = -1.0
        ex.response_processing = -1.0
        # keep-alive only without a request body: a body may be partly unread from the client
        ka = keep_alive and not (p.body_chunked or p.body_length > 0) and not self.ctx.stopping
        data = responses.alb_response(code, keep_alive=ka, date=_http_date(), head_only=p.method == "HEAD")
        return self._finish_alb(ex, code, keep_alive=ka, data=data)

    async def _drain_client(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise _ClientGone() from e
        self.last = self.loop.time()  # the client took data: the connection is not idle

    async def _send_body(self, p: _Parsed, up: Upstream) -> None:
        """Stream the request body from the client to the target."""
        uw = up.s
        buf = self.buf
        if p.body_chunked:
            framer = ChunkedFramer()
            while True:
                if buf:
                    try:
                        n = framer.feed(buf)
                    except ValueError:
                        raise ProtocolError(400, "bad chunked body") from None
                    uw.write(_take(buf, n))
                    if framer.done:
                        break
                if uw.backlog() > STREAM_HIGH_WATER:
                    await uw.drain()
                    self.last = self.loop.time()
                if not await self._read_more():
                    raise ProtocolError(400, "client closed mid-body")
                self.last = self.loop.time()
        else:
            remaining = p.body_length
            while True:
                if buf:
                    take = min(remaining, len(buf))
                    uw.write(_take(buf, take))
                    remaining -= take
                if remaining == 0:
                    break
                if uw.backlog() > STREAM_HIGH_WATER:
                    await uw.drain()
                    self.last = self.loop.time()
                if not await self._read_more():
                    raise ProtocolError(400, "client closed mid-body")

    def _frame_response_head(self, up: Upstream) -> bytes | None:
        """The next non-1xx response head taken off the target's buffer; None while incomplete.
        Over ``MAX_RESPONSE_HEAD`` → ProtocolError(502)."""
        buf = up.buf
        while buf:
            end = _head_end(buf, self.rscan)
            if end < 0:
                if len(buf) > MAX_RESPONSE_HEAD:
                    raise ProtocolError(502, "response head too large")
                self.rscan = max(0, len(buf) - 3)
                return None
            self.rscan = 0
            if end > MAX_RESPONSE_HEAD:
                raise ProtocolError(502, "response head too large")
            head = _take(buf, end)
            code = head[9:12]
            if code[:1] == b"1" and code != b"101":
                continue  # 100 Continue / 103 Early Hints: not forwarded
            return head
        return None

    async def _read_response_head(self, up: Upstream) -> bytes | None:
        """The next non-1xx response head from the target, or None when it closed before any byte."""
        self.rscan = 0
        while True:
            head = self._frame_response_head(up)
            if head is not None:
                return head
            if not await up.s.read_more():
                if up.buf:
                    raise ProtocolError(504 if self.timed_out else 502, "target closed mid-head")
                return None
            self.last = self.loop.time()

    async def _relay_response_body(self, up: Upstream, framing: str, length: int) -> int:
        """Stream the response body from the target's buffer to the client; bytes sent."""
        w = self.writer
        src = up.s
        buf = up.buf
        sent = 0
        if framing == "none":
            return 0
        framer = ChunkedFramer() if framing == "chunked" else None
        remaining = length
        while True:
            if buf:
                if framing == "length":
                    take = min(remaining, len(buf))
                    remaining -= take
                elif framer is not None:
                    take = framer.feed(buf)
                else:
                    take = len(buf)
                w.write(_take(buf, take))
                sent += take
                if (framer is not None and framer.done) or (framing == "length" and remaining == 0):
                    return sent
            elif framing == "length" and remaining == 0:
                return sent
            if self.closed:
                raise _ClientGone()
            if w.backlog() > STREAM_HIGH_WATER:
                await self._drain_client()
            if not await src.read_more():
                if framing == "close":
                    return sent
                raise ConnectionResetError("target closed mid-body")
            self.last = self.loop.time()

    async def _tunnel(self, ex: Exchange, up: Upstream, out_head: bytes, target: Target) -> bool:
        """WebSocket (any 101 upgrade): the target that answered 101 owns the connection (§4.3)."""
        ex.kind = "wss" if self.ls.scheme == "https" else "ws"
        self.phase = TUNNEL
        self.response_started = True
        self.writer.write(out_head)
        counts = [ex.received_bytes, len(out_head)]

        async def pipe(src: Stream, dst: Stream, idx: int) -> None:
            buf = src.buf
            try:
                while True:
                    if buf:
                        counts[idx] += len(buf)
                        dst.write(bytes(buf))
                        buf.clear()
                        if dst.backlog() > STREAM_HIGH_WATER:
                            await dst.drain()
                            self.last = self.loop.time()
                    if not await src.read_more():
                        break
                    self.last = self.loop.time()
            except (OSError, ConnectionError):
                pass
            finally:
                dst.write_eof()

        t1 = asyncio.ensure_future(pipe(self.writer, up.s, 0))
        t2 = asyncio.ensure_future(pipe(up.s, self.writer, 1))
        try:
            await asyncio.wait([t1, t2], return_when=asyncio.FIRST_COMPLETED)
            # one side finished: give the other a moment to flush its half, then close both
            await asyncio.wait([t1, t2], timeout=1.0)
        finally:
            for t in (t1, t2):
                t.cancel()
            up.close()
            self.upstream = None
        ex.received_bytes, ex.sent_bytes = counts
        self._record_target(ex, target, 101)
        self._close(abort=False)
        return False


class _ClientGone(Exception):
    pass


def _request_line_of(head: bytes) -> str:
    line = head.split(b"\n", 1)[0].rstrip(b"\r")[:8192]
    return line.decode("latin-1", "replace")


def _host_of(host_header: str | None, ls: ListenerState, with_port: bool = True) -> str:
    host = (host_header or "").strip()
    if not host:
        host = ls.lb.dns_name
    if with_port:
        has_port = "]:" in host if host.startswith("[") else ":" in host
        return host if has_port else f"{host}:{ls.template_port}"
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    return host.split(":", 1)[0] if host.count(":") == 1 else host


# A well-formed response head (CRLF only, token names right before the colon, no obs-fold, no bare
# CR): the fast path of _parse_response_head takes it; anything else goes the general way.
_RESP_WELL_FORMED = re.compile(
    rb"HTTP/1\.[0-9] [0-9]{3}(?: [^\r\n]*)?\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*\r\n"
)
# The header lines the fast path looks at, name and value, each with the CRLF before it (a match can only
# start a line): found in the lower-cased head with one findall (a case-sensitive pattern starting with a
# literal, which the engine skips to; IGNORECASE would try every position).
_RESP_SPECIAL = re.compile(
    rb"\r\n(connection|keep-alive|proxy-connection|content-length|transfer-encoding|set-cookie):([^\r\n]*)"
)
# The hop-by-hop lines a response loses, each with the CRLF before it, cut from the head as it came.
_RESP_HOP_LINE = re.compile(rb"\r\n(?:connection|keep-alive|proxy-connection):[^\r\n]*", re.IGNORECASE)


def _parse_response_head(
    head: bytes,
    method: str,
    set_cookies: list[tuple[str, str]],
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None,
) -> tuple[int, bytes, str, int, bool]:
    """(status, head to send to the client, framing none|length|chunked|close, length,
    upstream connection reusable). ``set_cookies`` are appended; ``app_cookie`` = (b"name=", cookies)
    appends those cookies only when the target sets cookie ``name`` (app_cookie stickiness, §3.8).
    Malformed → ProtocolError(502).

    A well-formed head (the common case) is rewritten by slicing around the few header lines that
    matter; any other goes through :func:`_parse_response_head_general`. Both give the same result
    (property-tested)."""
    if _RESP_WELL_FORMED.fullmatch(head) is None:
        return _parse_response_head_general(head, method, set_cookies, app_cookie)
    status = int(head[9:12])
    http10 = head[5:8] == b"1.0"
    cl: int | None = None
    chunked = False
    conn_close = http10
    hop = False
    for lname, lvalue in _RESP_SPECIAL.findall(head.lower()):
        if lname == b"content-length":
            v = lvalue.strip()
            if not v.isdigit():
                raise ProtocolError(502, "bad content-length")
            n = int(v)
            if cl is not None and cl != n:
                raise ProtocolError(502, "bad content-length")
            cl = n
        elif lname == b"transfer-encoding":
            toks = [x.strip() for x in lvalue.split(b",")]
            if toks and toks[-1] == b"chunked":
                chunked = True
        elif lname == b"set-cookie":
            if app_cookie is not None:  # the cookie's name is case-sensitive: read by the general parser
                return _parse_response_head_general(head, method, set_cookies, app_cookie)
        else:  # connection, keep-alive, proxy-connection: hop-by-hop lines, cut below
            hop = True
            if lname == b"connection":
                v = lvalue.strip()
                if v == b"keep-alive":  # the usual single token, without splitting
                    if http10:
                        conn_close = False
                elif v == b"close":
                    conn_close = True
                else:
                    toks = [x.strip() for x in v.split(b",")]
                    if b"close" in toks:
                        conn_close = True
                    elif http10 and b"keep-alive" in toks:
                        conn_close = False
    if chunked and cl is not None:  # the Content-Length lines would go too (rare): the general parser
        return _parse_response_head_general(head, method, set_cookies, app_cookie)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:  # 101 included
        framing, length = "none", 0
    elif chunked:
        framing, length = "chunked", 0
    elif cl is not None:
        framing, length = "length", cl
    else:
        framing, length = "close", 0
        conn_close = True
    # from the status code to the CRLF that ends the last header line, without the hop-by-hop lines
    rest = head[8:-2]
    if hop:
        rest = _RESP_HOP_LINE.sub(b"", rest)
    if not set_cookies and status != 101:
        return status, b"HTTP/1.1" + rest + b"\r\n", framing, length, not conn_close
    keep = [b"HTTP/1.1", rest]
    for cname, cvalue in set_cookies:
        keep.append(f"{cname}: {cvalue}\r\n".encode("latin-1"))
    if status == 101:
        keep.append(b"Connection: Upgrade\r\n")
    keep.append(b"\r\n")
    return status, b"".join(keep), framing, length, not conn_close


def _parse_response_head_general(
    head: bytes,
    method: str,
    set_cookies: list[tuple[str, str]],
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None,
) -> tuple[int, bytes, str, int, bool]:
    """:func:`_parse_response_head` for any head (line by line)."""
    lines = _split_lines(head)
    if not lines:
        raise ProtocolError(502, "empty response head")
    sl = lines[0]
    parts = sl.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ProtocolError(502, "malformed status line")
    status = int(parts[1])
    http10 = parts[0] == b"HTTP/1.0"
    out = [b"HTTP/1.1 " + b" ".join(parts[1:])]
    cl: int | None = None
    chunked = False
    conn_close = http10
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in (b" ", b"\t") or line[:1] in (b" ", b"\t") or b"\r" in line:
            raise ProtocolError(502, "malformed response header")
        lname = name.lower()
        if lname in _RESP_HOP:
            if lname == b"connection":
                toks = [x.strip().lower() for x in value.split(b",")]
                if b"close" in toks:
                    conn_close = True
                elif http10 and b"keep-alive" in toks:
                    conn_close = False
            continue
        if lname == b"content-length":
            v = value.strip()
            if not v.isdigit() or (cl is not None and cl != int(v)):
                raise ProtocolError(502, "bad content-length")
            cl = int(v)
        elif lname == b"transfer-encoding":
            toks = [x.strip().lower() for x in value.split(b",")]
            if toks and toks[-1] == b"chunked":
                chunked = True
        elif lname == b"set-cookie" and app_cookie is not None and value.strip().startswith(app_cookie[0]):
            set_cookies = [*set_cookies, *app_cookie[1]]
            app_cookie = None
        out.append(line)
    for cname, cvalue in set_cookies:
        out.append(f"{cname}: {cvalue}".encode("latin-1"))
    if status == 101:
        out.append(b"Connection: Upgrade")
        framing, length = "none", 0
    elif method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        framing, length = "none", 0
    elif chunked:
        framing, length = "chunked", 0
        if cl is not None:
            out = [x for x in out if not x.lower().startswith(b"content-length:")]
    elif cl is not None:
        framing, length = "length", cl
    else:
        framing, length = "close", 0
        conn_close = True
    out.append(b"")
    out.append(b"")
    return status, b"\r\n".join(out), framing, length, not conn_close


def _split_lines(head: bytes) -> list[bytes]:
    """The lines of a head without their line ends (CRLF, or a bare LF), the final blank lines dropped."""
    if head.count(b"\n") == head.count(b"\r\n"):
        lines = head.split(b"\r\n")  # the common case: CRLF only
    else:
        lines = [x[:-1] if x[-1:] == b"\r" else x for x in head.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _set_connection_close(head: bytes) -> bytes:
    return head[:-2] + b"Connection: close\r\n\r\n"


# ----------------------------------------------------------------------------------------- servers
async def start_listener(
    ctx: ProxyContext,
    ls: ListenerState,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Bind one listener; raises OSError when the port is taken. ``reuse_port``: SO_REUSEPORT, so that
    worker processes share the port (the kernel spreads connections over them)."""
    loop = asyncio.get_running_loop()

    def made(stream: Stream) -> None:
        sock = stream.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ClientConnection(ctx, ls, stream).start()

    return await loop.create_server(
        lambda: Stream(made),
        host,
        port,
        ssl=ssl_context,
        backlog=2048,
        reuse_address=True,
        reuse_port=reuse_port or None,
        ssl_handshake_timeout=10.0 if ssl_context is not None else None,
    )
