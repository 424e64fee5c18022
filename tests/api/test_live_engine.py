"""The endpoint over a real engine with stand-in tasks: boto3 reads live state, writes change the running
system, waiters work, and nothing is left running afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LISTENER_ARN, TG2_ARN, TG_ARN, Live, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_engine(tmp_path / "state") as lv:
        yield lv


def _stable(ecs: object, *names: str) -> None:
    ecs.get_waiter("services_stable").wait(  # type: ignore[attr-defined]
        cluster="live", services=list(names), WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
    )


def test_describe_reflects_live_tasks_and_target_health(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    live.wait_serving("web", "alt")
    svc = ecs.describe_services(cluster="live", services=["web"])["services"][0]
    assert svc["runningCount"] == 2 and svc["desiredCount"] == 2 and len(svc["deployments"]) == 1
    arns = ecs.list_tasks(cluster="live", serviceName="web")["taskArns"]
    assert len(arns) == 2
    tasks = ecs.describe_tasks(cluster="live", tasks=arns)["tasks"]
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert all(t["group"] == "service:web" for t in tasks)
    health = elb.describe_target_health(TargetGroupArn=TG_ARN)["TargetHealthDescriptions"]
    assert len(health) == 2 and {h["TargetHealth"]["State"] for h in health} == {"healthy"}
    ports = {h["Target"]["Port"] for h in health}
    task_ports = {c["networkInterfaces"][0]["privateIpv4Address"] for t in tasks for c in t["containers"]}
    assert task_ports == {"127.0.0.1"} and len(ports) == 2
    status, body = live.get("/")
    assert status == 200 and '"service": "web"' in body.replace('":"', '": "')


def test_scale_stop_task_and_waiters(live: Live) -> None:
    ecs = live.client("ecs")
    _stable(ecs, "web")
    ecs.update_service(cluster="live", service="web", desiredCount=3)
    _stable(ecs, "web")
    assert ecs.describe_services(cluster="live", services=["web"])["services"][0]["runningCount"] == 3
    arn = ecs.list_tasks(cluster="live", serviceName="web")["taskArns"][0]
    stopped = ecs.stop_task(cluster="live", task=arn, reason="test stop")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    ecs.get_waiter("tasks_stopped").wait(
        cluster="live", tasks=[arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    t = ecs.describe_tasks(cluster="live", tasks=[arn])["tasks"][0]
    assert (t["stopCode"], t["stoppedReason"]) == ("UserInitiated", "test stop")
    _stable(ecs, "web")  # replaced by the scheduler
    ecs.update_service(cluster="live", service="web", desiredCount=1)
    _stable(ecs, "web")
    assert len(ecs.list_tasks(cluster="live", serviceName="web")["taskArns"]) == 1


def test_run_task_tasks_running_waiter(live: Live) -> None:
    ecs = live.client("ecs")
    out = ecs.run_task(
        cluster="live",
        taskDefinition="web",
        count=1,
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
    )
    arn = out["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_running").wait(
        cluster="live", tasks=[arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    ecs.stop_task(cluster="live", task=arn)
    ecs.get_waiter("tasks_stopped").wait(
        cluster="live", tasks=[arn], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    t = ecs.describe_tasks(cluster="live", tasks=[arn])["tasks"][0]
    assert t["stoppedReason"] == "Task stopped by user"


def test_create_rule_changes_where_the_next_request_goes(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    _stable(ecs, "web", "alt")
    elb.get_waiter("target_in_service").wait(
        TargetGroupArn=TG2_ARN, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert '"service":"alt"' in live.get("/alt")[1].replace(": ", ":")
    assert '"service":"web"' in live.get("/x")[1].replace(": ", ":")
    rule = elb.create_rule(
        ListenerArn=LISTENER_ARN,
        Priority=5,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": TG2_ARN}],
    )["Rules"][0]
    assert '"service":"alt"' in live.get("/x")[1].replace(": ", ":")
    assert '"service":"web"' in live.get("/y")[1].replace(": ", ":")
    elb.modify_rule(
        RuleArn=rule["RuleArn"],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "418",
                    "ContentType": "text/plain",
                    "MessageBody": "teapot",
                },
            }
        ],
    )
    assert live.get("/x") == (418, "teapot")
    elb.delete_rule(RuleArn=rule["RuleArn"])
    assert '"service":"web"' in live.get("/x")[1].replace(": ", ":")


def test_register_and_deregister_targets_waiters(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    _stable(ecs, "web", "alt")
    alt = elb.describe_target_health(TargetGroupArn=TG2_ARN)["TargetHealthDescriptions"][0]["Target"]
    elb.register_targets(TargetGroupArn=TG_ARN, Targets=[alt])
    states = {
        d["Target"]["Port"]: d["TargetHealth"]["State"]
        for d in elb.describe_target_health(TargetGroupArn=TG_ARN)["TargetHealthDescriptions"]
    }
    assert states[alt["Port"]] in ("initial", "healthy") and len(states) == 3
    elb.get_waiter("target_in_service").wait(
        TargetGroupArn=TG_ARN, Targets=[alt], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    elb.deregister_targets(TargetGroupArn=TG_ARN, Targets=[alt])
    d = elb.describe_target_health(TargetGroupArn=TG_ARN, Targets=[alt])["TargetHealthDescriptions"][0]
    assert d["TargetHealth"]["State"] in ("draining", "unused")
    elb.get_waiter("target_deregistered").wait(
        TargetGroupArn=TG_ARN, Targets=[alt], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def test_every_read_operation_answers_from_the_running_system(live: Live) -> None:
    ecs, elb, aas = live.client("ecs"), live.client("elbv2"), live.client("application-autoscaling")
    _stable(ecs, "web", "alt")
    assert ecs.list_clusters()["clusterArns"] == ["arn:aws:ecs:us-east-1:000000000000:cluster/live"]
    cluster = ecs.describe_clusters(clusters=["live"])["clusters"][0]
    assert (cluster["runningTasksCount"], cluster["activeServicesCount"]) == (4, 2)
    assert sorted(a.rsplit("/", 1)[1] for a in ecs.list_services(cluster="live")["serviceArns"]) == [
        "alt",
        "web",
    ]
    assert ecs.list_task_definitions()["taskDefinitionArns"][0].endswith("task-definition/alt:1")
    td = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080
    assert ecs.list_task_definition_families()["families"] == ["alt", "web"]
    deployments = ecs.list_service_deployments(cluster="live", service="web")["serviceDeployments"]
    assert deployments[0]["status"] in ("IN_PROGRESS", "SUCCESSFUL")
    lb = elb.describe_load_balancers()["LoadBalancers"][0]
    assert lb["LoadBalancerName"] == "live-lb" and lb["State"]["Code"] == "active"
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    assert listener["ListenerArn"] == LISTENER_ARN and listener["Port"] == 80
    rules = elb.describe_rules(ListenerArn=LISTENER_ARN)["Rules"]
    assert [r["Priority"] for r in rules] == ["100", "default"]
    groups = {g["TargetGroupName"]: g for g in elb.describe_target_groups()["TargetGroups"]}
    assert groups["web-tg"]["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    assert groups["web-tg"]["HealthCheckIntervalSeconds"] == 5
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=TG_ARN)["Attributes"]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "1"
    lb_attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
    assert {"Key": "idle_timeout.timeout_seconds", "Value": "60"} in lb_attrs
    assert elb.describe_listener_attributes(ListenerArn=LISTENER_ARN)["Attributes"]
    assert elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"] == []
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aas.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []
