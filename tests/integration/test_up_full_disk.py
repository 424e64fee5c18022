"""A full disk does not take the service down (issue 12, item 9), with real processes and a disk that is
really full.

The logs directory of the state dir is a 1 MiB tmpfs, mounted in a private mount namespace that the
foreground ``up`` runs in (``unshare --mount``, as root): the kernel answers the supervisor's writes there
with ``ENOSPC`` exactly as a full disk does, the rest of the state dir stays on the ordinary disk (the
supervisor's own files), and the mount disappears with the namespace whatever happens to the test. The
disk is filled while the service runs (``nsenter`` into that namespace, a file written until the kernel
refuses). A file-size limit (``RLIMIT_FSIZE``) would not do: it fails with ``EFBIG`` and a ``SIGXFSZ``,
and only for the process that has it.

The task is ``python -m http.server``, which logs a line to stderr for every request. On main its stderr
was the log file itself: once the disk filled, its log writes failed inside the request handler and the
load balancer answered 502 (858 of 1,600 requests in the report, then all). Now the task writes into a
pipe, the supervisor drops and counts the lines it cannot write, warns once, and the service answers 200."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    free_port,
    get,
    make_template,
    service,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration

WARNING = "task output cannot be written to"


def _can_mount_tmpfs(tmp: Path) -> str | None:
    if os.geteuid() != 0:
        return "needs root (a tmpfs mount in a private mount namespace)"
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux)"
    d = tmp / "probe"
    d.mkdir()
    p = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=64k",
            "tmpfs",
            str(d),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    d.rmdir()
    return None if p.returncode == 0 else f"cannot mount a tmpfs in a mount namespace: {p.stderr.strip()}"


class FullDiskUp:
    """A foreground ``up`` whose ``<state>/logs`` is a 1 MiB tmpfs of its own mount namespace."""

    def __init__(self, tmp_path: Path) -> None:
        tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
        www = tmp_path / "www"
        www.mkdir()
        (www / "index.html").write_text("hello\n")
        cmd = f'exec {PY} -m http.server --bind 127.0.0.1 "$PORT"'
        (tmp_path / "albfargate.toml").write_text(
            f"[containers.app]\ncommand = {json.dumps(['sh', '-c', cmd])}\nworkdir = 'www'\n"
        )
        self.state = tmp_path / "state"
        (self.state / "logs").mkdir(parents=True, mode=0o700)
        self.port = free_port()
        up = [PY, "-m", "albfargate.cli", "up", "--template", str(tpl), "--driver", "process"]
        up += ["--port", f"80={self.port}", "--api-port", "0", "--state-dir", str(self.state)]
        script = 'mount -t tmpfs -o size=1m,mode=0700 tmpfs "$1" && shift && exec "$@"'
        self.proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                str(self.state / "logs"),
                *up,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def inside(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the supervisor's mount namespace (where the tmpfs is)."""
        return subprocess.run(
            ["nsenter", "--target", str(self.proc.pid), "--mount", "--", *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def fill(self) -> None:
        p = self.inside(
            "sh", "-c", f"head -c 2M /dev/zero > {self.state}/logs/filler; df -k {self.state}/logs"
        )
        assert "No space left on device" in p.stderr, p.stdout + p.stderr

    def free(self) -> None:
        p = self.inside("rm", "-f", f"{self.state}/logs/filler")
        assert p.returncode == 0, p.stderr

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        cli("down", "--state-dir", str(self.state), check=False)
        self._reader.join(5)
        assert_nothing_left(self.state)


def load(port: int, n: int, workers: int = 4) -> list[int]:
    def one(i: int) -> int:
        return get(f"http://127.0.0.1:{port}/?i={i}", timeout=10)[0]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def test_a_full_disk_drops_and_counts_log_lines_and_the_service_keeps_answering(tmp_path: Path) -> None:
    why = _can_mount_tmpfs(tmp_path)
    if why is not None:
        pytest.skip(why)
    up = FullDiskUp(tmp_path)
    try:
        wait_for(lambda: (up.state / "supervisor.json").exists(), 60, f"the supervisor serving\n{up.text()}")
        wait_for(lambda: status(up.state)["steady"], 60, "steady")
        assert load(up.port, 40) == [200] * 40
        before = up.inside(PY, "-m", "albfargate.cli", "logs", "web", "--state-dir", str(up.state)).stdout
        assert before.count('"GET /?i=') >= 40, before[-2000:]  # the logs work while there is room
        assert status(up.state)["log_lines_dropped"] == 0

        up.fill()
        codes = load(up.port, 400)
        assert codes == [200] * 400, {c: codes.count(c) for c in set(codes)}
        # tmpfs hands out whole pages: a log file may still fill the rest of its last 4 KiB page, at most
        # ~55 request lines of ~70 bytes per task; every other line is dropped and counted
        st = wait_for(lambda: (s := status(up.state))["log_lines_dropped"] >= 400 - 2 * 60 and s, 10, "drops")
        assert st["log_write_error"] == "No space left on device"
        web = service(st, "web")
        assert web["log_lines_dropped"] == st["log_lines_dropped"]
        assert sum(t["log_lines_dropped"] for t in web["tasks"]) == web["log_lines_dropped"]
        assert all(t["last_status"] == "RUNNING" for t in web["tasks"]) and len(web["tasks"]) == 2
        text = cli("status", "--state-dir", str(up.state)).stdout
        assert "log lines dropped" in text and "No space left on device" in text, text
        assert sum(WARNING in line for line in up.lines) == 1, up.text()  # warned once

        up.free()  # room again: the log goes on
        assert load(up.port, 20) == [200] * 20
        after = wait_for(
            lambda: (
                (
                    out := up.inside(
                        PY, "-m", "albfargate.cli", "logs", "web", "--state-dir", str(up.state)
                    ).stdout
                ).count('"GET /?i=')
                >= 60
                and out
            ),
            10,
            "the lines after the disk had room again",
        )
        assert after.count('"GET /?i=') < 60 + 400  # what could not be written is not there
        assert status(up.state)["log_write_error"] is None
        assert sum(WARNING in line for line in up.lines) == 1, up.text()
    finally:
        up.close()
