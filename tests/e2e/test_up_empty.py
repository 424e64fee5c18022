"""``albfargate up --empty --detach``: the local system with nothing deployed (issue 16, "What users do").
It starts in the current directory's ``.albfargate/``, serves the AWS endpoint (STS, S3, SSM,
CloudFormation), ``eval "$(albfargate env)"`` from that directory points the real aws CLI at it, and
``down`` leaves nothing. ``--empty`` with an app is a usage error."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.up_support import PY, assert_nothing_left, cli, status

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
AWS = Path(sys.executable).parent / "aws"
ALBFARGATE = f"{shlex.quote(PY)} -m albfargate.cli"


def bash(script: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_up_empty_serves_the_endpoint_with_nothing_deployed(tmp_path: Path) -> None:
    if not AWS.exists():
        pytest.skip("the aws CLI (awscli) is not installed in this environment")
    state = tmp_path / ".albfargate"
    try:
        up = bash(f"{ALBFARGATE} up --empty --detach --api-port 0 --timeout 60", tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "(no load balancer listeners)" in up.stdout and "steady" in up.stdout, up.stdout
        st = status(state)  # the state dir is the current directory's .albfargate/
        assert st["services"] == [] and st["load_balancers"] == [] and st["api_url"]
        script = (
            f'eval "$({ALBFARGATE} env)" && '
            "aws sts get-caller-identity --output json && "
            "aws s3 mb s3://uploads-bucket >/dev/null && echo hi > f.txt && "
            "aws s3 cp f.txt s3://uploads-bucket/f.txt >/dev/null && "
            "aws s3 cp s3://uploads-bucket/f.txt - && "
            "aws ssm put-parameter --name /cdk-bootstrap/hnb659fds/version --type String --value 21 "
            ">/dev/null && aws ssm get-parameter --name /cdk-bootstrap/hnb659fds/version "
            "--query Parameter.Value --output text && "
            "aws cloudformation list-stacks --query 'length(StackSummaries)' --output text"
        )
        out = bash(script, tmp_path)
        assert out.returncode == 0, out.stderr
        who, _, rest = out.stdout.partition("}\n")
        assert json.loads(who + "}")["Account"] == "000000000000"
        assert rest.split() == ["hi", "21", "0"], out.stdout
    finally:
        down = bash(f"{ALBFARGATE} down", tmp_path)  # found from the current directory too
        assert down.returncode == 0, down.stdout + down.stderr
    assert_nothing_left(state)


def test_up_empty_with_an_app_is_a_usage_error(tmp_path: Path) -> None:
    p = cli("up", str(tmp_path), "--empty", check=False)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "--empty" in p.stderr and p.stdout == ""
