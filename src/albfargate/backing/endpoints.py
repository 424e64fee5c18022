"""A database's local endpoint -> the values of ``Endpoint.Address``, ``Endpoint.Port``,
``ReadEndpoint.Address`` and ``ReadEndpoint.Port``, and the fields a ``SecretTargetAttachment`` adds
(pure).

Locally a cluster's reader endpoint is its one server (Aurora's reader endpoint falls back to the writer
when there is no reader, too)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from albfargate.model.backing import Database

from .references import Unresolved

#: The ``engine`` field of an attached secret (RDS's secret structure: an Aurora engine is named by its
#: family).
_ATTACHMENT_ENGINE = {"aurora-postgresql": "postgres", "aurora-mysql": "mysql", "aurora": "mysql"}

ATTRIBUTES = ("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address", "ReadEndpoint.Port")


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str | None  # None while the server is not listening
    port: int | None
    state: str  # running | starting | failed | not available | ...
    reason: str | None = None


def attribute_value(name: str, endpoint: Endpoint, attribute: str) -> str:
    """The text of an endpoint attribute; Unresolved while the server does not listen."""
    if attribute not in ATTRIBUTES:
        raise Unresolved(f"database {name} has no attribute {attribute}")
    if endpoint.state != "running" or endpoint.host is None or endpoint.port is None:
        why = f": {endpoint.reason}" if endpoint.reason else ""
        raise Unresolved(f"database {name} is not running ({endpoint.state}){why}")
    return endpoint.host if attribute.endswith(".Address") else str(endpoint.port)


def attachment_fields(db: Database, endpoint: Endpoint) -> dict[str, object]:
    """What Secrets Manager adds to a secret attached to a database: host, port, engine, dbname (when
    the database has one) and dbInstanceIdentifier or dbClusterIdentifier. ``port`` is a number, as RDS
    writes it."""
    if endpoint.host is None or endpoint.port is None:
        raise Unresolved(f"database {db.logical_id} is not running ({endpoint.state})")
    engine = _ATTACHMENT_ENGINE.get(db.engine, db.engine)
    out: dict[str, object] = {"host": endpoint.host, "port": endpoint.port, "engine": engine}
    if db.db_name:
        out["dbname"] = db.db_name
    if db.kind == "cluster":
        out["dbClusterIdentifier"] = db.identifier
    else:
        out["dbInstanceIdentifier"] = db.identifier
    return out


def attach(secret_string: str, fields: dict[str, object]) -> str:
    """The secret's JSON with the attachment's fields set (other keys kept, in order)."""
    try:
        doc = json.loads(secret_string)
    except ValueError:
        raise Unresolved("the attached secret's value is not a JSON object") from None
    if not isinstance(doc, dict):
        raise Unresolved("the attached secret's value is not a JSON object")
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":"))
