# ruff: noqa: E501  (exact error messages are kept on one line)
"""ELBv2 converters: load balancer and target group attributes with AWS defaults, health checks,
listeners (ALB and NLB), rule conditions in the legacy and *Config forms, and every action kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import load_template, model_from_templates
from albfargate.errors import AssemblyError
from albfargate.model import (
    ActionType,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    HealthCheck,
    LoadBalancerAttributes,
    LoadBalancerType,
    QueryPair,
    RedirectAction,
    Scheme,
    TargetGroupAttributes,
    TargetGroupTuple,
)

TEMPLATE = """
Resources:
  LB:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Name: my-alb
      Scheme: internal
      LoadBalancerAttributes:
        - {Key: idle_timeout.timeout_seconds, Value: "120"}
        - {Key: routing.http.desync_mitigation_mode, Value: strictest}
        - {Key: routing.http.xff_header_processing.mode, Value: preserve}
        - {Key: routing.http.drop_invalid_header_fields.enabled, Value: "true"}
        - {Key: routing.http2.enabled, Value: "false"}
        - {Key: routing.http.preserve_host_header.enabled, Value: "true"}
        - {Key: routing.http.xff_client_port.enabled, Value: "true"}
        - {Key: client_keep_alive.seconds, Value: "600"}
        - {Key: some.future.attribute, Value: "x"}
  Blue:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Name: blue
      Port: 8080
      Protocol: HTTP
      TargetType: ip
      HealthCheckPath: /health
      HealthCheckIntervalSeconds: 10
      HealthCheckTimeoutSeconds: 3
      HealthyThresholdCount: 2
      UnhealthyThresholdCount: 3
      Matcher: {HttpCode: "200-299"}
      TargetGroupAttributes:
        - {Key: deregistration_delay.timeout_seconds, Value: "30"}
        - {Key: stickiness.enabled, Value: "true"}
        - {Key: stickiness.type, Value: app_cookie}
        - {Key: stickiness.app_cookie.cookie_name, Value: SESSION}
        - {Key: stickiness.app_cookie.duration_seconds, Value: "600"}
        - {Key: load_balancing.algorithm.type, Value: weighted_random}
        - {Key: load_balancing.algorithm.anomaly_mitigation, Value: "on"}
        - {Key: target_group_health.unhealthy_state_routing.minimum_healthy_targets.count, Value: "2"}
        - {Key: target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage, Value: "50"}
      Targets:
        - {Id: 10.0.0.5, Port: 9000}
        - {Id: 10.0.0.6}
  Green:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Port: 80
      Protocol: HTTP
      ProtocolVersion: GRPC
      TargetGroupAttributes:
        - {Key: slow_start.duration_seconds, Value: "60"}
        - {Key: load_balancing.algorithm.type, Value: least_outstanding_requests}
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: nope}
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 443
      Protocol: HTTPS
      SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
      Certificates: [{CertificateArn: arn:aws:acm:us-east-1:000000000000:certificate/abc}]
      DefaultActions:
        - Type: authenticate-oidc
          Order: 1
          AuthenticateOidcConfig: {Issuer: x, ClientId: y}
        - Type: forward
          Order: 2
          ForwardConfig:
            TargetGroups:
              - {TargetGroupArn: !Ref Blue, Weight: 80}
              - {TargetGroupArn: !Ref Green, Weight: 20}
            TargetGroupStickinessConfig: {Enabled: true, DurationSeconds: 300}
  Legacy:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Http
      Priority: 20
      Conditions:
        - {Field: path-pattern, Values: [/api/*, /v2/*]}
        - {Field: host-header, Values: [example.com]}
      Actions:
        - {Type: forward, TargetGroupArn: !Ref Blue}
  Modern:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !GetAtt Http.ListenerArn
      Priority: 10
      Conditions:
        - Field: http-header
          HttpHeaderConfig: {HttpHeaderName: X-Env, Values: [blue, "b*"]}
        - Field: http-request-method
          HttpRequestMethodConfig: {Values: [GET, HEAD]}
        - Field: query-string
          QueryStringConfig: {Values: [{Key: v, Value: "1"}, {Value: debug}]}
        - Field: source-ip
          SourceIpConfig: {Values: [10.0.0.0/8]}
        - PathPatternConfig: {Values: [/img/*]}
        - Field: host-header
          HostHeaderConfig: {RegexValues: ["^.+\\\\.example\\\\.com$"]}
      Actions:
        - Type: redirect
          RedirectConfig: {Protocol: HTTPS, Port: "443", StatusCode: HTTP_302}
  Cognito:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Https
      Priority: 5
      Conditions: [{Field: path-pattern, PathPatternConfig: {Values: [/admin*]}}]
      Actions:
        - {Type: authenticate-cognito, Order: 1, AuthenticateCognitoConfig: {UserPoolArn: x}}
        - {Type: forward, Order: 2, TargetGroupArn: !Ref Blue}
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: network}
  NlbTg:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties: {Port: 80, Protocol: TCP, TargetType: ip}
  NlbListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Nlb
      Port: 53
      Protocol: UDP
      DefaultActions: [{Type: forward, TargetGroupArn: !Ref NlbTg}]
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("t") / "web.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def by_id(items: Any, logical_id: str) -> Any:
    return next(x for x in items if x.logical_id == logical_id)


def test_load_balancer_attributes(model: Any) -> None:
    lb = by_id(model.load_balancers, "LB")
    assert lb.name == "my-alb" and lb.scheme is Scheme.INTERNAL and lb.type is LoadBalancerType.APPLICATION
    assert lb.dns_name.startswith("internal-my-alb-")
    a = lb.attributes
    assert (a.idle_timeout_seconds, a.desync_mitigation_mode, a.xff_header_processing_mode) == (
        120,
        "strictest",
        "preserve",
    )
    assert (
        a.drop_invalid_header_fields and not a.http2_enabled and a.preserve_host_header and a.xff_client_port
    )
    assert a.client_keep_alive_seconds == 600
    assert ("some.future.attribute", "x") in a.raw and len(a.raw) == 9
    assert not a.deletion_protection and not a.waf_fail_open


def test_defaults_when_template_is_silent() -> None:
    t = {
        "Resources": {
            "LB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
            "TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {"Port": 80}},
        }
    }
    m = model_from_templates([("S", t)])
    assert m.load_balancers[0].attributes == LoadBalancerAttributes()
    assert m.load_balancers[0].scheme is Scheme.INTERNET_FACING
    tg = m.target_groups[0]
    assert tg.health_check == HealthCheck()  # spec §3.2: HTTP / traffic-port 30 s 5 s 5 2 "200"
    assert tg.attributes == TargetGroupAttributes()
    assert (tg.protocol, tg.protocol_version, tg.target_type) == ("HTTP", "HTTP1", "instance")


def test_target_group_health_check_and_attributes(model: Any) -> None:
    blue = by_id(model.target_groups, "Blue")
    assert blue.name == "blue" and blue.port == 8080 and blue.target_type == "ip"
    assert blue.health_check == HealthCheck(
        path="/health",
        interval_seconds=10,
        timeout_seconds=3,
        healthy_threshold=2,
        unhealthy_threshold=3,
        matcher_http_code="200-299",
    )
    a = blue.attributes
    assert a.deregistration_delay_seconds == 30
    assert a.stickiness_enabled and a.stickiness_type == "app_cookie" and a.app_cookie_name == "SESSION"
    assert a.app_cookie_duration_seconds == 600
    assert a.algorithm == "weighted_random" and a.anomaly_mitigation
    assert a.unhealthy_routing_min_count == 2 and a.unhealthy_routing_min_percentage == 50
    assert len(a.raw) == 9
    assert blue.static_targets == (("10.0.0.5", 9000), ("10.0.0.6", None))
    green = by_id(model.target_groups, "Green")
    assert green.health_check.path == "/AWS.ALB/healthcheck"
    assert green.health_check.matcher_grpc_code == "12" and green.health_check.matcher_http_code is None
    assert green.attributes.slow_start_seconds == 60
    assert green.attributes.algorithm == "least_outstanding_requests"
    assert len(green.name) <= 32


def test_listeners_and_default_actions(model: Any) -> None:
    blue, green = by_id(model.target_groups, "Blue"), by_id(model.target_groups, "Green")
    http = by_id(model.listeners, "Http")
    assert (http.port, http.protocol) == (80, "HTTP")
    assert http.default_actions == (FixedResponseAction("404", "text/plain", "nope"),)
    https = by_id(model.listeners, "Https")
    assert https.certificates == ("arn:aws:acm:us-east-1:000000000000:certificate/abc",)
    assert https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    auth, fwd = https.default_actions
    assert auth == AuthenticateAction(ActionType.AUTHENTICATE_OIDC, 1)
    assert fwd == ForwardAction(
        (TargetGroupTuple(blue.arn, 80), TargetGroupTuple(green.arn, 20)),
        stickiness_enabled=True,
        stickiness_duration_seconds=300,
        order=2,
    )
    lb = by_id(model.load_balancers, "LB")
    assert model.listeners_of(lb.arn) == (http, https)


def test_rules_conditions_both_forms_and_actions(model: Any) -> None:
    http = by_id(model.listeners, "Http")
    blue = by_id(model.target_groups, "Blue")
    modern, legacy = model.rules_of(http.arn)  # evaluation order: priority 10 then 20
    assert (modern.priority, legacy.priority) == (10, 20)
    assert legacy.conditions == (
        Condition(ConditionField.PATH_PATTERN, values=("/api/*", "/v2/*")),
        Condition(ConditionField.HOST_HEADER, values=("example.com",)),
    )
    assert legacy.actions == (ForwardAction((TargetGroupTuple(blue.arn, 1),)),)
    assert modern.conditions == (
        Condition(ConditionField.HTTP_HEADER, values=("blue", "b*"), header_name="X-Env"),
        Condition(ConditionField.HTTP_REQUEST_METHOD, values=("GET", "HEAD")),
        Condition(ConditionField.QUERY_STRING, query_pairs=(QueryPair("1", "v"), QueryPair("debug", None))),
        Condition(ConditionField.SOURCE_IP, values=("10.0.0.0/8",)),
        Condition(ConditionField.PATH_PATTERN, values=("/img/*",)),
        Condition(ConditionField.HOST_HEADER, regex_values=(r"^.+\.example\.com$",)),
    )
    assert modern.actions == (RedirectAction(status_code="HTTP_302", protocol="HTTPS", port="443"),)
    assert modern.arn.startswith(http.arn.replace(":listener/", ":listener-rule/") + "/")
    cognito = by_id(model.rules, "Cognito")
    assert cognito.actions[0] == AuthenticateAction(ActionType.AUTHENTICATE_COGNITO, 1)


def test_network_load_balancer(model: Any) -> None:
    nlb = by_id(model.load_balancers, "Nlb")
    assert nlb.type is LoadBalancerType.NETWORK
    assert ":loadbalancer/net/" in nlb.arn and nlb.full_name.startswith("net/")
    listener = by_id(model.listeners, "NlbListener")
    assert (listener.port, listener.protocol) == (53, "UDP")
    assert ":listener/net/" in listener.arn
    tg = by_id(model.target_groups, "NlbTg")
    assert (
        tg.protocol == "TCP" and tg.health_check.protocol == "TCP" and tg.health_check.timeout_seconds == 10
    )


BAD = [
    (
        {"Type": "forward"},
        "property Properties.DefaultActions[0]: forward action needs TargetGroupArn or ForwardConfig.TargetGroups",
    ),
    ({"Type": "teleport"}, "property Properties.DefaultActions[0].Type: unknown action type 'teleport'"),
    (
        {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_307"}},
        "property Properties.DefaultActions[0].RedirectConfig.StatusCode: redirect status must be HTTP_301",
    ),
    ({"Type": "fixed-response"}, "property Properties.DefaultActions[0].FixedResponseConfig: fixed-response"),
]


@pytest.mark.parametrize(("action", "message"), BAD)
def test_bad_actions(action: dict[str, Any], message: str) -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/0123456789abcdef"
    t = {
        "Resources": {
            "L": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {"LoadBalancerArn": arn, "Port": 80, "DefaultActions": [action]},
            }
        }
    }
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("S", t)])
    assert str(info.value).startswith("stack S, resource L, ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([{"Field": "cookie", "Values": ["x"]}], "Conditions[0].Field: unknown condition field 'cookie'"),
        ([{"Field": "http-header", "Values": ["x"]}], "http-header conditions need HttpHeaderConfig"),
        ([{"Field": "query-string", "Values": ["x"]}], "query-string conditions need QueryStringConfig"),
        ([{"Field": "path-pattern"}], "Conditions[0]: path-pattern condition has no values"),
        ([{"Values": ["x"]}], "Conditions[0].Field: condition needs a Field"),
    ],
)
def test_bad_conditions(conditions: list[Any], message: str, tmp_path: Path) -> None:
    listener = (
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/x/0123456789abcdef/0123456789abcdef"
    )
    t = {
        "Resources": {
            "R": {
                "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
                "Properties": {
                    "ListenerArn": listener,
                    "Priority": 1,
                    "Conditions": conditions,
                    "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
                },
            }
        }
    }
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("S", t)])
    assert str(info.value).startswith("stack S, resource R, property Properties.")
    assert message in str(info.value)


def test_gateway_load_balancer_is_listed_not_emulated() -> None:
    t = {
        "Resources": {
            "Gw": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "gateway"}},
            "TG": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {"Port": 6081, "Protocol": "GENEVE"},
            },
            "L": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "Gw"},
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TG"}}],
                },
            },
        }
    }
    m = model_from_templates([("S", t)])
    assert m.load_balancers == () and m.listeners == ()
    assert {(n.logical_id, n.reason) for n in m.not_emulated} == {
        ("Gw", "gateway load balancer: not emulated"),
        ("L", "listener of a gateway load balancer: not emulated"),
    }
    t["Resources"]["Gw"]["Properties"]["Type"] = "classic"
    with pytest.raises(
        AssemblyError, match=r"resource Gw, property Properties\.Type: unknown load balancer type 'classic'"
    ):
        model_from_templates([("S", t)])
