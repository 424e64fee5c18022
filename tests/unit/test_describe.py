# ruff: noqa: E501  (exact output lines are kept on one line)
"""``albfargate describe``: the tree (order, local URLs, not-emulated list), the JSON shape, the command's
options and errors, and a snapshot of the tree of a corpus assembly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import load_assembly, model_from_templates
from albfargate.cli import main
from albfargate.describe import local_port, local_url, render_tree, to_json
from albfargate.model import Listener

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("ALBFARGATE_UPDATE_SNAPSHOTS") == "1"


def res(rtype: str, **props: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props}


def template() -> dict[str, Any]:
    fwd = lambda tg: [{"Type": "forward", "TargetGroupArn": {"Ref": tg}}]  # noqa: E731
    return {
        "Resources": {
            "LB": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Name="shop"),
            "Web": res("AWS::ElasticLoadBalancingV2::TargetGroup", Name="web", Port=80, TargetType="ip"),
            "Api": res(
                "AWS::ElasticLoadBalancingV2::TargetGroup",
                Name="api",
                Port=8080,
                TargetType="ip",
                HealthCheckPath="/health",
            ),
            "Http": res(
                "AWS::ElasticLoadBalancingV2::Listener",
                LoadBalancerArn={"Ref": "LB"},
                Port=80,
                DefaultActions=fwd("Web"),
            ),
            "Alt": res(
                "AWS::ElasticLoadBalancingV2::Listener",
                LoadBalancerArn={"Ref": "LB"},
                Port=9000,
                DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
            ),
            "Late": res(
                "AWS::ElasticLoadBalancingV2::ListenerRule",
                ListenerArn={"Ref": "Http"},
                Priority=200,
                Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
                Actions=[
                    {"Type": "redirect", "RedirectConfig": {"Path": "/new/#{path}", "StatusCode": "HTTP_301"}}
                ],
            ),
            "Early": res(
                "AWS::ElasticLoadBalancingV2::ListenerRule",
                ListenerArn={"Ref": "Http"},
                Priority=5,
                Conditions=[
                    {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
                    {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-V", "Values": ["2"]}},
                ],
                Actions=fwd("Api"),
            ),
            "Cluster": res("AWS::ECS::Cluster", ClusterName="shop"),
            "TD": res(
                "AWS::ECS::TaskDefinition",
                Family="api",
                Cpu="256",
                Memory="512",
                ContainerDefinitions=[
                    {"Name": "app", "Image": "api:1", "PortMappings": [{"ContainerPort": 8080}]}
                ],
            ),
            "ApiSvc": res(
                "AWS::ECS::Service",
                ServiceName="api",
                Cluster={"Ref": "Cluster"},
                TaskDefinition={"Ref": "TD"},
                DesiredCount=2,
                LoadBalancers=[
                    {"TargetGroupArn": {"Ref": "Api"}, "ContainerName": "app", "ContainerPort": 8080}
                ],
            ),
            "Worker": res(
                "AWS::ECS::Service",
                ServiceName="worker",
                Cluster={"Ref": "Cluster"},
                TaskDefinition={"Ref": "TD"},
            ),
            "Scale": res(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                ResourceId="service/shop/api",
                MinCapacity=2,
                MaxCapacity=6,
            ),
            "Cpu": res(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                PolicyName="cpu",
                ScalingTargetId={"Ref": "Scale"},
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": 60,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                },
            ),
            "Role": {"Type": "AWS::IAM::Role"},
            "Hook": res("Custom::Hook", ServiceToken="x"),
        }
    }


@pytest.mark.parametrize(
    ("port", "local"), [(80, 8080), (443, 8443), (1023, 9023), (1024, 1024), (8080, 8080)]
)
def test_local_port(port: int, local: int) -> None:
    assert local_port(port) == local


def test_local_url_scheme() -> None:
    assert local_url(Listener("a", "b", 80, "HTTP", ())) == "http://127.0.0.1:8080"
    assert local_url(Listener("a", "b", 443, "HTTPS", ())) == "https://127.0.0.1:8443"
    assert local_url(Listener("a", "b", 5000, "TCP", ())) == "tcp://127.0.0.1:5000"


def test_tree_order_and_content() -> None:
    text = render_tree(model_from_templates([("Shop", template())]))
    lines = text.splitlines()
    assert lines[0] == "Stacks: Shop"
    assert (
        "1 load balancer(s), 2 listener(s), 2 rule(s), 2 target group(s), 2 service(s), 1 container(s)"
        in lines[1]
    )
    idx = {key: next(i for i, line in enumerate(lines) if key in line) for key in [
        "Load balancer shop", "Listener HTTP :80 → http://127.0.0.1:8080", "Rule 5:", "Rule 200:",
        "Default: forward → web", "Listener HTTP :9000 → http://127.0.0.1:9000", "Not emulated (2):",
    ]}  # fmt: skip
    assert list(idx.values()) == sorted(idx.values()), "tree order: LB, listener, rules by priority, default"
    assert "Rule 5: if path-pattern /api/* AND http-header X-V 2 → forward → api" in text
    assert (
        "Rule 200: if path-pattern /old/* → redirect 301 → #{protocol}://#{host}:#{port}/new/#{path}?#{query}"
        in text
    )
    assert (
        "health check: HTTP /health on traffic-port, every 30 s, timeout 5 s, healthy 5, unhealthy 2, codes 200"
        in text
    )
    assert "Service api (cluster shop): desired 2, FARGATE" in text
    assert "deployment: max 200 %, min healthy 100 %, circuit breaker off; grace period 0 s; exec off" in text
    assert "│  autoscaling: 2–6 tasks\n" in text
    assert (
        "│    target tracking ECSServiceAverageCPUUtilization → 60 (cooldown out 300 s, in 300 s)\n" in text
    )
    assert "Container app: api:1" in text and "ports 8080/tcp; receives traffic on 8080" in text
    assert "Default: fixed-response 503" in text
    assert "Services without a load balancer:" in text and "Service worker (cluster shop)" in text
    assert text.index("Service worker") > text.index("Listener HTTP :9000")
    assert "AWS::IAM::Role  Shop/Role" in text
    assert "Custom::Hook    Shop/Hook  (custom resource: not emulated)" in text


def test_json_shape() -> None:
    model = model_from_templates([("Shop", template())])
    data = json.loads(json.dumps(to_json(model)))
    assert data["format"] == "albfargate.describe/1"
    assert set(data) == {
        "format", "stacks", "load_balancers", "listeners", "rules", "target_groups", "clusters",
        "task_definitions", "services", "scalable_targets", "scaling_policies", "buckets", "assets",
        "not_emulated", "databases", "secrets", "secret_attachments", "parameters",
    }  # fmt: skip
    lb = data["load_balancers"][0]
    assert lb["full_name"] == model.load_balancers[0].full_name and lb["type"] == "application"
    assert lb["attributes"]["idle_timeout_seconds"] == 60
    http = next(x for x in data["listeners"] if x["port"] == 80)
    assert (http["local_port"], http["local_url"]) == (8080, "http://127.0.0.1:8080")
    assert http["default_actions"][0]["type"] == "forward"
    assert http["default_actions"][0]["target_groups"][0] == {
        "target_group_arn": model.target_groups[0].arn,
        "weight": 1,
    }
    rule = next(x for x in data["rules"] if x["priority"] == 5)
    assert rule["conditions"][1] == {
        "field": "http-header", "values": ["2"], "header_name": "X-V", "query_pairs": [], "regex_values": [],
    }  # fmt: skip
    assert data["target_groups"][0]["full_name"].startswith("targetgroup/web/")
    assert data["services"][0]["deployment_configuration"]["circuit_breaker"] == {
        "enable": False,
        "rollback": False,
    }
    assert data["scaling_policies"][0]["metric"] == "ECSServiceAverageCPUUtilization"
    assert data["not_emulated"][1] == {
        "stack": "Shop", "logical_id": "Hook", "type": "Custom::Hook", "reason": "custom resource: not emulated",
    }  # fmt: skip


def test_command_with_template_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.template.json"
    path.write_text(json.dumps(template()))
    assert main(["describe", "--template", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Stacks: shop\n") and "Listener HTTP :80 → http://127.0.0.1:8080" in out
    assert main(["describe", "--template", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stacks"] == ["shop"] and len(data["rules"]) == 2


def test_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe", "app", "--assembly", str(tmp_path)]) == 2
    assert "give either APP_DIR or --assembly/--template" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "Resources": {
                    "LB8A12904C": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Subnets=[{"Ref": "Nope"}])
                }
            }
        )
    )
    assert main(["describe", "--template", str(bad)]) == 1
    assert capsys.readouterr().err == (
        "albfargate: error: stack bad, resource LB8A12904C, property Properties.Subnets[0]: unresolvable Ref 'Nope'\n"
    )
    with pytest.raises(SystemExit):
        main(["describe", "--assembly", "a", "--template", "b"])


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"snapshot {path} was missing and has been written; re-run")
    assert text == path.read_text(), f"describe output changed; ALBFARGATE_UPDATE_SNAPSHOTS=1 rewrites {path}"


@pytest.mark.corpora
def test_snapshot_of_corpus_assembly(corpora: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = corpora / "aws-cdk-integ" / "alb-fargate-service-https"
    assert main(["describe", str(folder)]) == 0  # APP_DIR that is already a cloud assembly
    out = capsys.readouterr().out
    assert out == render_tree(load_assembly(folder))
    _snapshot("describe-alb-fargate-service-https.txt", out)


def test_backing_resources_are_listed_and_secret_literals_hidden() -> None:
    t = {"Resources": {
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "postgres", "EngineVersion": "16", "DBName": "app", "MasterUsername": "u",
            "MasterUserPassword": "hunter2-literal"}},
        "Tok": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "tok", "SecretString": "s3cr3t-x"}},
        "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/app/p", "Type": "String", "Value": "v"}},
    }}  # fmt: skip
    model = model_from_templates([("S", t)])
    text = render_tree(model)
    assert "Backing resources:" in text and "database S/Db  RDS instance postgres 16, db app" in text
    assert "secret   tok  (template value)" in text and "parameter /app/p  (String)" in text
    dumped = json.dumps(to_json(model))
    assert "hunter2-literal" not in dumped + text and "s3cr3t-x" not in dumped + text
    assert json.loads(dumped)["databases"][0]["master_password"] == "****"
