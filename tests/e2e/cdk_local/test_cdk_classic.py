"""The seed's own workflow, locally, with the stock npm ``aws-cdk`` CLI (issue 16): into ``albfargate up
--empty --stand-in '*'`` (the classic app's nginx image is a registry image: a stand-in runs for it with
the process driver), ``cdk bootstrap``, ``cdk deploy --all --require-approval never`` of the unchanged
``examples/classic`` (stack events stream, Outputs print), ``curl "$ServiceURL"`` answers through the local
ALB, a second ``cdk deploy`` after a change is a change set and a rolling deployment with no failed request
under light load, and ``cdk destroy --all --force`` stops and removes everything it made. A deploy before
the bootstrap fails as on AWS ("Has the environment been bootstrapped?") and makes nothing.

Between the two deploys the system is stopped and started again (``down``, ``up --empty``): the stack
comes back from the state directory, so the second deploy is an update.

The change of the second deploy: a container environment variable (a new task definition revision), and
the target group's deregistration delay set to 5 s (the CDK default is 300 s, which a rolling deployment
waits out while the old tasks drain, as on AWS)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.api.cfn_live import Load
from tests.e2e.cdk_local.support import (
    albfargate,
    cdk_cli,
    copy_example,
    curl,
    output,
    outputs,
    run_cdk,
    system_env,
)
from tests.integration.up_support import assert_nothing_left, processes_of

pytestmark = [pytest.mark.integration, pytest.mark.cdkcli, pytest.mark.slow, pytest.mark.timeout(1200)]

CHANGE = """
service.target_group.set_attribute("deregistration_delay.timeout_seconds", "5")
container.add_environment("VERSION", "2")
"""


def change_app(app: Path) -> None:
    source = (app / "app.py").read_text()
    source = source.replace(
        "        ecs_patterns.ApplicationLoadBalancedFargateService(",
        "        service = ecs_patterns.ApplicationLoadBalancedFargateService(",
    )
    marker = "\n\napp = cdk.App()"
    body = "".join(f"        {line}\n" for line in CHANGE.strip().splitlines())
    source = source.replace(marker, "\n" + body + marker)
    (app / "app.py").write_text(source)


def stack_status(env: dict[str, str], name: str) -> str:
    import boto3

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
    except cfn.exceptions.ClientError as e:
        return str(e.response["Error"]["Message"])


def stack_outputs(env: dict[str, str], name: str) -> dict[str, str]:
    import boto3

    cfn = boto3.client(
        "cloudformation",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_cdk_bootstrap_deploy_update_destroy_of_the_classic_example(tmp_path: Path) -> None:
    cdk = cdk_cli()
    app = copy_example("classic", tmp_path)
    state = tmp_path / ".albfargate"
    up = albfargate("up", "--empty", "--detach", "--stand-in", "*", "--api-port", "0", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        env = system_env(app)  # from the app's folder: the system of its parent folder is found

        # before the bootstrap: refused as on AWS (no deploy role to assume, no version parameter)
        early = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert early.returncode != 0, early.output
        assert "Has the environment been bootstrapped? Please run 'cdk bootstrap'" in early.output
        assert stack_status(env, "ClassicStack") == "Stack with id ClassicStack does not exist"

        boot = run_cdk(cdk, "bootstrap", cwd=app, env=env)
        assert boot.returncode == 0, boot.output
        assert "Environment aws://000000000000/us-east-1 bootstrapped" in boot.output, boot.output

        first = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert first.returncode == 0, first.output
        assert "CREATE_COMPLETE" in first.output and "AWS::ECS::Service" in first.output  # events stream
        found = outputs(first.output, "ClassicStack")
        url = output(found, "MyFargateServiceServiceURL")
        dns = output(found, "MyFargateServiceLoadBalancerDNS")
        assert url.startswith("http://ClassicS-MyFargat-") and ".elb.localhost:" in url, url
        assert url == f"http://{dns}"
        code, body = curl(url)
        assert code == 200, body
        answer = json.loads(body)
        assert answer["container"] == "web" and answer["service"].startswith("MyFargateService")

        # the deployed stacks survive a restart of the system: the next deploy updates them
        stopped = albfargate("down", "--state-dir", str(state), cwd=tmp_path)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        again = albfargate("up", "--empty", "--detach", "--stand-in", "*", "--api-port", "0", cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        env = system_env(app)  # the endpoint's port may have changed
        found = stack_outputs(env, "ClassicStack")  # the local port is the same unless it was taken
        url = output(found, "MyFargateServiceServiceURL")
        assert ".elb.localhost:" in url and curl(url)[0] == 200

        change_app(app)
        local = "http://127.0.0.1:" + url.rsplit(":", 1)[1]  # the same listener, for Python's client
        with Load(local + "/") as load:
            second = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert second.returncode == 0, second.output
        assert "UPDATE_COMPLETE" in second.output, second.output
        assert load.failed == [] and load.ok > 20, (load.ok, load.failed[:5])
        status = json.loads(albfargate("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
        (svc,) = status["services"]
        assert [d["task_definition"].rsplit(":", 1)[1] for d in svc["deployments"]] == ["2"], svc
        assert svc["running"] == 2 and svc["steady"]
        assert outputs(second.output, "ClassicStack") == found  # the same URL after the update
        assert curl(url)[0] == 200

        gone = run_cdk(cdk, "destroy", "--all", "--force", cwd=app, env=env)
        assert gone.returncode == 0, gone.output
        assert "destroyed" in gone.output, gone.output
        assert stack_status(env, "ClassicStack") == "Stack with id ClassicStack does not exist"
        assert stack_status(env, "CDKToolkit") == "CREATE_COMPLETE"  # destroy leaves the bootstrap
        status = json.loads(albfargate("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
        # a deleted service is INACTIVE (still described for a while, as on AWS), with no task
        assert [(s["status"], s["tasks"]) for s in status["services"]] == [("INACTIVE", [])], status
        assert status["load_balancers"] == [], status
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 2):
            pass
        # no task is left: only the supervisor and the registry behind ECR (the bootstrap's repository)
        registry = int((state / "pids" / "registry.pid").read_text())
        assert sorted(processes_of(state)) == sorted([status["supervisor_pid"], registry])
    finally:
        down = albfargate("down", "--state-dir", str(state), cwd=tmp_path)
        assert down.returncode == 0, down.stdout + down.stderr
    assert_nothing_left(state)
