"""What the database runners share, with real processes: an admin client that exits before it reads its
input (the server refused it at once) gives its exit code and message instead of crashing the supervisor
(it did: a RuntimeError from writing to a closed pipe ended ``up``); a server's pid or lock file that a
crash left is cleared once its process is gone or a zombie, waited for while that process is still ours
and dying, and an error when it keeps running."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from albfargate.backing.server import STATE_DIR_ENV, ServerStartError, clear_previous, run_with_input

pytestmark = pytest.mark.integration


def test_a_client_that_exits_without_reading_its_input() -> None:
    big = b"SELECT 1;\n" * 200_000  # more than a pipe holds: the write fails once the client is gone
    rc, err = asyncio.run(run_with_input(["/bin/sh", "-c", "echo 'refused at once' >&2; exit 3"], big))
    assert (rc, err) == (3, "refused at once\n")
    rc, err = asyncio.run(run_with_input(["/bin/sh", "-c", "cat > /dev/null"], b"data"))
    assert (rc, err) == (0, "")


def test_a_stale_lock_of_a_dead_process_goes(tmp_path: Path) -> None:
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    lock = tmp_path / "postmaster.pid"
    lock.write_text(f"{p.pid}\n/data\n")
    asyncio.run(clear_previous(lock, tmp_path, "database Db"))
    assert not lock.exists()


def test_a_zombie_holds_no_lock(tmp_path: Path) -> None:
    p = subprocess.Popen(["/bin/true"])  # not waited for: a zombie until reaped
    try:
        for _ in range(100):
            if Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            asyncio.run(asyncio.sleep(0.02))
        lock = tmp_path / "mysqld.pid"
        lock.write_text(f"{p.pid}\n")
        asyncio.run(clear_previous(lock, tmp_path, "database Db"))
        assert not lock.exists()
    finally:
        p.wait()


def test_one_of_ours_is_waited_for_and_a_live_one_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, STATE_DIR_ENV: str(tmp_path)}
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    lock = tmp_path / "postmaster.pid"
    try:
        lock.write_text(f"{p.pid}\n")

        async def kill_soon() -> None:
            await asyncio.sleep(0.3)
            os.kill(p.pid, signal.SIGKILL)

        async def both() -> None:
            await asyncio.gather(kill_soon(), clear_previous(lock, tmp_path, "database Db", timeout=20))

        asyncio.run(both())  # returned once the process died (a zombie: not reaped before p.wait())
        assert not lock.exists()
        p.wait()
        q = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
        lock.write_text(f"{q.pid}\n")
        with pytest.raises(ServerStartError, match=rf"an earlier server \(pid {q.pid}\) still runs"):
            asyncio.run(clear_previous(lock, tmp_path, "database Db", timeout=0.5))
        assert lock.exists()
        q.kill()
        q.wait()
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not ours
        lock.write_text(f"{other.pid}\n")
        asyncio.run(clear_previous(lock, tmp_path, "database Db", timeout=0.5))
        assert lock.exists()  # left to the server to judge
        other.kill()
        other.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
