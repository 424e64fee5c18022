"""examples/hello/service/server.py as a real process: / names the task, /health is 200, SIGTERM stops it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SERVER = Path(__file__).resolve().parents[2] / "examples" / "hello" / "service" / "server.py"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/local/0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), **env_extra}
    if "ECS_CONTAINER_METADATA_URI_V4" not in env_extra:
        env.pop("ECS_CONTAINER_METADATA_URI_V4", None)
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("hello did not start")


@pytest.fixture
def metadata_endpoint() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"TaskARN": TASK_ARN}).encode() if self.path.endswith("/task") else b"{}"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/container"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_names_host_and_pid_without_metadata() -> None:
    proc, port = start({})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            page = r.read().decode()
            assert r.headers["X-Task"] == f"{socket.gethostname()}/{proc.pid}"
        assert f"{socket.gethostname()}/{proc.pid}" in page
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=5)
        assert info.value.code == 404
    finally:
        assert stop(proc) == 0  # SIGTERM: a clean exit


def test_names_the_task_from_the_metadata_endpoint(metadata_endpoint: str) -> None:
    proc, port = start({"ECS_CONTAINER_METADATA_URI_V4": metadata_endpoint, "GREETING": "Hi"})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            page = r.read().decode()
        assert "Hi from task 0123456789abcdef0123456789abcdef" in page
    finally:
        assert stop(proc) == 0
