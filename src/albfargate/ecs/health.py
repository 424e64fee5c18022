"""Container health checks (spec §6.5): the pure state of one container's check and how a result moves it.

This module owns the container ``healthStatus`` (HEALTHY / UNHEALTHY / UNKNOWN), the start-period rule
("failures inside ``startPeriod`` don't count; a success inside it makes the container HEALTHY at once and
later failures count normally"), the ``retries`` rule, when the next check is due, and how the task
definition's ``command`` becomes an argv (``CMD`` / ``CMD-SHELL`` / no prefix). The shell runs the command,
applies the ``timeout`` and feeds the outcome to :func:`on_result` with the time it finished.

Task-level health (essential containers only) is :func:`albfargate.ecs.tasks.task_health`.

Pure: no asyncio, subprocess or time; ``now`` is a float the caller passes in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from albfargate.model.ecs import ContainerHealthCheck


class ContainerHealth(StrEnum):
    """``Container.healthStatus`` / ``Task.healthStatus`` values (ECS-API ``HealthStatus``)."""

    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class ContainerHealthState:
    """The check state of one container.

    ``started_at`` is when the container started (the start period counts from there);
    ``failures`` are consecutive failures that count toward ``retries``;
    ``start_period_done`` is set by the first success (after it, failures count even inside the period)."""

    started_at: float
    status: ContainerHealth = ContainerHealth.UNKNOWN
    failures: int = 0
    start_period_done: bool = False
    last_check_at: float | None = None
    last_ok: bool | None = None
    last_output: str | None = None


def start(now: float) -> ContainerHealthState:
    """The state of a container with a health check that has just started: UNKNOWN, no failures."""
    return ContainerHealthState(started_at=now)


def in_start_period(state: ContainerHealthState, check: ContainerHealthCheck, now: float) -> bool:
    """Whether a failure at ``now`` falls inside the start period (and so does not count)."""
    if state.start_period_done or check.start_period_seconds <= 0:
        return False
    return now < state.started_at + check.start_period_seconds


def on_result(
    state: ContainerHealthState,
    check: ContainerHealthCheck,
    *,
    now: float,
    ok: bool,
    output: str | None = None,
) -> ContainerHealthState:
    """The state after one check finished at ``now``; ``ok`` is exit code 0 within ``timeout``.

    - success: HEALTHY, failures reset, start period over;
    - failure inside the start period: no count, status unchanged;
    - failure otherwise: one more consecutive failure; UNHEALTHY once it reaches ``retries``
      (a HEALTHY container stays HEALTHY until then)."""
    if ok:
        return replace(
            state,
            status=ContainerHealth.HEALTHY,
            failures=0,
            start_period_done=True,
            last_check_at=now,
            last_ok=True,
            last_output=output,
        )
    if in_start_period(state, check, now):
        return replace(state, last_check_at=now, last_ok=False, last_output=output)
    failures = state.failures + 1
    status = ContainerHealth.UNHEALTHY if failures >= check.retries else state.status
    return replace(
        state, status=status, failures=failures, last_check_at=now, last_ok=False, last_output=output
    )


def next_check_at(state: ContainerHealthState, check: ContainerHealthCheck) -> float:
    """When the next check should start: ``interval`` after the last one finished, or ``interval``
    after the container started for the first one (Docker's schedule)."""
    base = state.started_at if state.last_check_at is None else state.last_check_at
    return base + check.interval_seconds


def command_argv(command: tuple[str, ...] | list[str], shell: str = "/bin/sh") -> list[str]:
    """The argv to run for a task-definition health-check ``command``.

    ``["CMD", a, b]`` runs ``a b`` directly; ``["CMD-SHELL", "cmd"]`` runs ``shell -c cmd``; a command
    without a prefix is treated as CMD. Raises ValueError for an empty command."""
    parts = list(command)
    if not parts:
        raise ValueError("empty health-check command")
    head = parts[0]
    if head == "CMD-SHELL":
        if len(parts) < 2:
            raise ValueError("CMD-SHELL health-check command without a command string")
        return [shell, "-c", " ".join(parts[1:])]
    if head == "CMD":
        if len(parts) < 2:
            raise ValueError("CMD health-check command without an executable")
        return parts[1:]
    return parts
