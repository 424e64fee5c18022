"""CloudFormation through boto3 against a real engine (stand-in tasks, the local ALB): stacks whose
resources run live (target groups, load balancers, listeners, ECS services, buckets) and inert ones
(VPC, subnets), change sets, refusals with AWS's codes that change nothing, a failed resource rolled
back, the circuit breaker rolling an update back, the concurrent-deploy error, a bucket that is not
empty, TemplateURL from the local S3, and the stacks surviving a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from albfargate.backing import s3 as s3_backing
from tests.api.cfn_live import FAST, Load, cfn_engine, events_of
from tests.cfn_templates import body, bucket_template, service_template, tg_template

pytestmark = pytest.mark.integration

CAPS = ["CAPABILITY_IAM"]


def client_error(fn: Any, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        fn(**kw)
    e = err.value.response["Error"]
    return e["Code"], e["Message"]


def wait(cfn: Any, waiter: str, stack: str) -> None:
    cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig=FAST)


def test_a_target_group_stack_is_live_and_its_delete_removes_it(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn, elbv2 = live.client("cloudformation"), live.client("elbv2")
        stack_id = cfn.create_stack(StackName="Slice", TemplateBody=body(tg_template()))["StackId"]
        assert stack_id.startswith("arn:aws:cloudformation:us-east-1:000000000000:stack/Slice/")
        wait(cfn, "stack_create_complete", "Slice")
        stack = cfn.describe_stacks(StackName="Slice")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        groups = elbv2.describe_target_groups()["TargetGroups"]
        assert [g["TargetGroupArn"] for g in groups] == [outputs["TgArn"]]
        resources = {
            r["LogicalResourceId"]: r
            for r in cfn.describe_stack_resources(StackName="Slice")["StackResources"]
        }
        assert resources["TG"]["PhysicalResourceId"] == outputs["TgArn"]
        assert resources["Vpc"]["PhysicalResourceId"] == outputs["VpcId"]
        assert cfn.list_exports()["Exports"] == [
            {"ExportingStackId": stack_id, "Name": "slice-tg", "Value": outputs["TgArn"]}
        ]
        assert cfn.get_template(StackName="Slice")["TemplateBody"] == tg_template()
        cfn.delete_stack(StackName="Slice")
        cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id, WaiterConfig=FAST)
        assert elbv2.describe_target_groups()["TargetGroups"] == []
        assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
        assert client_error(cfn.describe_stacks, StackName="Slice") == (
            "ValidationError",
            "Stack with id Slice does not exist",
        )
        assert client_error(cfn.describe_stack_events, StackName="Slice") == (
            "ValidationError",
            "Stack [Slice] does not exist",
        )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {
                "Resources": {
                    "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
                    "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "A"}}},
                }
            },
            "Circular dependency between resources: [A, B]",
        ),
        (
            {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::Frob": "x"}}}}},
            "Template format error: Encountered unsupported function: Fn::Frob Supported functions are: [",
        ),
        (
            {"Parameters": {"P": {"Type": "String"}}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}}},
            "Parameters: [P] must have values",
        ),
    ],
)
def test_templates_cloudformation_would_reject_change_nothing(
    tmp_path: Path, template: dict[str, Any], message: str
) -> None:
    with cfn_engine(tmp_path) as live:
        cfn = live.client("cloudformation")
        tpl = body(template)
        attempts: list[tuple[Any, dict[str, Any]]] = [
            (cfn.create_stack, {"StackName": "Bad", "TemplateBody": tpl}),
            (
                cfn.create_change_set,
                {"StackName": "Bad", "TemplateBody": tpl, "ChangeSetName": "c", "ChangeSetType": "CREATE"},
            ),
        ]
        if not message.startswith("Parameters"):  # ValidateTemplate needs no parameter values
            attempts.append((cfn.validate_template, {"TemplateBody": tpl}))
        for fn, args in attempts:
            code, text = client_error(fn, **args)
            assert code == "ValidationError" and text.startswith(message)
        assert cfn.list_stacks()["StackSummaries"] == []
        assert live.client("elbv2").describe_target_groups()["TargetGroups"] == []


def test_iam_resources_need_the_capability(tmp_path: Path) -> None:
    template = {
        "Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}
    }
    with cfn_engine(tmp_path) as live:
        cfn = live.client("cloudformation")
        assert client_error(cfn.create_stack, StackName="R", TemplateBody=body(template)) == (
            "InsufficientCapabilitiesException",
            "Requires capabilities : [CAPABILITY_IAM]",
        )
        cfn.create_stack(StackName="R", TemplateBody=body(template), Capabilities=CAPS)
        wait(cfn, "stack_create_complete", "R")


@pytest.mark.skipif(not s3_backing.available(), reason="needs the s3 extra")
def test_a_failed_resource_rolls_back_and_the_events_say_why(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn = live.client("cloudformation")
        live.client("s3").create_bucket(Bucket="taken-bucket")
        template = tg_template()
        template["Resources"].update(bucket_template(name="taken-bucket")["Resources"])
        template["Resources"]["Bucket"]["DependsOn"] = ["TG"]
        cfn.create_stack(StackName="Fails", TemplateBody=body(template))
        with pytest.raises(WaiterError):
            wait(cfn, "stack_create_complete", "Fails")
        stack = cfn.describe_stacks(StackName="Fails")["Stacks"][0]
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
        got = events_of(cfn, "Fails")
        assert (
            "Bucket",
            "CREATE_FAILED",
            'Resource handler returned message: "taken-bucket already exists" '
            "(HandlerErrorCode: AlreadyExists)",
        ) in got
        assert (
            "Fails",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Bucket]. Rollback requested by user.",
        ) in got
        assert ("TG", "DELETE_COMPLETE", None) in got
        assert live.client("elbv2").describe_target_groups()["TargetGroups"] == []
        assert [b["Name"] for b in live.client("s3").list_buckets()["Buckets"]] == ["taken-bucket"]
        _, message = client_error(cfn.update_stack, StackName="Fails", TemplateBody=body(tg_template()))
        assert message.endswith("is in ROLLBACK_COMPLETE state and can not be updated.")


@pytest.mark.slow
def test_a_service_stack_serves_updates_without_failed_requests_and_deletes(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn, ecs = live.client("cloudformation"), live.client("ecs")
        cfn.create_change_set(
            StackName="Web",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=body(service_template()),
        )
        assert cfn.describe_stacks(StackName="Web")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
        cfn.get_waiter("change_set_create_complete").wait(
            StackName="Web", ChangeSetName="first", WaiterConfig=FAST
        )
        cfn.execute_change_set(StackName="Web", ChangeSetName="first")
        wait(cfn, "stack_create_complete", "Web")
        # the service completed only once steady: its targets are healthy in the target group
        tg_arn = cfn.describe_stack_resource(StackName="Web", LogicalResourceId="TG")["StackResourceDetail"][
            "PhysicalResourceId"
        ]
        health = live.client("elbv2").describe_target_health(TargetGroupArn=tg_arn)[
            "TargetHealthDescriptions"
        ]
        assert [h["TargetHealth"]["State"] for h in health] == ["healthy", "healthy"]
        status, text = live.get("/")
        assert status == 200 and '"service": "web"' in text
        (svc,) = ecs.describe_services(cluster="cfn", services=["web"])["services"]
        assert svc["runningCount"] == 2 and len(svc["deployments"]) == 1
        assert svc["deployments"][0]["rolloutState"] == "COMPLETED"

        cs = cfn.create_change_set(
            StackName="Web", ChangeSetName="second", TemplateBody=body(service_template(env="2"))
        )
        cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=cs["Id"], WaiterConfig=FAST)
        changes = {
            c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
            for c in cfn.describe_change_set(ChangeSetName=cs["Id"])["Changes"]
        }
        assert changes["TaskDef"]["Replacement"] == "True" and changes["Service"]["Replacement"] == "False"
        assert set(changes) == {"TaskDef", "Service"}
        with Load(live.lb_url + "/") as load:
            cfn.execute_change_set(ChangeSetName=cs["Id"])
            time.sleep(0.3)
            code, message = client_error(
                cfn.update_stack, StackName="Web", TemplateBody=body(service_template(env="3"))
            )
            assert (code, message) == (
                "ValidationError",
                f"Stack:{svc_stack_id(cfn)} is in UPDATE_IN_PROGRESS state and can not be updated.",
            )
            wait(cfn, "stack_update_complete", "Web")
            time.sleep(0.5)
        assert load.failed == [] and load.ok > 20, (load.ok, load.failed[:5])
        (svc,) = ecs.describe_services(cluster="cfn", services=["web"])["services"]
        assert svc["taskDefinition"].endswith("task-definition/cfnweb:2")
        assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]
        assert (
            ecs.describe_task_definition(taskDefinition="cfnweb:1")["taskDefinition"]["status"] == "INACTIVE"
        )

        cfn.delete_stack(StackName="Web")
        wait(cfn, "stack_delete_complete", "Web")
        assert ecs.list_clusters()["clusterArns"] == []
        running = live.call(
            lambda: [t.task_id for t in live.engine.store.tasks.values() if t.last_status != "STOPPED"]
        )
        assert running == []
        assert live.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
        with pytest.raises(OSError):
            live.get("/", timeout=2)


def svc_stack_id(cfn: Any) -> str:
    return str(cfn.describe_stacks(StackName="Web")["Stacks"][0]["StackId"])


@pytest.mark.slow
def test_the_circuit_breaker_fails_the_update_which_rolls_back(tmp_path: Path) -> None:
    # example/* runs the stand-in; the broken image has no run setting: its tasks fail to start
    with cfn_engine(tmp_path, stand_in=("example/*",)) as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Web", TemplateBody=body(service_template()))
        wait(cfn, "stack_create_complete", "Web")
        cfn.update_stack(StackName="Web", TemplateBody=body(service_template(image="broken/web:2")))
        with pytest.raises(WaiterError):
            cfn.get_waiter("stack_update_complete").wait(
                StackName="Web", WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
            )
        stack = cfn.describe_stacks(StackName="Web")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
        got = events_of(cfn, "Web")
        failed = [r for lid, status, r in got if lid == "Service" and status == "UPDATE_FAILED"]
        assert failed and "ECS Deployment Circuit Breaker was triggered" in (failed[0] or "")
        assert (
            "Web",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [Service]. ",
        ) in got
        assert cfn.get_template(StackName="Web")["TemplateBody"] == service_template()
        (svc,) = live.client("ecs").describe_services(cluster="cfn", services=["web"])["services"]
        assert svc["taskDefinition"].endswith("cfnweb:1")
        assert live.get("/")[0] == 200


@pytest.mark.slow
def test_a_service_whose_targets_never_turn_healthy_does_not_complete_and_rolls_back(tmp_path: Path) -> None:
    # the health check expects 299: the targets never turn healthy, the service is never steady
    with cfn_engine(tmp_path) as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Sick", TemplateBody=body(service_template(healthy_code="299", desired=1)))
        time.sleep(6)  # tasks run and answer, but their targets are not healthy
        stack = cfn.describe_stacks(StackName="Sick")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS", events_of(cfn, "Sick")
        assert ("Service", "CREATE_IN_PROGRESS", "Resource creation Initiated") in events_of(cfn, "Sick")
        with pytest.raises(WaiterError):  # the circuit breaker stops the deployment
            cfn.get_waiter("stack_create_complete").wait(
                StackName="Sick", WaiterConfig={"Delay": 1, "MaxAttempts": 150}
            )
        assert cfn.describe_stacks(StackName="Sick")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
        failed = [r for lid, st, r in events_of(cfn, "Sick") if lid == "Service" and st == "CREATE_FAILED"]
        assert failed and "ECS Deployment Circuit Breaker was triggered" in (failed[0] or "")
        assert live.client("ecs").list_clusters()["clusterArns"] == []


@pytest.mark.skipif(not s3_backing.available(), reason="needs the s3 extra")
def test_a_bucket_that_is_not_empty_cannot_be_deleted_unless_auto_delete(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn, s3 = live.client("cloudformation"), live.client("s3")
        cfn.create_stack(StackName="Data", TemplateBody=body(bucket_template()))
        wait(cfn, "stack_create_complete", "Data")
        s3.put_object(Bucket="cfn-test-bucket", Key="note.txt", Body=b"kept")
        cfn.delete_stack(StackName="Data")
        with pytest.raises(WaiterError):
            wait(cfn, "stack_delete_complete", "Data")
        stack = cfn.describe_stacks(StackName="Data")["Stacks"][0]
        assert (stack["StackStatus"], stack["StackStatusReason"]) == (
            "DELETE_FAILED",
            "The following resource(s) failed to delete: [Bucket]. ",
        )
        reason = next(r for lid, st, r in events_of(cfn, "Data") if lid == "Bucket" and st == "DELETE_FAILED")
        assert reason and reason.startswith(
            'Resource handler returned message: "The bucket you tried to delete is not empty (Service: S3, '
            "Status Code: 409"
        )
        assert s3.get_object(Bucket="cfn-test-bucket", Key="note.txt")["Body"].read() == b"kept"

        cfn.create_stack(
            StackName="Auto", TemplateBody=body(bucket_template(name="auto-bucket", auto_delete=True))
        )
        wait(cfn, "stack_create_complete", "Auto")
        s3.put_object(Bucket="auto-bucket", Key="a", Body=b"1")
        s3.put_object(Bucket="auto-bucket", Key="dir/b", Body=b"2")
        cfn.delete_stack(StackName="Auto")
        wait(cfn, "stack_delete_complete", "Auto")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["cfn-test-bucket"]


@pytest.mark.skipif(not s3_backing.available(), reason="needs the s3 extra")
def test_template_url_forms_resolve_against_the_local_s3(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn, s3 = live.client("cloudformation"), live.client("s3")
        s3.create_bucket(Bucket="cdk-assets")
        s3.put_object(Bucket="cdk-assets", Key="t/slice.json", Body=body(tg_template()).encode())
        url = "https://s3.us-east-1.amazonaws.com/cdk-assets/t/slice.json"
        summary = cfn.get_template_summary(TemplateURL=url)
        assert summary["ResourceTypes"] == ["AWS::EC2::VPC", "AWS::ElasticLoadBalancingV2::TargetGroup"]
        cfn.create_stack(StackName="Url", TemplateURL="https://cdk-assets.s3.amazonaws.com/t/slice.json")
        wait(cfn, "stack_create_complete", "Url")
        assert client_error(
            cfn.create_stack, StackName="Missing", TemplateURL="https://s3.amazonaws.com/cdk-assets/none.json"
        )[1].startswith("S3 error: ")
        assert client_error(cfn.validate_template, TemplateURL="https://example.com/t.json") == (
            "ValidationError",
            "TemplateURL must be a supported URL.",
        )


def test_stacks_survive_a_restart_and_a_second_deploy_updates(tmp_path: Path) -> None:
    with cfn_engine(tmp_path) as live:
        cfn = live.client("cloudformation")
        stack_id = cfn.create_stack(StackName="Slice", TemplateBody=body(tg_template()))["StackId"]
        wait(cfn, "stack_create_complete", "Slice")
        tg_arn = cfn.describe_stack_resource(StackName="Slice", LogicalResourceId="TG")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
    with cfn_engine(tmp_path) as live:  # as `up` after a restart: the recorded stack runs again
        cfn, elbv2 = live.client("cloudformation"), live.client("elbv2")
        stack = cfn.describe_stacks(StackName="Slice")["Stacks"][0]
        assert (stack["StackId"], stack["StackStatus"]) == (stack_id, "CREATE_COMPLETE")
        assert [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]] == [tg_arn]
        _, message = client_error(
            cfn.create_change_set,
            StackName="Slice",
            ChangeSetName="again",
            ChangeSetType="CREATE",
            TemplateBody=body(tg_template()),
        )
        assert (
            message == "Stack [Slice] already exists and cannot be created again with the changeSet [again]."
        )
        cfn.update_stack(StackName="Slice", TemplateBody=body(tg_template(health_path="/ping")))
        wait(cfn, "stack_update_complete", "Slice")
        (group,) = elbv2.describe_target_groups()["TargetGroups"]
        assert (group["TargetGroupArn"], group["HealthCheckPath"]) == (tg_arn, "/ping")
