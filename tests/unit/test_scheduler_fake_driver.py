"""The scheduler's shell with an in-memory task driver and target registry (no processes, no sockets):
the rolling-deployment event sequence of spec §7.7, deregistration before stop (§7.6), the task
lifecycle timestamps, failed starts feeding the throttle, and essential-container exits; and the watches:
a target-health change, a store change and a drain's end wake the scheduler without any periodic requeue."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from albfargate.ecs import planner, scheduler
from albfargate.ecs.runtime.base import (
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    RunningTask,
    TaskSpec,
    TaskStartError,
)
from albfargate.ecs.scheduler import Scheduler, new_deployment_id
from albfargate.ecs.tasks import IllegalTransition, LastStatus, StopCode, TaskEvent
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
    on_register: TargetState = TargetState.HEALTHY  # INITIAL: the test turns it healthy itself
    drains: bool = False  # deregistered targets stay DRAINING until the test calls ``leave``
    watchers: list[Callable[[str], None]] = field(default_factory=list)

    def register(self, arn: str, t: TargetId) -> None:
        self.states[(arn, t)] = self.on_register
        self.log.append(f"register {t.port}")
        self._notify(arn)

    def deregister(self, arn: str, t: TargetId) -> None:
        if self.drains:
            self.states[(arn, t)] = TargetState.DRAINING
        else:
            self.states.pop((arn, t), None)  # deregistration delay 0: gone at once
        self.log.append(f"deregister {t.port}")
        self._notify(arn)

    def set_state(self, arn: str, t: TargetId, state: TargetState) -> None:
        self.states[(arn, t)] = state
        self._notify(arn)

    def leave(self, arn: str, t: TargetId) -> None:
        self.states.pop((arn, t), None)
        self.log.append(f"left {t.port}")
        self._notify(arn)

    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self.watchers.append(callback)
        return lambda: self.watchers.remove(callback)

    def _notify(self, arn: str) -> None:
        for cb in list(self.watchers):
            cb(arn)

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
    tmp: Path, driver: FakeDriver, registry: FakeRegistry, desired: int = 1, drain_delay: int = 0
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
        arn=TG,
        name="tg",
        tg_id="1",
        attributes=TargetGroupAttributes(deregistration_delay_seconds=drain_delay),
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


@pytest.fixture
def no_periodic_requeue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every periodic requeue and recheck a minute long: only a watch can wake the scheduler in time."""
    monkeypatch.setattr(scheduler, "SAFETY_REQUEUE_SECONDS", 60.0)
    monkeypatch.setattr(scheduler, "DRAIN_RECHECK_SECONDS", 60.0)
    monkeypatch.setattr(planner, "BUSY_REQUEUE_SECONDS", 60.0)
    monkeypatch.setattr(planner, "STEADY_REQUEUE_SECONDS", 60.0)


def _port(store: Store, task_id: str) -> int | None:
    t = store.task(task_id)
    return t.targets[0].port if t is not None and t.targets and t.targets[0].registered else None


async def _deployed_pair(
    store: Store, sched: Scheduler, registry: FakeRegistry
) -> tuple[str, TargetId, str, TargetId]:
    """A steady service, then a new deployment whose task is registered (still ``initial``)."""
    sched.start()
    await _until(lambda: any(_port(store, t) for t in store.tasks), timeout=2.0)
    (old,) = list(store.tasks)
    old_t = TargetId("127.0.0.1", _port(store, old) or 0)
    registry.set_state(TG, old_t, TargetState.HEALTHY)
    await _until(lambda: sched.steady.get("web", False), timeout=2.0)
    sched.new_deployment("web")
    await _until(lambda: any(_port(store, t) for t in store.tasks if t != old), timeout=2.0)
    new = next(t for t in store.tasks if t != old)
    return old, old_t, new, TargetId("127.0.0.1", _port(store, new) or 0)


@pytest.mark.usefixtures("no_periodic_requeue")
def test_a_target_turning_healthy_wakes_the_scheduler(tmp_path: Path) -> None:
    driver, registry = FakeDriver(), FakeRegistry(on_register=TargetState.INITIAL)

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        old, old_t, _new, new_t = await _deployed_pair(store, sched, registry)
        await asyncio.sleep(0.1)
        old_rec = store.task(old)
        assert old_rec is not None and old_rec.desired_status == "RUNNING"  # nothing moves while initial
        registry.set_state(TG, new_t, TargetState.HEALTHY)
        # with every periodic requeue a minute long, only the health watch gets here within a second
        await _until(lambda: old_rec.last_status == "STOPPED", timeout=1.0)
        assert f"deregister {old_t.port}" in registry.log and f"stop {old}" in driver.log
        await sched.stop_everything(drain=False)

    asyncio.run(go())


@pytest.mark.usefixtures("no_periodic_requeue")
def test_drain_completion_is_an_event(tmp_path: Path) -> None:
    driver, registry = FakeDriver(), FakeRegistry(on_register=TargetState.INITIAL, drains=True)

    async def go() -> None:
        # a 30 s deregistration delay: only the registry's "it left" event ends the drain early
        store, sched = _setup(tmp_path, driver, registry, drain_delay=30)
        old, old_t, _new, new_t = await _deployed_pair(store, sched, registry)
        registry.set_state(TG, new_t, TargetState.HEALTHY)
        await _until(lambda: registry.states.get((TG, old_t)) is TargetState.DRAINING, timeout=1.0)
        await asyncio.sleep(0.1)
        assert f"stop {old}" not in driver.log  # still draining
        registry.leave(TG, old_t)
        await _until(lambda: f"stop {old}" in driver.log, timeout=1.0)
        await sched.stop_everything(drain=False)

    asyncio.run(go())


@pytest.mark.usefixtures("no_periodic_requeue")
def test_a_store_change_enqueues_its_service(tmp_path: Path) -> None:
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        await _until(lambda: sched.steady.get("web", False), timeout=2.0)
        svc = store.service("web")
        assert svc is not None and len(store.tasks) == 1
        # written straight into the store, as an adapter would, without calling the scheduler
        svc.desired_count = 2
        assert svc.primary is not None
        svc.primary.desired_count = 2
        store.touch_service(svc)
        await _until(lambda: sum(1 for t in store.tasks.values() if t.last_status == "RUNNING") == 2, 1.0)
        await sched.stop_everything(drain=False)

    asyncio.run(go())


def test_an_illegal_transition_raises_and_changes_nothing(tmp_path: Path) -> None:
    """``Scheduler._move`` no longer skips an event the lifecycle table does not allow: it raises the typed
    error of ecs/tasks.py, and the record and the store are left as they were."""
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        await _until(lambda: sched.steady.get("web", False), timeout=2.0)
        (rec,) = store.tasks.values()
        assert rec.last_status == "RUNNING"
        before = rec.life
        seen: list[tuple[str, str]] = []
        store.subscribe(lambda kind, key: seen.append((kind, key)))
        with pytest.raises(IllegalTransition) as err:
            sched._move(rec, TaskEvent.DRAINED)  # RUNNING is drained only after a stop
        assert (err.value.status, err.value.event) == (LastStatus.RUNNING, TaskEvent.DRAINED)
        assert rec.life is before and seen == []
        await sched.stop_everything(drain=False)
        assert rec.last_status == "STOPPED" and rec.stop_code == "ServiceSchedulerInitiated"

    asyncio.run(go())


def test_a_flow_that_raises_is_logged_as_a_bug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        store, sched = _setup(tmp_path, driver, registry)
        sched.start()
        await _until(lambda: sched.steady.get("web", False), timeout=2.0)
        (rec,) = store.tasks.values()

        async def broken_flow() -> None:
            sched._move(rec, TaskEvent.PROVISIONED)  # a RUNNING task is not provisioned again

        await asyncio.gather(sched._spawn(broken_flow()), return_exceptions=True)
        await asyncio.sleep(0)
        await sched.stop_everything(drain=False)

    with caplog.at_level(logging.ERROR, logger="albfargate.scheduler"):
        asyncio.run(go())
    bugs = [r for r in caplog.records if r.getMessage().startswith("bug: a task flow failed")]
    assert len(bugs) == 1 and "IllegalTransition" in bugs[0].getMessage()


def test_a_stop_asked_for_during_the_launch_is_applied_once_it_settled(tmp_path: Path) -> None:
    """StopTask while the task is launching records the intent on the record (desiredStatus STOPPED, the
    stop code), leaves the status to the launch, and the stop flow moves it after: every step legal."""
    driver, registry = FakeDriver(), FakeRegistry()

    async def go() -> None:
        _store, sched = _setup(tmp_path, driver, registry, desired=0)
        (rec,) = sched.run_task(TD, cluster="c")
        sched.stop_task(rec.task_id, StopCode.UserInitiated, "stop it")
        assert (rec.last_status, rec.desired_status, rec.stop_code) == (
            "PROVISIONING",
            "STOPPED",
            "UserInitiated",
        )
        await _until(lambda: rec.last_status == "STOPPED", timeout=2.0)
        assert rec.stopped_reason == "stop it" and rec.started_at is not None
        assert rec.stopping_at is not None and rec.stopped_at is not None
        assert f"stop {rec.task_id}" in driver.log
        await sched.stop_everything(drain=False)

    asyncio.run(go())
