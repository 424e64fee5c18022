"""ELBv2 operations. Configuration changes are made to the API's :class:`ConfigStore` and then pushed to
the data plane through the backend (``set_rules`` / ``set_default_actions`` / ``update_target_group`` /
``update_load_balancer_attributes``), so a routing change applies to the next request. Rule conditions
and actions are validated by :mod:`albfargate.alb.rules` — the same code the load balancer runs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from albfargate.alb.rules import validate_actions, validate_conditions
from albfargate.api.backend import Target
from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.elbv2 import attributes as attrs
from albfargate.api.elbv2 import errors
from albfargate.api.elbv2.views import (
    attributes_view,
    default_rule_view,
    listener_view,
    load_balancer_view,
    rule_view,
    target_group_view,
    target_health_view,
)
from albfargate.api.errors import ApiError
from albfargate.api.wire import Reader, optional_int, page, shape_errors
from albfargate.model.elbv2 import (
    CONDITION_CONFIG_KEY,
    Action,
    ActionType,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    LoadBalancerType,
    QueryPair,
    RedirectAction,
    Rule,
    Scheme,
    TargetGroup,
    TargetGroupTuple,
)
from albfargate.model.ids import (
    hex_id,
    lb_dns_name,
    listener_arn,
    load_balancer_arn,
    rule_arn,
    target_group_arn,
)

VALIDATION = "ValidationError"
MAX_PAGE = 400
MAX_RULES_PER_LB = 100
MAX_TARGETS_PER_TG = 1000
MAX_TAG_RESOURCES = 20
_rule_counter = itertools.count(1)


def _r(params: Params) -> Reader:
    return Reader(params, VALIDATION)


def _paged(r: Reader, items: Sequence[Any]) -> tuple[list[Any], str | None]:
    size = r.integer("PageSize", MAX_PAGE, lo=1, hi=MAX_PAGE) or MAX_PAGE
    return page(items, r.text("Marker"), size, VALIDATION, "Marker")


# --- parsing ----------------------------------------------------------------------------------------------


def _int(value: Any, name: str) -> int | None:
    return optional_int(value, name, VALIDATION)


def _values(raw: Any) -> tuple[str, ...]:
    if raw is None or raw == "" or raw == {}:
        return ()
    if not isinstance(raw, list):
        raise errors.validation("Condition values must be a list")
    return tuple(str(v) for v in raw)


def parse_condition(raw: Any) -> Condition:
    with shape_errors(VALIDATION, "condition"):
        return _parse_condition(raw)


def _parse_condition(raw: Any) -> Condition:
    if not isinstance(raw, dict):
        raise errors.validation("A condition must be a structure")
    try:
        field = ConditionField(raw.get("Field", ""))
    except ValueError:
        raise errors.validation(f"Condition field '{raw.get('Field')}' is not valid") from None
    legacy = _values(raw.get("Values"))
    regex = _values(raw.get("RegexValues"))
    key = CONDITION_CONFIG_KEY[field]
    config = raw.get(key) or {}
    if not isinstance(config, dict):
        raise errors.validation(f"{key} must be a structure")
    if field is ConditionField.QUERY_STRING:
        pairs = []
        for item in config.get("Values") or []:
            if not isinstance(item, dict) or "Value" not in item:
                raise errors.validation("A query-string condition value needs a Value")
            pairs.append(QueryPair(value=str(item["Value"]), key=item.get("Key")))
        if legacy:
            raise errors.validation("A query-string condition takes its values in QueryStringConfig")
        return Condition(field, query_pairs=tuple(pairs))
    typed = _values(config.get("Values"))
    regex = regex or _values(config.get("RegexValues"))
    if legacy and typed:
        raise errors.validation(
            "Specify condition values either in Values or in the condition's config, not both"
        )
    if legacy and field not in (ConditionField.HOST_HEADER, ConditionField.PATH_PATTERN):
        raise errors.validation(f"A '{field}' condition takes its values in {key}")
    header = config.get("HttpHeaderName") if field is ConditionField.HTTP_HEADER else None
    return Condition(field, values=legacy or typed, header_name=header, regex_values=regex)


def _field(config: dict[str, Any], key: str, default: str) -> str:
    value = config.get(key, default)
    if not isinstance(value, str):
        raise errors.validation(f"{key} must be a string")
    return value


def parse_action(ctx: Context, raw: Any) -> Action:
    with shape_errors(VALIDATION, "action"):
        return _parse_action(ctx, raw)


def _parse_action(ctx: Context, raw: Any) -> Action:
    if not isinstance(raw, dict):
        raise errors.validation("An action must be a structure")
    kind = raw.get("Type")
    order = _int(raw.get("Order"), "Order")
    if kind == "forward":
        config = raw.get("ForwardConfig") or {}
        tuples = [
            TargetGroupTuple(
                str(t.get("TargetGroupArn", "")),
                _int(t.get("Weight"), "Weight") or 0 if t.get("Weight") not in (None, "") else 1,
            )
            for t in config.get("TargetGroups") or []
        ]
        single = raw.get("TargetGroupArn")
        if single and tuples and (len(tuples) != 1 or tuples[0].target_group_arn != single):
            raise errors.validation(
                "You cannot specify both a target group ARN and a ForwardConfig with different target groups"
            )
        if single and not tuples:
            tuples = [TargetGroupTuple(str(single), 1)]
        for t in tuples:
            if t.target_group_arn not in ctx.store.target_groups:
                raise ApiError("TargetGroupNotFound", f"Target group '{t.target_group_arn}' not found")
        sticky = config.get("TargetGroupStickinessConfig") or {}
        enabled = str(sticky.get("Enabled", "false")).lower() == "true"
        return ForwardAction(
            tuple(tuples), enabled, _int(sticky.get("DurationSeconds"), "DurationSeconds"), order
        )
    if kind == "redirect":
        c = raw.get("RedirectConfig")
        if not isinstance(c, dict) or not c.get("StatusCode"):
            raise errors.validation("A redirect action needs a RedirectConfig with a StatusCode")
        return RedirectAction(
            status_code=_field(c, "StatusCode", ""),
            protocol=_field(c, "Protocol", "#{protocol}"),
            host=_field(c, "Host", "#{host}"),
            port=_field(c, "Port", "#{port}"),
            path=_field(c, "Path", "/#{path}"),
            query=_field(c, "Query", "#{query}"),
            order=order,
        )
    if kind == "fixed-response":
        c = raw.get("FixedResponseConfig")
        if not isinstance(c, dict) or not c.get("StatusCode"):
            raise errors.validation("A fixed-response action needs a FixedResponseConfig with a StatusCode")
        content_type = c.get("ContentType")
        body = c.get("MessageBody")
        if not all(isinstance(v, str | None) for v in (content_type, body)):
            raise errors.validation("FixedResponseConfig values must be strings")
        return FixedResponseAction(_field(c, "StatusCode", ""), content_type, body, order)
    if kind in ("authenticate-oidc", "authenticate-cognito", "jwt-validation"):
        return AuthenticateAction(ActionType(kind), order)
    raise errors.validation(f"Action type '{kind}' is not valid")


def parse_actions(ctx: Context, raw: Sequence[Any], listener: Listener | None) -> tuple[Action, ...]:
    actions = tuple(parse_action(ctx, a) for a in raw)
    problem = validate_actions(actions, listener_protocol=listener.protocol if listener else None)
    if problem:
        raise errors.validation(problem)
    return actions


def parse_conditions(raw: Sequence[Any]) -> tuple[Condition, ...]:
    conditions = tuple(parse_condition(c) for c in raw)
    if not conditions:
        raise errors.validation("A rule must have at least one condition")
    problem = validate_conditions(conditions)
    if problem:
        raise errors.validation(problem)
    return conditions


# --- lookups ----------------------------------------------------------------------------------------------


def _lb(ctx: Context, arn: str) -> LoadBalancer:
    lb = ctx.store.load_balancers.get(arn)
    if lb is None:
        raise errors.lb_not_found()
    return lb


def _listener(ctx: Context, arn: str) -> Listener:
    x = ctx.store.listeners.get(arn)
    if x is None:
        raise errors.listener_not_found()
    return x


def _tg(ctx: Context, arn: str) -> TargetGroup:
    tg = ctx.store.target_groups.get(arn)
    if tg is None:
        raise errors.tg_not_found()
    return tg


def _lb_arns_of_tg(ctx: Context, tg_arn: str) -> list[str]:
    out: list[str] = []
    for listener in ctx.store.listeners.values():
        actions = list(listener.default_actions)
        for rule in ctx.store.rules_of(listener.arn):
            actions.extend(rule.actions)
        for a in actions:
            uses = isinstance(a, ForwardAction) and any(t.target_group_arn == tg_arn for t in a.target_groups)
            if uses and listener.load_balancer_arn not in out:
                out.append(listener.load_balancer_arn)
    return out


def _push_rules(ctx: Context, listener_arn: str) -> None:
    ctx.backend.set_rules(listener_arn, ctx.store.rules_of(listener_arn))


# --- load balancers ---------------------------------------------------------------------------------------


def describe_load_balancers(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arns, names = r.strs("LoadBalancerArns"), r.strs("Names")
    lbs = list(ctx.store.load_balancers.values())
    if arns:
        lbs = [_lb(ctx, a) for a in arns]
    elif names:
        by_name = {lb.name: lb for lb in lbs}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ApiError("LoadBalancerNotFound", f"Load balancers '[{', '.join(missing)}]' not found")
        lbs = [by_name[n] for n in names]
    items, nxt = _paged(r, lbs)
    views = [load_balancer_view(lb, ctx.store.created_at.get(lb.arn, 0.0)) for lb in items]
    return {"LoadBalancers": views, "NextMarker": nxt}


def describe_load_balancer_attributes(ctx: Context, params: Params) -> Result:
    lb = _lb(ctx, _r(params).req("LoadBalancerArn"))
    return {"Attributes": attributes_view(attrs.lb_pairs(lb.attributes))}


def _pairs(r: Reader, name: str = "Attributes") -> list[tuple[str, str]]:
    out = []
    for item in r.items(name):
        if not isinstance(item, dict) or "Key" not in item:
            raise errors.validation("Each attribute needs a Key and a Value")
        out.append((str(item["Key"]), str(item.get("Value", ""))))
    if not out:
        raise errors.validation("At least one attribute is required")
    return out


def modify_load_balancer_attributes(ctx: Context, params: Params) -> Result:
    r = _r(params)
    lb = _lb(ctx, r.req("LoadBalancerArn"))
    updated = attrs.apply_lb(lb.attributes, _pairs(r))
    ctx.store.load_balancers[lb.arn] = replace(lb, attributes=updated)
    ctx.backend.update_load_balancer_attributes(lb.arn, updated)
    return {"Attributes": attributes_view(attrs.lb_pairs(updated))}


_LB_NAME_RULE = (
    "can have a maximum of 32 characters, can contain only alphanumeric characters or hyphens, "
    "must not begin or end with a hyphen, and must not begin with 'internal-'"
)


def _check_lb_name(name: str) -> None:
    if (
        not (1 <= len(name) <= 32)
        or name.startswith("-")
        or name.endswith("-")
        or name.startswith("internal-")
        or not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name)
    ):
        raise errors.validation(f"Load balancer name '{name}' {_LB_NAME_RULE}")


def create_load_balancer(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("Name")
    _check_lb_name(name)
    kind = r.text("Type") or "application"
    if kind not in ("application", "network", "gateway"):
        raise errors.validation(f"Load balancer type '{kind}' is not valid")
    if kind != "application":
        raise errors.not_permitted(
            f"Only application load balancers run locally; a '{kind}' load balancer cannot be created"
        )
    scheme_raw = r.text("Scheme") or "internet-facing"
    if scheme_raw not in ("internet-facing", "internal"):
        raise errors.validation(f"Scheme '{scheme_raw}' is not valid")
    scheme = Scheme(scheme_raw)
    ip_type = r.text("IpAddressType") or "ipv4"
    if ip_type not in ("ipv4", "dualstack", "dualstack-without-public-ipv4"):
        raise errors.validation(f"IP address type '{ip_type}' is not valid")
    existing = next((lb for lb in ctx.store.load_balancers.values() if lb.name == name), None)
    if existing is not None:  # idempotent for the same settings (spec §10.3)
        if (str(existing.type), existing.scheme, existing.ip_address_type) == (kind, scheme, ip_type):
            created = ctx.store.created_at.get(existing.arn, 0.0)
            return {"LoadBalancers": [load_balancer_view(existing, created)]}
        raise ApiError(
            "DuplicateLoadBalancerName",
            f"A load balancer with the same name '{name}' exists, but with different settings",
        )
    seed = f"api#loadbalancer#{name}"
    lb_id = hex_id(seed)
    lb = LoadBalancer(
        arn=load_balancer_arn(name, lb_id),
        name=name,
        lb_id=lb_id,
        dns_name=lb_dns_name(name, scheme is Scheme.INTERNAL, seed),
        scheme=scheme,
        ip_address_type=ip_type,
    )
    ctx.backend.add_load_balancer(lb)  # refuses (BackendError) before the store changes
    ctx.store.load_balancers[lb.arn] = lb
    ctx.store.created_at[lb.arn] = ctx.clock()
    _tag(ctx, lb.arn, r.items("Tags"))
    return {"LoadBalancers": [load_balancer_view(lb, ctx.store.created_at[lb.arn])]}


def delete_load_balancer(ctx: Context, params: Params) -> Result:
    lb = ctx.store.load_balancers.get(_r(params).req("LoadBalancerArn"))
    if lb is None:
        return {}  # AWS: deleting a missing load balancer succeeds
    if lb.attributes.deletion_protection:
        raise errors.not_permitted(
            f"Load balancer '{lb.arn}' cannot be deleted because deletion protection is enabled"
        )
    ctx.backend.remove_load_balancer(lb.arn)
    for listener in ctx.store.listeners_of(lb.arn):
        _forget_listener(ctx, listener.arn)
    del ctx.store.load_balancers[lb.arn]
    ctx.store.created_at.pop(lb.arn, None)
    ctx.store.tags.pop(lb.arn, None)
    return {}


# --- listeners --------------------------------------------------------------------------------------------


def describe_listeners(ctx: Context, params: Params) -> Result:
    r = _r(params)
    lb_arn, arns = r.text("LoadBalancerArn"), r.strs("ListenerArns")
    if lb_arn is None and not arns:
        raise errors.validation("You must specify either listener ARNs or a load balancer ARN")
    if lb_arn is not None:
        _lb(ctx, lb_arn)
        listeners = ctx.store.listeners_of(lb_arn)
    else:
        listeners = [_listener(ctx, a) for a in arns]
    items, nxt = _paged(r, listeners)
    return {"Listeners": [listener_view(x) for x in items], "NextMarker": nxt}


def modify_listener(ctx: Context, params: Params) -> Result:
    r = _r(params)
    listener = _listener(ctx, r.req("ListenerArn"))
    changed = listener
    port = r.integer("Port", lo=1, hi=65535)
    if port is not None and port != listener.port:
        if any(
            x.port == port
            for x in ctx.store.listeners_of(listener.load_balancer_arn)
            if x.arn != listener.arn
        ):
            raise ApiError(
                "DuplicateListener", "A listener already exists on this port for this load balancer"
            )
        changed = replace(changed, port=port)
    protocol = r.text("Protocol")
    if protocol is not None and protocol != listener.protocol:
        _check_protocol(protocol)
        changed = replace(changed, protocol=protocol)
    if r.items("DefaultActions"):
        changed = replace(changed, default_actions=parse_actions(ctx, r.items("DefaultActions"), listener))
    if r.text("SslPolicy") is not None:
        changed = replace(changed, ssl_policy=r.text("SslPolicy"))
    if r.items("Certificates"):
        changed = replace(
            changed, certificates=tuple(c.get("CertificateArn", "") for c in r.items("Certificates"))
        )
    if r.items("AlpnPolicy"):
        changed = replace(changed, alpn_policy=tuple(r.strs("AlpnPolicy")))
    if changed.protocol == "HTTPS":
        _check_certificates(changed.certificates)
    if (changed.port, changed.protocol) != (listener.port, listener.protocol):
        # a new port or protocol: the listener is bound again (its rules kept)
        ctx.backend.add_listener(changed, ctx.store.rules_of(listener.arn))
    elif changed.default_actions != listener.default_actions:
        ctx.backend.set_default_actions(listener.arn, changed.default_actions)
    ctx.store.listeners[listener.arn] = changed
    return {"Listeners": [listener_view(changed)]}


def describe_listener_attributes(ctx: Context, params: Params) -> Result:
    listener = _listener(ctx, _r(params).req("ListenerArn"))
    return {"Attributes": attributes_view(attrs.listener_pairs(listener.attributes))}


def modify_listener_attributes(ctx: Context, params: Params) -> Result:
    r = _r(params)
    listener = _listener(ctx, r.req("ListenerArn"))
    updated = attrs.apply_listener(listener.attributes, _pairs(r))
    ctx.store.listeners[listener.arn] = replace(listener, attributes=updated)
    return {"Attributes": attributes_view(attrs.listener_pairs(updated))}


def _check_protocol(protocol: str) -> None:
    if protocol not in ("HTTP", "HTTPS"):
        raise errors.validation(
            f"Listener protocol '{protocol}' must be one of 'HTTPS, HTTP' for an application load balancer"
        )


def _check_certificates(certificates: Sequence[str]) -> None:
    if not certificates:
        raise errors.validation("A certificate must be specified for HTTPS listeners")
    for arn in certificates:
        if not (arn.startswith("arn:aws:acm:") or arn.startswith("arn:aws:iam:")):
            raise ApiError("CertificateNotFound", f"Certificate '{arn}' not found")


def create_listener(ctx: Context, params: Params) -> Result:
    r = _r(params)
    lb = _lb(ctx, r.req("LoadBalancerArn"))
    if lb.type is not LoadBalancerType.APPLICATION:
        raise errors.not_permitted(
            f"Load balancer '{lb.name}' is a {lb.type} load balancer; only application load balancers' "
            "listeners run locally"
        )
    port = r.integer("Port", lo=1, hi=65535)
    if port is None:
        raise errors.validation("A listener port must be specified for an application load balancer")
    protocol = r.text("Protocol") or "HTTP"
    _check_protocol(protocol)
    certificates = tuple(
        str(c.get("CertificateArn", "")) for c in r.items("Certificates") if isinstance(c, dict)
    )
    if not r.items("DefaultActions"):
        raise errors.validation("At least one default action must be specified")
    same = [x for x in ctx.store.listeners_of(lb.arn) if x.port == port]
    if same:
        x = same[0]
        actions = parse_actions(ctx, r.items("DefaultActions"), x)
        if x.protocol == protocol and actions == x.default_actions:
            return {"Listeners": [listener_view(x)]}  # idempotent
        raise ApiError("DuplicateListener", "A listener already exists on this port for this load balancer")
    if protocol == "HTTPS":
        _check_certificates(certificates)
    kind = "app"
    listener_id = hex_id(f"api#listener#{lb.arn}#{port}")
    probe = Listener(
        listener_arn(lb.name, lb.lb_id, listener_id, kind), lb.arn, port, protocol, (), certificates
    )
    actions = parse_actions(ctx, r.items("DefaultActions"), probe)
    listener = replace(
        probe,
        default_actions=actions,
        ssl_policy=(r.text("SslPolicy") or "ELBSecurityPolicy-2016-08") if protocol == "HTTPS" else None,
        alpn_policy=tuple(r.strs("AlpnPolicy")),
    )
    ctx.backend.add_listener(listener, ())  # refuses (BackendError) before the store changes
    ctx.store.add_listener(listener)
    _tag(ctx, listener.arn, r.items("Tags"))
    return {"Listeners": [listener_view(listener)]}


def _forget_listener(ctx: Context, listener_arn: str) -> None:
    """The listener, its rules and their tags leave the store."""
    for rule in ctx.store.rules_of(listener_arn):
        ctx.store.tags.pop(rule.arn, None)
    ctx.store.remove_listener(listener_arn)
    ctx.store.tags.pop(listener_arn, None)


def delete_listener(ctx: Context, params: Params) -> Result:
    listener = _listener(ctx, _r(params).req("ListenerArn"))
    ctx.backend.remove_listener(listener.arn)
    _forget_listener(ctx, listener.arn)
    return {}


# --- rules ------------------------------------------------------------------------------------------------


def describe_rules(ctx: Context, params: Params) -> Result:
    r = _r(params)
    listener_arn, arns = r.text("ListenerArn"), r.strs("RuleArns")
    if listener_arn is None and not arns:
        raise errors.validation("You must specify either listener rule ARNs or a listener ARN")
    views: list[dict[str, Any]] = []
    if listener_arn is not None:
        listener = _listener(ctx, listener_arn)
        views = [rule_view(x) for x in ctx.store.rules_of(listener.arn)]
        views.append(default_rule_view(ctx.store.default_rule_of(listener.arn), listener))
    else:
        for arn in arns:
            if arn in ctx.store.rules:
                views.append(rule_view(ctx.store.rules[arn]))
            elif arn in ctx.store.default_rules:
                views.append(default_rule_view(arn, ctx.store.listeners[ctx.store.default_rules[arn]]))
            else:
                raise errors.rule_not_found()
    items, nxt = _paged(r, views)
    return {"Rules": items, "NextMarker": nxt}


def _check_priority(ctx: Context, listener_arn: str, priority: int, ignore: Sequence[str] = ()) -> None:
    if not 1 <= priority <= 50000:
        raise errors.validation(
            f"1 validation error detected: Value '{priority}' at 'priority' failed to satisfy constraint: "
            "Member must have value between 1 and 50000"
        )
    if any(x.priority == priority and x.arn not in ignore for x in ctx.store.rules_of(listener_arn)):
        raise errors.priority_in_use(priority)


def create_rule(ctx: Context, params: Params) -> Result:
    r = _r(params)
    listener = _listener(ctx, r.req("ListenerArn"))
    priority = r.integer("Priority")
    if priority is None:
        raise errors.validation("A priority is required")
    _check_priority(ctx, listener.arn, priority)
    conditions = parse_conditions(r.items("Conditions"))
    actions = parse_actions(ctx, r.items("Actions"), listener)
    lb_rules = sum(len(ctx.store.rules_of(x.arn)) for x in ctx.store.listeners_of(listener.load_balancer_arn))
    if lb_rules >= MAX_RULES_PER_LB:
        raise ApiError("TooManyRules", "You've reached the limit on the number of rules per load balancer")
    parts = listener.arn.split(":listener/", 1)[1].split("/")
    rid = hex_id(f"{listener.arn}#{priority}#{next(_rule_counter)}#{ctx.clock()}")
    rule = Rule(
        rule_arn(parts[1], parts[2], parts[3], rid, parts[0]), listener.arn, priority, conditions, actions
    )
    ctx.store.rules[rule.arn] = rule
    _tag(ctx, rule.arn, r.items("Tags"))
    _push_rules(ctx, listener.arn)
    return {"Rules": [rule_view(rule)]}


def modify_rule(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arn = r.req("RuleArn")
    if arn in ctx.store.default_rules:
        listener = ctx.store.listeners[ctx.store.default_rules[arn]]
        if r.items("Conditions"):
            raise errors.not_permitted("The conditions of a default rule cannot be modified")
        if r.items("Actions"):
            listener = replace(listener, default_actions=parse_actions(ctx, r.items("Actions"), listener))
            ctx.store.listeners[listener.arn] = listener
            ctx.backend.set_default_actions(listener.arn, listener.default_actions)
        return {"Rules": [default_rule_view(arn, listener)]}
    rule = ctx.store.rules.get(arn)
    if rule is None:
        raise errors.rule_not_found()
    listener = _listener(ctx, rule.listener_arn)
    if r.items("Conditions"):
        rule = replace(rule, conditions=parse_conditions(r.items("Conditions")))
    if r.items("Actions"):
        rule = replace(rule, actions=parse_actions(ctx, r.items("Actions"), listener))
    ctx.store.rules[arn] = rule
    _push_rules(ctx, listener.arn)
    return {"Rules": [rule_view(rule)]}


def delete_rule(ctx: Context, params: Params) -> Result:
    arn = _r(params).req("RuleArn")
    if arn in ctx.store.default_rules:
        raise errors.not_permitted(f"Default rule '{arn}' cannot be deleted")
    rule = ctx.store.rules.pop(arn, None)
    if rule is None:
        raise errors.rule_not_found()
    ctx.store.tags.pop(arn, None)
    _push_rules(ctx, rule.listener_arn)
    return {}


def set_rule_priorities(ctx: Context, params: Params) -> Result:
    r = _r(params)
    wanted: dict[str, int] = {}
    for item in r.items("RulePriorities"):
        if not isinstance(item, dict):
            raise errors.validation("RulePriorities must be a list of {RuleArn, Priority}")
        arn = str(item.get("RuleArn", ""))
        priority = _int(item.get("Priority"), "Priority")
        if arn in ctx.store.default_rules:
            raise errors.not_permitted(f"The priority of default rule '{arn}' cannot be changed")
        if arn not in ctx.store.rules:
            raise errors.rule_not_found()
        if priority is None:
            raise errors.validation("A priority is required")
        wanted[arn] = priority
    if not wanted:
        raise errors.validation("At least one rule priority is required")
    for arn, priority in wanted.items():
        listener_arn = ctx.store.rules[arn].listener_arn
        _check_priority(ctx, listener_arn, priority, ignore=list(wanted))
        clash = [
            a
            for a, p in wanted.items()
            if p == priority and a != arn and ctx.store.rules[a].listener_arn == listener_arn
        ]
        if clash:
            raise errors.priority_in_use(priority)
    listeners = set()
    for arn, priority in wanted.items():
        ctx.store.rules[arn] = replace(ctx.store.rules[arn], priority=priority)
        listeners.add(ctx.store.rules[arn].listener_arn)
    for listener_arn in listeners:
        _push_rules(ctx, listener_arn)
    return {"Rules": [rule_view(ctx.store.rules[a]) for a in wanted]}


# --- target groups ----------------------------------------------------------------------------------------


def describe_target_groups(ctx: Context, params: Params) -> Result:
    r = _r(params)
    lb_arn, arns, names = r.text("LoadBalancerArn"), r.strs("TargetGroupArns"), r.strs("Names")
    groups = list(ctx.store.target_groups.values())
    if lb_arn is not None:
        _lb(ctx, lb_arn)
        groups = [g for g in groups if lb_arn in _lb_arns_of_tg(ctx, g.arn)]
    elif arns:
        groups = [_tg(ctx, a) for a in arns]
    elif names:
        by_name = {g.name: g for g in groups}
        if any(n not in by_name for n in names):
            raise errors.tg_not_found()
        groups = [by_name[n] for n in names]
    items, nxt = _paged(r, groups)
    return {
        "TargetGroups": [target_group_view(g, _lb_arns_of_tg(ctx, g.arn)) for g in items],
        "NextMarker": nxt,
    }


def _health_check(r: Reader, base: HealthCheck, protocol: str | None) -> HealthCheck:
    hc = base
    if r.text("HealthCheckProtocol") is not None:
        p = r.req("HealthCheckProtocol")
        if p not in ("HTTP", "HTTPS"):
            raise errors.validation(
                f"Health check protocol '{p}' is not supported for target groups with the "
                f"{protocol or 'HTTP'} protocol"
            )
        hc = replace(hc, protocol=p)
    if r.text("HealthCheckPort") is not None:
        port = r.req("HealthCheckPort")
        if port != "traffic-port" and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise errors.validation("Health check port must be 'traffic-port' or 1-65535")
        hc = replace(hc, port=port)
    if r.text("HealthCheckPath") is not None:
        path = r.req("HealthCheckPath")
        if not path.startswith("/") or len(path) > 1024:
            raise errors.validation("Health check path must start with '/' and be at most 1024 characters")
        hc = replace(hc, path=path)
    if params_has(r, "HealthCheckEnabled"):
        enabled = r.flag("HealthCheckEnabled", True)
        if not enabled:
            raise errors.invalid_config(
                "Health checks cannot be disabled for target groups with target type 'instance' or 'ip'"
            )
        hc = replace(hc, enabled=enabled)
    interval = r.integer("HealthCheckIntervalSeconds", lo=5, hi=300)
    timeout = r.integer("HealthCheckTimeoutSeconds", lo=2, hi=120)
    healthy = r.integer("HealthyThresholdCount", lo=2, hi=10)
    unhealthy = r.integer("UnhealthyThresholdCount", lo=2, hi=10)
    hc = replace(
        hc,
        interval_seconds=hc.interval_seconds if interval is None else interval,
        timeout_seconds=hc.timeout_seconds if timeout is None else timeout,
        healthy_threshold=hc.healthy_threshold if healthy is None else healthy,
        unhealthy_threshold=hc.unhealthy_threshold if unhealthy is None else unhealthy,
    )
    if hc.timeout_seconds >= hc.interval_seconds:
        raise errors.validation("Health check interval must be greater than the timeout.")
    matcher = r.struct("Matcher")
    if matcher:
        code = matcher.get("HttpCode")
        if code is not None:
            _check_matcher(str(code))
            hc = replace(hc, matcher_http_code=str(code))
        if matcher.get("GrpcCode") is not None:
            hc = replace(hc, matcher_grpc_code=str(matcher["GrpcCode"]))
    return hc


def params_has(r: Reader, name: str) -> bool:
    return r.params.get(name) not in (None, "")


def _check_matcher(code: str) -> None:
    for part in code.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() and 200 <= int(b) <= 499 for b in bounds):
            raise errors.validation(f"Health check matcher HTTP code '{code}' must be within '200-499'")


def modify_target_group(ctx: Context, params: Params) -> Result:
    r = _r(params)
    tg = _tg(ctx, r.req("TargetGroupArn"))
    updated = replace(tg, health_check=_health_check(r, tg.health_check, tg.protocol))
    ctx.store.target_groups[tg.arn] = updated
    ctx.backend.update_target_group(updated)
    return {"TargetGroups": [target_group_view(updated, _lb_arns_of_tg(ctx, tg.arn))]}


def describe_target_group_attributes(ctx: Context, params: Params) -> Result:
    tg = _tg(ctx, _r(params).req("TargetGroupArn"))
    return {"Attributes": attributes_view(attrs.tg_pairs(tg.attributes))}


def modify_target_group_attributes(ctx: Context, params: Params) -> Result:
    r = _r(params)
    tg = _tg(ctx, r.req("TargetGroupArn"))
    updated = replace(tg, attributes=attrs.apply_tg(tg.attributes, _pairs(r)))
    ctx.store.target_groups[tg.arn] = updated
    ctx.backend.update_target_group(updated)
    return {"Attributes": attributes_view(attrs.tg_pairs(updated.attributes))}


def create_target_group(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.req("Name")
    if (
        not (1 <= len(name) <= 32)
        or name.startswith("-")
        or name.endswith("-")
        or not all(ch.isalnum() or ch == "-" for ch in name)
    ):
        raise errors.validation(
            f"Target group name '{name}' can have a maximum of 32 characters, can contain only "
            "alphanumeric characters or hyphens, and must not begin or end with a hyphen"
        )
    protocol = r.text("Protocol") or "HTTP"
    target_type = r.text("TargetType") or "instance"
    port = r.integer("Port", lo=1, hi=65535)
    if port is None and target_type != "lambda":
        raise errors.validation("A port must be specified")
    hc = _health_check(r, HealthCheck(), protocol)
    existing = next((g for g in ctx.store.target_groups.values() if g.name == name), None)
    if existing is not None:
        if (existing.port, existing.protocol, existing.target_type, existing.health_check) == (
            port,
            protocol,
            target_type,
            hc,
        ):
            return {"TargetGroups": [target_group_view(existing, _lb_arns_of_tg(ctx, existing.arn))]}
        raise ApiError(
            "DuplicateTargetGroupName",
            "A target group with the same name exists, but with different settings",
        )
    tg_id = hex_id(f"targetgroup#{name}#{ctx.clock()}")
    tg = TargetGroup(
        arn=target_group_arn(name, tg_id),
        name=name,
        tg_id=tg_id,
        port=port,
        protocol=protocol,
        protocol_version=r.text("ProtocolVersion") or "HTTP1",
        target_type=target_type,
        vpc_id=r.text("VpcId"),
        health_check=hc,
    )
    ctx.store.target_groups[tg.arn] = tg
    ctx.store.created_at[tg.arn] = ctx.clock()
    _tag(ctx, tg.arn, r.items("Tags"))
    ctx.backend.update_target_group(tg)
    return {"TargetGroups": [target_group_view(tg, [])]}


def delete_target_group(ctx: Context, params: Params) -> Result:
    arn = _r(params).req("TargetGroupArn")
    if arn not in ctx.store.target_groups:
        return {}
    if _lb_arns_of_tg(ctx, arn):
        raise ApiError("ResourceInUse", f"Target group '{arn}' is currently in use by a listener or a rule")
    del ctx.store.target_groups[arn]
    ctx.store.tags.pop(arn, None)
    return {}


# --- targets ----------------------------------------------------------------------------------------------


def _targets(r: Reader, tg: TargetGroup, *, need_port: bool) -> list[Target]:
    out = []
    for item in r.items("Targets"):
        if not isinstance(item, dict) or not item.get("Id"):
            raise errors.validation("Each target needs an Id")
        port = _int(item.get("Port"), "Port")
        if port is None:
            port = tg.port
        if port is None and need_port:
            raise errors.validation("A port must be specified for the target")
        if port is not None and not 1 <= port <= 65535:
            raise errors.validation("Target port must be between 1 and 65535")
        out.append(Target(str(item["Id"]), port or 0))
    if not out:
        raise errors.validation("At least one target is required")
    return out


def _check_target_id(tg: TargetGroup, target: Target) -> None:
    if tg.target_type == "ip":
        import ipaddress

        try:
            ipaddress.ip_address(target.id)
        except ValueError:
            raise errors.invalid_target(f"The IP address '{target.id}' is not a valid IPv4 address") from None


def register_targets(ctx: Context, params: Params) -> Result:
    r = _r(params)
    tg = _tg(ctx, r.req("TargetGroupArn"))
    targets = _targets(r, tg, need_port=True)
    for t in targets:
        _check_target_id(tg, t)
    current = {t for t, _ in ctx.backend.describe_targets(tg.arn)}
    if len(current | set(targets)) > MAX_TARGETS_PER_TG:
        raise ApiError("TooManyTargets", "You've reached the limit on the number of targets per target group")
    for t in targets:
        ctx.backend.register_target(tg.arn, t)
    return {}


def deregister_targets(ctx: Context, params: Params) -> Result:
    r = _r(params)
    tg = _tg(ctx, r.req("TargetGroupArn"))
    targets = _targets(r, tg, need_port=False)
    registered = {t for t, h in ctx.backend.describe_targets(tg.arn)}
    missing = [t for t in targets if t not in registered]
    if missing:
        listed = ", ".join(f"'{t.id}:{t.port}'" for t in missing)
        raise errors.invalid_target(
            f"The following targets are not registered in target group '{tg.arn}': {listed}"
        )
    for t in targets:
        ctx.backend.deregister_target(tg.arn, t)
    return {}


def describe_target_health(ctx: Context, params: Params) -> Result:
    r = _r(params)
    tg = _tg(ctx, r.req("TargetGroupArn"))
    anomaly = "AnomalyDetection" in r.strs("Include") or "All" in r.strs("Include")
    described = ctx.backend.describe_targets(tg.arn)
    if not r.items("Targets"):
        views = [target_health_view(tg, t, h, anomaly=anomaly) for t, h in described]
        return {"TargetHealthDescriptions": views}
    views = []
    for item in r.items("Targets"):
        if not isinstance(item, dict) or not item.get("Id"):
            raise errors.validation("Each target needs an Id")
        port = _int(item.get("Port"), "Port")
        matches = [(t, h) for t, h in described if t.id == item["Id"] and (port is None or t.port == port)]
        if matches:
            views.extend(target_health_view(tg, t, h, anomaly=anomaly) for t, h in matches)
            continue
        target = Target(str(item["Id"]), port if port is not None else (tg.port or 0))
        _check_target_id(tg, target)
        views.append(target_health_view(tg, target, ctx.backend.health_of(tg.arn, target), anomaly=anomaly))
    return {"TargetHealthDescriptions": views}


# --- tags, limits, policies -------------------------------------------------------------------------------


def _resource_exists(ctx: Context, arn: str) -> None:
    s = ctx.store
    if arn in s.load_balancers or arn in s.listeners or arn in s.rules or arn in s.target_groups:
        return
    if arn in s.default_rules:
        return
    if ":targetgroup/" in arn:
        raise errors.tg_not_found()
    if ":listener-rule/" in arn:
        raise errors.rule_not_found()
    if ":listener/" in arn:
        raise errors.listener_not_found()
    if ":loadbalancer/" in arn:
        raise errors.lb_not_found()
    raise errors.validation(f"The ARN '{arn}' is not valid")


def _tag(ctx: Context, arn: str, tags: Sequence[Any]) -> None:
    bucket = ctx.store.tags.setdefault(arn, {})
    for t in tags:
        if not isinstance(t, dict) or not t.get("Key"):
            raise errors.validation("Each tag needs a Key")
        bucket[str(t["Key"])] = str(t.get("Value", ""))
    if len(bucket) > 50:
        raise ApiError("TooManyTags", "You've reached the limit on the number of tags for this resource")


def describe_tags(ctx: Context, params: Params) -> Result:
    arns = _r(params).strs("ResourceArns")
    if not arns or len(arns) > MAX_TAG_RESOURCES:
        raise errors.validation(f"Between 1 and {MAX_TAG_RESOURCES} resource ARNs are required")
    out = []
    for arn in arns:
        _resource_exists(ctx, arn)
        tags = ctx.store.tags.get(arn, {})
        out.append({"ResourceArn": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})
    return {"TagDescriptions": out}


def add_tags(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arns = r.strs("ResourceArns")
    if not arns:
        raise errors.validation("At least one resource ARN is required")
    for arn in arns:
        _resource_exists(ctx, arn)
    for arn in arns:
        _tag(ctx, arn, r.items("Tags"))
    return {}


def remove_tags(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arns = r.strs("ResourceArns")
    for arn in arns:
        _resource_exists(ctx, arn)
    for arn in arns:
        for key in r.strs("TagKeys"):
            ctx.store.tags.get(arn, {}).pop(key, None)
    return {}


_LIMITS = (
    ("application-load-balancers", "50"),
    ("target-groups", "3000"),
    ("targets-per-application-load-balancer", "1000"),
    ("listeners-per-application-load-balancer", "50"),
    ("rules-per-application-load-balancer", "100"),
    ("target-groups-per-action-on-application-load-balancer", "5"),
    ("target-groups-per-application-load-balancer", "100"),
    ("certificates-per-application-load-balancer", "25"),
)


def describe_account_limits(ctx: Context, params: Params) -> Result:
    items, nxt = _paged(_r(params), list(_LIMITS))
    return {"Limits": [{"Name": n, "Max": m} for n, m in items], "NextMarker": nxt}


_SSL_POLICIES = ("ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-2016-08")


def describe_ssl_policies(ctx: Context, params: Params) -> Result:
    r = _r(params)
    names = r.strs("Names") or list(_SSL_POLICIES)
    for n in names:
        if n not in _SSL_POLICIES:
            raise ApiError("SSLPolicyNotFound", f"SSL policy '{n}' not found")
    return {
        "SslPolicies": [
            {
                "Name": n,
                "SslProtocols": ["TLSv1.2", "TLSv1.3"] if "TLS13" in n else ["TLSv1", "TLSv1.1", "TLSv1.2"],
                "Ciphers": [],
                "SupportedLoadBalancerTypes": ["application", "network"],
            }
            for n in names
        ]
    }


OPERATIONS: dict[str, Handler] = {
    "DescribeLoadBalancers": describe_load_balancers,
    "DescribeLoadBalancerAttributes": describe_load_balancer_attributes,
    "ModifyLoadBalancerAttributes": modify_load_balancer_attributes,
    "CreateLoadBalancer": create_load_balancer,
    "DeleteLoadBalancer": delete_load_balancer,
    "DescribeListeners": describe_listeners,
    "ModifyListener": modify_listener,
    "DescribeListenerAttributes": describe_listener_attributes,
    "ModifyListenerAttributes": modify_listener_attributes,
    "CreateListener": create_listener,
    "DeleteListener": delete_listener,
    "DescribeRules": describe_rules,
    "CreateRule": create_rule,
    "ModifyRule": modify_rule,
    "DeleteRule": delete_rule,
    "SetRulePriorities": set_rule_priorities,
    "DescribeTargetGroups": describe_target_groups,
    "ModifyTargetGroup": modify_target_group,
    "DescribeTargetGroupAttributes": describe_target_group_attributes,
    "ModifyTargetGroupAttributes": modify_target_group_attributes,
    "CreateTargetGroup": create_target_group,
    "DeleteTargetGroup": delete_target_group,
    "RegisterTargets": register_targets,
    "DeregisterTargets": deregister_targets,
    "DescribeTargetHealth": describe_target_health,
    "DescribeTags": describe_tags,
    "AddTags": add_tags,
    "RemoveTags": remove_tags,
    "DescribeAccountLimits": describe_account_limits,
    "DescribeSSLPolicies": describe_ssl_policies,
}
