"""ECS task definitions, clusters and tags through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint
from tests.api.fakes import CLUSTER_ARN, SERVICE_ARN, TD_ARN

CONTAINER = {
    "name": "app",
    "image": "example/app:1",
    "portMappings": [{"containerPort": 3000, "protocol": "tcp"}],
    "environment": [{"name": "MODE", "value": "x"}],
    "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 10},
    "stopTimeout": 5,
}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_register_and_describe_task_definition(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.register_task_definition(
        family="app",
        containerDefinitions=[CONTAINER],
        cpu="512",
        memory="1024",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        tags=[{"key": "k", "value": "v"}],
    )
    td = out["taskDefinition"]
    assert td["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:000000000000:task-definition/app:1"
    assert (td["family"], td["revision"], td["status"]) == ("app", 1, "ACTIVE")
    assert (td["cpu"], td["memory"], td["networkMode"]) == ("512", "1024", "awsvpc")
    c = td["containerDefinitions"][0]
    assert c["portMappings"] == [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}]
    assert c["environment"] == [{"name": "MODE", "value": "x"}] and c["essential"] is True
    assert c["healthCheck"] == {
        "command": ["CMD-SHELL", "true"],
        "interval": 10,
        "timeout": 5,
        "retries": 3,
        "startPeriod": 0,
    }
    assert out["tags"] == [{"key": "k", "value": "v"}]
    second = ecs.register_task_definition(family="app", containerDefinitions=[CONTAINER])["taskDefinition"]
    assert second["revision"] == 2
    assert ecs.describe_task_definition(taskDefinition="app")["taskDefinition"]["revision"] == 2
    assert ecs.describe_task_definition(taskDefinition="app:1")["taskDefinition"]["revision"] == 1
    described = ecs.describe_task_definition(taskDefinition=TD_ARN, include=["TAGS"])
    assert described["taskDefinition"]["family"] == "web" and described["tags"] == []


def test_register_task_definition_errors(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    cases = [
        ({"family": "x", "containerDefinitions": []}, "ClientException"),
        (
            {"family": "x", "containerDefinitions": [{"name": "a", "image": "i", "essential": False}]},
            "ClientException",
        ),
        (
            {
                "family": "x",
                "containerDefinitions": [{"name": "a", "image": "i"}, {"name": "a", "image": "j"}],
            },
            "ClientException",
        ),
        (
            {
                "family": "x",
                "containerDefinitions": [
                    {"name": "a", "image": "i", "portMappings": [{"containerPort": 80, "hostPort": 81}]}
                ],
            },
            "ClientException",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            ecs.register_task_definition(**kwargs)
        assert _code(exc) == code, kwargs
    with pytest.raises(ClientError) as exc:
        ecs.describe_task_definition(taskDefinition="missing")
    assert _code(exc) == "ClientException"
    assert exc.value.response["Error"]["Message"] == "Unable to describe task definition."


def test_list_and_deregister_task_definitions(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    for _ in range(3):
        ecs.register_task_definition(family="app", containerDefinitions=[CONTAINER])
    listed = ecs.list_task_definitions(familyPrefix="app")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[1] for a in listed] == ["1", "2", "3"]
    desc = ecs.list_task_definitions(familyPrefix="app", sort="DESC", maxResults=2)
    assert [a.rsplit(":", 1)[1] for a in desc["taskDefinitionArns"]] == ["3", "2"] and desc["nextToken"]
    out = ecs.deregister_task_definition(taskDefinition="app:2")["taskDefinition"]
    assert out["status"] == "INACTIVE" and "deregisteredAt" in out
    assert len(ecs.list_task_definitions(familyPrefix="app")["taskDefinitionArns"]) == 2
    assert len(ecs.list_task_definitions(familyPrefix="app", status="INACTIVE")["taskDefinitionArns"]) == 1
    assert ecs.describe_task_definition(taskDefinition="app:2")["taskDefinition"]["status"] == "INACTIVE"
    assert ecs.list_task_definition_families()["families"] == ["app", "web"]
    with pytest.raises(ClientError) as exc:
        ecs.deregister_task_definition(taskDefinition="app")
    assert _code(exc) == "InvalidParameterException"  # a revision is required


def test_clusters(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    assert ecs.list_clusters()["clusterArns"] == [CLUSTER_ARN]
    out = ecs.describe_clusters(clusters=["demo", "ghost"])
    [c] = out["clusters"]
    assert (c["clusterName"], c["status"], c["runningTasksCount"], c["activeServicesCount"]) == (
        "demo",
        "ACTIVE",
        2,
        1,
    )
    assert out["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:cluster/ghost", "reason": "MISSING"}
    ]
    made = ecs.create_cluster(clusterName="extra", tags=[{"key": "a", "value": "b"}])["cluster"]
    assert made["clusterArn"].endswith(":cluster/extra")
    assert (
        ecs.create_cluster(clusterName="extra")["cluster"]["clusterArn"] == made["clusterArn"]
    )  # idempotent
    tagged = ecs.describe_clusters(clusters=["extra"], include=["TAGS"])["clusters"][0]
    assert tagged["tags"] == [{"key": "a", "value": "b"}]
    assert ecs.delete_cluster(cluster="extra")["cluster"]["status"] == "INACTIVE"
    with pytest.raises(ClientError) as exc:
        ecs.delete_cluster(cluster="demo")
    assert _code(exc) == "ClusterContainsServicesException"
    with pytest.raises(ClientError) as exc:
        ecs.delete_cluster(cluster="extra")
    assert _code(exc) == "ClusterNotFoundException"


def test_tags(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    ecs.tag_resource(resourceArn=SERVICE_ARN, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ecs.untag_resource(resourceArn=SERVICE_ARN, tagKeys=["a"])
    assert ecs.list_tags_for_resource(resourceArn=SERVICE_ARN)["tags"] == [{"key": "b", "value": "2"}]
    svc = ecs.describe_services(cluster="demo", services=["web"], include=["TAGS"])["services"][0]
    assert svc["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(ClientError) as exc:
        ecs.tag_resource(resourceArn=SERVICE_ARN + "x", tags=[{"key": "a", "value": "1"}])
    assert _code(exc) == "InvalidParameterException"
