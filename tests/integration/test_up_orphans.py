"""A task's ``setsid`` children do not outlive it (issue 12, item 8), with real processes: a task whose
command starts a grandchild in a session of its own (``setsid sleep 1000 &``), which the process group
that was killed never reached. After ``down``, Ctrl-C of a foreground ``up``, ``stop-task`` and a
SIGKILLed supervisor followed by the next ``up`` or ``down``, no process of the state dir is left (and the
supervisor, a child subreaper, leaves no zombie); ``status`` reports an orphan planted by hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    detached,
    free_port,
    make_template,
    processes_of,
    service,
    status,
    up_detached,
    wait_for,
)

pytestmark = pytest.mark.integration

#: The grandchild's command line, to tell it apart.
NAP = "1000.5"
#: A shell that leaves a daemon in a session of its own (its parent, the subshell, exits at once: it is
#: orphaned), then runs the web server.
SERVER = f'(setsid sleep {NAP} &); exec {PY} -m http.server "$PORT" --bind 127.0.0.1'


def app(tmp_path: Path, desired: int = 1) -> tuple[Path, list[str]]:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=desired, stop_timeout=2)])
    (tmp_path / "albfargate.toml").write_text(
        f"[containers.app]\ncommand = {json.dumps(['sh', '-c', SERVER])}\n"
    )
    state = tmp_path / "state"
    args = ["--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", "--api-port", "0"]
    return state, args


def stat_of(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()  # state ppid pgrp session ...


def naps(state: Path) -> list[int]:
    """The live setsid grandchildren of this state dir's tasks."""
    out = []
    for pid in processes_of(state):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd[:2] == [b"sleep", NAP.encode()]:
            out.append(pid)
    return out


def zombie_children(pid: int) -> list[int]:
    out = []
    for e in os.scandir("/proc"):
        if e.name.isdigit():
            try:
                f = stat_of(int(e.name))
            except OSError:
                continue
            if f[0] == "Z" and int(f[1]) == pid:
                out.append(int(e.name))
    return out


def wait_naps(state: Path, n: int) -> list[int]:
    found = wait_for(lambda: len(n_ := naps(state)) == n and n_, 20, f"{n} setsid grandchildren")
    for pid in found:  # really out of the task's process group and session
        f = stat_of(pid)
        assert int(f[2]) == pid and int(f[3]) == pid, f
    return list(found)


def test_down_kills_the_setsid_grandchildren(tmp_path: Path) -> None:
    state, args = app(tmp_path, desired=2)
    with detached(state, *args) as st:
        assert service(st, "web")["running"] == 2
        grandchildren = wait_naps(state, 2)
        sup = st["supervisor_pid"]
        # orphaned, they were reparented to the supervisor (a child subreaper), not to init
        assert all(int(stat_of(p)[1]) == sup for p in grandchildren)
        assert status(state)["orphans"] == []  # they belong to running tasks
        out = cli("down", "--state-dir", str(state))
        assert f"stopped supervisor {sup}" in out.stdout and "orphan" not in out.stdout
        assert not naps(state)
    assert_nothing_left(state)


def test_stop_task_kills_its_setsid_child_and_the_supervisor_reaps_it(tmp_path: Path) -> None:
    state, args = app(tmp_path, desired=1)
    with detached(state, *args) as st:
        sup = st["supervisor_pid"]
        (old,) = wait_naps(state, 1)
        assert int(stat_of(old)[1]) == sup  # adopted by the supervisor
        task = service(st, "web")["tasks"][0]["id"]
        cli("stop-task", task[:8], "--state-dir", str(state))
        wait_for(lambda: old not in naps(state), 20, "the stopped task's setsid child gone")
        # the replacement task has its own; the killed one is not left as the supervisor's zombie
        wait_naps(state, 1)
        wait_for(lambda: not zombie_children(sup), 10, "no zombie child of the supervisor")
        assert status(state)["orphans"] == []


def test_ctrl_c_of_a_foreground_up_kills_the_setsid_grandchildren(tmp_path: Path) -> None:
    state, args = app(tmp_path, desired=2)
    proc = subprocess.Popen(
        [PY, "-m", "albfargate.cli", "up", *args, "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: (state / "supervisor.json").exists(), 60, "the supervisor serving")
        wait_for(lambda: status(state)["steady"], 60, "steady")
        wait_naps(state, 2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        assert not naps(state), out
        assert_nothing_left(state)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)


@pytest.mark.parametrize("then", ["up", "down"])
def test_after_a_sigkilled_supervisor_the_next_up_or_down_kills_what_it_left(
    tmp_path: Path, then: str
) -> None:
    state, args = app(tmp_path, desired=2)
    p = up_detached(state, *args, timeout=60)
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        sup = status(state)["supervisor_pid"]
        left = wait_naps(state, 2)
        os.kill(sup, signal.SIGKILL)
        wait_for(lambda: sup not in processes_of(state), 10, "the supervisor gone")
        assert all(pid in naps(state) for pid in left)  # they outlived it
        # status says what is left, and what to do
        st = cli("status", "--state-dir", str(state), check=False)
        assert st.returncode != 0 and "orphan process" in st.stderr and str(left[0]) in st.stderr, st.stderr
        assert "albfargate down" in st.stderr
        if then == "up":
            p2 = up_detached(state, *args, timeout=60)
            assert p2.returncode == 0, p2.stdout + p2.stderr
            assert not any(pid in naps(state) for pid in left), "the next up left the old grandchildren"
            assert "orphan" in (state / "supervisor.log").read_text()
            cli("down", "--state-dir", str(state))
        else:
            out = cli("down", "--state-dir", str(state)).stdout
            assert "no supervisor running" in out and "orphan processes it left" in out, out
            assert not naps(state)
        assert_nothing_left(state)
    finally:
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)


def test_status_reports_an_orphan_planted_by_hand_and_down_kills_it(tmp_path: Path) -> None:
    state, args = app(tmp_path, desired=1)
    with detached(state, *args):
        env = {
            **os.environ,
            "ALBFARGATE_STATE_DIR": str(state.resolve()),
            "ALBFARGATE_TASK_ID": "f" * 32,
            "ALBFARGATE_CONTAINER": "app",
        }
        planted = subprocess.Popen(["sleep", "1000.25"], env=env, start_new_session=True)
        try:
            st = status(state)
            assert [o["pid"] for o in st["orphans"]] == [planted.pid]
            orphan = st["orphans"][0]
            assert orphan["task_id"] == "f" * 32 and orphan["container"] == "app"
            assert orphan["command"] == "sleep 1000.25"
            text = cli("status", "--state-dir", str(state)).stdout
            assert (
                "ORPHANS" in text and f"pid {planted.pid} task ffffffff container app: sleep 1000.25" in text
            )
            cli("down", "--state-dir", str(state))  # the supervisor's shutdown, or down's last sweep
            assert planted.wait(10) == -signal.SIGKILL
        finally:
            if planted.poll() is None:
                planted.kill()
            planted.wait()
    assert_nothing_left(state)


def pids_running(argv: list[bytes]) -> list[int]:
    out = []
    for e in os.scandir("/proc"):
        if e.name.isdigit():
            try:
                cmd = Path(f"/proc/{e.name}/cmdline").read_bytes().split(b"\0")
                if cmd[: len(argv)] == argv and stat_of(int(e.name))[0] != "Z":
                    out.append(int(e.name))
            except OSError:
                continue
    return out


def test_down_kills_an_orphan_that_cleared_its_environment(tmp_path: Path) -> None:
    """No marker to find it by: the supervisor adopted it (a child subreaper) and kills it at shutdown."""
    nap = [b"sleep", b"1000.75"]
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, stop_timeout=2)])
    server = f'(setsid env -i sleep 1000.75 &); exec {PY} -m http.server "$PORT" --bind 127.0.0.1'
    (tmp_path / "albfargate.toml").write_text(
        f"[containers.app]\ncommand = {json.dumps(['sh', '-c', server])}\n"
    )
    state = tmp_path / "state"
    args = ["--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", "--api-port", "0"]
    try:
        with detached(state, *args) as st:
            (pid,) = wait_for(lambda: pids_running(nap), 20, "the env-cleared grandchild")
            assert int(stat_of(pid)[1]) == st["supervisor_pid"]
            assert b"ALBFARGATE" not in Path(f"/proc/{pid}/environ").read_bytes()
        assert not pids_running(nap)
    finally:
        for pid in pids_running(nap):
            os.kill(pid, signal.SIGKILL)
