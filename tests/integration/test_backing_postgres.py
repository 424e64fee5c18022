"""A real PostgreSQL server per database resource under ``albfargate up`` (templates with stand-ins, no
synth): it starts before the service, the task gets the real endpoint and the generated password, the
password opens the database; failure paths: a taken port, a foreign data directory, a server that does
not start, an unsupported engine; nothing is left running after down or a SIGKILLed supervisor."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
from pathlib import Path

import pytest

from tests.integration.backing_support import db_template
from tests.integration.up_support import (
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

pg8000 = pytest.importorskip("pg8000.native")


def _postgres_available() -> bool:
    from albfargate.backing.postgres import candidates

    return bool(candidates())


requires_pg = pytest.mark.skipif(
    not _postgres_available(), reason="no PostgreSQL (pip install albfargate[backing])"
)


def _task_env(state: Path) -> dict[str, str]:
    """The environment the (stand-in) task process was started with, read from /proc."""
    for pid in processes_of(state):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"albfargate.ecs.standin" in cmd:
            return dict(e.decode().split("=", 1) for e in env if b"=" in e)
    raise AssertionError("no task process found")


@requires_pg
def test_the_task_gets_a_real_database_and_it_persists(tmp_path: Path) -> None:
    tpl = db_template(tmp_path / "t.json", port=free_port())
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        (db,) = st["backing"]["databases"]
        assert db["state"] == "running" and db["engine"] == "postgres"
        assert db["url"] == f"postgresql://app:****@127.0.0.1:{db['port']}/app"
        env = _task_env(state)
        assert env["DB_HOST"] == "127.0.0.1" and env["DB_PORT"] == str(db["port"])
        assert "{{" not in env["DB_HOST"] + env["DB_PORT"] + env["DB_PASSWORD"]
        conn = pg8000.Connection(
            user="app",
            password=env["DB_PASSWORD"],
            host="127.0.0.1",
            port=db["port"],
            database="app",
            timeout=10,
        )
        conn.run("CREATE TABLE kept (v text)")
        conn.run("INSERT INTO kept VALUES ('still here')")
        conn.close()
        text = cli("status", "--state-dir", str(state)).stdout + json.dumps(st)
        assert env["DB_PASSWORD"] not in text and "****" in text
        secrets_file = state / "data" / "secretsmanager" / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        notes = [
            ln
            for ln in (state / "supervisor.log").read_text().splitlines()
            if "EngineVersion 16 asks for PostgreSQL 16" in ln
        ]
        # said once when the local major is not the template's (the wheel is PostgreSQL 18)
        assert len(notes) == (0 if db["local_version"] == "16" else 1), notes
        log = cli("logs", "Db", "--state-dir", str(state)).stdout
        assert "database system is ready to accept connections" in log
        assert env["DB_PASSWORD"] not in log
        password = env["DB_PASSWORD"]
    assert not any(b"postgres" in Path(f"/proc/{p}/cmdline").read_bytes() for p in processes_of(state))
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        env = _task_env(state)
        assert env["DB_PASSWORD"] == password  # generated once, kept
        port = st["backing"]["databases"][0]["port"]
        conn = pg8000.Connection(user="app", password=password, host="127.0.0.1", port=port, database="app")
        assert conn.run("SELECT v FROM kept") == [["still here"]]
        conn.close()
    p = cli("down", "--volumes", "--state-dir", str(state), check=False)
    assert p.returncode != 0 and "--yes" in p.stderr and (state / "data").exists()  # no tty: refused
    cli("down", "--volumes", "--yes", "--state-dir", str(state))
    assert not (state / "data").exists()


@requires_pg
def test_a_taken_port_moves_to_the_next_free_one(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    try:
        tpl = db_template(tmp_path / "t.json", port=taken)
        state = tmp_path / "state"
        p = up_detached(
            state,
            "--template",
            str(tpl),
            "--stand-in",
            "*",
            "--port",
            f"80={free_port()}",
            timeout=90,
            cli_timeout=200,
        )
        try:
            assert p.returncode == 0, p.stdout + p.stderr
            (db,) = status(state)["backing"]["databases"]
            assert db["state"] == "running" and db["port"] > taken
            log = (state / "supervisor.log").read_text()
            assert f"port {taken} is in use; it listens on {db['port']}" in log
        finally:
            cli("down", "--state-dir", str(state), check=False)
            assert_nothing_left(state)
    finally:
        busy.close()


@requires_pg
def test_a_foreign_data_directory_is_an_error_and_is_not_wiped(tmp_path: Path) -> None:
    tpl = db_template(tmp_path / "t.json", port=free_port())
    state = tmp_path / "state"
    pgdata = state / "data" / "postgres" / "Db" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "precious.txt").write_text("mine")
    p = up_detached(
        state,
        "--template",
        str(tpl),
        "--stand-in",
        "*",
        "--port",
        f"80={free_port()}",
        timeout=15,
        cli_timeout=120,
    )
    try:
        log = (state / "supervisor.log").read_text()
        assert "is not a PostgreSQL data directory" in log and "left as it is" in log
        assert (pgdata / "precious.txt").read_text() == "mine"
        st = status(state)
        (db,) = st["backing"]["databases"]
        assert db["state"] == "failed"
        events = " ".join(e["message"] for s in st["services"] for e in s["events"])
        reasons = " ".join(st["not_steady"])
        assert "database Db is not running" in events + reasons
        assert p.returncode != 0  # never steady: the task that needs the database does not start
    finally:
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)


def _fake_postgres(tmp_path: Path) -> Path:
    """A PostgreSQL 'installation' whose server fails at start (FATAL line), to see the failure path."""
    bin_dir = tmp_path / "fakepg"
    bin_dir.mkdir()
    (bin_dir / "postgres").write_text(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'postgres (PostgreSQL) 16.2'; exit 0; fi\n"
        "echo 'FATAL:  could not map anonymous shared memory: Cannot allocate memory'; exit 1\n"
    )
    (bin_dir / "initdb").write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ "$1" = -D ]; then d=$2; fi; shift; done\n'
        'mkdir -p "$d" && echo 16 > "$d/PG_VERSION"\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def test_a_database_that_fails_to_start_says_why_and_its_tasks_do_not_start(tmp_path: Path) -> None:
    tpl = db_template(tmp_path / "t.json", port=free_port())
    state = tmp_path / "state"
    env = {**os.environ, "ALBFARGATE_POSTGRES_BIN": str(_fake_postgres(tmp_path))}
    import subprocess
    import sys

    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "albfargate.cli",
            "up",
            "--template",
            str(tpl),
            "--stand-in",
            "*",
            "--port",
            f"80={free_port()}",
            "--detach",
            "--state-dir",
            str(state),
            "--timeout",
            "12",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    try:
        assert p.returncode != 0
        log = (state / "supervisor.log").read_text()
        line = next(ln for ln in log.splitlines() if "database Db:" in ln and "did not start" in ln)
        assert (
            "could not map anonymous shared memory" in line
            and str(state / "logs" / "backing" / "Db.log") in line
        )
        st = status(state)
        assert st["backing"]["databases"][0]["state"] == "failed"
        svc = st["services"][0]
        assert svc["running"] == 0
        events = " ".join(e["message"] for e in svc["events"]) + " ".join(st["not_steady"])
        assert "database Db is not running (failed)" in events
    finally:
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)


@requires_pg
def test_unsupported_engine_is_a_warning_and_the_rest_runs(tmp_path: Path) -> None:
    extra = {"Mssql": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "sqlserver-ex"}}}
    tpl = db_template(tmp_path / "t.json", port=free_port(), extra=extra)
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        dbs = {d["logical_id"]: d["state"] for d in st["backing"]["databases"]}
        assert dbs == {"Db": "running", "Mssql": "not emulated"}
        assert st["steady"]
        log = (state / "supervisor.log").read_text()
        warnings = [ln for ln in log.splitlines() if "not emulated: Mssql" in ln]
        assert len(warnings) == 1 and "sqlserver-ex" in warnings[0]


@requires_pg
def test_a_killed_supervisor_leaves_no_database_running(tmp_path: Path) -> None:
    tpl = db_template(tmp_path / "t.json", port=free_port())
    state = tmp_path / "state"
    p = up_detached(
        state,
        "--template",
        str(tpl),
        "--stand-in",
        "*",
        "--port",
        f"80={free_port()}",
        timeout=90,
        cli_timeout=200,
    )
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        st = status(state)
        db_pid = st["backing"]["databases"][0]["pid"]
        os.kill(st["supervisor_pid"], signal.SIGKILL)

        def db_gone() -> bool:
            try:
                return Path(f"/proc/{db_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True

        wait_for(db_gone, 20, "the database server to stop after its supervisor was killed")
    finally:
        cli("down", "--state-dir", str(state), check=False)
        assert_nothing_left(state)
    # the next up finds the data in order (the server shut down cleanly) and starts
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        assert st["backing"]["databases"][0]["state"] == "running"
