"""``LoadBalancedWebService``: an Application Load Balanced Fargate service with production defaults.

Wraps ``aws_ecs_patterns.ApplicationLoadBalancedFargateService`` and closes the gaps users report against
it: the target-group health check, deregistration delay and stickiness as props (aws-cdk #6498),
autoscaling as props, circuit breaker with rollback on, 100 %/200 % deployment bounds, Container Insights,
a log group with retention, Fargate Spot weight, ARM64, HTTPS from a certificate ARN or a domain with an
HTTP->HTTPS redirect, and VPC options including the NAT gateway count. Props are validated first
(``validation.py``); created resources are attributes; ``CfnOutput`` ``Url`` carries the service URL.
Every option and its default is documented in ``docs/define.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from constructs import Construct

from albfargate.cdk.nag import acknowledge_service_findings
from albfargate.cdk.validation import ServiceSettings, validate


def _seconds(name: str, value: cdk.Duration | None, default: float) -> float:
    if value is None:
        return default
    if not isinstance(value, cdk.Duration):
        raise TypeError(f"{name} must be an aws_cdk.Duration, got {type(value).__name__}")
    return float(value.to_seconds())


class LoadBalancedWebService(Construct):
    """An HTTP(S) web service on Fargate behind an Application Load Balancer.

    Attributes: ``vpc``, ``cluster``, ``service``, ``task_definition``, ``container``, ``load_balancer``,
    ``listener``, ``redirect_listener`` (or None), ``target_group``, ``log_group``, ``certificate``
    (or None), ``scaling`` (``ScalableTaskCount`` or None), ``pattern`` (the wrapped
    ``ApplicationLoadBalancedFargateService``), ``url`` (str token) and ``url_output`` (``CfnOutput``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        # --- container ---------------------------------------------------------------------------
        image: ecs.ContainerImage | str | None = None,
        directory: str | None = None,
        container_name: str = "web",
        container_port: int = 8080,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        command: list[str] | None = None,
        # --- task -------------------------------------------------------------------------------
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int = 2,
        arm64: bool = False,
        spot_weight: int = 0,
        on_demand_weight: int = 1,
        on_demand_base: int = 0,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        enable_execute_command: bool = False,
        # --- load balancer ------------------------------------------------------------------------
        public_load_balancer: bool = True,
        listener_port: int | None = None,
        https: bool = False,
        certificate_arn: str | None = None,
        domain_name: str | None = None,
        domain_zone: route53.IHostedZone | None = None,
        redirect_http: bool | None = None,
        idle_timeout: cdk.Duration | None = None,
        deregistration_delay: cdk.Duration | None = None,
        stickiness: cdk.Duration | None = None,
        # --- target-group health check ---------------------------------------------------------------
        health_check_path: str = "/",
        health_check_interval: cdk.Duration | None = None,
        health_check_timeout: cdk.Duration | None = None,
        healthy_threshold_count: int = 2,
        unhealthy_threshold_count: int = 3,
        health_check_matcher: str = "200",
        health_check_grace_period: cdk.Duration | None = None,
        # --- autoscaling ----------------------------------------------------------------------------
        min_tasks: int | None = None,
        max_tasks: int | None = None,
        cpu_target_percent: float | None = None,
        memory_target_percent: float | None = None,
        requests_per_target: int | None = None,
        scale_in_cooldown: cdk.Duration | None = None,
        scale_out_cooldown: cdk.Duration | None = None,
        # --- deployment -----------------------------------------------------------------------------
        circuit_breaker: bool = True,
        rollback: bool = True,
        min_healthy_percent: int = 100,
        max_healthy_percent: int = 200,
        # --- network --------------------------------------------------------------------------------
        vpc: ec2.IVpc | None = None,
        cluster: ecs.ICluster | None = None,
        max_azs: int | None = None,
        nat_gateways: int | None = None,
        flow_logs: bool = False,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_prefix: str | None = None,
        container_insights: bool = True,
        service_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        environment = dict(environment or {})
        secrets = dict(secrets or {})
        settings = ServiceSettings(
            image_given=image is not None,
            directory_given=directory is not None,
            container_name=container_name,
            container_port=container_port,
            cpu=cpu,
            memory_limit_mib=memory_limit_mib,
            desired_count=desired_count,
            environment_names=tuple(environment),
            secret_names=tuple(secrets),
            arm64=arm64,
            spot_weight=spot_weight,
            on_demand_weight=on_demand_weight,
            on_demand_base=on_demand_base,
            listener_port=listener_port,
            https=https,
            certificate_arn=certificate_arn,
            domain_name=domain_name,
            domain_zone_given=domain_zone is not None,
            redirect_http=redirect_http,
            idle_timeout=_seconds("idle_timeout", idle_timeout, 60),
            deregistration_delay=_seconds("deregistration_delay", deregistration_delay, 30),
            stickiness=None if stickiness is None else _seconds("stickiness", stickiness, 0),
            health_check_path=health_check_path,
            health_check_interval=_seconds("health_check_interval", health_check_interval, 15),
            health_check_timeout=_seconds("health_check_timeout", health_check_timeout, 5),
            healthy_threshold_count=healthy_threshold_count,
            unhealthy_threshold_count=unhealthy_threshold_count,
            health_check_matcher=health_check_matcher,
            health_check_grace_period=_seconds("health_check_grace_period", health_check_grace_period, 60),
            min_tasks=min_tasks,
            max_tasks=max_tasks,
            cpu_target_percent=cpu_target_percent,
            memory_target_percent=memory_target_percent,
            requests_per_target=requests_per_target,
            scale_in_cooldown=_seconds("scale_in_cooldown", scale_in_cooldown, 60),
            scale_out_cooldown=_seconds("scale_out_cooldown", scale_out_cooldown, 60),
            circuit_breaker=circuit_breaker,
            rollback=rollback,
            min_healthy_percent=min_healthy_percent,
            max_healthy_percent=max_healthy_percent,
            vpc_given=vpc is not None,
            cluster_given=cluster is not None,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            public_load_balancer=public_load_balancer,
        )
        validate(settings)
        self.settings = settings

        # --- network and cluster -------------------------------------------------------------------
        nat = 1 if nat_gateways is None else nat_gateways
        self.vpc: ec2.IVpc
        self.cluster: ecs.ICluster
        if cluster is not None:
            self.cluster = cluster
            self.vpc = cluster.vpc
        else:
            if vpc is None:
                subnets = [ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)]
                if nat > 0:
                    subnets.append(
                        ec2.SubnetConfiguration(
                            name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                        )
                    )
                else:  # no NAT: the internal ALB (if any) lives here; tasks go public with a public IP
                    subnets.append(
                        ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
                    )
                vpc = ec2.Vpc(
                    self,
                    "Vpc",
                    max_azs=2 if max_azs is None else max_azs,
                    nat_gateways=nat,
                    subnet_configuration=subnets,
                )
                if flow_logs:
                    vpc.add_flow_log("FlowLog")
            self.vpc = vpc
            self.cluster = ecs.Cluster(
                self,
                "Cluster",
                vpc=vpc,
                container_insights_v2=(
                    ecs.ContainerInsights.ENABLED if container_insights else ecs.ContainerInsights.DISABLED
                ),
                enable_fargate_capacity_providers=True,
            )
        tasks_public = nat_gateways == 0  # only allowed for the VPC created here (validated)

        # --- logs, image, certificate --------------------------------------------------------------
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        container_image: ecs.ContainerImage
        if isinstance(image, str):
            container_image = ecs.ContainerImage.from_registry(image)
        elif image is not None:
            container_image = image
        else:
            assert directory is not None
            container_image = ecs.ContainerImage.from_asset(
                directory,
                platform=_asset_platform(arm64),
            )

        self.certificate: acm.ICertificate | None = None
        if certificate_arn is not None:
            self.certificate = acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
        use_https = https or certificate_arn is not None
        redirect = use_https if redirect_http is None else redirect_http

        capacity: list[ecs.CapacityProviderStrategy] | None = None
        if spot_weight > 0:
            capacity = [
                ecs.CapacityProviderStrategy(
                    capacity_provider="FARGATE", weight=on_demand_weight, base=on_demand_base
                ),
                ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=spot_weight),
            ]

        pattern_kwargs: dict[str, Any] = {}
        if listener_port is not None:
            pattern_kwargs["listener_port"] = listener_port
        if use_https:
            pattern_kwargs["protocol"] = elbv2.ApplicationProtocol.HTTPS
            pattern_kwargs["redirect_http"] = redirect
            pattern_kwargs["ssl_policy"] = elbv2.SslPolicy.RECOMMENDED_TLS
        if self.certificate is not None:
            pattern_kwargs["certificate"] = self.certificate
        if domain_name is not None:
            pattern_kwargs["domain_name"] = domain_name
            pattern_kwargs["domain_zone"] = domain_zone
        if capacity is not None:
            pattern_kwargs["capacity_provider_strategies"] = capacity
        if service_name is not None:
            pattern_kwargs["service_name"] = service_name
        if not public_load_balancer:
            pattern_kwargs["open_listener"] = False  # opened to the VPC CIDR below, not 0.0.0.0/0
        if tasks_public:
            pattern_kwargs["assign_public_ip"] = True
            pattern_kwargs["task_subnets"] = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

        self.pattern = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Service",
            cluster=self.cluster,
            cpu=cpu,
            memory_limit_mib=memory_limit_mib,
            desired_count=desired_count,
            public_load_balancer=public_load_balancer,
            task_image_options=ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
                image=container_image,
                container_name=container_name,
                container_port=container_port,
                environment=environment or None,
                secrets=secrets or None,
                command=command,
                log_driver=ecs.LogDrivers.aws_logs(stream_prefix=container_name, log_group=self.log_group),
            ),
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64 if arm64 else ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=rollback)
            if circuit_breaker
            else None,
            min_healthy_percent=min_healthy_percent,
            max_healthy_percent=max_healthy_percent,
            health_check_grace_period=cdk.Duration.seconds(settings.health_check_grace_period),
            idle_timeout=cdk.Duration.seconds(settings.idle_timeout),
            enable_execute_command=enable_execute_command,
            **pattern_kwargs,
        )
        self.service: ecs.FargateService = self.pattern.service
        self.task_definition: ecs.FargateTaskDefinition = self.pattern.task_definition
        container = self.task_definition.default_container
        assert container is not None
        self.container: ecs.ContainerDefinition = container
        self.load_balancer: elbv2.ApplicationLoadBalancer = self.pattern.load_balancer
        self.listener: elbv2.ApplicationListener = self.pattern.listener
        self.redirect_listener: elbv2.ApplicationListener | None = self.pattern.redirect_listener
        self.target_group: elbv2.ApplicationTargetGroup = self.pattern.target_group
        if not public_load_balancer:
            ports = [settings_port(listener_port, use_https)]
            if self.redirect_listener is not None:
                ports.append(80)
            for port in ports:
                self.load_balancer.connections.allow_from(
                    ec2.Peer.ipv4(self.vpc.vpc_cidr_block),
                    ec2.Port.tcp(port),
                    "internal ALB: listener open to the VPC only",
                )
        if access_logs_bucket is not None:
            self.load_balancer.log_access_logs(access_logs_bucket, access_logs_prefix)
        if self.certificate is None and self.pattern.certificate is not None:
            self.certificate = self.pattern.certificate

        # --- target group: health check, deregistration delay, stickiness ---------------------------
        self.target_group.configure_health_check(
            path=health_check_path,
            interval=cdk.Duration.seconds(settings.health_check_interval),
            timeout=cdk.Duration.seconds(settings.health_check_timeout),
            healthy_threshold_count=healthy_threshold_count,
            unhealthy_threshold_count=unhealthy_threshold_count,
            healthy_http_codes=health_check_matcher,
        )
        # 30 s instead of ELB's 300 s: a rolling deployment waits this long per old task; web requests
        # finish in far less, so 300 s only slows every deploy and scale-in (raise it for long uploads).
        self.target_group.set_attribute(
            "deregistration_delay.timeout_seconds", str(int(settings.deregistration_delay))
        )
        if stickiness is not None:
            self.target_group.enable_cookie_stickiness(stickiness)

        # --- autoscaling ---------------------------------------------------------------------------------
        self.scaling: ecs.ScalableTaskCount | None = None
        if max_tasks is not None:
            low = min_tasks if min_tasks is not None else min(desired_count, max_tasks)
            self.scaling = self.service.auto_scale_task_count(min_capacity=low, max_capacity=max_tasks)
            cooldowns: dict[str, Any] = {
                "scale_in_cooldown": cdk.Duration.seconds(settings.scale_in_cooldown),
                "scale_out_cooldown": cdk.Duration.seconds(settings.scale_out_cooldown),
            }
            cpu_target = cpu_target_percent
            if cpu_target is None and memory_target_percent is None and requests_per_target is None:
                cpu_target = 70  # documented default: scale on CPU at 70 % when no target is given
            if cpu_target is not None:
                self.scaling.scale_on_cpu_utilization(
                    "CpuScaling", target_utilization_percent=cpu_target, **cooldowns
                )
            if memory_target_percent is not None:
                self.scaling.scale_on_memory_utilization(
                    "MemoryScaling", target_utilization_percent=memory_target_percent, **cooldowns
                )
            if requests_per_target is not None:
                self.scaling.scale_on_request_count(
                    "RequestScaling",
                    requests_per_target=requests_per_target,
                    target_group=self.target_group,
                    **cooldowns,
                )

        # --- outputs ------------------------------------------------------------------------------------
        scheme = "https" if use_https else "http"
        host = domain_name if domain_name is not None else self.load_balancer.load_balancer_dns_name
        port = settings_port(listener_port, use_https)
        default_port = 443 if use_https else 80
        self.url: str = f"{scheme}://{host}" + ("" if port == default_port else f":{port}")
        self.url_output = cdk.CfnOutput(self, "Url", value=self.url, description="The service URL")

        self.acknowledged_nag_rules = acknowledge_service_findings(
            self,
            created_vpc=cluster is None and not settings.vpc_given,
            flow_logs=flow_logs,
            access_logs=access_logs_bucket is not None,
            public_load_balancer=public_load_balancer,
            has_environment=bool(environment),
        )


def settings_port(listener_port: int | None, https: bool) -> int:
    """The listener port: the prop, else 443 for HTTPS and 80 for HTTP (the pattern's defaults)."""
    if listener_port is not None:
        return listener_port
    return 443 if https else 80


def _asset_platform(arm64: bool) -> Any:
    from aws_cdk import aws_ecr_assets as ecr_assets

    return ecr_assets.Platform.LINUX_ARM64 if arm64 else ecr_assets.Platform.LINUX_AMD64
