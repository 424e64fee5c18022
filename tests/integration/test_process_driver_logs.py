"""The process driver's log pump with real processes (issue 12, item 9): task output reaches the log file
through a pipe; a chatty task whose log cannot keep up never blocks and never makes the supervisor hold
more than its bounded buffer; what cannot be written is counted; a container's last lines are in its
log when it is reported stopped.

A log that cannot keep up is made real with a FIFO at the log file's path whose reader never reads: the
pump's writer blocks in ``write(2)`` as it would on a stalled disk, while the task goes on writing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import pytest

from albfargate.ecs.runtime.base import ContainerSpec, ContainerStatus, TaskSpec
from albfargate.ecs.runtime.process import ProcessDriver

pytestmark = pytest.mark.integration

PY = sys.executable
TASK = "0123456789abcdef0123456789abcdef"


def spec(tmp: Path, c: ContainerSpec) -> TaskSpec:
    return TaskSpec(
        task_id=TASK,
        task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/c/{TASK}",
        cluster="c",
        family="fam",
        revision=1,
        containers=(c,),
        log_dir=tmp / "logs",
        service="svc",
        settle_seconds=0.1,
    )


def test_output_is_written_and_the_last_lines_are_there_when_the_container_stops(tmp_path: Path) -> None:
    # (it sleeps past the settle time: an exit, not a failed start)
    code = (
        "import sys, time; [print(f'line {i}') for i in range(5000)]; "
        "sys.stdout.write('no newline at the end'); sys.stdout.flush(); time.sleep(0.5)"
    )
    c = ContainerSpec(name="app", image="i", argv=(PY, "-c", code))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, c))
        while t.containers["app"].status is not ContainerStatus.STOPPED:
            await asyncio.sleep(0.05)
        text = (tmp_path / "logs" / f"{TASK}-app.log").read_text()
        assert text.splitlines()[:2] == ["line 0", "line 1"] and "line 4999\n" in text
        assert text.endswith("no newline at the end\n")
        assert d.log_lines_dropped(TASK) == 0 and d.logs.warned == []
        await d.aclose()

    asyncio.run(go())


def test_a_chatty_task_whose_log_cannot_keep_up_is_not_blocked_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    fifo = log_dir / f"{TASK}-app.log"
    os.mkfifo(fifo)
    stalled = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads: writes block
    lines = 200_000  # 20 MB of output, written as fast as the task can
    code = (
        "import sys, time\nw = sys.stdout.write\n"
        f"for i in range({lines}): w('x' * 95 + '%04d\\n' % (i % 10000))\n"
        "sys.stdout.flush()\ntime.sleep(0.5)\n"  # past the settle time
    )
    c = ContainerSpec(name="app", image="i", argv=(PY, "-c", code))
    warnings: list[str] = []
    cap = 256 * 1024

    async def go() -> None:
        d = ProcessDriver(tmp_path, on_warning=warnings.append, log_buffer_bytes=cap)
        t0 = time.monotonic()
        t = await d.start_task(spec(tmp_path, c))
        peak = 0
        while t.containers["app"].status is not ContainerStatus.STOPPED:
            with d.logs._lock:
                peak = max(peak, *(s.buf.pending_bytes for s in d.logs._streams.values()), 0)
            await asyncio.sleep(0.01)
            assert time.monotonic() - t0 < 120, "the task is blocked on its log"
        assert t.containers["app"].exit_code == 0  # it wrote everything and exited: never blocked
        # the buffer never held more than its bound (+ one batch and a partial line)
        assert peak <= cap + 64 * 1024 + 16 * 1024, peak
        dropped = d.log_lines_dropped(TASK)
        # the FIFO took ~64 KiB and the buffer its 256 KiB: every other line was dropped and counted
        assert lines - 4000 <= dropped < lines, dropped
        assert d.logs.dropped_of_service("svc") == dropped == d.logs.dropped_total()
        assert len(warnings) == 1 and "faster than its log takes it" in warnings[0], warnings
        os.close(stalled)  # the writer's blocked write fails now (EPIPE): dropped too, no hang
        await d.aclose()

    try:
        asyncio.run(go())
    finally:
        with contextlib.suppress(OSError):
            os.close(stalled)
