"""alb/dispatch.py, the sans-I/O half of the ALB shell: request-head bytes, the listener's configuration
and a registry in; an ALB answer or a forward plan (with the exact head for the target) out. No socket,
no event loop, a fixed clock and a seeded random source."""

from __future__ import annotations

import random
import re

import pytest

from albfargate.alb import dispatch as dp
from albfargate.alb.metrics import LbCounters
from albfargate.alb.rules import CompiledRules
from albfargate.alb.targets import LiveTargets
from albfargate.model import (
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    RedirectAction,
    Rule,
    TargetGroup,
    TargetGroupTuple,
)
from albfargate.model.elbv2 import Action
from albfargate.model.targets import TargetHealth, TargetId, TargetState

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/test/0123456789abcdef"
NOW = 1_800_000_000.25  # wall clock of the requests (fixed)


def _tg(name: str, protocol_version: str = "HTTP1") -> TargetGroup:
    arn = f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}/0000000000000000"
    return TargetGroup(arn=arn, name=name, tg_id="0" * 16, port=80, protocol_version=protocol_version)


class Setup:
    """A listener on template port 80 (served locally on 8080), its registry and a seeded routing."""

    def __init__(
        self,
        groups: list[TargetGroup],
        *,
        default: tuple[Action, ...] | None = None,
        rules: tuple[Rule, ...] = (),
        attributes: LoadBalancerAttributes | None = None,
        healthy: bool = True,
    ) -> None:
        self.groups = groups
        self.registry = LiveTargets(groups, clock=lambda: 100.0, rng=random.Random(7))
        self.registry.set_in_use(g.arn for g in groups)
        for g in groups:
            tid = TargetId("127.0.0.1", 9001)
            self.registry.register(g.arn, tid)
            t = self.registry.target(g.arn, tid)
            assert t is not None
            if healthy:
                self.registry.set_health(g.arn, t, TargetHealth(TargetState.HEALTHY, None, None))
        lb = LoadBalancer(
            arn=LB_ARN,
            name="test",
            lb_id="0123456789abcdef",
            dns_name="test-1.us-east-1.elb.amazonaws.com",
            attributes=attributes or LoadBalancerAttributes(),
        )
        if default is None:
            default = (ForwardAction((TargetGroupTuple(groups[0].arn),)),)
        listener = Listener(
            arn="arn:listener", load_balancer_arn=LB_ARN, port=80, protocol="HTTP", default_actions=default
        )
        self.ls = dp.ListenerState(
            listener=listener,
            lb=lb,
            counters=LbCounters("app/test/0123456789abcdef"),
            scheme="http",
            local_port=8080,
            rules=CompiledRules(rules, default),
            attributes=lb.attributes,
        )
        self.routing = dp.Routing(
            registry=self.registry,
            local_ports={("HTTP", 80): 8080},
            sticky_key=b"k" * 32,
            rng=random.Random(1),
        )
        self.peer = dp.Peer(("127.0.0.1", 50000), https=False)
        self.cuts = 0

    def dispatch(self, head: bytes, *, age: float = 0.0, stopping: bool = False) -> dp.Answer | dp.Forward:
        return dp.dispatch(
            head,
            self.ls,
            self.routing,
            self.peer,
            now=NOW,
            age=age,
            stopping=stopping,
            log_fields=True,
            cut=self.cut,
        )

    def cut(self) -> None:
        self.cuts += 1


def _forward(r: dp.Answer | dp.Forward) -> dp.Forward:
    assert isinstance(r, dp.Forward), (r.code, r.data) if isinstance(r, dp.Answer) else r
    return r


def _answer(r: dp.Answer | dp.Forward) -> dp.Answer:
    assert isinstance(r, dp.Answer), r
    return r


TRACE = re.compile(r"Root=1-6b49d200-[0-9a-f]{24}")  # 1_800_000_000 = 0x6b49d200


def test_forward_builds_the_exact_head_for_the_target() -> None:
    s = Setup([_tg("a")])
    head = (
        b"GET /p/q?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\nConnection: keep-alive\r\n"
        b"X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nAccept: */*\r\n\r\n"
    )
    f = _forward(s.dispatch(head))
    lines = f.up_head.decode("latin-1").split("\r\n")
    assert lines[0] == "GET /p/q?x=1 HTTP/1.1"
    assert lines[1:6] == [
        "Host: example.com",  # listener port 80: no port added
        "User-Agent: t/1",
        "X-Forwarded-For: 10.0.0.1, 127.0.0.1",  # the client's address appended; Connection is hop-by-hop
        "Accept: */*",
        lines[5],
    ]
    assert TRACE.fullmatch(lines[5].removeprefix("X-Amzn-Trace-Id: "))
    assert lines[6:] == ["X-Forwarded-Proto: http", "X-Forwarded-Port: 80", "", ""]
    assert f.target.key == "127.0.0.1:9001" and f.tg_arn == s.groups[0].arn
    assert f.keep_alive and not f.close_after
    ex = f.ex
    assert ex.request_line == "GET http://example.com:80/p/q?x=1 HTTP/1.1"
    assert ex.user_agent == "t/1" and ex.trace_id == lines[5].removeprefix("X-Amzn-Trace-Id: ")
    assert ex.actions_executed == ("forward",) and ex.matched_rule_priority == 0
    assert ex.received_at == NOW and ex.received_bytes == len(head)


def test_a_body_is_redeclared_and_the_random_source_is_the_injected_one() -> None:
    heads = [b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"] * 2
    a, b = (_forward(Setup([_tg("a")]).dispatch(h)) for h in heads)
    assert a.up_head == b.up_head  # same seed, same clock: the same trace id
    assert a.up_head.endswith(b"X-Forwarded-Port: 80\r\nContent-Length: 3\r\n\r\n")
    assert a.p.body_length == 3


def test_redirect_and_fixed_response_are_answered_by_the_alb() -> None:
    redirect = Setup([_tg("a")], default=(RedirectAction(protocol="HTTPS", port="443"),))
    a = _answer(redirect.dispatch(b"GET /x?y=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
    assert a.code == 301 and a.keep_alive
    assert b"\r\nLocation: https://example.com:443/x?y=1\r\n" in a.data
    assert a.ex.redirect_url == "https://example.com:443/x?y=1" and a.ex.actions_executed == ("redirect",)
    fixed = Setup(
        [_tg("a")], default=(FixedResponseAction("418", content_type="text/plain", message_body="teapot"),)
    )
    f = _answer(fixed.dispatch(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert (
        f.code == 418 and f.data.endswith(b"\r\n\r\nteapot") and f.ex.actions_executed == ("fixed-response",)
    )
    # a request body is never read for an ALB answer: the connection closes
    g = _answer(fixed.dispatch(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"))
    assert not g.keep_alive and b"Connection: close" in g.data


def test_rules_pick_the_action() -> None:
    rule = Rule(
        arn="arn:rule",
        listener_arn="arn:listener",
        priority=5,
        conditions=(Condition(ConditionField.PATH_PATTERN, ("/teapot",)),),
        actions=(FixedResponseAction("418"),),
    )
    s = Setup([_tg("a")], rules=(rule,))
    assert _answer(s.dispatch(b"GET /teapot HTTP/1.1\r\nHost: h\r\n\r\n")).ex.matched_rule_priority == 5
    assert _forward(s.dispatch(b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n")).ex.matched_rule_priority == 0


@pytest.mark.parametrize(
    ("head", "code", "keep_alive"),
    [
        (b"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", 405, True),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, False),  # duplicate Host
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, False),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: " + b",".join([b"1.2.3.4"] * 31) + b"\r\n\r\n",
            463,
            True,
        ),
    ],
)
def test_refusals(head: bytes, code: int, keep_alive: bool) -> None:
    a = _answer(Setup([_tg("a")]).dispatch(head))
    assert (a.code, a.keep_alive) == (code, keep_alive)
    assert a.data.startswith(f"HTTP/1.1 {code} ".encode())


def test_no_routable_target_is_503_and_an_http2_group_464() -> None:
    assert (
        _answer(Setup([_tg("a")], healthy=False).dispatch(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")).code == 503
    )
    assert _answer(Setup([_tg("a", "HTTP2")]).dispatch(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")).code == 464


def test_desync_verdicts() -> None:
    severe = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    ambiguous = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"  # UndefinedContentLengthSemantics
    s = Setup([_tg("a")])
    blocked = _answer(s.dispatch(severe))
    assert (blocked.code, blocked.keep_alive) == (400, False)
    assert (blocked.ex.classification, blocked.ex.classification_reason) == (
        "Severe",
        "MultipleContentLength",
    )
    f = _forward(s.dispatch(ambiguous))
    assert f.close_after and not f.keep_alive and f.ex.classification == "Ambiguous"
    monitor = Setup([_tg("a")], attributes=LoadBalancerAttributes(desync_mitigation_mode="monitor"))
    assert not _forward(monitor.dispatch(ambiguous)).close_after
    strictest = Setup([_tg("a")], attributes=LoadBalancerAttributes(desync_mitigation_mode="strictest"))
    assert _answer(strictest.dispatch(ambiguous)).code == 400


def test_keep_alive_ends_with_the_connection_age_and_at_stop() -> None:
    s = Setup([_tg("a")], attributes=LoadBalancerAttributes(client_keep_alive_seconds=60))
    head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    assert _forward(s.dispatch(head, age=59.0)).keep_alive
    assert not _forward(s.dispatch(head, age=61.0)).keep_alive
    assert not _forward(s.dispatch(head, stopping=True)).keep_alive


def test_a_forward_is_counted_in_flight_by_one_registry_call_and_an_answer_is_not() -> None:
    s = Setup([_tg("a")])
    g = s.registry.group_map[s.groups[0].arn]
    f = _forward(s.dispatch(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert (f.target.outstanding, g.requests, s.registry.request_count(s.groups[0].arn)) == (1, 1, 1)
    f.target.end(s.cut)
    assert f.target.outstanding == 0 and not f.target.inflight
    _answer(s.dispatch(b"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert (f.target.outstanding, g.requests) == (0, 1)
