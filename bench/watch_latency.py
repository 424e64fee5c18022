"""Benchmark of the control plane's reaction time during a rolling deployment (issue 14, item 2).

In one process: the real scheduler (``ecs/scheduler.py``) and the real target registry
(``alb/targets.LiveTargets``, its deregistration delay on the event loop), an in-memory task driver (no
processes: what is measured is the scheduler's reaction, not process start-up) and no health checker — the
bench turns a target healthy itself, at a moment it records. Each round: a one-task service
(minimumHealthyPercent 100, maximumPercent 200) is steady; a new deployment starts its task; after a
random pause the new target turns healthy. Two figures per round:

- **healthy → stop**: from the new target turning healthy to the old task's target being deregistered
  (the scheduler has decided to stop the old task);
- **drain end → stopped**: from the old target's deregistration delay running out (it leaves the group)
  to the driver being told to stop the old task.

Prints median and max of each over the rounds. Bounded: a few rounds of about two seconds each, no
sockets. The deregistration delay is whole seconds (as in AWS), so a poll with a period dividing it is in
phase with the drain's end: a polling scheduler shows there about 0 or one period. Figures from a
loaded machine are indicative only. Run:
``.venv/bin/python bench/watch_latency.py [--rounds N] [--delay SECONDS]``."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from albfargate.alb.targets import LiveTargets, Target
from albfargate.ecs.runtime.base import (
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    RunningTask,
    TaskSpec,
)
from albfargate.ecs.scheduler import Scheduler, new_deployment_id
from albfargate.model import ContainerDefinition, PortMapping, Service, ServiceLoadBalancer, TaskDefinition
from albfargate.model.ecs import DeploymentConfiguration
from albfargate.model.elbv2 import TargetGroup, TargetGroupAttributes
from albfargate.model.targets import TargetHealth, TargetId, TargetState
from albfargate.state.store import DeploymentRecord, ServiceRecord, Store

TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench/1"


@dataclass
class MemDriver:
    """Tasks that are running as soon as they are started; records when each is told to stop."""

    name: str = "memory"
    stopped_at: dict[str, float] = field(default_factory=dict)

    async def start_task(self, spec: TaskSpec) -> RunningTask:
        await asyncio.sleep(0)
        return RunningTask(
            spec,
            {
                c.name: ContainerState(c.name, c.essential, ContainerStatus.RUNNING, pid=1)
                for c in spec.containers
            },
        )

    async def stop_task(self, task: RunningTask, reason: str) -> None:
        self.stopped_at.setdefault(task.task_id, time.monotonic())
        task.stopping = True
        for c in task.containers.values():
            c.status = ContainerStatus.STOPPED
            c.exit_code = 143
        task.notify()

    async def cleanup_orphans(self, state_dir: Path) -> int:
        return 0


def _service(tg: TargetGroup) -> ServiceRecord:
    model = Service(
        arn="arn:aws:ecs:us-east-1:000000000000:service/c/web",
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        cluster_name="c",
        task_definition_arn="td:1",
        desired_count=1,
        load_balancers=(ServiceLoadBalancer(tg.arn, "app", 8080),),
        deployment_configuration=DeploymentConfiguration(maximum_percent=200, minimum_healthy_percent=100),
    )
    svc = ServiceRecord(
        name="web",
        arn=model.arn,
        cluster="c",
        cluster_arn=model.cluster_arn,
        model=model,
        task_definition_arn="td:1",
        desired_count=1,
        created_at=time.time(),
    )
    svc.deployments.append(DeploymentRecord(new_deployment_id(), "PRIMARY", "td:1", 1, 0.0, 0.0))
    return svc


async def _until(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the scheduler did not get there in time")
        await asyncio.sleep(0.002)


async def _round(log_dir: Path, delay: int) -> tuple[float, float]:
    td = TaskDefinition(
        arn="td:1",
        family="f",
        revision=1,
        containers=(ContainerDefinition(name="app", image="i", port_mappings=(PortMapping(8080),)),),
    )
    tg = TargetGroup(
        arn=TG, name="bench", tg_id="1", attributes=TargetGroupAttributes(deregistration_delay_seconds=delay)
    )
    registry = LiveTargets([tg], clock=time.monotonic)
    registry.set_in_use([TG])
    store = Store(time.time)
    store.register_task_definition(td)
    store.add_service(_service(tg))
    driver = MemDriver()
    ports = iter(range(41000, 42000))
    deregistered: dict[int, float] = {}
    left: dict[int, float] = {}

    def watch(arn: str, t: Target, event: str) -> None:
        if event == "leave":
            left.setdefault(t.tid.port, time.monotonic())

    def on_change(arn: str) -> None:
        for tid, h in registry.describe(arn):
            if h.state is TargetState.DRAINING:
                deregistered.setdefault(tid.port, time.monotonic())

    registry.subscribe(watch)
    registry.on_change(on_change)

    def build(td_: TaskDefinition, task_id: str, service: str | None) -> TaskSpec:
        port = next(ports)
        return TaskSpec(
            task_id=task_id,
            task_arn=f"arn:task/{task_id}",
            cluster="c",
            family=td_.family,
            revision=td_.revision,
            log_dir=log_dir,
            containers=(ContainerSpec(name="app", image="i", argv=("x",), ports=((8080, port),)),),
            service=service,
            settle_seconds=0.0,
        )

    sched = Scheduler(
        store, driver, build_spec=build, targets=registry, target_groups={TG: tg}, clock=time.monotonic
    )

    def make_healthy(port: int) -> None:
        t = registry.target(TG, TargetId("127.0.0.1", port))
        assert t is not None
        registry.set_health(TG, t, TargetHealth(TargetState.HEALTHY, None, None))

    def bound_port(task_id: str) -> int | None:
        rec = store.task(task_id)
        return rec.targets[0].port if rec is not None and rec.targets and rec.targets[0].registered else None

    sched.start()
    try:
        await _until(lambda: any(bound_port(t) for t in store.tasks))
        (old_id,) = list(store.tasks)
        old_port = bound_port(old_id)
        assert old_port is not None
        make_healthy(old_port)
        await _until(lambda: sched.steady.get("web", False))
        sched.new_deployment("web")
        await _until(lambda: any(bound_port(t) for t in store.tasks if t != old_id))
        new_id = next(t for t in store.tasks if t != old_id)
        new_port = bound_port(new_id)
        assert new_port is not None
        await asyncio.sleep(random.uniform(0.0, 0.3))  # out of phase with any poll period
        t0 = time.monotonic()
        make_healthy(new_port)
        await _until(lambda: old_port in deregistered)
        await _until(lambda: old_id in driver.stopped_at)
        return deregistered[old_port] - t0, driver.stopped_at[old_id] - left[old_port]
    finally:
        await sched.stop_everything(drain=False)
        registry.close()


def _line(name: str, xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return f"{name:<22} median {statistics.median(ms):7.1f} ms   max {max(ms):7.1f} ms   ({len(ms)} rounds)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--delay", type=int, default=1, help="deregistration delay of the group (whole seconds)")
    args = ap.parse_args(argv)
    to_stop: list[float] = []
    drained: list[float] = []
    with tempfile.TemporaryDirectory(prefix="albfargate-bench-") as tmp:
        for _ in range(max(1, args.rounds)):
            a, b = asyncio.run(_round(Path(tmp), args.delay))
            to_stop.append(a)
            drained.append(b)
    print(_line("healthy -> stop", to_stop))
    print(_line("drain end -> stopped", drained))
    return 0


if __name__ == "__main__":
    sys.exit(main())
