"""Container health checks with start period and retries (spec §6.5), driven by a fake clock."""

from __future__ import annotations

import pytest

from albfargate.ecs.health import (
    ContainerHealth,
    ContainerHealthState,
    command_argv,
    in_start_period,
    next_check_at,
    on_result,
    start,
)
from albfargate.model.ecs import ContainerHealthCheck

H, U, K = ContainerHealth.HEALTHY, ContainerHealth.UNHEALTHY, ContainerHealth.UNKNOWN


def run(check: ContainerHealthCheck, results: list[tuple[float, bool]]) -> list[ContainerHealth]:
    state = start(0.0)
    seen = []
    for now, ok in results:
        state = on_result(state, check, now=now, ok=ok)
        seen.append(state.status)
    return seen


CASES = [
    # (check, [(time, ok)...], statuses after each result)
    pytest.param(ContainerHealthCheck(("CMD", "true")), [(30, True)], [H], id="first success healthy"),
    pytest.param(
        ContainerHealthCheck(("CMD", "false")),
        [(30, False), (60, False), (90, False)],
        [K, K, U],
        id="3 failures by default",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x"), retries=1), [(30, False)], [U], id="retries 1: first failure"
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x")),
        [(30, True), (60, False), (90, False), (120, False)],
        [H, H, H, U],
        id="healthy stays healthy until retries failures",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x")),
        [(30, False), (60, False), (90, True), (120, False), (150, False)],
        [K, K, H, H, H],
        id="success resets the count",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x"), start_period_seconds=60, interval_seconds=10),
        [
            (10, False),
            (20, False),
            (30, False),
            (40, False),
            (50, False),
            (60, False),
            (70, False),
            (80, False),
        ],
        [K, K, K, K, K, K, K, U],
        id="failures inside start period don't count",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x"), start_period_seconds=60, interval_seconds=10),
        [(10, False), (20, True), (30, False), (40, False), (50, False)],
        [K, H, H, H, U],
        id="success inside start period ends it: later failures count",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x"), start_period_seconds=60, interval_seconds=10, retries=2),
        [(59.9, False), (60.0, False), (70.0, False)],
        [K, K, U],
        id="start period boundary: at started+period failures count",
    ),
    pytest.param(
        ContainerHealthCheck(("CMD", "x")),
        [(30, True), (60, False), (90, False), (120, False), (150, True)],
        [H, H, H, U, H],
        id="unhealthy recovers on success",
    ),
]


@pytest.mark.parametrize(("check", "results", "expected"), CASES)
def test_health_sequences(
    check: ContainerHealthCheck, results: list[tuple[float, bool]], expected: list[ContainerHealth]
) -> None:
    assert run(check, results) == expected


def test_failure_counts_and_last_result() -> None:
    check = ContainerHealthCheck(("CMD", "x"), start_period_seconds=30)
    s = on_result(start(0.0), check, now=10.0, ok=False, output="boom")
    assert s.failures == 0 and s.last_ok is False and s.last_output == "boom" and s.last_check_at == 10.0
    s = on_result(s, check, now=40.0, ok=False)
    assert s.failures == 1
    s = on_result(s, check, now=50.0, ok=True)
    assert s.failures == 0 and s.start_period_done


def test_in_start_period() -> None:
    check = ContainerHealthCheck(("CMD", "x"), start_period_seconds=30)
    s = start(100.0)
    assert in_start_period(s, check, 100.0)
    assert in_start_period(s, check, 129.9)
    assert not in_start_period(s, check, 130.0)
    assert not in_start_period(s, ContainerHealthCheck(("CMD", "x")), 100.0)  # off by default


def test_next_check_schedule() -> None:
    check = ContainerHealthCheck(("CMD", "x"), interval_seconds=10)
    s = start(5.0)
    assert next_check_at(s, check) == 15.0
    s = on_result(s, check, now=16.0, ok=True)
    assert next_check_at(s, check) == 26.0


def test_state_is_frozen() -> None:
    s = start(0.0)
    assert isinstance(s, ContainerHealthState)
    with pytest.raises(AttributeError):
        s.status = H  # type: ignore[misc]


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        (("CMD", "curl", "-f", "http://localhost/"), ["curl", "-f", "http://localhost/"]),
        (
            ("CMD-SHELL", "curl -f http://localhost/ || exit 1"),
            ["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"],
        ),
        (("test", "-f", "/tmp/ok"), ["test", "-f", "/tmp/ok"]),
    ],
)
def test_command_argv(command: tuple[str, ...], argv: list[str]) -> None:
    assert command_argv(command) == argv


@pytest.mark.parametrize("command", [(), ("CMD",), ("CMD-SHELL",)])
def test_command_argv_rejects_empty(command: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        command_argv(command)
