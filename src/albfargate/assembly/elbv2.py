"""ELBv2 resources -> model: load balancers (application and network), listeners, listener rules and
target groups, with AWS's defaults where the template is silent (spec §3.2, §3.5–§3.9, §4.1).

Owns: names, ids and ARNs of ELBv2 resources, their ``Ref``/``GetAtt`` values, the parsing of actions
and conditions (legacy ``Values`` and the ``*Config`` forms) and of attribute lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from albfargate.model import (
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
    LoadBalancerAttributes,
    LoadBalancerType,
    NotEmulated,
    QueryPair,
    RedirectAction,
    Rule,
    Scheme,
    TargetGroup,
    TargetGroupAttributes,
    TargetGroupTuple,
    ids,
)
from albfargate.model.elbv2 import CONDITION_CONFIG_KEY

from .context import Props, ResourceContext, generated_name, to_bool
from .kinds import ResourceKind

LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"

# Route 53 hosted zone of ELB DNS names in the local region (us-east-1), for CanonicalHostedZoneID.
ALB_HOSTED_ZONE = "Z35SXDOTRQ7X7K"
NLB_HOSTED_ZONE = "Z26RNL4JYFTOTI"

NLB_PROTOCOLS = frozenset({"TCP", "UDP", "TLS", "TCP_UDP"})


# ---- names, ids, ARNs -------------------------------------------------------------------------------


_ARN_KIND = {"application": "app", "network": "net", "gateway": "gwy"}


def _lb_kind(ctx: ResourceContext) -> str:
    """``application`` | ``network`` | ``gateway`` (gateway load balancers are listed, not emulated)."""
    value = (ctx.props.str("Type") or "application").lower()
    if value not in _ARN_KIND:
        ctx.props.error("Type", f"unknown load balancer type '{value}'")
    return value


def _lb_type(ctx: ResourceContext) -> LoadBalancerType:
    return LoadBalancerType(_lb_kind(ctx))


def _lb_name(ctx: ResourceContext) -> str:
    return ctx.props.str("Name") or generated_name(ctx.stack, ctx.logical_id)


def _lb_arn(ctx: ResourceContext) -> str:
    kind = _ARN_KIND[_lb_kind(ctx)]
    return ids.load_balancer_arn(_lb_name(ctx), ids.hex_id(ctx.seed), kind)


def parse_lb_arn(arn: str) -> tuple[str, str, str] | None:
    """``(kind, name, id)`` of a load balancer ARN (``...:loadbalancer/app/<name>/<id>``)."""
    _, _, resource = arn.rpartition(":loadbalancer/")
    parts = resource.split("/")
    if len(parts) != 3 or not resource:
        return None
    return parts[0], parts[1], parts[2]


def parse_listener_arn(arn: str) -> tuple[str, str, str, str] | None:
    """``(kind, lb name, lb id, listener id)`` of a listener ARN."""
    _, _, resource = arn.rpartition(":listener/")
    parts = resource.split("/")
    if len(parts) != 4 or not resource:
        return None
    return parts[0], parts[1], parts[2], parts[3]


def _listener_arn(ctx: ResourceContext) -> str:
    lb = ctx.props.req_str("LoadBalancerArn")
    parsed = parse_lb_arn(lb)
    if parsed is None:
        ctx.props.error("LoadBalancerArn", f"not a load balancer ARN: {lb!r}")
    kind, name, lb_id = parsed
    return ids.listener_arn(name, lb_id, ids.hex_id(ctx.seed), kind)


def _rule_arn(ctx: ResourceContext) -> str:
    listener = ctx.props.req_str("ListenerArn")
    parsed = parse_listener_arn(listener)
    if parsed is None:
        ctx.props.error("ListenerArn", f"not a listener ARN: {listener!r}")
    kind, name, lb_id, listener_id = parsed
    return ids.rule_arn(name, lb_id, listener_id, ids.hex_id(ctx.seed), kind)


def _tg_name(ctx: ResourceContext) -> str:
    return ctx.props.str("Name") or generated_name(ctx.stack, ctx.logical_id)


def _tg_arn(ctx: ResourceContext) -> str:
    return ids.target_group_arn(_tg_name(ctx), ids.hex_id(ctx.seed))


def _tg_load_balancers(ctx: ResourceContext) -> list[str]:
    """``LoadBalancerArns``: the load balancers whose listeners or rules forward to this group."""
    scope = ctx.scope
    out: list[str] = []
    for listener_id in scope.of_type(LISTENER):
        if scope.references(ctx.logical_id, listener_id):
            lb = scope.context(listener_id).props.str("LoadBalancerArn")
            if lb and lb not in out:
                out.append(lb)
    for rule_id in scope.of_type(RULE):
        if scope.references(ctx.logical_id, rule_id):
            parsed = parse_listener_arn(scope.context(rule_id).props.str("ListenerArn") or "")
            if parsed:
                kind, name, lb_id, _ = parsed
                lb = ids.load_balancer_arn(name, lb_id, kind)
                if lb not in out:
                    out.append(lb)
    return out


# ---- load balancer -------------------------------------------------------------------------------


def _dns_name(ctx: ResourceContext) -> str:
    internal = (ctx.props.str("Scheme") or "internet-facing") == "internal"
    return ids.lb_dns_name(_lb_name(ctx), internal, ctx.seed)


def _lb_att(ctx: ResourceContext, attribute: str) -> Any:
    arn = _lb_arn(ctx)
    lb_id = ids.hex_id(ctx.seed)
    kind = _ARN_KIND[_lb_kind(ctx)]
    values: dict[str, Callable[[], Any]] = {
        "DNSName": lambda: _dns_name(ctx),
        "LoadBalancerFullName": lambda: f"{kind}/{_lb_name(ctx)}/{lb_id}",
        "LoadBalancerName": lambda: _lb_name(ctx),
        "LoadBalancerArn": lambda: arn,
        "CanonicalHostedZoneID": lambda: ALB_HOSTED_ZONE if kind == "app" else NLB_HOSTED_ZONE,
        "SecurityGroups": lambda: list(ctx.props.str_list("SecurityGroups")),
    }
    return values[attribute]()


def _bool_attr(value: str, key: str, props: Props, field: str) -> bool:
    return to_bool(value, lambda m: props.error(field, f"{key}: {m}"))


def _int_attr(value: str, key: str, props: Props, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        props.error(field, f"{key}: expected a number, got {value!r}")


def lb_attributes(props: Props) -> LoadBalancerAttributes:
    raw = props.pairs("LoadBalancerAttributes")
    a = dict(raw)
    f = "LoadBalancerAttributes"
    d = LoadBalancerAttributes()

    def b(key: str, default: bool) -> bool:
        return _bool_attr(a[key], key, props, f) if key in a else default

    def i(key: str, default: int) -> int:
        return _int_attr(a[key], key, props, f) if key in a else default

    mode = a.get("routing.http.desync_mitigation_mode", d.desync_mitigation_mode)
    if mode not in ("monitor", "defensive", "strictest"):
        props.error(f, f"routing.http.desync_mitigation_mode: unknown mode {mode!r}")
    xff = a.get("routing.http.xff_header_processing.mode", d.xff_header_processing_mode)
    if xff not in ("append", "preserve", "remove"):
        props.error(f, f"routing.http.xff_header_processing.mode: unknown mode {xff!r}")
    return LoadBalancerAttributes(
        idle_timeout_seconds=i("idle_timeout.timeout_seconds", d.idle_timeout_seconds),
        client_keep_alive_seconds=i("client_keep_alive.seconds", d.client_keep_alive_seconds),
        http2_enabled=b("routing.http2.enabled", d.http2_enabled),
        desync_mitigation_mode=mode,
        drop_invalid_header_fields=b(
            "routing.http.drop_invalid_header_fields.enabled", d.drop_invalid_header_fields
        ),
        preserve_host_header=b("routing.http.preserve_host_header.enabled", d.preserve_host_header),
        xff_header_processing_mode=xff,
        xff_client_port=b("routing.http.xff_client_port.enabled", d.xff_client_port),
        tls_version_and_cipher_suite_headers=b(
            "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
            d.tls_version_and_cipher_suite_headers,
        ),
        deletion_protection=b("deletion_protection.enabled", d.deletion_protection),
        access_logs_s3_enabled=b("access_logs.s3.enabled", d.access_logs_s3_enabled),
        waf_fail_open=b("waf.fail_open.enabled", d.waf_fail_open),
        raw=raw,
    )


def _convert_lb(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    if _lb_kind(ctx) == "gateway":
        return [NotEmulated(ctx.stack, ctx.logical_id, ctx.type, "gateway load balancer: not emulated")]
    lb_type = _lb_type(ctx)
    scheme = p.str("Scheme") or "internet-facing"
    if scheme not in ("internet-facing", "internal"):
        p.error("Scheme", f"unknown scheme {scheme!r}")
    name = _lb_name(ctx)
    if len(name) > 32:
        p.error("Name", f"load balancer name {name!r} is longer than 32 characters")
    return [
        LoadBalancer(
            arn=_lb_arn(ctx),
            name=name,
            lb_id=ids.hex_id(ctx.seed),
            dns_name=_dns_name(ctx),
            type=lb_type,
            scheme=Scheme(scheme),
            ip_address_type=p.str("IpAddressType") or "ipv4",
            attributes=lb_attributes(p),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


# ---- actions and conditions ------------------------------------------------------------------------


def parse_action(a: Props) -> Action:
    kind = a.req_str("Type")
    order = a.int("Order")
    if kind == ActionType.FORWARD:
        forward = a.sub("ForwardConfig")
        groups: list[TargetGroupTuple] = []
        sticky_enabled = False
        sticky_duration: int | None = None
        if forward is not None:
            for g in forward.items("TargetGroups"):
                groups.append(TargetGroupTuple(g.req_str("TargetGroupArn"), g.int("Weight", 1) or 0))
            sticky = forward.sub("TargetGroupStickinessConfig")
            if sticky is not None:
                sticky_enabled = bool(sticky.bool("Enabled", False))
                sticky_duration = sticky.int("DurationSeconds")
        if not groups:
            arn = a.str("TargetGroupArn")
            if arn is None:
                a.error(None, "forward action needs TargetGroupArn or ForwardConfig.TargetGroups")
            groups.append(TargetGroupTuple(arn, 1))
        return ForwardAction(tuple(groups), sticky_enabled, sticky_duration, order)
    if kind == ActionType.REDIRECT:
        r = a.sub("RedirectConfig")
        if r is None:
            a.error("RedirectConfig", "redirect action needs RedirectConfig")
        d = RedirectAction()
        status = r.req_str("StatusCode")
        if status not in ("HTTP_301", "HTTP_302"):
            r.error("StatusCode", f"redirect status must be HTTP_301 or HTTP_302, got {status!r}")
        return RedirectAction(
            status_code=status,
            protocol=r.str("Protocol") or d.protocol,
            host=r.str("Host") or d.host,
            port=r.str("Port") or d.port,
            path=r.str("Path") or d.path,
            query=r.str("Query", d.query) or "",
            order=order,
        )
    if kind == ActionType.FIXED_RESPONSE:
        fr = a.sub("FixedResponseConfig")
        if fr is None:
            a.error("FixedResponseConfig", "fixed-response action needs FixedResponseConfig")
        return FixedResponseAction(
            status_code=fr.req_str("StatusCode"),
            content_type=fr.str("ContentType"),
            message_body=fr.str("MessageBody"),
            order=order,
        )
    if kind in (ActionType.AUTHENTICATE_OIDC, ActionType.AUTHENTICATE_COGNITO, ActionType.JWT_VALIDATION):
        return AuthenticateAction(ActionType(kind), order)
    a.error("Type", f"unknown action type {kind!r}")


def parse_actions(p: Props, key: str) -> tuple[Action, ...]:
    return tuple(parse_action(a) for a in p.items(key))


def parse_condition(c: Props) -> Condition:
    field_name = c.str("Field")
    if field_name is None:  # infer from the one *Config given
        given = [f for f, key in CONDITION_CONFIG_KEY.items() if c.has(key)]
        if len(given) != 1:
            c.error("Field", "condition needs a Field")
        field = given[0]
    else:
        try:
            field = ConditionField(field_name)
        except ValueError:
            c.error("Field", f"unknown condition field {field_name!r}")
    config = c.sub(CONDITION_CONFIG_KEY[field])
    legacy = c.str_list("Values")
    if field is ConditionField.QUERY_STRING:
        pairs: list[QueryPair] = []
        if config is not None:
            for q in config.items("Values"):
                pairs.append(QueryPair(value=q.req_str("Value"), key=q.str("Key")))
        if not pairs and legacy:
            c.error("Values", "query-string conditions need QueryStringConfig")
        if not pairs:
            c.error("QueryStringConfig", "query-string condition has no values")
        return Condition(field=field, query_pairs=tuple(pairs))
    values = config.str_list("Values") if config is not None else ()
    regex = config.str_list("RegexValues") if config is not None else ()
    header_name = None
    if field is ConditionField.HTTP_HEADER:
        if config is None:
            c.error("HttpHeaderConfig", "http-header conditions need HttpHeaderConfig")
        header_name = config.req_str("HttpHeaderName")
    if not values and not regex:
        if field not in (ConditionField.HOST_HEADER, ConditionField.PATH_PATTERN) and legacy:
            c.error("Values", f"{field.value} conditions need {CONDITION_CONFIG_KEY[field]}")
        values = legacy
    if not values and not regex:
        c.error(None, f"{field.value} condition has no values")
    return Condition(field=field, values=values, header_name=header_name, regex_values=regex)


# ---- listener and rule -------------------------------------------------------------------------------


def _convert_listener(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    lb_arn = p.req_str("LoadBalancerArn")
    parsed = parse_lb_arn(lb_arn)
    if parsed is not None and parsed[0] == "gwy":
        return [
            NotEmulated(
                ctx.stack, ctx.logical_id, ctx.type, "listener of a gateway load balancer: not emulated"
            )
        ]
    is_net = parsed is not None and parsed[0] == "net"
    protocol = p.str("Protocol") or ("TCP" if is_net else "HTTP")
    port = p.int("Port")
    if port is None:
        port = 443 if protocol in ("HTTPS", "TLS") else 80
    if not 1 <= port <= 65535:
        p.error("Port", f"port {port} out of range 1-65535")
    certificates = tuple(c.req_str("CertificateArn") for c in p.items("Certificates"))
    return [
        Listener(
            arn=_listener_arn(ctx),
            load_balancer_arn=lb_arn,
            port=port,
            protocol=protocol,
            default_actions=parse_actions(p, "DefaultActions"),
            certificates=certificates,
            ssl_policy=p.str("SslPolicy"),
            alpn_policy=p.str_list("AlpnPolicy"),
            attributes=p.pairs("ListenerAttributes"),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


def _convert_rule(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    priority = p.req_int("Priority")
    if not 1 <= priority <= 50000:
        p.error("Priority", f"priority {priority} out of range 1-50000")
    actions = parse_actions(p, "Actions")
    if not actions:
        p.error("Actions", "a rule needs at least one action")
    return [
        Rule(
            arn=_rule_arn(ctx),
            listener_arn=p.req_str("ListenerArn"),
            priority=priority,
            conditions=tuple(parse_condition(c) for c in p.items("Conditions")),
            actions=actions,
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


# ---- target group --------------------------------------------------------------------------------


def _health_check(p: Props, protocol: str | None, version: str, target_type: str) -> HealthCheck:
    d = HealthCheck()
    network = protocol in NLB_PROTOCOLS
    grpc = version == "GRPC"
    hc_protocol = p.str("HealthCheckProtocol") or ("TCP" if network else d.protocol)
    matcher = p.sub("Matcher")
    http_code = matcher.str("HttpCode") if matcher else None
    grpc_code = matcher.str("GrpcCode") if matcher else None
    if grpc:
        grpc_code = grpc_code or "12"
    elif http_code is None:
        # NLB HTTP(S) health checks accept 200-399 by default (inferred from the API docs).
        http_code = "200-399" if network else (d.matcher_http_code or "200")
    default_path = "/AWS.ALB/healthcheck" if grpc else d.path
    enabled = p.bool("HealthCheckEnabled", target_type != "lambda")
    return HealthCheck(
        enabled=bool(enabled),
        protocol=hc_protocol,
        port=p.str("HealthCheckPort") or d.port,
        path=p.str("HealthCheckPath") or default_path,
        interval_seconds=p.int("HealthCheckIntervalSeconds", 35 if target_type == "lambda" else 30) or 30,
        timeout_seconds=p.int(
            "HealthCheckTimeoutSeconds", 30 if target_type == "lambda" else (10 if network else 5)
        )
        or 5,
        healthy_threshold=p.int("HealthyThresholdCount", d.healthy_threshold) or d.healthy_threshold,
        unhealthy_threshold=p.int("UnhealthyThresholdCount", d.unhealthy_threshold) or d.unhealthy_threshold,
        matcher_http_code=None if grpc else http_code,
        matcher_grpc_code=grpc_code,
    )


def tg_attributes(p: Props) -> TargetGroupAttributes:
    raw = p.pairs("TargetGroupAttributes")
    a = dict(raw)
    f = "TargetGroupAttributes"
    d = TargetGroupAttributes()

    def i(key: str, default: int) -> int:
        return _int_attr(a[key], key, p, f) if key in a else default

    stickiness = d.stickiness_enabled
    if "stickiness.enabled" in a:
        stickiness = _bool_attr(a["stickiness.enabled"], "stickiness.enabled", p, f)
    algorithm = a.get("load_balancing.algorithm.type", d.algorithm)
    if algorithm not in ("round_robin", "least_outstanding_requests", "weighted_random"):
        p.error(f, f"load_balancing.algorithm.type: unknown algorithm {algorithm!r}")
    min_count_text = a.get("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count")
    min_count = d.unhealthy_routing_min_count
    if min_count_text is not None:
        min_count = _int_attr(min_count_text, "minimum_healthy_targets.count", p, f)
    pct_text = a.get("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage")
    pct = d.unhealthy_routing_min_percentage
    if pct_text is not None and pct_text != "off":
        pct = _int_attr(pct_text, "minimum_healthy_targets.percentage", p, f)
    return TargetGroupAttributes(
        deregistration_delay_seconds=i(
            "deregistration_delay.timeout_seconds", d.deregistration_delay_seconds
        ),
        stickiness_enabled=stickiness,
        stickiness_type=a.get("stickiness.type", d.stickiness_type),
        lb_cookie_duration_seconds=i("stickiness.lb_cookie.duration_seconds", d.lb_cookie_duration_seconds),
        app_cookie_name=a.get("stickiness.app_cookie.cookie_name", d.app_cookie_name),
        app_cookie_duration_seconds=i(
            "stickiness.app_cookie.duration_seconds", d.app_cookie_duration_seconds
        ),
        algorithm=algorithm,
        anomaly_mitigation=a.get("load_balancing.algorithm.anomaly_mitigation", "off") == "on",
        slow_start_seconds=i("slow_start.duration_seconds", d.slow_start_seconds),
        unhealthy_routing_min_count=min_count,
        unhealthy_routing_min_percentage=pct,
        raw=raw,
    )


def _convert_tg(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    target_type = p.str("TargetType") or "instance"
    protocol = p.str("Protocol") or (None if target_type == "lambda" else "HTTP")
    version = p.str("ProtocolVersion") or "HTTP1"
    name = _tg_name(ctx)
    if len(name) > 32:
        p.error("Name", f"target group name {name!r} is longer than 32 characters")
    targets = tuple((t.req_str("Id"), t.int("Port")) for t in p.items("Targets"))
    return [
        TargetGroup(
            arn=_tg_arn(ctx),
            name=name,
            tg_id=ids.hex_id(ctx.seed),
            port=p.int("Port"),
            protocol=protocol,
            protocol_version=version,
            target_type=target_type,
            vpc_id=p.str("VpcId"),
            health_check=_health_check(p, protocol, version, target_type),
            attributes=tg_attributes(p),
            static_targets=targets,
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


def _tg_att(ctx: ResourceContext, attribute: str) -> Any:
    values: dict[str, Callable[[], Any]] = {
        "TargetGroupArn": lambda: _tg_arn(ctx),
        "TargetGroupName": lambda: _tg_name(ctx),
        "TargetGroupFullName": lambda: f"targetgroup/{_tg_name(ctx)}/{ids.hex_id(ctx.seed)}",
        "LoadBalancerArns": lambda: _tg_load_balancers(ctx),
    }
    return values[attribute]()


def _listener_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "ListenerArn":
        return _listener_arn(ctx)
    raise KeyError(attribute)


def _rule_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "RuleArn":
        return _rule_arn(ctx)
    raise KeyError(attribute)


KINDS: dict[str, ResourceKind] = {
    LB: ResourceKind(ref=_lb_arn, get_att=_lb_att, convert=_convert_lb),
    LISTENER: ResourceKind(ref=_listener_arn, get_att=_listener_att, convert=_convert_listener),
    RULE: ResourceKind(ref=_rule_arn, get_att=_rule_att, convert=_convert_rule),
    TG: ResourceKind(ref=_tg_arn, get_att=_tg_att, convert=_convert_tg),
}
