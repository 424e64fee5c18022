"""The autoscaling loop (I/O shell of :mod:`albfargate.ecs.scaling`, spec §8).

Once per period (60 s by default; ``--fast-scaling`` uses 1 s and the pure core scales cooldowns by the
same factor) it measures, for every scalable target of an ECS service:

- CPU: CPU seconds used by each RUNNING task's process groups over the period (from /proc), in CPU units
  (1 vCPU = 1024) against the task definition's ``cpu`` (256 when absent);
- memory: resident memory of each task's process groups in MiB against the task definition's ``memory``;
- requests per target: the growth of the target group's request counter
  (``TargetRegistry.request_count``) divided by the healthy targets, per minute;

feeds :func:`albfargate.ecs.scaling.evaluate` and writes a decision with the host's
``update_desired_count`` (ECS ``UpdateService(desiredCount)``), recording a scaling activity.

It depends on a :class:`~albfargate.ecs.ports.ScalingHost` (the engine is one), not on the engine: the
store's reads, the current model, the target registry and the one write."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from albfargate.ecs import scaling
from albfargate.ecs.ports import ScalingHost
from albfargate.ecs.runtime.process import group_usage
from albfargate.model.autoscaling import PredefinedMetric, ScalableTarget
from albfargate.model.targets import TargetState
from albfargate.state.store import ServiceRecord, TaskRecord

log = logging.getLogger("albfargate.autoscaler")

#: Fargate's smallest task size, used when a task definition gives no cpu/memory.
DEFAULT_TASK_CPU_UNITS = 256
DEFAULT_TASK_MEMORY_MIB = 512


@dataclass(frozen=True, slots=True)
class Activity:
    """One Application Auto Scaling scaling activity (DescribeScalingActivities)."""

    resource_id: str
    description: str
    cause: str
    start_time: float
    status_code: str = "Successful"


class Autoscaler:
    def __init__(
        self,
        host: ScalingHost,
        *,
        period_seconds: float = scaling.DEFAULT_PERIOD_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.period = period_seconds
        self.clock = clock
        self.states: dict[str, scaling.ScalingState] = {}
        self.activities: list[Activity] = []
        self.last_metrics: dict[str, scaling.Metrics] = {}
        self._cpu: dict[str, float] = {}  # task id -> CPU seconds at the last sample
        self._requests: dict[str, int] = {}  # target group arn -> counter at the last sample
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._clamp_to_bounds()
        self._sample_baseline()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _service_of(self, target: ScalableTarget) -> ServiceRecord | None:
        parts = target.resource_id.split("/")
        if len(parts) != 3 or parts[0] != "service":
            return None
        _, cluster, name = parts
        svc = self.host.store.service(name)
        if svc is None or svc.status != "ACTIVE":
            return None
        if cluster not in (svc.cluster, svc.cluster_arn):
            return None
        return svc

    def _clamp_to_bounds(self) -> None:
        """RegisterScalableTarget moves a desired count outside [min, max] inside at once."""
        for target in self.host.model.scalable_targets:
            svc = self._service_of(target)
            if svc is None:
                continue
            bounded = min(max(svc.desired_count, target.min_capacity), target.max_capacity)
            if bounded != svc.desired_count:
                self.host.update_desired_count(svc.name, bounded)

    def _running_tasks(self, svc: ServiceRecord) -> list[TaskRecord]:
        return [t for t in self.host.store.tasks_of(svc.name) if t.last_status == "RUNNING"]

    def _task_usage(self, task: TaskRecord) -> tuple[float, int]:
        cpu = 0.0
        rss = 0
        for c in task.containers:
            if c.pid is not None and c.last_status == "RUNNING":
                c_cpu, c_rss = group_usage(c.pid)
                cpu += c_cpu
                rss += c_rss
        return cpu, rss

    def _tg_for_label(self, label: str | None) -> str | None:
        if not label:
            return None
        for tg in self.host.model.target_groups:
            if label.endswith(tg.full_name):
                return tg.arn
        return None

    def _sample_baseline(self) -> None:
        for target in self.host.model.scalable_targets:
            svc = self._service_of(target)
            if svc is None:
                continue
            for t in self._running_tasks(svc):
                self._cpu[t.task_id] = self._task_usage(t)[0]
        registry = self.host.targets
        if registry is not None:
            for tg in self.host.model.target_groups:
                with contextlib.suppress(KeyError):
                    self._requests[tg.arn] = registry.request_count(tg.arn)

    def measure(self, target: ScalableTarget, svc: ServiceRecord) -> scaling.Metrics:
        td = self.host.store.task_definitions.get(svc.task_definition_arn)
        cpu_reserved = float((td.cpu if td and td.cpu else None) or DEFAULT_TASK_CPU_UNITS)
        mem_reserved = float((td.memory if td and td.memory else None) or DEFAULT_TASK_MEMORY_MIB)
        cpu_used: list[float] = []
        mem_used: list[float] = []
        for t in self._running_tasks(svc):
            cpu_s, rss = self._task_usage(t)
            before = self._cpu.get(t.task_id)
            self._cpu[t.task_id] = cpu_s
            if before is not None:
                cpu_used.append(max(0.0, cpu_s - before) / self.period * 1024.0)
            mem_used.append(rss / (1024 * 1024))
        rcpt: float | None = None
        registry = self.host.targets
        for p in self.host.model.policies_of(target.resource_id):
            if p.metric is not PredefinedMetric.REQUEST_COUNT_PER_TARGET or registry is None:
                continue
            tg_arn = self._tg_for_label(p.resource_label)
            if tg_arn is None:
                continue
            try:
                count = registry.request_count(tg_arn)
                healthy = sum(1 for _, h in registry.describe(tg_arn) if h.state is TargetState.HEALTHY)
            except KeyError:
                continue
            before_req = self._requests.get(tg_arn, count)
            self._requests[tg_arn] = count
            rcpt = scaling.request_count_per_target(count - before_req, healthy, self.period)
        return scaling.Metrics(
            cpu=scaling.service_utilization(cpu_used, cpu_reserved),
            memory=scaling.service_utilization(mem_used, mem_reserved),
            request_count_per_target=rcpt,
        )

    def tick(self) -> None:
        now = self.clock()
        for target in self.host.model.scalable_targets:
            svc = self._service_of(target)
            if svc is None:
                continue
            metrics = self.measure(target, svc)
            self.last_metrics[target.resource_id] = metrics
            in_deployment = len(svc.deployments) > 1 or any(
                d.rollout_state == "IN_PROGRESS" for d in svc.deployments
            )
            ev = scaling.evaluate(
                self.states.get(target.resource_id, scaling.ScalingState()),
                target=target,
                policies=self.host.model.policies_of(target.resource_id),
                metrics=metrics,
                running=svc.running_count,
                desired=svc.desired_count,
                now=now,
                deployment_in_progress=in_deployment,
                period_seconds=self.period,
            )
            self.states[target.resource_id] = ev.state
            d = ev.decision
            if d is not None and d.desired != svc.desired_count:
                log.info("%s: %s (%s)", target.resource_id, d.description, d.cause)
                self.activities.append(Activity(target.resource_id, d.description, d.cause, now))
                self.host.update_desired_count(svc.name, d.desired)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                self.tick()
            except Exception:
                log.exception("autoscaling tick failed")
