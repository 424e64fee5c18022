"""The private builders of ``LoadBalancedWebService``, one per part, as aws-cdk's pattern base class has.

The construct calls them in this order, each with the validated props, what :func:`validate` resolved and
what the earlier ones built: network (VPC, cluster) -> task (log group, image, task image options) ->
service (certificate, listener options, the wrapped ``ApplicationLoadBalancedFargateService``, the internal
ALB's ingress, access logs, the target group's health check and attributes) -> scaling -> outputs. The
order is the order the constructs are created in, which is the order of the template's resources: keep it.
Not API: the construct's attributes are.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from albfargate.cdk.props import LoadBalancedWebServiceProps
from albfargate.cdk.validation import Resolved


@dataclass(frozen=True, slots=True)
class Network:
    vpc: ec2.IVpc
    cluster: ecs.ICluster


@dataclass(frozen=True, slots=True)
class Task:
    log_group: logs.LogGroup
    image_options: ecs_patterns.ApplicationLoadBalancedTaskImageOptions
    runtime_platform: ecs.RuntimePlatform


@dataclass(frozen=True, slots=True)
class Service:
    pattern: ecs_patterns.ApplicationLoadBalancedFargateService
    certificate: acm.ICertificate | None  # the one of certificate_arn, or the one the pattern created


def build_network(scope: Construct, props: LoadBalancedWebServiceProps, resolved: Resolved) -> Network:
    """The given cluster (and its VPC), or a cluster in the given VPC or in a VPC created here."""
    if props.cluster is not None:
        return Network(vpc=props.cluster.vpc, cluster=props.cluster)
    vpc = props.vpc if props.vpc is not None else _vpc(scope, props, resolved)
    cluster = ecs.Cluster(
        scope,
        "Cluster",
        vpc=vpc,
        container_insights_v2=(
            ecs.ContainerInsights.ENABLED if props.container_insights else ecs.ContainerInsights.DISABLED
        ),
        enable_fargate_capacity_providers=True,
    )
    return Network(vpc=vpc, cluster=cluster)


def _vpc(scope: Construct, props: LoadBalancedWebServiceProps, resolved: Resolved) -> ec2.Vpc:
    subnets = [ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)]
    if resolved.nat_gateways > 0:
        subnets.append(
            ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        )
    else:  # no NAT: the internal ALB (if any) lives here; tasks go public with a public IP
        subnets.append(ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED))
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        max_azs=resolved.max_azs,
        nat_gateways=resolved.nat_gateways,
        subnet_configuration=subnets,
    )
    if props.flow_logs:
        vpc.add_flow_log("FlowLog")
    return vpc


def build_task(scope: Construct, props: LoadBalancedWebServiceProps) -> Task:
    """The container's log group, its image and what the pattern makes the task definition from."""
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        retention=props.log_retention if props.log_retention is not None else logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    image: ecs.ContainerImage
    if isinstance(props.image, str):
        image = ecs.ContainerImage.from_registry(props.image)
    elif props.image is not None:
        image = props.image
    else:
        assert props.directory is not None  # validated: exactly one of image and directory
        image = ecs.ContainerImage.from_asset(props.directory, platform=_asset_platform(props.arm64))
    options = ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
        image=image,
        container_name=props.container_name,
        container_port=props.container_port,
        environment=dict(props.environment) if props.environment else None,
        secrets=dict(props.secrets) if props.secrets else None,
        command=None if props.command is None else list(props.command),
        log_driver=ecs.LogDrivers.aws_logs(stream_prefix=props.container_name, log_group=log_group),
    )
    platform = ecs.RuntimePlatform(
        cpu_architecture=ecs.CpuArchitecture.ARM64 if props.arm64 else ecs.CpuArchitecture.X86_64,
        operating_system_family=ecs.OperatingSystemFamily.LINUX,
    )
    return Task(log_group=log_group, image_options=options, runtime_platform=platform)


def build_service(
    scope: Construct, props: LoadBalancedWebServiceProps, resolved: Resolved, network: Network, task: Task
) -> Service:
    """The pattern (load balancer, listeners, target group, task definition, service), then what the
    pattern has no prop for: the internal ALB's ingress, access logs and the target group's settings."""
    certificate: acm.ICertificate | None = None
    if props.certificate_arn is not None:
        certificate = acm.Certificate.from_certificate_arn(scope, "Certificate", props.certificate_arn)
    pattern = ecs_patterns.ApplicationLoadBalancedFargateService(
        scope,
        "Service",
        cluster=network.cluster,
        cpu=props.cpu,
        memory_limit_mib=props.memory_limit_mib,
        desired_count=props.desired_count,
        public_load_balancer=props.public_load_balancer,
        task_image_options=task.image_options,
        runtime_platform=task.runtime_platform,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=props.rollback)
        if props.circuit_breaker
        else None,
        min_healthy_percent=props.min_healthy_percent,
        max_healthy_percent=props.max_healthy_percent,
        health_check_grace_period=cdk.Duration.seconds(resolved.health_check_grace_period),
        idle_timeout=cdk.Duration.seconds(resolved.idle_timeout),
        enable_execute_command=props.enable_execute_command,
        **_pattern_options(props, resolved, certificate),
    )
    if not props.public_load_balancer:
        ports = [resolved.listener_port] + ([80] if pattern.redirect_listener is not None else [])
        for port in ports:
            pattern.load_balancer.connections.allow_from(
                ec2.Peer.ipv4(network.vpc.vpc_cidr_block),
                ec2.Port.tcp(port),
                "internal ALB: listener open to the VPC only",
            )
    if props.access_logs_bucket is not None:
        pattern.load_balancer.log_access_logs(props.access_logs_bucket, props.access_logs_prefix)
    _configure_target_group(pattern.target_group, props, resolved)
    return Service(
        pattern=pattern, certificate=certificate if certificate is not None else pattern.certificate
    )


def _pattern_options(
    props: LoadBalancedWebServiceProps, resolved: Resolved, certificate: acm.ICertificate | None
) -> dict[str, Any]:
    """The pattern's optional props, each passed only when set (so the pattern's own defaults apply)."""
    options: dict[str, Any] = {}
    if props.listener_port is not None:
        options["listener_port"] = props.listener_port
    if resolved.https:
        options["protocol"] = elbv2.ApplicationProtocol.HTTPS
        options["redirect_http"] = resolved.redirect_http
        options["ssl_policy"] = elbv2.SslPolicy.RECOMMENDED_TLS
    if certificate is not None:
        options["certificate"] = certificate
    if props.domain_name is not None:
        options["domain_name"] = props.domain_name
        options["domain_zone"] = props.domain_zone
    if props.spot_weight > 0:
        options["capacity_provider_strategies"] = [
            ecs.CapacityProviderStrategy(
                capacity_provider="FARGATE", weight=props.on_demand_weight, base=props.on_demand_base
            ),
            ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=props.spot_weight),
        ]
    if props.service_name is not None:
        options["service_name"] = props.service_name
    if not props.public_load_balancer:
        options["open_listener"] = False  # opened to the VPC CIDR by build_service, not 0.0.0.0/0
    if resolved.tasks_public:
        options["assign_public_ip"] = True
        options["task_subnets"] = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    return options


def _configure_target_group(
    target_group: elbv2.ApplicationTargetGroup, props: LoadBalancedWebServiceProps, resolved: Resolved
) -> None:
    """Health check, deregistration delay and stickiness: not props of the pattern (aws-cdk #6498)."""
    target_group.configure_health_check(
        path=props.health_check_path,
        interval=cdk.Duration.seconds(resolved.health_check_interval),
        timeout=cdk.Duration.seconds(resolved.health_check_timeout),
        healthy_threshold_count=props.healthy_threshold_count,
        unhealthy_threshold_count=props.unhealthy_threshold_count,
        healthy_http_codes=props.health_check_matcher,
    )
    # 30 s instead of ELB's 300 s: a rolling deployment waits this long per old task; web requests
    # finish in far less, so 300 s only slows every deploy and scale-in (raise it for long uploads).
    target_group.set_attribute(
        "deregistration_delay.timeout_seconds", str(int(resolved.deregistration_delay))
    )
    if props.stickiness is not None:
        target_group.enable_cookie_stickiness(props.stickiness)


def build_scaling(
    service: ecs.FargateService,
    target_group: elbv2.ApplicationTargetGroup,
    props: LoadBalancedWebServiceProps,
    resolved: Resolved,
) -> ecs.ScalableTaskCount | None:
    """Target tracking on CPU, memory and requests per target, when max_tasks is set."""
    if props.max_tasks is None or resolved.min_tasks is None:
        return None
    scaling = service.auto_scale_task_count(min_capacity=resolved.min_tasks, max_capacity=props.max_tasks)
    cooldowns: dict[str, Any] = {
        "scale_in_cooldown": cdk.Duration.seconds(resolved.scale_in_cooldown),
        "scale_out_cooldown": cdk.Duration.seconds(resolved.scale_out_cooldown),
    }
    if resolved.cpu_target_percent is not None:
        scaling.scale_on_cpu_utilization(
            "CpuScaling", target_utilization_percent=resolved.cpu_target_percent, **cooldowns
        )
    if props.memory_target_percent is not None:
        scaling.scale_on_memory_utilization(
            "MemoryScaling", target_utilization_percent=props.memory_target_percent, **cooldowns
        )
    if props.requests_per_target is not None:
        scaling.scale_on_request_count(
            "RequestScaling",
            requests_per_target=props.requests_per_target,
            target_group=target_group,
            **cooldowns,
        )
    return scaling


def build_outputs(
    scope: Construct,
    props: LoadBalancedWebServiceProps,
    resolved: Resolved,
    load_balancer: elbv2.ApplicationLoadBalancer,
) -> tuple[str, cdk.CfnOutput]:
    """The service URL (the domain, else the ALB's DNS name; the port when not the scheme's default) and
    its ``CfnOutput`` ``Url``."""
    scheme = "https" if resolved.https else "http"
    host = props.domain_name if props.domain_name is not None else load_balancer.load_balancer_dns_name
    url = f"{scheme}://{host}{resolved.url_port}"
    return url, cdk.CfnOutput(scope, "Url", value=url, description="The service URL")


def _asset_platform(arm64: bool) -> Any:
    from aws_cdk import aws_ecr_assets as ecr_assets

    return ecr_assets.Platform.LINUX_ARM64 if arm64 else ecr_assets.Platform.LINUX_AMD64


def _local_endpoint(environ: Mapping[str, str]) -> bool:
    """Whether ``AWS_ENDPOINT_URL`` names a loopback endpoint (after ``eval "$(albfargate env)"``)."""
    host = urlsplit(environ.get("AWS_ENDPOINT_URL", "")).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def record_local_run_setting(
    task_definition: ecs.TaskDefinition,
    container_name: str,
    *,
    environ: Mapping[str, str] | None = None,
    app_dir: Path | None = None,
) -> bool:
    """When the app is synthesized against a local endpoint (``cdk deploy`` into ``albfargate up``), write
    the app's run setting of ``container_name`` (``albfargate.toml`` in the app directory, the CDK CLI's
    working directory) into the task definition's Metadata, so the process driver runs the deployed app
    as ``up`` runs it (docs/deploy-local.md). Templates for AWS are unchanged. True when written."""
    from albfargate.model.ecs import RUN_SETTINGS_METADATA
    from albfargate.runsettings import load_run_settings, to_template

    if not _local_endpoint(os.environ if environ is None else environ):
        return False
    setting = load_run_settings(app_dir or Path.cwd()).container(container_name)
    if setting is None:
        return False
    resource = task_definition.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    resource.add_metadata(RUN_SETTINGS_METADATA, {container_name: to_template(setting)})
    return True
