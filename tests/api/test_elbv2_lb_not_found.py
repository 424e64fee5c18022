"""Every ELBv2 operation that names a load balancer resolves it the same way (``_lb``): an unknown ARN is
``LoadBalancerNotFound`` with AWS's message, and nothing is changed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint
from tests.api.fakes import LB_ARN

GHOST = LB_ARN + "0"
ATTRS = [{"Key": "idle_timeout.timeout_seconds", "Value": "30"}]
FIXED = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("describe_load_balancers", {"LoadBalancerArns": [LB_ARN, GHOST]}),
    ("describe_load_balancer_attributes", {"LoadBalancerArn": GHOST}),
    ("modify_load_balancer_attributes", {"LoadBalancerArn": GHOST, "Attributes": ATTRS}),
    ("describe_listeners", {"LoadBalancerArn": GHOST}),
    ("create_listener", {"LoadBalancerArn": GHOST, "Port": 81, "Protocol": "HTTP", "DefaultActions": FIXED}),
    ("describe_target_groups", {"LoadBalancerArn": GHOST}),
]


@pytest.mark.parametrize(("op", "kwargs"), CALLS, ids=[c[0] for c in CALLS])
def test_unknown_load_balancer(endpoint: Endpoint, op: str, kwargs: dict[str, Any]) -> None:
    elb = endpoint.client("elbv2")
    before = elb.describe_load_balancers()["LoadBalancers"]
    with pytest.raises(ClientError) as exc:
        getattr(elb, op)(**kwargs)
    assert exc.value.response["Error"]["Code"] == "LoadBalancerNotFound"
    assert exc.value.response["Error"]["Message"] == "One or more load balancers not found"
    assert elb.describe_load_balancers()["LoadBalancers"] == before
    assert len(elb.describe_listeners(LoadBalancerArn=LB_ARN)["Listeners"]) == 1
