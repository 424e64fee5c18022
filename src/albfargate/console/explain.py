"""The rule tester (pure): which rule of a listener a request matches, why each earlier rule did not, and
the action that follows (docs/console.md, ``POST /api/rule-test``).

The matching itself is :mod:`albfargate.alb.rules` — the core the listener runs on every request:
:func:`~albfargate.alb.rules.condition_matches` decides each condition, rules are tried in ascending
priority (as ``CompiledRules`` orders them) and the actions are sorted by
:func:`~albfargate.alb.rules.sort_actions`. This module only adds the words: for each condition the value
the listener looked at and the pattern (if any) that matched it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from albfargate.alb.rules import (
    RequestView,
    condition_matches,
    host_without_port,
    parse_query,
    sort_actions,
)
from albfargate.console.views import action_view, condition_text, ordered_rules
from albfargate.model.elbv2 import Action, Condition, ConditionField, QueryPair, Rule


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What the rule tester's form gives."""

    method: str = "GET"
    path: str = "/"
    host: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""
    source_ip: str = "127.0.0.1"

    def view(self) -> RequestView:
        """The request as the listener's rule engine sees it (a ``Host`` header added from ``host``
        when the headers have none)."""
        headers = list(self.headers)
        if self.host is not None and not any(n.lower() == "host" for n, _ in headers):
            headers.insert(0, ("Host", self.host))
        return RequestView(self.method, self.path, self.query.lstrip("?"), tuple(headers), self.source_ip)


def probe_of(doc: Mapping[str, Any]) -> ProbeRequest:
    """The tester's JSON input (docs/console.md) as a :class:`ProbeRequest`; ValueError names a bad field."""
    headers_in = doc.get("headers") or []
    if isinstance(headers_in, Mapping):
        headers_in = list(headers_in.items())
    headers: list[tuple[str, str]] = []
    for h in headers_in:
        if not (isinstance(h, (list, tuple)) and len(h) == 2 and all(isinstance(x, str) for x in h)):
            raise ValueError('headers: a list of ["Name", "value"] pairs')
        headers.append((h[0], h[1]))
    fields: dict[str, str | None] = {}
    for key, default in (("method", "GET"), ("path", "/"), ("query", ""), ("source_ip", "127.0.0.1")):
        v = doc.get(key, default)
        if v is None:
            v = default
        if not isinstance(v, str):
            raise ValueError(f"{key}: a string")
        fields[key] = v
    host = doc.get("host")
    if host is not None and not isinstance(host, str):
        raise ValueError("host: a string")
    path = fields["path"] or "/"
    if "?" in path and not fields["query"]:  # a path typed with its query
        path, fields["query"] = path.split("?", 1)
    return ProbeRequest(
        method=fields["method"] or "GET",
        path=path,
        host=host or None,
        headers=tuple(headers),
        query=fields["query"] or "",
        source_ip=fields["source_ip"] or "127.0.0.1",
    )


def _header_values(request: RequestView, name: str) -> list[str]:
    return [v.strip() for n, v in request.headers if n.lower() == name.lower()]


def _looked_at(c: Condition, request: RequestView) -> str:
    """The request's value the condition compares, in words."""
    f = c.field
    if f is ConditionField.PATH_PATTERN:
        return f"path {request.path}"
    if f is ConditionField.HOST_HEADER:
        hosts = _header_values(request, "host")
        return f"host {host_without_port(hosts[0])}" if hosts else "no Host header"
    if f is ConditionField.HTTP_HEADER:
        values = _header_values(request, c.header_name or "")
        return f"header {c.header_name} " + (", ".join(repr(v) for v in values) if values else "absent")
    if f is ConditionField.HTTP_REQUEST_METHOD:
        return f"method {request.method}"
    if f is ConditionField.QUERY_STRING:
        pairs = parse_query(request.query)
        return "query " + ("&".join(f"{k}={v}" for k, v in pairs) if pairs else "empty")
    return f"source IP {request.source_ip}"


def _single(c: Condition, value: str | QueryPair) -> Condition:
    if isinstance(value, QueryPair):
        return replace(c, query_pairs=(value,), values=(), regex_values=())
    return replace(c, values=(value,), regex_values=(), query_pairs=())


def _pattern_text(p: str | QueryPair) -> str:
    if isinstance(p, QueryPair):
        return f"{p.key}={p.value}" if p.key is not None else f"any key={p.value}"
    return p


def explain_condition(c: Condition, request: RequestView) -> dict[str, Any]:
    """Whether ``c`` matches ``request`` (``condition_matches``) and why, naming the value that matched."""
    matched = condition_matches(c, request)
    seen = _looked_at(c, request)
    patterns: list[str | QueryPair] = list(
        c.query_pairs if c.field is ConditionField.QUERY_STRING else c.values
    )
    if matched:
        hit = next((p for p in patterns if condition_matches(_single(c, p), request)), None)
        if hit is not None:
            why = f"{seen} matches {_pattern_text(hit)}"
        else:
            why = f"{seen} matches regex {' or '.join(c.regex_values)}"
    else:
        listed = [_pattern_text(p) for p in patterns] + [f"regex {r}" for r in c.regex_values]
        why = f"{seen} matches none of {', '.join(listed) or '(no value)'}"
    return {"field": str(c.field), "text": condition_text(c), "matched": matched, "why": why}


def explain(
    rules: Sequence[Rule],
    default_actions: Sequence[Action],
    request: RequestView,
    tg_names: Mapping[str, str],
) -> dict[str, Any]:
    """Every rule up to the one that matches (the default rule when none does), in evaluation order, each
    condition with whether it matched and why; then the matched rule's actions in execution order.
    Rules after the match are not evaluated, as the listener does not evaluate them."""
    tried: list[dict[str, Any]] = []
    for rule in ordered_rules(rules):
        conditions = []
        ok = True
        for c in rule.conditions:
            e = explain_condition(c, request)
            conditions.append(e)
            ok = ok and bool(e["matched"])  # ANDed; every condition is explained, not only the first miss
        tried.append({"priority": rule.priority, "arn": rule.arn, "matched": ok, "conditions": conditions})
        if ok:
            return _answer(tried, rule.priority, rule.arn, rule.actions, tg_names)
    tried.append(
        {
            "priority": 0,
            "arn": None,
            "matched": True,
            "is_default": True,
            "conditions": [],
            "why": "no rule matched: the default rule applies",
        }
    )
    return _answer(tried, 0, None, default_actions, tg_names)


def _answer(
    tried: list[dict[str, Any]],
    priority: int,
    arn: str | None,
    actions: Sequence[Action],
    tg_names: Mapping[str, str],
) -> dict[str, Any]:
    ordered = [action_view(a, tg_names) for a in sort_actions(actions)]
    return {
        "matched": {"priority": priority, "is_default": priority == 0, "arn": arn},
        "rules": tried,
        "action": ordered[-1] if ordered else None,
        "actions": ordered,
    }
