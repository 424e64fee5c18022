"""ECS vocabulary: clusters, task definitions with their containers, and services with their
deployment configuration and load-balancer links. Defaults are CloudFormation's/ECS's (spec §6, §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DependencyCondition(StrEnum):
    START = "START"
    COMPLETE = "COMPLETE"
    SUCCESS = "SUCCESS"
    HEALTHY = "HEALTHY"


@dataclass(frozen=True, slots=True)
class Cluster:
    arn: str
    name: str
    container_insights: bool = False
    stack: str = ""
    logical_id: str = ""


@dataclass(frozen=True, slots=True)
class ImageAsset:
    """A Docker image asset from ``*.assets.json``: what to build and how it is tagged."""

    asset_hash: str
    directory: str  # absolute path of the build context
    dockerfile: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    platform: str | None = None
    image_tag: str = ""  # the destination tag (usually the asset hash)
    repository_name: str = ""


@dataclass(frozen=True, slots=True)
class PortMapping:
    container_port: int
    host_port: int | None = None
    protocol: str = "tcp"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret by reference; the value is resolved locally from the secrets file, never stored here."""

    name: str
    value_from: str


@dataclass(frozen=True, slots=True)
class ContainerHealthCheck:
    """Container health check with the defaults of spec §6.5."""

    command: tuple[str, ...]
    interval_seconds: int = 30
    timeout_seconds: int = 5
    retries: int = 3
    start_period_seconds: int = 0


@dataclass(frozen=True, slots=True)
class ContainerDependency:
    container_name: str
    condition: DependencyCondition = DependencyCondition.START


#: The ``Metadata`` key of a task definition resource that carries the local run settings of its containers
#: (``{"<container>": {"command": ..., "workdir": "/abs/dir", "env": {...}, "port_env": "PORT"}}``), written
#: by the construct when the app is synthesized against a local endpoint (docs/deploy-local.md).
RUN_SETTINGS_METADATA = "albfargate:run-settings"


@dataclass(frozen=True, slots=True)
class ContainerDefinition:
    name: str
    image: str  # registry reference, or the asset's image URI as written in the template
    image_asset: ImageAsset | None = None
    command: tuple[str, ...] | None = None
    entry_point: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[Secret, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()
    essential: bool = True
    health_check: ContainerHealthCheck | None = None
    depends_on: tuple[ContainerDependency, ...] = ()
    start_timeout_seconds: int | None = None
    stop_timeout_seconds: int | None = None  # None means the Fargate default, 30 s
    working_directory: str | None = None
    user: str | None = None
    docker_labels: tuple[tuple[str, str], ...] = ()
    cpu: int = 0
    memory: int | None = None
    memory_reservation: int | None = None
    readonly_root_filesystem: bool = False
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard)
    log_driver: str | None = None
    log_options: tuple[tuple[str, str], ...] = ()
    #: the local run setting a deployed template carries for this container (JSON: command, workdir,
    #: env, port_env), from its task definition's ``Metadata`` (:data:`RUN_SETTINGS_METADATA`)
    run_setting: str | None = None

    @property
    def effective_stop_timeout(self) -> int:
        return 30 if self.stop_timeout_seconds is None else self.stop_timeout_seconds


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    containers: tuple[ContainerDefinition, ...]
    cpu: int | None = None
    memory: int | None = None
    network_mode: str = "awsvpc"
    requires_compatibilities: tuple[str, ...] = ()
    cpu_architecture: str = "X86_64"
    operating_system_family: str = "LINUX"
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    stack: str = ""
    logical_id: str = ""

    def container(self, name: str) -> ContainerDefinition | None:
        for c in self.containers:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class DeploymentCircuitBreaker:
    enable: bool = False
    rollback: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentConfiguration:
    """CloudFormation's defaults when the template omits them: max 200 %, min healthy 100 %."""

    maximum_percent: int = 200
    minimum_healthy_percent: int = 100
    circuit_breaker: DeploymentCircuitBreaker = field(default_factory=DeploymentCircuitBreaker)


@dataclass(frozen=True, slots=True)
class ServiceLoadBalancer:
    target_group_arn: str
    container_name: str
    container_port: int


@dataclass(frozen=True, slots=True)
class Service:
    arn: str
    name: str
    cluster_arn: str
    cluster_name: str
    task_definition_arn: str
    desired_count: int = 1
    launch_type: str | None = "FARGATE"
    capacity_provider_strategy: tuple[tuple[str, int, int], ...] = ()  # (provider, weight, base)
    platform_version: str = "LATEST"
    deployment_configuration: DeploymentConfiguration = field(default_factory=DeploymentConfiguration)
    health_check_grace_period_seconds: int = 0
    load_balancers: tuple[ServiceLoadBalancer, ...] = ()
    enable_execute_command: bool = False
    assign_public_ip: bool = False
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    propagate_tags: str | None = None
    enable_ecs_managed_tags: bool = False
    deployment_controller: str = "ECS"
    scheduling_strategy: str = "REPLICA"
    stack: str = ""
    logical_id: str = ""
