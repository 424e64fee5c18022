"""The one paging rule of the Application Auto Scaling Describe* operations (``_page``): MaxResults
1..50 (default 50), an opaque NextToken, ValidationException for a MaxResults out of range or a bad
token -- checked on each of the three operations."""

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
