"""ECS tasks through boto3: ListTasks filters and pagination, DescribeTasks with MISSING failures and the
batch limit, StopTask, RunTask, and the tasks-running / tasks-stopped waiters."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint

NET = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
FAST = {"Delay": 0.05, "MaxAttempts": 20}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_list_tasks_filters(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    running = ecs.list_tasks(cluster="demo")["taskArns"]
    assert len(running) == 2
    assert ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"] == running
    assert ecs.list_tasks(cluster="demo", family="web")["taskArns"] == running
    assert ecs.list_tasks(cluster="demo", family="other")["taskArns"] == []
    assert ecs.list_tasks(cluster="demo", desiredStatus="STOPPED")["taskArns"] == []
    assert ecs.list_tasks(cluster="demo", desiredStatus="PENDING")["taskArns"] == []  # spec §6.1
    deployment = ecs.describe_services(cluster="demo", services=["web"])["services"][0]["deployments"][0][
        "id"
    ]
    assert ecs.list_tasks(cluster="demo", startedBy=deployment)["taskArns"] == running
    page = ecs.list_tasks(cluster="demo", maxResults=1)
    assert len(page["taskArns"]) == 1 and page["nextToken"]
    rest = ecs.list_tasks(cluster="demo", maxResults=1, nextToken=page["nextToken"])
    assert page["taskArns"] + rest["taskArns"] == running and "nextToken" not in rest


def test_list_tasks_errors(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", serviceName="nope")
    assert _code(exc) == "ServiceNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", startedBy="x", family="web")
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", maxResults=101)
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="ghost")
    assert _code(exc) == "ClusterNotFoundException"


def test_describe_tasks_fields_and_failures(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    arn = ecs.list_tasks(cluster="demo")["taskArns"][0]
    task_id = arn.rsplit("/", 1)[1]
    out = ecs.describe_tasks(cluster="demo", tasks=[task_id, "0" * 32])
    [t] = out["tasks"]
    assert out["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:task/demo/" + "0" * 32, "reason": "MISSING"}
    ]
    assert t["taskArn"] == arn and len(task_id) == 32
    assert (t["lastStatus"], t["desiredStatus"], t["launchType"]) == ("RUNNING", "RUNNING", "FARGATE")
    assert t["group"] == "service:web" and t["startedBy"].startswith("ecs-svc/")
    assert t["cpu"] == "256" and t["memory"] == "512"
    [att] = t["attachments"]
    assert att["type"] == "ElasticNetworkInterface" and att["status"] == "ATTACHED"
    details = {d["name"]: d["value"] for d in att["details"]}
    assert details["privateIPv4Address"] == "127.0.0.1" and details["networkInterfaceId"].startswith("eni-")
    [c] = t["containers"]
    assert c["name"] == "web" and c["lastStatus"] == "RUNNING"
    assert c["networkInterfaces"][0]["privateIpv4Address"] == "127.0.0.1"
    assert t["startedAt"] >= t["createdAt"]
    with pytest.raises(ClientError) as exc:
        ecs.describe_tasks(cluster="demo", tasks=[f"{i:032x}" for i in range(101)])
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.describe_tasks(cluster="demo", tasks=[])
    assert _code(exc) == "InvalidParameterException"


def test_stop_task_and_tasks_stopped_waiter(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    arn = ecs.list_tasks(cluster="demo")["taskArns"][0]
    out = ecs.stop_task(cluster="demo", task=arn)["task"]
    assert out["desiredStatus"] == "STOPPED" and out["stopCode"] == "UserInitiated"
    assert out["stoppedReason"] == "Task stopped by user"
    ecs.get_waiter("tasks_stopped").wait(cluster="demo", tasks=[arn], WaiterConfig=FAST)
    assert ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED"
    other = ecs.list_tasks(cluster="demo")["taskArns"][0]
    out = ecs.stop_task(cluster="demo", task=other, reason="because")["task"]
    assert out["stoppedReason"] == "because"
    with pytest.raises(ClientError) as exc:
        ecs.stop_task(cluster="demo", task="f" * 32)
    assert _code(exc) == "InvalidParameterException"
    assert exc.value.response["Error"]["Message"] == "The referenced task was not found."


def test_run_task_and_tasks_running_waiter(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    out = ecs.run_task(
        cluster="demo", taskDefinition="web", count=2, startedBy="me", networkConfiguration=NET
    )
    assert out["failures"] == [] and len(out["tasks"]) == 2
    assert out["tasks"][0]["lastStatus"] == "PROVISIONING" and out["tasks"][0]["group"] == "family:web"
    arns = [t["taskArn"] for t in out["tasks"]]
    ecs.get_waiter("tasks_running").wait(cluster="demo", tasks=arns, WaiterConfig=FAST)
    assert sorted(ecs.list_tasks(cluster="demo", startedBy="me")["taskArns"]) == sorted(arns)
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster="demo", taskDefinition="web", count=11, networkConfiguration=NET)
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster="demo", taskDefinition="nope", networkConfiguration=NET)
    assert _code(exc) == "ClientException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster="demo", taskDefinition="web")
    assert _code(exc) == "InvalidParameterException"  # awsvpc needs a network configuration


def test_tasks_running_waiter_fails_for_missing_task(endpoint: Endpoint) -> None:
    from botocore.exceptions import WaiterError

    ecs = endpoint.client("ecs")
    with pytest.raises(WaiterError):
        ecs.get_waiter("tasks_running").wait(cluster="demo", tasks=["a" * 32], WaiterConfig=FAST)


def test_execute_command_is_not_connected(endpoint: Endpoint) -> None:
    ecs = endpoint.client("ecs")
    arn = ecs.list_tasks(cluster="demo")["taskArns"][0]
    with pytest.raises(ClientError) as exc:
        ecs.execute_command(cluster="demo", task=arn, command="ls", interactive=True)
    assert _code(exc) == "TargetNotConnectedException"
