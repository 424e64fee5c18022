"""One client connection of the local ALB (:class:`ClientConnection`), from its first byte to its close:
framing each request head, answering it or forwarding it to a target, relaying the response, the
WebSocket tunnel, the idle watchdog and the draining cut (spec §2, §4).

Shape: driven by protocol callbacks: a request forwarded on a pooled target connection is served from
the callbacks of the two connections without a task or a coroutine switch (the fast lane); what must
wait (connecting, a streamed body, Expect, WebSocket, a retry, a slow client) runs as a task that hands
the connection back when its exchange is over. Bodies in both directions are streamed through verbatim
— a Content-Length body is counted, a chunked body is delimited by :class:`~.http1.ChunkedFramer`
without being re-encoded — and never held whole: every write to the other side is followed by
``drain()`` once its buffer passes ``STREAM_HIGH_WATER``, which pauses our reads from the sending side.

Every decision comes from the pure cores: http1 (framing), rules (routing), desync (classification),
headers (what goes to the target), balancing (via the target registry), responses (ALB-made bytes).

Timeouts (§4.3): one idle watchdog per client connection (a single ``call_at`` handle re-armed lazily
from a last-activity stamp, so the hot path only stores a float). What the watchdog does depends on
the phase: idle keep-alive → close; partial request → 408; waiting for the target → 504 (response not
started) or close; WebSocket → close both sides."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Final

from albfargate.alb import responses
from albfargate.alb.dispatch import Answer, Forward, ListenerState, Peer, Routing, alb_error, dispatch
from albfargate.alb.exchange import Exchange, ExchangeSink
from albfargate.alb.http1 import (
    MAX_REQUEST_HEAD,
    MAX_REQUEST_LINE,
    MAX_RESPONSE_HEAD,
    ChunkedFramer,
    ProtocolError,
    RequestHead,
    head_end,
    parse_response_head,
    set_connection_close,
    take_bytes,
)
from albfargate.alb.metrics import Metrics, TgCounters
from albfargate.alb.stream import STREAM_HIGH_WATER, Stream
from albfargate.alb.targets import Target
from albfargate.alb.upstream import CONNECT_TIMEOUT, Pools, Upstream

__all__ = [
    "CALLBACK",
    "DONE",
    "FAST",
    "MODES",
    "PHASES",
    "TASK",
    "ClientConnection",
    "IllegalTransition",
    "ListenerState",
    "ProxyContext",
    "next_mode",
    "next_phase",
]

_log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- phases and modes
# A client connection's phase: where its current request is (what the idle watchdog does when it fires).
IDLE: Final = 0  # between requests (keep-alive): the watchdog closes the connection
HEAD: Final = 1  # a request head is arriving or being served: 408
BODY: Final = 2  # the request body streams to the target: 504 (or a close)
UPSTREAM: Final = 3  # waiting for the target's response head: 504
RESPONSE: Final = 4  # the response goes to the client: close
TUNNEL: Final = 5  # WebSocket after a 101: close both sides
CLOSED: Final = 6

# What moves the phase.
EMPTY: Final = 0  # nothing of a next request is buffered
HEAD_BYTES: Final = 1  # bytes of a request head are buffered
SENT: Final = 2  # the request (head, and body if any) went to the target: its response is awaited
BODY_STREAM: Final = 3  # the request body starts streaming to the target
RESPONDED: Final = 4  # the response head went to the client
UPGRADED: Final = 5  # the target answered 101: the connection becomes a tunnel
CLOSE: Final = 6  # the connection closes

_PHASE_NAMES: Final = ("IDLE", "HEAD", "BODY", "UPSTREAM", "RESPONSE", "TUNNEL", "CLOSED")
_PHASE_EVENTS: Final = ("EMPTY", "HEAD_BYTES", "SENT", "BODY_STREAM", "RESPONDED", "UPGRADED", "CLOSE")

# (phase, event) -> phase; any pair not listed is a bug (IllegalTransition).
PHASES: Final[dict[tuple[int, int], int]] = {
    (IDLE, EMPTY): IDLE,
    (IDLE, HEAD_BYTES): HEAD,
    (HEAD, EMPTY): IDLE,  # the ALB answered and nothing follows, or only empty lines had come
    (HEAD, HEAD_BYTES): HEAD,
    (HEAD, SENT): UPSTREAM,
    (UPSTREAM, SENT): UPSTREAM,  # the keep-alive-race retry on a fresh target connection
    (UPSTREAM, BODY_STREAM): BODY,
    (BODY, SENT): UPSTREAM,
    (UPSTREAM, RESPONDED): RESPONSE,
    (UPSTREAM, UPGRADED): TUNNEL,
    (UPSTREAM, EMPTY): IDLE,  # the target failed, the ALB answered (502/504) and the connection stays
    (UPSTREAM, HEAD_BYTES): HEAD,
    (RESPONSE, EMPTY): IDLE,
    (RESPONSE, HEAD_BYTES): HEAD,
    **{(phase, CLOSE): CLOSED for phase in (IDLE, HEAD, BODY, UPSTREAM, RESPONSE, TUNNEL)},
}


# ---------------------------------------------------------------------------------------- shared state
HeadCapture = Callable[[Exchange, bytes, bytes | None, bytearray], None]


@dataclass(slots=True, eq=False)
class ProxyContext:
    """Everything the listeners share: routing (:class:`~albfargate.alb.dispatch.Routing`), metrics, the
    upstream pools, the access-log sink, the target connect timeout, and whether the runtime is stopping."""

    routing: Routing
    metrics: Metrics
    tg_counters: dict[str, TgCounters]
    pools: Pools = field(default_factory=Pools)
    sink: ExchangeSink | None = None
    # (exchange, request head as received, head sent to the target or None, the bytes read after the
    # head: the body's start) as each request is routed, before the exchange reaches the sink; set only
    # while someone captures heads (the web console: alb/tap.py)
    capture: HeadCapture | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    stopping: bool = False


def _http_date() -> str:
    return formatdate(usegmt=True)


# ------------------------------------------------------------------------------- client connections
# Who drives a client connection (ClientConnection.mode): protocol callbacks between requests and while
# the request head arrives; callbacks of the target connection during a fast exchange; a task for
# everything that must wait (a new target connection, a streamed body, Expect, WebSocket, a retry).
CALLBACK: Final = 0  # protocol callbacks: between requests and while a request head arrives
FAST: Final = 1  # the target connection's callbacks: a request sent on a pooled connection (the fast lane)
TASK: Final = 2  # a task: whatever must wait (connecting, bodies, Expect, WebSocket, a retry, a slow client)
DONE: Final = 3  # the connection is over

# What moves the mode.
FAST_LANE: Final = 0  # the request went out on a pooled connection, its answer is served from callbacks
TO_TASK: Final = 1  # a task takes over
BACK: Final = 2  # the exchange is over: back to the callbacks
FINISH: Final = 3  # the connection is over

_MODE_NAMES: Final = ("CALLBACK", "FAST", "TASK", "DONE")
_MODE_EVENTS: Final = ("FAST_LANE", "TO_TASK", "BACK", "FINISH")

# (mode, event) -> mode; any pair not listed is a bug (IllegalTransition).
MODES: Final[dict[tuple[int, int], int]] = {
    (CALLBACK, FAST_LANE): FAST,
    (CALLBACK, TO_TASK): TASK,
    (FAST, TO_TASK): TASK,  # the retry on a fresh connection, or a response body still to come
    (FAST, BACK): CALLBACK,
    (TASK, BACK): CALLBACK,
    (CALLBACK, FINISH): DONE,
    (FAST, FINISH): DONE,
    (TASK, FINISH): DONE,
}


class IllegalTransition(Exception):
    """A connection's phase or mode was asked to move along a transition its table does not have (a bug:
    the connection fails, the listener goes on)."""

    def __init__(self, table: str, state: str, event: str) -> None:
        super().__init__(f"illegal {table} transition: {state} on {event}")
        self.table = table
        self.state = state
        self.event = event


def _flat(table: dict[tuple[int, int], int], states: int, events: int) -> list[int]:
    """``table`` as a list indexed by ``state * events + event`` (-1: illegal), for the hot path."""
    out = [-1] * (states * events)
    for (state, event), nxt in table.items():
        out[state * events + event] = nxt
    return out


_N_PHASE_EVENTS: Final = len(_PHASE_EVENTS)
_N_MODE_EVENTS: Final = len(_MODE_EVENTS)
_PHASE_NEXT: Final = _flat(PHASES, len(_PHASE_NAMES), _N_PHASE_EVENTS)
_MODE_NEXT: Final = _flat(MODES, len(_MODE_NAMES), _N_MODE_EVENTS)


def next_phase(phase: int, event: int) -> int:
    """The phase after ``event`` (:data:`PHASES`); :class:`IllegalTransition` for a pair it does not have."""
    nxt = _PHASE_NEXT[phase * _N_PHASE_EVENTS + event]
    if nxt < 0:
        raise IllegalTransition("phase", _PHASE_NAMES[phase], _PHASE_EVENTS[event])
    return nxt


def next_mode(mode: int, event: int) -> int:
    """The mode after ``event`` (:data:`MODES`); :class:`IllegalTransition` for a pair it does not have."""
    nxt = _MODE_NEXT[mode * _N_MODE_EVENTS + event]
    if nxt < 0:
        raise IllegalTransition("mode", _MODE_NAMES[mode], _MODE_EVENTS[event])
    return nxt


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
        self.plan: Forward | None = None
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
        self.peer = Peer(self.client, https=ls.scheme == "https", tls=self.tls, sni=self.sni)

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
        self.phase = next_phase(self.phase, CLOSE)
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

    def shutdown(self) -> None:
        """The load balancer or this listener is stopping: close the connection now if it is between
        requests; an exchange in flight goes on (its answer says ``Connection: close``, and the
        connection closes after it). Called again until the grace period ends, then :meth:`abort`."""
        if self.phase == IDLE:
            self._close()
            if self.mode == CALLBACK:
                self._finish()

    def abort(self) -> None:
        """Cut the connection now (the grace period is over): the target connection of an exchange in
        flight and the client connection are closed; what the exchange still owed is not sent."""
        if self.upstream is not None:
            self.upstream.close()
        self._close()

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
        self.mode = next_mode(self.mode, FINISH)
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
        self.mode = next_mode(self.mode, TO_TASK)
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
        self.mode = next_mode(self.mode, BACK)
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
            self.phase = next_phase(self.phase, EMPTY)
            return None
        self.phase = next_phase(self.phase, HEAD_BYTES)
        end = head_end(buf, self.scan)
        if end >= 0:
            self.scan = 0
            if end > MAX_REQUEST_HEAD:
                raise ProtocolError(400, "request head too large")
            return take_bytes(buf, end)
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
    def _prepare(self, head: bytes) -> bool | Forward:
        """Classify, parse and route one request (:func:`~albfargate.alb.dispatch.dispatch`). An ALB
        answer is sent here (→ whether the connection stays open); a forward returns its plan."""
        ctx = self.ctx
        r = dispatch(
            head,
            self.ls,
            ctx.routing,
            self.peer,
            now=time.time(),
            age=self.loop.time() - self.opened,
            stopping=ctx.stopping,
            log_fields=ctx.sink is not None,
            cut=self.cut_cb,
        )
        if r.ex.classification is not None:
            self.ls.counters.desync_non_compliant += 1
        capture = ctx.capture
        if capture is not None:
            capture(r.ex, head, None if isinstance(r, Answer) else r.up_head, self.buf)
        if isinstance(r, Answer):
            return self._answer(r)
        return r

    # ------------------------------------------------------------------------------ ALB answers
    def _answer(self, a: Answer) -> bool:
        """Send an ALB-made response, count and log it; whether the connection stays open."""
        if not self.closed:
            self.writer.write(a.data)
        ex = a.ex
        ex.elb_status = a.code
        ex.sent_bytes = len(a.data)
        self.ctx.metrics.elb_response(self.ls.counters, a.code)
        self._log(ex)
        if not a.keep_alive:
            self._close(abort=False)
        self.last = self.loop.time()
        return a.keep_alive

    def _log_bare(self, code: int) -> None:
        if self.ctx.sink is None:
            return
        ex = Exchange(
            kind=self.peer.kind,
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
    def _begin(self, plan: Forward) -> None:
        """The request is dispatched to its target (in flight until :meth:`_exchange_over`)."""
        self.cut = self.timed_out = self.response_started = False
        self.plan = plan

    def _exchange_over(self) -> None:
        """The in-flight request (if any) is over: the registry is told, an upstream connection still
        held is closed (a reusable one went back to the pool before)."""
        plan = self.plan
        if plan is None:
            return
        self.plan = None
        plan.target.end(self.cut_cb)
        up = self.upstream
        if up is not None:
            self.upstream = None
            up.s.on_data = None
            up.close()

    # ------------------------------------------------------------------------------ fast exchange
    def _fast(self, plan: Forward) -> bool:
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
        self.mode = next_mode(self.mode, FAST_LANE)
        self.phase = next_phase(self.phase, SENT)
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
            self.mode = next_mode(self.mode, BACK)
            self._pump()
        else:
            self._finish()

    # ------------------------------------------------------------------------------ exchange (task)
    async def _exchange(self, plan: Forward, first_attempt: int) -> bool:
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
            self.phase = next_phase(self.phase, SENT)
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
                    self.phase = next_phase(self.phase, BODY_STREAM)
                    await self._send_body(p, up)
                    self.phase = next_phase(self.phase, SENT)
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

    def _respond_head(self, plan: Forward, up: Upstream, rhead: bytes) -> bool | _Rest:
        """Parse the target's response head and send it on; a body already buffered in full goes with
        it in one write and the exchange is finished here (→ whether the client connection stays
        open). Otherwise what the body relay (or the tunnel) needs."""
        ex = plan.ex
        p = plan.p
        t_resp = time.time()  # the response head arrived (one clock read for both figures)
        ex.target_processing = t_resp - plan.t_sent
        try:
            status, out_head, framing, length, up_keep = parse_response_head(
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
            out_head = set_connection_close(out_head)
        self.phase = next_phase(self.phase, RESPONDED)
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

    async def _respond_rest(self, plan: Forward, r: _Rest) -> bool:
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
        plan: Forward,
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

    def _upstream_failed(self, ex: Exchange, p: RequestHead, code: int, keep_alive: bool = False) -> bool:
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
        return self._answer(alb_error(ex, p, code, keep_alive, stopping=self.ctx.stopping, now=time.time()))

    async def _drain_client(self) -> None:
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise _ClientGone() from e
        self.last = self.loop.time()  # the client took data: the connection is not idle

    async def _send_body(self, p: RequestHead, up: Upstream) -> None:
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
                    uw.write(take_bytes(buf, n))
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
                    uw.write(take_bytes(buf, take))
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
            end = head_end(buf, self.rscan)
            if end < 0:
                if len(buf) > MAX_RESPONSE_HEAD:
                    raise ProtocolError(502, "response head too large")
                self.rscan = max(0, len(buf) - 3)
                return None
            self.rscan = 0
            if end > MAX_RESPONSE_HEAD:
                raise ProtocolError(502, "response head too large")
            head = take_bytes(buf, end)
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
                w.write(take_bytes(buf, take))
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
        ex.kind = "wss" if self.peer.kind == "https" else "ws"
        self.phase = next_phase(self.phase, UPGRADED)
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
