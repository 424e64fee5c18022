"""ELBv2 wire views: model objects -> the PascalCase shapes of the ELBv2 API (serialized to XML by
the query protocol). Host-header and path-pattern conditions carry both the legacy ``Values`` and the
typed ``*Config`` (spec §10.3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from albfargate.api.backend import Health, Target
from albfargate.api.wire import ts
from albfargate.model.elbv2 import (
    CONDITION_CONFIG_KEY,
    Action,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    Listener,
    LoadBalancer,
    RedirectAction,
    Rule,
    TargetGroup,
)

HOSTED_ZONE_ID = "Z35SXDOTRQ7X7K"  # the ALB hosted zone of us-east-1
LOCAL_VPC = "vpc-00000000000000000"


def load_balancer_view(lb: LoadBalancer, created_at: float) -> dict[str, Any]:
    return {
        "LoadBalancerArn": lb.arn,
        "DNSName": lb.dns_name,
        "CanonicalHostedZoneId": HOSTED_ZONE_ID,
        "CreatedTime": ts(created_at),
        "LoadBalancerName": lb.name,
        "Scheme": str(lb.scheme),
        "VpcId": LOCAL_VPC,
        "State": {"Code": "active"},
        "Type": str(lb.type),
        "AvailabilityZones": [
            {"ZoneName": "us-east-1a", "SubnetId": "subnet-0000000000000000a", "LoadBalancerAddresses": []},
            {"ZoneName": "us-east-1b", "SubnetId": "subnet-0000000000000000b", "LoadBalancerAddresses": []},
        ],
        "SecurityGroups": [],
        "IpAddressType": lb.ip_address_type,
    }


def action_view(a: Action) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": str(a.type)}
    if isinstance(a, ForwardAction):
        if len(a.target_groups) == 1:
            out["TargetGroupArn"] = a.target_groups[0].target_group_arn
        config: dict[str, Any] = {
            "TargetGroups": [
                {"TargetGroupArn": t.target_group_arn, "Weight": t.weight} for t in a.target_groups
            ],
            "TargetGroupStickinessConfig": {"Enabled": a.stickiness_enabled},
        }
        if a.stickiness_enabled and a.stickiness_duration_seconds is not None:
            config["TargetGroupStickinessConfig"]["DurationSeconds"] = a.stickiness_duration_seconds
        out["ForwardConfig"] = config
    elif isinstance(a, RedirectAction):
        out["RedirectConfig"] = {
            "Protocol": a.protocol,
            "Port": a.port,
            "Host": a.host,
            "Path": a.path,
            "Query": a.query,
            "StatusCode": a.status_code,
        }
    elif isinstance(a, FixedResponseAction):
        out["FixedResponseConfig"] = {
            "MessageBody": a.message_body,
            "StatusCode": a.status_code,
            "ContentType": a.content_type,
        }
    elif isinstance(a, AuthenticateAction):
        pass  # recorded, not emulated (spec §2.4): the type alone is reported
    if a.order is not None:
        out["Order"] = a.order
    return out


def condition_view(c: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {"Field": str(c.field)}
    key = CONDITION_CONFIG_KEY[c.field]
    if c.field in (ConditionField.HOST_HEADER, ConditionField.PATH_PATTERN):
        out["Values"] = list(c.values)
    if c.field is ConditionField.QUERY_STRING:
        out[key] = {"Values": [{"Key": p.key, "Value": p.value} for p in c.query_pairs]}
    elif c.field is ConditionField.HTTP_HEADER:
        out[key] = {"HttpHeaderName": c.header_name, "Values": list(c.values)}
    else:
        out[key] = {"Values": list(c.values)}
    if c.regex_values:
        out[key]["RegexValues"] = list(c.regex_values)
    return out


def listener_view(x: Listener) -> dict[str, Any]:
    return {
        "ListenerArn": x.arn,
        "LoadBalancerArn": x.load_balancer_arn,
        "Port": x.port,
        "Protocol": x.protocol,
        "Certificates": [{"CertificateArn": c} for c in x.certificates] or None,
        "SslPolicy": x.ssl_policy,
        "DefaultActions": [action_view(a) for a in x.default_actions],
        "AlpnPolicy": list(x.alpn_policy) or None,
    }


def rule_view(r: Rule) -> dict[str, Any]:
    return {
        "RuleArn": r.arn,
        "Priority": str(r.priority),
        "Conditions": [condition_view(c) for c in r.conditions],
        "Actions": [action_view(a) for a in r.actions],
        "IsDefault": False,
    }


def default_rule_view(arn: str, listener: Listener) -> dict[str, Any]:
    return {
        "RuleArn": arn,
        "Priority": "default",
        "Conditions": [],
        "Actions": [action_view(a) for a in listener.default_actions],
        "IsDefault": True,
    }


def target_group_view(tg: TargetGroup, lb_arns: Sequence[str]) -> dict[str, Any]:
    h = tg.health_check
    matcher: dict[str, Any] = {}
    if h.matcher_http_code is not None:
        matcher["HttpCode"] = h.matcher_http_code
    if h.matcher_grpc_code is not None:
        matcher["GrpcCode"] = h.matcher_grpc_code
    return {
        "TargetGroupArn": tg.arn,
        "TargetGroupName": tg.name,
        "Protocol": tg.protocol,
        "Port": tg.port,
        "VpcId": tg.vpc_id or LOCAL_VPC,
        "HealthCheckProtocol": h.protocol,
        "HealthCheckPort": h.port,
        "HealthCheckEnabled": h.enabled,
        "HealthCheckIntervalSeconds": h.interval_seconds,
        "HealthCheckTimeoutSeconds": h.timeout_seconds,
        "HealthyThresholdCount": h.healthy_threshold,
        "UnhealthyThresholdCount": h.unhealthy_threshold,
        "HealthCheckPath": h.path,
        "Matcher": matcher,
        "LoadBalancerArns": list(lb_arns),
        "TargetType": tg.target_type,
        "ProtocolVersion": tg.protocol_version,
        "IpAddressType": "ipv4",
    }


def target_health_view(
    tg: TargetGroup, target: Target, health: Health, *, anomaly: bool = False
) -> dict[str, Any]:
    port = tg.health_check.port
    out: dict[str, Any] = {
        "Target": {"Id": target.id, "Port": target.port},
        "HealthCheckPort": str(target.port) if port == "traffic-port" else port,
        "TargetHealth": {"State": health.state, "Reason": health.reason, "Description": health.description},
    }
    if anomaly:
        out["AnomalyDetection"] = {"Result": "normal", "MitigationInEffect": "no"}
    return out


def attributes_view(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]
