"""Writes through boto3 that change the running engine: a new task definition rolls the service,
CreateService/DeleteService start and drain a service, SetRulePriorities/ModifyListener change routing
on the next request, target-group and load-balancer attribute changes reach the data plane."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LB_ARN, LISTENER_ARN, TG2_ARN, TG_ARN, Live, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
STABLE = {"Delay": 0.5, "MaxAttempts": 120}
NET = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_engine(tmp_path / "state") as lv:
        yield lv


def test_new_task_definition_rolls_the_service(live: Live) -> None:
    ecs = live.client("ecs")
    ecs.get_waiter("services_stable").wait(cluster="live", services=["web"], WaiterConfig=STABLE)
    td = ecs.register_task_definition(
        family="web",
        cpu="256",
        memory="512",
        networkMode="awsvpc",
        containerDefinitions=[
            {
                "name": "web",
                "image": "example/web:2",
                "portMappings": [{"containerPort": 8080}],
                "stopTimeout": 2,
            }
        ],
    )["taskDefinition"]
    assert td["revision"] == 2
    out = ecs.update_service(cluster="live", service="web", taskDefinition="web:2")["service"]
    assert out["deployments"][0]["taskDefinition"] == td["taskDefinitionArn"]
    ecs.get_waiter("services_stable").wait(cluster="live", services=["web"], WaiterConfig=STABLE)
    arns = ecs.list_tasks(cluster="live", serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster="live", tasks=arns)["tasks"]
    assert {t["taskDefinitionArn"] for t in tasks} == {td["taskDefinitionArn"]} and len(tasks) == 2
    svc = ecs.describe_services(cluster="live", services=["web"])["services"][0]
    assert svc["taskDefinition"] == td["taskDefinitionArn"] and len(svc["deployments"]) == 1
    served = {json.loads(live.get("/")[1])["task"] for _ in range(6)}
    assert served <= {a.rsplit("/", 1)[1] for a in arns}


def test_create_and_delete_service(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    created = ecs.create_service(
        cluster="live",
        serviceName="extra",
        taskDefinition="alt",
        desiredCount=1,
        networkConfiguration=NET,
        loadBalancers=[{"targetGroupArn": TG2_ARN, "containerName": "alt", "containerPort": 8080}],
    )["service"]
    assert created["serviceArn"].endswith(":service/live/extra") and created["status"] == "ACTIVE"
    ecs.get_waiter("services_stable").wait(cluster="live", services=["extra", "alt"], WaiterConfig=STABLE)
    assert len(elb.describe_target_health(TargetGroupArn=TG2_ARN)["TargetHealthDescriptions"]) == 3
    assert len(ecs.list_tasks(cluster="live", serviceName="extra")["taskArns"]) == 1
    deleted = ecs.delete_service(cluster="live", service="extra", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    ecs.get_waiter("services_inactive").wait(cluster="live", services=["extra"], WaiterConfig=STABLE)
    assert created["serviceArn"] not in ecs.list_services(cluster="live")["serviceArns"]
    deadline = time.time() + 30
    while (
        time.time() < deadline
        and len(elb.describe_target_health(TargetGroupArn=TG2_ARN)["TargetHealthDescriptions"]) > 2
    ):
        time.sleep(0.5)
    assert len(elb.describe_target_health(TargetGroupArn=TG2_ARN)["TargetHealthDescriptions"]) == 2


def test_set_rule_priorities_and_modify_listener_change_routing(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    ecs.get_waiter("services_stable").wait(cluster="live", services=["web", "alt"], WaiterConfig=STABLE)
    elb.get_waiter("target_in_service").wait(
        TargetGroupArn=TG2_ARN, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    cond = [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x*"]}}]
    fwd = elb.create_rule(
        ListenerArn=LISTENER_ARN,
        Priority=5,
        Conditions=cond,
        Actions=[{"Type": "forward", "TargetGroupArn": TG2_ARN}],
    )["Rules"][0]
    fixed = elb.create_rule(
        ListenerArn=LISTENER_ARN,
        Priority=6,
        Conditions=cond,
        Actions=[
            {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418", "MessageBody": "teapot"}}
        ],
    )["Rules"][0]
    assert json.loads(live.get("/x")[1])["service"] == "alt"
    elb.set_rule_priorities(
        RulePriorities=[
            {"RuleArn": fwd["RuleArn"], "Priority": 7},
            {"RuleArn": fixed["RuleArn"], "Priority": 5},
        ]
    )
    assert live.get("/x") == (418, "teapot")
    elb.modify_listener(
        ListenerArn=LISTENER_ARN,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "text/plain",
                    "MessageBody": "maintenance",
                },
            }
        ],
    )
    assert live.get("/") == (503, "maintenance")
    elb.modify_listener(
        ListenerArn=LISTENER_ARN, DefaultActions=[{"Type": "forward", "TargetGroupArn": TG_ARN}]
    )
    # the group was unused while the listener answered itself: its targets are checked again first
    elb.get_waiter("target_in_service").wait(
        TargetGroupArn=TG_ARN, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    assert json.loads(live.get("/")[1])["service"] == "web"


def test_target_group_and_load_balancer_changes_reach_the_data_plane(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    ecs.get_waiter("services_stable").wait(cluster="live", services=["web"], WaiterConfig=STABLE)
    elb.modify_target_group_attributes(
        TargetGroupArn=TG_ARN,
        Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "0"},
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"},
        ],
    )
    elb.modify_target_group(TargetGroupArn=TG_ARN, HealthCheckPath="/healthz", HealthCheckIntervalSeconds=6)
    tg = live.call(lambda: live.engine.lb.targets.target_group(TG_ARN))
    assert tg.attributes.deregistration_delay_seconds == 0
    assert tg.attributes.algorithm == "least_outstanding_requests"
    assert (tg.health_check.path, tg.health_check.interval_seconds) == ("/healthz", 6)
    assert (
        live.call(lambda: live.engine.scheduler.target_groups[TG_ARN]).attributes.deregistration_delay_seconds
        == 0
    )
    headers = json.loads(live.get("/")[1])["headers"]
    assert "x-forwarded-for" in headers
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=LB_ARN,
        Attributes=[{"Key": "routing.http.xff_header_processing.mode", "Value": "remove"}],
    )
    assert "x-forwarded-for" not in json.loads(live.get("/")[1])["headers"]
