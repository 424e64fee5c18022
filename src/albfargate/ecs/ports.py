"""The narrow seams of the control plane: what the scheduler and the autoscaler need from the rest of the
system, as Protocols the engine wires up (``engine.py``). ``albfargate.ecs`` imports nothing of
``albfargate.alb`` (the independence contract in pyproject.toml): the load balancers' live registry
(``alb.targets.LiveTargets``) satisfies :class:`TargetRegistry` structurally, and the shared vocabulary
(target ids and health) is :mod:`albfargate.model.targets`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from albfargate.model.ecs import TaskDefinition
from albfargate.model.system import SystemModel
from albfargate.model.targets import TargetHealth, TargetId
from albfargate.state.store import ServiceRecord, TaskRecord

__all__ = ["ScalingHost", "ServiceReader", "TargetRegistry"]


class TargetRegistry(Protocol):
    """The target registry the scheduler drives and the autoscaler reads (``alb.targets.LiveTargets``).
    Every call raises ``KeyError`` for an unknown target group. ``on_change(callback)`` calls
    ``callback(target_group_arn)`` after any change of a group's targets or their health (a target
    turning healthy, starting to drain, leaving the group) and returns the unsubscribe function: the
    scheduler's watch."""

    def register(self, target_group_arn: str, target: TargetId) -> None: ...
    def deregister(self, target_group_arn: str, target: TargetId) -> None: ...
    def describe(self, target_group_arn: str) -> Sequence[tuple[TargetId, TargetHealth]]: ...
    def health_of(self, target_group_arn: str, target: TargetId) -> TargetHealth: ...
    def request_count(self, target_group_arn: str) -> int: ...
    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]: ...


class ServiceReader(Protocol):
    """The reads of the live store the autoscaler makes (``state.store.Store``)."""

    def service(self, name_or_arn: str) -> ServiceRecord | None: ...
    def tasks_of(self, service_name: str) -> Iterable[TaskRecord]: ...
    @property
    def task_definitions(self) -> Mapping[str, TaskDefinition]: ...


class ScalingHost(Protocol):
    """Everything the autoscaler reads and writes (the engine implements it): the live store, the current
    model (its scalable targets and policies change at run time through the Application Auto Scaling
    API), the target registry once the load balancers run, and ``UpdateService(desiredCount)``."""

    @property
    def store(self) -> ServiceReader: ...
    @property
    def model(self) -> SystemModel: ...
    @property
    def targets(self) -> TargetRegistry | None: ...
    def update_desired_count(self, service: str, count: int) -> None: ...
