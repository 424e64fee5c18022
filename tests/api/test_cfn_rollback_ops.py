"""RollbackStack, ContinueUpdateRollback and CancelUpdateStack on the endpoint: the raw responses use
only botocore's shapes (the dispatcher over the fake system), and boto3's client against a real engine
rolls back a create that failed with DisableRollback and gets
AWS's ValidationError for a wrong state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from albfargate.api.cloudformation.service import CloudFormationApi
from albfargate.api.context import Context
from albfargate.api.server import Dispatcher
from albfargate.api.store import ConfigStore
from albfargate.cfn.stacks import StackEngine
from albfargate.model import SystemModel
from tests.api.cfn_live import FAST, cfn_engine
from tests.api.fakes import FakeBackend
from tests.api.test_cloudformation_shapes import NS, call, check_ok
from tests.cfn_templates import body, bucket_template, service_template, tg_template
from tests.integration.up_support import wait_for
from tests.unit.cfn_fakes import Clock, FakeSystem, counter_ids


def test_the_three_operations_answer_in_botocore_shapes() -> None:
    system = FakeSystem(refuse={"targetgroup/": "Target group port is taken"})
    ctx = Context(FakeBackend(SystemModel()), ConfigStore(SystemModel()))
    engine = StackEngine(system, clock=Clock(), new_id=counter_ids())
    ctx.cloudformation = CloudFormationApi(engine, None)  # type: ignore[arg-type]
    d = Dispatcher(ctx)

    async def go() -> None:
        await call(
            d, "CreateStack", StackName="Slice", TemplateBody=body(tg_template()), DisableRollback=True
        )
        await engine.idle()
        result = check_ok("RollbackStack", *await call(d, "RollbackStack", StackName="Slice"))
        assert result.findtext(f"{NS}StackId", "").startswith("arn:aws:cloudformation:")
        await engine.idle()
        assert engine.get("Slice").status == "ROLLBACK_COMPLETE"

        system.refuse.clear()
        await call(d, "CreateStack", StackName="Web", TemplateBody=body(service_template()))
        await engine.idle()
        for action in ("CancelUpdateStack", "ContinueUpdateRollback", "RollbackStack"):
            status, root = await call(d, action, StackName="Web")
            assert status == 400
            assert root.findtext(f"{NS}Error/{NS}Code") == "ValidationError"
        system.hold = asyncio.Event()
        await call(d, "UpdateStack", StackName="Web", TemplateBody=body(service_template(env="2")))
        await asyncio.sleep(0.05)
        service = engine.get("Web").resources["Service"].physical_id
        assert service is not None
        system.refuse[service] = "refused"  # the rollback cannot update the service back
        check_ok("CancelUpdateStack", *await call(d, "CancelUpdateStack", StackName="Web"))
        await engine.idle()
        assert engine.get("Web").status == "UPDATE_ROLLBACK_FAILED"
        system.refuse.clear()
        system.release()
        check_ok(
            "ContinueUpdateRollback",
            *await call(d, "ContinueUpdateRollback", StackName="Web", ResourcesToSkip=["Service"]),
        )
        await engine.idle()
        assert engine.get("Web").status == "UPDATE_ROLLBACK_COMPLETE"

    asyncio.run(asyncio.wait_for(go(), 30))


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_boto3_rolls_back_a_failed_create_and_is_refused_in_a_wrong_state(tmp_path: Path) -> None:
    with cfn_engine(tmp_path / "state") as live:
        cfn, s3 = live.client("cloudformation"), live.client("s3")
        s3.create_bucket(Bucket="taken-bucket")  # the stack's bucket exists: its create fails
        template = bucket_template(name="taken-bucket")
        template["Resources"]["Vpc"] = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
        template["Resources"]["Bucket"]["DependsOn"] = ["Vpc"]  # the VPC is made, then the bucket fails
        stack_id = cfn.create_stack(
            StackName="Kept", TemplateBody=json.dumps(template), DisableRollback=True
        )["StackId"]
        with pytest.raises(Exception, match="CREATE_FAILED"):
            cfn.get_waiter("stack_create_complete").wait(StackName="Kept", WaiterConfig=FAST)
        assert cfn.describe_stacks(StackName="Kept")["Stacks"][0]["StackStatus"] == "CREATE_FAILED"
        for op in (cfn.cancel_update_stack, cfn.continue_update_rollback):
            with pytest.raises(ClientError) as err:
                op(StackName="Kept")
            assert err.value.response["Error"]["Code"] == "ValidationError"
            assert "cannot be called from current stack status" in err.value.response["Error"]["Message"]
        assert cfn.rollback_stack(StackName="Kept")["StackId"] == stack_id
        # (botocore's stack_rollback_complete waiter waits for UPDATE_ROLLBACK_COMPLETE: an update's)
        wait_for(
            lambda: cfn.describe_stacks(StackName="Kept")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE",
            30,
            "ROLLBACK_COMPLETE",
        )
        statuses = [
            (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
            for e in reversed(cfn.describe_stack_events(StackName="Kept")["StackEvents"])
        ]
        assert ("Kept", "ROLLBACK_IN_PROGRESS", "User Initiated") in statuses
        assert ("Vpc", "DELETE_COMPLETE", None) in statuses
        assert cfn.list_stack_resources(StackName="Kept")["StackResourceSummaries"] == []
        with pytest.raises(ClientError) as err:
            cfn.rollback_stack(StackName="Kept")
        assert err.value.response["Error"]["Message"] == (
            f"Stack:{stack_id} is in ROLLBACK_COMPLETE state and can not be rolled back."
        )
        assert s3.head_bucket(Bucket="taken-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200
