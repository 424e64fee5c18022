"""Every raw response the endpoint writes uses only the field names and types of botocore's own service
models (ECS, ELBv2, Application Auto Scaling). boto3 silently drops unknown fields, so this reads the raw
bytes through the sans-I/O :class:`Dispatcher` instead. botocore is used at test time only."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import pytest

from albfargate.api.context import Context
from albfargate.api.server import AAS_PREFIX, ECS_PREFIX, Dispatcher
from albfargate.api.store import ConfigStore
from tests.api.fakes import LB_ARN, LISTENER_ARN, RULE_ARN, TG_ARN, FakeBackend, demo_model

botocore_session = pytest.importorskip("botocore.session")
_SESSION = botocore_session.get_session()
NET = {"awsvpcConfiguration": {"subnets": ["s"]}}


def _dispatcher() -> Dispatcher:
    model = demo_model()
    return Dispatcher(Context(FakeBackend(model), ConfigStore(model)))


def _check_json(shape: Any, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not a field of {shape.name}"
            _check_json(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            _check_json(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), path
        for k, item in value.items():
            _check_json(shape.value, item, f"{path}[{k}]")
    elif kind == "timestamp":
        assert isinstance(value, int | float), f"{path}: timestamps are epoch seconds"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind in ("double", "float"):
        assert isinstance(value, int | float), path
    elif kind == "boolean":
        assert isinstance(value, bool), path
    else:
        assert isinstance(value, str), f"{path} should be a string, got {value!r}"


def _check_xml(shape: Any, element: ET.Element, path: str) -> None:
    kind = shape.type_name
    children = list(element)
    if kind == "structure":
        for child in children:
            tag = child.tag.split("}", 1)[-1]
            assert tag in shape.members, f"{path}.{tag} is not a field of {shape.name}"
            _check_xml(shape.members[tag], child, f"{path}.{tag}")
    elif kind == "list":
        for i, child in enumerate(children):
            assert child.tag.split("}", 1)[-1] == "member", path
            _check_xml(shape.member, child, f"{path}[{i}]")
    else:
        assert not children, path
        text = element.text or ""
        if kind in ("integer", "long"):
            int(text)
        elif kind == "boolean":
            assert text in ("true", "false"), path
        elif kind == "timestamp":
            assert text.endswith("Z") and "T" in text, path


JSON_CASES = [
    (
        "ecs",
        ECS_PREFIX,
        "DescribeServices",
        {"cluster": "demo", "services": ["web", "nope"], "include": ["TAGS"]},
    ),
    ("ecs", ECS_PREFIX, "ListServices", {"cluster": "demo"}),
    ("ecs", ECS_PREFIX, "DescribeClusters", {"clusters": ["demo", "x"], "include": ["TAGS"]}),
    ("ecs", ECS_PREFIX, "ListClusters", {}),
    ("ecs", ECS_PREFIX, "ListTasks", {"cluster": "demo"}),
    ("ecs", ECS_PREFIX, "DescribeTaskDefinition", {"taskDefinition": "web", "include": ["TAGS"]}),
    ("ecs", ECS_PREFIX, "ListTaskDefinitions", {}),
    ("ecs", ECS_PREFIX, "ListTaskDefinitionFamilies", {}),
    (
        "ecs",
        ECS_PREFIX,
        "RegisterTaskDefinition",
        {
            "family": "f",
            "containerDefinitions": [
                {
                    "name": "a",
                    "image": "i",
                    "portMappings": [{"containerPort": 80}],
                    "dependsOn": [],
                    "healthCheck": {"command": ["CMD", "true"]},
                    "secrets": [{"name": "S", "valueFrom": "arn"}],
                    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
                }
            ],
        },
    ),
    ("ecs", ECS_PREFIX, "UpdateService", {"cluster": "demo", "service": "web", "forceNewDeployment": True}),
    (
        "ecs",
        ECS_PREFIX,
        "CreateService",
        {
            "cluster": "demo",
            "serviceName": "n",
            "taskDefinition": "web",
            "desiredCount": 1,
            "networkConfiguration": NET,
        },
    ),
    ("ecs", ECS_PREFIX, "DeleteService", {"cluster": "demo", "service": "web", "force": True}),
    ("ecs", ECS_PREFIX, "RunTask", {"cluster": "demo", "taskDefinition": "web", "networkConfiguration": NET}),
    ("ecs", ECS_PREFIX, "CreateCluster", {"clusterName": "c2"}),
    ("ecs", ECS_PREFIX, "ListServiceDeployments", {"cluster": "demo", "service": "web"}),
    (
        "ecs",
        ECS_PREFIX,
        "DescribeServiceDeployments",
        {"serviceDeploymentArns": ["arn:aws:ecs:us-east-1:000000000000:service-deployment/demo/web/x"]},
    ),
    (
        "ecs",
        ECS_PREFIX,
        "ListTagsForResource",
        {"resourceArn": "arn:aws:ecs:us-east-1:000000000000:cluster/demo"},
    ),
    ("application-autoscaling", AAS_PREFIX, "DescribeScalableTargets", {"ServiceNamespace": "ecs"}),
    ("application-autoscaling", AAS_PREFIX, "DescribeScalingPolicies", {"ServiceNamespace": "ecs"}),
    (
        "application-autoscaling",
        AAS_PREFIX,
        "RegisterScalableTarget",
        {
            "ServiceNamespace": "ecs",
            "ResourceId": "service/demo/web",
            "ScalableDimension": "ecs:service:DesiredCount",
            "MinCapacity": 1,
            "MaxCapacity": 3,
        },
    ),
    (
        "application-autoscaling",
        AAS_PREFIX,
        "PutScalingPolicy",
        {
            "ServiceNamespace": "ecs",
            "ResourceId": "service/demo/web",
            "ScalableDimension": "ecs:service:DesiredCount",
            "PolicyName": "p",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 70,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
        },
    ),
    ("application-autoscaling", AAS_PREFIX, "DescribeScalingActivities", {"ServiceNamespace": "ecs"}),
]


@pytest.mark.parametrize(("service", "prefix", "op", "params"), JSON_CASES, ids=[c[2] for c in JSON_CASES])
def test_json_responses_match_botocore_shapes(
    service: str, prefix: str, op: str, params: dict[str, Any]
) -> None:
    d = _dispatcher()
    headers = {"host": "localhost", "x-amz-target": prefix + op, "content-type": "application/x-amz-json-1.1"}
    r = d.handle("POST", "/", headers, json.dumps(params).encode())
    assert r.status == 200, r.body
    shape = _SESSION.get_service_model(service).operation_model(op).output_shape
    _check_json(shape, json.loads(r.body), op)


def test_describe_tasks_shape() -> None:
    d = _dispatcher()
    headers = {"host": "localhost", "x-amz-target": ECS_PREFIX + "ListTasks"}
    arns = json.loads(d.handle("POST", "/", headers, b'{"cluster":"demo"}').body)["taskArns"]
    headers["x-amz-target"] = ECS_PREFIX + "DescribeTasks"
    r = d.handle("POST", "/", headers, json.dumps({"cluster": "demo", "tasks": [*arns, "x"]}).encode())
    shape = _SESSION.get_service_model("ecs").operation_model("DescribeTasks").output_shape
    _check_json(shape, json.loads(r.body), "DescribeTasks")
    headers["x-amz-target"] = ECS_PREFIX + "StopTask"
    r = d.handle("POST", "/", headers, json.dumps({"cluster": "demo", "task": arns[0]}).encode())
    _check_json(
        _SESSION.get_service_model("ecs").operation_model("StopTask").output_shape, json.loads(r.body), ""
    )


def _form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _form(value, name + ".")
        elif isinstance(value, list):
            for i, item in enumerate(value, 1):
                if isinstance(item, dict):
                    out += _form(item, f"{name}.member.{i}.")
                else:
                    out.append((f"{name}.member.{i}", str(item)))
        else:
            out.append((name, str(value)))
    return out


PATH = [{"Field": "path-pattern", "Values": ["/z"]}]
XML_CASES = [
    ("DescribeLoadBalancers", {}),
    ("DescribeListeners", {"LoadBalancerArn": LB_ARN}),
    ("DescribeRules", {"ListenerArn": LISTENER_ARN}),
    ("DescribeTargetGroups", {}),
    ("DescribeTargetHealth", {"TargetGroupArn": TG_ARN, "Include": ["AnomalyDetection"]}),
    ("DescribeTargetGroupAttributes", {"TargetGroupArn": TG_ARN}),
    ("DescribeLoadBalancerAttributes", {"LoadBalancerArn": LB_ARN}),
    ("DescribeListenerAttributes", {"ListenerArn": LISTENER_ARN}),
    (
        "CreateRule",
        {
            "ListenerArn": LISTENER_ARN,
            "Priority": 7,
            "Conditions": PATH,
            "Actions": [
                {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_302"}}
            ],
        },
    ),
    (
        "ModifyRule",
        {
            "RuleArn": RULE_ARN,
            "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        },
    ),
    ("SetRulePriorities", {"RulePriorities": [{"RuleArn": RULE_ARN, "Priority": 11}]}),
    (
        "ModifyListener",
        {"ListenerArn": LISTENER_ARN, "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG_ARN}]},
    ),
    ("ModifyTargetGroup", {"TargetGroupArn": TG_ARN, "HealthCheckPath": "/x"}),
    (
        "ModifyTargetGroupAttributes",
        {"TargetGroupArn": TG_ARN, "Attributes": [{"Key": "stickiness.enabled", "Value": "true"}]},
    ),
    ("RegisterTargets", {"TargetGroupArn": TG_ARN, "Targets": [{"Id": "127.0.0.1", "Port": 1}]}),
    ("DescribeTags", {"ResourceArns": [LB_ARN]}),
    ("DescribeAccountLimits", {}),
    ("DescribeSSLPolicies", {}),
]


@pytest.mark.parametrize(("op", "params"), XML_CASES, ids=[c[0] for c in XML_CASES])
def test_xml_responses_match_botocore_shapes(op: str, params: dict[str, Any]) -> None:
    d = _dispatcher()
    body = urlencode([("Action", op), ("Version", "2015-12-01"), *_form(params)]).encode()
    r = d.handle(
        "POST", "/", {"host": "localhost", "content-type": "application/x-www-form-urlencoded"}, body
    )
    assert r.status == 200, r.body
    root = ET.fromstring(r.body)
    ns = "{http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/}"
    assert root.tag == f"{ns}{op}Response"
    result = root.find(f"{ns}{op}Result")
    assert result is not None
    assert root.find(f"{ns}ResponseMetadata/{ns}RequestId") is not None
    shape = _SESSION.get_service_model("elbv2").operation_model(op).output_shape
    if shape is not None:
        _check_xml(shape, result, op)


def test_xml_error_document() -> None:
    d = _dispatcher()
    body = urlencode(
        [("Action", "DeleteRule"), ("Version", "2015-12-01"), ("RuleArn", RULE_ARN + "x")]
    ).encode()
    r = d.handle("POST", "/", {"host": "localhost"}, body)
    assert r.status == 400
    root = ET.fromstring(r.body)
    ns = "{http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/}"
    assert root.tag == f"{ns}ErrorResponse"
    assert root.findtext(f"{ns}Error/{ns}Type") == "Sender"
    assert root.findtext(f"{ns}Error/{ns}Code") == "RuleNotFound"
    assert root.findtext(f"{ns}Error/{ns}Message") == "One or more rules not found"
    assert root.findtext(f"{ns}RequestId")
