"""Every cloud assembly of the AWS CDK's own aws-ecs-patterns integration tests loads; per assembly the
numbers of load balancers, listeners, rules, target groups, services and containers match the templates
(counted here straight from the JSON), every reference between them resolves inside the model, and the
assertion stacks' resources (custom resources included) are listed as not emulated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import load_assembly
from albfargate.model import LoadBalancerType, Scheme, SystemModel
from tests.conftest import CORPORA

pytestmark = pytest.mark.corpora

INTEG = CORPORA / "aws-cdk-integ"
NAMES = sorted(p.name for p in INTEG.iterdir() if (p / "manifest.json").is_file()) if INTEG.is_dir() else []
EMULATED_PREFIXES = ("AWS::ElasticLoadBalancingV2::", "AWS::ECS::", "AWS::ApplicationAutoScaling::")
EMULATED = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ECS::Cluster",
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
}


def _templates(folder: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    out = {}
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] == "aws:cloudformation:stack":
            name = artifact.get("properties", {}).get("stackName", artifact_id)
            out[name] = json.loads((folder / artifact["properties"]["templateFile"]).read_text())
    return out


def _count(templates: dict[str, dict[str, Any]], rtype: str) -> int:
    return sum(
        1 for t in templates.values() for r in (t.get("Resources") or {}).values() if r["Type"] == rtype
    )


@pytest.fixture(params=NAMES)
def corpus(request: pytest.FixtureRequest, corpora: Path) -> tuple[str, SystemModel, dict[str, Any]]:
    folder = corpora / "aws-cdk-integ" / request.param
    return request.param, load_assembly(folder), _templates(folder)


def test_there_are_assemblies(corpora: Path) -> None:
    assert len(NAMES) >= 12


def test_counts_match_templates(corpus: tuple[str, SystemModel, dict[str, Any]]) -> None:
    _, model, templates = corpus
    assert set(model.stacks) == set(templates)
    assert len(model.load_balancers) == _count(templates, "AWS::ElasticLoadBalancingV2::LoadBalancer") >= 1
    assert len(model.listeners) == _count(templates, "AWS::ElasticLoadBalancingV2::Listener") >= 1
    assert len(model.rules) == _count(templates, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert len(model.target_groups) == _count(templates, "AWS::ElasticLoadBalancingV2::TargetGroup") >= 1
    assert len(model.services) == _count(templates, "AWS::ECS::Service") >= 1
    assert len(model.clusters) == _count(templates, "AWS::ECS::Cluster")
    containers = sum(
        len(r["Properties"]["ContainerDefinitions"])
        for t in templates.values()
        for r in (t.get("Resources") or {}).values()
        if r["Type"] == "AWS::ECS::TaskDefinition"
    )
    assert sum(len(td.containers) for td in model.task_definitions) == containers >= 1
    other = sum(
        1
        for t in templates.values()
        for r in (t.get("Resources") or {}).values()
        if r["Type"] not in EMULATED
    )
    assert len(model.not_emulated) == other


def test_references_resolve_inside_the_model(corpus: tuple[str, SystemModel, dict[str, Any]]) -> None:
    _, model, _ = corpus
    lbs = {lb.arn for lb in model.load_balancers}
    tgs = {tg.arn for tg in model.target_groups}
    for listener in model.listeners:
        assert listener.load_balancer_arn in lbs
        for action in listener.default_actions:
            for t in getattr(action, "target_groups", ()):
                assert t.target_group_arn in tgs
    for svc in model.services:
        assert model.task_definition(svc.task_definition_arn) is not None
        assert svc.cluster_arn in {c.arn for c in model.clusters}
        for link in svc.load_balancers:
            assert link.target_group_arn in tgs
            td = model.task_definition(svc.task_definition_arn)
            assert td is not None
            container = td.container(link.container_name)
            assert container is not None
            assert link.container_port in {p.container_port for p in container.port_mappings}
    for lb in model.load_balancers:
        assert len(lb.name) <= 32 and lb.arn.endswith(f"/{lb.name}/{lb.lb_id}")


def test_assertion_stacks_are_not_emulated(corpus: tuple[str, SystemModel, dict[str, Any]]) -> None:
    _, model, templates = corpus
    asserts = [name for name in templates if "DeployAssert" in name]
    assert asserts, "every integ assembly carries a DeployAssert stack"
    listed = {(n.stack, n.logical_id): n for n in model.not_emulated}
    for stack in asserts:
        for logical_id, resource in (templates[stack].get("Resources") or {}).items():
            entry = listed[(stack, logical_id)]
            assert entry.type == resource["Type"]
            if resource["Type"].startswith("Custom::"):
                assert entry.reason == "custom resource: not emulated"


def test_custom_resource_of_smart_defaults_is_listed(corpora: Path) -> None:
    model = load_assembly(corpora / "aws-cdk-integ" / "alb-fargate-service-smart-defaults")
    custom = [n for n in model.not_emulated if n.type.startswith("Custom::DeployAssert")]
    assert len(custom) == 1 and custom[0].reason == "custom resource: not emulated"


def test_specific_settings_are_read(corpora: Path) -> None:
    def load(name: str) -> SystemModel:
        return load_assembly(corpora / "aws-cdk-integ" / name)

    assert load("alb-fargate-service-idle-timeout").load_balancers[0].attributes.idle_timeout_seconds == 120
    hc = load("alb-fargate-service-health-check").task_definitions[0].containers[0].health_check
    assert hc is not None and (hc.interval_seconds, hc.retries, hc.timeout_seconds) == (10, 10, 5)
    breaker = load("circuit-breaker-load-balanced-fargate-service").services[0]
    assert breaker.deployment_configuration.circuit_breaker.enable
    assert breaker.deployment_configuration.circuit_breaker.rollback
    web = load("alb-fargate-service-command-entry-point").task_definitions[0].containers[0]
    assert (
        web.entry_point == ("sh", "-c") and web.command is not None and "httpd-foreground" in web.command[0]
    )
    cm = load("container-cpu-memory").task_definitions[0].containers[0]
    assert (cm.cpu, cm.memory) == (128, 256)
    switch = load("alb-fargate-service-public-private-switch")
    assert {lb.scheme for lb in switch.load_balancers} == {Scheme.INTERNAL, Scheme.INTERNET_FACING}
    https = load("alb-fargate-service-https")
    assert sorted((lst.protocol, lst.port) for lst in https.listeners) == [("HTTP", 80), ("HTTPS", 443)]
    l3 = load("l3")
    assert {lb.type for lb in l3.load_balancers} == {LoadBalancerType.APPLICATION, LoadBalancerType.NETWORK}
    asset = load("asset-image")
    image = asset.task_definitions[0].containers[0]
    assert image.image_asset is not None and image.image_asset in asset.assets
    # Compared after resolving symlinks: ../shared may be a symlink on some machines.
    expected_dir = corpora / "aws-cdk-integ" / "asset-image" / f"asset.{image.image_asset.asset_hash}"
    assert Path(image.image_asset.directory).is_absolute()
    assert Path(image.image_asset.directory).resolve() == expected_dir.resolve()
    smart = load("alb-fargate-service-smart-defaults")
    assert len(smart.load_balancers) == 4 and len(smart.services) == 4


def test_loading_twice_gives_the_same_model(corpora: Path) -> None:
    folder = corpora / "aws-cdk-integ" / "alb-fargate-service-smart-defaults"
    assert load_assembly(folder) == load_assembly(folder)
