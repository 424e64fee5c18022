"""``down`` while ``up --detach`` is still starting (issue 12, item 7): whatever the moment, ``down`` finds
the starting supervisor and stops it, and afterwards no process of the state dir is left (before the fix
``down`` answered "no supervisor running" and the supervisor went on to serve two tasks). ``--timeout``
must be positive."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    free_port,
    make_template,
    processes_of,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("delay", [0.15, 0.4, 0.8, 1.5])
def test_down_shortly_after_up_detach_leaves_nothing(tmp_path: Path, delay: float) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    argv = ["up", "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}"]
    up = subprocess.Popen(
        [PY, "-m", "albfargate.cli", *argv, "--detach", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(delay)
        down = cli("down", "--state-dir", str(state), check=False, timeout=200)
        out, err = up.communicate(timeout=120)
        time.sleep(1.0)  # nothing comes up later either
        left = processes_of(state)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        cli("down", "--state-dir", str(state), check=False, timeout=200)  # a leak must not outlive the test
        assert_nothing_left(state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "no supervisor running" not in down.stdout, (down.stdout, out, err)
    assert "stopped" in down.stdout
    if up.returncode != 0:  # down came before every service was steady: up says so
        assert "stopped" in err, err
    assert left == [], f"left running after down: {left}"
    assert not (state / "supervisor.pid").exists()


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_up_detach_timeout_must_be_positive(tmp_path: Path, timeout: str) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    try:
        p = cli(
            "up", "--template", str(tpl), "--stand-in", "*", "--detach", "--state-dir", str(state),
            "--timeout", timeout, check=False, timeout=60,
        )  # fmt: skip
        left = processes_of(state)
    finally:  # before the fix a supervisor was left starting: stop it whatever happened
        time.sleep(2)
        cli("down", "--state-dir", str(state), check=False, timeout=200)
        assert_nothing_left(state)
    assert p.returncode == 2, p.stdout + p.stderr
    assert left == []
    assert "--timeout" in p.stderr and "must be a number of seconds > 0" in p.stderr, p.stderr
    assert not (state / "supervisor.pid").exists()
