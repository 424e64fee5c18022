"""The supervisor's orphan reaper must never take the exit status of a process the driver is starting.

A health check (or a container leader) runs in a session of its own; until ``create_subprocess_exec``
returns, its pid is in none of the driver's waiter sets, so a reap pass in that window saw a check that had
already exited (``exit 1`` is instant) as an adopted zombie and waited for it. On uvloop (the supervisor's
loop) the loop's own waiter then never learns of the exit: ``proc.wait()`` hung for ever, the container's
health-check loop stopped, and the container stayed UNKNOWN instead of going UNHEALTHY. That is the failure
``test_up_health.py::test_container_failing_its_health_check_is_replaced`` showed when a reaper tick hit the
window. Here a reap pass runs on every turn of the loop while checks are spawned, so the window is always
hit; both loops are tried."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from albfargate.ecs.runtime.base import ContainerSpec
from albfargate.ecs.runtime.process import ProcessDriver

from .loop_support import event_loops

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("new_loop", event_loops())
def test_a_reap_pass_while_a_check_starts_does_not_take_its_exit_status(
    tmp_path: Path, new_loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    async def main() -> list[bool]:
        d = ProcessDriver(tmp_path / "state")
        c = ContainerSpec(name="app", image="img", argv=("/bin/sh", "-c", "exit 0"))
        stop = asyncio.Event()

        async def reap_always() -> None:
            while not stop.is_set():
                d._reap_now()
                await asyncio.sleep(0)

        # _reap_now acts only with the reaper running (under a subreaper); the checks are our own
        # children, so the pass reaches them without one
        d._reaper = asyncio.get_running_loop().create_task(stop.wait())
        reaping = asyncio.get_running_loop().create_task(reap_always())
        try:
            results = []
            for _ in range(20):
                for argv, want in ((["/bin/sh", "-c", "exit 1"], False), (["/bin/sh", "-c", "exit 0"], True)):
                    ok = await asyncio.wait_for(
                        d._run_check(argv, 2.0, c=c, env={"PATH": "/usr/bin:/bin"}), 10
                    )
                    results.append(ok == want)
            return results
        finally:
            stop.set()
            await reaping
            with contextlib.suppress(asyncio.CancelledError):
                await d._reaper
            d._reaper = None
            await d.aclose()

    loop = new_loop()
    try:
        results = loop.run_until_complete(main())
    finally:
        loop.close()
    assert all(results), f"{results.count(False)} of {len(results)} checks got a wrong result"


def test_a_timed_out_check_whose_exit_never_reports_counts_as_failed_and_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If a timed-out check's exit status is lost (taken by another waiter), the check still ends."""
    import subprocess

    from albfargate.ecs.runtime import process

    child = subprocess.Popen(["sleep", "30"], start_new_session=True)  # our own child: killpg reaches it

    class LostStatus:
        pid = child.pid

        async def wait(self) -> int:
            await asyncio.Event().wait()  # never: the status went elsewhere
            return 0

    async def fake_exec(*_a: object, **_k: object) -> LostStatus:
        return LostStatus()

    monkeypatch.setattr(process.asyncio, "create_subprocess_exec", fake_exec)
    monkeypatch.setattr(process, "CHECK_KILL_WAIT", 0.2)

    async def main() -> bool:
        d = ProcessDriver(tmp_path / "state")
        c = ContainerSpec(name="app", image="img", argv=("/bin/sh", "-c", "exit 0"))
        try:
            return await asyncio.wait_for(d._run_check(["x"], 0.1, c=c, env={}), 5)
        finally:
            await d.aclose()

    try:
        with caplog.at_level("WARNING", logger=process.__name__):
            ok = asyncio.run(main())
        assert child.wait(timeout=5) == -9  # the driver's SIGKILL reached the check's group
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert ok is False
    assert any("did not report its exit" in r.getMessage() for r in caplog.records)
