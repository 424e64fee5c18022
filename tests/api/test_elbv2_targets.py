"""ELBv2 target groups, targets and tags through boto3: DescribeTargetGroups, attributes, ModifyTargetGroup,
Register/DeregisterTargets, DescribeTargetHealth (spec §3.3) and the target waiters."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint
from tests.api.fakes import LB_ARN, LISTENER_ARN, TG2_ARN, TG_ARN

FAST = {"Delay": 0.05, "MaxAttempts": 20}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_describe_target_groups(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    groups = elb.describe_target_groups()["TargetGroups"]
    assert [g["TargetGroupName"] for g in groups] == ["web-tg", "api-tg"]
    g = groups[0]
    assert g["TargetGroupArn"] == TG_ARN and g["LoadBalancerArns"] == [LB_ARN]
    assert (g["Protocol"], g["Port"], g["TargetType"], g["ProtocolVersion"]) == ("HTTP", 8080, "ip", "HTTP1")
    assert (g["HealthCheckIntervalSeconds"], g["HealthyThresholdCount"], g["HealthCheckTimeoutSeconds"]) == (
        10,
        2,
        5,
    )
    assert g["HealthCheckPort"] == "traffic-port" and g["Matcher"] == {"HttpCode": "200"}
    assert g["HealthCheckEnabled"] is True and g["HealthCheckPath"] == "/"
    assert [x["TargetGroupName"] for x in elb.describe_target_groups(Names=["api-tg"])["TargetGroups"]] == [
        "api-tg"
    ]
    assert len(elb.describe_target_groups(LoadBalancerArn=LB_ARN)["TargetGroups"]) == 2
    with pytest.raises(ClientError) as exc:
        elb.describe_target_groups(TargetGroupArns=[TG_ARN + "0"])
    assert _code(exc) == "TargetGroupNotFound"
    assert exc.value.response["Error"]["Message"] == "One or more target groups not found"


def test_target_group_attributes(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=TG_ARN)["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["stickiness.enabled"] == "false" and attrs["stickiness.type"] == "lb_cookie"
    assert attrs["stickiness.lb_cookie.duration_seconds"] == "86400"
    assert attrs["load_balancing.algorithm.type"] == "round_robin"
    assert attrs["slow_start.duration_seconds"] == "0"
    out = elb.modify_target_group_attributes(
        TargetGroupArn=TG_ARN,
        Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
            {"Key": "stickiness.enabled", "Value": "true"},
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
        ],
    )["Attributes"]
    got = {a["Key"]: a["Value"] for a in out}
    assert got["deregistration_delay.timeout_seconds"] == "5" and got["stickiness.enabled"] == "true"
    tg = endpoint.backend.last("update_target_group")
    assert tg.attributes.deregistration_delay_seconds == 5  # type: ignore[attr-defined]
    assert tg.attributes.algorithm == "least_outstanding_requests"  # type: ignore[attr-defined]
    bad = [
        [{"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}],
        [{"Key": "stickiness.type", "Value": "magic"}],
        [{"Key": "slow_start.duration_seconds", "Value": "10"}],
        [{"Key": "stickiness.app_cookie.cookie_name", "Value": "AWSALBmine"}],
        [{"Key": "unknown.key", "Value": "1"}],
    ]
    for attributes in bad:
        with pytest.raises(ClientError) as exc:
            elb.modify_target_group_attributes(TargetGroupArn=TG_ARN, Attributes=attributes)
        assert _code(exc) == "ValidationError", attributes
    with pytest.raises(ClientError) as exc:  # slow start cannot be combined with least outstanding requests
        elb.modify_target_group_attributes(
            TargetGroupArn=TG_ARN, Attributes=[{"Key": "slow_start.duration_seconds", "Value": "30"}]
        )
    assert _code(exc) == "InvalidConfigurationRequest"


def test_modify_target_group_health_check(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    out = elb.modify_target_group(
        TargetGroupArn=TG_ARN,
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=15,
        HealthyThresholdCount=3,
        Matcher={"HttpCode": "200-299"},
    )["TargetGroups"][0]
    assert (out["HealthCheckPath"], out["HealthCheckIntervalSeconds"], out["HealthyThresholdCount"]) == (
        "/health",
        15,
        3,
    )
    assert out["Matcher"] == {"HttpCode": "200-299"}
    pushed = endpoint.backend.last("update_target_group")
    assert pushed.health_check.path == "/health"  # type: ignore[attr-defined]
    for kwargs in [
        dict(HealthCheckTimeoutSeconds=30),
        dict(Matcher={"HttpCode": "600"}),
        dict(HealthCheckPath="nopath"),
    ]:
        with pytest.raises(ClientError) as exc:
            elb.modify_target_group(TargetGroupArn=TG_ARN, **kwargs)
        assert _code(exc) == "ValidationError", kwargs


def test_describe_target_health(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    descs = elb.describe_target_health(TargetGroupArn=TG_ARN)["TargetHealthDescriptions"]
    assert len(descs) == 2
    d = descs[0]
    assert d["Target"]["Id"] == "127.0.0.1" and d["HealthCheckPort"] == str(d["Target"]["Port"])
    assert d["TargetHealth"] == {"State": "healthy"}  # no Reason/Description when healthy
    one = elb.describe_target_health(TargetGroupArn=TG_ARN, Targets=[{"Id": "127.0.0.1", "Port": 1}])
    assert one["TargetHealthDescriptions"][0]["TargetHealth"] == {
        "State": "unused",
        "Reason": "Target.NotRegistered",
        "Description": "Target is not registered to the target group",
    }
    anomaly = elb.describe_target_health(TargetGroupArn=TG_ARN, Include=["AnomalyDetection"])
    assert anomaly["TargetHealthDescriptions"][0]["AnomalyDetection"] == {
        "Result": "normal",
        "MitigationInEffect": "no",
    }
    with pytest.raises(ClientError) as exc:
        elb.describe_target_health(TargetGroupArn=TG_ARN + "0")
    assert _code(exc) == "TargetGroupNotFound"
    with pytest.raises(ClientError) as exc:
        elb.describe_target_health(TargetGroupArn=TG_ARN, Targets=[{"Id": "not-an-ip"}])
    assert _code(exc) == "InvalidTarget"


def test_register_deregister_targets_and_waiters(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    target = {"Id": "127.0.0.1", "Port": 9999}
    assert (
        elb.register_targets(TargetGroupArn=TG2_ARN, Targets=[target])["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )
    assert endpoint.backend.last("register_target")[0] == TG2_ARN  # type: ignore[index]
    first = elb.describe_target_health(TargetGroupArn=TG2_ARN, Targets=[target])["TargetHealthDescriptions"][
        0
    ]
    assert first["TargetHealth"] == {
        "State": "initial",
        "Reason": "Elb.RegistrationInProgress",
        "Description": "Target registration is in progress",
    }
    elb.get_waiter("target_in_service").wait(TargetGroupArn=TG2_ARN, Targets=[target], WaiterConfig=FAST)
    elb.deregister_targets(TargetGroupArn=TG2_ARN, Targets=[target])
    d = elb.describe_target_health(TargetGroupArn=TG2_ARN, Targets=[target])["TargetHealthDescriptions"][0]
    assert d["TargetHealth"]["State"] == "draining"
    assert d["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
    elb.get_waiter("target_deregistered").wait(TargetGroupArn=TG2_ARN, Targets=[target], WaiterConfig=FAST)
    with pytest.raises(ClientError) as exc:
        elb.deregister_targets(TargetGroupArn=TG2_ARN, Targets=[target])
    assert _code(exc) == "InvalidTarget"
    with pytest.raises(ClientError) as exc:
        elb.register_targets(TargetGroupArn=TG2_ARN, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert _code(exc) == "InvalidTarget"  # an ip target group takes IP addresses
    with pytest.raises(ClientError) as exc:
        elb.register_targets(TargetGroupArn=TG2_ARN + "0", Targets=[target])
    assert _code(exc) == "TargetGroupNotFound"


def test_create_and_delete_target_group(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    made = elb.create_target_group(
        Name="extra-tg", Protocol="HTTP", Port=80, VpcId="vpc-1", TargetType="ip", HealthCheckPath="/ok"
    )["TargetGroups"][0]
    assert made["TargetGroupArn"].split(":targetgroup/")[1].startswith("extra-tg/")
    assert made["HealthCheckPath"] == "/ok" and made["LoadBalancerArns"] == []
    again = elb.create_target_group(
        Name="extra-tg", Protocol="HTTP", Port=80, VpcId="vpc-1", TargetType="ip", HealthCheckPath="/ok"
    )["TargetGroups"][0]
    assert again["TargetGroupArn"] == made["TargetGroupArn"]
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(Name="extra-tg", Protocol="HTTP", Port=81, VpcId="vpc-1", TargetType="ip")
    assert _code(exc) == "DuplicateTargetGroupName"
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(Name="-bad-", Protocol="HTTP", Port=81, VpcId="vpc-1")
    assert _code(exc) == "ValidationError"
    rule = elb.create_rule(
        ListenerArn=LISTENER_ARN,
        Priority=3,
        Conditions=[{"Field": "path-pattern", "Values": ["/extra"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": made["TargetGroupArn"]}],
    )
    with pytest.raises(ClientError) as exc:
        elb.delete_target_group(TargetGroupArn=made["TargetGroupArn"])
    assert _code(exc) == "ResourceInUse"
    elb.delete_rule(RuleArn=rule["Rules"][0]["RuleArn"])
    elb.delete_target_group(TargetGroupArn=made["TargetGroupArn"])
    assert "extra-tg" not in [g["TargetGroupName"] for g in elb.describe_target_groups()["TargetGroups"]]


def test_tags(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    elb.add_tags(
        ResourceArns=[LB_ARN, TG_ARN], Tags=[{"Key": "env", "Value": "dev"}, {"Key": "x", "Value": "1"}]
    )
    elb.remove_tags(ResourceArns=[TG_ARN], TagKeys=["x"])
    out = {
        d["ResourceArn"]: d["Tags"]
        for d in elb.describe_tags(ResourceArns=[LB_ARN, TG_ARN])["TagDescriptions"]
    }
    assert out[LB_ARN] == [{"Key": "env", "Value": "dev"}, {"Key": "x", "Value": "1"}]
    assert out[TG_ARN] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        elb.describe_tags(ResourceArns=[TG_ARN + "0"])
    assert _code(exc) == "TargetGroupNotFound"
    with pytest.raises(ClientError) as exc:
        elb.add_tags(ResourceArns=[LB_ARN + "0"], Tags=[{"Key": "a", "Value": "b"}])
    assert _code(exc) == "LoadBalancerNotFound"
