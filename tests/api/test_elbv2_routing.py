"""ELBv2 load balancers, listeners and rules through boto3 (query protocol, XML): describes with
pagination, CreateRule / ModifyRule / DeleteRule / SetRulePriorities / ModifyListener with AWS's error
codes, and the changes pushed to the data plane."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint
from tests.api.fakes import LB_ARN, LISTENER_ARN, RULE_ARN, TG2_ARN, TG_ARN

PATH = [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/*"]}}]
FWD2 = [{"Type": "forward", "TargetGroupArn": TG2_ARN}]


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_describe_load_balancers(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    [lb] = elb.describe_load_balancers()["LoadBalancers"]
    assert lb["LoadBalancerArn"] == LB_ARN and lb["LoadBalancerName"] == "demo-lb"
    assert lb["State"] == {"Code": "active"} and lb["Type"] == "application"
    assert lb["Scheme"] == "internet-facing" and lb["DNSName"].endswith(".elb.amazonaws.com")
    assert lb["CreatedTime"].year >= 2024 and lb["IpAddressType"] == "ipv4"
    assert elb.describe_load_balancers(Names=["demo-lb"])["LoadBalancers"][0]["LoadBalancerArn"] == LB_ARN
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(Names=["nope"])
    assert _code(exc) == "LoadBalancerNotFound"
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(LoadBalancerArns=[LB_ARN + "0"])
    assert _code(exc) == "LoadBalancerNotFound"
    elb.get_waiter("load_balancer_available").wait(Names=["demo-lb"], WaiterConfig={"Delay": 0.05})


def test_describe_listeners_and_rules(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    [listener] = elb.describe_listeners(LoadBalancerArn=LB_ARN)["Listeners"]
    assert (listener["ListenerArn"], listener["Port"], listener["Protocol"]) == (LISTENER_ARN, 80, "HTTP")
    action = listener["DefaultActions"][0]
    assert action["Type"] == "forward" and action["TargetGroupArn"] == TG_ARN
    assert action["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": TG_ARN, "Weight": 1}]
    rules = elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"]
    assert [(r["Priority"], r["IsDefault"]) for r in rules] == [("10", False), ("default", True)]
    cond = rules[0]["Conditions"][0]
    assert cond["Field"] == "path-pattern" and cond["Values"] == ["/api/*"]
    assert cond["PathPatternConfig"] == {"Values": ["/api/*"]}
    assert rules[1]["Conditions"] == []
    by_arn = elb.describe_rules(RuleArns=[rules[1]["RuleArn"], RULE_ARN])["Rules"]
    assert [r["IsDefault"] for r in by_arn] == [True, False]
    with pytest.raises(ClientError) as exc:
        elb.describe_rules(RuleArns=[RULE_ARN + "0"])
    assert _code(exc) == "RuleNotFound"
    with pytest.raises(ClientError) as exc:
        elb.describe_listeners(ListenerArns=[LISTENER_ARN + "0"])
    assert _code(exc) == "ListenerNotFound"
    with pytest.raises(ClientError) as exc:
        elb.describe_listeners()
    assert _code(exc) == "ValidationError"


def test_create_rule_pushes_rules_and_validates(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    rule = elb.create_rule(
        ListenerArn=LISTENER_ARN, Priority=5, Conditions=PATH, Actions=FWD2, Tags=[{"Key": "k", "Value": "v"}]
    )["Rules"][0]
    assert rule["Priority"] == "5" and rule["IsDefault"] is False
    assert rule["RuleArn"].startswith(LISTENER_ARN.replace(":listener/", ":listener-rule/") + "/")
    listener, pushed = endpoint.backend.last("set_rules")  # type: ignore[misc]
    assert listener == LISTENER_ARN and [r.priority for r in pushed] == [5, 10]
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"]] == [
        "5",
        "10",
        "default",
    ]
    tags = elb.describe_tags(ResourceArns=[rule["RuleArn"]])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "k", "Value": "v"}]
    cases = [
        (dict(Priority=5, Conditions=PATH, Actions=FWD2), "PriorityInUse"),
        (dict(Priority=50001, Conditions=PATH, Actions=FWD2), "ValidationError"),
        (
            dict(Priority=6, Conditions=PATH, Actions=[{"Type": "forward", "TargetGroupArn": TG2_ARN + "0"}]),
            "TargetGroupNotFound",
        ),
        (
            dict(
                Priority=6,
                Actions=FWD2,
                Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["a", "b", "c", "d"]}}],
            ),
            "ValidationError",
        ),
        (
            dict(
                Priority=6,
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["nodot"]}}],
                Actions=FWD2,
            ),
            "ValidationError",
        ),
        (
            dict(Priority=6, Conditions=[{"Field": "nonsense", "Values": ["x"]}], Actions=FWD2),
            "ValidationError",
        ),
        (
            dict(
                Priority=6,
                Conditions=PATH,
                Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}],
            ),
            "ValidationError",
        ),
        (dict(Priority=6, Conditions=[], Actions=FWD2), "ValidationError"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            elb.create_rule(ListenerArn=LISTENER_ARN, **kwargs)
        assert _code(exc) == code, kwargs
    with pytest.raises(ClientError) as exc:
        elb.create_rule(ListenerArn=LISTENER_ARN + "0", Priority=7, Conditions=PATH, Actions=FWD2)
    assert _code(exc) == "ListenerNotFound"
    assert exc.value.response["Error"]["Message"] == "One or more listeners not found"


def test_create_rule_all_condition_types_round_trip(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    conditions = [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["blue"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["127.0.0.0/8"]}},
    ]
    actions = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": TG_ARN, "Weight": 1},
                    {"TargetGroupArn": TG2_ARN, "Weight": 3},
                ],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
            },
        }
    ]
    rule = elb.create_rule(ListenerArn=LISTENER_ARN, Priority=20, Conditions=conditions, Actions=actions)[
        "Rules"
    ][0]
    got = {c["Field"]: c for c in rule["Conditions"]}
    assert got["host-header"]["Values"] == ["*.example.com"]
    assert got["http-header"]["HttpHeaderConfig"] == {"HttpHeaderName": "X-Env", "Values": ["blue"]}
    assert got["query-string"]["QueryStringConfig"] == {"Values": [{"Key": "v", "Value": "2"}]}
    assert got["source-ip"]["SourceIpConfig"] == {"Values": ["127.0.0.0/8"]}
    fwd = rule["Actions"][0]["ForwardConfig"]
    assert [t["Weight"] for t in fwd["TargetGroups"]] == [1, 3] and "TargetGroupArn" not in rule["Actions"][0]
    assert fwd["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 60}
    redirect = elb.create_rule(
        ListenerArn=LISTENER_ARN,
        Priority=21,
        Conditions=PATH,
        Actions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )["Rules"][0]["Actions"][0]["RedirectConfig"]
    assert redirect == {
        "Protocol": "HTTPS",
        "Port": "443",
        "Host": "#{host}",
        "Path": "/#{path}",
        "Query": "#{query}",
        "StatusCode": "HTTP_301",
    }


def test_modify_and_delete_rule(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    config = {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "gone"}
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": config}]
    out = elb.modify_rule(RuleArn=RULE_ARN, Actions=fixed)["Rules"][0]
    assert out["Actions"][0]["FixedResponseConfig"]["MessageBody"] == "gone"
    assert out["Conditions"][0]["Values"] == ["/api/*"]  # unchanged
    _, pushed = endpoint.backend.last("set_rules")  # type: ignore[misc]
    assert pushed[0].actions[0].message_body == "gone"
    default_arn = elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"][-1]["RuleArn"]
    out = elb.modify_rule(RuleArn=default_arn, Actions=FWD2)["Rules"][0]
    assert out["IsDefault"] and out["Actions"][0]["TargetGroupArn"] == TG2_ARN
    assert endpoint.backend.last("set_default_actions")[0] == LISTENER_ARN  # type: ignore[index]
    with pytest.raises(ClientError) as exc:
        elb.delete_rule(RuleArn=default_arn)
    assert _code(exc) == "OperationNotPermitted"
    elb.delete_rule(RuleArn=RULE_ARN)
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"]] == ["default"]
    with pytest.raises(ClientError) as exc:
        elb.delete_rule(RuleArn=RULE_ARN)
    assert _code(exc) == "RuleNotFound"
    with pytest.raises(ClientError) as exc:
        elb.modify_rule(RuleArn=RULE_ARN, Actions=FWD2)
    assert _code(exc) == "RuleNotFound"


def test_set_rule_priorities(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    other = elb.create_rule(ListenerArn=LISTENER_ARN, Priority=20, Conditions=PATH, Actions=FWD2)["Rules"][0]
    pairs = [{"RuleArn": RULE_ARN, "Priority": 20}, {"RuleArn": other["RuleArn"], "Priority": 10}]
    swapped = elb.set_rule_priorities(RulePriorities=pairs)["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in swapped} == {RULE_ARN: "20", other["RuleArn"]: "10"}
    _, pushed = endpoint.backend.last("set_rules")  # type: ignore[misc]
    assert [r.arn for r in pushed] == [other["RuleArn"], RULE_ARN]
    with pytest.raises(ClientError) as exc:
        elb.set_rule_priorities(RulePriorities=[{"RuleArn": RULE_ARN, "Priority": 10}])
    assert _code(exc) == "PriorityInUse"
    default_arn = elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"][-1]["RuleArn"]
    with pytest.raises(ClientError) as exc:
        elb.set_rule_priorities(RulePriorities=[{"RuleArn": default_arn, "Priority": 3}])
    assert _code(exc) == "OperationNotPermitted"


def test_modify_listener(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    out = elb.modify_listener(
        ListenerArn=LISTENER_ARN,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "MessageBody": "maintenance"},
            }
        ],
    )["Listeners"][0]
    assert out["DefaultActions"][0]["Type"] == "fixed-response"
    listener, actions = endpoint.backend.last("set_default_actions")  # type: ignore[misc]
    assert listener == LISTENER_ARN and actions[0].status_code == "503"
    moved = elb.modify_listener(ListenerArn=LISTENER_ARN, Port=8443)["Listeners"][0]
    assert moved["Port"] == 8443
    rebound, _rules = endpoint.backend.last("add_listener")  # type: ignore[misc]
    assert rebound.arn == LISTENER_ARN and rebound.port == 8443
    with pytest.raises(ClientError) as exc:
        elb.modify_listener(ListenerArn=LISTENER_ARN, Protocol="HTTPS")
    assert _code(exc) == "ValidationError"  # HTTPS needs a certificate
    with pytest.raises(ClientError) as exc:
        elb.modify_listener(ListenerArn=LISTENER_ARN + "0", Port=81)
    assert _code(exc) == "ListenerNotFound"
    attrs = elb.describe_listener_attributes(ListenerArn=LISTENER_ARN)["Attributes"]
    assert {"Key": "routing.http.response.server.enabled", "Value": "true"} in attrs
    out_attrs = elb.modify_listener_attributes(
        ListenerArn=LISTENER_ARN,
        Attributes=[{"Key": "routing.http.response.server.enabled", "Value": "false"}],
    )["Attributes"]
    assert {"Key": "routing.http.response.server.enabled", "Value": "false"} in out_attrs


def test_load_balancer_attributes(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=LB_ARN)["Attributes"]
    }
    assert attrs["idle_timeout.timeout_seconds"] == "60"
    assert attrs["routing.http.desync_mitigation_mode"] == "defensive"
    assert attrs["routing.http.xff_header_processing.mode"] == "append"
    assert attrs["deletion_protection.enabled"] == "false"
    out = elb.modify_load_balancer_attributes(
        LoadBalancerArn=LB_ARN, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "5"}]
    )["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "5"} in out
    lb_arn, pushed = endpoint.backend.last("update_load_balancer_attributes")  # type: ignore[misc]
    assert lb_arn == LB_ARN and pushed.idle_timeout_seconds == 5
    for key, value in [
        ("idle_timeout.timeout_seconds", "0"),
        ("routing.http.desync_mitigation_mode", "lax"),
        ("no.such.key", "1"),
        ("deletion_protection.enabled", "yes"),
    ]:
        with pytest.raises(ClientError) as exc:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=LB_ARN, Attributes=[{"Key": key, "Value": value}]
            )
        assert _code(exc) == "ValidationError", key
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=LB_ARN, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as exc:
        elb.delete_load_balancer(LoadBalancerArn=LB_ARN)
    assert _code(exc) == "OperationNotPermitted"


def test_pagination_marker_and_page_size(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    for p in range(30, 35):
        elb.create_rule(ListenerArn=LISTENER_ARN, Priority=p, Conditions=PATH, Actions=FWD2)
    first = elb.describe_rules(ListenerArn=LISTENER_ARN, PageSize=4)
    assert len(first["Rules"]) == 4 and first["NextMarker"]
    second = elb.describe_rules(ListenerArn=LISTENER_ARN, PageSize=4, Marker=first["NextMarker"])
    assert [r["Priority"] for r in first["Rules"] + second["Rules"]] == [
        "10",
        "30",
        "31",
        "32",
        "33",
        "34",
        "default",
    ]
    assert "NextMarker" not in second
    with pytest.raises(ClientError) as exc:
        elb.describe_rules(ListenerArn=LISTENER_ARN, PageSize=401)
    assert _code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.describe_rules(ListenerArn=LISTENER_ARN, Marker="bogus")
    assert _code(exc) == "ValidationError"


def test_create_listener_and_load_balancer_are_idempotent_or_refused(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    same = elb.create_load_balancer(Name="demo-lb", Subnets=["s1", "s2"])["LoadBalancers"][0]
    assert same["LoadBalancerArn"] == LB_ARN
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="other-lb", Subnets=["s1", "s2"], Type="network")
    assert _code(exc) == "OperationNotPermitted"
    again = elb.create_listener(
        LoadBalancerArn=LB_ARN,
        Port=80,
        Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": TG_ARN}],
    )
    assert again["Listeners"][0]["ListenerArn"] == LISTENER_ARN
    with pytest.raises(ClientError) as exc:
        elb.create_listener(LoadBalancerArn=LB_ARN, Port=80, Protocol="HTTP", DefaultActions=FWD2)
    assert _code(exc) == "DuplicateListener"
    assert elb.describe_account_limits()["Limits"][0]["Name"] == "application-load-balancers"
    assert elb.describe_ssl_policies(Names=["ELBSecurityPolicy-2016-08"])["SslPolicies"][0]["Name"]
