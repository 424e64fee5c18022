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
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from albfargate.alb import balancing, desync, headers, responses
from albfargate.alb.exchange import Exchange, ExchangeSink
from albfargate.alb.http1 import (
    HOP_BY_HOP,
    MAX_REQUEST_HEAD,
    MAX_REQUEST_LINE,
    MAX_RESPONSE_HEAD,
    ChunkedFramer,
    ProtocolError,
    RequestHead,
    head_end,
    parse_request_head,
    parse_request_head_general,
    parse_response_head,
    request_line_of,
    set_connection_close,
    take_bytes,
)
from albfargate.alb.metrics import LbCounters, Metrics, TgCounters
from albfargate.alb.rules import CompiledRules, RequestView
from albfargate.alb.stream import STREAM_HIGH_WATER, Stream
from albfargate.alb.targets import LiveTargets, Target
from albfargate.alb.upstream import CONNECT_TIMEOUT, Pools, Upstream
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

_log = logging.getLogger(__name__)

# Client-connection phases (what the idle watchdog does when it fires).
IDLE, HEAD, BODY, UPSTREAM, RESPONSE, TUNNEL, CLOSED = range(7)


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
        p: RequestHead,
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
                p = parse_request_head_general(head, non_compliant=True)
            if p.host_count > 1 and not attrs.preserve_host_header:
                raise ProtocolError(400, "duplicate Host header")
        except ProtocolError as e:
            ex.request_line = request_line_of(head)
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

    def _alb_error(self, ex: Exchange, p: RequestHead, code: int, keep_alive: bool) -> bool:
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
        p: RequestHead,
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
        hop = HOP_BY_HOP
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
        ka = keep_alive and not (p.body_chunked or p.body_length > 0) and not self.ctx.stopping
        data = responses.alb_response(code, keep_alive=ka, date=_http_date(), head_only=p.method == "HEAD")
        return self._finish_alb(ex, code, keep_alive=ka, data=data)

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
