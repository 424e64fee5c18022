"""``albfargate status`` as a user reads it (issue 12, item 20): the state word of a service that is still
deploying is not "ACTIVE"; ARNs are short and lines are cut to a terminal's width; colour only into a
terminal (NO_COLOR respected, never into a pipe); ``status --json`` keeps every key docs/running.md
documents (a contract: keys may be added, never removed) with the full ARNs."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    cli,
    down_after,
    free_port,
    make_template,
    up_detached,
    wait_for,
)

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[2] / "docs" / "running.md"


def in_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """The output of the CLI run with a pseudo-terminal of ``columns`` columns as its stdout."""
    main, sub = pty.openpty()
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "COLUMNS"}
    p = subprocess.Popen([PY, "-m", "albfargate.cli", *args], stdout=sub, stderr=sub, env=env)
    os.close(sub)
    out = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        out += chunk
    p.wait(30)
    os.close(main)
    return out.decode()


def keys(doc: Any, path: str = "") -> set[str]:
    """Every key path of a JSON document (list items merged)."""
    out: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.add(f"{path}.{k}")
            out |= keys(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for v in doc:
            out |= keys(v, f"{path}[]")
    return out


def documented_status() -> Any:
    text = DOC.read_text().split("## `status --json`", 1)[1]
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_status_text_and_json(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2, hc_path="/?status=503")])
    state = tmp_path / "state"  # the health check fails: the first rollout stays IN_PROGRESS
    with never_steady(state, tpl):
        wait_for(lambda: "running 2" in cli("status", "--state-dir", str(state)).stdout, 30, "two tasks")
        piped = cli("status", "--state-dir", str(state)).stdout
        assert "\x1b[" not in piped  # never colour into a pipe
        assert "arn:aws" not in piped
        line = next(ln for ln in piped.splitlines() if ln.startswith("  web  "))
        assert line.startswith("  web  deploying 0/2  desired 2"), piped
        assert "ACTIVE" not in line

        st = json.loads(cli("status", "--json", "--state-dir", str(state)).stdout)
        missing = keys(documented_status()) - keys(st)
        assert not missing, f"status --json lost documented keys: {sorted(missing)}"
        assert st["services"][0]["status"] == "ACTIVE"  # the JSON keeps AWS's value and full ARNs
        assert st["services"][0]["arn"].startswith("arn:aws:ecs:")

        tty = in_terminal(["status", "--state-dir", str(state)], 60, {"TERM": "xterm"})
        assert "\x1b[33mdeploying 0/2\x1b[0m" in tty, tty
        visible = [re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in tty.splitlines()]
        assert max(len(ln) for ln in visible) <= 60, tty
        plain = in_terminal(["status", "--state-dir", str(state)], 60, {"TERM": "xterm", "NO_COLOR": "1"})
        assert "\x1b[" not in plain and "deploying 0/2" in plain


@contextmanager
def never_steady(state: Path, tpl: Path) -> Iterator[None]:
    """``up --detach`` of a service that never gets steady: not steady after 2 s, its supervisor is left
    running for the block, then ``down`` and the no-stray-process check."""
    p = up_detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=2
    )
    with down_after(state):
        assert p.returncode == 1, p.stdout + p.stderr
        yield
