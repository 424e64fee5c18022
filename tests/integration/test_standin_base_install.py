"""The stand-in runs on a base install (issue 12, item 16): ``pip install albfargate`` without the
``fast`` extra has no httptools and no uvloop, and ``up --stand-in '*'`` must still serve.

The proof is a real base install: a fresh virtual environment with ``pip install --no-deps -e .`` and the
base dependencies only (PyYAML, cryptography), nothing else. The stand-in is run there directly, and a
whole ``up --detach --stand-in '*'`` runs from it (its tasks are started with that environment's
interpreter, as a user's would be). The environment is made once (about 40 s, from PyPI) and cached under
``.build/base-venv/<key>`` (the key hashes pyproject.toml and the Python version), so later runs take a
second."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .up_support import Svc, assert_nothing_left, free_port, get, make_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BASE_DEPS = ("PyYAML>=6", "cryptography>=42")  # pyproject.toml [project] dependencies


def _base_python() -> Path:
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = ROOT / ".build" / "base-venv" / key
    python = venv / "bin" / "python"
    if (venv / "ready").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, timeout=600)
    subprocess.run([*pip, *BASE_DEPS], check=True, timeout=600)
    (venv / "ready").write_text("")
    return python


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def test_the_base_environment_has_no_fast_extra() -> None:
    python = _base_python()
    for module in ("httptools", "uvloop"):
        p = subprocess.run([str(python), "-c", f"import {module}"], env=_env(), capture_output=True)
        assert p.returncode != 0, f"{module} is importable in the base environment"


def test_standin_serves_without_httptools_or_uvloop() -> None:
    python = _base_python()
    port = free_port()
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


def test_up_with_stand_ins_on_a_base_install(tmp_path: Path) -> None:
    python = _base_python()
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    port = free_port()

    def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        cmd = [str(python), "-m", "albfargate.cli", *args]
        return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)

    try:
        up = cli(
            *("up", "--template", str(tpl), "--stand-in", "*", "--port", f"80={port}"),
            *("--detach", "--state-dir", str(state), "--timeout", "60"),
        )
        assert up.returncode == 0, (up.stdout, up.stderr)
        st = json.loads(cli("status", "--json", "--state-dir", str(state)).stdout)
        web = next(s for s in st["services"] if s["name"] == "web")
        assert st["steady"] and web["running"] == 2
        tasks = {json.loads(get(f"http://127.0.0.1:{port}/")[1])["task"] for _ in range(6)}
        assert tasks == {t["id"] for t in web["tasks"]}  # both stand-ins answer through the local ALB
        logs = "".join(p.read_text(errors="replace") for p in state.rglob("*.log"))
        assert "ModuleNotFoundError" not in logs
    finally:
        cli("down", "--state-dir", str(state))
        assert_nothing_left(state)
