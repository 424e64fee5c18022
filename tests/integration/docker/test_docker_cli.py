"""The real CLI on the Docker driver with examples/classic (image ``nginx``): here ``nginx`` is a locally
built busybox httpd on port 80 (no registry can be reached), for real users it is pulled. ``down``,
Ctrl-C and a SIGKILLed supervisor followed by ``down`` or the next ``up`` leave no container or network
with albfargate's labels."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from albfargate.ecs.runtime.docker import LABEL_STATE_DIR, LABEL_TASK
from albfargate.ecs.runtime.process import free_port
from tests.integration import up_support

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.synth]

PY = sys.executable


@pytest.fixture(scope="module")
def nginx_image(docker_client: Any, busybox_image: str) -> Iterator[str]:
    """``nginx:latest`` = busybox httpd serving ``nginx-standin`` on 80, unless a real one is present."""
    built = False
    try:
        docker_client.images.get("nginx:latest")
    except docker.errors.ImageNotFound:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "Dockerfile").write_text(
                f"FROM {busybox_image}\nRUN echo nginx-standin > /www/index.html\nEXPOSE 80\n"
                # like nginx, leave promptly on SIGTERM (busybox httpd as PID 1 would ignore it)
                'CMD ["/bin/sh", "-c", "trap \'exit 0\' TERM; httpd -f -p 80 -h /www & wait $!"]\n'
            )
            docker_client.images.build(path=tmp, tag="nginx:latest", rm=True)
        built = True
    yield "nginx:latest"
    if built:
        docker_client.images.remove("nginx:latest", force=True)


@pytest.fixture
def classic(synthesized_example: Callable[[str], Path]) -> Path:
    return synthesized_example("classic")


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return up_support.cli(*args, timeout=timeout, check=False)


def ours(client: Any, state_dir: Path) -> tuple[list[Any], list[Any]]:
    label = f"{LABEL_STATE_DIR}={state_dir}"
    return (
        client.containers.list(all=True, filters={"label": label}),
        client.networks.list(filters={"label": label}),
    )


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def supervisor_pid(state_dir: Path) -> int:
    return int((state_dir / "supervisor.pid").read_text().strip())


def up_detached(classic: Path, state_dir: Path, port: int) -> str:
    r = up_support.up_detached(
        state_dir, "--assembly", str(classic), "--driver", "docker", "--port", f"80={port}",
        timeout=150, cli_timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_classic_runs_on_docker_and_down_removes_everything(
    classic: Path, nginx_image: str, docker_client: Any, state_dir: Path
) -> None:
    port = free_port()
    t0 = time.monotonic()
    out = up_detached(classic, state_dir, port)
    steady = time.monotonic() - t0
    assert f"http://127.0.0.1:{port}/" in out
    try:
        for _ in range(10):
            assert get(f"http://127.0.0.1:{port}/") == (200, b"nginx-standin\n")
        ctrs, nets = ours(docker_client, state_dir)
        assert len({c.labels[LABEL_TASK] for c in ctrs}) == 2  # desired_count=2
        assert {c.image.tags[0] for c in ctrs if c.labels.get("albfargate.role") == "container"} == {
            "nginx:latest"
        }
        assert len(nets) == 1
        status = cli("status", "--state-dir", str(state_dir))
        assert status.returncode == 0
    finally:
        down = cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert ours(docker_client, state_dir) == ([], [])
    print(f"classic steady on docker after {steady:.1f} s")


def test_killed_supervisor_leaves_nothing_after_down_or_next_up(
    classic: Path, nginx_image: str, docker_client: Any, state_dir: Path
) -> None:
    port = free_port()
    up_detached(classic, state_dir, port)
    first = {c.labels[LABEL_TASK] for c in ours(docker_client, state_dir)[0]}
    assert len(first) == 2
    os.kill(supervisor_pid(state_dir), signal.SIGKILL)
    time.sleep(0.5)
    assert {c.labels[LABEL_TASK] for c in ours(docker_client, state_dir)[0]} == first  # orphans
    # the next up removes them before starting its own tasks
    up_detached(classic, state_dir, port)
    second = {c.labels[LABEL_TASK] for c in ours(docker_client, state_dir)[0]}
    assert len(second) == 2 and not (first & second)
    assert get(f"http://127.0.0.1:{port}/")[0] == 200
    # killed again: `down` without a supervisor removes the orphans
    os.kill(supervisor_pid(state_dir), signal.SIGKILL)
    time.sleep(0.5)
    down = cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0
    assert "removed 2 orphan containers it left" in down.stdout
    assert ours(docker_client, state_dir) == ([], [])


def test_ctrl_c_leaves_nothing(classic: Path, nginx_image: str, docker_client: Any, state_dir: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "albfargate.cli", "up", "--assembly", str(classic), "--driver", "docker",
         "--state-dir", str(state_dir), "--port", f"80={port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while get(f"http://127.0.0.1:{port}/")[0] != 200:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "never served"
            time.sleep(0.2)
        assert len(ours(docker_client, state_dir)[0]) == 4
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130), out
    assert ours(docker_client, state_dir) == ([], [])


def test_engine_not_reachable_is_one_clear_line(tmp_path: Path, classic: Path) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/absent.sock")
    r = subprocess.run(
        [PY, "-m", "albfargate.cli", "up", "--assembly", str(classic), "--driver", "docker",
         "--state-dir", str(tmp_path / "st")],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert r.returncode == 1
    assert "the Docker engine is not reachable" in r.stderr
    assert "--driver process" in r.stderr
    assert shutil.which("docker") is None or "Traceback" not in r.stderr
