"""JSON views of the model and of live records as the console's API gives them (pure: plain values in,
dicts out; shapes in docs/console.md). Conditions and actions are written out in words (``text``); rules
come in evaluation order (ascending priority, the default rule last) and actions in execution order
(``alb.rules.sort_actions``, the order the listener runs them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from albfargate.alb.rules import sort_actions
from albfargate.model.elbv2 import (
    Action,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    RedirectAction,
    Rule,
    TargetGroup,
)
from albfargate.model.targets import TargetHealth

MASK = "****"
#: Request/response headers whose values are credentials: shown masked, never rendered.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-security-token"}
)


def mask_headers(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Header pairs as the console shows them: credential values replaced by ``****``."""
    return [[n, MASK if n.lower() in CREDENTIAL_HEADERS else v] for n, v in headers]


_FIELD_WORDS = {
    ConditionField.HOST_HEADER: "host",
    ConditionField.PATH_PATTERN: "path",
    ConditionField.HTTP_REQUEST_METHOD: "method",
    ConditionField.SOURCE_IP: "source IP",
}


def _alternatives(values: Sequence[str]) -> str:
    if not values:
        return "(nothing)"
    return " or ".join(values)


def condition_text(c: Condition) -> str:
    """A plain reading of one condition (its values ORed)."""
    regex = f" or matches regex {_alternatives(c.regex_values)}" if c.regex_values else ""
    if c.field is ConditionField.HTTP_HEADER:
        return f"header {c.header_name} is {_alternatives(c.values)}{regex}"
    if c.field is ConditionField.QUERY_STRING:
        pairs = [f"{p.key}={p.value}" if p.key is not None else f"any key={p.value}" for p in c.query_pairs]
        return f"query {_alternatives(pairs)}"
    if c.field is ConditionField.SOURCE_IP:
        return f"source IP in {_alternatives(c.values)}"
    return f"{_FIELD_WORDS.get(c.field, str(c.field))} is {_alternatives(c.values)}{regex}"


def condition_view(c: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {"field": str(c.field), "values": list(c.values), "text": condition_text(c)}
    if c.header_name is not None:
        out["header_name"] = c.header_name
    if c.field is ConditionField.QUERY_STRING:
        out["query"] = [{"key": p.key, "value": p.value} for p in c.query_pairs]
    if c.regex_values:
        out["regex_values"] = list(c.regex_values)
    return out


def action_text(a: Action, tg_names: Mapping[str, str]) -> str:
    if isinstance(a, ForwardAction):
        groups = ", ".join(
            f"{tg_names.get(t.target_group_arn, t.target_group_arn)} (weight {t.weight})"
            for t in a.target_groups
        )
        sticky = f", sticky {a.stickiness_duration_seconds} s" if a.stickiness_enabled else ""
        return f"forward to {groups or '(no target group)'}{sticky}"
    if isinstance(a, RedirectAction):
        code = "301" if a.status_code == "HTTP_301" else "302"
        return f"redirect {code} to {a.protocol}://{a.host}:{a.port}{a.path}?{a.query}"
    if isinstance(a, FixedResponseAction):
        ctype = f" ({a.content_type})" if a.content_type else ""
        return f"fixed response {a.status_code}{ctype}"
    return f"{a.type} (recorded, not emulated locally)"


def action_view(a: Action, tg_names: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": str(a.type), "order": a.order, "text": action_text(a, tg_names)}
    if isinstance(a, ForwardAction):
        out["target_groups"] = [
            {
                "arn": t.target_group_arn,
                "name": tg_names.get(t.target_group_arn, t.target_group_arn),
                "weight": t.weight,
            }
            for t in a.target_groups
        ]
        out["stickiness"] = {
            "enabled": a.stickiness_enabled,
            "duration_seconds": a.stickiness_duration_seconds,
        }
    elif isinstance(a, RedirectAction):
        out.update(
            status_code=a.status_code,
            protocol=a.protocol,
            host=a.host,
            port=a.port,
            path=a.path,
            query=a.query,
        )
    elif isinstance(a, FixedResponseAction):
        out.update(status_code=a.status_code, content_type=a.content_type, message_body=a.message_body)
    elif isinstance(a, AuthenticateAction):
        out["emulated"] = False
    return out


def ordered_rules(rules: Sequence[Rule]) -> list[Rule]:
    """Evaluation order: ascending priority (the listener's ``CompiledRules`` sorts the same way)."""
    return sorted(rules, key=lambda r: r.priority)


def rule_views(
    rules: Sequence[Rule], default_actions: Sequence[Action], tg_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Every rule of a listener in evaluation order, the default rule (priority 0) last."""
    out = [
        {
            "arn": r.arn,
            "priority": r.priority,
            "is_default": False,
            "conditions": [condition_view(c) for c in r.conditions],
            "actions": [action_view(a, tg_names) for a in sort_actions(r.actions)],
        }
        for r in ordered_rules(rules)
    ]
    out.append(
        {
            "arn": None,
            "priority": 0,
            "is_default": True,
            "conditions": [],
            "actions": [action_view(a, tg_names) for a in sort_actions(default_actions)],
        }
    )
    return out


def target_view(
    target_id: str,
    port: int,
    health: TargetHealth,
    *,
    outstanding: int = 0,
    requests: int = 0,
    task_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": target_id,
        "port": port,
        "key": f"{target_id}:{port}",
        "state": str(health.state),
        "reason": health.reason,
        "description": health.description,
        "outstanding": outstanding,
        "requests": requests,
        "task_id": task_id,
    }


def target_group_view(tg: TargetGroup, *, in_use: bool, services: Sequence[str]) -> dict[str, Any]:
    hc = tg.health_check
    return {
        "arn": tg.arn,
        "name": tg.name,
        "full_name": tg.full_name,
        "protocol": tg.protocol,
        "port": tg.port,
        "in_use": in_use,
        "health_check": {
            "enabled": hc.enabled,
            "path": hc.path,
            "port": hc.port,
            "protocol": hc.protocol,
            "interval_seconds": hc.interval_seconds,
            "timeout_seconds": hc.timeout_seconds,
            "healthy_threshold": hc.healthy_threshold,
            "unhealthy_threshold": hc.unhealthy_threshold,
            "matcher": hc.matcher_http_code,
        },
        "deregistration_delay_seconds": tg.attributes.deregistration_delay_seconds,
        "algorithm": tg.attributes.algorithm,
        "slow_start_seconds": tg.attributes.slow_start_seconds,
        "targets": [],
        "services": list(services),
    }
