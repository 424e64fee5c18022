"""The task lifecycle (spec §6.1–§6.4) as one ``(lastStatus, event) -> lastStatus`` table, the stop codes and
their ``stoppedReason`` texts, and task-level health from the essential containers.

The table is the only place that knows which status follows which. Anything not in it raises
:class:`IllegalTransition`. :class:`TaskLifecycle` carries the status plus the timestamps and ``version``
that ``DescribeTasks`` shows, and :func:`apply` moves it (stamping ``now``). The store's ``TaskRecord``
(``state/store.py``) holds one as its ``life`` and moves it only through :func:`apply`.

Normal path: PROVISIONING -PROVISIONED-> PENDING -STARTED-> ACTIVATING -ACTIVATED-> RUNNING
-STOP_REQUESTED-> DEACTIVATING -DRAINED-> STOPPING -STOPPED_PROCESSES-> DEPROVISIONING -DEPROVISIONED->
STOPPED. A task that never reached RUNNING skips the stages it never entered (no target to drain, no
process to stop before PENDING).

Pure: no asyncio, subprocess or time; ``now`` is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from albfargate.ecs.health import ContainerHealth


class LastStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    ACTIVATING = "ACTIVATING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"
    STOPPING = "STOPPING"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"


class DesiredStatus(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class StopCode(StrEnum):
    """ECS-API ``TaskStopCode`` (spec §6.3)."""

    TaskFailedToStart = "TaskFailedToStart"
    EssentialContainerExited = "EssentialContainerExited"
    UserInitiated = "UserInitiated"
    ServiceSchedulerInitiated = "ServiceSchedulerInitiated"
    SpotInterruption = "SpotInterruption"
    TerminationNotice = "TerminationNotice"
    InfrastructureHealth = "InfrastructureHealth"


class TaskEvent(StrEnum):
    PROVISIONED = "PROVISIONED"  # the (emulated) ENI is ready: PROVISIONING -> PENDING
    STARTED = "STARTED"  # images pulled, containers started per dependsOn: PENDING -> ACTIVATING
    ACTIVATED = "ACTIVATED"  # post-start setup done (multi-TG registration): ACTIVATING -> RUNNING
    STOP_REQUESTED = "STOP_REQUESTED"  # desiredStatus -> STOPPED (StopTask, scheduler)
    DRAINED = "DRAINED"  # targets deregistered and reported unused: DEACTIVATING -> STOPPING
    STOPPED_PROCESSES = "STOPPED_PROCESSES"  # every container has exited: STOPPING -> DEPROVISIONING
    DEPROVISIONED = "DEPROVISIONED"  # cleanup done: DEPROVISIONING -> STOPPED
    FAILED_TO_START = "FAILED_TO_START"  # pull/secrets/start error, dependsOn startTimeout
    ESSENTIAL_EXITED = "ESSENTIAL_EXITED"  # an essential container exited


class IllegalTransition(Exception):
    """An event that the task lifecycle table does not allow in the current status."""

    def __init__(self, status: LastStatus, event: TaskEvent) -> None:
        super().__init__(f"task event {event.value} is not allowed in lastStatus {status.value}")
        self.status = status
        self.event = event


_S = LastStatus
_E = TaskEvent

#: (lastStatus, event) -> lastStatus. Events that are harmless repeats map a status to itself
#: (a second StopTask, an essential container exiting while the task is already being stopped).
TRANSITIONS: dict[tuple[LastStatus, TaskEvent], LastStatus] = {
    (_S.PROVISIONING, _E.PROVISIONED): _S.PENDING,
    (_S.PROVISIONING, _E.FAILED_TO_START): _S.DEPROVISIONING,
    (_S.PROVISIONING, _E.STOP_REQUESTED): _S.DEPROVISIONING,
    (_S.PENDING, _E.STARTED): _S.ACTIVATING,
    (_S.PENDING, _E.FAILED_TO_START): _S.STOPPING,
    (_S.PENDING, _E.ESSENTIAL_EXITED): _S.STOPPING,
    (_S.PENDING, _E.STOP_REQUESTED): _S.STOPPING,
    (_S.ACTIVATING, _E.ACTIVATED): _S.RUNNING,
    (_S.ACTIVATING, _E.FAILED_TO_START): _S.DEACTIVATING,
    (_S.ACTIVATING, _E.ESSENTIAL_EXITED): _S.DEACTIVATING,
    (_S.ACTIVATING, _E.STOP_REQUESTED): _S.DEACTIVATING,
    (_S.RUNNING, _E.STOP_REQUESTED): _S.DEACTIVATING,
    (_S.RUNNING, _E.ESSENTIAL_EXITED): _S.DEACTIVATING,
    (_S.DEACTIVATING, _E.DRAINED): _S.STOPPING,
    (_S.DEACTIVATING, _E.STOP_REQUESTED): _S.DEACTIVATING,
    (_S.DEACTIVATING, _E.ESSENTIAL_EXITED): _S.DEACTIVATING,
    (_S.STOPPING, _E.STOPPED_PROCESSES): _S.DEPROVISIONING,
    (_S.STOPPING, _E.STOP_REQUESTED): _S.STOPPING,
    (_S.STOPPING, _E.ESSENTIAL_EXITED): _S.STOPPING,
    (_S.DEPROVISIONING, _E.DEPROVISIONED): _S.STOPPED,
    (_S.DEPROVISIONING, _E.STOP_REQUESTED): _S.DEPROVISIONING,
    (_S.STOPPED, _E.STOP_REQUESTED): _S.STOPPED,
}

#: Statuses of a task that has not reached RUNNING yet.
STARTING_STATUSES = frozenset({_S.PROVISIONING, _S.PENDING, _S.ACTIVATING})
#: Statuses the rolling-update arithmetic counts (spec §7.3 ``active``, with desiredStatus RUNNING).
ACTIVE_STATUSES = frozenset({_S.PROVISIONING, _S.PENDING, _S.ACTIVATING, _S.RUNNING})
#: Statuses of a task on its way out.
STOPPING_STATUSES = frozenset({_S.DEACTIVATING, _S.STOPPING, _S.DEPROVISIONING})


def next_status(status: LastStatus, event: TaskEvent) -> LastStatus:
    """The status after ``event``; raises :class:`IllegalTransition` when the table has no entry."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition(status, event) from None


def is_allowed(status: LastStatus, event: TaskEvent) -> bool:
    return (status, event) in TRANSITIONS


# --- stoppedReason texts (spec §6.2, §6.3, §7.6) ---------------------------------------------------

STOPPED_BY_USER = "Task stopped by user"
ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited"
FAILED_CONTAINER_HEALTH = "Task failed container health checks"


def scaling_activity_reason(deployment_id: str) -> str:
    """``stoppedReason`` of a scheduler stop for scale-in or deployment replacement."""
    return f"Scaling activity initiated by (deployment {deployment_id})"


def failed_elb_health_reason(target_group_arn: str) -> str:
    return f"Task failed ELB health checks in (target-group {target_group_arn})"


def user_stop_reason(reason: str | None) -> str:
    """StopTask's ``reason`` parameter, or AWS's text when none was given."""
    return reason if reason else STOPPED_BY_USER


# --- task health (spec §6.5) ------------------------------------------------------------------------


def task_health(containers: Sequence[tuple[bool, str]]) -> ContainerHealth:
    """``Task.healthStatus`` from ``(essential, container healthStatus)`` pairs: only essential containers
    count; UNHEALTHY if any is UNHEALTHY, HEALTHY if all are HEALTHY, otherwise (incl. none) UNKNOWN."""
    essential = [ContainerHealth(h) for e, h in containers if e]
    if any(h is ContainerHealth.UNHEALTHY for h in essential):
        return ContainerHealth.UNHEALTHY
    if essential and all(h is ContainerHealth.HEALTHY for h in essential):
        return ContainerHealth.HEALTHY
    return ContainerHealth.UNKNOWN


# --- a task's lifecycle record ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskLifecycle:
    """``lastStatus``/``desiredStatus`` with the timestamps and ``version`` of the ECS ``Task`` shape."""

    created_at: float
    last_status: LastStatus = LastStatus.PROVISIONING
    desired_status: DesiredStatus = DesiredStatus.RUNNING
    version: int = 1
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None  # PENDING/ACTIVATING -> RUNNING
    stopping_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    stop_code: StopCode | None = None
    stopped_reason: str | None = None

    @property
    def reached_running(self) -> bool:
        return self.started_at is not None


def new_task(now: float) -> TaskLifecycle:
    return TaskLifecycle(created_at=now)


def apply(
    task: TaskLifecycle,
    event: TaskEvent,
    *,
    now: float,
    stop_code: StopCode | None = None,
    reason: str | None = None,
) -> TaskLifecycle:
    """Move ``task`` by ``event`` at ``now``: new status, ``version + 1`` when the status changes, the
    timestamps of §6.1, and on the first event that ends the task its stop code and reason.

    Default stop codes: FAILED_TO_START -> TaskFailedToStart, ESSENTIAL_EXITED -> EssentialContainerExited
    (reason ``Essential container in task exited``), STOP_REQUESTED -> the given code (UserInitiated when
    none). The first stop code set is kept: a later essential exit caused by SIGTERM does not overwrite it."""
    status = next_status(task.last_status, event)
    changes: dict[str, object] = {"last_status": status}
    if status is not task.last_status:
        changes["version"] = task.version + 1
    if event is TaskEvent.PROVISIONED:
        changes["pull_started_at"] = now
    elif event is TaskEvent.STARTED:
        changes["pull_stopped_at"] = now
    elif event is TaskEvent.ACTIVATED:
        changes["started_at"] = now
    if status is LastStatus.STOPPING and task.stopping_at is None:
        changes["stopping_at"] = now
    if status is LastStatus.DEPROVISIONING and task.execution_stopped_at is None:
        changes["execution_stopped_at"] = now
    if status is LastStatus.STOPPED and task.stopped_at is None:
        changes["stopped_at"] = now
    ending = event in (TaskEvent.STOP_REQUESTED, TaskEvent.FAILED_TO_START, TaskEvent.ESSENTIAL_EXITED)
    if ending:
        changes["desired_status"] = DesiredStatus.STOPPED
        if task.stop_code is None:
            code = stop_code or _default_stop_code(event)
            changes["stop_code"] = code
            changes["stopped_reason"] = reason or _default_reason(code)
        if task.desired_status is DesiredStatus.RUNNING and status is task.last_status:
            changes["version"] = task.version + 1
    return replace(task, **changes)  # type: ignore[arg-type]


def _default_stop_code(event: TaskEvent) -> StopCode:
    if event is TaskEvent.FAILED_TO_START:
        return StopCode.TaskFailedToStart
    if event is TaskEvent.ESSENTIAL_EXITED:
        return StopCode.EssentialContainerExited
    return StopCode.UserInitiated


def _default_reason(code: StopCode) -> str:
    if code is StopCode.EssentialContainerExited:
        return ESSENTIAL_CONTAINER_EXITED
    if code is StopCode.UserInitiated:
        return STOPPED_BY_USER
    if code is StopCode.TaskFailedToStart:
        return "CannotStartContainerError: task failed to start"
    return code.value
