"""A new task definition whose container exits at start: the tasks fail to start, the circuit breaker
fails the deployment, and it rolls back to the last completed one, with the events of spec §7.5/§7.7.
Runs the engine in-process (the same methods the AWS-compatible API calls: RegisterTaskDefinition +
UpdateService)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from albfargate.assembly import load_template
from albfargate.engine import Engine, EngineConfig
from albfargate.runsettings import load_run_settings
from tests.integration.up_support import Svc, assert_nothing_left, free_port, make_template

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _wait(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def test_container_exiting_at_start_fails_the_deployment_and_rolls_back(tmp_path: Path) -> None:
    tpl = make_template(
        tmp_path / "t.json",
        [Svc(name="web", desired=2, image="example/app:1", circuit_breaker=True, rollback=True)],
    )
    (tmp_path / "albfargate.toml").write_text(
        '[containers.app]\ncommand = ["sh", "-c", "echo boom; exit 3"]\n'
    )
    state = tmp_path / "state"
    model = load_template(tpl)
    config = EngineConfig(
        model=model,
        state_dir=state,
        run_settings=load_run_settings(tmp_path),
        stand_in=("example/*",),  # revision 1 (image example/app) runs the stand-in
        port_overrides={80: free_port()},
        driver="process",
    )

    async def go() -> None:
        engine = Engine(config)
        await engine.start()
        try:
            await _wait(lambda: engine.steady()[0], 30, "first deployment steady")
            svc = engine.store.service("web")
            assert svc is not None
            first = svc.deployments[0]
            td1 = engine.store.task_definitions[first.task_definition_arn]
            bad = engine.register_task_definition(
                replace(td1, containers=(replace(td1.containers[0], image="local/broken:2"),))
            )
            assert bad.revision == 2
            engine.update_service("web", task_definition=bad.arn)
            failed_id = svc.primary.id if svc.primary else ""
            assert failed_id != first.id

            def rolled_back() -> bool:
                p = svc.primary
                return p is not None and p.task_definition_arn == td1.arn and p.id != first.id

            await _wait(rolled_back, 90, "the rollback deployment")
            await _wait(lambda: engine.steady()[0], 60, "steady after the rollback")

            msgs = [e.message for e in svc.events]
            assert f"(service web) (deployment {failed_id}) deployment failed: tasks failed to start." in msgs
            assert f"(service web) rolling back to deployment {first.id}." in msgs
            assert len(svc.deployments) == 1
            p = svc.primary
            assert p is not None and p.rollout_state == "COMPLETED"
            failed_tasks = [t for t in engine.store.tasks.values() if t.task_definition_arn == bad.arn]
            assert len(failed_tasks) >= 3  # the threshold: clamp(ceil(0.5 × 2), 3, 200)
            assert all(t.last_status == "STOPPED" for t in failed_tasks)
            assert all(t.stop_code == "TaskFailedToStart" for t in failed_tasks)
            assert all("exited with code 3" in (t.stopped_reason or "") for t in failed_tasks)
            running = [t for t in engine.store.tasks_of("web") if t.last_status == "RUNNING"]
            assert len(running) == 2 and all(t.task_definition_arn == td1.arn for t in running)
        finally:
            await engine.stop()

    asyncio.run(go())
    assert_nothing_left(state)
