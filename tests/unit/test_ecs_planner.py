"""The service planner (spec §7.2–§7.5, §7.8, §7.9): rolling-update arithmetic, start-first replacement, grace
period, scale-in choice, completion, circuit breaker with rollback and the launch throttle, with a fake
clock; plus a small simulation that drives whole deployments through repeated plans."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.ecs import events
from albfargate.ecs.planner import (
    DeploymentStatus,
    DeploymentView,
    FailureCounters,
    Plan,
    RolloutState,
    ServiceView,
    StopCode,
    TaskView,
    UnhealthyCause,
    circuit_breaker_threshold,
    counts_as_healthy,
    healthy_at,
    launch_backoff,
    max_tasks,
    min_healthy,
    on_task_healthy,
    on_task_running,
    on_task_stopped,
    plan,
    unhealthy_cause,
)
from albfargate.ecs.tasks import DesiredStatus, LastStatus
from albfargate.model.ecs import DeploymentCircuitBreaker

S = LastStatus
SVC = "web"
NEW = "ecs-svc/2222222222222222222"
OLD = "ecs-svc/1111111111111111111"
TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"
SCALING_NEW = f"Scaling activity initiated by (deployment {NEW})"


def primary(desired: int, **kw: object) -> DeploymentView:
    base = DeploymentView(NEW, DeploymentStatus.PRIMARY, "td:2", desired, created_at=100.0)
    return replace(base, **kw)  # type: ignore[arg-type]


def old_dep(desired: int = 0) -> DeploymentView:
    return DeploymentView(OLD, DeploymentStatus.ACTIVE, "td:1", desired, RolloutState.COMPLETED)


def task(
    tid: str,
    dep: str = NEW,
    status: LastStatus = S.RUNNING,
    *,
    healthy: bool | None = True,
    started_at: float | None = 0.0,
    unhealthy: UnhealthyCause | None = None,
    desired_status: DesiredStatus = DesiredStatus.RUNNING,
) -> TaskView:
    if status is not S.RUNNING and status not in (S.DEACTIVATING, S.STOPPING, S.DEPROVISIONING, S.STOPPED):
        started_at = None
        healthy = False
    return TaskView(
        tid, dep, status, desired_status, started_at=started_at, healthy=healthy, unhealthy=unhealthy
    )


def olds(n: int, healthy: bool = True) -> list[TaskView]:
    return [task(f"o{i}", OLD, healthy=healthy) for i in range(n)]


def news(n: int, healthy: bool = True, status: LastStatus = S.RUNNING) -> list[TaskView]:
    return [task(f"n{i}", NEW, status, healthy=healthy) for i in range(n)]


def view(
    desired: int,
    tasks: list[TaskView],
    *,
    deployments: tuple[DeploymentView, ...] | None = None,
    now: float = 1000.0,
    **kw: object,
) -> ServiceView:
    if deployments is None:
        deployments = (
            (primary(desired), old_dep())
            if any(t.deployment_id == OLD for t in tasks)
            else (primary(desired),)
        )
    v = ServiceView(SVC, desired, deployments, tuple(tasks), now=now)
    return replace(v, **kw)  # type: ignore[arg-type]


# --- arithmetic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "percent", "expected"),
    [(4, 200, 8), (3, 125, 3), (2, 100, 2), (1, 200, 2), (0, 200, 0), (3, 150, 4), (7, 133, 9)],
)
def test_max_tasks(desired: int, percent: int, expected: int) -> None:
    assert max_tasks(desired, percent) == expected


@pytest.mark.parametrize(
    ("desired", "percent", "expected"),
    [(4, 50, 2), (2, 75, 2), (3, 100, 3), (1, 50, 1), (0, 100, 0), (3, 0, 0), (10, 33, 4), (5, 50, 3)],
)
def test_min_healthy(desired: int, percent: int, expected: int) -> None:
    assert min_healthy(desired, percent) == expected


@pytest.mark.parametrize(
    ("desired", "threshold"),
    [(0, 3), (1, 3), (2, 3), (5, 3), (6, 3), (7, 4), (10, 5), (25, 13), (399, 200), (400, 200), (800, 200)],
)
def test_circuit_breaker_threshold(desired: int, threshold: int) -> None:
    assert circuit_breaker_threshold(desired) == threshold


@pytest.mark.parametrize(
    ("n", "delay"),
    [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 640.0), (8, 900.0), (500, 900.0)],
)
def test_launch_backoff(n: int, delay: float) -> None:
    assert launch_backoff(n) == delay


# --- the doc's example table (§7.3) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "min_pct", "max_pct", "starts", "stops", "stuck"),
    [
        pytest.param(4, 50, 100, 2, 2, False, id="desired 4 min 50: stop 2 old before starting 2 new"),
        pytest.param(2, 75, 100, 0, 0, True, id="desired 2 min 75: ceil(1.5)=2, can't stop any"),
        pytest.param(4, 100, 200, 4, 0, False, id="desired 4 max 200: start 4 new before stopping old"),
        pytest.param(3, 100, 125, 0, 0, True, id="desired 3 max 125: floor(3.75)=3, can't start any"),
        pytest.param(2, 50, 200, 2, 1, False, id="CDK defaults min 50 max 200"),
        pytest.param(1, 0, 100, 1, 1, False, id="min 0 max 100: stop then start"),
    ],
)
def test_doc_examples(desired: int, min_pct: int, max_pct: int, starts: int, stops: int, stuck: bool) -> None:
    p = plan(view(desired, olds(desired), min_healthy_percent=min_pct, max_percent=max_pct))
    assert p.start_count == starts
    assert len(p.stop) == stops
    assert all(s.reason == SCALING_NEW and s.stop_code is StopCode.ServiceSchedulerInitiated for s in p.stop)
    assert (events.unable_to_stop_or_start(SVC) in p.conditions) is stuck


def test_unable_event_not_emitted_while_waiting_for_new_tasks() -> None:
    # max 100 min 100 desired 1 would be stuck only without anything moving; a pending new task means wait
    p = plan(view(1, [*olds(1), *news(1, status=S.PENDING)], max_percent=200))
    assert p.start_count == 0 and not p.stop
    assert events.unable_to_stop_or_start(SVC) not in p.conditions


# --- what counts as healthy (§7.3) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "lb", "check", "task_health", "targets", "since", "now", "expected"),
    [
        ("RUNNING", False, False, "UNKNOWN", [], 100.0, 139.9, False),  # 40 s rule, not yet
        ("RUNNING", False, False, "UNKNOWN", [], 100.0, 140.0, True),  # 40 s after RUNNING
        ("PENDING", False, False, "UNKNOWN", [], None, 999.0, False),
        ("RUNNING", False, True, "HEALTHY", [], 100.0, 101.0, True),  # container check decides
        ("RUNNING", False, True, "UNKNOWN", [], 100.0, 999.0, False),
        ("RUNNING", True, False, "UNKNOWN", ["healthy"], 100.0, 101.0, True),  # target decides
        ("RUNNING", True, False, "UNKNOWN", ["initial"], 100.0, 999.0, False),
        ("RUNNING", True, False, "UNKNOWN", ["healthy", "initial"], 100.0, 999.0, False),  # every TG
        ("RUNNING", True, False, "UNKNOWN", [], 100.0, 999.0, False),  # not registered yet
        ("RUNNING", True, True, "HEALTHY", ["healthy"], 100.0, 101.0, True),  # both needed
        ("RUNNING", True, True, "UNKNOWN", ["healthy"], 100.0, 101.0, False),
        ("RUNNING", True, True, "HEALTHY", ["unhealthy"], 100.0, 101.0, False),
        ("DEACTIVATING", True, False, "HEALTHY", ["healthy"], 100.0, 101.0, False),
    ],
)
def test_counts_as_healthy(
    status: str,
    lb: bool,
    check: bool,
    task_health: str,
    targets: list[str],
    since: float | None,
    now: float,
    expected: bool,
) -> None:
    got = counts_as_healthy(
        last_status=status,
        has_load_balancer=lb,
        has_container_check=check,
        task_health=task_health,
        target_states=targets,
        running_since=since,
        now=now,
    )
    assert got is expected


def test_healthy_at_for_requeue() -> None:
    assert healthy_at(has_load_balancer=False, has_container_check=False, running_since=5.0) == 45.0
    assert healthy_at(has_load_balancer=True, has_container_check=False, running_since=5.0) is None
    assert healthy_at(has_load_balancer=False, has_container_check=True, running_since=5.0) is None


@pytest.mark.parametrize(
    ("task_health", "targets", "expected"),
    [
        ("HEALTHY", [(TG, 8080, "healthy", None)], None),
        ("UNKNOWN", [(TG, 8080, "initial", "Initial health checks in progress")], None),
        ("UNHEALTHY", [(TG, 8080, "healthy", None)], UnhealthyCause("container")),
        (
            "UNKNOWN",
            [(TG, 8080, "unhealthy", "Request timed out")],
            UnhealthyCause("elb", TG, 8080, "Request timed out"),
        ),
        ("UNKNOWN", [(TG, 8080, "draining", None)], None),
        ("UNKNOWN", [(TG, 80, "unhealthy", None)], UnhealthyCause("elb", TG, 80, "Health checks failed")),
    ],
)
def test_unhealthy_cause(
    task_health: str, targets: list[tuple[str, int, str, str | None]], expected: UnhealthyCause | None
) -> None:
    assert unhealthy_cause(task_health=task_health, targets=targets) == expected


def test_unhealthy_cause_texts() -> None:
    elb = UnhealthyCause("elb", TG, 8080, "Health checks failed with these codes: [404]")
    assert elb.stopped_reason == f"Task failed ELB health checks in (target-group {TG})"
    assert elb.event(SVC, "abc") == (
        f"(service web) (task abc) (port 8080) is unhealthy in (target-group {TG}) due to "
        "(reason Health checks failed with these codes: [404])."
    )
    c = UnhealthyCause("container")
    assert c.stopped_reason == "Task failed container health checks"
    assert c.event(SVC, "abc") == "(service web) (task abc) failed container health checks."
    t = task("x", unhealthy=c)
    assert t.unhealthy_reason == "Task failed container health checks"
    assert task("y").unhealthy_reason is None


# --- keeping desired count, scale-out, scale-in ----------------------------------------------------------


def test_initial_start() -> None:
    p = plan(view(2, []))
    assert p.start_count == 2 and p.start[0].deployment_id == NEW and p.start[0].task_definition_arn == "td:2"
    assert not p.steady and p.requeue_after == 1.0


def test_replaces_stopped_task() -> None:
    gone = task("n9", status=S.STOPPED, desired_status=DesiredStatus.STOPPED)
    p = plan(view(2, [*news(1), gone], deployments=(primary(2, rollout_state=RolloutState.COMPLETED),)))
    assert p.start_count == 1


def test_scale_out_does_not_stop() -> None:
    p = plan(view(5, news(2), deployments=(primary(5, rollout_state=RolloutState.COMPLETED),)))
    assert p.start_count == 3 and not p.stop


def test_scale_in_prefers_unhealthy_then_pending_then_unready_then_young() -> None:
    tasks = [
        task("a", healthy=True, started_at=10.0),
        task("b", healthy=True, started_at=20.0),
        task("c", status=S.PENDING),
        task("d", healthy=False, started_at=30.0),
        task("e", healthy=False, started_at=5.0, unhealthy=UnhealthyCause("container")),
    ]
    dep = (primary(2, rollout_state=RolloutState.COMPLETED),)
    v = view(2, tasks, deployments=dep, grace_period=1e9, min_healthy_percent=50)
    assert plan(v).stop_ids == ["e", "c", "d"]  # e is unhealthy inside grace: above desired it may go
    v1 = view(1, tasks, deployments=(primary(1, rollout_state=RolloutState.COMPLETED),), grace_period=1e9)
    p = plan(v1)
    assert p.stop_ids == ["e", "c", "d", "b"]  # then the youngest healthy one
    assert all(s.reason == SCALING_NEW for s in p.stop)


def test_scale_in_respects_min_healthy_floor() -> None:
    # desired 2, min 100: floor 2 healthy; 3 healthy tasks -> may stop exactly one
    p = plan(view(2, news(3), deployments=(primary(2, rollout_state=RolloutState.COMPLETED),)))
    assert len(p.stop) == 1
    p0 = plan(view(0, news(3), deployments=(primary(0, rollout_state=RolloutState.COMPLETED),)))
    assert len(p0.stop) == 3 and p0.start_count == 0


# --- start-first replacement of unhealthy tasks (§7.2) and grace period (§7.4) ------------------------------

ELB_BAD = UnhealthyCause("elb", TG, 8080, "Request timed out")


def test_unhealthy_replaced_start_first() -> None:
    dep = (primary(2, rollout_state=RolloutState.COMPLETED),)
    tasks = [task("a"), task("b", healthy=False, unhealthy=ELB_BAD)]
    p = plan(view(2, tasks, deployments=dep))
    assert p.start_count == 1 and not p.stop
    assert ELB_BAD.event(SVC, "b") in p.conditions
    # replacement running but not healthy yet: wait
    p = plan(view(2, [*tasks, task("c", healthy=False)], deployments=dep))
    assert p.start_count == 0 and not p.stop
    # replacement healthy: now stop the unhealthy task
    p = plan(view(2, [*tasks, task("c")], deployments=dep))
    assert p.start_count == 0
    assert [(s.task_id, s.reason, s.stop_code) for s in p.stop] == [
        ("b", f"Task failed ELB health checks in (target-group {TG})", StopCode.ServiceSchedulerInitiated)
    ]


def test_unhealthy_without_room_stopped_one_at_a_time() -> None:
    dep = (primary(2, rollout_state=RolloutState.COMPLETED),)
    bad = UnhealthyCause("container")
    tasks = [task("a", healthy=False, unhealthy=bad), task("b", healthy=False, unhealthy=bad)]
    p = plan(view(2, tasks, deployments=dep, max_percent=100))
    assert p.stop_ids == ["a"] and p.start_count == 0
    assert p.stop[0].reason == "Task failed container health checks"
    # next pass: a is on its way out (not active), so there is room for one replacement
    a_going = replace(tasks[0], desired_status=DesiredStatus.STOPPED, last_status=S.DEACTIVATING)
    p = plan(view(2, [a_going, tasks[1]], deployments=dep, max_percent=100))
    assert p.start_count == 1 and not p.stop


@pytest.mark.parametrize(
    ("now", "grace", "acts"),
    [
        (1000.0, 0.0, True),
        (1000.0, 60.0, True),
        (959.0, 60.0, False),
        (959.9, 60.0, False),
        (960.0, 60.0, True),
    ],
)
def test_grace_period_ignores_unhealthy(now: float, grace: float, acts: bool) -> None:
    dep = (primary(1, rollout_state=RolloutState.COMPLETED),)
    bad = task("a", healthy=False, started_at=900.0, unhealthy=ELB_BAD)
    p = plan(view(1, [bad], deployments=dep, grace_period=grace, now=now))
    assert (p.start_count == 1) is acts
    assert (ELB_BAD.event(SVC, "a") in p.conditions) is acts
    if not acts:
        assert p.requeue_after == pytest.approx(min(1.0, 900.0 + grace - now))


def test_grace_requeue_points_at_its_end() -> None:
    dep = (primary(1, rollout_state=RolloutState.COMPLETED),)
    bad = task("a", healthy=False, started_at=990.0, unhealthy=ELB_BAD)
    p = plan(view(1, [bad], deployments=dep, grace_period=10.5, now=1000.0))
    assert p.requeue_after == pytest.approx(0.5)


# --- rolling deployment completion (§7.3, §7.5, §7.9) --------------------------------------------------


def test_completion_drops_old_deployment_and_is_steady() -> None:
    p = plan(view(2, news(2), deployments=(primary(2), old_dep())))
    assert p.deployment_updates[0].rollout_state is RolloutState.COMPLETED
    assert p.deployment_updates[0].rollout_state_reason == f"ECS deployment {NEW} completed."
    assert p.drop_deployments == (OLD,)
    assert events.deployment_completed(SVC, NEW) in p.events
    assert p.steady and events.steady_state(SVC) in p.conditions
    assert p.requeue_after == 15.0


def test_old_task_still_draining_blocks_completion() -> None:
    draining = task("o0", OLD, S.DEACTIVATING, desired_status=DesiredStatus.STOPPED)
    p = plan(view(2, [*news(2), draining]))
    assert not p.deployment_updates and not p.drop_deployments and not p.steady
    assert p.requeue_after == 1.0


def test_not_completed_until_new_tasks_healthy() -> None:
    p = plan(view(2, [*news(1), task("n1", healthy=False)]))
    assert not p.deployment_updates and not p.steady


def test_steady_when_completed_and_at_desired() -> None:
    dep = (primary(2, rollout_state=RolloutState.COMPLETED),)
    p = plan(view(2, news(2), deployments=dep))
    assert p.steady and p.conditions == (events.steady_state(SVC),) and not p.events
    p = plan(view(3, news(2), deployments=(primary(3, rollout_state=RolloutState.COMPLETED),)))
    assert not p.steady


def test_rolling_update_stops_old_only_as_new_become_healthy() -> None:
    # desired 2, min 100, max 200: 2 old healthy, 2 new of which 1 healthy -> stop exactly 1 old
    p = plan(view(2, [*olds(2), *news(1), task("n1", healthy=False)]))
    assert p.start_count == 0 and len(p.stop) == 1 and p.stop[0].task_id.startswith("o")
    # old tasks that are not healthy go first and freely
    p = plan(view(2, [*olds(1), task("o9", OLD, healthy=False), *news(1, healthy=False)]))
    assert p.stop_ids == ["o9"]


def test_no_deployment_no_plan() -> None:
    p = plan(ServiceView(SVC, 1, (), (), now=0.0))
    assert p == Plan()


# --- circuit breaker and rollback (§7.5) ------------------------------------------------------------------

CB_ROLLBACK = DeploymentCircuitBreaker(enable=True, rollback=True)


def test_circuit_breaker_fails_and_rolls_back() -> None:
    v = view(
        2,
        olds(2),
        deployments=(primary(2, failed_tasks=3), old_dep()),
        circuit_breaker=CB_ROLLBACK,
        last_completed_task_definition="td:1",
        last_completed_deployment_id=OLD,
    )
    p = plan(v)
    assert p.start_count == 0 and not p.stop  # nothing launched, old tasks kept
    (upd,) = p.deployment_updates
    assert (upd.deployment_id, upd.status, upd.rollout_state) == (
        NEW,
        DeploymentStatus.ACTIVE,
        RolloutState.FAILED,
    )
    assert upd.rollout_state_reason == "ECS deployment circuit breaker: tasks failed to start."
    rb = p.new_rollback_deployment
    assert rb is not None and rb.task_definition_arn == "td:1"
    assert rb.rollout_state_reason == f"ECS deployment circuit breaker: rolling back to deploymentId {OLD}."
    assert (rb.rolled_back_from, rb.rolling_back_to) == (NEW, OLD)
    assert p.events == (
        f"(service web) (deployment {NEW}) deployment failed: tasks failed to start.",
        f"(service web) rolling back to deployment {OLD}.",
    )


@pytest.mark.parametrize(
    ("desired", "failed", "trips"),
    [(1, 2, False), (1, 3, True), (10, 4, False), (10, 5, True), (25, 13, True)],
)
def test_circuit_breaker_threshold_in_plan(desired: int, failed: int, trips: bool) -> None:
    v = view(desired, [], deployments=(primary(desired, failed_tasks=failed),), circuit_breaker=CB_ROLLBACK)
    p = plan(v)
    assert (any(u.rollout_state is RolloutState.FAILED for u in p.deployment_updates)) is trips
    assert (p.start_count == 0) is trips
    assert p.new_rollback_deployment is None  # nothing completed before: no rollback target


def test_circuit_breaker_disabled_never_fails() -> None:
    p = plan(view(1, [], deployments=(primary(1, failed_tasks=50),)))
    assert p.start_count == 1 and not p.deployment_updates


def test_failed_without_rollback_launches_nothing() -> None:
    cb = DeploymentCircuitBreaker(enable=True, rollback=False)
    dep = (primary(2, rollout_state=RolloutState.FAILED, failed_tasks=3), old_dep())
    p = plan(view(2, [*olds(2), *news(1, healthy=False)], deployments=dep, circuit_breaker=cb))
    assert p.start_count == 0 and not p.stop and not p.deployment_updates and not p.steady
    trip = plan(view(2, olds(2), deployments=(primary(2, failed_tasks=3), old_dep()), circuit_breaker=cb))
    assert trip.new_rollback_deployment is None
    assert trip.deployment_updates[0].status is None  # stays PRIMARY, FAILED


def test_a_failed_rollback_is_not_rolled_back_again() -> None:
    """The rollback deployment (to OLD's td:1) trips the breaker too: FAILED, it stays PRIMARY (the service
    says which revision it tried), no second rollback to the same revision, and the event says so."""
    rollback = primary(2, failed_tasks=3, rollback_to=OLD, task_definition_arn="td:1")
    failed = DeploymentView("ecs-svc/3", DeploymentStatus.ACTIVE, "td:2", 2, RolloutState.FAILED)
    v = view(
        2,
        [],
        deployments=(rollback, failed),
        circuit_breaker=CB_ROLLBACK,
        last_completed_task_definition="td:1",
        last_completed_deployment_id=OLD,
    )
    p = plan(v)
    assert p.new_rollback_deployment is None and p.start_count == 0 and not p.steady
    assert p.failed_rollback == NEW  # the shell says so once (a line, besides the event)
    (upd,) = p.deployment_updates
    assert (upd.deployment_id, upd.status, upd.rollout_state) == (NEW, None, RolloutState.FAILED)
    assert p.events == (
        events.deployment_failed(SVC, NEW),
        f"(service web) (deployment {NEW}) rollback to deployment {OLD} failed: its tasks failed too. The "
        "service is not rolled back again; deploy a fix.",
    )
    # and later passes (a fake clock an hour on) launch nothing: the service waits for a new deployment
    later = replace(v, deployments=(replace(rollback, rollout_state=RolloutState.FAILED), failed), now=4600.0)
    p2 = plan(later)
    assert p2.start_count == 0 and p2.new_rollback_deployment is None and not p2.deployment_updates
    assert p2.failed_rollback is None and not p2.events


def test_completed_deployment_is_not_failed_by_breaker() -> None:
    dep = (primary(1, rollout_state=RolloutState.COMPLETED, failed_tasks=9),)
    p = plan(view(1, [], deployments=dep, circuit_breaker=CB_ROLLBACK))
    assert p.start_count == 1 and not p.deployment_updates


# --- failure counters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reached", "ever_healthy", "failed_hc", "cb", "throttle"),
    [
        (StopCode.TaskFailedToStart, False, False, False, 1, 1),  # stage 1
        (StopCode.EssentialContainerExited, False, False, False, 1, 1),  # exited before RUNNING
        (StopCode.EssentialContainerExited, True, False, False, 1, 0),  # crash loop after RUNNING
        (StopCode.EssentialContainerExited, True, True, False, 0, 0),  # died after being healthy
        (StopCode.ServiceSchedulerInitiated, True, False, True, 1, 0),  # stage 2: failed health checks
        (StopCode.ServiceSchedulerInitiated, True, True, False, 0, 0),  # scale-in / replacement
        (StopCode.UserInitiated, True, True, False, 0, 0),
        (StopCode.UserInitiated, False, False, False, 0, 0),  # user stopped it while starting
    ],
)
def test_on_task_stopped(
    code: StopCode, reached: bool, ever_healthy: bool, failed_hc: bool, cb: int, throttle: int
) -> None:
    c = on_task_stopped(
        FailureCounters(failed_tasks=1, launch_failures=2, last_launch_failure_at=5.0),
        stop_code=code,
        reached_running=reached,
        ever_healthy=ever_healthy,
        failed_health_checks=failed_hc,
        now=50.0,
    )
    assert c.failed_tasks == 1 + cb
    assert c.launch_failures == 2 + throttle
    assert c.last_launch_failure_at == (50.0 if throttle else 5.0)


def test_counter_resets() -> None:
    c = FailureCounters(failed_tasks=2, launch_failures=4, last_launch_failure_at=9.0)
    assert on_task_healthy(c) == FailureCounters(0, 4, 9.0)
    assert on_task_running(c) == FailureCounters(2, 0, None)


# --- launch throttle (§7.8) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "now", "throttled"),
    [
        (1, 105.0, True),
        (1, 110.0, False),
        (3, 139.0, True),
        (3, 140.0, False),
        (9, 999.0, True),
        (9, 1000.0, False),
    ],
)
def test_launch_throttle(failures: int, now: float, throttled: bool) -> None:
    v = view(
        1,
        [],
        deployments=(primary(1, created_at=50.0),),
        launch_failures=failures,
        last_launch_failure_at=100.0,
        now=now,
    )
    p = plan(v)
    assert (p.start_count == 0) is throttled
    assert (events.unable_to_start_consistently(SVC) in p.conditions) is throttled
    if throttled:
        assert p.requeue_after == pytest.approx(100.0 + launch_backoff(failures) - now)


def test_new_deployment_resets_throttle() -> None:
    v = view(
        1,
        [],
        deployments=(primary(1, created_at=150.0),),
        launch_failures=5,
        last_launch_failure_at=100.0,
        now=151.0,
    )
    assert plan(v).start_count == 1


# --- property: the arithmetic bounds hold for any service --------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    desired=st.integers(0, 12),
    min_pct=st.integers(0, 100),
    max_pct=st.integers(100, 200),
    n_old=st.integers(0, 12),
    n_new=st.integers(0, 12),
    old_healthy=st.lists(st.booleans(), min_size=12, max_size=12),
    new_healthy=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_bounds_hold(
    desired: int,
    min_pct: int,
    max_pct: int,
    n_old: int,
    n_new: int,
    old_healthy: list[bool],
    new_healthy: list[bool],
) -> None:
    tasks = [task(f"o{i}", OLD, healthy=old_healthy[i]) for i in range(n_old)]
    tasks += [task(f"n{i}", NEW, healthy=new_healthy[i]) for i in range(n_new)]
    p = plan(view(desired, tasks, min_healthy_percent=min_pct, max_percent=max_pct))
    stopped = set(p.stop_ids)
    assert len(stopped) == len(p.stop)  # never the same task twice
    after = [t for t in tasks if t.task_id not in stopped]
    healthy_before = sum(1 for t in tasks if t.healthy)
    healthy_after = sum(1 for t in after if t.healthy)
    floor = min_healthy(desired, min_pct)
    # never stop a healthy task below the floor (unless already below it)
    assert healthy_after >= min(floor, healthy_before)
    # never start beyond maximumPercent
    if p.start_count:
        assert len(after) + p.start_count <= max_tasks(desired, max_pct)
        assert sum(1 for t in after if t.deployment_id == NEW) + p.start_count <= desired


# --- simulation: whole deployments through repeated plans -----------------------------------------


@dataclass
class SimTask:
    id: str
    dep: str
    status: LastStatus
    desired: DesiredStatus
    since: float
    mode: str = "ok"
    started_at: float | None = None
    ever_healthy: bool = False
    failed_health: bool = False


class Sim:
    """A toy shell: tasks take 1 s to start, are healthy 2 s after RUNNING, take 3 s to drain and stop.

    Task-definition modes: ``ok``; ``crash`` (exits 1 s after RUNNING, never healthy); ``nostart`` (fails
    before RUNNING); ``sick`` (RUNNING, its target turns unhealthy 3 s after RUNNING)."""

    def __init__(
        self,
        desired: int,
        *,
        min_pct: int = 100,
        max_pct: int = 200,
        cb: DeploymentCircuitBreaker | None = None,
        grace: float = 0.0,
        modes: dict[str, str] | None = None,
    ) -> None:
        self.now = 0.0
        self.n = 0
        self.tasks: list[SimTask] = []
        self.deps: list[DeploymentView] = []
        self.counters: dict[str, FailureCounters] = {}
        self.launch = FailureCounters()
        self.desired = desired
        self.min_pct, self.max_pct = min_pct, max_pct
        self.cb = cb or DeploymentCircuitBreaker()
        self.grace = grace
        self.modes = modes or {}
        self.last_completed: tuple[str, str] | None = None
        self.log: list[str] = []
        self.starts: list[float] = []
        self.deploy("td:1")

    def deploy(self, td: str, reason: str | None = None, rollback_to: str | None = None) -> str:
        did = f"ecs-svc/{len(self.deps) + 1:019d}"
        self.deps = [replace(d, status=DeploymentStatus.ACTIVE) for d in self.deps]
        self.deps.append(
            DeploymentView(
                did,
                DeploymentStatus.PRIMARY,
                td,
                self.desired,
                created_at=self.now,
                rollout_state_reason=reason or events.rollout_in_progress_reason(did),
                rollback_to=rollback_to,
            )
        )
        self.counters[did] = FailureCounters()
        self.launch = FailureCounters()  # a new deployment resets the throttle
        return did

    def scale(self, desired: int) -> None:
        self.desired = desired
        self.deps = [
            replace(d, desired_count=desired) if d.status is DeploymentStatus.PRIMARY else d
            for d in self.deps
        ]

    def healthy(self, t: SimTask) -> bool:
        return (
            t.status is S.RUNNING
            and t.started_at is not None
            and t.mode == "ok"
            and self.now - t.started_at >= 2.0
        )

    def cause(self, t: SimTask) -> UnhealthyCause | None:
        if t.mode == "sick" and t.started_at is not None and self.now - t.started_at >= 3.0:
            return UnhealthyCause("elb", TG, 8080, "Health checks failed with these codes: [500]")
        return None

    def view(self) -> ServiceView:
        tv = tuple(
            TaskView(
                t.id,
                t.dep,
                t.status,
                t.desired,
                t.started_at,
                self.healthy(t),
                unhealthy=self.cause(t) if t.status is S.RUNNING else None,
                created_at=t.since,
            )
            for t in self.tasks
            if t.status is not S.STOPPED
        )
        deps = tuple(replace(d, failed_tasks=self.counters[d.id].failed_tasks) for d in self.deps)
        return ServiceView(
            SVC,
            self.desired,
            deps,
            tv,
            now=self.now,
            max_percent=self.max_pct,
            min_healthy_percent=self.min_pct,
            circuit_breaker=self.cb,
            grace_period=self.grace,
            last_completed_task_definition=self.last_completed[1] if self.last_completed else None,
            last_completed_deployment_id=self.last_completed[0] if self.last_completed else None,
            launch_failures=self.launch.launch_failures,
            last_launch_failure_at=self.launch.last_launch_failure_at,
        )

    def step(self) -> Plan:
        p = plan(self.view())
        # invariants on every plan
        active = [t for t in self.tasks if t.desired is DesiredStatus.RUNNING and t.status is not S.STOPPED]
        stopped = set(p.stop_ids)
        remaining = [t for t in active if t.id not in stopped]
        if p.start_count:
            assert len(remaining) + p.start_count <= max_tasks(self.desired, self.max_pct)
        h_before = sum(1 for t in active if self.healthy(t))
        h_after = sum(1 for t in remaining if self.healthy(t))
        assert h_after >= min(h_before, min_healthy(self.desired, self.min_pct))
        self.log += [*p.events, *p.conditions]
        for order in p.stop:
            t = next(t for t in self.tasks if t.id == order.task_id)
            t.desired, t.status, t.since = DesiredStatus.STOPPED, S.DEACTIVATING, self.now
            t.failed_health = order.reason.startswith("Task failed")
            self.counters[t.dep] = on_task_stopped(
                self.counters[t.dep],
                stop_code=order.stop_code,
                reached_running=t.started_at is not None,
                ever_healthy=t.ever_healthy,
                failed_health_checks=t.failed_health,
                now=self.now,
            )
        for order in p.start:
            td = next(d.task_definition_arn for d in self.deps if d.id == order.deployment_id)
            for _ in range(order.count):
                self.n += 1
                self.starts.append(self.now)
                self.tasks.append(
                    SimTask(
                        f"t{self.n}",
                        order.deployment_id,
                        S.PROVISIONING,
                        DesiredStatus.RUNNING,
                        self.now,
                        mode=self.modes.get(td, "ok"),
                    )
                )
        for u in p.deployment_updates:
            i = next(i for i, d in enumerate(self.deps) if d.id == u.deployment_id)
            d = self.deps[i]
            self.deps[i] = replace(
                d,
                status=u.status or d.status,
                rollout_state=u.rollout_state or d.rollout_state,
                rollout_state_reason=u.rollout_state_reason or d.rollout_state_reason,
            )
            if u.rollout_state is RolloutState.COMPLETED:
                self.last_completed = (d.id, d.task_definition_arn)
        self.deps = [d for d in self.deps if d.id not in p.drop_deployments]
        rb = p.new_rollback_deployment
        if rb is not None:
            self.deploy(rb.task_definition_arn, rb.rollout_state_reason, rb.rolling_back_to)
        return p

    def _ended(self, t: SimTask, code: StopCode) -> None:
        t.status, t.desired, t.since = S.STOPPED, DesiredStatus.STOPPED, self.now
        self.counters[t.dep] = on_task_stopped(
            self.counters[t.dep],
            stop_code=code,
            reached_running=t.started_at is not None,
            ever_healthy=t.ever_healthy,
            failed_health_checks=False,
            now=self.now,
        )
        self.launch = on_task_stopped(
            self.launch,
            stop_code=code,
            reached_running=t.started_at is not None,
            ever_healthy=t.ever_healthy,
            failed_health_checks=False,
            now=self.now,
        )

    def advance(self, dt: float = 1.0) -> None:
        self.now += dt
        for t in self.tasks:
            if t.status is S.PROVISIONING and self.now - t.since >= 1.0:
                if t.mode == "nostart":
                    self._ended(t, StopCode.TaskFailedToStart)
                    continue
                t.status, t.started_at = S.RUNNING, self.now
                self.launch = on_task_running(self.launch)
            elif t.status is S.RUNNING and t.mode == "crash" and self.now - (t.started_at or 0.0) >= 1.0:
                self._ended(t, StopCode.EssentialContainerExited)
            elif t.status is S.DEACTIVATING and self.now - t.since >= 3.0:
                t.status = S.STOPPED
            if self.healthy(t) and not t.ever_healthy:
                t.ever_healthy = True
                self.counters[t.dep] = on_task_healthy(self.counters[t.dep])

    def run_until_steady(self, limit: int = 300) -> int:
        for i in range(limit):
            p = self.step()
            if p.steady:
                return i
            self.advance()
        raise AssertionError(f"not steady after {limit} steps; log: {self.log}")

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.step()
            self.advance()

    def live(self) -> list[SimTask]:
        return [t for t in self.tasks if t.status is not S.STOPPED]

    def stable(self) -> bool:
        """services-stable (§7.9): exactly one deployment and runningCount == desiredCount."""
        running = sum(1 for t in self.tasks if t.status is S.RUNNING and t.desired is DesiredStatus.RUNNING)
        return len(self.deps) == 1 and running == self.desired


@pytest.mark.parametrize(
    ("desired", "min_pct", "max_pct"),
    [(1, 100, 200), (2, 100, 200), (2, 50, 200), (4, 50, 100), (3, 0, 100), (5, 100, 150), (6, 50, 125)],
)
def test_simulated_rolling_deployment_reaches_services_stable(
    desired: int, min_pct: int, max_pct: int
) -> None:
    sim = Sim(desired, min_pct=min_pct, max_pct=max_pct)
    sim.run_until_steady()
    assert sim.stable() and sim.deps[0].rollout_state is RolloutState.COMPLETED
    first = sim.deps[0].id
    new = sim.deploy("td:2")
    sim.run_until_steady()
    assert sim.stable() and sim.deps[0].id == new and sim.deps[0].task_definition_arn == "td:2"
    live = [t for t in sim.tasks if t.status is not S.STOPPED]
    assert all(t.dep == new for t in live) and len(live) == desired
    assert events.deployment_completed(SVC, first) in sim.log
    assert events.deployment_completed(SVC, new) in sim.log
    assert events.steady_state(SVC) in sim.log


def test_simulated_scale_out_and_in() -> None:
    sim = Sim(2, min_pct=50, max_pct=200)
    sim.run_until_steady()
    sim.scale(5)
    sim.run_until_steady()
    assert sim.stable() and len(sim.deps) == 1 and len(sim.live()) == 5
    sim.scale(1)
    sim.run_until_steady()
    assert sim.stable()
    sim.run(5)  # the stopped ones finish draining
    assert len(sim.live()) == 1


def test_simulated_crash_loop_trips_breaker_and_rolls_back() -> None:
    sim = Sim(2, cb=CB_ROLLBACK, modes={"td:bad": "crash"})
    sim.run_until_steady()
    good = sim.deps[0].id
    bad = sim.deploy("td:bad")
    sim.run_until_steady()
    assert f"(service web) (deployment {bad}) deployment failed: tasks failed to start." in sim.log
    assert f"(service web) rolling back to deployment {good}." in sim.log
    assert sim.stable()
    (dep,) = sim.deps
    assert dep.task_definition_arn == "td:1" and dep.id not in (good, bad)
    assert dep.rollout_state is RolloutState.COMPLETED
    # the original tasks were never taken below the floor while the bad deployment ran
    assert not [t for t in sim.tasks if t.status is not S.STOPPED and t.dep == bad]


def test_simulated_rollback_to_broken_code_stops_after_one_failed_rollback() -> None:
    """As under ``--watch`` when the old revision runs the edited files: td:2 crashes, the rollback to
    td:1 crashes too (the code under it is the same broken code); one rollback, then nothing more (the
    report: 6 deployments and 20 launches until the file was fixed). A new deployment of a fix recovers."""
    sim = Sim(2, cb=CB_ROLLBACK)
    sim.run_until_steady()
    good = sim.deps[0].id
    sim.modes["td:1"] = "crash"  # the live files under td:1 are broken now
    sim.modes["td:2"] = "crash"
    bad = sim.deploy("td:2")
    launches_before = sim.n
    sim.run(600)  # ten minutes of a fake clock
    rollbacks = [d for d in sim.deps if d.rollback_to is not None]
    assert len(rollbacks) == 1 and rollbacks[0].rollback_to == good
    assert sim.deps[-1].id == rollbacks[0].id  # still the primary: the last thing tried
    assert all(d.rollout_state is RolloutState.FAILED for d in sim.deps if d.id in (bad, rollbacks[0].id))
    assert sum(1 for m in sim.log if "rolling back to deployment" in m) == 1
    assert any("rollback to deployment" in m and "failed" in m for m in sim.log)
    # the breaker's threshold (3) per deployment, for two deployments, bounds the launches
    assert sim.n - launches_before <= 2 * (3 + 2)
    sim.modes["td:3"] = "ok"
    sim.deploy("td:3")
    sim.run_until_steady()
    assert sim.stable() and sim.deps[0].task_definition_arn == "td:3"


def test_simulated_launch_throttle_backs_off_and_new_deployment_resets_it() -> None:
    sim = Sim(1, modes={"td:1": "nostart"})
    sim.run(200)
    # start, fail 1 s later, wait 10, 20, 40, 80 s ...
    assert sim.starts == [0.0, 11.0, 32.0, 73.0, 154.0]
    assert events.unable_to_start_consistently(SVC) in sim.log
    assert not sim.live()
    t0 = sim.now
    sim.modes["td:2"] = "ok"
    sim.deploy("td:2")
    sim.run_until_steady()
    assert sim.starts[-1] == t0  # no wait after the new deployment
    assert sim.stable()


def test_simulated_sick_task_replaced_start_first() -> None:
    sim = Sim(2)
    sim.run_until_steady()
    sim.run(5)
    victim = sim.live()[0]
    victim.mode = "sick"  # its target goes unhealthy now (started long enough ago)
    n_before = sim.n
    p = sim.step()
    assert p.start_count == 1 and not p.stop  # start first: a replacement, the sick one keeps running
    assert (
        UnhealthyCause("elb", TG, 8080, "Health checks failed with these codes: [500]").event(SVC, victim.id)
        in p.conditions
    )
    sim.advance()
    sim.run_until_steady()
    assert sim.n == n_before + 1 and victim.desired is DesiredStatus.STOPPED and victim.failed_health
    assert sim.stable() and victim.id not in {t.id for t in sim.live() if t.desired is DesiredStatus.RUNNING}


def test_simulated_grace_period_delays_acting_on_unhealthy_targets() -> None:
    sim = Sim(1, grace=10.0, modes={"td:1": "sick"})
    sim.run(30)
    first = sim.tasks[0]
    assert first.started_at == 1.0 and first.desired is DesiredStatus.STOPPED
    assert first.since >= first.started_at + 10.0  # not stopped before grace ended (unhealthy at +3 s)
    assert first.failed_health


def test_simulated_sick_deployment_trips_breaker_on_health_failures() -> None:
    sim = Sim(2, cb=CB_ROLLBACK, modes={"td:sick": "sick"})
    sim.run_until_steady()
    good = sim.deps[0].id
    bad = sim.deploy("td:sick")
    sim.run_until_steady()
    assert f"(service web) (deployment {bad}) deployment failed: tasks failed to start." in sim.log
    assert f"(service web) rolling back to deployment {good}." in sim.log
    assert any("is unhealthy in (target-group" in m for m in sim.log)
    assert sim.stable() and sim.deps[0].task_definition_arn == "td:1"
