"""The live ECS store: registered task definitions, services with their deployments and events, and tasks
with their containers and timestamps. It is what ``status``, the AWS-compatible API and the console read,
and what the scheduler writes.

Records are plain mutable dataclasses owned by the store and changed only from the event loop (the
scheduler's and the engine's commands); every change goes through :meth:`Store.task_changed` /
:meth:`Store.touch_service` (or the add helpers), which call the subscribers with ``(kind, key)`` so
readers can follow changes. A task's lifecycle is its record's (:meth:`TaskRecord.move`, by the table of
``ecs/tasks.py``). Times are wall-clock seconds (epoch), as the API shows them."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from albfargate.ecs import tasks as lifecycle
from albfargate.ecs.tasks import ACTIVE_STATUSES, DesiredStatus, StopCode, TaskEvent, TaskLifecycle
from albfargate.model.ecs import Service, TaskDefinition

#: AWS keeps the 100 newest service events (spec §7.7).
MAX_SERVICE_EVENTS = 100
#: Stopped tasks stay describable for at least an hour (spec §6.1).
STOPPED_TASK_RETENTION_SECONDS = 3600.0


@dataclass(slots=True)
class ContainerRecord:
    name: str
    container_arn: str
    image: str
    essential: bool = True
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"
    ports: tuple[tuple[int, int], ...] = ()  # (containerPort, local port)
    pid: int | None = None
    stand_in: bool = False
    log_path: str | None = None


@dataclass(slots=True)
class TargetBinding:
    """One target of a task in a target group (awsvpc emulation: 127.0.0.1:<local port>)."""

    target_group_arn: str
    container_name: str
    container_port: int
    host: str
    port: int
    registered: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(slots=True)
class TaskRecord:
    """The one record of a task: what it is (ids, definition, containers, targets) and its lifecycle.

    The lifecycle (``lastStatus``, ``desiredStatus``, ``version``, the timestamps, the stop code and reason)
    is ``life``, a :class:`~albfargate.ecs.tasks.TaskLifecycle` value that only :meth:`move` changes, by the
    ``(lastStatus, event) -> lastStatus`` table of :mod:`albfargate.ecs.tasks`: an event the table does not
    allow raises :class:`~albfargate.ecs.tasks.IllegalTransition` and leaves the record as it was. The
    lifecycle's fields are read-only properties here (the ECS ``Task`` shape, as strings), so nothing can
    set a status beside the table. The API's task view and the planner's ``TaskView`` are projections of
    this record; nothing copies it."""

    task_id: str
    task_arn: str
    cluster_arn: str
    cluster: str
    task_definition_arn: str
    service_name: str | None
    deployment_id: str | None
    life: TaskLifecycle = field(default_factory=lambda: TaskLifecycle(created_at=0.0))
    health_status: str = "UNKNOWN"
    started_by: str | None = None
    group: str | None = None
    cpu: int | None = None
    memory: int | None = None
    containers: list[ContainerRecord] = field(default_factory=list)
    targets: list[TargetBinding] = field(default_factory=list)
    failed_to_start: bool = False
    unhealthy_reason: str | None = None
    # what the failure accounting of a stopped task reads (circuit breaker, launch throttle; planner)
    ever_healthy: bool = False
    failed_health_checks: bool = False

    # ---- the lifecycle ------------------------------------------------------------------------
    def move(
        self, event: TaskEvent, *, now: float, stop_code: StopCode | None = None, reason: str | None = None
    ) -> None:
        """Apply ``event`` at ``now`` (:func:`albfargate.ecs.tasks.apply`); raises
        :class:`~albfargate.ecs.tasks.IllegalTransition` when the table has no entry for it."""
        self.life = lifecycle.apply(self.life, event, now=now, stop_code=stop_code, reason=reason)

    def request_stop(self, stop_code: StopCode, reason: str | None) -> None:
        """desiredStatus STOPPED while the task is still being launched: the status is left to the launch,
        the stop flow applies the stop event once it settled (the first stop code and reason are kept)."""
        self.life = replace(
            self.life,
            desired_status=DesiredStatus.STOPPED,
            stop_code=self.life.stop_code or stop_code,
            stopped_reason=self.life.stopped_reason or reason,
        )

    @property
    def last_status(self) -> str:
        return self.life.last_status.value

    @property
    def desired_status(self) -> str:
        return self.life.desired_status.value

    @property
    def version(self) -> int:
        return self.life.version

    @property
    def created_at(self) -> float:
        return self.life.created_at

    @property
    def pull_started_at(self) -> float | None:
        return self.life.pull_started_at

    @property
    def pull_stopped_at(self) -> float | None:
        return self.life.pull_stopped_at

    @property
    def started_at(self) -> float | None:
        return self.life.started_at

    @property
    def connectivity_at(self) -> float | None:
        return self.life.pull_started_at  # the emulated ENI is ready when the pull starts

    @property
    def stopping_at(self) -> float | None:
        return self.life.stopping_at

    @property
    def execution_stopped_at(self) -> float | None:
        return self.life.execution_stopped_at

    @property
    def stopped_at(self) -> float | None:
        return self.life.stopped_at

    @property
    def stop_code(self) -> str | None:
        return self.life.stop_code.value if self.life.stop_code is not None else None

    @property
    def stopped_reason(self) -> str | None:
        return self.life.stopped_reason

    @property
    def active(self) -> bool:
        return self.life.desired_status is DesiredStatus.RUNNING and self.life.last_status in ACTIVE_STATUSES

    def target_address(self) -> str | None:
        return self.targets[0].address if self.targets else None


@dataclass(slots=True)
class DeploymentRecord:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition_arn: str
    desired_count: int
    created_at: float
    updated_at: float
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    running_count: int = 0
    pending_count: int = 0
    launch_type: str | None = "FARGATE"
    platform_version: str = "LATEST"
    rollback_to: str | None = None  # a circuit-breaker rollback: the deployment id it restores


@dataclass(slots=True)
class ServiceEvent:
    id: str
    created_at: float
    message: str


@dataclass(slots=True)
class ServiceRecord:
    name: str
    arn: str
    cluster: str
    cluster_arn: str
    model: Service  # the definition it was created from (deployment config, LBs, grace period ...)
    task_definition_arn: str
    desired_count: int
    created_at: float
    status: str = "ACTIVE"  # ACTIVE | DRAINING | INACTIVE
    deployments: list[DeploymentRecord] = field(default_factory=list)
    events: deque[ServiceEvent] = field(default_factory=lambda: deque(maxlen=MAX_SERVICE_EVENTS))
    running_count: int = 0
    pending_count: int = 0
    launch_failures: int = 0
    last_launch_failure_at: float | None = None
    last_completed_task_definition: str | None = None
    last_completed_deployment_id: str | None = None
    version: int = 1

    @property
    def primary(self) -> DeploymentRecord | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    def steady(self) -> bool:
        """The ``services-stable`` waiter condition (spec §7.9)."""
        return (
            self.status == "ACTIVE"
            and len(self.deployments) == 1
            and (self.running_count == self.desired_count)
        )


Subscriber = Callable[[str, str], None]


class Store:
    """Every live ECS record, keyed by name/arn/id."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.task_definitions: dict[str, TaskDefinition] = {}
        self._families: dict[str, dict[int, TaskDefinition]] = {}  # family -> revision -> definition
        self.services: dict[str, ServiceRecord] = {}
        self.tasks: dict[str, TaskRecord] = {}
        self._subscribers: list[Subscriber] = []
        self.closed = False

    # ---- notifications -----------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, kind: str, key: str) -> None:
        for cb in list(self._subscribers):
            cb(kind, key)

    # ---- task definitions --------------------------------------------------------------------
    def register_task_definition(self, td: TaskDefinition) -> TaskDefinition:
        self.task_definitions[td.arn] = td
        self._families.setdefault(td.family, {})[td.revision] = td
        self._notify("task_definition", td.arn)
        return td

    def next_revision(self, family: str) -> int:
        return max(self._families.get(family, {}), default=0) + 1

    def revisions(self, family: str) -> Mapping[int, TaskDefinition]:
        """The registered revisions of ``family`` by number (read by key: nothing is copied)."""
        return self._families.get(family, {})

    def task_definition(self, arn_or_family: str) -> TaskDefinition | None:
        """By ARN, ``family:revision`` or ``family`` (its newest revision); looked up by key."""
        td = self.task_definitions.get(arn_or_family)
        if td is not None:
            return td
        family, _, rev = arn_or_family.rpartition("/")[2].partition(":")
        revs = self._families.get(family, {})
        if rev:
            return next((t for n, t in revs.items() if str(n) == rev), None)
        return revs[max(revs)] if revs else None

    # ---- services ----------------------------------------------------------------------------
    def add_service(self, svc: ServiceRecord) -> ServiceRecord:
        self.services[svc.name] = svc
        self._notify("service", svc.name)
        return svc

    def service(self, name_or_arn: str) -> ServiceRecord | None:
        svc = self.services.get(name_or_arn)
        if svc is not None:
            return svc
        return next((s for s in self.services.values() if s.arn == name_or_arn), None)

    def touch_service(self, svc: ServiceRecord) -> None:
        svc.version += 1
        self._recount(svc)
        self._notify("service", svc.name)

    def add_event(self, svc: ServiceRecord, message: str) -> ServiceEvent:
        ev = ServiceEvent(str(uuid.uuid4()), self.clock(), message)
        svc.events.appendleft(ev)
        self._notify("service", svc.name)
        return ev

    def _recount(self, svc: ServiceRecord) -> None:
        running = pending = 0
        per: dict[str, list[int]] = {d.id: [0, 0] for d in svc.deployments}
        for t in self.tasks_of(svc.name):
            if t.desired_status != "RUNNING" and t.last_status != "RUNNING":
                continue
            if t.last_status == "RUNNING":
                running += 1
                if t.deployment_id in per:
                    per[t.deployment_id][0] += 1
            elif t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"):
                pending += 1
                if t.deployment_id in per:
                    per[t.deployment_id][1] += 1
        svc.running_count, svc.pending_count = running, pending
        for d in svc.deployments:
            d.running_count, d.pending_count = per[d.id]

    # ---- tasks -------------------------------------------------------------------------------
    def add_task(self, task: TaskRecord) -> TaskRecord:
        self.tasks[task.task_id] = task
        self._after_task_change(task)
        return task

    def task(self, id_or_arn: str) -> TaskRecord | None:
        t = self.tasks.get(id_or_arn)
        if t is not None:
            return t
        tail = id_or_arn.rsplit("/", 1)[-1]
        return self.tasks.get(tail)

    def task_changed(self, task: TaskRecord) -> None:
        """A task record was changed by its owner, the scheduler (its ``version`` is the lifecycle's)."""
        self._after_task_change(task)

    def _after_task_change(self, task: TaskRecord) -> None:
        if task.service_name is not None:
            svc = self.services.get(task.service_name)
            if svc is not None:
                self._recount(svc)
        self._notify("task", task.task_id)

    def tasks_of(self, service_name: str) -> Iterable[TaskRecord]:
        return (t for t in self.tasks.values() if t.service_name == service_name)

    def prune(self, now: float) -> int:
        """Forget tasks stopped longer than the retention time."""
        old = [
            t.task_id
            for t in self.tasks.values()
            if t.last_status == "STOPPED"
            and t.stopped_at is not None
            and now - t.stopped_at > STOPPED_TASK_RETENTION_SECONDS
        ]
        for tid in old:
            del self.tasks[tid]
        return len(old)

    def close(self) -> None:
        self.closed = True
        self._subscribers.clear()


def deployment_summary(d: DeploymentRecord) -> dict[str, Any]:
    """A deployment in ``status --json`` and the console's views."""
    return {
        "id": d.id,
        "status": d.status,
        "rollout_state": d.rollout_state,
        "rollout_state_reason": d.rollout_state_reason,
        "task_definition": d.task_definition_arn,
        "desired": d.desired_count,
        "running": d.running_count,
        "pending": d.pending_count,
        "failed_tasks": d.failed_tasks,
    }


def task_summary(t: TaskRecord) -> dict[str, Any]:
    """The task part of ``status --json`` (target health is filled in by the engine)."""
    return {
        "id": t.task_id,
        "last_status": t.last_status,
        "desired_status": t.desired_status,
        "health": t.health_status,
        "target": t.target_address(),
        "deployment": t.deployment_id,
        "started_at": t.started_at,
        "stop_code": t.stop_code,
        "stopped_reason": t.stopped_reason,
    }
