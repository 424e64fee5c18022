"""The ``services-stable`` waiter (spec §7.9) holds through the AWS-compatible endpoint the supervisor
serves once ``up --detach`` reports steady, and ``UpdateService(desiredCount)`` through boto3 scales."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.up_support import Svc, detached, free_port, make_template, service, status, wait_for

pytestmark = pytest.mark.integration


def test_services_stable_waiter_through_the_api(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        if not st["api_url"]:
            pytest.skip("the AWS-compatible API is not available")
        ecs = boto3.client(
            "ecs",
            endpoint_url=st["api_url"],
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        cluster = service(st, "web")["cluster"]
        ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
        )
        d = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
        assert len(d["deployments"]) == 1 and d["runningCount"] == d["desiredCount"] == 2
        ecs.update_service(cluster=cluster, service="web", desiredCount=3)
        wait_for(
            lambda: (s := status(state))["steady"] and service(s, "web")["running"] == 3, 30, "3 running"
        )
        ecs.get_waiter("services_stable").wait(
            cluster=cluster, services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 10}
        )
