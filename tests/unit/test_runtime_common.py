"""The driver logic both task drivers share (``ecs/runtime/common.py``): dependsOn conditions as a table,
the wait for them on a fake clock (reached, unreachable, timed out), the settle check, and how an exit is
recorded on a container's state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from albfargate.ecs.runtime import common
from albfargate.ecs.runtime.base import ContainerHealthStatus as H
from albfargate.ecs.runtime.base import ContainerSpec, ContainerState, RunningTask, TaskSpec, TaskStartError
from albfargate.ecs.runtime.base import ContainerStatus as S
from albfargate.model.ecs import ContainerDependency
from albfargate.model.ecs import DependencyCondition as D


def _st(status: S, exit_code: int | None = None, health: H = H.UNKNOWN) -> ContainerState:
    return ContainerState("dep", True, status=status, exit_code=exit_code, health=health)


@pytest.mark.parametrize(
    ("state", "cond", "expected"),
    [
        (_st(S.PENDING), D.START, (False, False)),
        (_st(S.RUNNING), D.START, (True, False)),
        (_st(S.STOPPED, 1), D.START, (True, False)),
        (_st(S.RUNNING), D.COMPLETE, (False, False)),
        (_st(S.STOPPED, 3), D.COMPLETE, (True, False)),
        (_st(S.RUNNING), D.SUCCESS, (False, False)),
        (_st(S.STOPPED, 0), D.SUCCESS, (True, False)),
        (_st(S.STOPPED, 1), D.SUCCESS, (False, True)),
        (_st(S.RUNNING, health=H.UNKNOWN), D.HEALTHY, (False, False)),
        (_st(S.RUNNING, health=H.HEALTHY), D.HEALTHY, (True, False)),
        (_st(S.RUNNING, health=H.UNHEALTHY), D.HEALTHY, (False, False)),
        (_st(S.STOPPED, 0, H.UNKNOWN), D.HEALTHY, (False, True)),
    ],
)
def test_condition_state(state: ContainerState, cond: D, expected: tuple[bool, bool]) -> None:
    assert common.condition_state(state, cond) == expected


class FakeClock:
    """Moves on by ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _task(*containers: ContainerSpec, settle: float = 0.0) -> RunningTask:
    spec = TaskSpec(
        "a" * 32, "arn:task", "c", "fam", 1, containers, Path("/nonexistent"), settle_seconds=settle
    )
    return common.new_running_task(spec)


APP = ContainerSpec(
    "app", "img", ("x",), depends_on=(ContainerDependency("dep", D.SUCCESS),), start_timeout=5.0
)
DEP = ContainerSpec("dep", "img", ("x",), essential=False)


def test_new_running_task_is_all_pending() -> None:
    task = _task(DEP, APP)
    assert {n: (c.status, c.essential) for n, c in task.containers.items()} == {
        "dep": (S.PENDING, False),
        "app": (S.PENDING, True),
    }


def test_wait_returns_once_reached() -> None:
    task = _task(DEP, APP)
    common.record_exit(task.containers["dep"], 0, 1.0)
    asyncio.run(common.wait_dependencies(task, APP, FakeClock(0.0)))


def test_wait_fails_at_once_when_unreachable() -> None:
    task = _task(DEP, APP)
    common.record_exit(task.containers["dep"], 2, 1.0)
    with pytest.raises(TaskStartError) as exc:
        asyncio.run(common.wait_dependencies(task, APP, FakeClock(0.0)))
    assert str(exc.value) == (
        "CannotStartContainerError: dependency dep of container app can no longer reach SUCCESS"
    )


def test_waiting_for_healthy_without_a_health_check_fails_at_once() -> None:
    """Both drivers: a HEALTHY dependency that has no health check can never be met (no 120 s wait)."""
    app = ContainerSpec("app", "img", ("x",), depends_on=(ContainerDependency("dep", D.HEALTHY),))
    task = _task(DEP, app)
    task.containers["dep"].status = S.RUNNING
    clock = FakeClock(0.0)
    with pytest.raises(TaskStartError) as exc:
        asyncio.run(common.wait_dependencies(task, app, clock))
    assert str(exc.value) == (
        "CannotStartContainerError: container app depends on dep being HEALTHY, but dep has no health check"
    )
    assert clock.now == 1000.0  # the clock was never read: no waiting happened


def test_wait_times_out_on_the_clock() -> None:
    task = _task(DEP, APP)
    task.containers["dep"].status = S.RUNNING
    with pytest.raises(TaskStartError) as exc:
        asyncio.run(common.wait_dependencies(task, APP, FakeClock(3.0)))  # 5 s pass in two looks
    assert str(exc.value) == (
        "CannotStartContainerError: container app timed out after 5 s waiting for dep SUCCESS"
    )


def test_settle_fails_on_a_dead_essential_container() -> None:
    task = _task(DEP, APP)
    asyncio.run(common.settle(task))  # nothing exited
    common.record_exit(task.containers["dep"], 1, 1.0)
    asyncio.run(common.settle(task))  # not essential
    common.record_exit(task.containers["app"], 127, 1.0)
    with pytest.raises(TaskStartError) as exc:
        asyncio.run(common.settle(task))
    assert str(exc.value) == (
        "CannotStartContainerError: essential container app exited with code 127 at start"
    )


@pytest.mark.parametrize(
    ("before", "given", "after"),
    [
        (None, None, "exited with code 137"),
        (None, "removed with its task", "removed with its task"),
        ("killed after stopTimeout 2 s", None, "killed after stopTimeout 2 s"),
        ("killed after stopTimeout 2 s", "container removed", "killed after stopTimeout 2 s"),
    ],
)
def test_record_exit(before: str | None, given: str | None, after: str) -> None:
    st = ContainerState("app", True, status=S.RUNNING, reason=before)
    common.record_exit(st, 137, 42.0, given)
    assert (st.status, st.exit_code, st.stopped_at, st.reason) == (S.STOPPED, 137, 42.0, after)


@pytest.mark.parametrize(("timeout", "text"), [(30.0, "30"), (2.5, "2.5"), (0.0, "0")])
def test_stop_timeout_reason(timeout: float, text: str) -> None:
    c = ContainerSpec("app", "img", ("x",), stop_timeout=timeout)
    assert common.stop_timeout_reason(c) == f"killed after stopTimeout {text} s"
