"""The service scheduler: a level-based reconcile loop per ECS service, and the task flows it drives.

Owns
- the keyed work queue (a service name is queued at most once; a key being reconciled is never reconciled
  twice at the same time; ``requeue_after`` timers; exponential backoff when a reconcile raises);
- the watches that fill it, as in controller-runtime: a change of a target group's targets or health in the
  registry (``TargetRegistry.on_change``) enqueues the services bound to that group, a store change
  (``Store.subscribe``) enqueues its service (not the reconcile's own writes), and a draining task waits for
  its group's change events rather than polling; a slow periodic requeue (``SAFETY_REQUEUE_SECONDS``) is
  only a safety net;
- ``reconcile(service)``: read the store and the target registry, build the pure planner's
  :class:`~albfargate.ecs.planner.ServiceView`, call :func:`~albfargate.ecs.planner.plan`, apply the plan;
- the task flows, moved through the lifecycle table of :mod:`albfargate.ecs.tasks`:
  *launch* (PROVISIONING → PENDING → start containers → ACTIVATING → RUNNING → register targets) and
  *stop* (desiredStatus STOPPED → DEACTIVATING: deregister and wait for the target to be drained/unused →
  STOPPING: SIGTERM, stopTimeout, SIGKILL → DEPROVISIONING → STOPPED), §6.1, §7.6;
- the edge-triggered failure counters the planner reads (circuit breaker, launch throttle);
- the commands every change goes through (``update_service``, ``delete_service``, ``stop_task``,
  ``run_task``): each changes the store once (one notification, one enqueue). A task's lifecycle is its
  store record's (``TaskRecord.move``): an event the table does not allow raises ``IllegalTransition``,
  and a flow that raises is logged as a bug.

The engine gives it the store, a task driver, the target registry (None without load balancers) and a
``build_spec`` callable that turns a task definition into a :class:`TaskSpec` (run settings, stand-ins,
port allocation, secrets)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from albfargate.ecs import events, planner
from albfargate.ecs import tasks as lifecycle
from albfargate.ecs.ports import TargetRegistry
from albfargate.ecs.runtime.base import RunningTask, TaskDriver, TaskSpec, TaskStartError
from albfargate.ecs.tasks import DesiredStatus, LastStatus, StopCode, TaskEvent
from albfargate.model import ids
from albfargate.model.ecs import Service, TaskDefinition
from albfargate.model.elbv2 import TargetGroup
from albfargate.model.targets import TargetId
from albfargate.state.store import (
    ContainerRecord,
    DeploymentRecord,
    ServiceRecord,
    Store,
    TargetBinding,
    TaskRecord,
)

log = logging.getLogger("albfargate.scheduler")

#: A draining task wakes on its group's change events; this is only the safety-net recheck period.
DRAIN_RECHECK_SECONDS = 2.0
#: Extra time allowed past the deregistration delay before we stop waiting for ``unused``.
DRAIN_SLACK_SECONDS = 2.0
#: Backoff for a reconcile that raised: base × 2^n, capped.
RECONCILE_BACKOFF_BASE = 0.2
RECONCILE_BACKOFF_MAX = 30.0
#: Longest wait between reconciles of a service that is not steady: a safety net only, since target
#: health and store changes are watched (the planner asks for sooner when it knows of a deadline).
SAFETY_REQUEUE_SECONDS = 3.0
#: How often stopped tasks older than the retention time are forgotten.
PRUNE_EVERY_SECONDS = 60.0
#: Worker coroutines taking keys off the queue (reconciles are short; flows run as their own tasks).
WORKERS = 4

BuildSpec = Callable[[TaskDefinition, str, str | None], TaskSpec]


def new_task_id() -> str:
    return uuid.uuid4().hex


def new_deployment_id() -> str:
    return ids.deployment_id(uuid.uuid4().hex)


@dataclass(slots=True)
class _Flow:
    """The running parts of a task's flows: their asyncio tasks, the driver's handle and the stop order
    the stop flow carries out. No lifecycle: that is the task's record (``TaskRecord.life``)."""

    launch: asyncio.Task[None] | None = None
    stop: asyncio.Task[None] | None = None
    running: RunningTask | None = None
    stop_requested: tuple[TaskEvent, StopCode | None, str | None] | None = None


#: The event that moves a task on its way out one status further (a failed start has nothing to drain).
_TOWARDS_STOPPED = {
    LastStatus.DEACTIVATING: TaskEvent.DRAINED,
    LastStatus.STOPPING: TaskEvent.STOPPED_PROCESSES,
    LastStatus.DEPROVISIONING: TaskEvent.DEPROVISIONED,
}


@dataclass(slots=True)
class _Deduper:
    per_service: dict[str, events.EventDeduper] = field(default_factory=dict)

    def of(self, name: str) -> events.EventDeduper:
        d = self.per_service.get(name)
        if d is None:
            d = self.per_service[name] = events.EventDeduper()
        return d


class Scheduler:
    """Every service's reconcile loop plus standalone tasks (RunTask)."""

    def __init__(
        self,
        store: Store,
        driver: TaskDriver,
        *,
        build_spec: BuildSpec,
        targets: TargetRegistry | None,
        target_groups: Mapping[str, TargetGroup],
        clock: Callable[[], float],
        on_change: Callable[[], None] | None = None,
        served: Callable[[str], bool] | None = None,
        prepare: Callable[[TaskDefinition], Awaitable[None]] | None = None,
        on_rollback_failed: Callable[[ServiceRecord, DeploymentRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.driver = driver
        self.build_spec = build_spec
        self._targets: TargetRegistry | None = None
        self._unwatch_targets: Callable[[], None] | None = None
        self._unwatch_store: Callable[[], None] | None = None
        self._drain_waiters: dict[str, set[asyncio.Event]] = {}  # target group arn → waiting drains
        self.targets = targets
        self.target_groups = dict(target_groups)
        self.clock = clock
        self.on_change = on_change
        # whether a local listener forwards to a target group, asked on every reconcile, so a group, listener
        # or rule made at run time gates the services that use it at once; targets elsewhere (an NLB's, not
        # emulated) are registered but their health does not gate the service (it is treated as having no
        # LB, §7.3). None: every group gates.
        self.served = served
        self.prepare = prepare  # awaited before a task of the revision is built (its code snapshot)
        self.on_rollback_failed = on_rollback_failed  # told once when a rollback deployment fails
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failures: dict[str, int] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._flows: dict[str, _Flow] = {}
        self._bg: set[asyncio.Task[None]] = set()
        self._dedupe = _Deduper()
        self.steady: dict[str, bool] = {}
        self.paused = False  # no new launches (shutdown)
        self._shutdown = asyncio.Event()  # cuts draining waits short
        self._last_prune = clock()
        self.last_error: dict[str, str] = {}

    # ---- the watches ---------------------------------------------------------------------------
    @property
    def targets(self) -> TargetRegistry | None:
        return self._targets

    @targets.setter
    def targets(self, registry: TargetRegistry | None) -> None:
        """The registry (set later when the load balancers start at run time): watched from now on."""
        if self._unwatch_targets is not None:
            self._unwatch_targets()
            self._unwatch_targets = None
        self._targets = registry
        if registry is not None:
            self._unwatch_targets = registry.on_change(self._on_target_change)

    def _on_target_change(self, target_group_arn: str) -> None:
        for ev in self._drain_waiters.get(target_group_arn, ()):
            ev.set()
        if not self._workers:
            return
        for svc in self.store.services.values():
            if any(lb.target_group_arn == target_group_arn for lb in svc.model.load_balancers):
                self.enqueue(svc.name)

    def _on_store_change(self, kind: str, key: str) -> None:
        if kind == "service":
            name: str | None = key
        elif kind == "task":
            t = self.store.tasks.get(key)
            name = t.service_name if t is not None else None
        else:
            return
        # a reconcile is synchronous: a change of its service while it runs is its own write
        if name is not None and name not in self._processing and name in self.store.services:
            self.enqueue(name)

    async def _target_event(self, arns: set[str], timeout: float) -> None:
        """Wait until one of these groups changes (or ``timeout`` seconds, or shutdown)."""
        ev = asyncio.Event()
        for arn in arns:
            self._drain_waiters.setdefault(arn, set()).add(ev)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), timeout)
        finally:
            for arn in arns:
                waiters = self._drain_waiters.get(arn)
                if waiters is not None:
                    waiters.discard(ev)
                    if not waiters:
                        del self._drain_waiters[arn]

    # ---- the keyed queue ---------------------------------------------------------------------
    def start(self) -> None:
        for _ in range(WORKERS):
            self._workers.append(asyncio.get_running_loop().create_task(self._worker()))
        if self._unwatch_store is None:
            self._unwatch_store = self.store.subscribe(self._on_store_change)
        for name in self.store.services:
            self.enqueue(name)

    def enqueue(self, name: str) -> None:
        if name in self._processing:
            self._dirty.add(name)
            return
        if name in self._queued:
            return
        self._queued.add(name)
        self._queue.put_nowait(name)

    def requeue_after(self, name: str, delay: float) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(max(0.0, delay), self._fire, name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        self.enqueue(name)

    async def _worker(self) -> None:
        while True:
            name = await self._queue.get()
            self._queued.discard(name)
            self._processing.add(name)
            try:
                delay = self.reconcile(name)
                self._failures.pop(name, None)
                self.last_error.pop(name, None)
            except Exception as exc:  # a bug or a transient error: back off and try again
                n = self._failures.get(name, 0) + 1
                self._failures[name] = n
                delay = min(RECONCILE_BACKOFF_MAX, RECONCILE_BACKOFF_BASE * 2**n)
                self.last_error[name] = f"{type(exc).__name__}: {exc}"
                log.exception("reconcile of service %s failed (retry in %.1f s)", name, delay)
            finally:
                self._processing.discard(name)
            if name in self._dirty:
                self._dirty.discard(name)
                self.enqueue(name)
            elif delay is not None:
                self.requeue_after(name, delay)

    async def close(self) -> None:
        if self._unwatch_store is not None:
            self._unwatch_store()
            self._unwatch_store = None
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()
        for w in self._workers:
            w.cancel()
        for w in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await w
        self._workers.clear()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # ---- reconcile ---------------------------------------------------------------------------
    def reconcile(self, name: str) -> float | None:
        svc = self.store.service(name)
        if svc is None:
            return None
        now = self.clock()
        if now - self._last_prune > PRUNE_EVERY_SECONDS:
            self._last_prune = now
            self.store.prune(now)
            for tid in [t for t in self._flows if t not in self.store.tasks]:
                del self._flows[tid]
        if svc.status == "INACTIVE":
            return None
        if svc.status == "DRAINING":
            return self._reconcile_draining(svc)
        view = self._view(svc, now)
        p = planner.plan(view, now=now)
        self._apply(svc, p, now)
        self.steady[name] = p.steady
        # health and store changes are watched (they enqueue us): the requeue is a safety net
        return p.requeue_after if p.steady else min(p.requeue_after, SAFETY_REQUEUE_SECONDS)

    def _reconcile_draining(self, svc: ServiceRecord) -> float | None:
        live = [t for t in self.store.tasks_of(svc.name) if t.last_status != "STOPPED"]
        for t in live:
            if t.desired_status == "RUNNING":
                self.stop_task(t.task_id, StopCode.ServiceSchedulerInitiated, "Service is being deleted")
        if not live:
            svc.status = "INACTIVE"
            for d in svc.deployments:
                d.status = "INACTIVE"
            self.store.touch_service(svc)
            self._changed()
            return None
        return 0.5

    def _target_states(self, t: TaskRecord) -> list[tuple[str, int, str, str | None]]:
        out: list[tuple[str, int, str, str | None]] = []
        if self.targets is None:
            return out
        for b in t.targets:
            if not b.registered or not self._served(b.target_group_arn):
                continue
            h = self.targets.health_of(b.target_group_arn, TargetId(b.host, b.port))
            out.append((b.target_group_arn, b.container_port, str(h.state), h.description))
        return out

    def _served(self, target_group_arn: str) -> bool:
        return self.served is None or self.served(target_group_arn)

    def _view(self, svc: ServiceRecord, now: float) -> planner.ServiceView:
        td_checks: dict[str, bool] = {}
        has_lb = self.targets is not None and any(
            self._served(lb.target_group_arn) for lb in svc.model.load_balancers
        )
        task_views = []
        for t in self.store.tasks_of(svc.name):
            if t.last_status == "STOPPED":
                continue
            if t.task_definition_arn not in td_checks:
                td = self.store.task_definitions.get(t.task_definition_arn)
                td_checks[t.task_definition_arn] = bool(
                    td and any(c.essential and c.health_check for c in td.containers)
                )
            states = self._target_states(t)
            healthy = planner.counts_as_healthy(
                last_status=t.last_status,
                has_load_balancer=has_lb,
                has_container_check=td_checks[t.task_definition_arn],
                task_health=t.health_status,
                target_states=[s for _, _, s, _ in states],
                running_since=t.started_at,
                now=now,
            )
            if healthy and not t.ever_healthy:
                t.ever_healthy = True
                dep = next((d for d in svc.deployments if d.id == t.deployment_id), None)
                if dep is not None and dep.failed_tasks:
                    dep.failed_tasks = 0  # resetOnHealthyTask
            cause = planner.unhealthy_cause(task_health=t.health_status, targets=states)
            t.unhealthy_reason = None if cause is None else cause.stopped_reason
            task_views.append(
                planner.TaskView(
                    task_id=t.task_id,
                    deployment_id=t.deployment_id or "",
                    last_status=LastStatus(t.last_status),
                    desired_status=DesiredStatus(t.desired_status),
                    started_at=t.started_at,
                    healthy=healthy,
                    unhealthy=cause,
                    failed_to_start=t.failed_to_start,
                    created_at=t.created_at,
                )
            )
        deployments = tuple(
            planner.DeploymentView(
                id=d.id,
                status=planner.DeploymentStatus(d.status),
                task_definition_arn=d.task_definition_arn,
                desired_count=d.desired_count,
                rollout_state=planner.RolloutState(d.rollout_state),
                failed_tasks=d.failed_tasks,
                created_at=d.created_at,
                rollout_state_reason=d.rollout_state_reason,
                rollback_to=d.rollback_to,
            )
            for d in svc.deployments
        )
        cfg = svc.model.deployment_configuration
        return planner.ServiceView(
            name=svc.name,
            desired_count=svc.desired_count,
            deployments=deployments,
            tasks=tuple(task_views),
            now=now,
            max_percent=cfg.maximum_percent,
            min_healthy_percent=cfg.minimum_healthy_percent,
            circuit_breaker=cfg.circuit_breaker,
            grace_period=float(svc.model.health_check_grace_period_seconds),
            last_completed_task_definition=svc.last_completed_task_definition,
            last_completed_deployment_id=svc.last_completed_deployment_id,
            launch_failures=svc.launch_failures,
            last_launch_failure_at=svc.last_launch_failure_at,
        )

    def _apply(self, svc: ServiceRecord, p: planner.Plan, now: float) -> None:
        changed = False
        by_id = {d.id: d for d in svc.deployments}
        for u in p.deployment_updates:
            d = by_id.get(u.deployment_id)
            if d is None:
                continue
            if u.status is not None:
                d.status = u.status.value
            if u.rollout_state is not None:
                d.rollout_state = u.rollout_state.value
                if u.rollout_state is planner.RolloutState.COMPLETED:
                    svc.last_completed_task_definition = d.task_definition_arn
                    svc.last_completed_deployment_id = d.id
            if u.rollout_state_reason is not None:
                d.rollout_state_reason = u.rollout_state_reason
            d.updated_at = now
            changed = True
        if p.drop_deployments:
            svc.deployments = [d for d in svc.deployments if d.id not in p.drop_deployments]
            changed = True
        if p.new_rollback_deployment is not None:
            rb = p.new_rollback_deployment
            reason, to = rb.rollout_state_reason, rb.rolling_back_to
            self._new_deployment(svc, rb.task_definition_arn, now, reason=reason, rollback_to=to)
            changed = True
        for msg in p.events:
            self.store.add_event(svc, msg)
        if p.failed_rollback is not None and self.on_rollback_failed is not None:
            dep = next((d for d in svc.deployments if d.id == p.failed_rollback), None)
            if dep is not None:
                self.on_rollback_failed(svc, dep)
        for msg in self._dedupe.of(svc.name).filter(p.conditions, now):
            self.store.add_event(svc, msg)
        if p.stop:
            ids_ = []
            for order in p.stop:
                t = self.store.task(order.task_id)
                if t is None or t.desired_status != "RUNNING":
                    continue
                if order.reason.startswith("Task failed"):
                    t.failed_health_checks = True
                if t.last_status == "RUNNING":
                    ids_.append(t.task_id)
                self.stop_task(order.task_id, order.stop_code, order.reason, emit=False)
            if ids_:
                self.store.add_event(svc, events.tasks_stopped(svc.name, ids_))
        if p.start and not self.paused:
            for start in p.start:
                td = self.store.task_definitions.get(start.task_definition_arn)
                if td is None:
                    self.store.add_event(
                        svc,
                        events.unable_to_place(
                            svc.name, f"task definition {start.task_definition_arn} is not registered"
                        ),
                    )
                    continue
                started = [
                    self._create_task(td, service=svc, deployment_id=start.deployment_id)
                    for _ in range(start.count)
                ]
                self.store.add_event(svc, events.tasks_started(svc.name, [t.task_id for t in started]))
                for t in started:
                    self._spawn_launch(t, td)
        if changed:
            self.store.touch_service(svc)
            self._changed()

    # ---- deployments (also used by the engine's API-facing methods) ----------------------------
    def _new_deployment(
        self,
        svc: ServiceRecord,
        task_definition_arn: str,
        now: float,
        *,
        reason: str | None = None,
        rollback_to: str | None = None,
    ) -> DeploymentRecord:
        for d in svc.deployments:
            if d.status == "PRIMARY":
                d.status = "ACTIVE"
                d.updated_at = now
        dep_id = new_deployment_id()
        dep = DeploymentRecord(
            id=dep_id,
            status="PRIMARY",
            task_definition_arn=task_definition_arn,
            desired_count=svc.desired_count,
            created_at=now,
            updated_at=now,
            rollout_state="IN_PROGRESS",
            rollout_state_reason=reason or events.rollout_in_progress_reason(dep_id),
            launch_type=svc.model.launch_type,
            platform_version=svc.model.platform_version,
            rollback_to=rollback_to,
        )
        svc.deployments.insert(0, dep)
        svc.task_definition_arn = task_definition_arn
        # a new deployment resets the launch throttle (§7.8)
        svc.launch_failures = 0
        svc.last_launch_failure_at = None
        return dep

    def update_target_group(self, tg: TargetGroup) -> None:
        """A target group's new settings (ModifyTargetGroup/ModifyTargetGroupAttributes: the
        deregistration delay a drain waits, ...), from the next reconcile on; the store is not changed."""
        self.target_groups[tg.arn] = tg

    def update_service(
        self,
        name: str,
        *,
        model: Service | None = None,
        desired_count: int | None = None,
        task_definition_arn: str | None = None,
        force_new_deployment: bool = False,
    ) -> DeploymentRecord | None:
        """The one write path of an UpdateService (and of scaling, and of a forced redeploy): the new
        definition (``model``: deployment configuration, load balancers, grace period ...), the desired
        count (the primary deployment's too) and a new deployment when the task definition changes or
        one is forced -- applied to the record together, then one store change, one enqueue, one change
        notification. Returns the new deployment, if one was made."""
        svc = self._service(name)
        now = self.clock()
        changed = False
        if model is not None and model != svc.model:
            svc.model = model
            changed = True
        if desired_count is not None:
            svc.desired_count = desired_count
            for d in svc.deployments:
                if d.status == "PRIMARY":
                    d.desired_count = desired_count
                    d.updated_at = now
            changed = True
        dep = None
        new_td = task_definition_arn is not None and task_definition_arn != svc.task_definition_arn
        if new_td or force_new_deployment:
            dep = self._new_deployment(svc, task_definition_arn or svc.task_definition_arn, now)
            changed = True
        if changed:
            self.store.touch_service(svc)
            self.enqueue(name)
            self._changed()
        return dep

    def new_deployment(self, name: str, task_definition_arn: str | None = None) -> DeploymentRecord:
        """A new deployment of ``task_definition_arn`` (default: the service's own, forced)."""
        dep = self.update_service(name, task_definition_arn=task_definition_arn, force_new_deployment=True)
        assert dep is not None
        return dep

    def set_desired_count(self, name: str, count: int) -> None:
        self.update_service(name, desired_count=count)

    def delete_service(self, name: str) -> ServiceRecord:
        """DeleteService: desired count 0 and DRAINING in one store change; the reconcile then stops the
        tasks and marks the service INACTIVE."""
        svc = self._service(name)
        svc.desired_count = 0
        svc.status = "DRAINING"
        self.store.touch_service(svc)
        self.enqueue(name)
        self._changed()
        return svc

    def _service(self, name: str) -> ServiceRecord:
        svc = self.store.service(name)
        if svc is None:
            raise KeyError(name)
        return svc

    # ---- tasks -------------------------------------------------------------------------------
    def _create_task(
        self,
        td: TaskDefinition,
        *,
        service: ServiceRecord | None,
        deployment_id: str | None,
        cluster: str | None = None,
        cluster_arn: str | None = None,
        started_by: str | None = None,
    ) -> TaskRecord:
        now = self.clock()
        task_id = new_task_id()
        cname = service.cluster if service is not None else (cluster or "default")
        carn = service.cluster_arn if service is not None else (cluster_arn or ids.cluster_arn(cname))
        rec = TaskRecord(
            task_id=task_id,
            task_arn=ids.task_arn(cname, task_id),
            cluster_arn=carn,
            cluster=cname,
            task_definition_arn=td.arn,
            service_name=service.name if service is not None else None,
            deployment_id=deployment_id,
            life=lifecycle.new_task(now),
            started_by=deployment_id if service is not None else started_by,
            group=f"service:{service.name}" if service is not None else f"family:{td.family}",
            cpu=td.cpu,
            memory=td.memory,
        )
        rec.containers = [
            ContainerRecord(
                name=c.name,
                container_arn=ids.container_arn(cname, task_id, uuid.uuid4().hex[:8]),
                image=c.image,
                essential=c.essential,
            )
            for c in td.containers
        ]
        self._flows[task_id] = _Flow()
        self.store.add_task(rec)
        return rec

    def _move(
        self,
        rec: TaskRecord,
        event: TaskEvent,
        *,
        stop_code: StopCode | None = None,
        reason: str | None = None,
    ) -> None:
        """Move the task by the lifecycle table, then one store change. An event the table does not allow
        raises :class:`~albfargate.ecs.tasks.IllegalTransition` (a bug in a flow; the record is unchanged)."""
        rec.move(event, now=self.clock(), stop_code=stop_code, reason=reason)
        self.store.task_changed(rec)
        self._changed()

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._bg.add(task)
        task.add_done_callback(self._flow_done)
        return task

    def _flow_done(self, task: asyncio.Task[None]) -> None:
        """A flow that raised is a bug (an illegal transition among them): logged, never swallowed."""
        self._bg.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("bug: a task flow failed: %s: %s", type(exc).__name__, exc, exc_info=exc)

    def _spawn_launch(self, rec: TaskRecord, td: TaskDefinition) -> None:
        flow = self._flows[rec.task_id]
        flow.launch = self._spawn(self._launch(rec, td))

    def run_task(
        self,
        td: TaskDefinition,
        *,
        count: int = 1,
        cluster: str = "default",
        started_by: str | None = None,
    ) -> list[TaskRecord]:
        """Standalone tasks (RunTask): started now, never replaced."""
        out = []
        for _ in range(count):
            rec = self._create_task(
                td,
                service=None,
                deployment_id=None,
                cluster=cluster,
                cluster_arn=ids.cluster_arn(cluster),
                started_by=started_by,
            )
            self._spawn_launch(rec, td)
            out.append(rec)
        return out

    async def _launch(self, rec: TaskRecord, td: TaskDefinition) -> None:
        flow = self._flows[rec.task_id]
        svc = self.store.service(rec.service_name) if rec.service_name else None
        try:
            self._move(rec, TaskEvent.PROVISIONED)
            if self.prepare is not None:
                await self.prepare(td)
            spec = self.build_spec(td, rec.task_id, rec.service_name)
            for c in rec.containers:
                cs = next((x for x in spec.containers if x.name == c.name), None)
                if cs is not None:
                    c.ports = cs.ports
                    c.stand_in = cs.stand_in
                    c.log_path = str(spec.log_path(c.name))
            if svc is not None:
                rec.targets = self._bindings(svc, spec)
            running = await self.driver.start_task(spec)
        except TaskStartError as exc:
            self._failed_to_start(rec, str(exc))
            return
        except Exception as exc:  # a bug in spec building must not leave a task half-made
            log.exception("launch of task %s failed", rec.task_id)
            self._failed_to_start(rec, f"ResourceInitializationError: {exc}")
            return
        flow.running = running
        self._update_containers(rec, running)
        running.subscribe(lambda rt: self._on_container_change(rec, rt))
        self._move(rec, TaskEvent.STARTED)
        self._move(rec, TaskEvent.ACTIVATED)
        if svc is not None:
            svc.launch_failures = 0
            svc.last_launch_failure_at = None
        if flow.stop_requested is None and running.essential_exited() is not None:
            self._update_containers(rec, running)
            flow.stop_requested = (
                TaskEvent.ESSENTIAL_EXITED,
                StopCode.EssentialContainerExited,
                lifecycle.ESSENTIAL_CONTAINER_EXITED,
            )
            flow.stop = self._spawn(self._stop(rec))
        elif flow.stop_requested is None and svc is not None and self.targets is not None:
            self._register(svc, rec)
        if rec.service_name:
            self.enqueue(rec.service_name)

    def _bindings(self, svc: ServiceRecord, spec: TaskSpec) -> list[TargetBinding]:
        out = []
        for lb in svc.model.load_balancers:
            cs = next((c for c in spec.containers if c.name == lb.container_name), None)
            port = cs.local_port(lb.container_port) if cs is not None else None
            if port is None:
                continue
            out.append(
                TargetBinding(lb.target_group_arn, lb.container_name, lb.container_port, "127.0.0.1", port)
            )
        return out

    def _register(self, svc: ServiceRecord, rec: TaskRecord) -> None:
        assert self.targets is not None
        per_tg: dict[str, int] = {}
        for b in rec.targets:
            try:
                self.targets.register(b.target_group_arn, TargetId(b.host, b.port))
            except KeyError:
                continue
            b.registered = True
            per_tg[b.target_group_arn] = per_tg.get(b.target_group_arn, 0) + 1
        for arn, n in per_tg.items():
            self.store.add_event(svc, events.targets_registered(svc.name, n, arn))

    def _failed_to_start(self, rec: TaskRecord, reason: str) -> None:
        flow = self._flows[rec.task_id]
        rec.failed_to_start = True
        self._move(rec, TaskEvent.FAILED_TO_START, stop_code=StopCode.TaskFailedToStart, reason=reason)
        while rec.last_status != LastStatus.STOPPED:
            self._move(rec, _TOWARDS_STOPPED[rec.life.last_status])
        for c in rec.containers:
            if c.last_status != "STOPPED":
                c.last_status = "STOPPED"
                c.reason = c.reason or reason
        self._account_stop(rec, flow)

    def _account_stop(self, rec: TaskRecord, flow: _Flow) -> None:
        svc = self.store.service(rec.service_name) if rec.service_name else None
        if svc is None:
            return
        dep = next((d for d in svc.deployments if d.id == rec.deployment_id), None)
        counters = planner.FailureCounters(
            failed_tasks=dep.failed_tasks if dep is not None else 0,
            launch_failures=svc.launch_failures,
            last_launch_failure_at=svc.last_launch_failure_at,
        )
        counters = planner.on_task_stopped(
            counters,
            stop_code=rec.life.stop_code,
            reached_running=rec.life.reached_running,
            ever_healthy=rec.ever_healthy,
            failed_health_checks=rec.failed_health_checks,
            now=self.clock(),
        )
        if dep is not None:
            dep.failed_tasks = counters.failed_tasks
        svc.launch_failures = counters.launch_failures
        svc.last_launch_failure_at = counters.last_launch_failure_at
        self.store.touch_service(svc)
        self.enqueue(svc.name)

    def _update_containers(self, rec: TaskRecord, rt: RunningTask) -> None:
        for c in rec.containers:
            st = rt.containers.get(c.name)
            if st is None:
                continue
            c.last_status = st.status.value
            c.exit_code = st.exit_code
            c.health_status = st.health.value
            c.pid = st.pid
            if st.reason and st.status.value == "STOPPED":
                c.reason = st.reason
        rec.health_status = lifecycle.task_health(
            [(c.essential, c.health_status) for c in rec.containers]
        ).value

    def _on_container_change(self, rec: TaskRecord, rt: RunningTask) -> None:
        self._update_containers(rec, rt)
        self.store.task_changed(rec)
        self._changed()
        flow = self._flows.get(rec.task_id)
        if flow is None:
            return
        dead = rt.essential_exited()
        launched = flow.launch is not None and flow.launch.done()
        if dead is not None and not rt.stopping and launched and rec.desired_status == "RUNNING":
            self.stop_task(
                rec.task_id,
                StopCode.EssentialContainerExited,
                lifecycle.ESSENTIAL_CONTAINER_EXITED,
                event=TaskEvent.ESSENTIAL_EXITED,
            )
        if rec.service_name:
            self.enqueue(rec.service_name)

    def stop_task(
        self,
        task_id: str,
        stop_code: StopCode,
        reason: str | None,
        *,
        event: TaskEvent = TaskEvent.STOP_REQUESTED,
        emit: bool = False,
    ) -> TaskRecord | None:
        """Set desiredStatus STOPPED now and run the stop flow in the background (§6.2, §7.6)."""
        rec = self.store.task(task_id)
        flow = self._flows.get(rec.task_id) if rec is not None else None
        if rec is None or flow is None:
            return rec
        if flow.stop is not None:
            return rec
        flow.stop_requested = (event, stop_code, reason)
        was_running = rec.last_status == "RUNNING"
        if flow.launch is None or flow.launch.done():
            self._move(rec, event, stop_code=stop_code, reason=reason)
        else:
            # still launching: record the intent; the stop flow waits for the launch to settle
            rec.request_stop(stop_code, reason)
            self.store.task_changed(rec)
        if emit and rec.service_name and was_running:
            svc = self.store.service(rec.service_name)
            if svc is not None:
                self.store.add_event(svc, events.tasks_stopped(svc.name, [rec.task_id]))
        flow.stop = self._spawn(self._stop(rec))
        return rec

    async def _stop(self, rec: TaskRecord) -> None:
        flow = self._flows[rec.task_id]
        assert flow.stop_requested is not None
        event, code, reason = flow.stop_requested
        if flow.launch is not None and not flow.launch.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(flow.launch)
        if rec.last_status == "STOPPED":
            return
        if rec.life.last_status in lifecycle.ACTIVE_STATUSES:
            # the stop was asked for during the launch (or the launch saw an essential container exit):
            # its event now that the launch settled; a stop asked for later was applied by stop_task
            self._move(rec, event, stop_code=code, reason=reason)
        svc = self.store.service(rec.service_name) if rec.service_name else None
        if rec.last_status == "DEACTIVATING":
            await self._drain(svc, rec)
            self._move(rec, TaskEvent.DRAINED)
        if rec.last_status == "STOPPING":
            if flow.running is not None:
                try:
                    await self.driver.stop_task(flow.running, reason or "")
                except Exception:
                    log.exception("stopping task %s failed", rec.task_id)
                self._update_containers(rec, flow.running)
            self._move(rec, TaskEvent.STOPPED_PROCESSES)
        self._move(rec, TaskEvent.DEPROVISIONED)
        for c in rec.containers:
            if c.last_status != "STOPPED":
                c.last_status = "STOPPED"
        self.store.task_changed(rec)
        self._account_stop(rec, flow)
        flow.running = None

    async def _drain(self, svc: ServiceRecord | None, rec: TaskRecord) -> None:
        bound = [b for b in rec.targets if b.registered]
        if not bound or self.targets is None:
            return
        per_tg: dict[str, int] = {}
        for b in bound:
            with contextlib.suppress(KeyError):
                self.targets.deregister(b.target_group_arn, TargetId(b.host, b.port))
            per_tg[b.target_group_arn] = per_tg.get(b.target_group_arn, 0) + 1
        if svc is not None:
            for arn, n in per_tg.items():
                self.store.add_event(svc, events.targets_deregistered(svc.name, n, arn))
            self.store.add_event(svc, events.draining_begun(svc.name, rec.deployment_id or "", 1))
        delay = max(
            (
                tg.attributes.deregistration_delay_seconds
                for b in bound
                if (tg := self.target_groups.get(b.target_group_arn)) is not None
            ),
            default=0,
        )
        deadline = self.clock() + delay + DRAIN_SLACK_SECONDS
        arns = {b.target_group_arn for b in bound}
        while self.clock() < deadline and not self._shutdown.is_set():
            if all(
                str(self.targets.health_of(b.target_group_arn, TargetId(b.host, b.port)).state) == "unused"
                for b in bound
            ):
                break
            # the registry tells us when a target leaves its group (its delay ran out, or nothing in flight)
            await self._target_event(arns, min(DRAIN_RECHECK_SECONDS, max(0.0, deadline - self.clock())))
        for b in bound:
            b.registered = False

    # ---- shutdown ------------------------------------------------------------------------------
    def live_tasks(self) -> list[TaskRecord]:
        return [t for t in self.store.tasks.values() if t.last_status != "STOPPED"]

    async def stop_everything(self, *, drain: bool) -> None:
        """Shutdown: no new launches; every live task stopped (draining first when ``drain``)."""
        self.paused = True
        self._shutdown.set()
        for waiters in self._drain_waiters.values():
            for ev in waiters:
                ev.set()
        await self.close()
        if not drain:
            for b in (b for t in self.live_tasks() for b in t.targets):
                b.registered = False
        for t in self.live_tasks():
            if t.desired_status == "RUNNING":
                self.stop_task(t.task_id, StopCode.ServiceSchedulerInitiated, "Supervisor shutting down")
        pending = [f.stop for f in self._flows.values() if f.stop is not None and not f.stop.done()]
        pending += [f.launch for f in self._flows.values() if f.launch is not None and not f.launch.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        # tasks whose launch finished after the first round
        rest = [t for t in self.live_tasks() if t.desired_status == "RUNNING"]
        for t in rest:
            self.stop_task(t.task_id, StopCode.ServiceSchedulerInitiated, "Supervisor shutting down")
        pending = [f.stop for f in self._flows.values() if f.stop is not None and not f.stop.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
