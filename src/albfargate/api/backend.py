"""What the API needs from the running system: the narrow :class:`Backend` Protocol and the records it
returns for live ECS state.

The API reads ECS state (clusters, services with deployments and events, tasks) through this Protocol and
asks the engine to act (scale, deploy, stop, run). Load-balancer *configuration* (listeners, rules, target
groups, attributes) and Application Auto Scaling configuration are held by the API's own
:class:`albfargate.api.store.ConfigStore`; the backend only applies changes to the data plane
(mirroring ``LoadBalancerRuntime``) and answers target health. Times are epoch seconds (wall clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import (
    Cluster,
    DeploymentConfiguration,
    Service,
    ServiceLoadBalancer,
    TaskDefinition,
)
from albfargate.model.elbv2 import (
    Action,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    Rule,
    TargetGroup,
)


@dataclass(frozen=True, slots=True)
class Target:
    """A registered target (``alb.targets.TargetId``'s shape, kept here so the API has no ALB import)."""

    id: str
    port: int


@dataclass(frozen=True, slots=True)
class Health:
    """A target's health as DescribeTargetHealth reports it (spec §3.3)."""

    state: str  # initial | healthy | unhealthy | unused | draining | unavailable
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    name: str
    image: str
    container_arn: str
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"
    runtime_id: str | None = None
    cpu: int = 0
    memory: int | None = None
    essential: bool = True
    ports: tuple[tuple[int, int], ...] = ()  # (containerPort, local port)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    arn: str
    task_id: str
    cluster_arn: str
    task_definition_arn: str
    last_status: str
    desired_status: str
    created_at: float
    containers: tuple[ContainerRecord, ...] = ()
    health_status: str = "UNKNOWN"
    group: str | None = None
    started_by: str | None = None
    launch_type: str = "FARGATE"
    platform_version: str = "1.4.0"
    cpu: str | None = None
    memory: str | None = None
    private_ip: str = "127.0.0.1"
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    execution_stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    version: int = 1
    availability_zone: str = "us-east-1a"


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition_arn: str
    desired_count: int
    created_at: float
    updated_at: float
    running_count: int = 0
    pending_count: int = 0
    failed_tasks: int = 0
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    created_at: float
    message: str


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """A live service: its (current) definition plus what the scheduler reports."""

    service: Service
    status: str  # ACTIVE | DRAINING | INACTIVE
    created_at: float
    running_count: int = 0
    pending_count: int = 0
    deployments: tuple[DeploymentRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()  # newest first


@dataclass(frozen=True, slots=True)
class TaskDefinitionRecord:
    definition: TaskDefinition
    status: str = "ACTIVE"  # ACTIVE | INACTIVE
    registered_at: float = 0.0
    deregistered_at: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceUpdate:
    """The fields of an UpdateService call that reached the backend (None = unchanged)."""

    desired_count: int | None = None
    task_definition_arn: str | None = None
    force_new_deployment: bool = False
    deployment_configuration: DeploymentConfiguration | None = None
    health_check_grace_period_seconds: int | None = None
    load_balancers: tuple[ServiceLoadBalancer, ...] | None = None
    network: tuple[tuple[str, ...], tuple[str, ...], bool] | None = None  # (subnets, groups, public ip)
    platform_version: str | None = None

    def apply(self, service: Service) -> Service:
        """``service`` with this update's definition changes (not desired count / task definition)."""
        s = service
        if self.deployment_configuration is not None:
            s = replace(s, deployment_configuration=self.deployment_configuration)
        if self.health_check_grace_period_seconds is not None:
            s = replace(s, health_check_grace_period_seconds=self.health_check_grace_period_seconds)
        if self.load_balancers is not None:
            s = replace(s, load_balancers=self.load_balancers)
        if self.network is not None:
            s = replace(
                s, subnets=self.network[0], security_groups=self.network[1], assign_public_ip=self.network[2]
            )
        if self.platform_version is not None:
            s = replace(s, platform_version=self.platform_version)
        return s


@dataclass(frozen=True, slots=True)
class ScalingActivity:
    activity_id: str
    resource_id: str
    description: str
    cause: str
    start_time: float
    end_time: float | None = None
    status_code: str = "Successful"
    status_message: str | None = None
    details: str | None = None


@dataclass(frozen=True, slots=True)
class LocalListener:
    """A listener as it is served locally: its load balancer's DNS name, the template's protocol and port,
    and the local port it is bound to (CloudFormation's outputs name the DNS name;
    ``docs/deploy-local.md``)."""

    dns_name: str
    protocol: str  # HTTP | HTTPS
    port: int
    local_port: int


class BackendError(Exception):
    """The backend refused an action; ``code`` is the AWS error code to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Backend(Protocol):
    """The engine as the API sees it. Every method runs on the event loop thread and must not block."""

    # --- ECS reads
    def clusters(self) -> Sequence[Cluster]: ...
    def task_definitions(self) -> Sequence[TaskDefinitionRecord]: ...
    def services(self) -> Sequence[ServiceRecord]: ...
    def tasks(self) -> Sequence[TaskRecord]: ...
    # --- ECS reads by key (one record built, nothing else copied)
    def service(self, cluster_arn: str, ref: str) -> ServiceRecord | None:
        """The service named or ARN'd ``ref`` in that cluster (any status), or None."""
        ...

    def task(self, cluster_arn: str, ref: str) -> TaskRecord | None:
        """The task with that id or ARN in that cluster, or None."""
        ...

    def task_definition(self, ref: str) -> TaskDefinitionRecord | None:
        """By ARN (exact), ``family:revision`` (any status) or ``family`` (its newest ACTIVE revision)."""
        ...

    def latest_revision(self, family: str) -> int:
        """The family's highest revision of any status (0 when it has none): the next one is this + 1."""
        ...

    # --- ECS writes (each raises BackendError with an AWS code when refused)
    def create_cluster(self, cluster: Cluster) -> None: ...
    def delete_cluster(self, cluster_arn: str) -> None: ...
    def register_task_definition(self, definition: TaskDefinition) -> None: ...
    def deregister_task_definition(self, arn: str) -> None: ...
    def update_service(self, service_arn: str, update: ServiceUpdate) -> None: ...
    def create_service(self, service: Service) -> None: ...
    def delete_service(self, service_arn: str, *, force: bool) -> None: ...
    def stop_task(self, task_arn: str, reason: str) -> None: ...
    def run_task(
        self,
        cluster_arn: str,
        task_definition_arn: str,
        *,
        count: int,
        started_by: str | None,
        group: str | None,
    ) -> list[str]: ...

    # --- ELBv2 data plane (mirrors LoadBalancerRuntime / TargetRegistry)
    def describe_targets(self, target_group_arn: str) -> list[tuple[Target, Health]]: ...
    def health_of(self, target_group_arn: str, target: Target) -> Health: ...
    def register_target(self, target_group_arn: str, target: Target) -> None: ...
    def deregister_target(self, target_group_arn: str, target: Target) -> None: ...
    def set_rules(self, listener_arn: str, rules: Sequence[Rule]) -> None: ...
    def set_default_actions(self, listener_arn: str, actions: Sequence[Action]) -> None: ...
    def update_target_group(self, target_group: TargetGroup) -> None: ...
    def update_load_balancer_attributes(self, lb_arn: str, attributes: LoadBalancerAttributes) -> None: ...
    # load balancers and listeners created/deleted through the API (bind / unbind local ports)
    def add_load_balancer(self, lb: LoadBalancer) -> None: ...
    def add_listener(self, listener: Listener, rules: Sequence[Rule]) -> None: ...
    def remove_listener(self, listener_arn: str) -> None: ...
    def remove_load_balancer(self, lb_arn: str) -> None: ...
    def local_listeners(self) -> Sequence[LocalListener]: ...

    # --- Application Auto Scaling
    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None: ...
    def scaling_activities(self) -> Sequence[ScalingActivity]: ...
