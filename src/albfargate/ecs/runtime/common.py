"""Task-driver logic that does not depend on how a container is run, shared by the process driver
(``process.py``) and the Docker driver (``docker.py``).

Owns
- the start order of a task's containers (:func:`start_order`: ``dependsOn`` first, a cycle fails);
- ``dependsOn`` conditions (:func:`condition_state`) and the wait for them before a container starts
  (:func:`wait_dependencies`: start timeout, a condition that can no longer be reached fails at once);
- how an exit is recorded on a container's state (:func:`record_exit`, :func:`stop_timeout_reason`);
- the fresh :class:`RunningTask` of a spec (:func:`new_running_task`) and the check after the settle time
  that no essential container died at start (:func:`settle`);
- the container health-check loop (:func:`health_loop`): when to run the next check, feeding the pure
  tracker in ``ecs/health.py`` and reporting changes; *how* a check runs is the driver's
  (a local process, or ``docker exec``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from albfargate.ecs import health as hc
from albfargate.ecs.runtime.base import (
    DEFAULT_START_TIMEOUT,
    ContainerHealthStatus,
    ContainerSpec,
    ContainerState,
    ContainerStatus,
    RunningTask,
    TaskSpec,
    TaskStartError,
)
from albfargate.model.ecs import DependencyCondition

#: How often a container waiting for its dependsOn conditions looks again.
DEPENDENCY_POLL_SECONDS = 0.1

#: Runs one health check: (argv, timeout seconds) -> whether it passed.
CheckRunner = Callable[[list[str], float], Awaitable[bool]]


def start_order(containers: tuple[ContainerSpec, ...]) -> list[ContainerSpec]:
    """Containers in dependsOn order (dependencies first; otherwise definition order). Unknown
    dependencies are ignored; a cycle raises :class:`TaskStartError`."""
    by_name = {c.name: c for c in containers}
    order: list[ContainerSpec] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(c: ContainerSpec) -> None:
        mark = state.get(c.name)
        if mark == 2:
            return
        if mark == 1:
            raise TaskStartError(f"CannotStartContainerError: dependsOn cycle through container {c.name}")
        state[c.name] = 1
        for dep in c.depends_on:
            if dep.container_name in by_name:
                visit(by_name[dep.container_name])
        state[c.name] = 2
        order.append(c)

    for c in containers:
        visit(c)
    return order


def condition_state(st: ContainerState, cond: DependencyCondition) -> tuple[bool, bool]:
    """(reached, can never be reached) for one dependsOn condition."""
    stopped = st.status is ContainerStatus.STOPPED
    if cond is DependencyCondition.START:
        return st.status is not ContainerStatus.PENDING, False
    if cond is DependencyCondition.COMPLETE:
        return stopped, False
    if cond is DependencyCondition.SUCCESS:
        return stopped and st.exit_code == 0, stopped and st.exit_code != 0
    # HEALTHY
    return st.health is ContainerHealthStatus.HEALTHY, stopped


def record_exit(st: ContainerState, exit_code: int, now: float, reason: str | None = None) -> None:
    """A container has exited: STOPPED with its exit code (Docker's: 128 + signal when killed). A reason
    already set (a stop that had to kill it) is kept; else ``reason``, else ``exited with code N``."""
    st.status = ContainerStatus.STOPPED
    st.exit_code = exit_code
    st.stopped_at = now
    if not st.reason:
        st.reason = reason or f"exited with code {exit_code}"


def stop_timeout_reason(c: ContainerSpec) -> str:
    """The reason of a container killed because it outlived its stopTimeout (spec §6.2)."""
    return f"killed after stopTimeout {c.stop_timeout:g} s"


def new_running_task(spec: TaskSpec) -> RunningTask:
    """A task whose containers are all still PENDING."""
    return RunningTask(
        spec=spec, containers={c.name: ContainerState(c.name, c.essential) for c in spec.containers}
    )


async def wait_dependencies(task: RunningTask, c: ContainerSpec, clock: Callable[[], float]) -> None:
    """Return once every dependsOn condition of ``c`` holds; :class:`TaskStartError` when one can no
    longer be reached or the start timeout (default :data:`DEFAULT_START_TIMEOUT`) passes first.
    Waiting for a dependency to be HEALTHY that has no health check fails at once (it never could be)."""
    if not c.depends_on:
        return
    specs = {x.name: x for x in task.spec.containers}
    for dep in c.depends_on:
        target = specs.get(dep.container_name)
        if dep.condition is DependencyCondition.HEALTHY and target is not None and not target.health_check:
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name} depends on {dep.container_name} being "
                f"HEALTHY, but {dep.container_name} has no health check"
            )
    timeout = c.start_timeout if c.start_timeout is not None else DEFAULT_START_TIMEOUT
    deadline = clock() + timeout
    while True:
        pending = []
        for dep in c.depends_on:
            st = task.containers.get(dep.container_name)
            if st is None:
                continue
            ok, impossible = condition_state(st, dep.condition)
            if impossible:
                raise TaskStartError(
                    f"CannotStartContainerError: dependency {dep.container_name} of container {c.name} "
                    f"can no longer reach {dep.condition.value}"
                )
            if not ok:
                pending.append(dep)
        if not pending:
            return
        if clock() >= deadline:
            names = ", ".join(f"{d.container_name} {d.condition.value}" for d in pending)
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name} timed out after {timeout:g} s "
                f"waiting for {names}"
            )
        await asyncio.sleep(DEPENDENCY_POLL_SECONDS)


async def settle(task: RunningTask) -> None:
    """Wait the spec's settle time, then fail the start if an essential container has exited."""
    if task.spec.settle_seconds > 0:
        await asyncio.sleep(task.spec.settle_seconds)
    dead = task.essential_exited()
    if dead is not None:
        raise TaskStartError(
            f"CannotStartContainerError: essential container {dead.name} exited with code "
            f"{dead.exit_code} at start"
        )


async def health_loop(
    task: RunningTask, c: ContainerSpec, clock: Callable[[], float], run_check: CheckRunner
) -> None:
    """Run the container's health check while it is RUNNING (spec §6.5): interval, timeout, retries and
    start period come from the check, the state from ``ecs/health.py``; every change of the container's
    health is written to its state and notified. A command that cannot be parsed is never run."""
    check = c.health_check
    assert check is not None
    try:
        argv = hc.command_argv(check.command)
    except ValueError:
        return
    st = task.containers[c.name]
    state = hc.start(st.started_at or clock())
    while st.status is ContainerStatus.RUNNING:
        due = hc.next_check_at(state, check)
        if check.start_period_seconds > 0 and state.last_check_at is None:
            # inside a start period an early success may make the container HEALTHY at once
            due = min(due, state.started_at + 1.0)
        await asyncio.sleep(max(0.0, due - clock()))
        ok = await run_check(argv, float(check.timeout_seconds))
        if st.status is not ContainerStatus.RUNNING:
            return
        state = hc.on_result(state, check, ok=ok, now=clock())
        new = ContainerHealthStatus(state.status.value)
        if new is not st.health:
            st.health = new
            task.notify()
