"""The scheduler's shell with an in-memory task driver and target registry (no processes, no sockets):
the rolling-deployment event sequence of spec §7.7, deregistration before stop (§7.6), the task
lifecycle timestamps, failed starts feeding the throttle, and essential-container exits."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from albfargate.ecs.runtime.base import (
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    RunningTask,
    TaskSpec,
    TaskStartError,
)
from albfargate.ecs.scheduler import Scheduler, new_deployment_id
from albfargate.model import ContainerDefinition, PortMapping, Service, ServiceLoadBalancer, TaskDefinition
from albfargate.model.ecs import DeploymentConfiguration
from albfargate.model.elbv2 import TargetGroup, TargetGroupAttributes
from albfargate.model.targets import TargetHealth, TargetId, TargetState
from albfargate.state.store import DeploymentRecord, ServiceRecord, Store

TG = "arn:tg/1"


@dataclass
class FakeDriver:
    name: str = "fake"
    fail_next: int = 0
    log: list[str] = field(default_factory=list)
    tasks: dict[str, RunningTask] = field(default_factory=dict)

    async def start_task(self, spec: TaskSpec) -> RunningTask:
        await asyncio.sleep(0)
        if self.fail_next:
            self.fail_next -= 1
            raise TaskStartError("CannotStartContainerError: boom")
        t = RunningTask(
            spec,
            {
                c.name: ContainerState(c.name, c.essential, ContainerStatus.RUNNING, pid=1)
                for c in spec.containers
            },
        )
        self.tasks[spec.task_id] = t
        self.log.append(f"start {spec.task_id}")
        return t

    async def stop_task(self, task: RunningTask, reason: str) -> None:
        task.stopping = True
        for c in task.containers.values():
            if c.status is ContainerStatus.RUNNING:
                c.status = ContainerStatus.STOPPED
                c.exit_code = 143
        self.log.append(f"stop {task.task_id}")
        task.notify()

    async def cleanup_orphans(self, state_dir: Path) -> int:
        return 0


@dataclass
class FakeRegistry:
    log: list[str] = field(default_factory=list)
    states: dict[tuple[str, TargetId], TargetState] = field(default_factory=dict)

    def register(self, arn: str, t: TargetId) -> None:
        self.states[(arn, t)] = TargetState.HEALTHY
        self.log.append(f"register {t.port}")

    def deregister(self, arn: str, t: TargetId) -> None:
        self.states.pop((arn, t), None)  # deregistration delay 0: gone at once
        self.log.append(f"deregister {t.port}")

    def describe(self, arn: str) -> list[tuple[TargetId, TargetHealth]]:
        return [(t, self.health_of(arn, t)) for (a, t) in self.states if a == arn]

    def health_of(self, arn: str, t: TargetId) -> TargetHealth:
        s = self.states.get((arn, t))
        if s is None:
            return TargetHealth(TargetState.UNUSED, "Target.NotRegistered", None)
        return TargetHealth(s, None, None)

    def request_count(self, arn: str) -> int:
        return 0


TD = TaskDefinition(
    arn="td:1",
    family="f",
    revision=1,
    containers=(ContainerDefinition(name="app", image="i", port_mappings=(PortMapping(8080),)),),
)


def _setup(
    tmp: Path, driver: FakeDriver, registry: FakeRegistry, desired: int = 1
) -> tuple[Store, Scheduler]:
    store = Store(time.time)
    store.register_task_definition(TD)
    model = Service(
        arn="arn:svc/web",
        name="web",
        cluster_arn="arn:c",
        cluster_name="c",
        task_definition_arn="td:1",
        desired_count=desired,
        load_balancers=(ServiceLoadBalancer(TG, "app", 8080),),
        deployment_configuration=DeploymentConfiguration(maximum_percent=200, minimum_healthy_percent=100),
    )
    svc = ServiceRecord(
        name="web",
        arn=model.arn,
        cluster="c",
        cluster_arn="arn:c",
        model=model,
        task_definition_arn="td:1",
        desired_count=desired,
        created_at=time.time(),
    )
    svc.deployments.append(DeploymentRecord(new_deployment_id(), "PRIMARY", "td:1", desired, 0.0, 0.0))
    store.add_service(svc)
    ports = iter(range(40000, 41000))

    def build(td: TaskDefinition, task_id: str, service: str | None) -> TaskSpec:
        return TaskSpec(
            task_id=task_id,
            task_arn=f"arn:task/{task_id}",
            cluster="c",
            family=td.family,
            revision=td.revision,
            log_dir=tmp,
            containers=(ContainerSpec(name="app", image="i", argv=("x",), ports=((8080, next(ports)),)),),
            service=service,
        )

    tg = TargetGroup(
        arn=TG, name="tg", tg_id="1", attributes=TargetGroupAttributes(deregistration_delay_seconds=0)
    )
    sched = Scheduler(
        store, driver, build_spec=build, targets=registry, target_groups={TG: tg}, clock=time.time
    )
    return store, sched


async def _until(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_rolling_deployment_event_sequence(tmp_path: Path) -> None:
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        svc = store.service("web")
        assert svc is not None
        await _until(lambda: sched.steady.get("web", False))
        first = next(iter(store.tasks.values()))
        assert first.last_status == "RUNNING" and first.started_at is not None
        assert first.group == "service:web" and first.started_by == svc.deployments[0].id
        n_events = len(svc.events)
        dep = sched.new_deployment("web")
        await _until(
            lambda: (
                sched.steady.get("web")
                and svc.primary is dep
                and len(svc.deployments) == 1
                and first.last_status == "STOPPED"
            )
        )
        msgs = [e.message for e in reversed(list(svc.events)[: len(svc.events) - n_events])]
        keys = (
            "has started 1 tasks",
            "deregistered 1 targets",
            "registered 1 targets",
            "has stopped 1 running tasks",
            "has begun draining",
            "deployment completed",
            "has reached a steady state",
        )
        kinds = [next(k for k in keys if k in m) for m in msgs if any(k in m for k in keys)]
        assert kinds == [
            "has started 1 tasks",
            "registered 1 targets",
            "has stopped 1 running tasks",
            "deregistered 1 targets",
            "has begun draining",
            "deployment completed",
            "has reached a steady state",
        ], msgs
        # deregistration strictly before the old task's processes were stopped (§7.6)
        old_port = first.targets[0].port
        assert registry.log.index(f"deregister {old_port}") >= 0
        assert first.stop_code == "ServiceSchedulerInitiated"
        assert first.stopped_reason == f"Scaling activity initiated by (deployment {dep.id})"
        assert first.stopping_at is not None and first.stopped_at is not None
        assert first.stopping_at <= first.stopped_at
        await sched.stop_everything(drain=False)

    asyncio.run(go())


def test_failed_starts_count_and_throttle(tmp_path: Path) -> None:
    driver, registry = FakeDriver(fail_next=1), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        svc = store.service("web")
        assert svc is not None
        await _until(lambda: any(t.last_status == "STOPPED" for t in store.tasks.values()))
        failed = next(t for t in store.tasks.values() if t.last_status == "STOPPED")
        assert failed.stop_code == "TaskFailedToStart"
        assert failed.stopped_reason == "CannotStartContainerError: boom"
        assert failed.failed_to_start and failed.started_at is None
        await _until(lambda: svc.launch_failures == 1)
        assert svc.primary is not None and svc.primary.failed_tasks == 1
        await asyncio.sleep(0.3)
        # throttled: the next start waits launch_backoff(1) = 10 s
        assert len(store.tasks) == 1
        assert any("is unable to consistently start tasks successfully." in e.message for e in svc.events)
        await sched.stop_everything(drain=False)

    asyncio.run(go())


def test_essential_exit_stops_the_task_and_it_is_replaced(tmp_path: Path) -> None:
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        await _until(lambda: sched.steady.get("web", False))
        t = next(iter(store.tasks.values()))
        rt = driver.tasks[t.task_id]
        rt.containers["app"].status = ContainerStatus.STOPPED
        rt.containers["app"].exit_code = 1
        rt.notify()
        await _until(lambda: t.last_status == "STOPPED")
        assert t.stop_code == "EssentialContainerExited"
        assert t.stopped_reason == "Essential container in task exited"
        assert t.containers[0].exit_code == 1
        await _until(lambda: sum(1 for x in store.tasks.values() if x.last_status == "RUNNING") == 1)
        await sched.stop_everything(drain=False)
        assert all(x.last_status == "STOPPED" for x in store.tasks.values())

    asyncio.run(go())
