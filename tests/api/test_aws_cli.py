"""The real aws CLI (awscli from PyPI) against the endpoint over a running engine with stand-in tasks:
``ecs describe-services``, ``ecs update-service --desired-count``, ``ecs wait services-stable``,
``elbv2 describe-target-health`` and ``elbv2 create-rule``, checking their output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LISTENER_ARN, TG2_ARN, TG_ARN, Live, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if not AWS.exists():
        pytest.skip("the aws CLI (awscli) is not installed in this environment")
    with live_engine(tmp_path_factory.mktemp("cli") / "state") as lv:
        yield lv


def aws(live: Live, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "anything",
        "AWS_SECRET_ACCESS_KEY": "anything",
        "AWS_DEFAULT_REGION": "eu-west-3",  # any region is accepted
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [str(AWS), "--endpoint-url", live.url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_wait_services_stable_then_describe_services(live: Live) -> None:
    r = aws(live, "ecs", "wait", "services-stable", "--cluster", "live", "--services", "web", "alt")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    out = ok(aws(live, "ecs", "describe-services", "--cluster", "live", "--services", "web", "ghost"))
    [svc] = out["services"]
    assert svc["serviceName"] == "web" and svc["status"] == "ACTIVE"
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (2, 2, 0)
    assert svc["deployments"][0]["rolloutState"] in (
        "IN_PROGRESS",
        "COMPLETED",
    )  # COMPLETED once targets are healthy
    assert out["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:000000000000:service/live/ghost", "reason": "MISSING"}
    ]
    assert any(e["message"].startswith("(service web) has started 2 tasks") for e in svc["events"])
    assert abs(svc["createdAt"] - time.time()) < 600  # awscli v1 prints the wire's epoch seconds


def test_update_service_desired_count_and_wait(live: Live) -> None:
    out = ok(
        aws(live, "ecs", "update-service", "--cluster", "live", "--service", "web", "--desired-count", "3")
    )
    assert out["service"]["desiredCount"] == 3
    r = aws(live, "ecs", "wait", "services-stable", "--cluster", "live", "--services", "web")
    assert r.returncode == 0, r.stderr
    svc = ok(aws(live, "ecs", "describe-services", "--cluster", "live", "--services", "web"))["services"][0]
    assert svc["runningCount"] == 3 and len(svc["deployments"]) == 1
    health = ok(aws(live, "elbv2", "describe-target-health", "--target-group-arn", TG_ARN))
    assert len(health["TargetHealthDescriptions"]) >= 3
    out = ok(
        aws(live, "ecs", "update-service", "--cluster", "live", "--service", "web", "--desired-count", "2")
    )
    assert out["service"]["desiredCount"] == 2
    assert (
        aws(live, "ecs", "wait", "services-stable", "--cluster", "live", "--services", "web").returncode == 0
    )
    r = aws(live, "ecs", "update-service", "--cluster", "live", "--service", "nope", "--desired-count", "1")
    assert r.returncode != 0 and "ServiceNotFoundException" in r.stderr and "Service not found." in r.stderr


def test_describe_target_health(live: Live) -> None:
    assert (
        aws(live, "ecs", "wait", "services-stable", "--cluster", "live", "--services", "web").returncode == 0
    )
    r = aws(live, "elbv2", "wait", "target-in-service", "--target-group-arn", TG_ARN)
    assert r.returncode == 0, r.stderr
    out = ok(aws(live, "elbv2", "describe-target-health", "--target-group-arn", TG_ARN))
    descs = out["TargetHealthDescriptions"]
    assert {d["TargetHealth"]["State"] for d in descs} == {"healthy"}
    assert all(
        d["Target"]["Id"] == "127.0.0.1" and d["HealthCheckPort"] == str(d["Target"]["Port"]) for d in descs
    )
    text = aws(
        live,
        "elbv2",
        "describe-target-health",
        "--target-group-arn",
        TG_ARN,
        "--output",
        "text",
        "--query",
        "TargetHealthDescriptions[].TargetHealth.State",
    )
    assert text.returncode == 0 and set(text.stdout.split()) == {"healthy"}
    r = aws(live, "elbv2", "describe-target-health", "--target-group-arn", TG_ARN + "0")
    assert r.returncode != 0 and "TargetGroupNotFound" in r.stderr


def test_create_rule(live: Live) -> None:
    assert aws(live, "elbv2", "wait", "target-in-service", "--target-group-arn", TG2_ARN).returncode == 0
    out = ok(
        aws(
            live,
            "elbv2",
            "create-rule",
            "--listener-arn",
            LISTENER_ARN,
            "--priority",
            "7",
            "--conditions",
            "Field=path-pattern,Values='/cli*'",
            "--actions",
            f"Type=forward,TargetGroupArn={TG2_ARN}",
        )
    )
    [rule] = out["Rules"]
    assert rule["Priority"] == "7" and rule["IsDefault"] is False
    assert rule["Conditions"][0]["Values"] == ["/cli*"]
    assert rule["Actions"][0]["TargetGroupArn"] == TG2_ARN
    status, body = live.get("/cli-test")
    assert status == 200 and json.loads(body)["service"] == "alt"
    r = aws(
        live,
        "elbv2",
        "create-rule",
        "--listener-arn",
        LISTENER_ARN,
        "--priority",
        "7",
        "--conditions",
        "Field=path-pattern,Values='/other'",
        "--actions",
        f"Type=forward,TargetGroupArn={TG_ARN}",
    )
    assert r.returncode != 0 and "PriorityInUse" in r.stderr
    assert ok(aws(live, "elbv2", "delete-rule", "--rule-arn", rule["RuleArn"])) == {}
    assert json.loads(live.get("/cli-test")[1])["service"] == "web"
