"""ECS wire views: model objects and live records -> the exact camelCase shapes of the ECS API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from albfargate.api.backend import (
    ContainerRecord,
    DeploymentRecord,
    EventRecord,
    ServiceRecord,
    TaskDefinitionRecord,
    TaskRecord,
)
from albfargate.api.wire import ts
from albfargate.model.ecs import Cluster, ContainerDefinition, DeploymentConfiguration, Service
from albfargate.model.ids import hex_id

FARGATE_PLATFORM = "1.4.0"
ECS_SERVICE_ROLE = "aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"


def tags_view(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def cluster_view(
    cluster: Cluster,
    services: Sequence[ServiceRecord],
    tasks: Sequence[TaskRecord],
    tags: dict[str, str] | None,
) -> dict[str, Any]:
    mine = [t for t in tasks if t.cluster_arn == cluster.arn]
    return {
        "clusterArn": cluster.arn,
        "clusterName": cluster.name,
        "status": "ACTIVE",
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": sum(1 for t in mine if t.last_status == "RUNNING"),
        "pendingTasksCount": sum(
            1 for t in mine if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING")
        ),
        "activeServicesCount": sum(
            1 for s in services if s.service.cluster_arn == cluster.arn and s.status == "ACTIVE"
        ),
        "statistics": [],
        "tags": tags_view(tags),
        "settings": [
            {"name": "containerInsights", "value": "enabled" if cluster.container_insights else "disabled"}
        ],
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategy": [],
    }


def _pairs(pairs: Sequence[tuple[str, str]], key: str = "name", value: str = "value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in pairs]


def container_definition_view(c: ContainerDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "image": c.image,
        "cpu": c.cpu,
        "portMappings": [
            {
                "containerPort": p.container_port,
                "hostPort": p.host_port if p.host_port is not None else p.container_port,
                "protocol": p.protocol,
                **({"name": p.name} if p.name else {}),
                **({"appProtocol": p.app_protocol} if p.app_protocol else {}),
            }
            for p in c.port_mappings
        ],
        "essential": c.essential,
        "environment": _pairs(c.environment),
        "mountPoints": [],
        "volumesFrom": [],
        "secrets": [{"name": s.name, "valueFrom": s.value_from} for s in c.secrets] or None,
        "dependsOn": [
            {"containerName": d.container_name, "condition": str(d.condition)} for d in c.depends_on
        ]
        or None,
        "memory": c.memory,
        "memoryReservation": c.memory_reservation,
        "command": list(c.command) if c.command is not None else None,
        "entryPoint": list(c.entry_point) if c.entry_point is not None else None,
        "workingDirectory": c.working_directory,
        "user": c.user,
        "startTimeout": c.start_timeout_seconds,
        "stopTimeout": c.stop_timeout_seconds,
        "readonlyRootFilesystem": c.readonly_root_filesystem or None,
        "dockerLabels": dict(c.docker_labels) or None,
        "ulimits": [{"name": n, "softLimit": s, "hardLimit": h} for n, s, h in c.ulimits] or None,
        "systemControls": [],
    }
    if c.health_check is not None:
        h = c.health_check
        out["healthCheck"] = {
            "command": list(h.command),
            "interval": h.interval_seconds,
            "timeout": h.timeout_seconds,
            "retries": h.retries,
            "startPeriod": h.start_period_seconds,
        }
    if c.log_driver:
        out["logConfiguration"] = {"logDriver": c.log_driver, "options": dict(c.log_options)}
    return out


def task_definition_view(record: TaskDefinitionRecord) -> dict[str, Any]:
    td = record.definition
    return {
        "taskDefinitionArn": td.arn,
        "containerDefinitions": [container_definition_view(c) for c in td.containers],
        "family": td.family,
        "taskRoleArn": td.task_role_arn,
        "executionRoleArn": td.execution_role_arn,
        "networkMode": td.network_mode,
        "revision": td.revision,
        "volumes": [],
        "status": record.status,
        "requiresAttributes": [],
        "placementConstraints": [],
        "compatibilities": ["EC2", "FARGATE"],
        "runtimePlatform": {
            "cpuArchitecture": td.cpu_architecture,
            "operatingSystemFamily": td.operating_system_family,
        },
        "requiresCompatibilities": list(td.requires_compatibilities),
        "cpu": str(td.cpu) if td.cpu is not None else None,
        "memory": str(td.memory) if td.memory is not None else None,
        "registeredAt": ts(record.registered_at),
        "deregisteredAt": ts(record.deregistered_at),
    }


def network_configuration(service: Service) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": list(service.subnets),
            "securityGroups": list(service.security_groups),
            "assignPublicIp": "ENABLED" if service.assign_public_ip else "DISABLED",
        }
    }


def deployment_view(d: DeploymentRecord, service: Service) -> dict[str, Any]:
    return {
        "id": d.id,
        "status": d.status,
        "taskDefinition": d.task_definition_arn,
        "desiredCount": d.desired_count,
        "pendingCount": d.pending_count,
        "runningCount": d.running_count,
        "failedTasks": d.failed_tasks,
        "createdAt": ts(d.created_at),
        "updatedAt": ts(d.updated_at),
        "launchType": service.launch_type,
        "capacityProviderStrategy": _strategy(service) or None,
        "platformVersion": FARGATE_PLATFORM
        if service.platform_version == "LATEST"
        else service.platform_version,
        "platformFamily": "Linux",
        "networkConfiguration": network_configuration(service),
        "rolloutState": d.rollout_state,
        "rolloutStateReason": d.rollout_state_reason,
    }


def _strategy(service: Service) -> list[dict[str, Any]]:
    return [{"capacityProvider": p, "weight": w, "base": b} for p, w, b in service.capacity_provider_strategy]


def event_view(e: EventRecord) -> dict[str, Any]:
    return {"id": e.id, "createdAt": ts(e.created_at), "message": e.message}


def deployment_configuration_view(dc: DeploymentConfiguration) -> dict[str, Any]:
    return {
        "deploymentCircuitBreaker": {
            "enable": dc.circuit_breaker.enable,
            "rollback": dc.circuit_breaker.rollback,
        },
        "maximumPercent": dc.maximum_percent,
        "minimumHealthyPercent": dc.minimum_healthy_percent,
    }


def service_view(
    record: ServiceRecord, tags: dict[str, str] | None = None, include_tags: bool = False
) -> dict[str, Any]:
    s = record.service
    dc = s.deployment_configuration
    out: dict[str, Any] = {
        "serviceArn": s.arn,
        "serviceName": s.name,
        "clusterArn": s.cluster_arn,
        "loadBalancers": [
            {
                "targetGroupArn": lb.target_group_arn,
                "containerName": lb.container_name,
                "containerPort": lb.container_port,
            }
            for lb in s.load_balancers
        ],
        "serviceRegistries": [],
        "status": record.status,
        "desiredCount": s.desired_count,
        "runningCount": record.running_count,
        "pendingCount": record.pending_count,
        "launchType": s.launch_type,
        "capacityProviderStrategy": _strategy(s) or None,
        "platformVersion": s.platform_version,
        "platformFamily": "Linux",
        "taskDefinition": s.task_definition_arn,
        "deploymentConfiguration": deployment_configuration_view(dc),
        "deployments": [deployment_view(d, s) for d in record.deployments if d.status != "INACTIVE"],
        "roleArn": f"arn:aws:iam::{s.arn.split(':')[4]}:role/{ECS_SERVICE_ROLE}",
        "events": [event_view(e) for e in record.events[:100]],
        "createdAt": ts(record.created_at),
        "placementConstraints": [],
        "placementStrategy": [],
        "networkConfiguration": network_configuration(s),
        "healthCheckGracePeriodSeconds": s.health_check_grace_period_seconds,
        "schedulingStrategy": s.scheduling_strategy,
        "deploymentController": {"type": s.deployment_controller},
        "createdBy": f"arn:aws:iam::{s.arn.split(':')[4]}:root",
        "enableECSManagedTags": s.enable_ecs_managed_tags,
        "propagateTags": s.propagate_tags or "NONE",
        "enableExecuteCommand": s.enable_execute_command,
        "availabilityZoneRebalancing": "DISABLED",
    }
    if include_tags:
        out["tags"] = tags_view(tags)
    return out


def container_view(task: TaskRecord, c: ContainerRecord) -> dict[str, Any]:
    return {
        "containerArn": c.container_arn,
        "taskArn": task.arn,
        "name": c.name,
        "image": c.image,
        "runtimeId": c.runtime_id,
        "lastStatus": c.last_status,
        "exitCode": c.exit_code,
        "reason": c.reason,
        "networkBindings": [],
        "networkInterfaces": [{"attachmentId": attachment_id(task), "privateIpv4Address": task.private_ip}],
        "healthStatus": c.health_status,
        "cpu": str(c.cpu),
        "memory": str(c.memory) if c.memory is not None else None,
    }


def attachment_id(task: TaskRecord) -> str:
    h = hex_id(task.arn + "#eni", 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _attachment_status(task: TaskRecord) -> str:
    if task.last_status in ("PROVISIONING",):
        return "PRECREATED"
    if task.last_status in ("DEPROVISIONING",):
        return "DETACHING"
    if task.last_status == "STOPPED":
        return "DELETED"
    return "ATTACHED"


def task_view(
    task: TaskRecord, tags: dict[str, str] | None = None, include_tags: bool = False
) -> dict[str, Any]:
    eni = "eni-" + hex_id(task.arn + "#eni-id", 17)
    out: dict[str, Any] = {
        "attachments": [
            {
                "id": attachment_id(task),
                "type": "ElasticNetworkInterface",
                "status": _attachment_status(task),
                "details": [
                    {"name": "subnetId", "value": "subnet-" + hex_id("local-subnet", 17)},
                    {"name": "networkInterfaceId", "value": eni},
                    {"name": "macAddress", "value": "02:00:00:00:00:01"},
                    {"name": "privateDnsName", "value": "localhost"},
                    {"name": "privateIPv4Address", "value": task.private_ip},
                ],
            }
        ],
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
        "availabilityZone": task.availability_zone,
        "clusterArn": task.cluster_arn,
        "connectivity": "CONNECTED" if task.started_at is not None and task.stopped_at is None else None,
        "connectivityAt": ts(task.started_at),
        "containers": [container_view(task, c) for c in task.containers],
        "cpu": task.cpu,
        "createdAt": ts(task.created_at),
        "desiredStatus": task.desired_status,
        "enableExecuteCommand": False,
        "group": task.group,
        "healthStatus": task.health_status,
        "lastStatus": task.last_status,
        "launchType": task.launch_type,
        "memory": task.memory,
        "overrides": {
            "containerOverrides": [{"name": c.name} for c in task.containers],
            "inferenceAcceleratorOverrides": [],
        },
        "platformVersion": task.platform_version,
        "platformFamily": "Linux",
        "pullStartedAt": ts(task.pull_started_at),
        "pullStoppedAt": ts(task.pull_stopped_at),
        "startedAt": ts(task.started_at),
        "startedBy": task.started_by,
        "stoppingAt": ts(task.stopping_at),
        "stoppedAt": ts(task.stopped_at),
        "executionStoppedAt": ts(task.execution_stopped_at),
        "stopCode": task.stop_code,
        "stoppedReason": task.stopped_reason,
        "taskArn": task.arn,
        "taskDefinitionArn": task.task_definition_arn,
        "version": task.version,
        "ephemeralStorage": {"sizeInGiB": 20},
    }
    if include_tags:
        out["tags"] = tags_view(tags)
    return out
