# ruff: noqa: E501  (the embedded CDK app is kept compact)
"""A real CDK app (synthesized here, in a subprocess, into a temporary cdk.out) read into the model: a
stage (nested assembly) with two stacks and a cross-stack reference (Fn::ImportValue), a parameter and a
condition, listener rules with every condition form CDK writes, weighted forwarding with group stickiness,
redirect and fixed-response rules, target tracking on CPU and on requests per target, a sidecar with a
health check and a HEALTHY dependency, and a Secrets Manager secret."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from albfargate.assembly import load_assembly
from albfargate.describe import render_tree
from albfargate.model import (
    Condition,
    ConditionField,
    DependencyCondition,
    FixedResponseAction,
    ForwardAction,
    PredefinedMetric,
    QueryPair,
    RedirectAction,
    TargetGroupTuple,
)

pytestmark = [pytest.mark.cdk, pytest.mark.synth]

APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2, aws_ecs as ecs, aws_ecs_patterns as patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2, aws_secretsmanager as sm

app = cdk.App(outdir=sys.argv[1])
stage = cdk.Stage(app, "Dev")
net = cdk.Stack(stage, "Network")
vpc = ec2.Vpc(net, "Vpc", max_azs=2, nat_gateways=0)
cluster = ecs.Cluster(net, "Cluster", vpc=vpc, cluster_name="shared")

stack = cdk.Stack(stage, "Web")
env_param = cdk.CfnParameter(stack, "Env", default="dev")
is_prod = cdk.CfnCondition(stack, "IsProd", expression=cdk.Fn.condition_equals(env_param.value_as_string, "prod"))
secret = sm.Secret(stack, "DbSecret")
svc = patterns.ApplicationLoadBalancedFargateService(
    stack, "Svc", cluster=cluster, desired_count=2, circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
    task_image_options=patterns.ApplicationLoadBalancedTaskImageOptions(
        image=ecs.ContainerImage.from_registry("nginx:1.27"), container_port=8080,
        environment={"MODE": cdk.Fn.condition_if(is_prod.logical_id, "prod", "dev").to_string()},
        secrets={"DB": ecs.Secret.from_secrets_manager(secret)},
    ),
)
svc.target_group.configure_health_check(path="/health", healthy_http_codes="200-299")
svc.target_group.set_attribute("deregistration_delay.timeout_seconds", "10")
svc.load_balancer.set_attribute("routing.http.desync_mitigation_mode", "strictest")
other = elbv2.ApplicationTargetGroup(
    stack, "Other", vpc=vpc, port=9000, protocol=elbv2.ApplicationProtocol.HTTP, target_type=elbv2.TargetType.IP
)
svc.listener.add_action("Api", priority=10, conditions=[
    elbv2.ListenerCondition.path_patterns(["/api/*"]), elbv2.ListenerCondition.http_header("X-Env", ["blue"]),
    elbv2.ListenerCondition.query_strings([elbv2.QueryStringCondition(key="v", value="2")])],
    action=elbv2.ListenerAction.weighted_forward([
        elbv2.WeightedTargetGroup(target_group=svc.target_group, weight=3),
        elbv2.WeightedTargetGroup(target_group=other, weight=1)], stickiness_duration=cdk.Duration.minutes(5)))
svc.listener.add_action("Old", priority=20, conditions=[elbv2.ListenerCondition.host_headers(["old.example.com"])],
    action=elbv2.ListenerAction.redirect(host="new.example.com", permanent=True))
svc.listener.add_action("Teapot", priority=30, conditions=[
    elbv2.ListenerCondition.http_request_methods(["DELETE"]), elbv2.ListenerCondition.source_ips(["10.0.0.0/8"])],
    action=elbv2.ListenerAction.fixed_response(418, content_type="text/plain", message_body="no"))
scaling = svc.service.auto_scale_task_count(min_capacity=2, max_capacity=8)
scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60, scale_in_cooldown=cdk.Duration.seconds(120))
scaling.scale_on_request_count("Req", requests_per_target=500, target_group=svc.target_group)
side = svc.task_definition.add_container(
    "sidecar", image=ecs.ContainerImage.from_registry("busybox"), essential=False, command=["sleep", "infinity"],
    health_check=ecs.HealthCheck(command=["CMD", "true"], interval=cdk.Duration.seconds(5)))
svc.task_definition.default_container.add_container_dependencies(
    ecs.ContainerDependency(container=side, condition=ecs.ContainerDependencyCondition.HEALTHY))
cdk.CfnOutput(stack, "Url", value=svc.load_balancer.load_balancer_dns_name)
app.synth()
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("cdkapp")
    (folder / "app.py").write_text(APP)
    env = dict(os.environ, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1")
    done = subprocess.run(
        [sys.executable, str(folder / "app.py"), str(folder / "cdk.out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return load_assembly(folder / "cdk.out")


def test_stage_stacks_and_cross_stack_reference(model: Any) -> None:
    assert model.stacks == ("Dev-Network", "Dev-Web")
    (service,) = model.services
    assert service.cluster_name == "shared"  # Fn::ImportValue of the Network stack's export
    assert [c.name for c in model.clusters] == ["shared"]
    assert service.stack == "Dev-Web" and model.clusters[0].stack == "Dev-Network"


def test_rules_as_cdk_writes_them(model: Any) -> None:
    (listener,) = model.listeners
    main_tg, other = model.target_groups
    api, old, teapot = model.rules_of(listener.arn)
    assert api.priority == 10 and api.conditions == (
        Condition(ConditionField.PATH_PATTERN, values=("/api/*",)),
        Condition(ConditionField.HTTP_HEADER, values=("blue",), header_name="X-Env"),
        Condition(ConditionField.QUERY_STRING, query_pairs=(QueryPair("2", "v"),)),
    )
    assert api.actions == (
        ForwardAction(
            (TargetGroupTuple(main_tg.arn, 3), TargetGroupTuple(other.arn, 1)),
            stickiness_enabled=True,
            stickiness_duration_seconds=300,
        ),
    )
    assert old.conditions == (Condition(ConditionField.HOST_HEADER, values=("old.example.com",)),)
    assert old.actions == (RedirectAction(status_code="HTTP_301", host="new.example.com"),)
    assert {c.field for c in teapot.conditions} == {
        ConditionField.HTTP_REQUEST_METHOD,
        ConditionField.SOURCE_IP,
    }
    assert teapot.actions == (FixedResponseAction("418", "text/plain", "no"),)


def test_settings_autoscaling_and_containers(model: Any) -> None:
    (lb,) = model.load_balancers
    main_tg = model.target_groups[0]
    assert lb.attributes.desync_mitigation_mode == "strictest"
    assert main_tg.health_check.path == "/health" and main_tg.health_check.matcher_http_code == "200-299"
    assert main_tg.attributes.deregistration_delay_seconds == 10
    (service,) = model.services
    assert service.desired_count == 2 and service.deployment_configuration.circuit_breaker.rollback
    resource_id = f"service/{service.cluster_name}/{service.name}"
    target = model.scalable_target(resource_id)
    assert (target.min_capacity, target.max_capacity) == (2, 8)
    cpu, req = model.policies_of(resource_id)
    assert (cpu.metric, cpu.target_value, cpu.scale_in_cooldown_seconds) == (PredefinedMetric.CPU, 60, 120)
    assert (req.metric, req.target_value) == (PredefinedMetric.REQUEST_COUNT_PER_TARGET, 500)
    assert req.resource_label == f"{lb.full_name}/{main_tg.full_name}"  # spec §8.3
    td = model.task_definition(service.task_definition_arn)
    web, sidecar = td.containers
    assert web.environment == (("MODE", "dev"),)  # Fn::If on the parameter's default
    assert web.secrets[0].name == "DB" and web.secrets[0].value_from.startswith("arn:aws:secretsmanager:")
    assert web.depends_on[0].container_name == "sidecar"
    assert web.depends_on[0].condition is DependencyCondition.HEALTHY
    assert not sidecar.essential and sidecar.health_check is not None
    assert sidecar.health_check.interval_seconds == 5
    text = render_tree(model)
    assert "Rule 10: if path-pattern /api/* AND http-header X-Env blue AND query-string v=2" in text
    assert "Container sidecar: busybox" in text and "no port mappings" in text
