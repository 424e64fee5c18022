"""Multi-process mode: worker processes share the listener port (SO_REUSEPORT) and follow the main
process's target state; their metrics add up in the main process; nothing outlives stop()."""

from __future__ import annotations

import asyncio
import os

import pytest

from albfargate.model import FixedResponseAction, TargetGroupAttributes

from .alb_support import (
    LISTENER_ARN,
    Upstream,
    get,
    healthy,
    model,
    port_of,
    read_response,
    running,
    target_group,
    wait_for,
)

pytestmark = pytest.mark.integration


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_share_the_port_and_the_target_state() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga = target_group("tga", attributes=TargetGroupAttributes(deregistration_delay_seconds=1))
        worker_pid = 0
        try:
            async with running(model([tga]), workers=2) as rt:
                pids = rt.worker_pids()
                assert len(pids) == 1
                worker_pid = pids[0]
                port = port_of(rt)
                assert (await get(port, "/")).status == 503  # no target yet, in every process
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tga.arn, b.target)
                await healthy(rt, tga.arn, 2)
                await asyncio.sleep(0.2)  # the snapshot reaches the worker
                before = _fds(worker_pid)
                conns = []
                for _ in range(40):
                    rd, wr = await asyncio.open_connection("127.0.0.1", port)
                    wr.write(b"GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
                    r = await asyncio.wait_for(read_response(rd), 5)
                    assert r.status == 200 and r.body in (b"a /k", b"b /k")
                    conns.append(wr)
                assert _fds(worker_pid) > before  # the worker accepted some of the connections
                for wr in conns:
                    wr.close()
                # counters of every process add up in the main one
                await wait_for(lambda: rt.targets.request_count(tga.arn) == 40, 5)
                # deregistration reaches the workers: no request to a afterwards
                rt.targets.deregister(tga.arn, a.target)
                await asyncio.sleep(0.2)
                seen = len(a.requests)
                bodies = {(await get(port, "/d")).body for _ in range(30)}
                assert bodies == {b"b /d"} and len(a.requests) == seen
                # rule changes reach the workers too
                rt.set_default_actions(LISTENER_ARN, [FixedResponseAction("200", "text/plain", "fixed")])
                await asyncio.sleep(0.2)
                assert {(await get(port, "/f")).body for _ in range(30)} == {b"fixed"}
            assert not _alive(worker_pid)  # stop() leaves no worker behind
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())
