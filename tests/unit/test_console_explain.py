"""The console's rule tester (console/explain.py): it gives the listener's answer (alb.rules' compiled
rules, as the proxy runs them) for a table of requests on a multi-rule listener, and says why each earlier
rule did not match."""

from __future__ import annotations

import pytest

from albfargate.alb.rules import RequestView, compile_rules
from albfargate.console.explain import ProbeRequest, explain, probe_of
from albfargate.console.views import condition_text, rule_views
from albfargate.model.elbv2 import (
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    QueryPair,
    RedirectAction,
    Rule,
    TargetGroupTuple,
)

F = ConditionField
API = "arn:tg/api"
WEB = "arn:tg/web"
NAMES = {API: "api-tg", WEB: "web-tg"}


def fwd(arn: str, order: int | None = None) -> ForwardAction:
    return ForwardAction((TargetGroupTuple(arn),), order=order)


RULES = (
    # out of order on purpose: evaluation is by priority
    Rule("arn:rule/30", "L", 30, (Condition(F.HTTP_REQUEST_METHOD, ("POST",)),), (fwd(API),)),
    Rule(
        "arn:rule/5",
        "L",
        5,
        (Condition(F.PATH_PATTERN, ("/admin/*",)), Condition(F.SOURCE_IP, ("10.0.0.0/8",))),
        (FixedResponseAction("403", "text/plain", "no"),),
    ),
    Rule(
        "arn:rule/10",
        "L",
        10,
        (Condition(F.HOST_HEADER, ("api.example.com", "*.api.example.com")),),
        (fwd(API),),
    ),
    Rule(
        "arn:rule/20",
        "L",
        20,
        (
            Condition(F.HTTP_HEADER, ("beta",), header_name="X-Env"),
            Condition(F.QUERY_STRING, query_pairs=(QueryPair("2", "v"),)),
        ),
        (fwd(WEB),),
    ),
    Rule("arn:rule/40", "L", 40, (Condition(F.PATH_PATTERN, ("/old/*",)),), (RedirectAction(path="/new/"),)),
)
DEFAULT = (FixedResponseAction("404", "text/plain", "not here"),)

TABLE = [
    ProbeRequest(path="/admin/x", source_ip="10.1.2.3"),
    ProbeRequest(path="/admin/x", source_ip="192.168.0.1"),
    ProbeRequest(host="api.example.com"),
    ProbeRequest(host="v2.api.example.com:8080"),
    ProbeRequest(host="API.EXAMPLE.COM"),
    ProbeRequest(headers=(("X-Env", "BETA"),), query="v=2"),
    ProbeRequest(headers=(("X-Env", "beta"),), query="v=3"),
    ProbeRequest(method="POST", path="/anything"),
    ProbeRequest(method="post", path="/anything"),
    ProbeRequest(path="/old/page"),
    ProbeRequest(path="/nowhere"),
    ProbeRequest(host="www.example.com", path="/"),
]


@pytest.mark.parametrize("req", TABLE, ids=lambda r: f"{r.method} {r.host} {r.path} {r.query}")
def test_the_tester_gives_the_listeners_answer(req: ProbeRequest) -> None:
    listener = compile_rules(RULES, DEFAULT).evaluate(req.view())  # what the proxy computes
    answer = explain(RULES, DEFAULT, req.view(), NAMES)
    assert answer["matched"]["priority"] == listener.priority
    assert [a["type"] for a in answer["actions"]] == [str(a.type) for a in listener.actions]
    # every rule before the match failed, and says so; the last one tried is the match
    tried = answer["rules"]
    assert all(not r["matched"] for r in tried[:-1])
    assert tried[-1]["matched"] and tried[-1]["priority"] == listener.priority
    earlier = [r["priority"] for r in tried[:-1]]
    assert earlier == sorted(earlier)
    for r in tried[:-1]:
        assert any(not c["matched"] for c in r["conditions"])


def test_why_names_the_value_and_the_pattern() -> None:
    answer = explain(RULES, DEFAULT, ProbeRequest(host="v2.api.example.com", path="/admin/x").view(), NAMES)
    first = answer["rules"][0]
    assert first["priority"] == 5
    assert first["conditions"][0] == {
        "field": "path-pattern",
        "text": "path is /admin/*",
        "matched": True,
        "why": "path /admin/x matches /admin/*",
    }
    assert first["conditions"][1]["matched"] is False
    assert first["conditions"][1]["why"] == "source IP 127.0.0.1 matches none of 10.0.0.0/8"
    matched = answer["rules"][1]
    assert matched["conditions"][0]["why"] == "host v2.api.example.com matches *.api.example.com"
    assert answer["action"]["text"] == "forward to api-tg (weight 1)"


def test_no_rule_matches_the_default_rule_follows() -> None:
    answer = explain(RULES, DEFAULT, ProbeRequest(path="/nowhere").view(), NAMES)
    assert answer["matched"] == {"priority": 0, "is_default": True, "arn": None}
    assert len(answer["rules"]) == len(RULES) + 1
    assert answer["rules"][-1]["is_default"] is True
    assert answer["action"]["type"] == "fixed-response"
    assert answer["action"]["status_code"] == "404"
    header_rule = next(r for r in answer["rules"] if r["priority"] == 20)
    assert header_rule["conditions"][0]["why"] == "header X-Env absent matches none of beta"


def test_rules_after_the_match_are_not_tried() -> None:
    answer = explain(RULES, DEFAULT, ProbeRequest(host="api.example.com").view(), NAMES)
    assert [r["priority"] for r in answer["rules"]] == [5, 10]


def test_actions_in_execution_order_terminal_last() -> None:
    from albfargate.model.elbv2 import ActionType, AuthenticateAction

    rules = (
        Rule(
            "arn:r/1",
            "L",
            1,
            (),
            (fwd(API, order=2), AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=1)),
        ),
    )
    answer = explain(rules, DEFAULT, ProbeRequest().view(), NAMES)
    assert [a["type"] for a in answer["actions"]] == ["authenticate-oidc", "forward"]
    assert answer["action"]["type"] == "forward"


def test_form_input_is_read_and_checked() -> None:
    req = probe_of({"path": "/a?x=1", "headers": [["X-A", "1"]], "host": "h.example"})
    assert req.path == "/a" and req.query == "x=1"
    view = req.view()
    assert isinstance(view, RequestView)
    assert view.headers[0] == ("Host", "h.example")
    assert probe_of({"headers": {"X-B": "2"}}).headers == (("X-B", "2"),)
    with pytest.raises(ValueError, match="headers"):
        probe_of({"headers": [["only-a-name"]]})
    with pytest.raises(ValueError, match="method"):
        probe_of({"method": 3})


def test_rules_are_listed_in_evaluation_order_with_the_default_last() -> None:
    views = rule_views(RULES, DEFAULT, NAMES)
    assert [v["priority"] for v in views] == [5, 10, 20, 30, 40, 0]
    assert views[-1]["is_default"] is True
    assert views[2]["conditions"][1] == {
        "field": "query-string",
        "values": [],
        "text": "query v=2",
        "query": [{"key": "v", "value": "2"}],
    }
    assert condition_text(Condition(F.HTTP_HEADER, ("a", "b"), header_name="X-Y")) == "header X-Y is a or b"
    assert views[4]["actions"][0]["type"] == "redirect"
