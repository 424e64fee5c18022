"""The service planner (spec §7.2–§7.5, §7.8): one pure function, :func:`plan`, that diffs a service's desired
state against its tasks and says what to start, what to stop (with reason and stop code), how the
deployments change (rollout state, COMPLETED / FAILED, INACTIVE drops, a rollback deployment), which service
events to emit, and when to look again.

It owns the rolling-update arithmetic (``maxTasks = floor(desired × max / 100)``, ``minHealthy =
ceil(desired × min / 100)``), start-first replacement of unhealthy tasks, the health-check grace period,
scale-in choice, deployment completion, the circuit breaker and the launch throttle. What "counts as
healthy" for a task is :func:`counts_as_healthy` (the 40 s rule and the LB/container combinations of §7.3);
the shell computes it for each :class:`TaskView` with the same ``now``.

Failure counters are edge-triggered, so the shell keeps them and updates them with
:func:`on_task_stopped` / :func:`on_task_healthy` / :func:`on_task_running` when a task changes; the planner
only reads them (``DeploymentView.failed_tasks``, ``ServiceView.launch_failures``).

What the shell does with a :class:`Plan`: create ``start`` tasks (and emit
:func:`albfargate.ecs.events.tasks_started` with the new ids), set desiredStatus STOPPED on ``stop``
(deregistration and draining follow, §7.6), apply ``deployment_updates`` and ``drop_deployments``, create
``new_rollback_deployment`` as the new PRIMARY, emit ``events`` as they are and ``conditions`` through an
:class:`albfargate.ecs.events.EventDeduper`, and reconcile again after ``requeue_after`` seconds (or
earlier on any change).

Choices where the spec is inferred or silent (documented here, tested in tests/unit/test_ecs_planner.py):

- tasks on their way out (desiredStatus STOPPED: DEACTIVATING, STOPPING, DEPROVISIONING) do not count
  toward ``maxTasks`` (the recommended loop of §7.3 counts only ``active`` tasks), so a long
  deregistration delay does not hold up a rollout;
- old tasks that do not count as healthy may be stopped at any time (they do not hold up the floor);
  healthy old tasks are stopped only while ``healthy − minHealthy`` allows;
- stop order (scale-in and old tasks): unhealthy (even inside grace, §7.4), not yet RUNNING, RUNNING but not
  healthy, healthy; the youngest first within a class. AWS picks healthy ones at random; this is
  deterministic instead;
- with no room to start a replacement, unhealthy tasks are stopped one per reconcile pass;
- a FAILED primary (circuit breaker, no rollback) launches nothing and stops no old task;
- a rollback deployment that fails is not rolled back again (it would restore the same revision, which
  just failed): it stays FAILED, with ``events.rollback_failed``, and the service waits for a new
  deployment;
- ``(service S) is unable to consistently start tasks successfully.`` is a condition while the throttle
  holds a start back.

Pure: no asyncio, socket, subprocess, time or random. Ties are broken by task id, so plans are
deterministic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from albfargate.ecs import events
from albfargate.ecs.health import ContainerHealth
from albfargate.ecs.tasks import (
    ACTIVE_STATUSES,
    FAILED_CONTAINER_HEALTH,
    STARTING_STATUSES,
    DesiredStatus,
    LastStatus,
    StopCode,
    failed_elb_health_reason,
    scaling_activity_reason,
)
from albfargate.model.ecs import DeploymentCircuitBreaker

#: A task without an LB and without container checks counts as healthy this long after RUNNING (§7.3).
NO_CHECK_HEALTHY_AFTER = 40.0
#: Launch throttle: ``delay = min(MAX, BASE × 2^(n−1))`` for n consecutive failed starts (§7.8, inferred).
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 900.0
#: Circuit-breaker threshold bounds (§7.5, current docs: min 3, max 200).
CIRCUIT_BREAKER_MIN = 3
CIRCUIT_BREAKER_MAX = 200
#: How soon to look again while something is moving, and when steady (the shell may wake earlier).
BUSY_REQUEUE_SECONDS = 1.0
STEADY_REQUEUE_SECONDS = 15.0


class DeploymentStatus(StrEnum):
    PRIMARY = "PRIMARY"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class RolloutState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


# --- arithmetic (§7.3, §7.5, §7.8) -----------------------------------------------------------------


def max_tasks(desired: int, maximum_percent: int) -> int:
    """``floor(desired × maximumPercent / 100)`` in exact integer arithmetic."""
    return (desired * maximum_percent) // 100


def min_healthy(desired: int, minimum_healthy_percent: int) -> int:
    """``ceil(desired × minimumHealthyPercent / 100)`` in exact integer arithmetic."""
    return -((-desired * minimum_healthy_percent) // 100)


def circuit_breaker_threshold(desired: int) -> int:
    """``clamp(ceil(0.5 × desired), 3, 200)``."""
    return max(CIRCUIT_BREAKER_MIN, min(CIRCUIT_BREAKER_MAX, -((-desired) // 2)))


def launch_backoff(failures: int) -> float:
    """Seconds to wait before the next start after ``failures`` consecutive failed starts (0 for none)."""
    if failures <= 0:
        return 0.0
    # 2^(n-1) overflows nothing in Python, but keep the exponent small anyway.
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** min(failures - 1, 32))


# --- what counts as healthy (§7.3) / unhealthy (§7.2, §7.6) ---------------------------------------------


def counts_as_healthy(
    *,
    last_status: str,
    has_load_balancer: bool,
    has_container_check: bool,
    task_health: str,
    target_states: Sequence[str],
    running_since: float | None,
    now: float,
) -> bool:
    """Whether a task counts toward ``minHealthy``.

    ``has_container_check``: some *essential* container has a health check. ``task_health``: the task's
    ``healthStatus``. ``target_states``: the task's target state in each of the service's target groups
    (``healthy``, ``initial``...). ``running_since``: when it reached RUNNING."""
    if last_status != LastStatus.RUNNING:
        return False
    container_ok = task_health == ContainerHealth.HEALTHY
    if not has_load_balancer:
        if has_container_check:
            return container_ok
        return running_since is not None and now - running_since >= NO_CHECK_HEALTHY_AFTER
    targets_ok = bool(target_states) and all(s == "healthy" for s in target_states)
    if has_container_check:
        return targets_ok and container_ok
    return targets_ok


def healthy_at(
    *, has_load_balancer: bool, has_container_check: bool, running_since: float | None
) -> float | None:
    """When a task will count as healthy by the clock alone (the 40 s rule), else None; for requeueing."""
    if has_load_balancer or has_container_check or running_since is None:
        return None
    return running_since + NO_CHECK_HEALTHY_AFTER


@dataclass(frozen=True, slots=True)
class UnhealthyCause:
    """Why a task is unhealthy: a failed container health check, or its target ``unhealthy`` in a group."""

    kind: Literal["container", "elb"]
    target_group_arn: str = ""
    port: int = 0
    description: str = ""

    @property
    def stopped_reason(self) -> str:
        if self.kind == "container":
            return FAILED_CONTAINER_HEALTH
        return failed_elb_health_reason(self.target_group_arn)

    def event(self, service: str, task_id: str) -> str:
        if self.kind == "container":
            return events.container_health_failed(service, task_id)
        return events.target_unhealthy(service, task_id, self.port, self.target_group_arn, self.description)


def unhealthy_cause(
    *,
    task_health: str,
    targets: Sequence[tuple[str, int, str, str | None]] = (),
) -> UnhealthyCause | None:
    """The cause to act on, if any. ``targets``: ``(target group ARN, port, state, description)`` for each
    of the task's targets. A container UNHEALTHY wins over an ELB one, else the first unhealthy target."""
    if task_health == ContainerHealth.UNHEALTHY:
        return UnhealthyCause("container")
    for arn, port, state, description in targets:
        if state == "unhealthy":
            return UnhealthyCause("elb", arn, port, description or "Health checks failed")
    return None


# --- the views the shell builds ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskView:
    task_id: str
    deployment_id: str
    last_status: LastStatus
    desired_status: DesiredStatus = DesiredStatus.RUNNING
    started_at: float | None = None  # when it reached RUNNING (grace period and 40 s rule count from here)
    healthy: bool | None = None  # counts as healthy (counts_as_healthy); None: not known yet
    unhealthy: UnhealthyCause | None = None  # failing ELB or container checks (grace not applied)
    failed_to_start: bool = False
    created_at: float = 0.0

    @property
    def unhealthy_reason(self) -> str | None:
        return None if self.unhealthy is None else self.unhealthy.stopped_reason

    @property
    def active(self) -> bool:
        return self.desired_status is DesiredStatus.RUNNING and self.last_status in ACTIVE_STATUSES

    @property
    def gone(self) -> bool:
        return self.last_status is LastStatus.STOPPED


@dataclass(frozen=True, slots=True)
class DeploymentView:
    id: str
    status: DeploymentStatus
    task_definition_arn: str
    desired_count: int
    rollout_state: RolloutState = RolloutState.IN_PROGRESS
    failed_tasks: int = 0  # consecutive (circuit breaker); kept by the shell with on_task_* below
    created_at: float = 0.0
    rollout_state_reason: str | None = None
    rollback_to: str | None = None  # a rollback deployment: the id of the deployment it restores


@dataclass(frozen=True, slots=True)
class ServiceView:
    name: str
    desired_count: int
    deployments: tuple[DeploymentView, ...]
    tasks: tuple[TaskView, ...]
    now: float
    max_percent: int = 200
    min_healthy_percent: int = 100
    circuit_breaker: DeploymentCircuitBreaker = field(default_factory=DeploymentCircuitBreaker)
    grace_period: float = 0.0
    last_completed_task_definition: str | None = None
    last_completed_deployment_id: str | None = None
    launch_failures: int = 0  # consecutive failed-to-start of the service (throttle)
    last_launch_failure_at: float | None = None

    @property
    def primary(self) -> DeploymentView | None:
        return next((d for d in self.deployments if d.status is DeploymentStatus.PRIMARY), None)


# --- the plan ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartOrder:
    deployment_id: str
    task_definition_arn: str
    count: int


@dataclass(frozen=True, slots=True)
class StopOrder:
    task_id: str
    reason: str
    stop_code: StopCode = StopCode.ServiceSchedulerInitiated


@dataclass(frozen=True, slots=True)
class DeploymentUpdate:
    """Changes to one deployment; None fields stay as they are."""

    deployment_id: str
    status: DeploymentStatus | None = None
    rollout_state: RolloutState | None = None
    rollout_state_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RollbackDeployment:
    """A new PRIMARY deployment to create (the failed one becomes ACTIVE)."""

    task_definition_arn: str
    rollout_state_reason: str
    rolled_back_from: str
    rolling_back_to: str


@dataclass(frozen=True, slots=True)
class Plan:
    start: tuple[StartOrder, ...] = ()
    stop: tuple[StopOrder, ...] = ()
    deployment_updates: tuple[DeploymentUpdate, ...] = ()
    drop_deployments: tuple[str, ...] = ()  # INACTIVE: remove from deployments[] (services-stable, §7.9)
    new_rollback_deployment: RollbackDeployment | None = None
    events: tuple[str, ...] = ()  # one-off messages: emit as they are
    conditions: tuple[str, ...] = ()  # messages that hold now: emit through EventDeduper
    requeue_after: float = STEADY_REQUEUE_SECONDS
    steady: bool = False  # one deployment, COMPLETED, running == desired, all healthy
    failed_rollback: str | None = None  # a rollback deployment failed now: not rolled back again

    @property
    def start_count(self) -> int:
        return sum(s.count for s in self.start)

    @property
    def stop_ids(self) -> list[str]:
        return [s.task_id for s in self.stop]


# --- failure counters (edge-triggered, kept by the shell) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureCounters:
    failed_tasks: int = 0  # the deployment's consecutive failures (circuit breaker)
    launch_failures: int = 0  # the service's consecutive failed starts (throttle)
    last_launch_failure_at: float | None = None


def on_task_stopped(
    counters: FailureCounters,
    *,
    stop_code: StopCode | None,
    reached_running: bool,
    ever_healthy: bool,
    failed_health_checks: bool,
    now: float,
) -> FailureCounters:
    """Update the counters when a task of the deployment stops (reaches or is set to STOPPED).

    Circuit breaker (§7.5): stage 1, a task that never reached RUNNING; stage 2, a task stopped for failed
    ELB/container health checks, or an essential container that exited before the task was ever healthy
    (a crash loop), each add 1. Throttle (§7.8): only tasks that never reached RUNNING count, and only
    when not stopped on purpose (user or scheduler)."""
    deliberate = stop_code in (StopCode.UserInitiated, StopCode.ServiceSchedulerInitiated)
    failed_task = failed_health_checks or (
        not deliberate and (not reached_running or (not ever_healthy and stop_code is not None))
    )
    c = counters
    if failed_task:
        c = replace(c, failed_tasks=c.failed_tasks + 1)
    if not reached_running and not deliberate:
        c = replace(c, launch_failures=c.launch_failures + 1, last_launch_failure_at=now)
    return c


def on_task_healthy(counters: FailureCounters) -> FailureCounters:
    """resetOnHealthyTask: a task of the deployment became healthy."""
    return replace(counters, failed_tasks=0)


def on_task_running(counters: FailureCounters) -> FailureCounters:
    """A task reached RUNNING: the start succeeded, so the throttle resets."""
    return replace(counters, launch_failures=0, last_launch_failure_at=None)


# --- the planner ---------------------------------------------------------------------------------------


def _stop_rank(t: TaskView) -> tuple[int, float, str]:
    """Stop preference: unhealthy (even inside grace) < not yet running < running, not healthy < healthy;
    younger first within a class (they have served least)."""
    if t.unhealthy is not None:
        cls = 0
    elif t.last_status in STARTING_STATUSES:
        cls = 1
    elif not t.healthy:
        cls = 2
    else:
        cls = 3
    return (cls, -(t.started_at if t.started_at is not None else t.created_at), t.task_id)


@dataclass(slots=True)
class _Draft:
    """What one :func:`plan` pass has decided so far. The phases below run in a fixed order and add to it;
    :func:`plan` turns it into the frozen :class:`Plan` at the end."""

    now: float
    grace_period: float
    budget: int  # how many healthy tasks may still be stopped (healthy − minHealthy)
    rollout: RolloutState  # the primary's rollout state as this pass leaves it
    stops: list[StopOrder] = field(default_factory=list)
    stop_set: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    updates: list[DeploymentUpdate] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    wakeups: list[float] = field(default_factory=list)  # seconds from now when something changes by itself
    rollback: RollbackDeployment | None = None
    failed_rollback: str | None = None

    def in_grace(self, t: TaskView) -> bool:
        return t.started_at is not None and self.now < t.started_at + self.grace_period

    def acts_unhealthy(self, t: TaskView) -> bool:
        return t.unhealthy is not None and not self.in_grace(t)

    def stop(self, t: TaskView, reason: str) -> None:
        self.stops.append(StopOrder(t.task_id, reason, StopCode.ServiceSchedulerInitiated))
        self.stop_set.add(t.task_id)
        if t.healthy:
            self.budget -= 1


@dataclass(frozen=True, slots=True)
class _Launch:
    """What the primary phase decided about starting tasks."""

    starts: tuple[StartOrder, ...]
    can_launch: bool  # neither FAILED, nor rolling back, nor throttled
    throttled: bool


def _trip_circuit_breaker(view: ServiceView, primary: DeploymentView, desired: int, d: _Draft) -> None:
    """Phase 1 (§7.5): an in-progress primary fails once its consecutive failures reach the threshold; it
    is rolled back to the last completed deployment when asked to, unless it is itself a rollback."""
    cb = view.circuit_breaker
    if not (
        cb.enable
        and d.rollout is RolloutState.IN_PROGRESS
        and primary.failed_tasks >= circuit_breaker_threshold(desired)
    ):
        return
    name = view.name
    d.rollout = RolloutState.FAILED
    d.events.append(events.deployment_failed(name, primary.id))
    status_change: DeploymentStatus | None = None
    if primary.rollback_to is not None:
        # the rollback failed too: the last completed revision does not run any more (locally: its
        # code could not be restored). Rolling back again would run it again, for ever; stop here.
        d.events.append(events.rollback_failed(name, primary.id, primary.rollback_to))
        d.failed_rollback = primary.id
    elif (
        cb.rollback
        and view.last_completed_task_definition is not None
        and view.last_completed_deployment_id is not None
        and view.last_completed_deployment_id != primary.id
    ):
        prev = view.last_completed_deployment_id
        d.rollback = RollbackDeployment(
            task_definition_arn=view.last_completed_task_definition,
            rollout_state_reason=events.rollback_reason(prev),
            rolled_back_from=primary.id,
            rolling_back_to=prev,
        )
        d.events.append(events.rolling_back(name, prev))
        status_change = DeploymentStatus.ACTIVE
    d.updates.append(
        DeploymentUpdate(
            primary.id,
            status=status_change,
            rollout_state=RolloutState.FAILED,
            rollout_state_reason=events.CIRCUIT_BREAKER_FAILED_REASON,
        )
    )


def _report_unhealthy(view: ServiceView, active: list[TaskView], d: _Draft) -> None:
    """Phase 2 (§7.2, §7.4, §7.6): a condition for each unhealthy task outside its grace period; a wakeup
    for the end of the grace of those inside it."""
    for t in active:
        if d.acts_unhealthy(t) and t.unhealthy is not None:
            d.conditions.append(t.unhealthy.event(view.name, t.task_id))
        elif t.unhealthy is not None and t.started_at is not None:
            d.wakeups.append(t.started_at + view.grace_period - d.now)


def _stop_old_tasks(old: list[TaskView], scaling_reason: str, d: _Draft) -> None:
    """Phase 3: stop old deployments' tasks that are not healthy freely, healthy ones down to the floor.
    A FAILED primary has nothing to replace them with, so it stops none."""
    if d.rollout is RolloutState.FAILED:
        return
    for t in sorted(old, key=_stop_rank):
        if not t.healthy:
            reason = t.unhealthy.stopped_reason if d.acts_unhealthy(t) and t.unhealthy else scaling_reason
            d.stop(t, reason)
        elif d.budget > 0:
            d.stop(t, scaling_reason)


def _launch_throttled(view: ServiceView, primary: DeploymentView, need: int, d: _Draft) -> bool:
    """The launch throttle (§7.8): whether consecutive failed starts hold back a start now. A deployment
    created after the last failure resets it."""
    effective_failures = view.launch_failures
    if view.last_launch_failure_at is not None and primary.created_at > view.last_launch_failure_at:
        effective_failures = 0  # a new deployment resets the throttle (§7.8)
    if effective_failures > 0 and view.last_launch_failure_at is not None and need > 0:
        resume_at = view.last_launch_failure_at + launch_backoff(effective_failures)
        if d.now < resume_at:
            d.wakeups.append(resume_at - d.now)
            d.conditions.append(events.unable_to_start_consistently(view.name))
            return True
    return False


def _plan_primary(
    view: ServiceView,
    primary: DeploymentView,
    desired: int,
    cap: int,
    active: list[TaskView],
    new: list[TaskView],
    scaling_reason: str,
    d: _Draft,
) -> _Launch:
    """Phase 4: the primary's tasks. Start up to desired within ``maxTasks`` (unless FAILED, rolling back
    or throttled), replace unhealthy tasks start-first, and scale in above desired."""
    unhealthy_new = [t for t in new if d.acts_unhealthy(t)]
    ok_new = [t for t in new if not d.acts_unhealthy(t)]
    healthy_new = [t for t in ok_new if t.healthy]
    remaining_active = len(active) - len(d.stops)
    room = cap - remaining_active
    need = desired - len(ok_new)

    throttled = _launch_throttled(view, primary, need, d)
    can_launch = d.rollout is not RolloutState.FAILED and d.rollback is None and not throttled
    to_start = max(0, min(need, room)) if can_launch else 0

    # unhealthy primary tasks: stop one once its replacement is healthy; or, with no room to start
    # a replacement, one at a time (stopping a task that is not healthy never breaks the floor)
    surplus_healthy = len(healthy_new) + len(unhealthy_new) - desired
    n_unhealthy_stops = min(len(unhealthy_new), max(0, surplus_healthy))
    if n_unhealthy_stops == 0 and unhealthy_new and need > 0 and to_start < need and room <= 0:
        n_unhealthy_stops = 1
    for t in unhealthy_new[:n_unhealthy_stops]:
        if t.unhealthy is not None:
            d.stop(t, t.unhealthy.stopped_reason)

    # scale-in: more healthy-or-pending primary tasks than desired
    excess = len(ok_new) - desired
    if excess > 0:
        # unhealthy tasks inside grace may be stopped when above desired (§7.4)
        for t in sorted(ok_new, key=_stop_rank):
            if excess <= 0:
                break
            if t.healthy and d.budget <= 0:
                continue
            d.stop(t, scaling_reason)
            excess -= 1

    starts: tuple[StartOrder, ...] = ()
    if to_start > 0:
        starts = (StartOrder(primary.id, primary.task_definition_arn, to_start),)
    return _Launch(starts=starts, can_launch=can_launch, throttled=throttled)


def _complete_deployment(
    view: ServiceView,
    primary: DeploymentView,
    desired: int,
    new: list[TaskView],
    old: list[TaskView],
    starts: tuple[StartOrder, ...],
    d: _Draft,
) -> bool:
    """Phase 6 (§7.3, §7.5, §7.9): an in-progress primary completes once old tasks are gone and its desired
    tasks are all healthy; a completed primary drops deployments with no task left. Returns whether the
    service is steady (one deployment, running == desired, all healthy, nothing to start or stop)."""
    lingering_old = [t for t in view.tasks if t.deployment_id != primary.id and not t.gone]
    stopped_after = [t for t in new if t.task_id not in d.stop_set]
    all_new_healthy = len(stopped_after) == desired and all(t.healthy for t in stopped_after)
    old_gone = not lingering_old and not any(t.task_id in d.stop_set for t in old)
    if (
        d.rollout is RolloutState.IN_PROGRESS
        and d.rollback is None
        and old_gone
        and all_new_healthy
        and not starts
    ):
        d.rollout = RolloutState.COMPLETED
        d.updates.append(
            DeploymentUpdate(
                primary.id,
                rollout_state=RolloutState.COMPLETED,
                rollout_state_reason=events.rollout_completed_reason(primary.id),
            )
        )
        d.events.append(events.deployment_completed(view.name, primary.id))
    if d.rollout is not RolloutState.COMPLETED:
        return False
    for dep in view.deployments:
        if dep.id != primary.id and not any(t.deployment_id == dep.id and not t.gone for t in view.tasks):
            d.drops.append(dep.id)
    remaining_deployments = len(view.deployments) - len(d.drops)
    running = sum(1 for t in stopped_after if t.last_status is LastStatus.RUNNING)
    if remaining_deployments == 1 and running == desired and all_new_healthy and not starts and not d.stops:
        d.conditions.append(events.steady_state(view.name))
        return True
    return False


def _requeue_after(new: list[TaskView], moving: bool, idle: bool, d: _Draft) -> float:
    """Phase 7: when to look again: soon while something moves, rarely when idle, or earlier at the next
    known deadline (end of grace, end of the throttle, the 40 s rule)."""
    for t in new:
        if not t.healthy and t.started_at is not None and t.unhealthy is None:
            at = t.started_at + NO_CHECK_HEALTHY_AFTER
            if at > d.now:
                d.wakeups.append(at - d.now)
    base = STEADY_REQUEUE_SECONDS if idle else BUSY_REQUEUE_SECONDS
    return min([base, *(w for w in d.wakeups if w > 0)])


def plan(view: ServiceView, *, now: float | None = None) -> Plan:
    """Decide one reconcile step for ``view``. ``now`` defaults to ``view.now``.

    The phases, in order (each may see what the earlier ones decided): the circuit breaker, unhealthy
    tasks, old deployments' tasks, the primary's tasks (starts, replacements, scale-in), a rollout that
    cannot move, completion and steady state, and when to look again."""
    now = view.now if now is None else now
    primary = view.primary
    if primary is None:
        return Plan(requeue_after=STEADY_REQUEUE_SECONDS)
    desired = max(0, view.desired_count)
    cap = max_tasks(desired, view.max_percent)
    floor = min_healthy(desired, view.min_healthy_percent)

    active = [t for t in view.tasks if t.active]
    new = sorted((t for t in active if t.deployment_id == primary.id), key=lambda t: t.task_id)
    old = sorted((t for t in active if t.deployment_id != primary.id), key=lambda t: t.task_id)
    stopping = [t for t in view.tasks if not t.active and not t.gone]
    starting_new = [t for t in new if t.last_status in STARTING_STATUSES]
    healthy_total = sum(1 for t in active if t.healthy)
    scaling_reason = scaling_activity_reason(primary.id)
    d = _Draft(
        now=now, grace_period=view.grace_period, budget=healthy_total - floor, rollout=primary.rollout_state
    )

    _trip_circuit_breaker(view, primary, desired, d)
    _report_unhealthy(view, active, d)
    _stop_old_tasks(old, scaling_reason, d)
    launch = _plan_primary(view, primary, desired, cap, active, new, scaling_reason, d)
    starts = launch.starts
    # phase 5: nothing can move although old tasks remain (§7.3)
    if (
        not starts
        and not d.stops
        and old
        and not starting_new
        and not stopping
        and launch.can_launch
        and all(t.healthy for t in new)
    ):
        d.conditions.append(events.unable_to_stop_or_start(view.name))
    steady = _complete_deployment(view, primary, desired, new, old, starts, d)
    moving = bool(starts or d.stops or stopping or starting_new)
    requeue = _requeue_after(new, moving, steady or (launch.throttled and not moving), d)

    return Plan(
        start=starts,
        stop=tuple(d.stops),
        deployment_updates=tuple(d.updates),
        drop_deployments=tuple(d.drops),
        new_rollback_deployment=d.rollback,
        failed_rollback=d.failed_rollback,
        events=tuple(d.events),
        conditions=tuple(d.conditions),
        requeue_after=requeue,
        steady=steady,
    )
