"""Validation of ``LoadBalancedWebService`` props, before any resource is created.

Pure (no aws_cdk import): the construct converts its props into :class:`ServiceSettings` (durations in
seconds, ``None`` where the user set nothing) and calls :func:`validate`, which raises
:class:`ServicePropsError` with one precise message naming the prop(s). The limits are the AWS service
quotas and API ranges for ECS on Fargate, ELBv2 target groups and Application Auto Scaling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Fargate task size: cpu units -> the memory values (MiB) allowed with it.
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

_MATCHER_RE = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTAINER_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_STICKINESS_SECONDS = 7 * 24 * 3600


class ServicePropsError(ValueError):
    """A LoadBalancedWebService prop is out of range or conflicts with another one."""


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The props as plain values (durations in seconds). ``None`` = not set by the user."""

    image_given: bool = True
    directory_given: bool = False
    container_name: str = "web"
    container_port: int = 8080
    cpu: int = 256
    memory_limit_mib: int = 512
    desired_count: int = 2
    environment_names: tuple[str, ...] = ()
    secret_names: tuple[str, ...] = ()
    arm64: bool = False
    spot_weight: int = 0
    on_demand_weight: int = 1
    on_demand_base: int = 0
    listener_port: int | None = None
    https: bool = False
    certificate_arn: str | None = None
    domain_name: str | None = None
    domain_zone_given: bool = False
    redirect_http: bool | None = None
    idle_timeout: float = 60
    deregistration_delay: float = 30
    stickiness: float | None = None
    health_check_path: str = "/"
    health_check_interval: float = 15
    health_check_timeout: float = 5
    healthy_threshold_count: int = 2
    unhealthy_threshold_count: int = 3
    health_check_matcher: str = "200"
    health_check_grace_period: float = 60
    min_tasks: int | None = None
    max_tasks: int | None = None
    cpu_target_percent: float | None = None
    memory_target_percent: float | None = None
    requests_per_target: int | None = None
    scale_in_cooldown: float = 60
    scale_out_cooldown: float = 60
    circuit_breaker: bool = True
    rollback: bool = True
    min_healthy_percent: int = 100
    max_healthy_percent: int = 200
    vpc_given: bool = False
    cluster_given: bool = False
    max_azs: int | None = None
    nat_gateways: int | None = None
    public_load_balancer: bool = True


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _range(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise ServicePropsError(
            f"{name} must be between {_num(low)} and {_num(high)}{unit}, got {_num(value)}{unit}"
        )


def validate(s: ServiceSettings) -> None:
    """Raise ServicePropsError on the first out-of-range or conflicting prop."""
    # image
    if s.image_given == s.directory_given:
        raise ServicePropsError("exactly one of image and directory must be given")
    if not _CONTAINER_NAME_RE.match(s.container_name):
        raise ServicePropsError(
            f"container_name must be 1-255 letters, digits, '-' or '_', got {s.container_name!r}"
        )
    _range("container_port", s.container_port, 1, 65535)

    # task size and placement
    if s.cpu not in FARGATE_MEMORY:
        raise ServicePropsError(
            f"cpu must be one of {', '.join(map(str, FARGATE_MEMORY))} (Fargate task sizes), got {s.cpu}"
        )
    allowed = FARGATE_MEMORY[s.cpu]
    if s.memory_limit_mib not in allowed:
        raise ServicePropsError(
            f"memory_limit_mib {s.memory_limit_mib} is not valid with cpu {s.cpu}: "
            f"Fargate allows {allowed[0]}..{allowed[-1]} MiB in steps of "
            f"{allowed[1] - allowed[0] if len(allowed) > 1 else allowed[0]}"
            + (f" ({', '.join(map(str, allowed))})" if len(allowed) <= 4 else "")
        )
    _range("desired_count", s.desired_count, 0, 5000)
    for name in (*s.environment_names, *s.secret_names):
        if not _ENV_NAME_RE.match(name):
            raise ServicePropsError(f"environment/secret name {name!r} is not a valid variable name")
    overlap = sorted(set(s.environment_names) & set(s.secret_names))
    if overlap:
        raise ServicePropsError(f"{overlap[0]!r} is given both in environment and in secrets")
    _range("spot_weight", s.spot_weight, 0, 1000)
    _range("on_demand_weight", s.on_demand_weight, 0, 1000)
    _range("on_demand_base", s.on_demand_base, 0, 100000)
    if s.spot_weight > 0 and s.arm64:
        raise ServicePropsError(
            "spot_weight > 0 conflicts with arm64=True: Fargate Spot runs only X86_64 tasks"
        )
    if s.spot_weight == 0 and s.on_demand_weight == 0:
        raise ServicePropsError("spot_weight and on_demand_weight cannot both be 0")

    # load balancer and listener
    if s.listener_port is not None:
        _range("listener_port", s.listener_port, 1, 65535)
    if s.domain_name is not None and not s.domain_zone_given:
        raise ServicePropsError("domain_name needs domain_zone (the hosted zone for the DNS record)")
    if s.domain_zone_given and s.domain_name is None:
        raise ServicePropsError("domain_zone needs domain_name")
    if s.https and s.certificate_arn is None and s.domain_name is None:
        raise ServicePropsError(
            "https=True needs certificate_arn, or domain_name + domain_zone to create a certificate"
        )
    if s.certificate_arn is not None and not s.certificate_arn.startswith("arn:"):
        raise ServicePropsError(f"certificate_arn must be an ACM certificate ARN, got {s.certificate_arn!r}")
    https = s.https or s.certificate_arn is not None
    if s.redirect_http and not https:
        raise ServicePropsError(
            "redirect_http=True needs HTTPS (certificate_arn or https=True with a domain)"
        )
    if https and s.listener_port == 80 and s.redirect_http is not False:
        raise ServicePropsError(
            "listener_port 80 with HTTPS clashes with the HTTP->HTTPS redirect listener on port 80; "
            "use another port or redirect_http=False"
        )
    _range("idle_timeout", s.idle_timeout, 1, 4000, " s")
    _range("deregistration_delay", s.deregistration_delay, 0, 3600, " s")
    if s.stickiness is not None:
        _range("stickiness", s.stickiness, 1, MAX_STICKINESS_SECONDS, " s")

    # target-group health check
    if not s.health_check_path.startswith("/") or len(s.health_check_path) > 1024:
        raise ServicePropsError(
            "health_check_path must start with '/' and be at most 1024 characters, "
            f"got {s.health_check_path!r}"
        )
    _range("health_check_interval", s.health_check_interval, 5, 300, " s")
    _range("health_check_timeout", s.health_check_timeout, 2, 120, " s")
    if s.health_check_timeout >= s.health_check_interval:
        raise ServicePropsError(
            f"health_check_timeout ({s.health_check_timeout:g} s) must be smaller than "
            f"health_check_interval ({s.health_check_interval:g} s)"
        )
    _range("healthy_threshold_count", s.healthy_threshold_count, 2, 10)
    _range("unhealthy_threshold_count", s.unhealthy_threshold_count, 2, 10)
    if not _MATCHER_RE.match(s.health_check_matcher):
        raise ServicePropsError(
            "health_check_matcher must be codes like '200', '200,202' or '200-299', "
            f"got {s.health_check_matcher!r}"
        )
    for code in re.split(r"[,-]", s.health_check_matcher):
        _range("health_check_matcher code", int(code), 200, 499)
    _range("health_check_grace_period", s.health_check_grace_period, 0, 2147483647, " s")

    # autoscaling
    scaling_targets = {
        "cpu_target_percent": s.cpu_target_percent,
        "memory_target_percent": s.memory_target_percent,
        "requests_per_target": s.requests_per_target,
    }
    if s.max_tasks is None:
        given = [k for k, v in scaling_targets.items() if v is not None]
        if s.min_tasks is not None:
            given.insert(0, "min_tasks")
        if given:
            raise ServicePropsError(
                f"{given[0]} needs max_tasks (autoscaling is on only when max_tasks is set)"
            )
    else:
        min_tasks = s.min_tasks if s.min_tasks is not None else min(s.desired_count, s.max_tasks)
        _range("min_tasks", min_tasks, 0, 5000)
        _range("max_tasks", s.max_tasks, 1, 5000)
        if min_tasks > s.max_tasks:
            raise ServicePropsError(f"min_tasks ({min_tasks}) must not exceed max_tasks ({s.max_tasks})")
        if not min_tasks <= s.desired_count <= s.max_tasks:
            raise ServicePropsError(
                f"desired_count ({s.desired_count}) must be within min_tasks..max_tasks "
                f"({min_tasks}..{s.max_tasks})"
            )
        for name in ("cpu_target_percent", "memory_target_percent"):
            value = scaling_targets[name]
            if value is not None:
                _range(name, value, 1, 100, " %")
        if s.requests_per_target is not None:
            _range("requests_per_target", s.requests_per_target, 1, 1_000_000)
        _range("scale_in_cooldown", s.scale_in_cooldown, 0, 86400, " s")
        _range("scale_out_cooldown", s.scale_out_cooldown, 0, 86400, " s")

    # deployment
    if s.rollback and not s.circuit_breaker:
        raise ServicePropsError("rollback=True needs circuit_breaker=True")
    _range("min_healthy_percent", s.min_healthy_percent, 0, 100, " %")
    _range("max_healthy_percent", s.max_healthy_percent, 100, 200, " %")
    if s.min_healthy_percent == 100 and s.max_healthy_percent == 100:
        raise ServicePropsError(
            "min_healthy_percent 100 with max_healthy_percent 100 leaves no room to replace a task; "
            "raise max_healthy_percent or lower min_healthy_percent"
        )

    # network
    if s.vpc_given and s.cluster_given:
        raise ServicePropsError("give vpc or cluster, not both (the cluster already has a VPC)")
    if s.vpc_given or s.cluster_given:
        own = "vpc" if s.vpc_given else "cluster"
        if s.max_azs is not None:
            raise ServicePropsError(
                f"max_azs applies only to the VPC this construct creates; remove it or {own}"
            )
        if s.nat_gateways is not None:
            raise ServicePropsError(
                f"nat_gateways applies only to the VPC this construct creates; remove it or {own}"
            )
    if s.max_azs is not None:
        _range("max_azs", s.max_azs, 2, 6)  # an ALB needs subnets in at least two AZs
    if s.nat_gateways is not None:
        azs = s.max_azs if s.max_azs is not None else 2
        _range("nat_gateways", s.nat_gateways, 0, azs)
