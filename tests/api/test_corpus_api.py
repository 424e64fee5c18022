"""Real CDK assemblies (third-party corpus) brought up with stand-ins answer through the endpoint:
boto3 lists and describes their clusters and services, ``services-stable`` holds, ALB target groups
report healthy targets, listeners show their default rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.up_support import down_after, status, up_detached

pytestmark = [pytest.mark.integration, pytest.mark.corpora, pytest.mark.timeout(400)]

ASSEMBLIES = ["alb-fargate-service-https", "alb-fargate-service-smart-defaults", "l3"]


@pytest.mark.parametrize("name", ASSEMBLIES)
def test_corpus_assembly_through_the_api(corpora: Path, tmp_path: Path, name: str) -> None:
    boto3 = pytest.importorskip("boto3")
    manifest = next((corpora / "aws-cdk-integ" / name).rglob("manifest.json"))
    state = tmp_path / "state"
    up = up_detached(
        state, "--assembly", str(manifest.parent), "--stand-in", "*", timeout=120, cli_timeout=300
    )
    with down_after(state, down_timeout=200):
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        st = status(state)
        kw = {
            "endpoint_url": st["api_url"],
            "region_name": "us-east-1",
            "aws_access_key_id": "a",
            "aws_secret_access_key": "b",
        }
        ecs, elb = boto3.client("ecs", **kw), boto3.client("elbv2", **kw)
        seen = 0
        for cluster in ecs.list_clusters()["clusterArns"]:
            arns = ecs.list_services(cluster=cluster)["serviceArns"]
            if not arns:
                continue
            ecs.get_waiter("services_stable").wait(
                cluster=cluster, services=arns, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            out = ecs.describe_services(cluster=cluster, services=arns)
            assert out["failures"] == []
            for svc in out["services"]:
                assert svc["runningCount"] == svc["desiredCount"] and len(svc["deployments"]) == 1
                tasks = ecs.list_tasks(cluster=cluster, serviceName=svc["serviceName"])["taskArns"]
                assert len(tasks) == svc["desiredCount"]
                seen += 1
        assert seen == len(st["services"])
        lbs = elb.describe_load_balancers()["LoadBalancers"]
        assert {lb["LoadBalancerName"] for lb in lbs} == {lb["name"] for lb in st["load_balancers"]}
        for lb in lbs:
            for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
                rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
                assert rules[-1]["IsDefault"] is True
            if lb["Type"] != "application":
                continue
            for tg in elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
                elb.get_waiter("target_in_service").wait(
                    TargetGroupArn=tg["TargetGroupArn"], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )
