"""The databases' failure paths that are not engine specific, for both PostgreSQL and MariaDB: Ctrl-C of a
foreground ``up`` stops the server (exit 130, nothing left); a server a crash left running (its
supervisor SIGKILLed while the server could not act on its parent-death signal) is killed by the next
``up``, which then starts the database on the same data. MariaDB's own: a taken port moves to the next
free one (printed); a server that does not start says why in one line with its log, and the tasks that
use it do not start (the service events say why)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.integration.backing_support import db_template
from tests.integration.up_support import (
    PY,
    assert_nothing_left,
    cli,
    detached,
    free_port,
    processes_of,
    status,
    up_detached,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVER = {"postgres": b"postgres", "mysql": b"mariadbd"}


def _require(engine: str) -> None:
    if engine == "postgres":
        from albfargate.backing.postgres import candidates

        if not candidates():
            pytest.skip("no PostgreSQL (pip install albfargate[backing])")
        return
    from albfargate.backing.mysql import find_server

    if find_server() is None:
        if os.environ.get("ALBFARGATE_REQUIRE_MYSQL") == "1":
            pytest.fail("MariaDB is required (ALBFARGATE_REQUIRE_MYSQL=1) but no mariadbd was found")
        pytest.skip("no MariaDB server (apt-get install mariadb-server)")


def _tpl(tmp_path: Path, engine: str, port: int | None = None) -> Path:
    return db_template(
        tmp_path / "t.json",
        port=port or free_port(),
        engine=engine,
        engine_version="16" if engine == "postgres" else "10.11",
    )


def _server_pids(state: Path, engine: str) -> list[int]:
    """The state dir's processes whose program is the database server (PostgreSQL's backends too)."""
    out = []
    for pid in processes_of(state):
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if SERVER[engine] in argv0.rsplit(b"/", 1)[-1]:
            out.append(pid)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_ctrl_c_of_a_foreground_up_stops_the_database(tmp_path: Path, engine: str) -> None:
    _require(engine)
    tpl = _tpl(tmp_path, engine)
    state = tmp_path / "state"
    args = ["--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", "--api-port", "0"]
    proc = subprocess.Popen(
        [PY, "-m", "albfargate.cli", "up", *args, "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(line.rstrip("\n") for line in proc.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("every service is steady" in ln for ln in lines), 180, "steady")
        assert _server_pids(state, engine), "\n".join(lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 130, "\n".join(lines)
        reader.join(5)
        assert any("the backing servers stop" in ln for ln in lines), "\n".join(lines)
        assert not _server_pids(state, engine)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_the_next_up_kills_a_database_a_crash_left(tmp_path: Path, engine: str) -> None:
    _require(engine)
    tpl = _tpl(tmp_path, engine)
    state = tmp_path / "state"
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}")
    p = up_detached(state, *args, timeout=120, cli_timeout=300)
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        st = status(state)
        db_pid = int(st["backing"]["databases"][0]["pid"])
        # a stopped server cannot act on its parent-death signal: it outlives its supervisor
        os.kill(db_pid, signal.SIGSTOP)
        os.kill(st["supervisor_pid"], signal.SIGKILL)
        time.sleep(1.0)
        assert _alive(db_pid)
    except BaseException:
        cli("down", "--state-dir", str(state), check=False)
        raise
    with detached(state, *args, timeout=120) as st:  # kills what the crash left, then starts again
        assert not _alive(db_pid)
        (db,) = st["backing"]["databases"]
        assert db["state"] == "running" and db["pid"] != db_pid
    assert not _server_pids(state, engine)


def test_mariadb_on_a_taken_port_moves_to_the_next_free_one(tmp_path: Path) -> None:
    _require("mysql")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    try:
        tpl = _tpl(tmp_path, "mysql", port=taken)
        state = tmp_path / "state"
        with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
            (db,) = st["backing"]["databases"]
            assert db["state"] == "running" and db["port"] > taken
            log = (state / "supervisor.log").read_text()
            assert f"database Db: port {taken} is in use; it listens on {db['port']}" in log
    finally:
        busy.close()


def _fake_mariadb(tmp_path: Path) -> Path:
    """A MariaDB 'installation' whose server fails at start with an [ERROR] line."""
    d = tmp_path / "fakemariadb"
    d.mkdir()
    (d / "mariadbd").write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "mariadbd Ver 10.11.19-MariaDB"; exit 0; fi\n'
        "echo '2026-01-01 12:00:00 0 [ERROR] InnoDB: Cannot allocate memory for the buffer pool'\n"
        "echo '2026-01-01 12:00:00 0 [ERROR] Aborting'; exit 1\n"
    )
    (d / "mariadb-install-db").write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in --datadir=*) dd="${a#--datadir=}";; esac; done\n'
        'mkdir -p "$dd/mysql" && : > "$dd/ibdata1"\n'
    )
    (d / "mariadb").write_text("#!/bin/sh\nexit 1\n")
    for f in d.iterdir():
        f.chmod(0o755)
    return d


def test_a_mariadb_that_does_not_start_says_why_and_its_tasks_do_not_start(tmp_path: Path) -> None:
    from albfargate.backing.mysql import BIN_ENV
    from albfargate.backing.templates import ENV

    tpl = _tpl(tmp_path, "mysql")
    state = tmp_path / "state"
    env = {**os.environ, BIN_ENV: str(_fake_mariadb(tmp_path)), ENV: str(tmp_path / "cache")}
    more = ["--port", f"80={free_port()}", "--detach", "--state-dir", str(state), "--timeout", "12"]
    p = subprocess.run(
        [PY, "-m", "albfargate.cli", "up", "--template", str(tpl), "--stand-in", "*", *more],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    try:
        assert p.returncode != 0
        log = (state / "supervisor.log").read_text()
        [line] = [ln for ln in log.splitlines() if "database Db:" in ln and "did not start" in ln]
        assert "[ERROR] InnoDB: Cannot allocate memory for the buffer pool" in line, line
        assert str(state / "logs" / "backing" / "Db.log") in line
        st = status(state)
        assert st["backing"]["databases"][0]["state"] == "failed"
        svc = st["services"][0]
        assert svc["running"] == 0
        why = " ".join(e["message"] for e in svc["events"]) + " ".join(st["not_steady"])
        assert "database Db is not running (failed)" in why
    finally:
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)
