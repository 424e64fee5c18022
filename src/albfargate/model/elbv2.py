"""ELBv2 vocabulary: load balancers, listeners, rules (conditions and actions), target groups and their
health checks and attributes. AWS defaults (spec §3.2, §3.5–§3.8, §4.1) are the dataclass defaults.

Resources refer to one another by ARN, as in the API: a listener names its load balancer, a rule its
listener, a forward action its target groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class LoadBalancerType(StrEnum):
    APPLICATION = "application"
    NETWORK = "network"


class Scheme(StrEnum):
    INTERNET_FACING = "internet-facing"
    INTERNAL = "internal"


class ConditionField(StrEnum):
    HOST_HEADER = "host-header"
    PATH_PATTERN = "path-pattern"
    HTTP_HEADER = "http-header"
    HTTP_REQUEST_METHOD = "http-request-method"
    QUERY_STRING = "query-string"
    SOURCE_IP = "source-ip"


#: The block that configures each condition field, by the same name in CloudFormation and the ELBv2 API.
CONDITION_CONFIG_KEY: Mapping[ConditionField, str] = {
    ConditionField.HOST_HEADER: "HostHeaderConfig",
    ConditionField.PATH_PATTERN: "PathPatternConfig",
    ConditionField.HTTP_HEADER: "HttpHeaderConfig",
    ConditionField.HTTP_REQUEST_METHOD: "HttpRequestMethodConfig",
    ConditionField.QUERY_STRING: "QueryStringConfig",
    ConditionField.SOURCE_IP: "SourceIpConfig",
}


class ActionType(StrEnum):
    FORWARD = "forward"
    REDIRECT = "redirect"
    FIXED_RESPONSE = "fixed-response"
    AUTHENTICATE_OIDC = "authenticate-oidc"
    AUTHENTICATE_COGNITO = "authenticate-cognito"
    JWT_VALIDATION = "jwt-validation"


@dataclass(frozen=True, slots=True)
class LoadBalancerAttributes:
    """Load-balancer attributes with the defaults of spec §4.1."""

    idle_timeout_seconds: int = 60
    client_keep_alive_seconds: int = 3600
    http2_enabled: bool = True
    desync_mitigation_mode: str = "defensive"  # monitor | defensive | strictest
    drop_invalid_header_fields: bool = False
    preserve_host_header: bool = False
    xff_header_processing_mode: str = "append"  # append | preserve | remove
    xff_client_port: bool = False
    tls_version_and_cipher_suite_headers: bool = False
    deletion_protection: bool = False
    access_logs_s3_enabled: bool = False
    waf_fail_open: bool = False
    # Every attribute as given in the template (string key -> string value), defaults not filled in.
    raw: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    arn: str
    name: str
    lb_id: str  # the 16 hex digits of the ARN
    dns_name: str
    type: LoadBalancerType = LoadBalancerType.APPLICATION
    scheme: Scheme = Scheme.INTERNET_FACING
    ip_address_type: str = "ipv4"
    attributes: LoadBalancerAttributes = field(default_factory=LoadBalancerAttributes)
    stack: str = ""
    logical_id: str = ""

    @property
    def full_name(self) -> str:
        """``app/<name>/<id>`` (the CloudWatch dimension and ``LoadBalancerFullName``)."""
        kind = "app" if self.type is LoadBalancerType.APPLICATION else "net"
        return f"{kind}/{self.name}/{self.lb_id}"


@dataclass(frozen=True, slots=True)
class QueryPair:
    """One ``{Key?, Value}`` of a query-string condition; ``key`` None matches any key."""

    value: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """One rule condition. ``values`` holds the patterns of host-header, path-pattern, http-header,
    http-request-method and source-ip; query-string uses ``query_pairs``; http-header names its header
    in ``header_name``. ``regex_values`` is the newer ``RegexValues`` extension."""

    field: ConditionField
    values: tuple[str, ...] = ()
    header_name: str | None = None
    query_pairs: tuple[QueryPair, ...] = ()
    regex_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetGroupTuple:
    target_group_arn: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class ForwardAction:
    target_groups: tuple[TargetGroupTuple, ...]
    stickiness_enabled: bool = False
    stickiness_duration_seconds: int | None = None
    order: int | None = None

    @property
    def type(self) -> ActionType:
        return ActionType.FORWARD


@dataclass(frozen=True, slots=True)
class RedirectAction:
    status_code: str = "HTTP_301"  # HTTP_301 | HTTP_302
    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"
    order: int | None = None

    @property
    def type(self) -> ActionType:
        return ActionType.REDIRECT


@dataclass(frozen=True, slots=True)
class FixedResponseAction:
    status_code: str
    content_type: str | None = None
    message_body: str | None = None
    order: int | None = None

    @property
    def type(self) -> ActionType:
        return ActionType.FIXED_RESPONSE


@dataclass(frozen=True, slots=True)
class AuthenticateAction:
    """Authenticate actions are recorded, not emulated (spec §2.4)."""

    kind: ActionType
    order: int | None = None

    @property
    def type(self) -> ActionType:
        return self.kind


Action = ForwardAction | RedirectAction | FixedResponseAction | AuthenticateAction


@dataclass(frozen=True, slots=True)
class Listener:
    arn: str
    load_balancer_arn: str
    port: int
    protocol: str  # HTTP | HTTPS | TCP | UDP | TLS | TCP_UDP
    default_actions: tuple[Action, ...]
    certificates: tuple[str, ...] = ()
    ssl_policy: str | None = None
    alpn_policy: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    stack: str = ""
    logical_id: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A non-default listener rule (the default rule is the listener's ``default_actions``)."""

    arn: str
    listener_arn: str
    priority: int
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    stack: str = ""
    logical_id: str = ""


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """Target-group health check with the ALB defaults of spec §3.2."""

    enabled: bool = True
    protocol: str = "HTTP"
    port: str = "traffic-port"
    path: str = "/"
    interval_seconds: int = 30
    timeout_seconds: int = 5
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher_http_code: str | None = "200"
    matcher_grpc_code: str | None = None


@dataclass(frozen=True, slots=True)
class TargetGroupAttributes:
    """Target-group attributes with the defaults of spec §3.5–§3.9."""

    deregistration_delay_seconds: int = 300
    stickiness_enabled: bool = False
    stickiness_type: str = "lb_cookie"  # lb_cookie | app_cookie
    lb_cookie_duration_seconds: int = 86400
    app_cookie_name: str | None = None
    app_cookie_duration_seconds: int = 86400
    algorithm: str = "round_robin"  # round_robin | least_outstanding_requests | weighted_random
    anomaly_mitigation: bool = False
    slow_start_seconds: int = 0
    # target_group_health.unhealthy_state_routing.minimum_healthy_targets.{count,percentage}
    unhealthy_routing_min_count: int = 1
    unhealthy_routing_min_percentage: int | None = None  # None = "off"
    raw: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TargetGroup:
    arn: str
    name: str
    tg_id: str
    port: int | None = None
    protocol: str | None = "HTTP"
    protocol_version: str = "HTTP1"
    target_type: str = "instance"
    vpc_id: str | None = None
    health_check: HealthCheck = field(default_factory=HealthCheck)
    attributes: TargetGroupAttributes = field(default_factory=TargetGroupAttributes)
    # Targets listed in the template's ``Targets`` property: (id, port or None).
    static_targets: tuple[tuple[str, int | None], ...] = ()
    stack: str = ""
    logical_id: str = ""

    @property
    def full_name(self) -> str:
        """``targetgroup/<name>/<id>`` (``TargetGroupFullName``)."""
        return f"targetgroup/{self.name}/{self.tg_id}"
