"""Ctrl-C of a foreground ``albfargate up`` (issue 12, item 18), with tasks that ignore SIGTERM: the
shutdown stages are printed as they begin (the screen used to stay frozen for the whole stop timeout), a
second Ctrl-C forces the stop (SIGKILL now instead of after the stop timeout; it used to be ignored), the
exit code is 130 after SIGINT and 143 after SIGTERM (it was 0), and nothing is left running."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
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
    wait_for,
)

pytestmark = pytest.mark.integration

#: A web server that ignores SIGTERM (only SIGKILL stops it).
STUBBORN = (
    "import os, signal, http.server as h; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "h.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler)"
    ".serve_forever()"
)


class Up:
    """A foreground ``albfargate up`` whose output lines are collected with the time they arrived."""

    def __init__(self, tmp_path: Path, stop_timeout: int) -> None:
        tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2, stop_timeout=stop_timeout)])
        (tmp_path / "www").mkdir()
        (tmp_path / "albfargate.toml").write_text(
            f"[containers.app]\ncommand = {json.dumps([PY, '-c', STUBBORN])}\nworkdir = 'www'\n"
        )
        self.state = tmp_path / "state"
        args = ["--port", f"80={free_port()}", "--api-port", "0", "--state-dir", str(self.state)]
        self.proc = subprocess.Popen(
            [PY, "-m", "albfargate.cli", "up", "--template", str(tpl), "--driver", "process", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def when(self, fragment: str, timeout: float) -> float:
        return wait_for(
            lambda: next((t for t, line in self.lines if fragment in line), None),
            timeout,
            f"{fragment!r} in the output of up:\n{self.text()}",
        )

    def close(self) -> None:
        """Whatever the test did: stop it (forced), as a last resort SIGKILL it and kill its task groups."""
        if self.proc.poll() is None:
            for _ in range(2):
                self.proc.send_signal(signal.SIGINT)
                time.sleep(0.3)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                cli("down", "--state-dir", str(self.state), check=False)  # kills the orphaned task groups
        self._reader.join(5)
        assert_nothing_left(self.state)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_one_stop_signal_shows_the_stages_as_they_happen(tmp_path: Path, sig: int, code: int) -> None:
    up = Up(tmp_path, stop_timeout=4)
    try:
        up.when("every service is steady", 60)
        assert len(processes_of(up.state)) == 2  # the two tasks
        sent = time.monotonic()
        up.proc.send_signal(sig)
        assert up.proc.wait(60) == code, up.text()
        ended = time.monotonic()
        stages = [
            "shutting down",
            "no new tasks",
            "the load balancers stop accepting; draining",
            "stopping 2 tasks: SIGTERM, SIGKILL after 4 s",
            "stopped: every task, load balancer and endpoint is closed",
        ]
        at = [up.when(s, 5) for s in stages]
        assert at == sorted(at), up.text()
        # printed as it began, not at the end: the tasks ignore SIGTERM, so their stage lasts ~4 s
        assert at[3] - sent < 2.0 and ended - at[3] >= 3.0, (at[3] - sent, ended - at[3])
        assert "forcing" not in up.text()
    finally:
        up.close()


def test_a_second_ctrl_c_forces_the_stop(tmp_path: Path) -> None:
    up = Up(tmp_path, stop_timeout=120)
    try:
        up.when("every service is steady", 60)
        up.proc.send_signal(signal.SIGINT)
        up.when("stopping 2 tasks: SIGTERM, SIGKILL after 120 s", 15)
        time.sleep(0.5)
        assert up.proc.poll() is None  # it waits for the tasks that ignore SIGTERM
        second = time.monotonic()
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(30) == 130, up.text()
        assert time.monotonic() - second < 10, "the second Ctrl-C did not cut the 120 s stop timeout"
        up.when("forcing the stop", 1)
        up.when("stopped: every task, load balancer and endpoint is closed", 1)
    finally:
        up.close()
    assert not (up.state / "supervisor.pid").exists()
    assert list((up.state / "pids").glob("*.pid")) == []


def test_a_second_ctrl_c_during_the_drain_cuts_it_and_kills_the_tasks(tmp_path: Path) -> None:
    up = Up(tmp_path, stop_timeout=120)
    try:
        up.when("every service is steady", 60)
        port = int(up.text().split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as inflight:
            inflight.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a request still arriving: drained
            up.proc.send_signal(signal.SIGINT)
            up.when("the load balancers stop accepting; draining (up to 5 s)", 10)
            second = time.monotonic()
            up.proc.send_signal(signal.SIGINT)
            assert up.proc.wait(30) == 130, up.text()
        assert time.monotonic() - second < 4, "the drain was not cut"
        up.when("stopping 2 tasks: SIGKILL now", 1)
    finally:
        up.close()
