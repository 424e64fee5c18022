"""``up --detach`` shows its progress and returns as soon as the rollout FAILED (issue 12, item 17): it used
to print nothing while it waited and to wait its whole ``--timeout`` after the circuit breaker had failed
the deployment. Progress is one line per change (fine in a log without a terminal); a failed rollout exits
1 with its reason and leaves the supervisor running to look at, as ``docker compose up --wait`` leaves its
containers. Ctrl-C while it waits stops the supervisor it started."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    down_after,
    free_port,
    make_template,
    processes_of,
    service,
    status,
    up_detached,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_progress_lines_while_waiting(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    p = up_detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=60
    )
    with down_after(state):
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stderr == ""
        lines = p.stdout.splitlines()
        assert lines[0].startswith("albfargate: started the supervisor (pid ")
        progress = [ln for ln in lines if ln.startswith("albfargate: service web: ")]
        assert progress, p.stdout
        assert len(progress) == len(set(progress)) and len(progress) < 15  # a line per change, no flood
        assert progress[-1] == (
            "albfargate: service web: tasks 2/2 running, targets 2/2 healthy, rollout COMPLETED, steady"
        )
        assert lines[-1].startswith("albfargate: steady; supervisor pid ")


def test_a_failed_rollout_returns_at_once_with_its_reason(tmp_path: Path) -> None:
    tpl = make_template(
        tmp_path / "t.json", [Svc(name="web", desired=2, circuit_breaker=True, rollback=True)]
    )
    (tmp_path / "albfargate.toml").write_text(
        '[containers.app]\ncommand = ["sh", "-c", "echo boom; exit 3"]\n'
    )
    state = tmp_path / "state"
    started = time.monotonic()
    p = up_detached(
        state, "--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", timeout=280,
        cli_timeout=300,
    )  # fmt: skip
    took = time.monotonic() - started
    with down_after(state):
        assert p.returncode == 1, p.stdout + p.stderr
        assert took < 200, f"waited {took:.0f} s: the whole timeout"
        err = p.stderr.splitlines()
        assert err[0].startswith(
            "albfargate: error: the rollout of service web FAILED: ECS deployment circuit breaker: "
        ), p.stderr
        assert "exited with code 3" in err[0]  # why the tasks failed, from the last stopped task
        assert "is left running" in err[-1] and "albfargate down" in err[-1]
        assert "rollout IN_PROGRESS" in p.stdout and "rollout FAILED" in p.stdout  # the progress showed it
        st = status(state)  # left running, as docker compose up --wait leaves its containers
        assert service(st, "web")["deployments"][0]["rollout_state"] == "FAILED"


def test_ctrl_c_while_waiting_stops_the_supervisor_it_started(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2, hc_path="/?status=500")])
    state = tmp_path / "state"  # targets never get healthy: up waits
    args = ["--port", f"80={free_port()}", "--detach", "--state-dir", str(state), "--timeout", "120"]
    up = subprocess.Popen(
        [PY, "-m", "albfargate.cli", "up", "--template", str(tpl), "--stand-in", "*", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(processes_of(state)) >= 3, 60, "the supervisor and its two tasks")
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        cli("down", "--state-dir", str(state), check=False, timeout=200)
    assert up.returncode == 130, out + err
    assert "stopped (SIGINT) before every service was steady" in err, err
    assert_nothing_left(state)
