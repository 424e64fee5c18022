"""``AWS::RDS::DBInstance`` / ``AWS::RDS::DBCluster`` and ``AWS::SecretsManager::SecretTargetAttachment``
as live CloudFormation resources (``cfn.providers.register``), run by the engine's backing manager
(``backing/manager.py``: the same real PostgreSQL and MariaDB servers ``albfargate up`` runs from the
app's model). ``Context.databases`` gives the manager (made on first use when the system had no backing
resources, over the secret and parameter stores the endpoint serves).

- **Create** starts the server and returns once it accepts connections with the master user (its
  ``MasterUsername`` / ``MasterUserPassword``, ``{{resolve:secretsmanager:...}}`` references resolved
  against the local Secrets Manager, or the managed secret of ``ManageMasterUserPassword``) and
  ``DBName``; ``Fn::GetAtt`` ``Endpoint.Address`` / ``Endpoint.Port`` (and a cluster's
  ``ReadEndpoint.Address``) are ``127.0.0.1`` and the port it listens on. A server that does not start
  fails the resource with the reason (the stack rolls back); nothing of it keeps running. The data lives
  in ``<state>/data/<postgres|mysql>/<identifier>/``, so a replacement (a new identifier) has its own.
- A member ``DBInstance`` of a cluster runs nothing (its cluster is the server); it answers with its
  cluster's endpoint. An engine that is not emulated (SQL Server, Oracle, Db2) stays a record.
- **Update** in place restarts the server when what it runs with changed (master password, port,
  engine version; a new engine, master user or database name replaces the database); its data is kept.
- **Delete** stops the server (fast shutdown) and, by the record's ``DeletionPolicy`` (CloudFormation's
  default for a cluster and a stand-alone instance is ``Snapshot``, for a cluster member ``Delete``):
  ``Delete`` removes the data directory, ``Snapshot`` moves it to
  ``<state>/data/snapshots/<postgres|mysql>/<identifier>-final-<UTC time>/`` (the final snapshot RDS
  keeps; restoring from it is not emulated), ``Retain`` is skipped by the stack engine (the server runs
  until ``down`` and its data stays). The managed master-user secret goes with the database, as on RDS.
- **The attachment** adds ``host``, ``port``, ``engine``, ``dbname`` and the identifier to the secret,
  as Secrets Manager does; its delete leaves the secret as it is (as on AWS)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from albfargate.backing.manager import BackingManager
from albfargate.backing.references import Unresolved
from albfargate.cfn.live import handler_message
from albfargate.cfn.providers import ProviderResult, ResourceFailed, ResourceRequest
from albfargate.model.backing import Database, SecretSpec, SecretTargetAttachment

DB_INSTANCE = "AWS::RDS::DBInstance"
DB_CLUSTER = "AWS::RDS::DBCluster"
ATTACHMENT = "AWS::SecretsManager::SecretTargetAttachment"

#: what a database runs with: a change of one of these restarts it (an update in place)
_RUNS_WITH = ("engine_version", "master_password", "port")


def _manager(request: ResourceRequest) -> BackingManager:
    ctx = getattr(request.system, "ctx", None)
    factory: Callable[[], BackingManager] | None = getattr(ctx, "databases", None)
    if factory is None:
        raise ResourceFailed(handler_message("databases are not run by this system", "ServiceInternalError"))
    return factory()


def _database(request: ResourceRequest) -> Database | None:
    db = next((i for i in request.items if isinstance(i, Database)), None)
    if db is None:
        return None
    return dataclasses.replace(db, data_name=db.identifier)


def _endpoint_attributes(manager: BackingManager, db: Database) -> dict[str, Any]:
    endpoint = manager.endpoint_of(db)
    if endpoint.host is None or endpoint.port is None:
        return {}
    attributes: dict[str, Any] = {"Endpoint.Address": endpoint.host, "Endpoint.Port": str(endpoint.port)}
    if db.kind == "cluster":
        attributes["ReadEndpoint.Address"] = endpoint.host
        attributes["ReadEndpoint.Port"] = str(endpoint.port)
    return attributes


def _default_policy(request: ResourceRequest) -> str:
    """CloudFormation's default DeletionPolicy: ``Snapshot`` for a cluster and for an instance outside
    a cluster, ``Delete`` otherwise."""
    assert request.previous is not None
    if request.type == DB_INSTANCE and request.previous.properties.get("DBClusterIdentifier"):
        return "Delete"
    return "Snapshot"


class DatabaseProvider:
    live = True

    async def _start(self, request: ResourceRequest, db: Database) -> ProviderResult:
        manager = _manager(request)
        for spec in request.items:  # the secret RDS makes for ManageMasterUserPassword
            if isinstance(spec, SecretSpec):
                await request.system.put_secret(spec)
        status = await manager.add_database(db)
        if status.state != "running":
            await manager.remove_database(db, data="keep")  # nothing of it runs; its data stays
            raise ResourceFailed(
                handler_message(status.reason or f"database {db.logical_id} did not start", "NotStabilized")
            )
        return ProviderResult(db.identifier, _endpoint_attributes(manager, db))

    async def create(self, request: ResourceRequest) -> ProviderResult:
        db = _database(request)
        if db is None:  # a cluster member, or an engine that is not emulated: a record
            return self._record(request)
        manager = _manager(request)
        other = manager._database(db.identifier)
        if other is not None and other.key != db.key and manager.endpoint_of(other).state == "running":
            what = "DB cluster" if db.kind == "cluster" else "DB instance"
            raise ResourceFailed(handler_message(f"{what} already exists", "AlreadyExists"))
        return await self._start(request, db)

    def _record(self, request: ResourceRequest) -> ProviderResult:
        cluster = request.properties.get("DBClusterIdentifier")
        manager = _manager(request)
        db = manager._database(str(cluster).lower()) if cluster else None
        attributes = _endpoint_attributes(manager, db) if db is not None else {}
        return ProviderResult(request.physical_id, attributes)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        db = _database(request)
        if db is None:
            return self._record(request)
        manager = _manager(request)
        running = manager._database(db.identifier)
        same = running is not None and all(getattr(running, f) == getattr(db, f) for f in _RUNS_WITH)
        if same and running is not None and manager.endpoint_of(running).state == "running":
            return ProviderResult(db.identifier, _endpoint_attributes(manager, running))
        return await self._start(request, db)

    async def delete(self, request: ResourceRequest) -> None:
        assert request.previous is not None
        manager = _manager(request)
        identifier = request.previous.physical_id or request.physical_id
        db = manager._database(identifier)
        if db is None or db.identifier != identifier:
            return  # a member instance, a record, or gone already
        policy = request.previous.deletion_policy or _default_policy(request)
        await manager.remove_database(db, data="snapshot" if policy == "Snapshot" else "delete")
        if db.manage_master_password and db.managed_secret_arn:
            await request.system.delete_secret(db.managed_secret_arn)


class SecretAttachmentProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        att = next((i for i in request.items if isinstance(i, SecretTargetAttachment)), None)
        if att is None:
            return ProviderResult(request.physical_id)
        manager = _manager(request)
        try:
            attached = manager.attach(att)
        except Unresolved as exc:
            raise ResourceFailed(handler_message(str(exc), "InvalidRequest")) from None
        db = manager._database(att.target_key)
        if not attached and db is not None:
            raise ResourceFailed(
                handler_message(
                    f"the database {db.identifier} is not running, so its connection fields cannot be "
                    "added to the secret",
                    "NotStabilized",
                )
            )
        return ProviderResult(request.physical_id)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        return None  # Secrets Manager keeps the fields in the secret


def register() -> None:
    from albfargate.cfn import providers

    database = DatabaseProvider()
    providers.register(DB_INSTANCE, database)
    providers.register(DB_CLUSTER, database)
    providers.register(ATTACHMENT, SecretAttachmentProvider())
