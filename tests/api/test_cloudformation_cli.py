"""``aws cloudformation deploy --template-file`` (the real aws CLI) with the template ``albfargate synth
examples/hello`` makes, into an empty running system (stand-in tasks for its image asset): the stack is
created, the service answers through the local ALB, a second deploy after a change is a rolling
deployment with no failed request under light load, an unchanged deploy is "up to date", and
``delete-stack`` stops everything.

The aws CLI's waiters poll every 30 s, so this takes a few minutes (marked slow). The only change made
to the synthesized template: the target group's deregistration delay is 5 s instead of 30 s, so a
rolling deployment finishes within one waiter poll."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.cfn_live import Load, cfn_engine
from tests.api.live import Live

pytestmark = [pytest.mark.integration, pytest.mark.synth, pytest.mark.slow, pytest.mark.timeout(600)]

AWS = Path(sys.executable).parent / "aws"


def aws(live: Live, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "anything",
        "AWS_SECRET_ACCESS_KEY": "anything",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [str(AWS), "--endpoint-url", live.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def hello_template(cdk_out: Path, *, version: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((cdk_out / "HelloStack.template.json").read_text())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup":
            attrs = [a for a in props.get("TargetGroupAttributes", []) if "deregistration" not in a["Key"]]
            props["TargetGroupAttributes"] = [
                *attrs,
                {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
            ]
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            container = props["ContainerDefinitions"][0]
            container["Environment"] = [
                *container.get("Environment", []),
                {"Name": "VERSION", "Value": version},
            ]
    return template


def test_aws_cloudformation_deploy_of_the_hello_example(
    tmp_path: Path, synthesized_example: Callable[[str], Path]
) -> None:
    if not AWS.exists():
        pytest.skip("the aws CLI (awscli) is not installed in this environment")
    cdk_out = synthesized_example("hello")
    template_file = tmp_path / "hello.template.json"
    with cfn_engine(tmp_path / "state") as live:
        # what `cdk bootstrap` leaves: the template's BootstrapVersion parameter reads it from SSM
        live.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String")
        deploy = [
            "cloudformation",
            "deploy",
            "--template-file",
            str(template_file),
            "--stack-name",
            "HelloStack",
            "--capabilities",
            "CAPABILITY_IAM",
        ]

        template_file.write_text(json.dumps(hello_template(cdk_out, version="1")))
        first = aws(live, *deploy)
        assert first.returncode == 0, first.stderr
        assert "Successfully created/updated stack - HelloStack" in first.stdout
        stack = live.client("cloudformation").describe_stacks(StackName="HelloStack")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert {o["OutputKey"][:10] for o in stack["Outputs"]} >= {"HelloServi", "HelloUrl21"}
        with urllib.request.urlopen(live.lb_url + "/", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read())["container"] == "web"

        template_file.write_text(json.dumps(hello_template(cdk_out, version="2")))
        with Load(live.lb_url + "/") as load:
            second = aws(live, *deploy)
        assert second.returncode == 0, second.stderr
        assert load.failed == [] and load.ok > 20, (load.ok, load.failed[:5])
        stack = live.client("cloudformation").describe_stacks(StackName="HelloStack")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        ecs = live.client("ecs")
        (cluster,) = ecs.list_clusters()["clusterArns"]
        (service,) = ecs.describe_services(
            cluster=cluster, services=ecs.list_services(cluster=cluster)["serviceArns"]
        )["services"]
        assert service["taskDefinition"].endswith(":2") and len(service["deployments"]) == 1

        same = aws(live, *deploy, "--no-fail-on-empty-changeset")
        assert same.returncode == 0, same.stderr
        assert "No changes to deploy. Stack HelloStack is up to date" in same.stdout

        assert aws(live, "cloudformation", "delete-stack", "--stack-name", "HelloStack").returncode == 0
        waited = aws(live, "cloudformation", "wait", "stack-delete-complete", "--stack-name", "HelloStack")
        assert waited.returncode == 0, waited.stderr
        assert ecs.list_clusters()["clusterArns"] == []
        running = live.call(
            lambda: [t for t in live.engine.store.tasks.values() if t.last_status != "STOPPED"]
        )
        assert running == []
        with pytest.raises(OSError):
            urllib.request.urlopen(live.lb_url + "/", timeout=2)
