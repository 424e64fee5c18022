"""A sample of the exchanges one process of the local ALB serves, for someone watching (the web console,
docs/console.md "Sampling"): a wrapper of the proxy's exchange sink and a capture of each request's heads
and body start, into a bounded ring. Used by the console's sampler in the main process and by each worker
process (``workers`` > 1: :mod:`albfargate.alb.worker` ships its ring to the main process in batches).

The sink is called once at the end of every exchange with the record the access log is written from
(``ProxyContext.sink``); the capture hook (``ProxyContext.capture``) as each request is routed, with the
request head as received, the head forwarded (None: the ALB answered) and the connection's buffer (what
arrived after the head: the body's start, when the request has one). While a tap is installed:

- the first ``limit`` exchanges after each :meth:`Tap.take` go to the ring; then the tap puts the
  context's own sink back and takes the capture hook away until the next :meth:`Tap.take`, so a request
  beyond the sample costs nothing (the exact counts are the metrics');
- a captured head is held from routing to the exchange's end (at most :data:`HEADS_PENDING` at once:
  a burst of requests that never end clears them); of the buffer, at most :data:`BODY_LIMIT` bytes are
  copied, and only when it is not empty (a body that arrives after its head is not captured: see
  :func:`body_of`).

Nothing here reads a clock or a socket; :func:`exchange_values` / :func:`exchange_of` turn an exchange into
plain values and back (what crosses the worker pipe: the native Exchange of the compiled build is not
picklable)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from albfargate.alb.exchange import Exchange

RING_SIZE = 512  # exchanges taken per interval at most (a sample, not a count: counts are exact)
HEADS_PENDING = 4096  # captured heads of requests in flight at most
BODY_LIMIT = 64 * 1024  # bytes of a request body kept at most

#: An exchange, its head as received and as forwarded, and the bytes read after the head (or None).
Taken = tuple[Exchange, bytes | None, bytes | None, bytes | None]

#: Every attribute of :class:`~albfargate.alb.exchange.Exchange` (tests/unit/test_alb_tap.py checks it).
EXCHANGE_FIELDS: tuple[str, ...] = (
    "kind",
    "lb_name",
    "client",
    "received_at",
    "request_line",
    "user_agent",
    "target",
    "target_group_arn",
    "request_processing",
    "target_processing",
    "response_processing",
    "elb_status",
    "target_status",
    "received_bytes",
    "sent_bytes",
    "trace_id",
    "matched_rule_priority",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "classification",
    "classification_reason",
    "ssl_cipher",
    "ssl_protocol",
    "domain_name",
    "chosen_cert_arn",
    "sent_at",
)


def exchange_values(ex: Exchange) -> tuple[Any, ...]:
    return tuple(getattr(ex, f) for f in EXCHANGE_FIELDS)


def exchange_of(values: tuple[Any, ...]) -> Exchange:
    host, port = values[2]
    ex = Exchange(values[0], values[1], (host, port), values[3])
    for name, v in zip(EXCHANGE_FIELDS[4:], values[4:], strict=True):
        setattr(ex, name, v)
    return ex


class Tap:
    """The sink wrapper and the capture hook on one proxy context, into ``ring`` (its ``maxlen`` is the
    sample's size per interval). Once the interval's sample is full the tap steps out of the way (the
    context's own sink back, no capture hook) until :meth:`take` empties the ring and starts the next
    interval: a request beyond the sample costs nothing."""

    def __init__(self, ctx: Any, ring: deque[Taken]) -> None:
        self.ctx = ctx
        self.ring = ring
        self.original = ctx.sink
        heads: dict[int, tuple[Exchange, bytes, bytes | None, bytes | None]] = {}  # id(ex) -> heads
        self.heads = heads
        self.paused = False
        append = ring.append
        original = self.original
        limit = ring.maxlen or RING_SIZE

        def sink(ex: Exchange) -> None:
            if original is not None:
                original(ex)
            h = heads.pop(id(ex), None) if heads else None  # held in `heads` until here: its id is its own
            append((ex, h[1], h[2], h[3]) if h is not None and h[0] is ex else (ex, None, None, None))
            if len(ring) >= limit:  # the interval's sample is full: out of the request path until take()
                self.pause()

        def capture(ex: Exchange, head: bytes, up_head: bytes | None, buf: Any = b"") -> None:
            if len(ring) + len(heads) >= limit or len(heads) >= HEADS_PENDING:
                ctx.capture = None  # enough heads for this interval's sample (the sink still takes)
                return
            body = bytes(buf[:BODY_LIMIT]) if buf else None
            heads[id(ex)] = (ex, bytes(head), None if up_head is None else bytes(up_head), body)

        self.sink: Callable[[Exchange], None] = sink
        self.capture = capture
        self._hook()

    def _hook(self) -> None:
        self.ctx.sink = self.sink
        self.ctx.capture = self.capture
        self.paused = False

    def pause(self) -> None:
        if self.ctx.sink is self.sink:
            self.ctx.sink = self.original
        if self.ctx.capture is self.capture:
            self.ctx.capture = None
        self.paused = True

    def take(self) -> list[Taken]:
        """The exchanges taken since the last call; the next interval's sample starts."""
        taken = list(self.ring)
        self.ring.clear()
        if self.paused:  # exchanges that ended while the tap was out of the way took no heads out
            self.heads.clear()
        if self.paused or self.ctx.capture is None:
            self._hook()
        return taken

    def remove(self) -> None:
        self.pause()
        self.heads.clear()


def _content_length(head: bytes) -> tuple[int | None, bool]:
    """(Content-Length or None, chunked) of a request head."""
    length: int | None = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        n = name.strip().lower()
        if n == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif n == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    """The payload of a chunked body's start and whether its last chunk is in it."""
    out = bytearray()
    pos = 0
    while True:
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            return bytes(out), False
        size_text = data[pos:nl].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), False
        if size == 0:
            return bytes(out), True
        start = nl + 2
        if len(data) < start + size + 2:
            out += data[start : start + size]
            return bytes(out), False
        out += data[start : start + size]
        pos = start + size + 2


def body_of(head: bytes | None, buf: bytes | None) -> tuple[bytes, int | None, bool] | None:
    """A captured request's body: (the payload kept, the declared length (None: chunked), whether it is
    whole), or None when the request has none. Whole means every byte of it arrived with the head and it
    fits in :data:`BODY_LIMIT`: only then can it be sent again as it was."""
    if head is None:
        return None
    length, chunked = _content_length(head)
    if chunked:
        payload, whole = _dechunk(buf or b"")
        return payload, None, whole
    if not length:
        return None
    kept = (buf or b"")[:length]
    return kept, length, len(kept) == length
