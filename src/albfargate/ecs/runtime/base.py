"""The task-driver seam: what a driver is given (:class:`TaskSpec`, :class:`ContainerSpec`), what it hands
back (:class:`RunningTask` with one :class:`ContainerState` per container) and the :class:`TaskDriver`
Protocol that the process driver (``process.py``) and the Docker driver implement.

A driver knows processes/containers only. The task lifecycle (``lastStatus``), targets and services are the
scheduler's business: it watches a :class:`RunningTask` through :meth:`RunningTask.subscribe`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from albfargate.model.ecs import ContainerDefinition, ContainerDependency, ContainerHealthCheck

#: Where a stopTimeout is absent (Fargate default, spec §6.2).
DEFAULT_STOP_TIMEOUT = 30.0
#: Where a dependsOn startTimeout is absent we still give up eventually (inferred; Fargate max is 120 s).
DEFAULT_START_TIMEOUT = 120.0


class ContainerStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class ContainerHealthStatus(StrEnum):
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    UNKNOWN = "UNKNOWN"


class TaskStartError(Exception):
    """A task could not be started; the message is its ``stoppedReason``
    (``CannotStartContainerError: ...``)."""


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """One container as the driver runs it: argv/env/workdir already resolved from the run setting or the
    stand-in; ``ports`` maps each container port to the local port allocated for this task."""

    name: str
    image: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    workdir: str | None = None
    ports: tuple[tuple[int, int], ...] = ()  # (containerPort, local port)
    essential: bool = True
    health_check: ContainerHealthCheck | None = None
    depends_on: tuple[ContainerDependency, ...] = ()
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    start_timeout: float | None = None
    secret_names: tuple[str, ...] = ()  # env var names whose values must never be shown
    stand_in: bool = False
    # The task-definition container this spec was built from (image/asset, command, entry point, user,
    # cpu/memory, labels, read-only root, ulimits, working directory): the Docker driver runs from it.
    definition: ContainerDefinition | None = None

    def local_port(self, container_port: int) -> int | None:
        return next((lp for cp, lp in self.ports if cp == container_port), None)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_id: str  # 32 hex digits
    task_arn: str
    cluster: str
    family: str
    revision: int
    containers: tuple[ContainerSpec, ...]
    log_dir: Path  # per-task log files go here: <log_dir>/<task_id>-<container>.log
    service: str | None = None
    metadata_uri: str | None = None  # ECS_CONTAINER_METADATA_URI_V4 base for this task (no container suffix)
    # host loopback ports the task must reach on its own 127.0.0.1 (AWS endpoint, metadata/credentials):
    # the process driver shares the host's loopback; the Docker driver forwards them into the task's
    # network namespace (runtime/netns.py)
    forward_ports: tuple[int, ...] = ()
    settle_seconds: float = 0.3  # an essential container dead within this time => TaskFailedToStart

    def log_path(self, container: str) -> Path:
        return self.log_dir / f"{self.task_id}-{container}.log"


@dataclass(slots=True)
class ContainerState:
    """Live, driver-owned state of one container (mutated by the driver only)."""

    name: str
    essential: bool
    status: ContainerStatus = ContainerStatus.PENDING
    pid: int | None = None
    exit_code: int | None = None
    health: ContainerHealthStatus = ContainerHealthStatus.UNKNOWN
    reason: str | None = None
    started_at: float | None = None
    stopped_at: float | None = None


@dataclass(slots=True)
class RunningTask:
    """What a driver returns from ``start_task``: the spec plus live container states. Observers are called
    (synchronously, from the event loop) whenever a container state changes."""

    spec: TaskSpec
    containers: dict[str, ContainerState]
    stopping: bool = False
    _observers: list[Callable[[RunningTask], None]] = field(default_factory=list)

    def subscribe(self, callback: Callable[[RunningTask], None]) -> None:
        self._observers.append(callback)

    def notify(self) -> None:
        for cb in list(self._observers):
            cb(self)

    @property
    def task_id(self) -> str:
        return self.spec.task_id

    def essential_exited(self) -> ContainerState | None:
        """The first essential container that has stopped, if any (spec §6.4)."""
        for c in self.containers.values():
            if c.essential and c.status is ContainerStatus.STOPPED:
                return c
        return None

    def health(self) -> ContainerHealthStatus:
        """Task health from essential containers only (spec §6.5)."""
        essentials = [c for c in self.containers.values() if c.essential]
        if any(c.health is ContainerHealthStatus.UNHEALTHY for c in essentials):
            return ContainerHealthStatus.UNHEALTHY
        if essentials and all(c.health is ContainerHealthStatus.HEALTHY for c in essentials):
            return ContainerHealthStatus.HEALTHY
        return ContainerHealthStatus.UNKNOWN

    def pids(self) -> list[int]:
        return [c.pid for c in self.containers.values() if c.pid is not None]


class TaskDriver(Protocol):
    name: str

    async def start_task(self, spec: TaskSpec) -> RunningTask:
        """Start the containers per dependsOn; raise :class:`TaskStartError` when the task cannot start
        (nothing of it is left running then)."""
        ...

    async def stop_task(self, task: RunningTask, reason: str) -> None:
        """SIGTERM, stopTimeout, SIGKILL, container by container in reverse dependsOn order."""
        ...

    async def cleanup_orphans(self, state_dir: Path) -> int:
        """Kill what a crashed supervisor left behind for ``state_dir``; returns how many groups."""
        ...
