"""A whole engine on the Docker driver: a two-task service from a locally built image serves through the
local load balancer; a container failing its health check is replaced; a redeploy under load fails zero
requests; stopping the engine (the Ctrl-C path) leaves no container or network with the state dir's label
(asserted by the ``state_dir`` fixture)."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from albfargate.ecs.runtime.docker import LABEL_STATE_DIR, LABEL_TASK, container_name
from albfargate.ecs.runtime.process import free_port
from albfargate.engine import Engine, EngineConfig, resolve_driver
from albfargate.model import (
    Cluster,
    ContainerDefinition,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    PortMapping,
    Service,
    ServiceLoadBalancer,
    SystemModel,
    TargetGroup,
    TargetGroupAttributes,
    TargetGroupTuple,
    TaskDefinition,
)
from albfargate.model.ecs import ContainerHealthCheck, DeploymentConfiguration
from albfargate.model.ids import (
    cluster_arn,
    hex_id,
    listener_arn,
    load_balancer_arn,
    service_arn,
    target_group_arn,
    task_definition_arn,
)
from tests.engine_support import engine_in_background

pytestmark = [pytest.mark.integration, pytest.mark.docker]

LB_ID = hex_id("dk-lb")
LB_ARN = load_balancer_arn("dk-lb", LB_ID)
TG_ARN = target_group_arn("dk-tg", hex_id("dk-tg"))
# serve /www on 80; leave at once on SIGTERM; /tmp/ok is what the container health check looks at
SERVE = (
    "echo ok > /tmp/ok; echo served-by-docker > /www/index.html; "
    "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait $!"
)


def docker_model(image: str, *, desired: int = 2, container_check: bool = False) -> SystemModel:
    check = (
        ContainerHealthCheck(
            ("CMD-SHELL", "test -f /tmp/ok"), interval_seconds=1, timeout_seconds=2, retries=2
        )
        if container_check
        else None
    )
    c = ContainerDefinition(
        name="web",
        image=image,
        entry_point=("/bin/sh", "-c"),
        command=(SERVE,),
        port_mappings=(PortMapping(80),),
        stop_timeout_seconds=2,
        health_check=check,
    )
    td = TaskDefinition(task_definition_arn("web", 1), "web", 1, (c,), cpu=256, memory=512)
    tg = TargetGroup(
        TG_ARN,
        "dk-tg",
        hex_id("dk-tg"),
        port=80,
        target_type="ip",
        health_check=HealthCheck(
            interval_seconds=5, timeout_seconds=2, healthy_threshold=2, unhealthy_threshold=2
        ),
        attributes=TargetGroupAttributes(deregistration_delay_seconds=1),
    )
    svc = Service(
        service_arn("dk", "web"),
        "web",
        cluster_arn("dk"),
        "dk",
        td.arn,
        desired_count=desired,
        deployment_configuration=DeploymentConfiguration(maximum_percent=200, minimum_healthy_percent=100),
        load_balancers=(ServiceLoadBalancer(TG_ARN, "web", 80),),
    )
    return SystemModel(
        stacks=("Dk",),
        load_balancers=(LoadBalancer(LB_ARN, "dk-lb", LB_ID, "dk-lb-1.us-east-1.elb.amazonaws.com"),),
        listeners=(
            Listener(
                listener_arn("dk-lb", LB_ID, hex_id("dk-l")),
                LB_ARN,
                80,
                "HTTP",
                (ForwardAction((TargetGroupTuple(TG_ARN),)),),
            ),
        ),
        target_groups=(tg,),
        clusters=(Cluster(cluster_arn("dk"), "dk"),),
        task_definitions=(td,),
        services=(svc,),
    )


@dataclass
class Running:
    engine: Engine
    loop: asyncio.AbstractEventLoop
    lb_url: str

    def call(self, fn: Any) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def get(self, timeout: float = 5.0) -> int:
        try:
            with urllib.request.urlopen(self.lb_url + "/", timeout=timeout) as r:
                body = r.read()
                return r.status if body == b"served-by-docker\n" else -1
        except urllib.error.HTTPError as e:
            return e.code

    def wait_steady(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        why: list[str] = []
        while time.monotonic() < deadline:
            steady, why = self.call(self.engine.steady)
            if steady:
                return
            time.sleep(0.2)
        raise AssertionError(f"not steady after {timeout} s: {why}")

    def running_tasks(self) -> set[str]:
        return set(
            self.call(
                lambda: [
                    t.task_id
                    for t in self.engine.store.tasks_of("web")
                    if t.last_status == "RUNNING" and t.desired_status == "RUNNING"
                ]
            )
        )


@contextmanager
def docker_engine(state_dir: Path, model: SystemModel) -> Iterator[Running]:
    lb_port = free_port()
    config = EngineConfig(model=model, state_dir=state_dir, port_overrides={80: lb_port}, driver="docker")
    with engine_in_background(config, start_timeout=120, stop_timeout=120, name="docker-engine") as (
        engine,
        loop,
    ):
        yield Running(engine, loop, f"http://127.0.0.1:{lb_port}")


def test_two_task_service_serves_through_the_load_balancer(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    t0 = time.monotonic()
    with docker_engine(state_dir, docker_model(busybox_image)) as r:
        r.wait_steady()
        steady_after = time.monotonic() - t0
        tasks = r.running_tasks()
        assert len(tasks) == 2
        codes = [r.get() for _ in range(40)]
        assert codes == [200] * 40
        label = f"{LABEL_STATE_DIR}={state_dir}"
        ctrs = docker_client.containers.list(filters={"label": label})
        assert {c.labels[LABEL_TASK] for c in ctrs} == tasks
        assert len(ctrs) == 4  # web + pause per task
        status = r.call(lambda: r.engine.status())
        targets = sorted(t["target"] for t in status["services"][0]["tasks"])
        assert all(t.startswith("127.0.0.1:") for t in targets)
        for tid in tasks:  # the target is the pause container's published loopback port
            pause = docker_client.containers.get(container_name(tid, "pause"))
            hp = pause.attrs["HostConfig"]["PortBindings"]["80/tcp"][0]
            assert hp["HostIp"] == "127.0.0.1"
            assert f"127.0.0.1:{hp['HostPort']}" in targets
        logs = list((state_dir / "logs" / "web").glob("*-web.log"))
        assert len(logs) == 2
    print(f"steady after {steady_after:.1f} s")


def test_container_failing_its_health_check_is_replaced(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    with docker_engine(state_dir, docker_model(busybox_image, container_check=True)) as r:
        r.wait_steady()
        before = r.running_tasks()
        victim = sorted(before)[0]
        docker_client.containers.get(container_name(victim, "web")).exec_run(["rm", "/tmp/ok"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rec = r.call(lambda: r.engine.store.task(victim))
            if rec.last_status == "STOPPED":
                break
            time.sleep(0.2)
        assert rec.last_status == "STOPPED"
        assert rec.stopped_reason == "Task failed container health checks"
        r.wait_steady()
        after = r.running_tasks()
        assert victim not in after and len(after) == 2
        assert r.get() == 200


def test_redeploy_under_load_fails_zero_requests(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    with docker_engine(state_dir, docker_model(busybox_image)) as r:
        r.wait_steady()
        before = r.running_tasks()
        results: list[int] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                results.append(r.get())
                time.sleep(0.01)

        workers = [threading.Thread(target=load) for _ in range(3)]
        for w in workers:
            w.start()
        try:
            time.sleep(1.0)
            r.call(lambda: r.engine.force_new_deployment("web"))
            time.sleep(2.0)
            r.wait_steady(timeout=90)
            time.sleep(1.0)
        finally:
            stop.set()
            for w in workers:
                w.join(10)
        after = r.running_tasks()
        assert not (before & after) and len(after) == 2
        failures = [c for c in results if c != 200]
        assert len(results) > 100
        assert failures == [], f"{len(failures)} of {len(results)} requests failed: {sorted(set(failures))}"


def test_auto_picks_docker_only_when_the_app_is_not_set_up_for_processes(
    busybox_image: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = docker_model(busybox_image)
    assert resolve_driver("auto", model, None, ("*",)) == "process"  # stand-ins cover every container
    assert resolve_driver("auto", model, None, ()) == "docker"  # nothing local, and an engine answers
    assert resolve_driver("process", model, None, ()) == "process"
    assert resolve_driver("docker", model, None, ("*",)) == "docker"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    assert resolve_driver("auto", model, None, ()) == "process"  # no engine: process names what is missing
