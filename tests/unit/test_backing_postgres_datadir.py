"""The PostgreSQL runner's checks of an existing data directory (issue 13: a corrupt or foreign data
directory is a clear error and is never wiped). Pure file checks: no server is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from albfargate.backing.postgres import PostgresRunner
from albfargate.backing.server import ServerStartError
from albfargate.model.backing import Database


def _runner(tmp_path: Path) -> PostgresRunner:
    db = Database(
        stack="S",
        logical_id="Db",
        kind="instance",
        identifier="db",
        arn="arn:aws:rds:us-east-1:000000000000:db:db",
        engine="postgres",
        engine_version="16.3",
        db_name="app",
    )
    return PostgresRunner(db, state_dir=tmp_path, host="127.0.0.1", username="app", password="pw", note=print)


def test_a_new_data_directory_has_no_version(tmp_path: Path) -> None:
    assert _runner(tmp_path)._data_major() is None


def test_a_data_directory_without_pg_version_is_refused_and_kept(tmp_path: Path) -> None:
    r = _runner(tmp_path)
    r.pgdata.mkdir(parents=True)
    (r.pgdata / "precious.txt").write_text("mine")
    with pytest.raises(ServerStartError, match="is not a PostgreSQL data directory") as e:
        r._data_major()
    assert "left as it is" in str(e.value) and "down --volumes" in str(e.value)
    assert (r.pgdata / "precious.txt").read_text() == "mine"


@pytest.mark.parametrize("text", ["", "sixteen", "\x00\x01garbage", ".16"])
def test_a_corrupt_pg_version_is_refused_and_kept(tmp_path: Path, text: str) -> None:
    r = _runner(tmp_path)
    r.pgdata.mkdir(parents=True)
    (r.pgdata / "PG_VERSION").write_text(text)
    (r.pgdata / "base").mkdir()
    with pytest.raises(ServerStartError, match="is corrupt") as e:
        r._data_major()
    assert "left as it is" in str(e.value)
    assert (r.pgdata / "PG_VERSION").read_text() == text and (r.pgdata / "base").is_dir()


def test_a_good_pg_version_gives_its_major(tmp_path: Path) -> None:
    r = _runner(tmp_path)
    r.pgdata.mkdir(parents=True)
    (r.pgdata / "PG_VERSION").write_text("16\n")
    assert r._data_major() == 16
