"""The narrow seams of the AWS endpoint's engine adapter (``api/engine_backend.py``): what it reads and
calls of the running system, as Protocols. ``engine.Engine`` satisfies :class:`ApiHost` structurally (and
with it :class:`EngineCommands`), the load balancers' runtime (``alb.runtime.LoadBalancerRuntime``)
satisfies :class:`LoadBalancers` and its registry (``alb.targets.LiveTargets``) :class:`TargetTable`; the
API imports none of them at run time (``ecs/ports.py`` is the same seam for the scheduler and the
autoscaler). Tests drive the adapter with small fakes of these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import Service, TaskDefinition
from albfargate.model.elbv2 import Action, Listener, LoadBalancer, LoadBalancerAttributes, Rule, TargetGroup
from albfargate.model.system import SystemModel
from albfargate.model.targets import TargetHealth, TargetId
from albfargate.state.store import ServiceRecord, TaskRecord

if TYPE_CHECKING:
    from albfargate.api.ecr.service import EcrService
    from albfargate.backing.manager import BackingManager
    from albfargate.backing.s3 import S3Service
    from albfargate.backing.store import ParameterStore, SecretStore

__all__ = [
    "ActivityView",
    "ApiHost",
    "BackingStores",
    "Binding",
    "EngineCommands",
    "ListenerChanges",
    "LiveStore",
    "LoadBalancers",
    "ScalingLog",
    "SchedulerView",
    "TargetTable",
]


class LiveStore(Protocol):
    """The live ECS store as the adapter reads it (``state.store.Store``): read-only, the adapter never
    writes it (every change is an :class:`EngineCommands` command). Reads by key use the store's indexes:
    ``service`` by name or ARN, ``task`` by id or ARN, ``revisions`` one family's task definitions."""

    @property
    def services(self) -> Mapping[str, ServiceRecord]: ...
    @property
    def tasks(self) -> Mapping[str, TaskRecord]: ...
    @property
    def task_definitions(self) -> Mapping[str, TaskDefinition]: ...
    def service(self, name_or_arn: str) -> ServiceRecord | None: ...
    def task(self, id_or_arn: str) -> TaskRecord | None: ...
    def revisions(self, family: str) -> Mapping[int, TaskDefinition]: ...


class TargetTable(Protocol):
    """The load balancers' target registry as RegisterTargets/DescribeTargetHealth use it
    (``alb.targets.LiveTargets``); ``KeyError`` for an unknown target group."""

    def register(self, target_group_arn: str, target: TargetId) -> None: ...
    def deregister(self, target_group_arn: str, target: TargetId) -> None: ...
    def describe(self, target_group_arn: str) -> Sequence[tuple[TargetId, TargetHealth]]: ...
    def health_of(self, target_group_arn: str, target: TargetId) -> TargetHealth: ...


class Binding(Protocol):
    """A bound listener (``alb.runtime.ListenerBinding``)."""

    @property
    def lb_arn(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def local_port(self) -> int: ...


class ListenerChanges(Protocol):
    """The asynchronous changes of the load balancers (applied in call order by the adapter)."""

    async def add_load_balancer(self, lb: LoadBalancer) -> None: ...
    async def add_listener(self, listener: Listener, rules: Iterable[Rule]) -> object: ...
    async def remove_listener(self, listener_arn: str) -> None: ...
    async def remove_load_balancer(self, lb_arn: str) -> None: ...


class LoadBalancers(ListenerChanges, Protocol):
    """The load balancers' runtime (``alb.runtime.LoadBalancerRuntime``): its registry, its bound
    listeners, and the configuration changes that apply from the next request."""

    @property
    def targets(self) -> TargetTable: ...
    @property
    def workers(self) -> int: ...
    def bindings(self) -> Sequence[Binding]: ...
    def set_rules(self, listener_arn: str, rules: Iterable[Rule]) -> None: ...
    def set_default_actions(self, listener_arn: str, actions: Iterable[Action]) -> None: ...
    def update_target_group(self, tg: TargetGroup) -> None: ...
    def update_load_balancer_attributes(self, lb_arn: str, attributes: LoadBalancerAttributes) -> None: ...


class SchedulerView(Protocol):
    """The reconcile loops (``ecs.scheduler.Scheduler``), read only for whether they run: the adapter
    never writes them (a target group's new settings reach them through
    :meth:`EngineCommands.update_target_group`)."""


class ActivityView(Protocol):
    """One scaling activity (``ecs.autoscaler.Activity``)."""

    @property
    def resource_id(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def cause(self) -> str: ...
    @property
    def start_time(self) -> float: ...
    @property
    def status_code(self) -> str: ...


class ScalingLog(Protocol):
    """The autoscaler (``ecs.autoscaler.Autoscaler``) as DescribeScalingActivities reads it."""

    @property
    def activities(self) -> Sequence[ActivityView]: ...


class EngineCommands(Protocol):
    """What :class:`~albfargate.api.engine_backend.EngineBackend` reads and calls of the engine: the live
    store and the current model (both read-only here), the load balancers, the scheduler and autoscaler
    once running, and the engine's commands: every change of the store or the model is one of them (ECS
    writes; the target groups, load balancers, listeners and scaling configuration made through ELBv2 and
    Application Auto Scaling). A command refuses with ``KeyError`` or ``ValueError``; the adapter turns
    them into AWS errors."""

    @property
    def model(self) -> SystemModel: ...
    @property
    def store(self) -> LiveStore: ...
    @property
    def started_at(self) -> float | None: ...
    @property
    def lb(self) -> LoadBalancers | None: ...
    @property
    def scheduler(self) -> SchedulerView | None: ...
    @property
    def autoscaler(self) -> ScalingLog | None: ...

    def register_task_definition(self, td: TaskDefinition) -> TaskDefinition: ...
    def update_target_group(self, tg: TargetGroup) -> None: ...
    def add_load_balancer_config(self, lb: LoadBalancer) -> None: ...
    def put_listener_config(self, listener: Listener) -> None: ...
    def remove_listener_config(self, listener_arn: str) -> None: ...
    def remove_load_balancer_config(self, lb_arn: str) -> None: ...
    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None: ...
    def update_service(
        self,
        service: str,
        *,
        task_definition: str | None = None,
        desired_count: int | None = None,
        force_new_deployment: bool = False,
        model: Service | None = None,
    ) -> object: ...
    def create_service(self, svc: Service) -> object: ...
    def delete_service(self, service: str, *, force: bool = False) -> object: ...
    def stop_task(self, task_id: str, reason: str | None = None) -> object: ...
    def run_task(
        self, task_definition: str, *, count: int = 1, cluster: str = "default", started_by: str | None = None
    ) -> Sequence[TaskRecord]: ...
    async def ensure_load_balancers(self) -> None: ...


class BackingStores(Protocol):
    """The backing resources' stores the endpoint serves (``backing.manager.BackingManager``)."""

    @property
    def secrets(self) -> SecretStore: ...
    @property
    def parameters(self) -> ParameterStore: ...


class ApiHost(EngineCommands, Protocol):
    """:class:`EngineCommands` plus what :func:`~albfargate.api.engine_backend.start_api` wires: the state
    directory and clock (the API's own stores), the backing stores, the S3 service, the task driver (the
    Docker driver's image resolver learns the local registry), and the endpoint's URL and ECR service,
    which it sets."""

    api_url: str | None
    ecr: EcrService | None

    @property
    def state_dir(self) -> Path: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def backing(self) -> BackingStores | None: ...
    @property
    def s3(self) -> S3Service | None: ...
    @property
    def driver(self) -> object: ...
    def ensure_backing(self, secrets: SecretStore, parameters: ParameterStore) -> BackingManager: ...
