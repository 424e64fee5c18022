"""ECS services through a real boto3 client: describe, list, update (scale / new deployment), create,
delete, the services-stable waiter, and AWS's exact errors and failures."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.api.conftest import Endpoint
from tests.api.fakes import CLUSTER_ARN, SERVICE_ARN, TD_ARN


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_describe_services_returns_aws_fields(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.describe_services(cluster="demo", services=["web"])
    assert out["failures"] == []
    [svc] = out["services"]
    assert svc["serviceArn"] == SERVICE_ARN
    assert svc["serviceName"] == "web"
    assert svc["clusterArn"] == CLUSTER_ARN
    assert svc["status"] == "ACTIVE"
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (2, 2, 0)
    assert svc["taskDefinition"] == TD_ARN
    assert svc["launchType"] == "FARGATE"
    assert svc["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert svc["loadBalancers"][0]["containerName"] == "web"
    assert svc["loadBalancers"][0]["containerPort"] == 8080
    [dep] = svc["deployments"]
    assert dep["status"] == "PRIMARY" and dep["rolloutState"] == "COMPLETED"
    assert dep["id"].startswith("ecs-svc/") and len(dep["id"]) == len("ecs-svc/") + 19
    assert svc["deploymentController"] == {"type": "ECS"}
    assert svc["healthCheckGracePeriodSeconds"] == 60
    assert svc["schedulingStrategy"] == "REPLICA"
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert svc["createdAt"].year >= 2024  # botocore parsed an epoch-seconds timestamp
    assert svc["events"][0]["message"] == "(service web) has reached a steady state."


def test_describe_services_by_arn_and_missing_names(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.describe_services(cluster=CLUSTER_ARN, services=[SERVICE_ARN, "nope"])
    assert [s["serviceName"] for s in out["services"]] == ["web"]
    assert out["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:service/demo/nope", "reason": "MISSING"}
    ]


def test_describe_services_errors(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    with pytest.raises(ClientError) as exc:
        ecs.describe_services(cluster="nope", services=["web"])
    assert _code(exc) == "ClusterNotFoundException"
    assert exc.value.response["Error"]["Message"] == "Cluster not found."
    with pytest.raises(ClientError) as exc:
        ecs.describe_services(cluster="demo", services=[f"s{i}" for i in range(11)])
    assert _code(exc) == "InvalidParameterException"


def test_list_services_paginates(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    ecs.register_task_definition(family="extra", containerDefinitions=[{"name": "x", "image": "busybox"}])
    for i in range(3):
        ecs.create_service(
            cluster="demo",
            serviceName=f"extra{i}",
            taskDefinition="extra",
            desiredCount=0,
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["s"]}},
        )
    first = ecs.list_services(cluster="demo", maxResults=2)
    assert len(first["serviceArns"]) == 2 and "nextToken" in first
    second = ecs.list_services(cluster="demo", maxResults=2, nextToken=first["nextToken"])
    assert "nextToken" not in second
    all_arns = first["serviceArns"] + second["serviceArns"]
    assert SERVICE_ARN in all_arns and len(set(all_arns)) == 4
    pages = list(
        ecs.get_paginator("list_services").paginate(cluster="demo", PaginationConfig={"PageSize": 1})
    )
    assert sum(len(p["serviceArns"]) for p in pages) == 4
    with pytest.raises(ClientError) as exc:
        ecs.list_services(cluster="demo", nextToken="garbage!")
    assert _code(exc) == "InvalidParameterException"


def test_update_service_desired_count_scales_without_new_deployment(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.update_service(cluster="demo", service="web", desiredCount=3)
    assert out["service"]["desiredCount"] == 3
    update = endpoint.backend.last("update_service")
    assert update.desired_count == 3 and not update.force_new_deployment  # type: ignore[attr-defined]
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig={"Delay": 0.05})
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["runningCount"] == 3 and len(svc["deployments"]) == 1


def test_force_new_deployment_rolls_and_waiter_waits(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    before = ecs.describe_services(cluster="demo", services=["web"])["services"][0]["deployments"][0]["id"]
    out = ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    deployments = out["service"]["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    assert deployments[1]["id"] == before and deployments[0]["rolloutState"] == "IN_PROGRESS"
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"], WaiterConfig={"Delay": 0.05})
    after = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert len(after["deployments"]) == 1 and after["deployments"][0]["id"] != before
    assert after["deployments"][0]["rolloutState"] == "COMPLETED"


def test_update_service_new_task_definition(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    td = ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "web", "image": "nginx:2", "portMappings": [{"containerPort": 8080}]}],
    )["taskDefinition"]
    assert td["revision"] == 2
    out = ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")
    assert out["service"]["taskDefinition"].endswith("task-definition/web:2")
    assert out["service"]["deployments"][0]["taskDefinition"].endswith("web:2")


def test_update_service_errors(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster="demo", service="nope", desiredCount=1)
    assert _code(exc) == "ServiceNotFoundException"
    assert exc.value.response["Error"]["Message"] == "Service not found."
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster="nope", service="web", desiredCount=1)
    assert _code(exc) == "ClusterNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster="demo", service="web", desiredCount=-1)
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.update_service(cluster="demo", service="web", taskDefinition="missing:7")
    assert _code(exc) == "ClientException"


def test_services_stable_waiter_fails_on_missing(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    with pytest.raises(WaiterError) as exc:
        ecs.get_waiter("services_stable").wait(
            cluster="demo", services=["ghost"], WaiterConfig={"Delay": 0.05}
        )
    assert "MISSING" in str(exc.value) or "failure" in str(exc.value).lower()


def test_create_and_delete_service(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    created = ecs.create_service(
        cluster="demo",
        serviceName="api",
        taskDefinition="web",
        desiredCount=1,
        loadBalancers=[
            {
                "targetGroupArn": endpoint.store.rules and next(iter(endpoint.store.target_groups)),
                "containerName": "web",
                "containerPort": 8080,
            }
        ],
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "ENABLED"}},
        deploymentConfiguration={"maximumPercent": 150, "minimumHealthyPercent": 50},
        tags=[{"key": "team", "value": "a"}],
    )["service"]
    assert created["serviceArn"].endswith(":service/demo/api")
    assert created["deploymentConfiguration"]["maximumPercent"] == 150
    assert created["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    with pytest.raises(ClientError) as exc:
        ecs.create_service(
            cluster="demo",
            serviceName="api",
            taskDefinition="web",
            desiredCount=1,
            networkConfiguration={"awsvpcConfiguration": {"subnets": ["s"]}},
        )
    assert _code(exc) == "InvalidParameterException"
    tags = ecs.list_tags_for_resource(resourceArn=created["serviceArn"])["tags"]
    assert tags == [{"key": "team", "value": "a"}]
    with pytest.raises(ClientError) as exc:
        ecs.delete_service(cluster="demo", service="api")
    assert _code(exc) == "InvalidParameterException"  # scaled above 0 without force
    deleted = ecs.delete_service(cluster="demo", service="api", force=True)["service"]
    assert deleted["status"] == "DRAINING"
    ecs.get_waiter("services_inactive").wait(cluster="demo", services=["api"], WaiterConfig={"Delay": 0.05})
    assert ecs.describe_services(cluster="demo", services=["api"])["services"][0]["status"] == "INACTIVE"
    listed = ecs.list_services(cluster="demo")["serviceArns"]
    assert created["serviceArn"] not in listed
    with pytest.raises(ClientError) as exc:
        ecs.create_service(cluster="demo", serviceName="bad", taskDefinition="web", desiredCount=1)
    assert _code(exc) == "InvalidParameterException"  # awsvpc needs networkConfiguration


def test_list_service_deployments(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.list_service_deployments(cluster="demo", service="web")
    assert out["serviceDeployments"][0]["serviceArn"] == SERVICE_ARN
    assert out["serviceDeployments"][0]["status"] == "SUCCESSFUL"
    arn = out["serviceDeployments"][0]["serviceDeploymentArn"]
    assert arn.startswith("arn:aws:ecs:us-east-1:000000000000:service-deployment/demo/web/")
    ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    listed = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    assert [d["status"] for d in listed] == ["IN_PROGRESS", "SUCCESSFUL"]
    desc = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"], arn + "0"]
    )
    [d] = desc["serviceDeployments"]
    assert d["status"] in ("IN_PROGRESS", "SUCCESSFUL")
    assert d["targetServiceRevision"]["requestedTaskCount"] == 2
    assert isinstance(d["sourceServiceRevisions"], list)
    assert d["deploymentCircuitBreaker"] == {"status": "DISABLED", "failureCount": 0, "threshold": 3}
    assert desc["failures"] == [{"arn": arn + "0", "reason": "MISSING"}]


def test_update_service_network_and_load_balancers_roll_a_deployment(endpoint: Endpoint) -> None:
    from tests.api.fakes import TG2_ARN

    ecs = endpoint.client("ecs")
    out = ecs.update_service(
        cluster="demo",
        service="web",
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-9"], "assignPublicIp": "ENABLED"}},
        loadBalancers=[{"targetGroupArn": TG2_ARN, "containerName": "web", "containerPort": 8080}],
    )["service"]
    assert [d["status"] for d in out["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert out["loadBalancers"][0]["targetGroupArn"] == TG2_ARN
    assert out["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-9"],
        "securityGroups": [],
        "assignPublicIp": "ENABLED",
    }
    assert out["deployments"][0]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-9"]
    with pytest.raises(ClientError) as exc:
        ecs.update_service(
            cluster="demo",
            service="web",
            loadBalancers=[{"targetGroupArn": TG2_ARN, "containerName": "web", "containerPort": 1}],
        )
    assert _code(exc) == "InvalidParameterException"
    cfg = ecs.update_service(
        cluster="demo",
        service="web",
        deploymentConfiguration={
            "minimumHealthyPercent": 50,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )["service"]
    assert cfg["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    assert cfg["deploymentConfiguration"]["maximumPercent"] == 200
    assert cfg["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
