"""Validation of ``LoadBalancedWebServiceProps``, before any resource is created, and what follows from it.

Pure (no aws_cdk import): :func:`validate` reads the props (durations through their ``to_seconds()``),
raises :class:`ServicePropsError` with one precise message naming the prop(s), or returns
:class:`Resolved`: the values the builders use that are not props as given (durations in seconds with their
defaults, the listener port, HTTPS and the redirect, the VPC shape, the scaling bounds). The limits are the
AWS service quotas and API ranges for ECS on Fargate, ELBv2 target groups and Application Auto Scaling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from albfargate.cdk.props import LoadBalancedWebServiceProps

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
DEFAULT_CPU_TARGET_PERCENT = 70.0  # target tracking on CPU when max_tasks is set and no target is given


class ServicePropsError(ValueError):
    """A LoadBalancedWebService prop is out of range or conflicts with another one."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the builders use besides the props as given: the documented defaults applied, and what follows
    from several props together. Durations are in seconds."""

    idle_timeout: float
    deregistration_delay: float
    stickiness: float | None  # None: stickiness off
    health_check_interval: float
    health_check_timeout: float
    health_check_grace_period: float
    scale_in_cooldown: float
    scale_out_cooldown: float
    https: bool  # https=True or a certificate_arn
    redirect_http: bool  # the HTTP->HTTPS redirect listener on port 80
    listener_port: int  # the prop, else 443 with HTTPS, else 80
    created_vpc: bool  # no vpc and no cluster given: the construct creates the VPC
    max_azs: int
    nat_gateways: int
    tasks_public: bool  # nat_gateways=0: tasks in public subnets with a public IP
    min_tasks: int | None  # None: no autoscaling (max_tasks not set)
    cpu_target_percent: float | None  # with the default of 70 when autoscaling has no target

    @property
    def url_port(self) -> str:
        """``:port`` for the service URL, or ``""`` when the port is the scheme's default."""
        return "" if self.listener_port == (443 if self.https else 80) else f":{self.listener_port}"


def seconds(name: str, value: object, default: float) -> float:
    """A duration prop in seconds (``default`` when unset); TypeError when it is not an aws_cdk.Duration."""
    if value is None:
        return default
    to_seconds = getattr(value, "to_seconds", None)
    if not callable(to_seconds):
        raise TypeError(f"{name} must be an aws_cdk.Duration, got {type(value).__name__}")
    return float(to_seconds())


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _range(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    if not low <= value <= high:
        raise ServicePropsError(
            f"{name} must be between {_num(low)} and {_num(high)}{unit}, got {_num(value)}{unit}"
        )


def validate(props: LoadBalancedWebServiceProps) -> Resolved:
    """Check the props (ServicePropsError on the first out-of-range or conflicting one; TypeError for a
    duration that is not an aws_cdk.Duration) and return what follows from them."""
    p = props
    stickiness = None if p.stickiness is None else seconds("stickiness", p.stickiness, 0)
    durations = {
        "idle_timeout": seconds("idle_timeout", p.idle_timeout, 60),
        "deregistration_delay": seconds("deregistration_delay", p.deregistration_delay, 30),
        "health_check_interval": seconds("health_check_interval", p.health_check_interval, 15),
        "health_check_timeout": seconds("health_check_timeout", p.health_check_timeout, 5),
        "health_check_grace_period": seconds("health_check_grace_period", p.health_check_grace_period, 60),
        "scale_in_cooldown": seconds("scale_in_cooldown", p.scale_in_cooldown, 60),
        "scale_out_cooldown": seconds("scale_out_cooldown", p.scale_out_cooldown, 60),
    }
    _check_container(p)
    _check_task(p)
    https = p.https or p.certificate_arn is not None
    _check_load_balancer(p, https, durations, stickiness)
    _check_health_check(p, durations)
    min_tasks = _check_scaling(p, durations)
    _check_deployment(p)
    _check_network(p)
    cpu_target = p.cpu_target_percent
    no_target = (
        p.cpu_target_percent is None and p.memory_target_percent is None and p.requests_per_target is None
    )
    if p.max_tasks is not None and no_target:
        cpu_target = DEFAULT_CPU_TARGET_PERCENT
    nat_gateways = 1 if p.nat_gateways is None else p.nat_gateways
    return Resolved(
        **durations,
        stickiness=stickiness,
        https=https,
        redirect_http=https if p.redirect_http is None else p.redirect_http,
        listener_port=p.listener_port if p.listener_port is not None else (443 if https else 80),
        created_vpc=p.vpc is None and p.cluster is None,
        max_azs=2 if p.max_azs is None else p.max_azs,
        nat_gateways=nat_gateways,
        tasks_public=p.nat_gateways == 0,
        min_tasks=min_tasks,
        cpu_target_percent=cpu_target,
    )


def _check_container(p: LoadBalancedWebServiceProps) -> None:
    if (p.image is None) == (p.directory is None):
        raise ServicePropsError("exactly one of image and directory must be given")
    if not _CONTAINER_NAME_RE.match(p.container_name):
        raise ServicePropsError(
            f"container_name must be 1-255 letters, digits, '-' or '_', got {p.container_name!r}"
        )
    _range("container_port", p.container_port, 1, 65535)
    environment, secrets = tuple(p.environment or {}), tuple(p.secrets or {})
    for name in (*environment, *secrets):
        if not _ENV_NAME_RE.match(name):
            raise ServicePropsError(f"environment/secret name {name!r} is not a valid variable name")
    overlap = sorted(set(environment) & set(secrets))
    if overlap:
        raise ServicePropsError(f"{overlap[0]!r} is given both in environment and in secrets")


def _check_task(p: LoadBalancedWebServiceProps) -> None:
    """Task size and placement."""
    if p.cpu not in FARGATE_MEMORY:
        raise ServicePropsError(
            f"cpu must be one of {', '.join(map(str, FARGATE_MEMORY))} (Fargate task sizes), got {p.cpu}"
        )
    allowed = FARGATE_MEMORY[p.cpu]
    if p.memory_limit_mib not in allowed:
        raise ServicePropsError(
            f"memory_limit_mib {p.memory_limit_mib} is not valid with cpu {p.cpu}: "
            f"Fargate allows {allowed[0]}..{allowed[-1]} MiB in steps of "
            f"{allowed[1] - allowed[0] if len(allowed) > 1 else allowed[0]}"
            + (f" ({', '.join(map(str, allowed))})" if len(allowed) <= 4 else "")
        )
    _range("desired_count", p.desired_count, 0, 5000)
    _range("spot_weight", p.spot_weight, 0, 1000)
    _range("on_demand_weight", p.on_demand_weight, 0, 1000)
    _range("on_demand_base", p.on_demand_base, 0, 100000)
    if p.spot_weight > 0 and p.arm64:
        raise ServicePropsError(
            "spot_weight > 0 conflicts with arm64=True: Fargate Spot runs only X86_64 tasks"
        )
    if p.spot_weight == 0 and p.on_demand_weight == 0:
        raise ServicePropsError("spot_weight and on_demand_weight cannot both be 0")


def _check_load_balancer(
    p: LoadBalancedWebServiceProps, https: bool, durations: dict[str, float], stickiness: float | None
) -> None:
    """The load balancer, its listener and the target group's attributes."""
    if p.listener_port is not None:
        _range("listener_port", p.listener_port, 1, 65535)
    if p.domain_name is not None and p.domain_zone is None:
        raise ServicePropsError("domain_name needs domain_zone (the hosted zone for the DNS record)")
    if p.domain_zone is not None and p.domain_name is None:
        raise ServicePropsError("domain_zone needs domain_name")
    if p.https and p.certificate_arn is None and p.domain_name is None:
        raise ServicePropsError(
            "https=True needs certificate_arn, or domain_name + domain_zone to create a certificate"
        )
    if p.certificate_arn is not None and not p.certificate_arn.startswith("arn:"):
        raise ServicePropsError(f"certificate_arn must be an ACM certificate ARN, got {p.certificate_arn!r}")
    if p.redirect_http and not https:
        raise ServicePropsError(
            "redirect_http=True needs HTTPS (certificate_arn or https=True with a domain)"
        )
    if https and p.listener_port == 80 and p.redirect_http is not False:
        raise ServicePropsError(
            "listener_port 80 with HTTPS clashes with the HTTP->HTTPS redirect listener on port 80; "
            "use another port or redirect_http=False"
        )
    _range("idle_timeout", durations["idle_timeout"], 1, 4000, " s")
    _range("deregistration_delay", durations["deregistration_delay"], 0, 3600, " s")
    if stickiness is not None:
        _range("stickiness", stickiness, 1, MAX_STICKINESS_SECONDS, " s")


def _check_health_check(p: LoadBalancedWebServiceProps, durations: dict[str, float]) -> None:
    """The target group's health check."""
    if not p.health_check_path.startswith("/") or len(p.health_check_path) > 1024:
        raise ServicePropsError(
            "health_check_path must start with '/' and be at most 1024 characters, "
            f"got {p.health_check_path!r}"
        )
    interval, timeout = durations["health_check_interval"], durations["health_check_timeout"]
    _range("health_check_interval", interval, 5, 300, " s")
    _range("health_check_timeout", timeout, 2, 120, " s")
    if timeout >= interval:
        raise ServicePropsError(
            f"health_check_timeout ({timeout:g} s) must be smaller than "
            f"health_check_interval ({interval:g} s)"
        )
    _range("healthy_threshold_count", p.healthy_threshold_count, 2, 10)
    _range("unhealthy_threshold_count", p.unhealthy_threshold_count, 2, 10)
    if not _MATCHER_RE.match(p.health_check_matcher):
        raise ServicePropsError(
            "health_check_matcher must be codes like '200', '200,202' or '200-299', "
            f"got {p.health_check_matcher!r}"
        )
    for code in re.split(r"[,-]", p.health_check_matcher):
        _range("health_check_matcher code", int(code), 200, 499)
    _range("health_check_grace_period", durations["health_check_grace_period"], 0, 2147483647, " s")


def _check_scaling(p: LoadBalancedWebServiceProps, durations: dict[str, float]) -> int | None:
    """Autoscaling; returns min_tasks with its default, or None when autoscaling is off."""
    targets = {
        "cpu_target_percent": p.cpu_target_percent,
        "memory_target_percent": p.memory_target_percent,
        "requests_per_target": p.requests_per_target,
    }
    if p.max_tasks is None:
        given = [k for k, v in targets.items() if v is not None]
        if p.min_tasks is not None:
            given.insert(0, "min_tasks")
        if given:
            raise ServicePropsError(
                f"{given[0]} needs max_tasks (autoscaling is on only when max_tasks is set)"
            )
        return None
    min_tasks = p.min_tasks if p.min_tasks is not None else min(p.desired_count, p.max_tasks)
    _range("min_tasks", min_tasks, 0, 5000)
    _range("max_tasks", p.max_tasks, 1, 5000)
    if min_tasks > p.max_tasks:
        raise ServicePropsError(f"min_tasks ({min_tasks}) must not exceed max_tasks ({p.max_tasks})")
    if not min_tasks <= p.desired_count <= p.max_tasks:
        raise ServicePropsError(
            f"desired_count ({p.desired_count}) must be within min_tasks..max_tasks "
            f"({min_tasks}..{p.max_tasks})"
        )
    for name in ("cpu_target_percent", "memory_target_percent"):
        value = targets[name]
        if value is not None:
            _range(name, value, 1, 100, " %")
    if p.requests_per_target is not None:
        _range("requests_per_target", p.requests_per_target, 1, 1_000_000)
    _range("scale_in_cooldown", durations["scale_in_cooldown"], 0, 86400, " s")
    _range("scale_out_cooldown", durations["scale_out_cooldown"], 0, 86400, " s")
    return min_tasks


def _check_deployment(p: LoadBalancedWebServiceProps) -> None:
    if p.rollback and not p.circuit_breaker:
        raise ServicePropsError("rollback=True needs circuit_breaker=True")
    _range("min_healthy_percent", p.min_healthy_percent, 0, 100, " %")
    _range("max_healthy_percent", p.max_healthy_percent, 100, 200, " %")
    if p.min_healthy_percent == 100 and p.max_healthy_percent == 100:
        raise ServicePropsError(
            "min_healthy_percent 100 with max_healthy_percent 100 leaves no room to replace a task; "
            "raise max_healthy_percent or lower min_healthy_percent"
        )


def _check_network(p: LoadBalancedWebServiceProps) -> None:
    if p.vpc is not None and p.cluster is not None:
        raise ServicePropsError("give vpc or cluster, not both (the cluster already has a VPC)")
    if p.vpc is not None or p.cluster is not None:
        own = "vpc" if p.vpc is not None else "cluster"
        if p.max_azs is not None:
            raise ServicePropsError(
                f"max_azs applies only to the VPC this construct creates; remove it or {own}"
            )
        if p.nat_gateways is not None:
            raise ServicePropsError(
                f"nat_gateways applies only to the VPC this construct creates; remove it or {own}"
            )
    if p.max_azs is not None:
        _range("max_azs", p.max_azs, 2, 6)  # an ALB needs subnets in at least two AZs
    if p.nat_gateways is not None:
        azs = p.max_azs if p.max_azs is not None else 2
        _range("nat_gateways", p.nat_gateways, 0, azs)
