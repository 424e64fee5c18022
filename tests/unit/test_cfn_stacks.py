"""The stack engine's state machine (cfn/stacks.py) over a fake system and a fake clock: the events and
statuses of a create, an update (in place, replacement), a rollback (the reasons in the events), a
delete (a bucket that is not empty, auto-delete-objects, an export in use), change sets, refusals that
change nothing, the concurrent-update error, persistence and the recovery after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from albfargate.cfn.model import NO_CHANGES_REASON, StackRecord
from albfargate.cfn.persist import StackStore
from albfargate.cfn.restore import stacks_model
from albfargate.cfn.stacks import DeployRequest, StackEngine
from albfargate.cfn.templates import GivenParameter, TemplateError
from tests.cfn_templates import body, bucket_template, service_template, tg_template, with_changes
from tests.unit.cfn_fakes import Clock, FakeSystem, counter_ids

CAPS = ("CAPABILITY_IAM",)


def engine_for(system: FakeSystem, store: StackStore | None = None) -> StackEngine:
    return StackEngine(system, store=store, clock=Clock(), new_id=counter_ids())


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), 30))


def events(stack: StackRecord) -> list[tuple[str, str, str | None]]:
    return [(e.logical_id, e.status, e.reason) for e in stack.events]


def req(template: dict[str, Any], **kw: Any) -> DeployRequest:
    return DeployRequest(template_body=body(template), capabilities=CAPS, **kw)


def test_create_events_outputs_and_exports() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> StackRecord:
        stack = engine.create_stack("Slice", req(tg_template()))
        assert stack.status == "CREATE_IN_PROGRESS"  # at once, before the work
        await engine.idle()
        return stack

    stack = run(go)
    assert stack.status == "CREATE_COMPLETE"
    assert events(stack) == [
        ("Slice", "CREATE_IN_PROGRESS", "User Initiated"),
        ("Vpc", "CREATE_IN_PROGRESS", None),
        ("Vpc", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Vpc", "CREATE_COMPLETE", None),
        ("TG", "CREATE_IN_PROGRESS", None),
        ("TG", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("TG", "CREATE_COMPLETE", None),
        ("Slice", "CREATE_COMPLETE", None),
    ]
    timestamps = [e.timestamp for e in stack.events]
    assert timestamps == sorted(timestamps) and len(set(e.event_id for e in stack.events)) == len(
        stack.events
    )
    tg_arn = stack.resources["TG"].physical_id
    assert tg_arn in system.tgs and stack.resources["TG"].live and not stack.resources["Vpc"].live
    assert stack.resources["Vpc"].physical_id.startswith("vpc-")
    assert system.tgs[tg_arn].health_check.path == "/"
    assert {o.key: o.value for o in stack.outputs} == {
        "TgArn": tg_arn,
        "VpcId": stack.resources["Vpc"].physical_id,
    }
    assert [(s.name, o.export_name) for s, o in engine.exports()] == [("Slice", "slice-tg")]


def test_a_failed_resource_rolls_the_create_back_and_the_events_say_why() -> None:
    system = FakeSystem(refuse={"targetgroup/": "Target group port is taken"})
    engine = engine_for(system)

    async def go() -> StackRecord:
        stack = engine.create_stack("Slice", req(tg_template()))
        await engine.idle()
        return stack

    stack = run(go)
    assert stack.status == "ROLLBACK_COMPLETE"
    reason = (
        'Resource handler returned message: "Target group port is taken" '
        "(HandlerErrorCode: GeneralServiceException)"
    )
    assert events(stack)[4:] == [
        ("TG", "CREATE_IN_PROGRESS", None),
        ("TG", "CREATE_FAILED", reason),
        (
            "Slice",
            "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [TG]. Rollback requested by user.",
        ),
        ("Vpc", "DELETE_IN_PROGRESS", None),
        ("Vpc", "DELETE_COMPLETE", None),
        ("Slice", "ROLLBACK_COMPLETE", None),
    ]
    assert stack.resources == {} and system.tgs == {} and stack.outputs == []
    with pytest.raises(TemplateError) as err:  # a rolled-back stack can only be deleted
        engine.update_stack("Slice", req(tg_template(port=81)))
    assert (
        err.value.message == f"Stack:{stack.stack_id} is in ROLLBACK_COMPLETE state and can not be updated."
    )


def test_update_in_place_and_replacement() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> StackRecord:
        stack = engine.create_stack("Slice", req(tg_template()))
        await engine.idle()
        first = stack.resources["TG"].physical_id
        engine.update_stack("Slice", req(tg_template(health_path="/health")))
        await engine.idle()
        assert stack.resources["TG"].physical_id == first  # in place
        assert system.tgs[first].health_check.path == "/health"
        mark = len(stack.events)
        engine.update_stack("Slice", req(tg_template(port=81, health_path="/health")))
        await engine.idle()
        second = stack.resources["TG"].physical_id
        assert second != first and stack.resources["TG"].generation == 1
        assert set(system.tgs) == {second}
        assert events(stack)[mark:] == [
            ("Slice", "UPDATE_IN_PROGRESS", "User Initiated"),
            (
                "TG",
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
            ),
            ("TG", "UPDATE_IN_PROGRESS", "Resource creation Initiated"),
            ("TG", "UPDATE_COMPLETE", None),
            ("Slice", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
            ("TG", "DELETE_IN_PROGRESS", None),
            ("TG", "DELETE_COMPLETE", None),
            ("Slice", "UPDATE_COMPLETE", None),
        ]
        assert [e.physical_id for e in stack.events[mark + 5 : mark + 7]] == [first, first]
        assert {o.key: o.value for o in stack.outputs}["TgArn"] == second
        return stack

    stack = run(go)
    assert stack.status == "UPDATE_COMPLETE" and stack.previous is None


def test_no_changes() -> None:
    engine = engine_for(FakeSystem())

    async def go() -> None:
        engine.create_stack("Slice", req(tg_template()))
        await engine.idle()
        with pytest.raises(TemplateError) as err:
            engine.update_stack("Slice", req(tg_template()))
        assert err.value.message == "No updates are to be performed."
        cs = engine.create_change_set("Slice", "c1", "UPDATE", req(tg_template()))
        assert (cs.status, cs.status_reason, cs.execution_status) == (
            "FAILED",
            NO_CHANGES_REASON,
            "UNAVAILABLE",
        )
        with pytest.raises(TemplateError) as err:
            engine.execute_change_set("Slice", "c1")
        assert err.value.code == "InvalidChangeSetStatus"

    run(go)


def test_change_sets_create_review_execute_delete() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> None:
        cs = engine.create_change_set("Slice", "first", "CREATE", req(tg_template()))
        stack = engine.get("Slice")
        assert stack.status == "REVIEW_IN_PROGRESS" and system.tgs == {}
        assert [(c.action, c.logical_id) for c in cs.changes] == [("Add", "Vpc"), ("Add", "TG")]
        with pytest.raises(TemplateError) as err:
            engine.create_change_set("Slice", "first", "CREATE", req(tg_template()))
        assert err.value.code == "AlreadyExistsException"
        engine.execute_change_set("Slice", cs.change_set_id)
        await engine.idle()
        assert stack.status == "CREATE_COMPLETE" and cs.execution_status == "EXECUTE_COMPLETE"
        assert stack.change_set_id == cs.change_set_id
        with pytest.raises(TemplateError) as err:
            engine.create_change_set("Slice", "again", "CREATE", req(tg_template()))
        assert err.value.message == (
            "Stack [Slice] already exists and cannot be created again with the changeSet [again]."
        )
        update = engine.create_change_set("Slice", "second", "UPDATE", req(tg_template(port=81)))
        assert [(c.action, c.logical_id, c.replacement) for c in update.changes] == [("Modify", "TG", "True")]
        engine.delete_change_set("Slice", "second")
        engine.delete_change_set("Slice", "second")  # a change set that is not there: success
        with pytest.raises(TemplateError) as err:
            engine.find_change_set("Slice", "second")
        assert (err.value.code, err.value.status) == ("ChangeSetNotFound", 404)
        with pytest.raises(TemplateError) as err:
            engine.create_change_set("Nope", "x", "UPDATE", req(tg_template()))
        assert err.value.message == "Stack [Nope] does not exist"

    run(go)


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
            {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::Nope": "x"}}}}},
            "Template format error: Encountered unsupported function: Fn::Nope",
        ),
        (
            {"Parameters": {"P": {"Type": "String"}}, "Resources": {"A": {"Type": "AWS::SNS::Topic"}}},
            "Parameters: [P] must have values",
        ),
    ],
)
def test_a_template_cloudformation_would_reject_changes_nothing(
    template: dict[str, Any], message: str
) -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> None:
        for attempt in (
            lambda: engine.create_stack("Bad", req(template)),
            lambda: engine.create_change_set("Bad", "c", "CREATE", req(template)),
        ):
            with pytest.raises(TemplateError) as err:
                attempt()
            assert err.value.code == "ValidationError" and err.value.message.startswith(message)
        engine.create_stack("Good", req(tg_template()))
        await engine.idle()
        before = engine.get("Good").template
        with pytest.raises(TemplateError):
            engine.update_stack("Good", req(template))
        assert engine.get("Good").status == "CREATE_COMPLETE" and engine.get("Good").template == before

    run(go)
    assert [s.name for s in engine.stacks()] == ["Good"]
    assert not [c for c in system.calls if "Bad" in c[1]]


def test_circuit_breaker_fails_the_update_which_rolls_back() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> StackRecord:
        stack = engine.create_stack("Web", req(service_template()))
        await engine.idle()
        assert stack.status == "CREATE_COMPLETE", events(stack)
        good_td = stack.resources["TaskDef"].physical_id
        mark = len(stack.events)
        engine.update_stack("Web", req(service_template(image="example/broken:2")))
        await engine.idle()
        tail = events(stack)[mark:]
        breaker = (
            "Resource handler returned message: \"Error occurred during operation 'ECS Deployment Circuit "
            "Breaker was triggered'.\" (HandlerErrorCode: GeneralServiceException)"
        )
        assert ("Service", "UPDATE_FAILED", breaker) in tail
        assert (
            "Web",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [Service]. ",
        ) in tail
        assert tail[-1] == ("Web", "UPDATE_ROLLBACK_COMPLETE", None)
        statuses = [s for lid, s, _ in tail if lid == "Web"]
        assert statuses == [
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ]
        # the service runs the old task definition, the new one is deregistered in the cleanup
        assert stack.resources["TaskDef"].physical_id == good_td
        svc = next(iter(system.services.values()))
        assert svc.model.task_definition_arn == good_td
        assert [arn for op, arn in system.calls if op == "deregister_task_definition"] == [
            good_td.replace(":1", ":2")
        ]
        assert stack.template == service_template()
        return stack

    run(go)


def test_a_deploy_during_another_operation_is_refused() -> None:
    system = FakeSystem(hold=None)
    engine = engine_for(system)

    async def go() -> None:
        stack = engine.create_stack("Web", req(service_template()))
        await engine.idle()
        system.hold = asyncio.Event()
        engine.update_stack("Web", req(service_template(env="2")))
        await asyncio.sleep(0.05)  # the service waits for its deployment
        for attempt in (
            lambda: engine.update_stack("Web", req(service_template(env="3"))),
            lambda: engine.create_change_set("Web", "c", "UPDATE", req(service_template(env="3"))),
        ):
            with pytest.raises(TemplateError) as err:
                attempt()
            assert (
                err.value.message
                == f"Stack:{stack.stack_id} is in UPDATE_IN_PROGRESS state and can not be updated."
            )
        with pytest.raises(TemplateError) as err:
            engine.delete_stack("Web")
        assert err.value.message == "Stack [Web] cannot be deleted while in status UPDATE_IN_PROGRESS"
        system.release()
        await engine.idle()
        assert stack.status == "UPDATE_COMPLETE"

    run(go)


def test_delete_of_a_bucket_that_is_not_empty_fails_unless_auto_delete() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> None:
        stack = engine.create_stack("Data", req(bucket_template()))
        await engine.idle()
        system.buckets["cfn-test-bucket"].add("object.txt")
        engine.delete_stack("Data")
        await engine.idle()
        assert stack.status == "DELETE_FAILED"
        assert stack.status_reason == "The following resource(s) failed to delete: [Bucket]. "
        failed = [e for e in stack.events if e.status == "DELETE_FAILED" and e.logical_id == "Bucket"]
        assert "The bucket you tried to delete is not empty" in (failed[0].reason or "")
        assert "cfn-test-bucket" in system.buckets and "Bucket" in stack.resources
        system.buckets["cfn-test-bucket"].clear()
        engine.delete_stack("Data")
        await engine.idle()
        assert stack.status == "DELETE_COMPLETE" and system.buckets == {}

        other = engine.create_stack("Auto", req(bucket_template(name="auto-bucket", auto_delete=True)))
        await engine.idle()
        system.buckets["auto-bucket"].update({"a", "b"})
        engine.delete_stack("Auto")
        await engine.idle()
        assert other.status == "DELETE_COMPLETE", events(other)
        assert system.buckets == {}

    run(go)


def test_exports_in_use_and_missing_imports() -> None:
    engine = engine_for(FakeSystem())
    consumer = {
        "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::ImportValue": "slice-tg"}}}}
    }

    async def go() -> None:
        with pytest.raises(TemplateError) as err:
            engine.create_stack("Consumer", req(consumer))
        assert err.value.message == "No export named slice-tg found"
        producer = engine.create_stack("Slice", req(tg_template()))
        await engine.idle()
        user = engine.create_stack("Consumer", req(consumer))
        await engine.idle()
        assert user.status == "CREATE_COMPLETE" and user.imports == ["slice-tg"]
        assert engine.importers("slice-tg") == ["Consumer"]
        engine.update_stack("Slice", req(tg_template(export="renamed")))
        await engine.idle()
        assert producer.status == "UPDATE_ROLLBACK_COMPLETE"
        reasons = [e.reason for e in producer.events if e.status == "UPDATE_ROLLBACK_IN_PROGRESS"]
        assert reasons == ["Cannot delete export slice-tg as it is in use by Consumer."]
        assert [o.export_name for o in producer.outputs if o.export_name] == ["slice-tg"]
        engine.delete_stack("Slice")
        await engine.idle()
        assert producer.status == "DELETE_FAILED"
        assert producer.status_reason == "Export slice-tg cannot be deleted as it is in use by Consumer"
        assert "TG" in producer.resources
        engine.delete_stack("Consumer")
        await engine.idle()
        engine.delete_stack("Slice")  # from DELETE_FAILED, once the importer is gone
        await engine.idle()
        assert producer.status == "DELETE_COMPLETE"

    run(go)


def test_parameters_and_ssm_values() -> None:
    system = FakeSystem(ssm={"/cdk-bootstrap/hnb659fds/version": "21"})
    engine = engine_for(system)
    template = {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            },
            "Port": {"Type": "Number"},
        },
        "Resources": {"TG": with_changes(tg_template(), TG__Port={"Ref": "Port"})["Resources"]["TG"]},
        "Outputs": {"V": {"Value": {"Ref": "BootstrapVersion"}}},
    }
    template["Resources"]["TG"]["Properties"].pop("VpcId")

    async def go() -> StackRecord:
        stack = engine.create_stack("P", req(template, parameters=(GivenParameter("Port", "8081"),)))
        await engine.idle()
        return stack

    stack = run(go)
    assert stack.status == "CREATE_COMPLETE", events(stack)
    assert [(p.key, p.value, p.resolved) for p in stack.parameters] == [
        ("BootstrapVersion", "/cdk-bootstrap/hnb659fds/version", "21"),
        ("Port", "8081", None),
    ]
    assert stack.outputs[0].value == "21"
    assert next(iter(system.tgs.values())).port == 8081


def test_records_survive_and_an_interrupted_update_is_rolled_back(tmp_path: Path) -> None:
    store = StackStore(tmp_path / "cloudformation")
    system = FakeSystem()

    async def first() -> str:
        engine = engine_for(system, store)
        stack = engine.create_stack("Web", req(service_template()))
        await engine.idle()
        system.hold = asyncio.Event()
        engine.update_stack("Web", req(service_template(env="2")))
        await asyncio.sleep(0.05)
        assert stack.status == "UPDATE_IN_PROGRESS"
        await engine.close()  # the supervisor stops in the middle of the update
        return stack.stack_id

    stack_id = run(first)
    loaded = store.load()
    assert [(s.stack_id, s.status) for s in loaded] == [(stack_id, "UPDATE_IN_PROGRESS")]
    # what `up` runs again: the stack as it was before the update (task definition revision 1)
    model, notes = stacks_model(loaded)
    assert notes == [] and model.stacks == ("Web",)
    assert [td.arn.rsplit("/", 1)[-1] for td in model.task_definitions] == ["cfnweb:1"]
    assert [s.name for s in model.services] == ["web"] and len(model.target_groups) == 1
    assert model.services[0].task_definition_arn == model.task_definitions[0].arn

    restarted = FakeSystem()

    async def second() -> StackRecord:
        engine = engine_for(restarted, store)
        notes = engine.recover()
        assert notes == ["stack Web: interrupted update rolled back"]
        await engine.idle()
        stack = engine.get("Web")
        engine.flush()
        return stack

    stack = run(second)
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE", events(stack)
    assert stack.template == service_template() and stack.previous is None
    assert store.load()[0].status == "UPDATE_ROLLBACK_COMPLETE"


def test_a_deleted_stack_is_found_by_id_only_and_deleting_twice_is_fine() -> None:
    engine = engine_for(FakeSystem())

    async def go() -> None:
        stack = engine.create_stack("Slice", req(tg_template()))
        await engine.idle()
        engine.delete_stack("Slice")
        await engine.idle()
        assert engine.find(stack.stack_id) is stack and stack.status == "DELETE_COMPLETE"
        assert engine.find("Slice") is None
        engine.delete_stack("Slice")
        with pytest.raises(TemplateError) as err:
            engine.get("Slice")
        assert err.value.message == "Stack with id Slice does not exist"
        again = engine.create_stack("Slice", req(tg_template()))
        assert again.stack_id != stack.stack_id

    run(go)
