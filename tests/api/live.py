"""A real engine (stand-in tasks, local ALB) with the API endpoint, run on a background event loop for
tests that drive it through boto3 and the aws CLI. Everything it starts is stopped on exit."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albfargate.engine import Engine, EngineConfig
from albfargate.model import (
    Cluster,
    ContainerDefinition,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    PortMapping,
    Rule,
    Service,
    ServiceLoadBalancer,
    SystemModel,
    TargetGroup,
    TargetGroupAttributes,
    TargetGroupTuple,
    TaskDefinition,
)
from albfargate.model.ecs import DeploymentConfiguration
from albfargate.model.elbv2 import Condition, ConditionField
from albfargate.model.ids import (
    cluster_arn,
    hex_id,
    listener_arn,
    load_balancer_arn,
    rule_arn,
    service_arn,
    target_group_arn,
    task_definition_arn,
)
from tests.engine_support import engine_in_background

LB_ID = hex_id("live-lb")
LB_ARN = load_balancer_arn("live-lb", LB_ID)
LISTENER_ARN = listener_arn("live-lb", LB_ID, hex_id("live-listener"))
TG_ARN = target_group_arn("web-tg", hex_id("web-tg"))
TG2_ARN = target_group_arn("alt-tg", hex_id("alt-tg"))
ALT_RULE = Rule(
    rule_arn("live-lb", LB_ID, hex_id("live-listener"), hex_id("alt-rule")),
    LISTENER_ARN,
    100,
    (Condition(ConditionField.PATH_PATTERN, values=("/alt*",)),),
    (ForwardAction((TargetGroupTuple(TG2_ARN),)),),
)
FAST_HC = HealthCheck(interval_seconds=5, timeout_seconds=2, healthy_threshold=2, unhealthy_threshold=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_model(desired: int = 2) -> SystemModel:
    def td(family: str) -> TaskDefinition:
        c = ContainerDefinition(
            name=family,
            image=f"example/{family}:1",
            port_mappings=(PortMapping(8080),),
            stop_timeout_seconds=2,
        )
        return TaskDefinition(task_definition_arn(family, 1), family, 1, (c,), cpu=256, memory=512)

    attrs = TargetGroupAttributes(deregistration_delay_seconds=1)
    tgs = (
        TargetGroup(
            TG_ARN,
            "web-tg",
            hex_id("web-tg"),
            port=8080,
            target_type="ip",
            health_check=FAST_HC,
            attributes=attrs,
        ),
        TargetGroup(
            TG2_ARN,
            "alt-tg",
            hex_id("alt-tg"),
            port=8080,
            target_type="ip",
            health_check=FAST_HC,
            attributes=attrs,
        ),
    )
    services = tuple(
        Service(
            service_arn("live", name),
            name,
            cluster_arn("live"),
            "live",
            task_definition_arn(name, 1),
            desired_count=desired,
            deployment_configuration=DeploymentConfiguration(
                maximum_percent=200, minimum_healthy_percent=100
            ),
            load_balancers=(ServiceLoadBalancer(tg, name, 8080),),
            subnets=("subnet-1",),
        )
        for name, tg in (("web", TG_ARN), ("alt", TG2_ARN))
    )
    return SystemModel(
        stacks=("Live",),
        load_balancers=(LoadBalancer(LB_ARN, "live-lb", LB_ID, "live-lb-1.us-east-1.elb.amazonaws.com"),),
        listeners=(
            Listener(LISTENER_ARN, LB_ARN, 80, "HTTP", (ForwardAction((TargetGroupTuple(TG_ARN),)),)),
        ),
        rules=(ALT_RULE,),
        target_groups=tgs,
        clusters=(Cluster(cluster_arn("live"), "live"),),
        task_definitions=(td("web"), td("alt")),
        services=services,
    )


@dataclass
class Live:
    url: str
    lb_url: str
    engine: Engine
    loop: asyncio.AbstractEventLoop

    def client(self, service: str) -> Any:
        from tests.api.conftest import api_client

        return api_client(self.url, service)

    def get(self, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.lb_url + path, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_serving(self, *services: str, cluster: str = "live") -> None:
        """The services are stable *and* their targets in service. ``services_stable`` alone is not
        enough: as on AWS it counts RUNNING tasks, whose targets may still be in ``initial`` (spec §7.6)."""
        self.client("ecs").get_waiter("services_stable").wait(
            cluster=cluster,
            services=list(services or ("web",)),
            WaiterConfig={"Delay": 0.5, "MaxAttempts": 120},
        )
        self.client("elbv2").get_waiter("target_in_service").wait(
            TargetGroupArn=TG_ARN, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
        )

    def call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@contextmanager
def live_engine(
    state_dir: Path, model: SystemModel | None = None, *, scaling_period: float | None = None
) -> Iterator[Live]:
    """The engine and its API on a background loop for the block; on a normal exit it is stopped and no
    child process it started may be left (given 10 s to go)."""
    before = child_pids()
    lb_port = free_port()
    config = EngineConfig(
        model=model or live_model(),
        state_dir=state_dir,
        stand_in=("*",),
        port_overrides={80: lb_port},
        scaling_period_seconds=scaling_period,
    )
    with engine_in_background(config, api=True, name="live-engine") as (engine, loop):
        yield Live(engine.api_url or "", f"http://127.0.0.1:{lb_port}", engine, loop)
    deadline = time.time() + 10
    while child_pids() - before and time.time() < deadline:
        time.sleep(0.2)
    assert child_pids() - before == set(), "stand-in processes left behind"


def child_pids() -> set[int]:
    """Processes whose parent is this test process (stand-in tasks)."""
    me = os.getpid()
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    out.add(int(entry))
            except OSError:
                continue
    return out
