"""LoadBalancedWebService prop validation: a table of out-of-range and conflicting props (pure, no jsii)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from albfargate.cdk.validation import FARGATE_MEMORY, ServicePropsError, ServiceSettings, validate

OK = ServiceSettings()

ERRORS: list[tuple[dict[str, object], str]] = [
    ({"image_given": False}, "exactly one of image and directory must be given"),
    ({"directory_given": True}, "exactly one of image and directory must be given"),
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
    ({"environment_names": ("1BAD",)}, "environment/secret name '1BAD' is not a valid variable name"),
    (
        {"environment_names": ("A",), "secret_names": ("A",)},
        "'A' is given both in environment and in secrets",
    ),
    ({"spot_weight": 1, "arm64": True}, "spot_weight > 0 conflicts with arm64=True"),
    ({"spot_weight": 1001}, "spot_weight must be between 0 and 1000"),
    ({"on_demand_weight": 0}, "spot_weight and on_demand_weight cannot both be 0"),
    ({"listener_port": 0}, "listener_port must be between 1 and 65535, got 0"),
    ({"domain_name": "a.example.com"}, "domain_name needs domain_zone"),
    ({"domain_zone_given": True}, "domain_zone needs domain_name"),
    ({"https": True}, "https=True needs certificate_arn, or domain_name + domain_zone"),
    ({"certificate_arn": "abc"}, "certificate_arn must be an ACM certificate ARN, got 'abc'"),
    ({"redirect_http": True}, "redirect_http=True needs HTTPS"),
    ({"certificate_arn": "arn:aws:acm:x", "listener_port": 80}, "listener_port 80 with HTTPS clashes"),
    ({"idle_timeout": 0}, "idle_timeout must be between 1 and 4000 s, got 0 s"),
    ({"idle_timeout": 4001}, "idle_timeout must be between 1 and 4000 s, got 4001 s"),
    ({"deregistration_delay": 3601}, "deregistration_delay must be between 0 and 3600 s, got 3601 s"),
    ({"stickiness": 0.5}, "stickiness must be between 1 and 604800 s"),
    ({"stickiness": 604801}, "stickiness must be between 1 and 604800 s"),
    ({"health_check_path": "health"}, "health_check_path must start with '/'"),
    ({"health_check_interval": 4}, "health_check_interval must be between 5 and 300 s, got 4 s"),
    ({"health_check_timeout": 1}, "health_check_timeout must be between 2 and 120 s, got 1 s"),
    (
        {"health_check_timeout": 15},
        "health_check_timeout (15 s) must be smaller than health_check_interval (15 s)",
    ),
    ({"healthy_threshold_count": 1}, "healthy_threshold_count must be between 2 and 10, got 1"),
    ({"unhealthy_threshold_count": 11}, "unhealthy_threshold_count must be between 2 and 10, got 11"),
    (
        {"health_check_matcher": "2xx"},
        "health_check_matcher must be codes like '200', '200,202' or '200-299'",
    ),
    ({"health_check_matcher": "200-599"}, "health_check_matcher code must be between 200 and 499, got 599"),
    ({"health_check_grace_period": -1}, "health_check_grace_period must be between 0 and 2147483647 s"),
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
    ({"max_tasks": 4, "scale_in_cooldown": -1}, "scale_in_cooldown must be between 0 and 86400 s"),
    ({"circuit_breaker": False}, "rollback=True needs circuit_breaker=True"),
    ({"min_healthy_percent": 101}, "min_healthy_percent must be between 0 and 100 %, got 101 %"),
    ({"max_healthy_percent": 99}, "max_healthy_percent must be between 100 and 200 %, got 99 %"),
    ({"max_healthy_percent": 201}, "max_healthy_percent must be between 100 and 200 %, got 201 %"),
    ({"max_healthy_percent": 100}, "min_healthy_percent 100 with max_healthy_percent 100 leaves no room"),
    ({"vpc_given": True, "cluster_given": True}, "give vpc or cluster, not both"),
    (
        {"vpc_given": True, "max_azs": 3},
        "max_azs applies only to the VPC this construct creates; remove it or vpc",
    ),
    (
        {"cluster_given": True, "nat_gateways": 0},
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
        validate(replace(OK, **changes))  # type: ignore[arg-type]
    assert message in str(info.value)


VALID: list[dict[str, object]] = [
    {"cpu": 512, "memory_limit_mib": 4096},
    {"cpu": 16384, "memory_limit_mib": 122880},
    {"certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"},
    {"certificate_arn": "arn:aws:acm:x", "listener_port": 80, "redirect_http": False},
    {"https": True, "domain_name": "a.example.com", "domain_zone_given": True},
    {"max_tasks": 4},
    {"max_tasks": 10, "min_tasks": 1, "cpu_target_percent": 50.0, "memory_target_percent": 80.0},
    {"desired_count": 0, "max_tasks": 3, "min_tasks": 0},
    {"circuit_breaker": False, "rollback": False},
    {"min_healthy_percent": 50, "max_healthy_percent": 100},
    {"nat_gateways": 0},
    {"max_azs": 3, "nat_gateways": 3},
    {"spot_weight": 3, "on_demand_weight": 0, "on_demand_base": 1},
    {"health_check_matcher": "200,202-204,301"},
    {"stickiness": 604800.0, "deregistration_delay": 0.0, "idle_timeout": 4000.0},
    {"vpc_given": True},
    {"cluster_given": True},
]


@pytest.mark.parametrize("changes", VALID)
def test_valid_combinations(changes: dict[str, object]) -> None:
    validate(replace(OK, **changes))  # type: ignore[arg-type]


def test_memory_table_matches_fargate_docs() -> None:
    assert FARGATE_MEMORY[256] == (512, 1024, 2048)
    assert FARGATE_MEMORY[512] == (1024, 2048, 3072, 4096)
    assert FARGATE_MEMORY[4096][0] == 8192 and FARGATE_MEMORY[4096][-1] == 30720
    assert FARGATE_MEMORY[8192][1] - FARGATE_MEMORY[8192][0] == 4096
    assert FARGATE_MEMORY[16384][1] - FARGATE_MEMORY[16384][0] == 8192
