"""The one paging rule of the Application Auto Scaling Describe* operations (``_page``): MaxResults
1..50 (default 50), an opaque NextToken, ValidationException for a MaxResults out of range or a bad
token -- checked on each of the three operations; and how RegisterScalableTarget finds its service and
moves its desired count into the bounds."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from albfargate.api.backend import ScalingActivity
from tests.api.conftest import Endpoint

NS = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}


def _setup(endpoint: Endpoint, aas: Any) -> None:
    """Two policies and two activities (one scalable target: the fake has one service)."""
    aas.put_scaling_policy(
        PolicyName="cpu70",
        ResourceId="service/demo/web",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
        **NS,
    )
    for i in range(2):
        endpoint.backend.activities.append(
            ScalingActivity(
                f"a{i}", "service/demo/web", f"Setting desired count to {i + 2}.", "cause",
                1_700_000_000.0 + i, 1_700_000_001.0 + i,
            )
        )  # fmt: skip


@pytest.mark.parametrize(
    ("op", "key", "total"),
    [
        ("describe_scalable_targets", "ScalableTargets", 1),
        ("describe_scaling_policies", "ScalingPolicies", 2),
        ("describe_scaling_activities", "ScalingActivities", 2),
    ],
)
def test_paging(endpoint: Endpoint, op: str, key: str, total: int) -> None:
    aas = endpoint.client("application-autoscaling")
    _setup(endpoint, aas)
    call = getattr(aas, op)
    everything = call(ServiceNamespace="ecs")
    assert len(everything[key]) == total and "NextToken" not in everything
    seen, token = [], None
    while True:
        out = call(ServiceNamespace="ecs", MaxResults=1, **({"NextToken": token} if token else {}))
        assert len(out[key]) == 1
        seen.extend(out[key])
        token = out.get("NextToken")
        if not token:
            break
    assert seen == everything[key]
    for bad in ({"MaxResults": 51}, {"NextToken": "not-a-token"}):
        with pytest.raises(ClientError) as exc:
            call(ServiceNamespace="ecs", **bad)
        assert exc.value.response["Error"]["Code"] == "ValidationException", bad
    with pytest.raises(ClientError) as exc:
        call(ServiceNamespace="ecs", NextToken="not-a-token")
    assert exc.value.response["Error"]["Message"] == "Invalid NextToken"


@pytest.mark.parametrize(("lo", "hi", "desired"), [(3, 6, 3), (1, 1, 1), (1, 4, None), (2, 2, None)])
def test_registering_moves_desired_count_into_the_bounds(
    endpoint: Endpoint, lo: int, hi: int, desired: int | None
) -> None:
    """The service of ``service/<cluster>/<service>`` (desired 2 in the fake) is found once and its
    desired count moved inside [min, max] at once; inside them nothing is changed."""
    aas = endpoint.client("application-autoscaling")
    endpoint.backend.calls.clear()
    aas.register_scalable_target(ResourceId="service/demo/web", MinCapacity=lo, MaxCapacity=hi, **NS)
    updates = [u for name, u in endpoint.backend.calls if name == "update_service"]
    assert [u.desired_count for u in updates] == ([] if desired is None else [desired])  # type: ignore[attr-defined]
    [svc] = endpoint.client("ecs").describe_services(cluster="demo", services=["web"])["services"]
    assert svc["desiredCount"] == (2 if desired is None else desired)


@pytest.mark.parametrize(
    ("resource_id", "message"),
    [
        ("service/demo/ghost", "ECS service doesn't exist: service/demo/ghost"),
        ("demo/web", "Unsupported resource ID 'demo/web'; expected service/<cluster>/<service>"),
    ],
)
def test_register_needs_an_active_service(endpoint: Endpoint, resource_id: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        endpoint.client("application-autoscaling").register_scalable_target(
            ResourceId=resource_id, MinCapacity=1, MaxCapacity=2, **NS
        )
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert exc.value.response["Error"]["Message"] == message
