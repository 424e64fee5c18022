"""End to end: ``albfargate up --detach`` prints the AWS-compatible endpoint and puts it in
``status --json``; the real aws CLI drives the detached system through it; ``down`` leaves nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.up_support import (
    Svc,
    down_after,
    free_port,
    get,
    make_template,
    status,
    up_detached,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
AWS = Path(sys.executable).parent / "aws"


def aws(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [str(AWS), "--endpoint-url", url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_up_prints_the_endpoint_and_the_aws_cli_drives_it(tmp_path: Path) -> None:
    if not AWS.exists():
        pytest.skip("the aws CLI (awscli) is not installed in this environment")
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    port = free_port()
    up = up_detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={port}", timeout=60)
    with down_after(state, down_timeout=200):
        assert up.returncode == 0, up.stdout + up.stderr
        st = status(state)
        api = st["api_url"]
        assert api and api.startswith("http://127.0.0.1:")
        assert f"AWS API endpoint (ECS, ELBv2, CloudFormation, S3, SSM, ...) -> {api}" in up.stdout
        cluster = st["services"][0]["cluster"]
        r = aws(
            api, "ecs", "update-service", "--cluster", cluster, "--service", "web", "--desired-count", "2"
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["service"]["desiredCount"] == 2
        r = aws(api, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "web")
        assert r.returncode == 0, r.stderr
        out = json.loads(
            aws(api, "ecs", "describe-services", "--cluster", cluster, "--services", "web").stdout
        )
        assert out["services"][0]["runningCount"] == 2
        tg = json.loads(aws(api, "elbv2", "describe-target-groups", "--names", "tg-web").stdout)[
            "TargetGroups"
        ][0]
        r = aws(api, "elbv2", "wait", "target-in-service", "--target-group-arn", tg["TargetGroupArn"])
        assert r.returncode == 0, r.stderr
        health = json.loads(
            aws(api, "elbv2", "describe-target-health", "--target-group-arn", tg["TargetGroupArn"]).stdout
        )
        assert [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]] == [
            "healthy",
            "healthy",
        ]
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
