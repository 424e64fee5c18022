"""The task lifecycle table (spec §6.1–§6.4): every transition, illegal ones, timestamps and stop codes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.ecs.health import ContainerHealth
from albfargate.ecs.tasks import (
    ESSENTIAL_CONTAINER_EXITED,
    STOPPED_BY_USER,
    TRANSITIONS,
    DesiredStatus,
    IllegalTransition,
    LastStatus,
    StopCode,
    TaskEvent,
    apply,
    failed_elb_health_reason,
    is_allowed,
    new_task,
    next_status,
    scaling_activity_reason,
    task_health,
    user_stop_reason,
)

S = LastStatus
E = TaskEvent

LEGAL = [
    (S.PROVISIONING, E.PROVISIONED, S.PENDING),
    (S.PROVISIONING, E.FAILED_TO_START, S.DEPROVISIONING),
    (S.PROVISIONING, E.STOP_REQUESTED, S.DEPROVISIONING),
    (S.PENDING, E.STARTED, S.ACTIVATING),
    (S.PENDING, E.FAILED_TO_START, S.STOPPING),
    (S.PENDING, E.ESSENTIAL_EXITED, S.STOPPING),
    (S.PENDING, E.STOP_REQUESTED, S.STOPPING),
    (S.ACTIVATING, E.ACTIVATED, S.RUNNING),
    (S.ACTIVATING, E.FAILED_TO_START, S.DEACTIVATING),
    (S.ACTIVATING, E.ESSENTIAL_EXITED, S.DEACTIVATING),
    (S.ACTIVATING, E.STOP_REQUESTED, S.DEACTIVATING),
    (S.RUNNING, E.STOP_REQUESTED, S.DEACTIVATING),
    (S.RUNNING, E.ESSENTIAL_EXITED, S.DEACTIVATING),
    (S.DEACTIVATING, E.DRAINED, S.STOPPING),
    (S.DEACTIVATING, E.STOP_REQUESTED, S.DEACTIVATING),
    (S.DEACTIVATING, E.ESSENTIAL_EXITED, S.DEACTIVATING),
    (S.STOPPING, E.STOPPED_PROCESSES, S.DEPROVISIONING),
    (S.STOPPING, E.STOP_REQUESTED, S.STOPPING),
    (S.STOPPING, E.ESSENTIAL_EXITED, S.STOPPING),
    (S.DEPROVISIONING, E.DEPROVISIONED, S.STOPPED),
    (S.DEPROVISIONING, E.STOP_REQUESTED, S.DEPROVISIONING),
    (S.STOPPED, E.STOP_REQUESTED, S.STOPPED),
]


@pytest.mark.parametrize(("status", "event", "expected"), LEGAL)
def test_legal_transitions(status: LastStatus, event: TaskEvent, expected: LastStatus) -> None:
    assert next_status(status, event) is expected
    assert is_allowed(status, event)


def test_table_is_exactly_the_listed_transitions() -> None:
    assert {(s, e): t for s, e, t in LEGAL} == TRANSITIONS


ILLEGAL = [(s, e) for s, e in itertools.product(LastStatus, TaskEvent) if (s, e) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "event"), ILLEGAL)
def test_illegal_transitions_raise(status: LastStatus, event: TaskEvent) -> None:
    with pytest.raises(IllegalTransition) as exc:
        next_status(status, event)
    assert exc.value.status is status and exc.value.event is event
    assert status.value in str(exc.value) and event.value in str(exc.value)


def test_stopped_is_terminal_and_never_leaves() -> None:
    for event in TaskEvent:
        if event is not E.STOP_REQUESTED:
            assert not is_allowed(S.STOPPED, event)


def test_every_status_can_reach_stopped() -> None:
    reachable = {S.STOPPED}
    changed = True
    while changed:
        changed = False
        for (s, _e), t in TRANSITIONS.items():
            if t in reachable and s not in reachable:
                reachable.add(s)
                changed = True
    assert reachable == set(LastStatus)


def test_full_lifecycle_timestamps_and_version() -> None:
    t = new_task(100.0)
    assert (t.last_status, t.desired_status, t.version) == (S.PROVISIONING, DesiredStatus.RUNNING, 1)
    t = apply(t, E.PROVISIONED, now=101.0)
    assert t.last_status is S.PENDING and t.pull_started_at == 101.0 and t.version == 2
    t = apply(t, E.STARTED, now=102.0)
    assert t.last_status is S.ACTIVATING and t.pull_stopped_at == 102.0
    t = apply(t, E.ACTIVATED, now=103.0)
    assert t.last_status is S.RUNNING and t.started_at == 103.0 and t.reached_running
    t = apply(t, E.STOP_REQUESTED, now=110.0, stop_code=StopCode.ServiceSchedulerInitiated, reason="scale")
    assert t.last_status is S.DEACTIVATING and t.desired_status is DesiredStatus.STOPPED
    assert (t.stop_code, t.stopped_reason) == (StopCode.ServiceSchedulerInitiated, "scale")
    t = apply(t, E.DRAINED, now=120.0)
    assert t.last_status is S.STOPPING and t.stopping_at == 120.0
    # SIGTERM makes the essential container exit: not a new stop code
    t = apply(t, E.ESSENTIAL_EXITED, now=121.0)
    assert t.stop_code is StopCode.ServiceSchedulerInitiated and t.stopped_reason == "scale"
    t = apply(t, E.STOPPED_PROCESSES, now=122.0)
    assert t.last_status is S.DEPROVISIONING and t.execution_stopped_at == 122.0
    t = apply(t, E.DEPROVISIONED, now=123.0)
    assert t.last_status is S.STOPPED and t.stopped_at == 123.0
    assert t.version == 8  # 1 + seven status changes


def test_version_counts_status_changes_only() -> None:
    t = apply(apply(new_task(0.0), E.PROVISIONED, now=1.0), E.STARTED, now=2.0)
    t = apply(t, E.ACTIVATED, now=3.0)
    v = t.version
    t = apply(t, E.STOP_REQUESTED, now=4.0)
    assert t.version == v + 1
    again = apply(t, E.STOP_REQUESTED, now=5.0)  # a second StopTask changes nothing
    assert again.version == t.version and again.stop_code is StopCode.UserInitiated


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ([E.FAILED_TO_START], StopCode.TaskFailedToStart, "CannotStartContainerError: task failed to start"),
        ([E.PROVISIONED, E.ESSENTIAL_EXITED], StopCode.EssentialContainerExited, ESSENTIAL_CONTAINER_EXITED),
        ([E.PROVISIONED, E.STARTED, E.ACTIVATED, E.STOP_REQUESTED], StopCode.UserInitiated, STOPPED_BY_USER),
    ],
)
def test_default_stop_codes(path: list[TaskEvent], code: StopCode, reason: str) -> None:
    t = new_task(0.0)
    for i, e in enumerate(path):
        t = apply(t, e, now=float(i))
    assert (t.stop_code, t.stopped_reason) == (code, reason)


def test_failed_to_start_keeps_given_reason_and_never_started() -> None:
    t = apply(new_task(0.0), E.PROVISIONED, now=1.0)
    t = apply(t, E.FAILED_TO_START, now=2.0, reason="CannotPullContainerError: pull access denied")
    assert t.last_status is S.STOPPING and t.stopped_reason.startswith("CannotPullContainerError")
    assert t.started_at is None and not t.reached_running


def test_illegal_apply_raises() -> None:
    with pytest.raises(IllegalTransition):
        apply(new_task(0.0), E.DRAINED, now=1.0)


H, U, K = ContainerHealth.HEALTHY, ContainerHealth.UNHEALTHY, ContainerHealth.UNKNOWN


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ([], K),
        ([(True, H)], H),
        ([(True, H), (True, H)], H),
        ([(True, H), (True, K)], K),
        ([(True, H), (True, U)], U),
        ([(True, K), (True, U)], U),
        ([(True, K)], K),  # no check defined
        ([(False, U), (True, H)], H),  # non-essential containers don't count
        ([(False, H)], K),  # only non-essential containers have checks
        ([(False, U)], K),
        ([(True, "HEALTHY"), (True, "UNHEALTHY")], U),  # plain strings are accepted
    ],
)
def test_task_health(containers: list[tuple[bool, str]], expected: ContainerHealth) -> None:
    assert task_health(containers) is expected


def test_reason_texts() -> None:
    assert scaling_activity_reason("ecs-svc/123") == "Scaling activity initiated by (deployment ecs-svc/123)"
    arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/abc"
    assert failed_elb_health_reason(arn) == f"Task failed ELB health checks in (target-group {arn})"
    assert user_stop_reason(None) == "Task stopped by user"
    assert user_stop_reason("") == "Task stopped by user"
    assert user_stop_reason("maintenance") == "maintenance"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(TaskEvent)), max_size=20))
def test_random_event_sequences_keep_invariants(seq: list[TaskEvent]) -> None:
    t = new_task(0.0)
    for i, e in enumerate(seq, start=1):
        before = t
        if not is_allowed(t.last_status, e):
            with pytest.raises(IllegalTransition):
                apply(t, e, now=float(i))
            continue
        t = apply(t, e, now=float(i))
        assert t.last_status is TRANSITIONS[(before.last_status, e)]
        assert t.version >= before.version
        assert t.version == before.version + (
            1
            if (t.last_status is not before.last_status or t.desired_status is not before.desired_status)
            else 0
        )
        if before.desired_status is DesiredStatus.STOPPED:
            assert t.desired_status is DesiredStatus.STOPPED  # never back to RUNNING
        if before.stop_code is not None:
            assert (t.stop_code, t.stopped_reason) == (before.stop_code, before.stopped_reason)
        if before.started_at is not None:
            assert t.started_at == before.started_at
        if t.last_status is LastStatus.STOPPED:
            assert t.stopped_at is not None and t.stop_code is not None
            assert t.desired_status is DesiredStatus.STOPPED


def test_other_stop_codes_default_reason_is_the_code() -> None:
    t = apply(apply(new_task(0.0), E.PROVISIONED, now=1.0), E.STARTED, now=2.0)
    t = apply(apply(t, E.ACTIVATED, now=3.0), E.STOP_REQUESTED, now=4.0, stop_code=StopCode.SpotInterruption)
    assert (t.stop_code, t.stopped_reason) == (StopCode.SpotInterruption, "SpotInterruption")
