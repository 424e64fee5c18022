"""A real MariaDB server per MySQL-family database resource under ``albfargate up`` (templates with
stand-ins, no synth): the task gets the real endpoint and the generated password; the secret (read with
boto3 from the local endpoint, its attachment fields included) opens the database; the data persists
across ``down``/``up``; the version difference is said once; nothing is left after ``down`` or a SIGKILLed
supervisor; a foreign data directory is an error and is kept; with no MariaDB installed one line says
what to install and the rest of the app runs.

The tests that need MariaDB skip without it, and fail instead under ``ALBFARGATE_REQUIRE_MYSQL=1``
(``.ci/run`` installs ``mariadb-server`` and sets it)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albfargate.backing.mysql import BIN_ENV, find_server
from tests.integration.backing_support import db_template
from tests.integration.up_support import (
    Svc,
    assert_nothing_left,
    cli,
    detached,
    free_port,
    processes_of,
    service,
    status,
    up_detached,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

pymysql = pytest.importorskip("pymysql")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def mariadb() -> None:
    if find_server() is None:
        if os.environ.get("ALBFARGATE_REQUIRE_MYSQL") == "1":
            pytest.fail("MariaDB is required (ALBFARGATE_REQUIRE_MYSQL=1) but no mariadbd was found")
        pytest.skip("no MariaDB server (apt-get install mariadb-server)")


def _tpl(tmp_path: Path, **kw: Any) -> Path:
    return db_template(tmp_path / "t.json", port=free_port(), engine="mysql", engine_version="8.0.35", **kw)


def _secret(st: dict[str, Any]) -> dict[str, Any]:
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=st["api_url"],
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    [entry] = sm.list_secrets()["SecretList"]
    return dict(json.loads(sm.get_secret_value(SecretId=entry["ARN"])["SecretString"]))


def _mariadb_pids(state: Path) -> list[int]:
    out = []
    for pid in processes_of(state):
        try:
            if b"mariadbd" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            continue
    return out


def _connect(secret: dict[str, Any]) -> Any:
    return pymysql.connect(
        host=secret["host"],
        port=int(secret["port"]),
        user=secret["username"],
        password=secret["password"],
        database=secret["dbname"],
        connect_timeout=10,
        autocommit=True,
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    sd = tmp_path / "state"
    yield sd
    cli("down", "--state-dir", str(sd), check=False, timeout=200)
    assert_nothing_left(sd)


def test_mariadb_runs_with_the_secrets_credentials_and_keeps_its_data(
    mariadb: None, tmp_path: Path, state: Path
) -> None:
    tpl = _tpl(tmp_path)
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}")
    with detached(state, *args, timeout=120) as st:
        (db,) = st["backing"]["databases"]
        assert db["state"] == "running" and db["engine"] == "mysql", db
        assert db["server"].startswith("MariaDB ") and db["local_version"]
        assert db["url"] == f"mysql://app:****@127.0.0.1:{db['port']}/app"
        secret = _secret(st)
        assert secret["host"] == "127.0.0.1" and secret["port"] == db["port"]
        assert secret["engine"] == "mysql" and secret["dbname"] == "app" and secret["username"] == "app"
        conn = _connect(secret)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (v VARCHAR(40))")
            cur.execute("INSERT INTO kept VALUES ('still here')")
            cur.execute("SELECT @@character_set_server")
            assert cur.fetchone() == ("utf8mb4",)
        conn.close()
        log = (state / "supervisor.log").read_text()
        notes = [ln for ln in log.splitlines() if "EngineVersion 8.0.35 asks for MySQL 8.0" in ln]
        assert len(notes) == 1 and "running MariaDB" in notes[0]
        text = cli("status", "--state-dir", str(state)).stdout + json.dumps(st) + log
        text += cli("logs", "Db", "--state-dir", str(state)).stdout
        assert secret["password"] not in text and "****" in text
        assert "ready for connections" in cli("logs", "Db", "--state-dir", str(state)).stdout
        assert _mariadb_pids(state)
    assert not _mariadb_pids(state)  # down stopped it
    with detached(state, *args, timeout=120) as st:
        again = _secret(st)
        assert again["password"] == secret["password"]  # generated once, kept
        conn = _connect(again)
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchall() == (("still here",),)
        conn.close()
        # no root account over TCP: only the Unix socket in a private directory administers it
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=int(again["port"]), user="root", password="")
    assert not _mariadb_pids(state)
    cli("down", "--volumes", "--yes", "--state-dir", str(state))
    assert not (state / "data").exists()


def test_a_killed_supervisor_leaves_no_mariadb_running(mariadb: None, tmp_path: Path, state: Path) -> None:
    tpl = _tpl(tmp_path)
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}")
    p = up_detached(state, *args, timeout=120, cli_timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    st = status(state)
    db_pid = st["backing"]["databases"][0]["pid"]
    os.kill(st["supervisor_pid"], signal.SIGKILL)

    def gone() -> bool:
        try:
            return Path(f"/proc/{db_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    wait_for(gone, 30, "MariaDB to shut down after its supervisor was killed (parent-death SIGTERM)")
    cli("down", "--state-dir", str(state), check=False)
    assert_nothing_left(state)
    with detached(state, *args, timeout=120) as st:  # the data is in order: it starts again
        assert st["backing"]["databases"][0]["state"] == "running"


def test_a_foreign_mariadb_data_directory_is_an_error_and_is_not_wiped(
    mariadb: None, tmp_path: Path, state: Path
) -> None:
    tpl = _tpl(tmp_path)
    datadir = state / "data" / "mysql" / "Db" / "datadir"
    datadir.mkdir(parents=True)
    (datadir / "precious.txt").write_text("mine")
    p = up_detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=15
    )
    assert p.returncode != 0
    log = (state / "supervisor.log").read_text()
    assert "is not a MariaDB data directory" in log and "left as it is" in log
    assert (datadir / "precious.txt").read_text() == "mine"
    st = status(state)
    assert st["backing"]["databases"][0]["state"] == "failed"
    events = " ".join(e["message"] for s in st["services"] for e in s["events"]) + " ".join(st["not_steady"])
    assert "database Db is not running" in events


def test_without_mariadb_one_line_says_what_to_install_and_the_rest_runs(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-mariadb"
    empty.mkdir()
    monkeypatch.setenv(BIN_ENV, str(empty))  # hides the machine's MariaDB from the supervisor
    tpl = _tpl(tmp_path, services=[Svc(name="web", desired=1), Svc(name="other", desired=1)])
    p = up_detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=20
    )
    assert p.returncode != 0  # web, which needs the database, never gets steady
    log = (state / "supervisor.log").read_text()
    lines = [ln for ln in log.splitlines() if "apt-get install mariadb-server" in ln]
    assert len(lines) == 1 and "database Db (mysql) is not running" in lines[0], log
    st = status(state)
    (db,) = st["backing"]["databases"]
    assert db["state"] == "not available" and db["port"] is None and db["url"] is None
    other = service(st, "other")
    wait_for(lambda: service(status(state), "other")["running"] == 1, 30, "the other service to run")
    assert other["name"] == "other"
    st = status(state)
    web = service(st, "web")
    assert web["running"] == 0
    why = " ".join(e["message"] for e in web["events"]) + " ".join(st["not_steady"])
    assert "database Db is not running (not available)" in why, why
    human = cli("status", "--state-dir", str(state)).stdout
    assert "not available" in human
