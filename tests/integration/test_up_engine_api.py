"""The engine methods the AWS-compatible API calls, in-process on real processes: UpdateService
(desiredCount), StopTask (event, UserInitiated), RunTask (standalone, not replaced), CreateService and
DeleteService (DRAINING → INACTIVE), RegisterTaskDefinition revisions."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from albfargate.assembly import load_template
from albfargate.engine import Engine, EngineConfig
from albfargate.model import Service
from tests.integration.up_support import Svc, assert_nothing_left, free_port, make_template

pytestmark = pytest.mark.integration


async def _wait(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def test_engine_operations(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    model = load_template(tpl)
    config = EngineConfig(
        model=model, state_dir=state, stand_in=("*",), port_overrides={80: free_port()}, driver="process"
    )

    async def go() -> None:
        e = Engine(config)
        await e.start()
        try:
            store = e.store
            svc = store.service("web")
            assert svc is not None
            await _wait(lambda: e.steady()[0], 20, "steady")

            # UpdateService(desiredCount) changes the PRIMARY deployment, no new deployment
            dep = svc.primary
            e.update_desired_count("web", 2)
            assert svc.primary is dep and dep is not None and dep.desired_count == 2
            await _wait(lambda: svc.running_count == 2 and e.steady()[0], 20, "2 running")

            # StopTask: UserInitiated, the event, and a replacement
            victim = next(t for t in store.tasks_of("web") if t.last_status == "RUNNING")
            e.stop_task(victim.task_id, "maintenance")
            assert victim.desired_status == "STOPPED"
            await _wait(lambda: victim.last_status == "STOPPED", 20, "stopped")
            assert victim.stop_code == "UserInitiated" and victim.stopped_reason == "maintenance"
            assert victim.stopping_at is not None and victim.stopped_at is not None
            assert any(
                f"has stopped 1 running tasks: (task {victim.task_id})." in ev.message for ev in svc.events
            )
            await _wait(lambda: svc.running_count == 2 and e.steady()[0], 20, "replaced")

            # RegisterTaskDefinition gives the next revision; RunTask runs it standalone
            td1 = store.task_definitions[svc.task_definition_arn]
            td2 = e.register_task_definition(replace(td1, arn="ignored", revision=0))
            assert td2.revision == td1.revision + 1 and td2.arn.endswith(f":{td2.revision}")
            [solo] = e.run_task(td2.arn, cluster="test", started_by="me")
            assert (
                solo.service_name is None and solo.started_by == "me" and solo.group == f"family:{td2.family}"
            )
            await _wait(lambda: solo.last_status == "RUNNING", 20, "standalone task running")
            e.stop_task(solo.task_id)
            await _wait(lambda: solo.last_status == "STOPPED", 20, "standalone stopped")
            assert solo.stopped_reason == "Task stopped by user"
            await asyncio.sleep(0.5)
            assert [
                t for t in store.tasks.values() if t.service_name is None and t.last_status != "STOPPED"
            ] == []

            # CreateService without a load balancer, then DeleteService
            other = Service(
                arn="arn:aws:ecs:us-east-1:000000000000:service/test/other",
                name="other",
                cluster_arn=svc.cluster_arn,
                cluster_name="test",
                task_definition_arn=td2.arn,
                desired_count=1,
            )
            rec = e.create_service(other)
            await _wait(lambda: rec.running_count == 1, 20, "other running")
            with pytest.raises(ValueError):
                e.delete_service("other")  # scaled above 0
            e.delete_service("other", force=True)
            assert rec.status == "DRAINING"
            await _wait(lambda: rec.status == "INACTIVE", 20, "other inactive")
            assert all(t.last_status == "STOPPED" for t in store.tasks_of("other"))
            with pytest.raises(KeyError):
                e.update_desired_count("nope", 1)
        finally:
            await e.stop()

    asyncio.run(go())
    assert_nothing_left(state)
