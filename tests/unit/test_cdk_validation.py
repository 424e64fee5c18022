"""LoadBalancedWebService prop validation: a table of out-of-range and conflicting props, and the values
validation resolves for the builders (pure: LoadBalancedWebServiceProps and validate import no aws_cdk)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from albfargate.cdk.props import LoadBalancedWebServiceProps
from albfargate.cdk.validation import FARGATE_MEMORY, Resolved, ServicePropsError, validate


@dataclass(frozen=True)
class FakeDuration:
    """Stands in for aws_cdk.Duration here: validation reads a duration through its to_seconds()."""

    seconds: float

    def to_seconds(self) -> float:
        return self.seconds


def sec(value: float) -> Any:
    return FakeDuration(value)


# Stand-ins for CDK objects whose presence alone is validated (the construct tests use real ones).
VPC: Any = object()
CLUSTER: Any = object()
ZONE: Any = object()
SECRET: Any = object()

OK = LoadBalancedWebServiceProps(image="nginx")

ERRORS: list[tuple[dict[str, object], str]] = [
    ({"image": None}, "exactly one of image and directory must be given"),
    ({"directory": "/srv/app"}, "exactly one of image and directory must be given"),
    ({"container_name": "bad name"}, "container_name must be 1-255 letters"),
    ({"container_port": 0}, "container_port must be between 1 and 65535, got 0"),
    ({"container_port": 70000}, "container_port must be between 1 and 65535, got 70000"),
    (
        {"cpu": 300},
        "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 (Fargate task sizes), got 300",
    ),
    ({"memory_limit_mib": 4096}, "memory_limit_mib 4096 is not valid with cpu 256: Fargate allows 512..2048"),
    ({"cpu": 1024, "memory_limit_mib": 1024}, "memory_limit_mib 1024 is not valid with cpu 1024"),
    ({"desired_count": -1}, "desired_count must be between 0 and 5000, got -1"),
    ({"environment": {"1BAD": "x"}}, "environment/secret name '1BAD' is not a valid variable name"),
    (
        {"environment": {"A": "1"}, "secrets": {"A": SECRET}},
        "'A' is given both in environment and in secrets",
    ),
    ({"spot_weight": 1, "arm64": True}, "spot_weight > 0 conflicts with arm64=True"),
    ({"spot_weight": 1001}, "spot_weight must be between 0 and 1000"),
    ({"on_demand_weight": 0}, "spot_weight and on_demand_weight cannot both be 0"),
    ({"listener_port": 0}, "listener_port must be between 1 and 65535, got 0"),
    ({"domain_name": "a.example.com"}, "domain_name needs domain_zone"),
    ({"domain_zone": ZONE}, "domain_zone needs domain_name"),
    ({"https": True}, "https=True needs certificate_arn, or domain_name + domain_zone"),
    ({"certificate_arn": "abc"}, "certificate_arn must be an ACM certificate ARN, got 'abc'"),
    ({"redirect_http": True}, "redirect_http=True needs HTTPS"),
    ({"certificate_arn": "arn:aws:acm:x", "listener_port": 80}, "listener_port 80 with HTTPS clashes"),
    ({"idle_timeout": sec(0)}, "idle_timeout must be between 1 and 4000 s, got 0 s"),
    ({"idle_timeout": sec(4001)}, "idle_timeout must be between 1 and 4000 s, got 4001 s"),
    ({"deregistration_delay": sec(3601)}, "deregistration_delay must be between 0 and 3600 s, got 3601 s"),
    ({"stickiness": sec(0.5)}, "stickiness must be between 1 and 604800 s"),
    ({"stickiness": sec(604801)}, "stickiness must be between 1 and 604800 s"),
    ({"health_check_path": "health"}, "health_check_path must start with '/'"),
    ({"health_check_interval": sec(4)}, "health_check_interval must be between 5 and 300 s, got 4 s"),
    ({"health_check_timeout": sec(1)}, "health_check_timeout must be between 2 and 120 s, got 1 s"),
    (
        {"health_check_timeout": sec(15)},
        "health_check_timeout (15 s) must be smaller than health_check_interval (15 s)",
    ),
    ({"healthy_threshold_count": 1}, "healthy_threshold_count must be between 2 and 10, got 1"),
    ({"unhealthy_threshold_count": 11}, "unhealthy_threshold_count must be between 2 and 10, got 11"),
    (
        {"health_check_matcher": "2xx"},
        "health_check_matcher must be codes like '200', '200,202' or '200-299'",
    ),
    ({"health_check_matcher": "200-599"}, "health_check_matcher code must be between 200 and 499, got 599"),
    ({"health_check_grace_period": sec(-1)}, "health_check_grace_period must be between 0 and 2147483647 s"),
    ({"min_tasks": 1}, "min_tasks needs max_tasks"),
    ({"cpu_target_percent": 50.0}, "cpu_target_percent needs max_tasks"),
    ({"requests_per_target": 10}, "requests_per_target needs max_tasks"),
    ({"max_tasks": 0}, "max_tasks must be between 1 and 5000, got 0"),
    ({"max_tasks": 4, "min_tasks": 5}, "min_tasks (5) must not exceed max_tasks (4)"),
    ({"max_tasks": 4, "min_tasks": 3}, "desired_count (2) must be within min_tasks..max_tasks (3..4)"),
    ({"max_tasks": 4, "desired_count": 5}, "desired_count (5) must be within min_tasks..max_tasks (4..4)"),
    ({"max_tasks": 4, "cpu_target_percent": 0.0}, "cpu_target_percent must be between 1 and 100 %"),
    ({"max_tasks": 4, "memory_target_percent": 101.0}, "memory_target_percent must be between 1 and 100 %"),
    ({"max_tasks": 4, "requests_per_target": 0}, "requests_per_target must be between 1 and 1000000"),
    ({"max_tasks": 4, "scale_in_cooldown": sec(-1)}, "scale_in_cooldown must be between 0 and 86400 s"),
    ({"circuit_breaker": False}, "rollback=True needs circuit_breaker=True"),
    ({"min_healthy_percent": 101}, "min_healthy_percent must be between 0 and 100 %, got 101 %"),
    ({"max_healthy_percent": 99}, "max_healthy_percent must be between 100 and 200 %, got 99 %"),
    ({"max_healthy_percent": 201}, "max_healthy_percent must be between 100 and 200 %, got 201 %"),
    ({"max_healthy_percent": 100}, "min_healthy_percent 100 with max_healthy_percent 100 leaves no room"),
    ({"vpc": VPC, "cluster": CLUSTER}, "give vpc or cluster, not both"),
    (
        {"vpc": VPC, "max_azs": 3},
        "max_azs applies only to the VPC this construct creates; remove it or vpc",
    ),
    (
        {"cluster": CLUSTER, "nat_gateways": 0},
        "nat_gateways applies only to the VPC this construct creates",
    ),
    ({"max_azs": 1}, "max_azs must be between 2 and 6, got 1"),
    ({"nat_gateways": 3}, "nat_gateways must be between 0 and 2, got 3"),
    ({"max_azs": 3, "nat_gateways": 4}, "nat_gateways must be between 0 and 3, got 4"),
]


def test_defaults_are_valid() -> None:
    validate(OK)


@pytest.mark.parametrize(("changes", "message"), ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_validation_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ServicePropsError) as info:
        validate(replace(OK, **changes))
    assert message in str(info.value)


VALID: list[dict[str, object]] = [
    {"cpu": 512, "memory_limit_mib": 4096},
    {"cpu": 16384, "memory_limit_mib": 122880},
    {"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"},
    {"certificate_arn": "arn:aws:acm:x", "listener_port": 80, "redirect_http": False},
    {"https": True, "domain_name": "a.example.com", "domain_zone": ZONE},
    {"max_tasks": 4},
    {"max_tasks": 10, "min_tasks": 1, "cpu_target_percent": 50.0, "memory_target_percent": 80.0},
    {"desired_count": 0, "max_tasks": 3, "min_tasks": 0},
    {"circuit_breaker": False, "rollback": False},
    {"min_healthy_percent": 50, "max_healthy_percent": 100},
    {"nat_gateways": 0},
    {"max_azs": 3, "nat_gateways": 3},
    {"spot_weight": 3, "on_demand_weight": 0, "on_demand_base": 1},
    {"health_check_matcher": "200,202-204,301"},
    {"stickiness": sec(604800.0), "deregistration_delay": sec(0.0), "idle_timeout": sec(4000.0)},
    {"vpc": VPC},
    {"cluster": CLUSTER},
]


@pytest.mark.parametrize("changes", VALID)
def test_valid_combinations(changes: dict[str, object]) -> None:
    validate(replace(OK, **changes))


def test_memory_table_matches_fargate_docs() -> None:
    assert FARGATE_MEMORY[256] == (512, 1024, 2048)
    assert FARGATE_MEMORY[512] == (1024, 2048, 3072, 4096)
    assert FARGATE_MEMORY[4096][0] == 8192 and FARGATE_MEMORY[4096][-1] == 30720
    assert FARGATE_MEMORY[8192][1] - FARGATE_MEMORY[8192][0] == 4096
    assert FARGATE_MEMORY[16384][1] - FARGATE_MEMORY[16384][0] == 8192


@pytest.mark.parametrize("value", [60, 60.0, "60s"])
def test_a_duration_prop_must_be_a_duration(value: object) -> None:
    with pytest.raises(TypeError, match=r"idle_timeout must be an aws_cdk\.Duration, got "):
        validate(replace(OK, idle_timeout=value))  # type: ignore[arg-type]


def test_resolved_defaults() -> None:
    assert validate(OK) == Resolved(
        idle_timeout=60,
        deregistration_delay=30,
        stickiness=None,
        health_check_interval=15,
        health_check_timeout=5,
        health_check_grace_period=60,
        scale_in_cooldown=60,
        scale_out_cooldown=60,
        https=False,
        redirect_http=False,
        listener_port=80,
        created_vpc=True,
        max_azs=2,
        nat_gateways=1,
        tasks_public=False,
        min_tasks=None,
        cpu_target_percent=None,
    )
    assert validate(OK).url_port == ""


CERT = "arn:aws:acm:us-east-1:1:certificate/x"

RESOLVED: list[tuple[dict[str, object], dict[str, object]]] = [
    ({"idle_timeout": sec(120), "stickiness": sec(600)}, {"idle_timeout": 120, "stickiness": 600}),
    ({"certificate_arn": CERT}, {"https": True, "redirect_http": True, "listener_port": 443, "url_port": ""}),
    (
        {"certificate_arn": CERT, "redirect_http": False, "listener_port": 8443},
        {"https": True, "redirect_http": False, "listener_port": 8443, "url_port": ":8443"},
    ),
    (
        {"https": True, "domain_name": "a.example.com", "domain_zone": ZONE},
        {"https": True, "listener_port": 443},
    ),
    ({"listener_port": 8080}, {"https": False, "listener_port": 8080, "url_port": ":8080"}),
    ({"max_tasks": 4}, {"min_tasks": 2, "cpu_target_percent": 70}),
    ({"max_tasks": 8, "desired_count": 5}, {"min_tasks": 5, "cpu_target_percent": 70}),
    ({"max_tasks": 4, "cpu_target_percent": 55.0}, {"min_tasks": 2, "cpu_target_percent": 55}),
    ({"max_tasks": 4, "requests_per_target": 100}, {"cpu_target_percent": None}),
    ({"max_tasks": 4, "memory_target_percent": 80.0}, {"cpu_target_percent": None}),
    ({"nat_gateways": 0}, {"nat_gateways": 0, "tasks_public": True, "created_vpc": True}),
    ({"max_azs": 3, "nat_gateways": 2}, {"max_azs": 3, "nat_gateways": 2, "tasks_public": False}),
    ({"vpc": VPC}, {"created_vpc": False}),
    ({"cluster": CLUSTER}, {"created_vpc": False}),
]


@pytest.mark.parametrize(("changes", "expected"), RESOLVED)
def test_resolved_values(changes: dict[str, object], expected: dict[str, object]) -> None:
    resolved = validate(replace(OK, **changes))  # type: ignore[arg-type]
    assert {name: getattr(resolved, name) for name in expected} == expected
