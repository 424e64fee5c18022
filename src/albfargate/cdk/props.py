"""``LoadBalancedWebServiceProps``: every option of ``LoadBalancedWebService``, its type and its default.

The one list of the construct's options, as aws-cdk's ``ApplicationLoadBalancedServiceBaseProps`` is for
its patterns: the construct's keyword arguments are typed from these fields, ``validation.py`` checks them
and the builders read them. Pure at run time: the aws_cdk types are imported for type checking only, so
the props can be made and validated without aws_cdk and its jsii kernel. Options that default to ``None``
say in their docstring what ``None`` means (as aws-cdk's ``@default`` does); ``docs/define.md`` has the
same options as tables (a unit test keeps the two lists equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_ecs as ecs
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_route53 as route53
    from aws_cdk import aws_s3 as s3


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadBalancedWebServiceProps:
    """The options of ``LoadBalancedWebService``; durations are ``aws_cdk.Duration``."""

    # --- container -------------------------------------------------------------------------------------
    image: ecs.ContainerImage | str | None = None
    """The container image: an ``ecs.ContainerImage``, or a string for ``ContainerImage.from_registry``.
    Exactly one of ``image`` and ``directory``. Default: none."""
    directory: str | None = None
    """A folder with a Dockerfile, built as a Docker image asset (its platform follows ``arm64``).
    Default: none."""
    container_name: str = "web"
    """The container's name (the local run setting refers to it). Default: ``"web"``."""
    container_port: int = 8080
    """The port the container listens on, 1..65535. Default: 8080."""
    environment: Mapping[str, str] | None = None
    """Plain environment variables (non-secret configuration). Default: none."""
    secrets: Mapping[str, ecs.Secret] | None = None
    """``ecs.Secret`` values (Secrets Manager or SSM) by variable name; a name may not also be in
    ``environment``. Default: none."""
    command: Sequence[str] | None = None
    """The container command. Default: the image's own."""

    # --- task ------------------------------------------------------------------------------------------
    cpu: int = 256
    """Task CPU units, a Fargate size (256, 512, 1024, ...). Default: 256."""
    memory_limit_mib: int = 512
    """Task memory, a value Fargate allows with ``cpu`` (256: 512/1024/2048; 1024: 2048..8192 by 1024).
    Default: 512."""
    desired_count: int = 2
    """Tasks to run, 0..5000; within ``min_tasks..max_tasks`` when autoscaling. Default: 2."""
    arm64: bool = False
    """Run on ARM64 (Graviton) instead of X86_64. Default: False."""
    spot_weight: int = 0
    """More than 0 adds a FARGATE_SPOT capacity provider with this weight (not with ``arm64``).
    Default: 0 (no Spot)."""
    on_demand_weight: int = 1
    """The FARGATE capacity provider's weight when Spot is used. Default: 1."""
    on_demand_base: int = 0
    """The FARGATE capacity provider's base when Spot is used. Default: 0."""
    log_retention: logs.RetentionDays | None = None
    """Retention of the log group created for the container (removed with the stack).
    Default: ``RetentionDays.ONE_MONTH``."""
    enable_execute_command: bool = False
    """ECS Exec. Default: False."""

    # --- load balancer and listener ---------------------------------------------------------------------
    public_load_balancer: bool = True
    """An internet-facing ALB; False makes an internal ALB whose listeners are open to the VPC CIDR only.
    Default: True."""
    listener_port: int | None = None
    """The listener port, 1..65535. Default: 80, or 443 with HTTPS."""
    https: bool = False
    """An HTTPS listener: with the certificate of ``certificate_arn``, else with a DNS-validated one created
    for ``domain_name``. Default: False (``certificate_arn`` alone turns HTTPS on too)."""
    certificate_arn: str | None = None
    """An ACM certificate ARN: an HTTPS listener with this certificate. Default: none."""
    domain_name: str | None = None
    """A domain name for the service: an alias record in ``domain_zone`` (and its certificate with
    ``https``). Needs ``domain_zone``. Default: none."""
    domain_zone: route53.IHostedZone | None = None
    """The hosted zone of ``domain_name``. Default: none."""
    redirect_http: bool | None = None
    """Port 80 redirects (301) to HTTPS; True without HTTPS is an error.
    Default: True with HTTPS, else False."""
    idle_timeout: cdk.Duration | None = None
    """The ALB's idle timeout, 1..4000 s. Default: 60 s."""
    deregistration_delay: cdk.Duration | None = None
    """The target group's deregistration delay, 0..3600 s. ELB's own default is 300 s; a rolling deployment
    and every scale-in wait this long per old task, and web requests finish far sooner (raise it for long
    uploads or streams). Default: 30 s."""
    stickiness: cdk.Duration | None = None
    """Turns on load-balancer cookie stickiness for this long, 1 s..7 days. Default: off."""

    # --- target-group health check ------------------------------------------------------------------
    health_check_path: str = "/"
    """Starts with ``/``, at most 1024 characters. Default: ``"/"``."""
    health_check_interval: cdk.Duration | None = None
    """5..300 s. Default: 15 s."""
    health_check_timeout: cdk.Duration | None = None
    """2..120 s, smaller than the interval. Default: 5 s."""
    healthy_threshold_count: int = 2
    """2..10. Default: 2."""
    unhealthy_threshold_count: int = 3
    """2..10. Default: 3."""
    health_check_matcher: str = "200"
    """HTTP codes 200..499 as ``"200"``, ``"200,202"`` or ``"200-299"``. Default: ``"200"``."""
    health_check_grace_period: cdk.Duration | None = None
    """The service ignores ALB health for this long after a task starts. Default: 60 s."""

    # --- autoscaling (on when max_tasks is set) ---------------------------------------------------------
    min_tasks: int | None = None
    """The fewest tasks, at most ``max_tasks``. Default: ``min(desired_count, max_tasks)``."""
    max_tasks: int | None = None
    """The most tasks, 1..5000; setting it turns autoscaling on (any other scaling option without it is an
    error). Default: none (no autoscaling)."""
    cpu_target_percent: float | None = None
    """Target tracking on average CPU, 1..100 %. Default: 70 when no target is given, else off."""
    memory_target_percent: float | None = None
    """Target tracking on average memory, 1..100 %. Default: off."""
    requests_per_target: int | None = None
    """Target tracking on ALBRequestCountPerTarget, 1..1000000. Default: off."""
    scale_in_cooldown: cdk.Duration | None = None
    """0..86400 s. Default: 60 s."""
    scale_out_cooldown: cdk.Duration | None = None
    """0..86400 s. Default: 60 s."""

    # --- deployment --------------------------------------------------------------------------------
    circuit_breaker: bool = True
    """The deployment circuit breaker. Default: True."""
    rollback: bool = True
    """Roll back a failed deployment (needs ``circuit_breaker``). Default: True."""
    min_healthy_percent: int = 100
    """0..100 %. CDK's own default is 50 (aws-cdk #31705); 100 keeps full capacity during deploys.
    Default: 100."""
    max_healthy_percent: int = 200
    """100..200 %; 100 with ``min_healthy_percent`` 100 is rejected (no room to replace a task).
    Default: 200."""

    # --- network -------------------------------------------------------------------------------------
    vpc: ec2.IVpc | None = None
    """The VPC, not with ``cluster``. Default: a new VPC (see ``max_azs``, ``nat_gateways``)."""
    cluster: ecs.ICluster | None = None
    """The cluster (its VPC is used). Default: a new cluster with Container Insights (see
    ``container_insights``) and the Fargate capacity providers."""
    max_azs: int | None = None
    """AZs of the VPC created here, 2..6 (an ALB needs two). Default: 2."""
    nat_gateways: int | None = None
    """NAT gateways of the VPC created here, 0..``max_azs``. 0 puts the tasks in public subnets with a
    public IP and gives the VPC isolated subnets instead of private ones. Default: 1 (one NAT, ~32 USD a
    month plus data, instead of one per AZ)."""
    flow_logs: bool = False
    """VPC flow logs to CloudWatch Logs, for the VPC created here. Default: False."""
    access_logs_bucket: s3.IBucket | None = None
    """ALB access logs to this bucket (needs a stack with a region). Default: off."""
    access_logs_prefix: str | None = None
    """The key prefix of the access logs. Default: none."""
    container_insights: bool = True
    """Container Insights for the cluster created here. Default: True."""
    service_name: str | None = None
    """The ECS service name. Default: generated by CloudFormation."""
