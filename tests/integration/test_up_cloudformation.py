"""CloudFormation stacks through a real ``albfargate up`` supervisor, across a SIGKILL: a stack deployed
into a running app is live; the supervisor is killed in the middle of an update; ``up`` again brings the
stack back as it was before the update (from the state directory's record), finishes the interrupted
update as a rollback, and a second deploy then updates the stack rather than creating it. Nothing is left
running after ``down``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api_client
from tests.cfn_templates import body, service_template
from tests.integration.up_support import (
    Svc,
    cli,
    detached,
    free_port,
    get,
    make_template,
    processes_of,
    status,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(400)]

FAST = {"Delay": 0.25, "MaxAttempts": 480}


def cfn_url(st: dict[str, Any]) -> str:
    """The local URL of the CloudFormation stack's listener (template port 81)."""
    for lb in st["load_balancers"]:
        for listener in lb["listeners"]:
            if listener["port"] == 81:
                return str(listener["url"])
    raise AssertionError(f"no listener 81 in {st['load_balancers']}")


def test_a_stack_survives_a_sigkilled_supervisor_and_its_interrupted_update_rolls_back(
    tmp_path: Path,
) -> None:
    tpl = make_template(tmp_path / "app.json", [Svc(name="base", desired=1)])
    state = tmp_path / "state"
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}")
    cli("up", *args, "--detach", "--state-dir", str(state), timeout=180)
    st = status(state)
    try:
        cfn = api_client(st["api_url"], "cloudformation")
        cfn.create_stack(StackName="Extra", TemplateBody=body(service_template(listener_port=81, desired=1)))
        cfn.get_waiter("stack_create_complete").wait(StackName="Extra", WaiterConfig=FAST)
        url = cfn_url(status(state))
        assert get(url)[0] == 200
        # an update in progress (a rolling deployment) when the supervisor is killed
        cfn.update_stack(
            StackName="Extra", TemplateBody=body(service_template(listener_port=81, desired=1, env="2"))
        )
        time.sleep(0.5)
        assert cfn.describe_stacks(StackName="Extra")["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
        sup = st["supervisor_pid"]
        os.kill(sup, signal.SIGKILL)
        wait_for(lambda: sup not in processes_of(state), 10, "the supervisor gone")
    except BaseException:
        cli("down", "--state-dir", str(state), check=False)
        raise

    with detached(state, *args, timeout=120) as st2:
        cfn = api_client(st2["api_url"], "cloudformation")
        wait_for(
            lambda: (
                cfn.describe_stacks(StackName="Extra")["Stacks"][0]["StackStatus"]
                == "UPDATE_ROLLBACK_COMPLETE"
            ),
            60,
            "the interrupted update rolled back",
        )
        reasons = [
            e.get("ResourceStatusReason")
            for e in cfn.describe_stack_events(StackName="Extra")["StackEvents"]
            if e["LogicalResourceId"] == "Extra" and e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS"
        ]
        assert reasons == ["The supervisor stopped during the operation; it is finished after the restart"]
        ecs = api_client(st2["api_url"], "ecs")
        (svc,) = ecs.describe_services(cluster="cfn", services=["web"])["services"]
        assert svc["taskDefinition"].endswith("cfnweb:1")  # as before the interrupted update
        wait_for(lambda: get(cfn_url(status(state)))[0] == 200, 30, "the stack's listener serving again")
        # a second deploy updates the recorded stack
        cfn.update_stack(
            StackName="Extra", TemplateBody=body(service_template(listener_port=81, desired=1, env="3"))
        )
        cfn.get_waiter("stack_update_complete").wait(StackName="Extra", WaiterConfig=FAST)
        (svc,) = ecs.describe_services(cluster="cfn", services=["web"])["services"]
        assert svc["taskDefinition"].rsplit(":", 1)[-1] not in ("1",)
        assert get(cfn_url(status(state)))[0] == 200
