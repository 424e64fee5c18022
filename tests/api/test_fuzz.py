"""Random and mutated requests never make the endpoint raise or leak a traceback: every answer is a
well-formed document of the request's protocol (hypothesis, bounded)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albfargate.api.context import Context
from albfargate.api.ecs.handlers import OPERATIONS as ECS_OPS
from albfargate.api.elbv2.handlers import OPERATIONS as ELB_OPS
from albfargate.api.server import ECS_PREFIX, Dispatcher
from albfargate.api.store import ConfigStore
from tests.api.fakes import LISTENER_ARN, TG_ARN, FakeBackend, demo_model

MODEL = demo_model()
DISPATCHER = Dispatcher(Context(FakeBackend(MODEL), ConfigStore(MODEL)))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["web", "demo", TG_ARN, LISTENER_ARN, "web:1", "ALL", "TAGS"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ecs_keys = st.sampled_from(
    [
        "cluster",
        "services",
        "service",
        "tasks",
        "task",
        "desiredCount",
        "taskDefinition",
        "family",
        "containerDefinitions",
        "maxResults",
        "nextToken",
        "include",
        "count",
        "serviceName",
        "loadBalancers",
        "networkConfiguration",
        "reason",
        "forceNewDeployment",
        "deploymentConfiguration",
        "resourceArn",
        "tags",
        "tagKeys",
        "desiredStatus",
    ]
)
elb_keys = st.sampled_from(
    [
        "ListenerArn",
        "TargetGroupArn",
        "RuleArn",
        "Priority",
        "Names.member.1",
        "Marker",
        "PageSize",
        "Conditions.member.1.Field",
        "Conditions.member.1.Values.member.1",
        "Actions.member.1.Type",
        "Actions.member.1.TargetGroupArn",
        "Targets.member.1.Id",
        "Targets.member.1.Port",
        "Attributes.member.1.Key",
        "Attributes.member.1.Value",
        "RulePriorities.member.1.RuleArn",
        "RulePriorities.member.1.Priority",
        "ResourceArns.member.1",
        "LoadBalancerArn",
    ]
)


def _check_json(status: int, body: bytes) -> None:
    doc = json.loads(body)
    assert isinstance(doc, dict)
    if status != 200:
        assert set(doc) == {"__type", "message"} and status in (400, 403, 405, 413, 500)
        assert status != 500, doc
    assert b"Traceback" not in body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(ECS_OPS)), st.dictionaries(ecs_keys, json_values, max_size=5))
def test_ecs_operations_with_random_parameters(op: str, params: dict[str, Any]) -> None:
    headers = {"host": "localhost", "x-amz-target": ECS_PREFIX + op}
    r = DISPATCHER.handle("POST", "/", headers, json.dumps(params).encode())
    _check_json(r.status, r.body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(ELB_OPS)),
    st.dictionaries(
        elb_keys,
        st.text(max_size=30)
        | st.sampled_from([TG_ARN, LISTENER_ARN, "5", "0", "forward", "path-pattern", "/x", "127.0.0.1"]),
        max_size=6,
    ),
)
def test_elbv2_operations_with_random_parameters(op: str, params: dict[str, str]) -> None:
    body = urlencode([("Action", op), ("Version", "2015-12-01"), *params.items()]).encode()
    r = DISPATCHER.handle("POST", "/", {"host": "localhost"}, body)
    root = ET.fromstring(r.body)
    assert root.tag.endswith("Response")
    assert r.status in (200, 400), r.body
    assert b"Traceback" not in r.body


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200),
    st.dictionaries(
        st.sampled_from(["x-amz-target", "content-type", "authorization"]), st.text(max_size=60), max_size=3
    ),
)
def test_arbitrary_bodies_and_headers(body: bytes, headers: dict[str, str]) -> None:
    r = DISPATCHER.handle("POST", "/", {"host": "127.0.0.1", **headers}, body)
    assert r.status in (200, 400, 403, 405, 413)
    if r.content_type.startswith("application/x-amz-json"):
        _check_json(r.status, r.body)
    else:
        ET.fromstring(r.body)


container_fields = st.dictionaries(
    st.sampled_from(
        [
            "name",
            "image",
            "portMappings",
            "environment",
            "secrets",
            "healthCheck",
            "dependsOn",
            "ulimits",
            "dockerLabels",
            "command",
            "entryPoint",
            "cpu",
            "memory",
            "stopTimeout",
            "logConfiguration",
            "essential",
        ]
    ),
    json_values,
    max_size=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(container_fields, min_size=1, max_size=2), json_values)
def test_register_task_definition_with_random_containers(
    containers: list[dict[str, Any]], extra: Any
) -> None:
    params = {"family": "fz", "containerDefinitions": containers, "runtimePlatform": extra, "cpu": extra}
    headers = {"host": "localhost", "x-amz-target": ECS_PREFIX + "RegisterTaskDefinition"}
    r = DISPATCHER.handle("POST", "/", headers, json.dumps(params).encode())
    _check_json(r.status, r.body)


REGRESSIONS_ECS = [
    (
        "RegisterTaskDefinition",
        {"family": "f", "containerDefinitions": [{"name": "a", "image": "b", "portMappings": "x"}]},
    ),
    (
        "RegisterTaskDefinition",
        {"family": "f", "containerDefinitions": [{"name": "a", "image": "b", "ulimits": [{}]}]},
    ),
    (
        "RegisterTaskDefinition",
        {
            "family": "f",
            "containerDefinitions": [
                {"name": "a", "image": "b", "healthCheck": {"command": ["CMD"], "interval": "x"}}
            ],
        },
    ),
    (
        "CreateService",
        {
            "cluster": "demo",
            "serviceName": "z",
            "taskDefinition": "web",
            "desiredCount": 1,
            "capacityProviderStrategy": [{"weight": "x"}],
        },
    ),
    (
        "CreateService",
        {
            "cluster": "demo",
            "serviceName": "z",
            "taskDefinition": "web",
            "desiredCount": 1,
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": "abc"}},
        },
    ),
    (
        "UpdateService",
        {"cluster": "demo", "service": "web", "deploymentConfiguration": {"deploymentCircuitBreaker": 5}},
    ),
    ("CreateCluster", {"clusterName": "c", "settings": ["x"]}),
]
REGRESSIONS_ELB = [
    "Actions.member.1.Type=forward&Actions.member.1.ForwardConfig.TargetGroups.member.1=x",
    "Actions.member.1.Type=redirect&Actions.member.1.RedirectConfig.StatusCode=HTTP_301"
    "&Actions.member.1.RedirectConfig.Host.member.1=x",
    "Actions.member.1.Type=forward&Actions.member.1.ForwardConfig=x",
    "Actions.member.1.Type=fixed-response&Actions.member.1.FixedResponseConfig.StatusCode=200"
    "&Actions.member.1.FixedResponseConfig.MessageBody.member.1=x",
]


def test_shape_regressions_are_client_errors() -> None:
    for op, params in REGRESSIONS_ECS:
        headers = {"host": "localhost", "x-amz-target": ECS_PREFIX + op}
        r = DISPATCHER.handle("POST", "/", headers, json.dumps(params).encode())
        assert r.status == 400, (op, r.body)
        _check_json(r.status, r.body)
    for extra in REGRESSIONS_ELB:
        body = (
            f"Action=CreateRule&Version=2015-12-01&ListenerArn={LISTENER_ARN}&Priority=3"
            f"&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/a&{extra}"
        )
        r = DISPATCHER.handle("POST", "/", {"host": "localhost"}, body.encode())
        assert r.status == 400 and b"<Code>ValidationError</Code>" in r.body, r.body
