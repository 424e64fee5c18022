"""cdk-nag's AwsSolutions pack on stacks of LoadBalancedWebService: no unacknowledged finding, and every
acknowledgment carries a reason and disappears when the prop that fixes it is on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

cdk = pytest.importorskip("aws_cdk")
pytest.importorskip("cdk_nag")

from aws_cdk import aws_ecs as ecs  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_ssm as ssm  # noqa: E402

from albfargate.cdk import LoadBalancedWebService  # noqa: E402
from albfargate.cdk.nag import add_aws_solutions_checks  # noqa: E402

pytestmark = pytest.mark.cdk

HELLO_SERVICE = Path(__file__).resolve().parents[2] / "examples" / "hello" / "service"


def synth_with_nag(tmp_path: Path, build: Any) -> list[str]:
    """Synthesize with AwsSolutions; returns the violations as 'rule at path' strings."""
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "Nag", env=cdk.Environment(account="123456789012", region="us-east-1"))
    build(stack)
    add_aws_solutions_checks(app)
    try:
        app.synth()
    except RuntimeError as exc:
        assert "ValidationFailed" in str(exc)
    report = tmp_path / "out" / "validation-report.json"
    found: list[str] = []
    if report.is_file():
        data = json.loads(report.read_text())
        for plugin in data.get("pluginReports", []):
            for v in plugin.get("violations", []):
                for c in v.get("violatingConstructs", []):
                    found.append(f"{v.get('ruleName')} at {c.get('constructPath')}")
    return found


def test_defaults_pass_aws_solutions(tmp_path: Path) -> None:
    assert synth_with_nag(tmp_path, lambda s: LoadBalancedWebService(s, "Web", image="nginx")) == []


def test_every_option_passes_aws_solutions(tmp_path: Path) -> None:
    def build(stack: Any) -> None:
        param = ssm.StringParameter.from_secure_string_parameter_attributes(stack, "P", parameter_name="/x")
        LoadBalancedWebService(
            stack,
            "Web",
            directory=str(HELLO_SERVICE),
            environment={"A": "1"},
            secrets={"S": ecs.Secret.from_ssm_parameter(param)},
            enable_execute_command=True,
            spot_weight=2,
            max_tasks=4,
            requests_per_target=100,
            certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
            stickiness=cdk.Duration.minutes(5),
        )
        LoadBalancedWebService(stack, "Internal", image="nginx", public_load_balancer=False, nat_gateways=0)

    assert synth_with_nag(tmp_path, build) == []


def test_acknowledgments_follow_the_props(tmp_path: Path) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    plain = LoadBalancedWebService(stack, "Plain", image="nginx")
    assert plain.acknowledged_nag_rules == ["VPC7", "ELB2", "EC23", "IAM5[Resource::*]"]
    bucket = s3.Bucket(stack, "Logs", enforce_ssl=True)
    hardened = LoadBalancedWebService(
        stack, "Hardened", image="nginx", flow_logs=True, access_logs_bucket=bucket, environment={"A": "1"}
    )
    assert hardened.acknowledged_nag_rules == ["EC23", "ECS2", "IAM5[Resource::*]"]


def test_without_acknowledgments_the_pack_reports_findings(tmp_path: Path) -> None:
    """The pack really runs: plain pattern resources (no acknowledgments) are reported."""
    from aws_cdk import aws_ecs_patterns as patterns

    def build(stack: Any) -> None:
        patterns.ApplicationLoadBalancedFargateService(
            stack,
            "Raw",
            task_image_options=patterns.ApplicationLoadBalancedTaskImageOptions(
                image=ecs.ContainerImage.from_registry("nginx")
            ),
        )

    found = synth_with_nag(tmp_path, build)
    rules = " ".join(found)
    for rule in ("AwsSolutions-VPC7", "AwsSolutions-ELB2", "AwsSolutions-EC23"):
        assert rule in rules, found
