"""The examples, synthesized once per session: the classic stack's exact shape, hello's shape, and
cfn-lint with no errors on every synthesized template."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")

from aws_cdk.assertions import Match, Template

pytestmark = [pytest.mark.cdk, pytest.mark.synth]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL_EXAMPLES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "cdk.json").is_file())


def stack_templates(outdir: Path) -> list[Path]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return [
        outdir / a["properties"]["templateFile"]
        for a in manifest["artifacts"].values()
        if a["type"] == "aws:cloudformation:stack"
    ]


def template(synthesized_example: Callable[[str], Path], name: str) -> Template:
    (path,) = stack_templates(synthesized_example(name))
    return Template.from_json(json.loads(path.read_text()))


def subnets_of_kind(t: Template, kind: str) -> list[Any]:
    return [
        r
        for r in t.find_resources("AWS::EC2::Subnet").values()
        if {"Key": "aws-cdk:subnet-type", "Value": kind} in r["Properties"]["Tags"]
    ]


def test_classic_exact_shape(synthesized_example: Callable[[str], Path]) -> None:
    t = template(synthesized_example, "classic")
    t.resource_count_is("AWS::EC2::VPC", 1)
    t.resource_count_is("AWS::EC2::Subnet", 4)
    assert len(subnets_of_kind(t, "Public")) == 2
    assert len(subnets_of_kind(t, "Private")) == 2
    t.resource_count_is("AWS::EC2::NatGateway", 2)
    t.resource_count_is("AWS::ECS::Cluster", 1)
    t.resource_count_is("AWS::ECS::TaskDefinition", 1)
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "256",
            "Memory": "512",
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "ContainerDefinitions": [
                Match.object_like(
                    {"Image": "nginx", "PortMappings": [Match.object_like({"ContainerPort": 80})]}
                )
            ],
        },
    )
    t.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 1)
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing", "Type": "application"}
    )
    t.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    t.resource_count_is("AWS::ElasticLoadBalancingV2::TargetGroup", 1)
    (tg_id,) = t.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup", {"TargetType": "ip", "Port": 80, "Protocol": "HTTP"}
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": tg_id}}],
        },
    )
    t.resource_count_is("AWS::ECS::Service", 1)
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 2,
            "LaunchType": "FARGATE",
            "LoadBalancers": [
                {"ContainerName": "web", "ContainerPort": 80, "TargetGroupArn": {"Ref": tg_id}}
            ],
        },
    )


def test_hello_shape(synthesized_example: Callable[[str], Path]) -> None:
    outdir = synthesized_example("hello")
    t = template(synthesized_example, "hello")
    t.resource_count_is("AWS::ECS::Service", 1)
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 2,
            "DeploymentConfiguration": Match.object_like(
                {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                    "MaximumPercent": 200,
                }
            ),
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {"HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 10, "TargetType": "ip"},
    )
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Name": "web",
                        "Environment": [{"Name": "GREETING", "Value": "Hello"}],
                        "PortMappings": [Match.object_like({"ContainerPort": 8080})],
                    }
                )
            ]
        },
    )
    t.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 4}
    )
    t.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 2)
    # the image is a Docker asset built from service/Dockerfile
    (assets_file,) = outdir.glob("*.assets.json")
    images = json.loads(assets_file.read_text())["dockerImages"]
    (image,) = images.values()
    staged = outdir / image["source"]["directory"]
    assert (staged / "Dockerfile").is_file() and (staged / "server.py").is_file()


def test_hello_carries_a_run_setting() -> None:
    from albfargate.runsettings import load_run_settings

    rs = load_run_settings(EXAMPLES / "hello")
    web = rs.container("web")
    assert web is not None
    assert web.argv == ("python3", "server.py")
    assert (web.workdir / "server.py").is_file()


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_cfn_lint_no_errors(synthesized_example: Callable[[str], Path], name: str) -> None:
    from cfnlint.api import ManualArgs, lint_file

    templates = stack_templates(synthesized_example(name))
    assert templates
    for path in templates:
        matches = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
        errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
        assert errors == [], f"{path.name}: {errors}"


def test_examples_found() -> None:
    assert {"classic", "hello"} <= set(ALL_EXAMPLES)
