"""Application Auto Scaling over the running engine: a scalable target and a request-count policy
registered through boto3 make the engine's autoscaler scale the service out under load, and the
activity shows in DescribeScalingActivities."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from albfargate.model.ids import hex_id
from tests.api.live import LB_ID, Live, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

NS = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
LABEL = f"app/live-lb/{LB_ID}/targetgroup/web-tg/{hex_id('web-tg')}"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_engine(tmp_path / "state", scaling_period=0.5) as lv:
        yield lv


def test_put_scaling_policy_drives_the_autoscaler(live: Live) -> None:
    ecs, aas = live.client("ecs"), live.client("application-autoscaling")
    ecs.get_waiter("services_stable").wait(cluster="live", services=["web"], WaiterConfig={"Delay": 0.5})
    aas.register_scalable_target(ResourceId="service/live/web", MinCapacity=2, MaxCapacity=3, **NS)
    out = aas.put_scaling_policy(
        PolicyName="rps",
        ResourceId="service/live/web",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 1.0,
            "ScaleOutCooldown": 0,
            "ScaleInCooldown": 3600,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ALBRequestCountPerTarget",
                "ResourceLabel": LABEL,
            },
        },
        **NS,
    )
    assert out["PolicyARN"].endswith(":policyName/rps")
    assert live.engine.model.scalable_target("service/live/web") is not None
    deadline = time.time() + 60
    desired = 2
    while time.time() < deadline and desired < 3:
        for _ in range(20):  # bounded load: a few hundred requests over the test
            try:
                with urllib.request.urlopen(live.lb_url + "/", timeout=5) as r:
                    r.read()
            except OSError as exc:  # the load only has to exist; a slow answer is not the point
                print(f"load request failed: {exc!r}")
        desired = ecs.describe_services(cluster="live", services=["web"])["services"][0]["desiredCount"]
        time.sleep(0.2)
    assert desired == 3
    acts = aas.describe_scaling_activities(ServiceNamespace="ecs", ResourceId="service/live/web")
    [a] = acts["ScalingActivities"][:1]
    assert a["Description"] == "Setting desired count to 3." and a["StatusCode"] == "Successful"
    assert "triggered policy rps" in a["Cause"]
