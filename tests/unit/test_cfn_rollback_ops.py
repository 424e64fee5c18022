"""RollbackStack, ContinueUpdateRollback and CancelUpdateStack in the stack engine (cfn/updates.py) over
the fake system and a fake clock: the statuses and events of each, and the refusal from a wrong state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from albfargate.cfn.model import StackRecord
from albfargate.cfn.templates import TemplateError
from tests.cfn_templates import service_template, tg_template
from tests.unit.cfn_fakes import FakeSystem
from tests.unit.test_cfn_stacks import engine_for, events, req, run


def stack_statuses(stack: StackRecord, since: int) -> list[tuple[str, str | None]]:
    return [(s, r) for lid, s, r in events(stack)[since:] if lid == stack.name]


def test_rollback_stack_of_a_create_that_failed_without_rollback() -> None:
    system = FakeSystem(refuse={"targetgroup/": "Target group port is taken"})
    engine = engine_for(system)

    async def go() -> StackRecord:
        stack = engine.create_stack("Slice", req(tg_template(), disable_rollback=True))
        await engine.idle()
        assert stack.status == "CREATE_FAILED"
        assert "Vpc" in stack.resources  # kept for inspection, as DisableRollback does
        mark = len(stack.events)
        engine.rollback_stack(stack)
        await engine.idle()
        assert stack_statuses(stack, mark) == [
            ("ROLLBACK_IN_PROGRESS", "User Initiated"),
            ("ROLLBACK_COMPLETE", None),
        ]
        assert ("Vpc", "DELETE_COMPLETE", None) in events(stack)[mark:]
        return stack

    stack = run(go)
    assert stack.resources == {}
    with pytest.raises(TemplateError) as err:  # nothing left to roll back
        engine.rollback_stack(stack)
    assert (
        err.value.message
        == f"Stack:{stack.stack_id} is in ROLLBACK_COMPLETE state and can not be rolled back."
    )


def test_rollback_stack_of_an_update_that_failed_without_rollback() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> None:
        stack = engine.create_stack("Web", req(service_template()))
        await engine.idle()
        good_td = stack.resources["TaskDef"].physical_id
        with pytest.raises(TemplateError, match="CREATE_COMPLETE state and can not be rolled back"):
            engine.rollback_stack(stack)
        engine.update_stack("Web", req(service_template(image="example/broken:2"), disable_rollback=True))
        await engine.idle()
        assert stack.status == "UPDATE_FAILED"
        mark = len(stack.events)
        engine.rollback_stack(stack)
        await engine.idle()
        assert stack_statuses(stack, mark) == [
            ("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated"),
            ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
            ("UPDATE_ROLLBACK_COMPLETE", None),
        ]
        assert stack.template == service_template()
        assert stack.resources["TaskDef"].physical_id == good_td
        assert next(iter(system.services.values())).model.task_definition_arn == good_td
        assert ("TaskDef", "DELETE_COMPLETE", None) in events(stack)[mark:]  # the new revision goes

    run(go)


def test_cancel_update_stack_rolls_the_update_back() -> None:
    system = FakeSystem()
    engine = engine_for(system)

    async def go() -> None:
        stack = engine.create_stack("Web", req(service_template()))
        await engine.idle()
        good_td = stack.resources["TaskDef"].physical_id
        with pytest.raises(TemplateError) as err:
            engine.cancel_update(stack)
        assert err.value.message == "CancelUpdateStack cannot be called from current stack status"
        system.hold = asyncio.Event()
        mark = len(stack.events)
        engine.update_stack("Web", req(service_template(env="2")))
        await asyncio.sleep(0.05)  # the service waits for its deployment
        assert stack.status == "UPDATE_IN_PROGRESS"
        engine.cancel_update(stack)
        await asyncio.sleep(0.05)
        system.release()  # the rollback's deployment of the old revision completes
        await engine.idle()
        tail = events(stack)[mark:]
        assert ("Service", "UPDATE_FAILED", "Resource update cancelled") in tail
        assert stack_statuses(stack, mark) == [
            ("UPDATE_IN_PROGRESS", "User Initiated"),
            ("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated"),
            ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
            ("UPDATE_ROLLBACK_COMPLETE", None),
        ]
        assert stack.template == service_template()
        assert next(iter(system.services.values())).model.task_definition_arn == good_td
        assert stack.resources["TaskDef"].physical_id == good_td

    run(go)


def test_continue_update_rollback_retries_and_skips() -> None:
    for skip in ((), ("Service",)):
        system = FakeSystem()
        engine = engine_for(system)

        async def go(skip: tuple[str, ...] = skip, system: FakeSystem = system, engine: Any = engine) -> None:
            stack = engine.create_stack("Web", req(service_template()))
            await engine.idle()
            with pytest.raises(TemplateError) as err:
                engine.continue_update_rollback(stack)
            assert err.value.message == "ContinueUpdateRollback cannot be called from current stack status"
            system.hold = asyncio.Event()
            engine.update_stack("Web", req(service_template(env="2")))
            await asyncio.sleep(0.05)
            service_arn = stack.resources["Service"].physical_id
            system.refuse[service_arn] = "the service cannot be updated now"
            engine.cancel_update(stack)
            await engine.idle()
            assert stack.status == "UPDATE_ROLLBACK_FAILED", events(stack)
            with pytest.raises(TemplateError, match=r"ResourcesToSkip \[Nope\] cannot be found"):
                engine.continue_update_rollback(stack, skip=("Nope",))
            mark = len(stack.events)
            if not skip:
                engine.continue_update_rollback(stack)  # still refused: fails again
                await engine.idle()
                assert stack.status == "UPDATE_ROLLBACK_FAILED"
                del system.refuse[service_arn]
                mark = len(stack.events)
            system.release()
            engine.continue_update_rollback(stack, skip=skip)
            await engine.idle()
            assert stack_statuses(stack, mark) == [
                ("UPDATE_ROLLBACK_IN_PROGRESS", "User Initiated"),
                ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None),
                ("UPDATE_ROLLBACK_COMPLETE", None),
            ]
            tail = events(stack)[mark:]
            if skip:  # marked complete as it is, never updated back
                assert tail[1][:2] == ("Service", "UPDATE_COMPLETE")
                assert ("Service", "UPDATE_IN_PROGRESS", None) not in tail
            else:
                assert ("Service", "UPDATE_IN_PROGRESS", None) in tail
            assert stack.template == service_template()

        run(go)
