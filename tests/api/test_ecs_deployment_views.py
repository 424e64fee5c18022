"""DescribeServiceDeployments reports the circuit-breaker threshold the scheduler uses
(``planner.circuit_breaker_threshold``: clamp(ceil(desired / 2), 3, 200)) and the same
deploymentConfiguration view as DescribeServices."""

from __future__ import annotations

import pytest

from tests.api.conftest import Endpoint


@pytest.mark.parametrize(("desired", "threshold"), [(2, 3), (7, 4), (10, 5), (399, 200), (1000, 200)])
def test_threshold_and_configuration(endpoint: Endpoint, desired: int, threshold: int) -> None:
    ecs = endpoint.client("ecs")
    ecs.update_service(cluster="demo", service="web", desiredCount=desired, forceNewDeployment=True)
    [latest, *_] = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    [d] = ecs.describe_service_deployments(serviceDeploymentArns=[latest["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert d["targetServiceRevision"]["requestedTaskCount"] == desired
    assert d["deploymentCircuitBreaker"]["threshold"] == threshold
    [svc] = ecs.describe_services(cluster="demo", services=["web"])["services"]
    assert d["deploymentConfiguration"] == svc["deploymentConfiguration"]
    assert d["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}
