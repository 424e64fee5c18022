"""Issue 12 item 5: a forced redeploy of a service made entirely through the API (load balancer, target
group, listener and service created with boto3 against a running ``albfargate up``) fails no request.

The report: both old tasks were drained before any new one was registered (3 of 40 requests got 503 on the
process driver, 10 of 40 on Docker), and the deployment completed exactly 40 s after the new tasks
started although their targets were healthy at once -- the target group looked as if no listener
forwarded to it, so the scheduler did not gate the rollout on its health (the 40 s rule of spec §7.3).

Real processes: the ``up`` supervisor and the stand-in tasks it runs (process driver; a Docker variant in
``tests/integration/docker``). Bounded load: one request every ``PERIOD`` seconds, loopback only."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.up_support import detached, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

PERIOD = 0.25  # one request every PERIOD seconds while the deployment rolls (>= 40 requests in all)
#: The deployment must complete this soon after its new tasks started: their targets turn healthy at
#: once (the first check runs on registration) and the old ones drain in 1 s (the group's delay), so a
#: few seconds; the defect made it 40 s (the no-load-balancer rule).
PROMPT_SECONDS = 15.0
FAST = {"Delay": 0.5, "MaxAttempts": 120}


def cluster_only_template(path: Path) -> Path:
    cluster = {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "api"}}
    path.write_text(json.dumps({"Resources": {"C": cluster}}))
    return path


@dataclass
class Ticker:
    """One GET every ``PERIOD`` seconds to ``url`` until stopped; records every outcome."""

    url: str
    results: list[tuple[float, int | str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            at = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                    outcome: int | str = r.status
            except urllib.error.HTTPError as e:
                outcome = e.code
            except OSError as e:
                outcome = repr(e)
            self.results.append((at, outcome))
            self.stop.wait(max(0.0, PERIOD - (time.time() - at)))

    @property
    def failures(self) -> list[tuple[float, int | str]]:
        return [r for r in self.results if r[1] != 200]


@dataclass
class ApiService:
    ecs: Any
    elb: Any
    tg_arn: str
    url: str


def make_service(
    st: dict[str, Any], *, service_first: bool = False, by_rule: bool = False, image: str = "example/web:1"
) -> ApiService:
    """LB, target group, listener and a 2-task service (100 % / 200 %) through boto3. With
    ``service_first`` the service is made before the listener that forwards to its group; with
    ``by_rule`` the listener answers 404 itself and a rule made after the service (once the listener is
    bound) forwards to the group."""
    from tests.api.conftest import api_client

    ecs, elb = api_client(st["api_url"], "ecs"), api_client(st["api_url"], "elbv2")
    lb = elb.create_load_balancer(Name="api-lb", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    tg = elb.create_target_group(
        Name="api-tg",
        Protocol="HTTP",
        Port=8080,
        VpcId="vpc-1",
        TargetType="ip",
        HealthCheckPath="/",
        HealthCheckIntervalSeconds=5,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg["TargetGroupArn"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}],
    )
    ecs.register_task_definition(
        family="api-web",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "web",
                "image": image,
                "essential": True,
                "portMappings": [{"containerPort": 8080}],
                "stopTimeout": 2,
            }
        ],
    )
    port = free_port()  # >= 1024: served on that port locally

    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]

    def listener() -> str:
        return str(
            elb.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Port=port,
                Protocol="HTTP",
                DefaultActions=fixed if by_rule else forward,
            )["Listeners"][0]["ListenerArn"]
        )

    if not service_first:
        listener_arn = listener()
    ecs.create_service(
        cluster="api",
        serviceName="web",
        taskDefinition="api-web",
        desiredCount=2,
        launchType="FARGATE",
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100},
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
        loadBalancers=[
            {"targetGroupArn": tg["TargetGroupArn"], "containerName": "web", "containerPort": 8080}
        ],
    )
    if service_first:
        time.sleep(1.0)  # the first tasks are up before any listener forwards to their group
        listener_arn = listener()
    if by_rule:
        time.sleep(1.0)  # the listener is bound: the rule is applied to the running listener at once
        elb.create_rule(
            ListenerArn=listener_arn,
            Priority=1,
            Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            Actions=forward,
        )
    return ApiService(ecs, elb, tg["TargetGroupArn"], f"http://127.0.0.1:{port}/")


def wait_serving(svc: ApiService) -> None:
    svc.ecs.get_waiter("services_stable").wait(cluster="api", services=["web"], WaiterConfig=FAST)
    svc.elb.get_waiter("target_in_service").wait(TargetGroupArn=svc.tg_arn, WaiterConfig=FAST)


def task_ids(svc: ApiService) -> set[str]:
    return {a.rsplit("/", 1)[1] for a in svc.ecs.list_tasks(cluster="api", serviceName="web")["taskArns"]}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[dict[str, Any]]:
    tpl = cluster_only_template(tmp_path / "cluster.json")
    state = tmp_path / "state"
    args = ("--template", str(tpl), "--stand-in", "*", "--driver", "process", "--api-port", "0")
    with detached(state, *args, timeout=60) as st:
        assert st["api_url"], "the AWS-compatible endpoint is not running"
        yield st


def force_redeploy_under_light_load(svc: ApiService) -> None:
    """UpdateService(forceNewDeployment) with a request every PERIOD s over the whole rollout: no request
    fails, a new task is registered before the first old one is deregistered, and the deployment completes
    promptly once the new tasks are up (not 40 s later)."""
    wait_serving(svc)
    old = task_ids(svc)
    assert len(old) == 2
    ticker = Ticker(svc.url)
    thread = threading.Thread(target=ticker.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        svc.ecs.update_service(cluster="api", service="web", forceNewDeployment=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            d = svc.ecs.describe_services(cluster="api", services=["web"])["services"][0]
            deps = d["deployments"]
            if len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED" and task_ids(svc).isdisjoint(old):
                break
            time.sleep(0.25)
        else:
            raise AssertionError(f"the deployment did not complete: {d['deployments']}")
        completed_at = time.time()
        while len(ticker.results) < 40 and time.time() < completed_at + 15:
            time.sleep(PERIOD)
        time.sleep(1.0)
    finally:
        ticker.stop.set()
        thread.join(10)
    assert ticker.failures == [], f"{len(ticker.failures)} of {len(ticker.results)} failed: {ticker.failures}"
    assert len(ticker.results) >= 40

    new = task_ids(svc)
    assert len(new) == 2 and new.isdisjoint(old)
    tasks = svc.ecs.describe_tasks(cluster="api", tasks=sorted(new))["tasks"]
    started = max(t["startedAt"].timestamp() for t in tasks)
    assert completed_at - started < PROMPT_SECONDS, (
        f"the deployment completed {completed_at - started:.1f} s after its last task started"
    )
    # in time order (describe_services lists the newest first): a new task's target was registered
    # before the first old one was deregistered
    events = [e["message"] for e in reversed(d["events"])]
    update = max(i for i, m in enumerate(events) if re.search(r"\) has started \d+ tasks", m))
    after = events[update:]
    registered = next(i for i, m in enumerate(after) if "registered 1 targets" in m and "dereg" not in m)
    deregistered = next(i for i, m in enumerate(after) if "deregistered 1 targets" in m)
    assert registered < deregistered, after


def test_forced_redeploy_of_an_api_made_service_fails_no_request(running: dict[str, Any]) -> None:
    force_redeploy_under_light_load(make_service(running))


def test_forced_redeploy_when_the_listener_came_after_the_service(running: dict[str, Any]) -> None:
    force_redeploy_under_light_load(make_service(running, service_first=True))


def test_forced_redeploy_when_a_later_rule_forwards_to_the_group(running: dict[str, Any]) -> None:
    force_redeploy_under_light_load(make_service(running, by_rule=True))
