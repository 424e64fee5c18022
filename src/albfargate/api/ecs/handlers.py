"""ECS operations: each handler reads the request, resolves names to live records, calls the backend
and returns the response built by :mod:`albfargate.api.ecs.views`. ``OPERATIONS`` maps the operation
name (the ``X-Amz-Target`` suffix) to its handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from albfargate.api.backend import (
    BackendError,
    DeploymentRecord,
    ServiceRecord,
    ServiceUpdate,
    TaskDefinitionRecord,
    TaskRecord,
)
from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.ecs import errors
from albfargate.api.ecs.views import (
    cluster_view,
    deployment_configuration_view,
    service_view,
    tags_view,
    task_definition_view,
    task_view,
)
from albfargate.api.errors import ApiError
from albfargate.api.wire import Reader, optional_int, page, shape_errors, ts
from albfargate.ecs.planner import circuit_breaker_threshold
from albfargate.model.ecs import (
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
)
from albfargate.model.ids import cluster_arn, ecs_arn, service_arn, task_arn, task_definition_arn

INVALID = "InvalidParameterException"
MAX_DESCRIBE_SERVICES = 10
MAX_DESCRIBE_TASKS = 100
MAX_RUN_TASK_COUNT = 10

R = TypeVar("R")


def _r(params: Params) -> Reader:
    return Reader(params, INVALID)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a backend write, turning its refusal into the ECS error it names."""
    try:
        return fn(*args, **kwargs)
    except BackendError as exc:
        raise ApiError(exc.code, exc.message) from None


# --- resolution -------------------------------------------------------------------------------------------


def resolve_cluster(ctx: Context, ref: str | None) -> Cluster:
    ref = ref or "default"
    for c in ctx.backend.clusters():
        if ref in (c.name, c.arn):
            return c
    raise errors.cluster_not_found()


def find_service(ctx: Context, cluster: Cluster, ref: str) -> ServiceRecord | None:
    return ctx.backend.service(cluster.arn, ref)


def resolve_service(ctx: Context, cluster: Cluster, ref: str) -> ServiceRecord:
    record = find_service(ctx, cluster, ref)
    if record is None or record.status == "INACTIVE":
        raise errors.service_not_found()
    return record


def resolve_task_definition(ctx: Context, ref: str) -> TaskDefinitionRecord | None:
    """By ARN, ``family:revision`` or ``family`` (its newest ACTIVE revision); read by key."""
    return ctx.backend.task_definition(ref)


def find_task(ctx: Context, cluster: Cluster, ref: str) -> TaskRecord | None:
    return ctx.backend.task(cluster.arn, ref)


# --- clusters ---------------------------------------------------------------------------------------------


def list_clusters(ctx: Context, params: Params) -> Result:
    r = _r(params)
    size = r.integer("maxResults", 100, lo=1, hi=100) or 100
    arns = [c.arn for c in ctx.backend.clusters()]
    items, nxt = page(arns, r.text("nextToken"), size, INVALID, "nextToken")
    return {"clusterArns": items, "nextToken": nxt}


def describe_clusters(ctx: Context, params: Params) -> Result:
    r = _r(params)
    refs = r.strs("clusters") or ["default"]
    include_tags = "TAGS" in r.strs("include")
    services, tasks = ctx.backend.services(), ctx.backend.tasks()
    found, failures = [], []
    for ref in refs:
        cluster = next((c for c in ctx.backend.clusters() if ref in (c.name, c.arn)), None)
        if cluster is None:
            failures.append({"arn": ref if ref.startswith("arn:") else cluster_arn(ref), "reason": "MISSING"})
            continue
        view = cluster_view(cluster, services, tasks, ctx.store.tags.get(cluster.arn))
        if not include_tags:
            view.pop("tags")
        found.append(view)
    return {"clusters": found, "failures": failures}


def create_cluster(ctx: Context, params: Params) -> Result:
    r = _r(params)
    name = r.text("clusterName") or "default"
    existing = next((c for c in ctx.backend.clusters() if c.name == name), None)
    if existing is None:
        with shape_errors(INVALID, "settings"):
            insights = any(
                s.get("name") == "containerInsights" and s.get("value") == "enabled"
                for s in r.items("settings")
            )
        existing = Cluster(arn=cluster_arn(name), name=name, container_insights=insights)
        _call(ctx.backend.create_cluster, existing)
    _tag(ctx, existing.arn, r.items("tags"))
    return {
        "cluster": cluster_view(
            existing, ctx.backend.services(), ctx.backend.tasks(), ctx.store.tags.get(existing.arn)
        )
    }


def delete_cluster(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.req("cluster"))
    if any(s.service.cluster_arn == cluster.arn and s.status != "INACTIVE" for s in ctx.backend.services()):
        raise ApiError(
            "ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active."
        )
    if any(t.cluster_arn == cluster.arn and t.last_status != "STOPPED" for t in ctx.backend.tasks()):
        raise ApiError(
            "ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active."
        )
    view = cluster_view(cluster, (), (), ctx.store.tags.get(cluster.arn))
    _call(ctx.backend.delete_cluster, cluster.arn)
    view["status"] = "INACTIVE"
    return {"cluster": view}


# --- task definitions -------------------------------------------------------------------------------------


def _int_or_none(value: Any, name: str) -> int | None:
    return optional_int(value, name, INVALID)


def parse_container(d: Any) -> ContainerDefinition:
    with shape_errors("ClientException", "container definition"):
        return _parse_container(d)


def _parse_container(d: Any) -> ContainerDefinition:
    if not isinstance(d, dict):
        raise errors.client("Container definition must be an object.")
    name, image = d.get("name"), d.get("image")
    if not isinstance(name, str) or not name:
        raise errors.client("Container.name should not be null or empty.")
    if not isinstance(image, str) or not image:
        raise errors.client("Container.image should not be null or empty.")
    ports = []
    for p in d.get("portMappings") or []:
        cp = _int_or_none(p.get("containerPort"), "containerPort")
        if cp is None:
            raise errors.client("Container.portMappings.containerPort should not be null.")
        hp = _int_or_none(p.get("hostPort"), "hostPort")
        if hp not in (None, cp):
            raise errors.client(
                "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
            )
        ports.append(PortMapping(cp, hp, p.get("protocol", "tcp"), p.get("name"), p.get("appProtocol")))
    hc = d.get("healthCheck")
    health = None
    if isinstance(hc, dict) and hc.get("command"):
        health = ContainerHealthCheck(
            command=tuple(hc["command"]),
            interval_seconds=int(hc.get("interval", 30)),
            timeout_seconds=int(hc.get("timeout", 5)),
            retries=int(hc.get("retries", 3)),
            start_period_seconds=int(hc.get("startPeriod", 0)),
        )
    depends = []
    for dep in d.get("dependsOn") or []:
        try:
            cond = DependencyCondition(dep.get("condition", "START"))
        except ValueError:
            raise errors.client(f"Invalid dependsOn condition {dep.get('condition')!r}.") from None
        depends.append(ContainerDependency(dep.get("containerName", ""), cond))
    log = d.get("logConfiguration") or {}
    return ContainerDefinition(
        name=name,
        image=image,
        command=tuple(d["command"]) if d.get("command") is not None else None,
        entry_point=tuple(d["entryPoint"]) if d.get("entryPoint") is not None else None,
        environment=tuple((e.get("name", ""), e.get("value", "")) for e in d.get("environment") or []),
        secrets=tuple(Secret(s.get("name", ""), s.get("valueFrom", "")) for s in d.get("secrets") or []),
        port_mappings=tuple(ports),
        essential=bool(d.get("essential", True)),
        health_check=health,
        depends_on=tuple(depends),
        start_timeout_seconds=_int_or_none(d.get("startTimeout"), "startTimeout"),
        stop_timeout_seconds=_int_or_none(d.get("stopTimeout"), "stopTimeout"),
        working_directory=d.get("workingDirectory"),
        user=d.get("user"),
        docker_labels=tuple((d.get("dockerLabels") or {}).items()),
        cpu=_int_or_none(d.get("cpu"), "cpu") or 0,
        memory=_int_or_none(d.get("memory"), "memory"),
        memory_reservation=_int_or_none(d.get("memoryReservation"), "memoryReservation"),
        readonly_root_filesystem=bool(d.get("readonlyRootFilesystem", False)),
        ulimits=tuple((u["name"], int(u["softLimit"]), int(u["hardLimit"])) for u in d.get("ulimits") or []),
        log_driver=log.get("logDriver"),
        log_options=tuple((log.get("options") or {}).items()),
    )


def register_task_definition(ctx: Context, params: Params) -> Result:
    r = _r(params)
    family = r.text("family")
    if not family:
        raise errors.client("Family should not be null or empty.")
    containers = tuple(parse_container(d) for d in r.items("containerDefinitions"))
    if not containers:
        raise errors.client("Container list cannot be empty.")
    if not any(c.essential for c in containers):
        raise errors.client("Task definition does not have any essential container.")
    names = [c.name for c in containers]
    if len(set(names)) != len(names):
        raise errors.client("Container names must be unique within a task definition.")
    revision = 1 + ctx.backend.latest_revision(family)
    runtime = r.struct("runtimePlatform") or {}
    td = TaskDefinition(
        arn=task_definition_arn(family, revision),
        family=family,
        revision=revision,
        containers=containers,
        cpu=_int_or_none(params.get("cpu"), "cpu"),
        memory=_int_or_none(params.get("memory"), "memory"),
        network_mode=r.text("networkMode") or "awsvpc",
        requires_compatibilities=tuple(r.strs("requiresCompatibilities")),
        cpu_architecture=runtime.get("cpuArchitecture", "X86_64"),
        operating_system_family=runtime.get("operatingSystemFamily", "LINUX"),
        execution_role_arn=r.text("executionRoleArn"),
        task_role_arn=r.text("taskRoleArn"),
    )
    _call(ctx.backend.register_task_definition, td)
    _tag(ctx, td.arn, r.items("tags"))
    record = resolve_task_definition(ctx, td.arn)
    if record is None:
        record = TaskDefinitionRecord(td, "ACTIVE", ctx.clock())
    return {"taskDefinition": task_definition_view(record), "tags": tags_view(ctx.store.tags.get(td.arn))}


def describe_task_definition(ctx: Context, params: Params) -> Result:
    r = _r(params)
    record = resolve_task_definition(ctx, r.req("taskDefinition"))
    if record is None:
        raise errors.client("Unable to describe task definition.")
    out: Result = {"taskDefinition": task_definition_view(record)}
    if "TAGS" in r.strs("include"):
        out["tags"] = tags_view(ctx.store.tags.get(record.definition.arn))
    return out


def deregister_task_definition(ctx: Context, params: Params) -> Result:
    r = _r(params)
    ref = r.req("taskDefinition")
    if ":" not in ref.rsplit("/", 1)[-1]:
        raise errors.invalid(
            "The specified task definition identifier is invalid. Specify a valid name or ARN and revision."
        )
    record = resolve_task_definition(ctx, ref)
    if record is None:
        raise errors.client("The specified task definition does not exist.")
    _call(ctx.backend.deregister_task_definition, record.definition.arn)
    record = resolve_task_definition(ctx, record.definition.arn) or replace(record, status="INACTIVE")
    return {"taskDefinition": task_definition_view(record)}


def list_task_definitions(ctx: Context, params: Params) -> Result:
    r = _r(params)
    status = r.text("status") or "ACTIVE"
    if status not in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        raise errors.invalid(f"Invalid status {status}")
    prefix = r.text("familyPrefix")
    records = [
        x
        for x in ctx.backend.task_definitions()
        if x.status == status and (prefix is None or x.definition.family == prefix)
    ]
    records.sort(
        key=lambda x: (x.definition.family, x.definition.revision), reverse=(r.text("sort") == "DESC")
    )
    size = r.integer("maxResults", 100, lo=1, hi=100) or 100
    items, nxt = page([x.definition.arn for x in records], r.text("nextToken"), size, INVALID, "nextToken")
    return {"taskDefinitionArns": items, "nextToken": nxt}


def list_task_definition_families(ctx: Context, params: Params) -> Result:
    r = _r(params)
    status = r.text("status") or "ACTIVE"
    prefix = r.text("familyPrefix") or ""
    families: dict[str, bool] = {}
    for x in ctx.backend.task_definitions():
        if x.definition.family.startswith(prefix):
            families[x.definition.family] = families.get(x.definition.family, False) or x.status == "ACTIVE"
    chosen = sorted(f for f, active in families.items() if status == "ALL" or active == (status == "ACTIVE"))
    size = r.integer("maxResults", 100, lo=1, hi=100) or 100
    items, nxt = page(chosen, r.text("nextToken"), size, INVALID, "nextToken")
    return {"families": items, "nextToken": nxt}


# --- services ---------------------------------------------------------------------------------------------


def list_services(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    size = r.integer("maxResults", 10, lo=1, hi=100) or 10
    launch = r.text("launchType")
    arns = [
        s.service.arn
        for s in ctx.backend.services()
        if s.service.cluster_arn == cluster.arn
        and s.status == "ACTIVE"
        and (launch is None or s.service.launch_type == launch)
    ]
    items, nxt = page(arns, r.text("nextToken"), size, INVALID, "nextToken")
    return {"serviceArns": items, "nextToken": nxt}


def _describe_in_cluster(
    r: Reader,
    ctx: Context,
    key: str,
    maximum: int,
    find: Callable[[Context, Cluster, str], R | None],
    arn_of: Callable[[str, str], str],
    view: Callable[[R, bool], dict[str, Any]],
) -> Result:
    """DescribeServices / DescribeTasks: the ``key`` list (1..``maximum`` references) looked up in the
    request's cluster; a reference not found is a ``MISSING`` failure under its ARN (``arn_of(cluster
    name, reference)`` when it is a bare name or id)."""
    refs = r.strs(key)
    noun = key.capitalize()
    if not refs:
        raise errors.invalid(f"{noun} cannot be empty.")
    if len(refs) > maximum:
        raise errors.invalid(f"{noun} cannot have more than {maximum} items.")
    cluster = resolve_cluster(ctx, r.text("cluster"))
    include_tags = "TAGS" in r.strs("include")
    found, failures = [], []
    for ref in refs:
        record = find(ctx, cluster, ref)
        if record is None:
            arn = ref if ref.startswith("arn:") else arn_of(cluster.name, ref)
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        found.append(view(record, include_tags))
    return {key: found, "failures": failures}


def describe_services(ctx: Context, params: Params) -> Result:
    def view(record: ServiceRecord, include_tags: bool) -> dict[str, Any]:
        return service_view(record, ctx.store.tags.get(record.service.arn), include_tags)

    return _describe_in_cluster(
        _r(params), ctx, "services", MAX_DESCRIBE_SERVICES, find_service, service_arn, view
    )


def _deployment_configuration(
    raw: dict[str, Any] | None, base: DeploymentConfiguration
) -> DeploymentConfiguration:
    if raw is None:
        return base
    cb_raw = raw.get("deploymentCircuitBreaker")
    cb = base.circuit_breaker
    if cb_raw is not None and not isinstance(cb_raw, dict):
        raise errors.invalid("deploymentCircuitBreaker must be a structure.")
    if isinstance(cb_raw, dict):
        cb = DeploymentCircuitBreaker(bool(cb_raw.get("enable", False)), bool(cb_raw.get("rollback", False)))
    max_p = _int_or_none(raw.get("maximumPercent"), "maximumPercent")
    min_p = _int_or_none(raw.get("minimumHealthyPercent"), "minimumHealthyPercent")
    out = DeploymentConfiguration(
        maximum_percent=base.maximum_percent if max_p is None else max_p,
        minimum_healthy_percent=base.minimum_healthy_percent if min_p is None else min_p,
        circuit_breaker=cb,
    )
    if out.minimum_healthy_percent < 0 or out.minimum_healthy_percent > 100:
        raise errors.invalid("minimumHealthyPercent must be between 0 and 100.")
    if out.maximum_percent < 100:
        raise errors.invalid("maximumPercent must be at least 100.")
    return out


def update_service(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    record = find_service(ctx, cluster, r.req("service"))
    if record is None:
        raise errors.service_not_found()
    if record.status != "ACTIVE":
        raise errors.service_not_active()
    desired = r.integer("desiredCount", lo=0)
    td_arn = None
    td_ref = r.text("taskDefinition")
    if td_ref is not None:
        td = resolve_task_definition(ctx, td_ref)
        if td is None:
            raise errors.client("TaskDefinition not found.")
        if td.status != "ACTIVE":
            raise errors.client("TaskDefinition is inactive.")
        td_arn = td.definition.arn
    # networkConfiguration, loadBalancers and platformVersion start a new deployment (spec §7.2)
    network = None
    if r.struct("networkConfiguration") is not None:
        network = _network(r.struct("networkConfiguration"))
    lbs = None
    if "loadBalancers" in params:
        td_now = resolve_task_definition(ctx, td_arn or record.service.task_definition_arn)
        if td_now is None:
            raise errors.client("TaskDefinition not found.")
        lbs = tuple(_load_balancers(ctx, r.items("loadBalancers"), td_now.definition))
    platform = r.text("platformVersion")
    rolls = network is not None or lbs is not None or platform is not None
    update = ServiceUpdate(
        desired_count=desired,
        task_definition_arn=td_arn,
        force_new_deployment=r.flag("forceNewDeployment") or rolls,
        deployment_configuration=(
            _deployment_configuration(
                r.struct("deploymentConfiguration"), record.service.deployment_configuration
            )
            if r.struct("deploymentConfiguration") is not None
            else None
        ),
        health_check_grace_period_seconds=r.integer("healthCheckGracePeriodSeconds", lo=0, hi=2147483647),
        load_balancers=lbs,
        network=network,
        platform_version=platform,
    )
    if update.health_check_grace_period_seconds is not None and not (lbs or record.service.load_balancers):
        raise errors.invalid(
            "Health check grace period is only valid for services configured to use load balancers"
        )
    _call(ctx.backend.update_service, record.service.arn, update)
    after = find_service(ctx, cluster, record.service.arn) or record
    return {"service": service_view(after)}


def _load_balancers(ctx: Context, raw: Sequence[Any], td: TaskDefinition) -> list[ServiceLoadBalancer]:
    with shape_errors(INVALID, "loadBalancers"):
        return _parse_load_balancers(ctx, raw, td)


def _parse_load_balancers(ctx: Context, raw: Sequence[Any], td: TaskDefinition) -> list[ServiceLoadBalancer]:
    lbs = []
    for lb in raw:
        if not isinstance(lb, dict):
            raise errors.invalid("loadBalancers must be a list of structures.")
        tg = lb.get("targetGroupArn")
        if tg not in ctx.store.target_groups:
            raise errors.invalid(f"Target Group {tg} is invalid or does not exist.")
        container = td.container(lb.get("containerName", ""))
        port = _int_or_none(lb.get("containerPort"), "containerPort")
        if container is None or port not in [p.container_port for p in container.port_mappings]:
            raise errors.invalid(
                f"The container {lb.get('containerName')} did not have a container port {port} defined."
            )
        lbs.append(ServiceLoadBalancer(tg, container.name, port or 0))
    return lbs


def _network(raw: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    with shape_errors(INVALID, "networkConfiguration"):
        vpc = (raw or {}).get("awsvpcConfiguration") or {}
        if not isinstance(vpc, dict) or not all(
            isinstance(vpc.get(k) or [], list) for k in ("subnets", "securityGroups")
        ):
            raise errors.invalid(
                "networkConfiguration.awsvpcConfiguration must hold lists of subnets/groups."
            )
    return (
        tuple(vpc.get("subnets") or ()),
        tuple(vpc.get("securityGroups") or ()),
        vpc.get("assignPublicIp") == "ENABLED",
    )


def create_service(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    name = r.text("serviceName")
    if not name:
        raise errors.invalid("serviceName can not be blank.")
    existing = find_service(ctx, cluster, name)
    if existing is not None and existing.status != "INACTIVE":
        raise errors.invalid("Creation of service was not idempotent.")
    td_ref = r.text("taskDefinition")
    if not td_ref:
        raise errors.invalid("TaskDefinition can not be blank.")
    td = resolve_task_definition(ctx, td_ref)
    if td is None or td.status != "ACTIVE":
        raise errors.client("TaskDefinition not found.")
    lbs = _load_balancers(ctx, r.items("loadBalancers"), td.definition)
    subnets, groups, public = _network(r.struct("networkConfiguration"))
    if td.definition.network_mode == "awsvpc" and r.struct("networkConfiguration") is None:
        raise errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    grace = r.integer("healthCheckGracePeriodSeconds", lo=0)
    if grace is not None and not lbs:
        raise errors.invalid(
            "Health check grace period is only valid for services configured to use load balancers"
        )
    with shape_errors(INVALID, "capacityProviderStrategy"):
        strategy = tuple(
            (str(s["capacityProvider"]), int(s.get("weight", 0)), int(s.get("base", 0)))
            for s in r.items("capacityProviderStrategy")
        )
    service = Service(
        arn=service_arn(cluster.name, name),
        name=name,
        cluster_arn=cluster.arn,
        cluster_name=cluster.name,
        task_definition_arn=td.definition.arn,
        desired_count=r.integer("desiredCount", 0 if r.text("schedulingStrategy") == "DAEMON" else None, lo=0)
        or 0,
        launch_type=r.text("launchType") or (None if strategy else "FARGATE"),
        capacity_provider_strategy=strategy,
        platform_version=r.text("platformVersion") or "LATEST",
        deployment_configuration=_deployment_configuration(
            r.struct("deploymentConfiguration"), DeploymentConfiguration()
        ),
        health_check_grace_period_seconds=grace or 0,
        load_balancers=tuple(lbs),
        enable_execute_command=r.flag("enableExecuteCommand"),
        assign_public_ip=public,
        subnets=subnets,
        security_groups=groups,
        propagate_tags=r.text("propagateTags"),
        enable_ecs_managed_tags=r.flag("enableECSManagedTags"),
        deployment_controller=(r.struct("deploymentController") or {}).get("type", "ECS"),
        scheduling_strategy=r.text("schedulingStrategy") or "REPLICA",
    )
    if "desiredCount" not in params and service.scheduling_strategy == "REPLICA":
        raise errors.invalid("The desiredCount parameter is required for the REPLICA scheduling strategy.")
    if service.deployment_controller != "ECS":
        raise errors.invalid(
            f"Deployment controller {service.deployment_controller} is not supported locally."
        )
    _call(ctx.backend.create_service, service)
    _tag(ctx, service.arn, r.items("tags"))
    after = find_service(ctx, cluster, service.arn)
    if after is None:
        raise ApiError("ServerException", "Service was not created", status=500, sender=False)
    return {"service": service_view(after)}


def delete_service(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    record = resolve_service(ctx, cluster, r.req("service"))
    force = r.flag("force")
    if record.service.desired_count > 0 and not force and record.service.scheduling_strategy == "REPLICA":
        raise errors.invalid("The service cannot be stopped while it is scaled above 0.")
    _call(ctx.backend.delete_service, record.service.arn, force=force)
    after = find_service(ctx, cluster, record.service.arn) or record
    view = service_view(replace(after, status="DRAINING"))  # the response always shows DRAINING, as AWS
    return {"service": view}


_DEPLOYMENT_STATUS = {
    "COMPLETED": "SUCCESSFUL",
    "FAILED": "ROLLBACK_SUCCESSFUL",
    "IN_PROGRESS": "IN_PROGRESS",
}


def _deployment_status(d: DeploymentRecord) -> str:
    if d.status == "INACTIVE" and d.rollout_state == "IN_PROGRESS":
        return "STOPPED"  # replaced by a newer deployment before it finished
    return _DEPLOYMENT_STATUS.get(d.rollout_state, "IN_PROGRESS")


def list_service_deployments(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    record = resolve_service(ctx, cluster, r.req("service"))
    wanted = set(r.strs("status"))
    out = []
    for d in record.deployments:
        status = _deployment_status(d)
        if wanted and status not in wanted:
            continue
        out.append(
            {
                "serviceDeploymentArn": _deployment_arn(record, d.id),
                "serviceArn": record.service.arn,
                "clusterArn": cluster.arn,
                "startedAt": ts(d.created_at),
                "createdAt": ts(d.created_at),
                "finishedAt": ts(d.updated_at) if status != "IN_PROGRESS" else None,
                "targetServiceRevisionArn": _revision_arn(record, d.id),
                "status": status,
                "statusReason": d.rollout_state_reason,
            }
        )
    size = r.integer("maxResults", 20, lo=1, hi=100) or 20
    items, nxt = page(out, r.text("nextToken"), size, INVALID, "nextToken")
    return {"serviceDeployments": items, "nextToken": nxt}


def describe_service_deployments(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arns = r.strs("serviceDeploymentArns")
    if not arns or len(arns) > 20:
        raise errors.invalid("serviceDeploymentArns must have between 1 and 20 items.")
    found, failures = [], []
    for arn in arns:
        hit = None
        # .../service-deployment/<cluster>/<service>/<id>: the service is read by key
        prefix, sep, rest = arn.partition(":service-deployment/")
        cluster, _, service = rest.partition("/")
        named = ctx.backend.service(f"{prefix}:cluster/{cluster}", service.partition("/")[0]) if sep else None
        for i, d in enumerate(named.deployments if named is not None else ()):
            if named is not None and _deployment_arn(named, d.id) == arn:
                hit = (named, d, named.deployments[i + 1 :])
        if hit is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        record, d, older = hit
        status = _deployment_status(d)
        dc = record.service.deployment_configuration
        found.append(
            {
                "serviceDeploymentArn": arn,
                "serviceArn": record.service.arn,
                "clusterArn": record.service.cluster_arn,
                "createdAt": ts(d.created_at),
                "startedAt": ts(d.created_at),
                "updatedAt": ts(d.updated_at),
                "finishedAt": ts(d.updated_at) if status != "IN_PROGRESS" else None,
                "sourceServiceRevisions": [
                    {
                        "arn": _revision_arn(record, o.id),
                        "requestedTaskCount": o.desired_count,
                        "runningTaskCount": o.running_count,
                        "pendingTaskCount": o.pending_count,
                    }
                    for o in older
                ],
                "targetServiceRevision": {
                    "arn": _revision_arn(record, d.id),
                    "requestedTaskCount": d.desired_count,
                    "runningTaskCount": d.running_count,
                    "pendingTaskCount": d.pending_count,
                },
                "status": status,
                "statusReason": d.rollout_state_reason,
                "deploymentConfiguration": deployment_configuration_view(dc),
                "deploymentCircuitBreaker": {
                    "status": "MONITORING" if dc.circuit_breaker.enable else "DISABLED",
                    "failureCount": d.failed_tasks,
                    "threshold": circuit_breaker_threshold(d.desired_count),
                },
            }
        )
    return {"serviceDeployments": found, "failures": failures}


def _deployment_arn(record: ServiceRecord, deployment_id: str) -> str:
    return ecs_arn(
        f"service-deployment/{record.service.cluster_name}/{record.service.name}/"
        f"{deployment_id.split('/')[-1]}"
    )


def _revision_arn(record: ServiceRecord, deployment_id: str) -> str:
    return ecs_arn(
        f"service-revision/{record.service.cluster_name}/{record.service.name}/{deployment_id.split('/')[-1]}"
    )


# --- tasks ------------------------------------------------------------------------------------------------

_DESIRED = ("RUNNING", "PENDING", "STOPPED")


def list_tasks(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    size = r.integer("maxResults", 100, lo=1, hi=100) or 100
    desired = r.text("desiredStatus") or "RUNNING"
    if desired not in _DESIRED:
        raise errors.invalid(f"Invalid desiredStatus {desired}")
    started_by = r.text("startedBy")
    service_name = r.text("serviceName")
    family = r.text("family")
    if started_by is not None and (service_name is not None or family is not None):
        raise errors.invalid("startedBy may not be specified with serviceName or family.")
    group = None
    if service_name is not None:
        record = find_service(ctx, cluster, service_name)
        if record is None:
            raise errors.service_not_found()
        group = f"service:{record.service.name}"
    launch = r.text("launchType")
    arns = []
    for t in ctx.backend.tasks():
        if t.cluster_arn != cluster.arn or t.desired_status != desired:
            continue
        if group is not None and t.group != group:
            continue
        if family is not None and t.task_definition_arn.rsplit("/", 1)[-1].split(":")[0] != family:
            continue
        if started_by is not None and t.started_by != started_by:
            continue
        if launch is not None and t.launch_type != launch:
            continue
        arns.append(t.arn)
    items, nxt = page(arns, r.text("nextToken"), size, INVALID, "nextToken")
    return {"taskArns": items, "nextToken": nxt}


def describe_tasks(ctx: Context, params: Params) -> Result:
    def view(task: TaskRecord, include_tags: bool) -> dict[str, Any]:
        return task_view(task, ctx.store.tags.get(task.arn), include_tags)

    return _describe_in_cluster(_r(params), ctx, "tasks", MAX_DESCRIBE_TASKS, find_task, task_arn, view)


def stop_task(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    task = find_task(ctx, cluster, r.req("task"))
    if task is None:
        raise errors.invalid("The referenced task was not found.")
    reason = r.text("reason") or "Task stopped by user"
    if task.desired_status != "STOPPED":
        _call(ctx.backend.stop_task, task.arn, reason)
    after = find_task(ctx, cluster, task.arn) or task
    return {"task": task_view(after)}


def run_task(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    td_ref = r.req("taskDefinition")
    count = r.integer("count", 1, lo=1, hi=MAX_RUN_TASK_COUNT) or 1
    td = resolve_task_definition(ctx, td_ref)
    if td is None:
        raise errors.client("TaskDefinition not found.")
    if td.status != "ACTIVE":
        raise errors.client("TaskDefinition is inactive.")
    if td.definition.network_mode == "awsvpc" and r.struct("networkConfiguration") is None:
        raise errors.invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    group = r.text("group") or f"family:{td.definition.family}"
    arns = _call(
        ctx.backend.run_task,
        cluster.arn,
        td.definition.arn,
        count=count,
        started_by=r.text("startedBy"),
        group=group,
    )
    tags = r.items("tags")
    for arn in arns:
        _tag(ctx, arn, tags)
    tasks = [t for t in (find_task(ctx, cluster, a) for a in arns) if t is not None]
    return {"tasks": [task_view(t) for t in tasks], "failures": []}


def execute_command(ctx: Context, params: Params) -> Result:
    r = _r(params)
    cluster = resolve_cluster(ctx, r.text("cluster"))
    if find_task(ctx, cluster, r.req("task")) is None:
        raise errors.invalid("The referenced task was not found.")
    raise ApiError(
        "TargetNotConnectedException", "The execute command failed due to an internal error. Try again later."
    )


# --- tags -------------------------------------------------------------------------------------------------


def _known_arn(ctx: Context, arn: str) -> bool:
    b = ctx.backend
    return (
        any(c.arn == arn for c in b.clusters())
        or any(s.service.arn == arn for s in b.services())
        or any(t.arn == arn for t in b.tasks())
        or any(x.definition.arn == arn for x in b.task_definitions())
    )


def _tag(ctx: Context, arn: str, tags: Sequence[Any]) -> None:
    if not tags:
        return
    bucket = ctx.store.tags.setdefault(arn, {})
    for t in tags:
        if not isinstance(t, dict) or "key" not in t:
            raise errors.invalid("Tags must have a key.")
        bucket[str(t["key"])] = str(t.get("value", ""))


def list_tags_for_resource(ctx: Context, params: Params) -> Result:
    arn = _r(params).req("resourceArn")
    if not _known_arn(ctx, arn):
        raise (
            errors.invalid("The specified resource is not valid.")
            if not arn.startswith("arn:")
            else ApiError("InvalidParameterException", "The specified resource could not be found.")
        )
    return {"tags": tags_view(ctx.store.tags.get(arn))}


def tag_resource(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arn = r.req("resourceArn")
    if not _known_arn(ctx, arn):
        raise errors.invalid("The specified resource could not be found.")
    _tag(ctx, arn, r.items("tags"))
    return {}


def untag_resource(ctx: Context, params: Params) -> Result:
    r = _r(params)
    arn = r.req("resourceArn")
    if not _known_arn(ctx, arn):
        raise errors.invalid("The specified resource could not be found.")
    bucket = ctx.store.tags.get(arn, {})
    for key in r.strs("tagKeys"):
        bucket.pop(key, None)
    return {}


OPERATIONS: dict[str, Handler] = {
    "ListClusters": list_clusters,
    "DescribeClusters": describe_clusters,
    "CreateCluster": create_cluster,
    "DeleteCluster": delete_cluster,
    "RegisterTaskDefinition": register_task_definition,
    "DescribeTaskDefinition": describe_task_definition,
    "DeregisterTaskDefinition": deregister_task_definition,
    "ListTaskDefinitions": list_task_definitions,
    "ListTaskDefinitionFamilies": list_task_definition_families,
    "ListServices": list_services,
    "DescribeServices": describe_services,
    "UpdateService": update_service,
    "CreateService": create_service,
    "DeleteService": delete_service,
    "ListServiceDeployments": list_service_deployments,
    "DescribeServiceDeployments": describe_service_deployments,
    "ListTasks": list_tasks,
    "DescribeTasks": describe_tasks,
    "StopTask": stop_task,
    "RunTask": run_task,
    "ExecuteCommand": execute_command,
    "ListTagsForResource": list_tags_for_resource,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}
