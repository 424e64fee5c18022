"""What the local ALB does with one request head (sans-I/O): the parsed head, the listener's live
configuration and the registry's groups in; an ALB answer (:class:`Answer`: the bytes of a redirect,
fixed response or error page) or a forward plan (:class:`Forward`: the target group, the target and the
head to send it) out (spec §2, §4). No socket, no clock: the caller passes the time and the random source
is injected, so tests feed bytes and check the decision without a connection.

Order of the decisions (unchanged from the shell that made them inline): desync classification of the
raw head and the mode's verdict (§4.6); parsing (a Compliant head by the fast parser, any other by the
general one, which frames what the mode let through); duplicate Host; TRACE; the rule engine; redirect /
fixed response; headers towards the target (463); target group (weights, ``AWSALBTG``); HTTP2/gRPC
groups (464); the target (``AWSALB`` / ``AWSALBAPP-n`` stickiness, the group's balancer; none: 503); the
head for the target (origin form, hop-by-hop headers dropped, the body framing re-declared)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Protocol

from albfargate.alb import balancing, desync, headers, responses
from albfargate.alb.exchange import Exchange
from albfargate.alb.http1 import (
    ProtocolError,
    RequestHead,
    parse_plain_request_head,
    parse_request_head,
    parse_request_head_general,
    request_line_of,
)
from albfargate.alb.metrics import LbCounters
from albfargate.alb.rules import CompiledRules, RequestView
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

if TYPE_CHECKING:  # the registry's module owns timers (asyncio): its types only
    from albfargate.alb.targets import Group, LiveTargets, Target


class OpenConnection(Protocol):
    """What the runtime does with a listener's open client connections when it stops or removes the
    listener (:class:`~albfargate.alb.connection.ClientConnection`)."""

    def shutdown(self) -> None: ...
    def abort(self) -> None: ...


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
    connections: set[OpenConnection] = field(default_factory=set)
    lb_full_name: str = ""  # app/<name>/<id>, computed once
    template_port: int = 0  # the listener's port in the template

    def __post_init__(self) -> None:
        self.lb_full_name = self.lb.full_name
        self.template_port = self.listener.port

    def set_rules(self, rules: tuple[Rule, ...], default_actions: tuple[Action, ...]) -> None:
        self.rules = CompiledRules(rules, default_actions)


class Routing:
    """What the requests of every listener share to be routed: the target registry (its groups by ARN,
    read without a call: :attr:`~albfargate.alb.targets.LiveTargets.group_map`), the local port of each
    (protocol, template port) for redirects, the stickiness cookies' HMAC key and the random source
    (a ``random.Random``, injected)."""

    def __init__(
        self,
        registry: LiveTargets,
        local_ports: Mapping[tuple[str, int], int],
        sticky_key: bytes,
        rng: Any,
    ) -> None:
        self.registry = registry
        self.groups: Mapping[str, Group] = registry.group_map
        self.local_ports = local_ports
        self.sticky_key = sticky_key
        self.rng = rng


class Peer:
    """The client end of one connection as dispatch sees it (fixed for the connection's life)."""

    __slots__ = ("client", "kind", "sni", "tls")

    def __init__(
        self,
        client: tuple[str, int],
        *,
        https: bool,
        tls: tuple[str | None, str | None] | None = None,
        sni: str | None = None,
    ) -> None:
        self.client = client
        self.kind = "https" if https else "http"  # the access log's type field
        self.tls = tls  # (cipher, protocol version) of a TLS connection
        self.sni = sni


class Answer:
    """A response the ALB makes itself: its bytes, and whether the connection stays open after it."""

    __slots__ = ("code", "data", "ex", "keep_alive")

    def __init__(self, ex: Exchange, code: int, data: bytes, keep_alive: bool) -> None:
        self.ex = ex
        self.code = code
        self.data = data
        self.keep_alive = keep_alive


class Forward:
    """A request on its way to a target: the group and target chosen, the head built for it."""

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
        self.close_after = close_after  # the desync verdict: close both connections after the response
        self.app_cookie = app_cookie  # (b"<app cookie name>=", AWSALBAPP cookies) for app_cookie stickiness
        self.t_sent = 0.0  # wall clock: the request went to the target (set by the connection)


def http_date(now: float) -> str:
    """The Date header of an ALB-made response made at wall-clock time ``now``."""
    return formatdate(now, usegmt=True)


def answer(ex: Exchange, code: int, *, keep_alive: bool, now: float, data: bytes | None = None) -> Answer:
    """An ALB-made response (the error page of ``code`` unless ``data`` is given)."""
    if data is None:
        data = responses.alb_response(code, keep_alive=keep_alive, date=http_date(now))
    return Answer(ex, code, data, keep_alive)


def alb_error(
    ex: Exchange, p: RequestHead, code: int, keep_alive: bool, *, stopping: bool, now: float
) -> Answer:
    """An ALB-made error page; the connection stays open when the request allows it and had no body (the
    body is never read, so the connection must close then) and the listener is not stopping."""
    ka = keep_alive and not (p.body_chunked or p.body_length > 0) and not stopping
    data = responses.alb_response(code, keep_alive=ka, date=http_date(now), head_only=p.method == "HEAD")
    return Answer(ex, code, data, ka)


def dispatch(
    head: bytes,
    ls: ListenerState,
    routing: Routing,
    peer: Peer,
    *,
    now: float,
    age: float,
    stopping: bool,
    log_fields: bool,
    cut: Callable[[], None],
) -> Answer | Forward:
    """Classify, parse and route one request head. ``now``: the wall clock when the head was framed (the
    exchange's ``received_at``, the Date of an ALB answer, the trace id's time); ``age``: seconds since the
    client connection opened (``client_keep_alive``); ``stopping``: the load balancer is stopping (no
    keep-alive); ``log_fields``: fill the exchange fields only the access log reads; ``cut``: called if
    the target's deregistration delay runs out with the request in flight.

    A forward is in flight at its target when it is returned (``Group.route`` counted it): the caller
    ends it with ``Forward.target.end(cut)``.

    The head is read once: a plain head (nearly all) by :func:`~.http1.parse_plain_request_head`,
    which is the desync classifier's Compliant fast path and the fast parser in one pass and records
    each header's kind, so the head for the target is built in one more loop over the headers
    (:func:`~albfargate.alb.headers.forward_block`, for any head). Any other head is classified, then
    parsed, as ever."""
    ex = Exchange(
        kind=peer.kind,
        lb_name=ls.lb_full_name,
        client=peer.client,
        received_at=now,
        received_bytes=len(head),
    )
    tls = peer.tls
    if tls is not None:
        ex.ssl_cipher, ex.ssl_protocol = tls
        certs = ls.listener.certificates
        ex.chosen_cert_arn = certs[0] if certs else None
        ex.domain_name = peer.sni
    attrs = ls.attributes
    close_after = False
    try:
        plain = parse_plain_request_head(head)  # a plain head is Compliant (spec §4.6) and parsed at once
        if plain is not None:
            p = plain
        else:
            parsed = _parse_classified(head, ex, attrs.desync_mitigation_mode)
            if parsed is None:
                return answer(ex, 400, keep_alive=False, now=now)
            p, close_after = parsed
        if p.host_count > 1 and not attrs.preserve_host_header:
            raise ProtocolError(400, "duplicate Host header")
    except ProtocolError as e:
        ex.request_line = request_line_of(head)
        return answer(ex, e.status, keep_alive=False, now=now)
    if log_fields:  # fields only the access log reads
        ex.request_line = f"{p.method} {ls.scheme}://{host_of(p.host, ls)}{p.target} {p.version}"
        if p.user_agent is not None:
            ex.user_agent = p.user_agent
    keep_alive = not (p.close or close_after)
    if age > attrs.client_keep_alive_seconds or stopping:
        keep_alive = False
    has_body = p.body_chunked or p.body_length > 0
    if p.method == "TRACE":
        return alb_error(ex, p, 405, keep_alive, stopping=stopping, now=now)
    rules = ls.rules
    match = rules.only_default  # no rule to evaluate: the default rule matches
    if match is None:
        try:
            match = rules.evaluate(RequestView(p.method, p.path, p.query, p.headers, peer.client[0]))
        except Exception:
            ex.matched_rule_priority = -1
            return alb_error(ex, p, 500, keep_alive, stopping=stopping, now=now)
    ex.matched_rule_priority = match.priority
    action = match.actions[-1] if match.actions else None
    if isinstance(action, (RedirectAction, FixedResponseAction)):
        # a request body is never read for an ALB answer: the connection closes instead
        return _alb_action(ex, p, action, ls, routing, keep_alive and not has_body, now)
    if not isinstance(action, ForwardAction):
        return alb_error(ex, p, 500, keep_alive, stopping=stopping, now=now)
    ex.actions_executed = ("forward",)
    try:  # headers towards the target (may refuse with 463)
        block, trace = _target_headers(p, ls, routing, peer, now)
    except headers.TooManyForwardedFor:
        return alb_error(ex, p, 463, keep_alive, stopping=stopping, now=now)
    ex.trace_id = trace
    return _plan_forward(ex, p, action, block, keep_alive, close_after, routing, stopping, now, cut)


def _parse_classified(head: bytes, ex: Exchange, mode: str) -> tuple[RequestHead, bool] | None:
    """A head that is not plain: classified (spec §4.6; the exchange records a non-Compliant tier),
    then parsed. None: the desync mitigation mode blocks it (400); else the head and whether both
    connections close after the response. Raises ProtocolError for a head that cannot be framed."""
    close_after = False
    cls = desync.classify(head)
    if cls.tier != desync.Tier.COMPLIANT:
        ex.classification = cls.tier.name.capitalize()
        ex.classification_reason = cls.reason
        verdict = desync.verdict(cls, mode)
        if verdict == desync.Verdict.BLOCK:
            return None
        if verdict == desync.Verdict.ALLOW_AND_CLOSE:
            close_after = True
    # a Compliant head takes the fast parser; any other the general one, which frames what the desync
    # mode let through rather than refusing it
    if cls.reason is None:
        return parse_request_head(head), close_after
    return parse_request_head_general(head, non_compliant=True), close_after


def _alb_action(
    ex: Exchange,
    p: RequestHead,
    action: RedirectAction | FixedResponseAction,
    ls: ListenerState,
    routing: Routing,
    keep_alive: bool,
    now: float,
) -> Answer:
    """The answer of a redirect or fixed-response action (the ALB makes it; nothing is forwarded)."""
    head_only = p.method == "HEAD"
    if isinstance(action, RedirectAction):
        loc = responses.redirect_location(
            action,
            scheme=ls.scheme,
            host=host_of(p.host, ls, with_port=False),
            listener_port=ls.template_port,
            path=p.path,
            query=p.query,
            local_ports=routing.local_ports,
        )
        ex.actions_executed = ("redirect",)
        ex.redirect_url = loc
        data = responses.redirect_response(
            action, loc, keep_alive=keep_alive, date=http_date(now), head_only=head_only
        )
        code = 302 if action.status_code == "HTTP_302" else 301
        return Answer(ex, code, data, keep_alive)
    ex.actions_executed = ("fixed-response",)
    data = responses.fixed_response(action, keep_alive=keep_alive, date=http_date(now), head_only=head_only)
    return Answer(ex, int(action.status_code), data, keep_alive)


def _target_headers(
    p: RequestHead, ls: ListenerState, routing: Routing, peer: Peer, now: float
) -> tuple[str, str]:
    """The header lines sent to the target and the X-Amzn-Trace-Id among them, in one loop over the
    headers (:func:`~albfargate.alb.headers.forward_block`; by the kinds the one-pass parser recorded,
    when it read the head). Raises ``headers.TooManyForwardedFor`` (463)."""
    tls = peer.tls
    return headers.forward_block(
        p.headers,
        p.kinds,
        client_ip=peer.client[0],
        client_port=peer.client[1],
        scheme=ls.scheme,
        listener_port=ls.template_port,
        attributes=ls.attributes,
        now=now,
        trace_random=routing.rng.getrandbits(96).to_bytes(12, "big"),
        uri_host=None if p.target[:1] == "/" else headers.split_absolute_form(p.target)[0],
        tls_version=tls[1] if tls else None,
        tls_cipher=tls[0] if tls else None,
    )


def choose_group(
    action: ForwardAction, cookies: dict[str, str] | None, now: float, routing: Routing
) -> tuple[str | None, list[tuple[str, str]], str | None]:
    """(target group arn, Set-Cookie headers for target-group stickiness, error reason)."""
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
                named = balancing.decode_sticky(routing.sticky_key, raw, now, dur)
                if named is not None and any(t.target_group_arn == named and t.weight > 0 for t in tuples):
                    arn = named
                elif named is None:
                    err = "AWSALBTGCookieInvalid"
        if arn is None:
            arn = balancing.choose_target_group(tuples, routing.rng)
    if arn is not None and action.stickiness_enabled:
        set_cookies = balancing.set_cookie_headers(
            "AWSALBTG", balancing.encode_sticky(routing.sticky_key, arn, now), now
        )
    return arn, set_cookies, err


def _plan_forward(
    ex: Exchange,
    p: RequestHead,
    action: ForwardAction,
    block: str,
    keep_alive: bool,
    close_after: bool,
    routing: Routing,
    stopping: bool,
    now: float,
    cut: Callable[[], None],
) -> Answer | Forward:
    """Target group, target (stickiness), cookies to add, and the head to send; or an ALB answer."""
    sticky_key = routing.sticky_key
    tuples = action.target_groups
    if len(tuples) == 1 and not action.stickiness_enabled:  # what choose_group gives, without calling it
        cookies: dict[str, str] | None = None
        tg_arn: str | None = tuples[0].target_group_arn
        set_cookies: list[tuple[str, str]] = []
    else:
        cookies = cookies_of(p.headers) if action.stickiness_enabled else None
        tg_arn, set_cookies, err = choose_group(action, cookies, now, routing)
        ex.error_reason = err
    g = routing.groups.get(tg_arn) if tg_arn else None
    if g is None or tg_arn is None:
        return alb_error(ex, p, 503, keep_alive, stopping=stopping, now=now)
    tg = g.tg
    ex.target_group_arn = tg_arn
    if tg.protocol_version.upper() in ("HTTP2", "GRPC"):
        # an HTTP/1.1 request to an HTTP2/gRPC target group (spec §4.5)
        return alb_error(ex, p, 464, keep_alive, stopping=stopping, now=now)
    a = tg.attributes
    sticky_target: str | None = None
    app_cookie_seen = False
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None
    if a.stickiness_enabled and cookies is None:
        cookies = cookies_of(p.headers)
    if a.stickiness_enabled and cookies is not None:
        if a.stickiness_type == "app_cookie":
            app_cookie_seen = a.app_cookie_name is not None and a.app_cookie_name in cookies
            raw = balancing.app_cookie_value(p.headers)
            if raw is not None and app_cookie_seen:
                sticky_target = balancing.decode_sticky(sticky_key, raw, now, a.app_cookie_duration_seconds)
        else:
            raw = cookies.get("AWSALB")
            if raw is not None:
                sticky_target = balancing.decode_sticky(sticky_key, raw, now, a.lb_cookie_duration_seconds)
    target = g.route(sticky_target, cut)  # chosen and counted in flight: the registry's one call
    if target is None:
        return alb_error(ex, p, 503, keep_alive, stopping=stopping, now=now)
    if a.stickiness_enabled:
        if a.stickiness_type == "app_cookie":
            alb_app = balancing.app_cookie_headers(balancing.encode_sticky(sticky_key, target.key, now), now)
            if app_cookie_seen:
                set_cookies += alb_app
            elif a.app_cookie_name:  # added when the target sets its cookie
                app_cookie = (a.app_cookie_name.encode("latin-1") + b"=", alb_app)
        else:
            set_cookies += balancing.set_cookie_headers(
                "AWSALB", balancing.encode_sticky(sticky_key, target.key, now), now
            )
    ex.target = target.key
    upgrade = p.upgrade
    # the head sent to the target: origin-form target, forwarded headers minus hop-by-hop ones
    query = p.query
    parts = [
        f"{p.method} {p.path}?{query} HTTP/1.1\r\n" if query else f"{p.method} {p.path} HTTP/1.1\r\n",
        block,
    ]
    if upgrade is not None:
        parts.append(f"Connection: Upgrade\r\nUpgrade: {upgrade}\r\n")
    if p.body_chunked:
        parts.append("Transfer-Encoding: chunked\r\n")
    elif p.body_length > 0 or p.method in ("POST", "PUT", "PATCH"):
        parts.append(f"Content-Length: {p.body_length}\r\n")
    parts.append("\r\n")
    up_head = "".join(parts).encode("latin-1")
    return Forward(ex, p, tg_arn, target, up_head, set_cookies, keep_alive, close_after, app_cookie)


def cookies_of(hdrs: list[tuple[str, str]]) -> dict[str, str]:
    """The request's cookies by name (the first of each name), from every Cookie header."""
    out: dict[str, str] = {}
    for name, value in hdrs:
        if name.lower() == "cookie":
            for part in value.split(";"):
                k, sep, v = part.strip().partition("=")
                if sep and k not in out:
                    out[k] = v
    return out


def host_of(host_header: str | None, ls: ListenerState, with_port: bool = True) -> str:
    """The request's host for the access log (with the listener's port when it has none) or, without the
    port, for a redirect; the load balancer's DNS name when the request had no Host."""
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
