"""The stand-in runs on a base install (issue 12, item 16): ``pip install albfargate`` without the
``fast`` extra has no httptools and no uvloop, and ``up --stand-in '*'`` must still serve.

The proof runs the stand-in module with the interpreter of a fresh virtual environment that has no
third-party package at all (``python -m venv --without-pip``; the source tree on PYTHONPATH), so an
import of httptools or uvloop anywhere on its path fails there as on a base install. The environment is
made once and cached under ``.build/base-venv/`` (about a second)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _base_python() -> Path:
    venv = ROOT / ".build" / "base-venv" / f"py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True)
    return python


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_base_environment_has_no_fast_extra() -> None:
    python = _base_python()
    for module in ("httptools", "uvloop"):
        p = subprocess.run([str(python), "-c", f"import {module}"], env=_env(), capture_output=True)
        assert p.returncode != 0, f"{module} is importable in the base environment"


def test_standin_serves_without_httptools_or_uvloop() -> None:
    python = _base_python()
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(python),
            "-m",
            "albfargate.ecs.standin",
            *("--service", "web", "--task", "t1"),
            *("--container", "app", "--port", str(port)),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, f"the stand-in died: {proc.communicate()[1]}"
                assert time.monotonic() < deadline, "the stand-in did not listen"
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/hello?x=1", headers={"X-Test": "yes"})
        r = conn.getresponse()
        doc = r.read()
        assert r.status == 200 and b'"path": "/hello"' in doc and b'"x-test": "yes"' in doc
        assert b'"service": "web"' in doc
        # keep-alive on the same connection, a Content-Length body, then a chunked body
        conn.request("POST", "/up", body=b"12345")
        r = conn.getresponse()
        assert r.status == 200 and b'"body_length": 5' in r.read()
        conn.request("POST", "/chunked", body=iter([b"abc", b"defg"]), encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 200 and b'"body_length": 7' in r.read()
        conn.request("GET", "/?status=503")
        assert conn.getresponse().status == 503
        conn.close()
        # two pipelined requests in one write, answered in order; garbage gets 400
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            one = b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
            s.sendall(one + b"GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.count(b"HTTP/1.1 200 OK") == 2 and data.index(b"/one") < data.index(b"/two")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"NOT HTTP\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 400 ")
        # the health-check probe of a stand-in works there too
        probe = subprocess.run(
            [str(python), "-m", "albfargate.ecs.standin", "--probe", str(port)], env=_env(), timeout=20
        )
        assert probe.returncode == 0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "ModuleNotFoundError" not in err
