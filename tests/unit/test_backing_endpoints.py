"""Endpoint resolution and SecretTargetAttachment fields (backing/endpoints.py)."""

from __future__ import annotations

import json

import pytest

from albfargate.backing.endpoints import Endpoint, attach, attachment_fields, attribute_value
from albfargate.backing.references import Unresolved
from albfargate.model.backing import Database

UP = Endpoint("127.0.0.1", 5433, "running")


def _db(kind: str = "instance", engine: str = "postgres", db_name: str | None = "app") -> Database:
    return Database(
        stack="S",
        logical_id="Db",
        kind=kind,
        identifier="s-db-1",
        arn="arn:x",
        engine=engine,
        db_name=db_name,
    )


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("Endpoint.Address", "127.0.0.1"),
        ("Endpoint.Port", "5433"),
        ("ReadEndpoint.Address", "127.0.0.1"),
        ("ReadEndpoint.Port", "5433"),
    ],
)
def test_attribute_values(attribute: str, value: str) -> None:
    assert attribute_value("Db", UP, attribute) == value


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        (Endpoint(None, None, "failed", "initdb failed"), "not running \\(failed\\): initdb failed"),
        (Endpoint(None, None, "not available", "install mariadb-server"), "not available"),
        (Endpoint("127.0.0.1", None, "starting"), "not running \\(starting\\)"),
        (Endpoint(None, None, "not emulated", "engine sqlserver-ex is not emulated"), "sqlserver-ex"),
    ],
)
def test_a_database_that_does_not_listen_is_unresolved(endpoint: Endpoint, message: str) -> None:
    with pytest.raises(Unresolved, match=message):
        attribute_value("Db", endpoint, "Endpoint.Port")


def test_unknown_attribute() -> None:
    with pytest.raises(Unresolved, match="no attribute"):
        attribute_value("Db", UP, "Endpoint.Nope")


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        (
            _db(),
            {
                "host": "127.0.0.1",
                "port": 5433,
                "engine": "postgres",
                "dbname": "app",
                "dbInstanceIdentifier": "s-db-1",
            },
        ),
        (
            _db(db_name=None),
            {"host": "127.0.0.1", "port": 5433, "engine": "postgres", "dbInstanceIdentifier": "s-db-1"},
        ),
        (
            _db("cluster", "aurora-postgresql"),
            {
                "host": "127.0.0.1",
                "port": 5433,
                "engine": "postgres",
                "dbname": "app",
                "dbClusterIdentifier": "s-db-1",
            },
        ),
        (
            _db("cluster", "aurora-mysql"),
            {
                "host": "127.0.0.1",
                "port": 5433,
                "engine": "mysql",
                "dbname": "app",
                "dbClusterIdentifier": "s-db-1",
            },
        ),
        (
            _db(engine="mariadb"),
            {
                "host": "127.0.0.1",
                "port": 5433,
                "engine": "mariadb",
                "dbname": "app",
                "dbInstanceIdentifier": "s-db-1",
            },
        ),
    ],
)
def test_attachment_fields(db: Database, expected: dict[str, object]) -> None:
    assert attachment_fields(db, UP) == expected


def test_attach_keeps_the_other_keys_in_order() -> None:
    out = attach('{"username":"u","password":"p"}', {"host": "127.0.0.1", "port": 1})
    assert list(json.loads(out)) == ["username", "password", "host", "port"]


def test_attach_needs_a_json_object() -> None:
    with pytest.raises(Unresolved):
        attach("plain", {"host": "h"})
