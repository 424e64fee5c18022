"""ECS resources -> model: clusters, task definitions with their containers, services, with
CloudFormation's/ECS's defaults where the template is silent (spec §6, §7).

Owns: the names and ARNs of ECS resources, their ``Ref``/``GetAtt`` values, container definitions
(image assets linked through the asset manifest)."""

from __future__ import annotations

from typing import Any

from albfargate.model import (
    Cluster,
    ContainerDefinition,
    ContainerDependency,
    ContainerHealthCheck,
    DependencyCondition,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    PortMapping,
    Secret,
    Service,
    ServiceLoadBalancer,
    TaskDefinition,
    ids,
)

from .context import Props, ResourceContext
from .kinds import ResourceKind

CLUSTER = "AWS::ECS::Cluster"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
SERVICE = "AWS::ECS::Service"


# ---- cluster -------------------------------------------------------------------------------------


def _cluster_name(ctx: ResourceContext) -> str:
    return ctx.props.str("ClusterName") or ctx.logical_id


def _cluster_ref(ctx: ResourceContext) -> str:
    return _cluster_name(ctx)


def _cluster_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Arn":
        return ids.cluster_arn(_cluster_name(ctx))
    raise KeyError(attribute)


def _convert_cluster(ctx: ResourceContext) -> list[object]:
    settings = dict(ctx.props.pairs("ClusterSettings", "Name", "Value"))
    name = _cluster_name(ctx)
    return [
        Cluster(
            arn=ids.cluster_arn(name),
            name=name,
            container_insights=settings.get("containerInsights", "disabled") in ("enabled", "enhanced"),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


def cluster_name_of(value: str) -> str:
    """A service's ``Cluster`` property (a name or a cluster ARN) -> the cluster name."""
    if value.startswith("arn:") and ":cluster/" in value:
        return value.rpartition(":cluster/")[2]
    return value


# ---- task definition ------------------------------------------------------------------------------


def _family(ctx: ResourceContext) -> str:
    return ctx.props.str("Family") or f"{ctx.stack}{ctx.logical_id}"


def _task_definition_arn(ctx: ResourceContext) -> str:
    return ids.task_definition_arn(_family(ctx), 1)


def _task_definition_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "TaskDefinitionArn":
        return _task_definition_arn(ctx)
    raise KeyError(attribute)


def _str_tuple(p: Props, key: str) -> tuple[str, ...] | None:
    return p.str_list(key) if p.has(key) else None


def _container(ctx: ResourceContext, c: Props) -> ContainerDefinition:
    image = c.req_str("Image")
    hc = c.sub("HealthCheck")
    health = None
    if hc is not None:
        d = ContainerHealthCheck(command=())
        command = hc.str_list("Command")
        if not command:
            hc.error("Command", "a container health check needs a Command")
        health = ContainerHealthCheck(
            command=command,
            interval_seconds=hc.int("Interval", d.interval_seconds) or d.interval_seconds,
            timeout_seconds=hc.int("Timeout", d.timeout_seconds) or d.timeout_seconds,
            retries=hc.int("Retries", d.retries) or d.retries,
            start_period_seconds=hc.int("StartPeriod", d.start_period_seconds) or 0,
        )
    ports = []
    for pm in c.items("PortMappings"):
        container_port = pm.req_int("ContainerPort")
        host_port = pm.int("HostPort")
        ports.append(
            PortMapping(
                container_port=container_port,
                host_port=host_port,
                protocol=(pm.str("Protocol") or "tcp").lower(),
                name=pm.str("Name"),
                app_protocol=pm.str("AppProtocol"),
            )
        )
    depends = []
    for dep in c.items("DependsOn"):
        condition = dep.str("Condition") or "START"
        try:
            cond = DependencyCondition(condition)
        except ValueError:
            dep.error("Condition", f"unknown dependency condition {condition!r}")
        depends.append(ContainerDependency(dep.req_str("ContainerName"), cond))
    log = c.sub("LogConfiguration")
    ulimits = tuple(
        (u.req_str("Name"), u.req_int("SoftLimit"), u.req_int("HardLimit")) for u in c.items("Ulimits")
    )
    return ContainerDefinition(
        name=c.req_str("Name"),
        image=image,
        image_asset=ctx.image_asset(image),
        command=_str_tuple(c, "Command"),
        entry_point=_str_tuple(c, "EntryPoint"),
        environment=c.pairs("Environment", "Name", "Value"),
        secrets=tuple(Secret(s.req_str("Name"), s.req_str("ValueFrom")) for s in c.items("Secrets")),
        port_mappings=tuple(ports),
        essential=bool(c.bool("Essential", True)),
        health_check=health,
        depends_on=tuple(depends),
        start_timeout_seconds=c.int("StartTimeout"),
        stop_timeout_seconds=c.int("StopTimeout"),
        working_directory=c.str("WorkingDirectory"),
        user=c.str("User"),
        docker_labels=c.mapping("DockerLabels"),
        cpu=c.int("Cpu", 0) or 0,
        memory=c.int("Memory"),
        memory_reservation=c.int("MemoryReservation"),
        readonly_root_filesystem=bool(c.bool("ReadonlyRootFilesystem", False)),
        ulimits=ulimits,
        log_driver=log.str("LogDriver") if log else None,
        log_options=log.mapping("Options") if log else (),
    )


def _size(p: Props, key: str, unit: str) -> int | None:
    """Task ``Cpu``/``Memory``: a number of CPU units / MiB, or the ``"0.25 vCPU"`` / ``"2 GB"`` forms."""
    text = p.str(key)
    if text is None:
        return None
    number, _, suffix = text.strip().partition(" ")
    if suffix.strip().lower() == unit:
        try:
            return round(float(number) * 1024)
        except ValueError:
            p.error(key, f"expected a number of {unit}, got {text!r}")
    return p.int(key)


def task_definition_arn_of(value: str) -> str:
    """A service's ``TaskDefinition`` (an ARN, ``family:revision`` or ``family``) -> the ARN. A bare family
    means revision 1, the only revision an assembly defines."""
    if value.startswith("arn:"):
        return value
    family, _, revision = value.partition(":")
    return ids.task_definition_arn(family, int(revision) if revision.isdigit() else 1)


def _convert_task_definition(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    containers = tuple(_container(ctx, c) for c in p.items("ContainerDefinitions"))
    if not containers:
        p.error("ContainerDefinitions", "a task definition needs at least one container")
    names = [c.name for c in containers]
    if len(set(names)) != len(names):
        p.error("ContainerDefinitions", "container names must be unique")
    platform = p.sub("RuntimePlatform")
    d = TaskDefinition(arn="", family="", revision=1, containers=())
    return [
        TaskDefinition(
            arn=_task_definition_arn(ctx),
            family=_family(ctx),
            revision=1,
            containers=containers,
            cpu=_size(p, "Cpu", "vcpu"),
            memory=_size(p, "Memory", "gb"),
            network_mode=p.str("NetworkMode") or d.network_mode,
            requires_compatibilities=p.str_list("RequiresCompatibilities"),
            cpu_architecture=(platform.str("CpuArchitecture") if platform else None) or d.cpu_architecture,
            operating_system_family=(platform.str("OperatingSystemFamily") if platform else None)
            or d.operating_system_family,
            execution_role_arn=p.str("ExecutionRoleArn"),
            task_role_arn=p.str("TaskRoleArn"),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


# ---- service -------------------------------------------------------------------------------------


def _service_name(ctx: ResourceContext) -> str:
    return ctx.props.str("ServiceName") or ctx.logical_id


def _service_cluster(ctx: ResourceContext) -> str:
    return cluster_name_of(ctx.props.str("Cluster") or "default")


def _service_arn(ctx: ResourceContext) -> str:
    return ids.service_arn(_service_cluster(ctx), _service_name(ctx))


def _service_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Name":
        return _service_name(ctx)
    if attribute == "ServiceArn":
        return _service_arn(ctx)
    raise KeyError(attribute)


def _deployment_configuration(p: Props) -> DeploymentConfiguration:
    d = DeploymentConfiguration()
    dc = p.sub("DeploymentConfiguration")
    if dc is None:
        return d
    breaker = dc.sub("DeploymentCircuitBreaker")
    cb = DeploymentCircuitBreaker()
    if breaker is not None:
        cb = DeploymentCircuitBreaker(
            enable=bool(breaker.bool("Enable", False)), rollback=bool(breaker.bool("Rollback", False))
        )
    maximum = dc.int("MaximumPercent", d.maximum_percent)
    minimum = dc.int("MinimumHealthyPercent", d.minimum_healthy_percent)
    assert maximum is not None and minimum is not None
    if minimum < 0 or maximum < minimum:
        dc.error(None, f"MinimumHealthyPercent {minimum} / MaximumPercent {maximum} are inconsistent")
    return DeploymentConfiguration(
        maximum_percent=maximum, minimum_healthy_percent=minimum, circuit_breaker=cb
    )


def _convert_service(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    cluster = _service_cluster(ctx)
    strategy = tuple(
        (s.req_str("CapacityProvider"), s.int("Weight", 0) or 0, s.int("Base", 0) or 0)
        for s in p.items("CapacityProviderStrategy")
    )
    launch_type = p.str("LaunchType")
    if launch_type is None and not strategy:
        launch_type = "FARGATE"
    load_balancers = []
    for lb in p.items("LoadBalancers"):
        tg = lb.str("TargetGroupArn")
        if tg is None:
            lb.error("TargetGroupArn", "only target-group load balancing is emulated (no classic ELB)")
        load_balancers.append(
            ServiceLoadBalancer(tg, lb.req_str("ContainerName"), lb.req_int("ContainerPort"))
        )
    network = p.sub("NetworkConfiguration")
    vpc = network.sub("AwsvpcConfiguration") if network else None
    controller = p.sub("DeploymentController")
    desired = p.int("DesiredCount", 1)
    assert desired is not None
    if desired < 0:
        p.error("DesiredCount", f"desired count {desired} is negative")
    return [
        Service(
            arn=_service_arn(ctx),
            name=_service_name(ctx),
            cluster_arn=ids.cluster_arn(cluster),
            cluster_name=cluster,
            task_definition_arn=task_definition_arn_of(p.req_str("TaskDefinition")),
            desired_count=desired,
            launch_type=launch_type,
            capacity_provider_strategy=strategy,
            platform_version=p.str("PlatformVersion") or "LATEST",
            deployment_configuration=_deployment_configuration(p),
            health_check_grace_period_seconds=p.int("HealthCheckGracePeriodSeconds", 0) or 0,
            load_balancers=tuple(load_balancers),
            enable_execute_command=bool(p.bool("EnableExecuteCommand", False)),
            assign_public_ip=(vpc.str("AssignPublicIp") if vpc else None) == "ENABLED",
            subnets=vpc.str_list("Subnets") if vpc else (),
            security_groups=vpc.str_list("SecurityGroups") if vpc else (),
            propagate_tags=p.str("PropagateTags"),
            enable_ecs_managed_tags=bool(p.bool("EnableECSManagedTags", False)),
            deployment_controller=(controller.str("Type") if controller else None) or "ECS",
            scheduling_strategy=p.str("SchedulingStrategy") or "REPLICA",
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


KINDS: dict[str, ResourceKind] = {
    CLUSTER: ResourceKind(ref=_cluster_ref, get_att=_cluster_att, convert=_convert_cluster),
    TASK_DEFINITION: ResourceKind(
        ref=_task_definition_arn, get_att=_task_definition_att, convert=_convert_task_definition
    ),
    SERVICE: ResourceKind(ref=_service_arn, get_att=_service_att, convert=_convert_service),
}
