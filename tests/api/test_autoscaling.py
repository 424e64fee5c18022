"""Application Auto Scaling through boto3 (JSON 1.1): scalable targets, target-tracking policies,
activities, and the changes handed to the engine's autoscaler."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from albfargate.api.backend import ScalingActivity
from tests.api.conftest import Endpoint

NS = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_scalable_targets(endpoint: Endpoint) -> None:
    aas = endpoint.client("application-autoscaling")
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) == ("service/demo/web", 1, 4)
    assert t["ScalableDimension"] == "ecs:service:DesiredCount" and t["RoleARN"].endswith("_ECSService")
    assert t["SuspendedState"] == {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": False,
    }
    out = aas.register_scalable_target(ResourceId="service/demo/web", MinCapacity=2, MaxCapacity=6, **NS)
    assert out["ScalableTargetARN"].startswith(
        "arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/"
    )
    targets, _ = endpoint.backend.last("set_scaling")  # type: ignore[misc]
    assert (targets[0].min_capacity, targets[0].max_capacity) == (2, 6)
    t = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/demo/web"])[
        "ScalableTargets"
    ][0]
    assert (t["MinCapacity"], t["MaxCapacity"]) == (2, 6)
    for kwargs in [
        dict(ResourceId="service/demo/nope", MinCapacity=1, MaxCapacity=2),
        dict(ResourceId="service/demo/web", MinCapacity=5, MaxCapacity=2),
    ]:
        with pytest.raises(ClientError) as exc:
            aas.register_scalable_target(**kwargs, **NS)
        assert _code(exc) == "ValidationException", kwargs
    with pytest.raises(ClientError) as exc:
        aas.describe_scalable_targets(ServiceNamespace="dynamodb")
    assert _code(exc) == "ValidationException"
    aas.deregister_scalable_target(ResourceId="service/demo/web", **NS)
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []  # removed with it
    with pytest.raises(ClientError) as exc:
        aas.deregister_scalable_target(ResourceId="service/demo/web", **NS)
    assert _code(exc) == "ObjectNotFoundException"


def test_scaling_policies(endpoint: Endpoint) -> None:
    aas = endpoint.client("application-autoscaling")
    [existing] = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert existing["PolicyName"] == "cpu50" and existing["PolicyType"] == "TargetTrackingScaling"
    config = existing["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }
    assert (config["TargetValue"], config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (50.0, 300, 300)
    label = "app/demo-lb/0123456789abcdef/targetgroup/web-tg/0123456789abcdef"
    out = aas.put_scaling_policy(
        PolicyName="requests",
        ResourceId="service/demo/web",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100.0,
            "ScaleOutCooldown": 30,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": label,
            },
        },
        **NS,
    )
    assert ":scalingPolicy:" in out["PolicyARN"] and out["PolicyARN"].endswith(":policyName/requests")
    names = [a["AlarmName"] for a in out["Alarms"]]
    assert names[0].startswith("TargetTracking-service/demo/web-AlarmHigh-")
    assert names[1].startswith("TargetTracking-service/demo/web-AlarmLow-")
    _, policies = endpoint.backend.last("set_scaling")  # type: ignore[misc]
    mine = next(p for p in policies if p.name == "requests")
    assert (mine.target_value, mine.scale_out_cooldown_seconds, mine.scale_in_cooldown_seconds) == (
        100.0,
        30,
        300,
    )
    assert mine.resource_label == label
    again = aas.put_scaling_policy(
        PolicyName="requests",
        ResourceId="service/demo/web",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
        },
        **NS,
    )
    assert again["PolicyARN"] == out["PolicyARN"]  # PutScalingPolicy updates in place
    listed = aas.describe_scaling_policies(ServiceNamespace="ecs", PolicyNames=["requests"])[
        "ScalingPolicies"
    ]
    assert listed[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50.0
    with pytest.raises(ClientError) as exc:
        aas.put_scaling_policy(
            PolicyName="x",
            ResourceId="service/demo/web",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 10.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget"},
            },
            **NS,
        )
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        aas.put_scaling_policy(
            PolicyName="x",
            ResourceId="service/demo/other",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={"TargetValue": 10.0},
            **NS,
        )
    assert _code(exc) == "ObjectNotFoundException"
    aas.delete_scaling_policy(PolicyName="requests", ResourceId="service/demo/web", **NS)
    with pytest.raises(ClientError) as exc:
        aas.delete_scaling_policy(PolicyName="requests", ResourceId="service/demo/web", **NS)
    assert _code(exc) == "ObjectNotFoundException"


def test_scaling_activities(endpoint: Endpoint) -> None:
    aas = endpoint.client("application-autoscaling")
    assert aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []
    endpoint.backend.activities.append(
        ScalingActivity(
            "a1",
            "service/demo/web",
            "Setting desired count to 3.",
            "monitor alarm TargetTracking-service/demo/web-AlarmHigh-x in state ALARM triggered policy cpu50",
            1_700_000_000.0,
            1_700_000_001.0,
        )
    )
    [a] = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/demo/web")[
        "ScalingActivities"
    ]
    assert a["Description"] == "Setting desired count to 3." and a["StatusCode"] == "Successful"
    assert a["StartTime"].timestamp() == 1_700_000_000.0
