"""RDS resources -> model: ``AWS::RDS::DBInstance`` and ``AWS::RDS::DBCluster`` (Aurora, Serverless v2
included) become :class:`~albfargate.model.backing.Database` values; an instance with a
``DBClusterIdentifier`` is a member of its cluster (the cluster is the one local server).

Owns: the identifiers and ARNs of databases, their ``Ref``/``GetAtt`` values. ``Endpoint.Address``,
``Endpoint.Port``, ``ReadEndpoint.Address`` (and ``ReadEndpoint.Port``) are endpoint references
(:func:`~albfargate.model.backing.endpoint_reference`) that the engine replaces with the local address
and port once the server listens; a member instance's endpoint is its cluster's. Unsupported engines
(sqlserver, oracle, db2 ...) are listed as not emulated."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from albfargate.model import NotEmulated, ids
from albfargate.model.backing import (
    DEFAULT_PORT,
    Database,
    EngineFamily,
    GenerateSecretString,
    SecretSpec,
    endpoint_reference,
    engine_family,
)

from .context import ResourceContext, generated_name
from .kinds import ResourceKind

DB_INSTANCE = "AWS::RDS::DBInstance"
DB_CLUSTER = "AWS::RDS::DBCluster"

_ENDPOINT_ATTRIBUTES = ("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address", "ReadEndpoint.Port")
SUPPORTED = "postgres, aurora-postgresql, mysql, mariadb, aurora-mysql"


def _identifier(ctx: ResourceContext, prop: str) -> str:
    given = ctx.props.str(prop)
    if given:
        return given.lower()
    # a replacement a CloudFormation update makes gets a new name, as RDS's generated identifiers do
    return generated_name(ctx.stack, ctx.logical_id, max_len=63, prefix_len=24, seed=ctx.seed).lower()


def _cluster_of(ctx: ResourceContext) -> str | None:
    """The logical id of the cluster an instance belongs to (``DBClusterIdentifier: {Ref: C}``), or the
    identifier as written when it names a cluster outside the template."""
    raw = ctx.raw_properties.get("DBClusterIdentifier")
    if isinstance(raw, dict) and isinstance(raw.get("Ref"), str):
        return str(raw["Ref"])
    if raw is None:
        return None
    value = ctx.props.str("DBClusterIdentifier")
    for logical_id in ctx.scope.of_type(DB_CLUSTER):
        if ctx.scope.ref(logical_id, "Properties.DBClusterIdentifier") == value:
            return logical_id
    return value


def _uuid(seed: str) -> str:
    h = ids.hex_id(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def managed_secret_arn(stack: str, logical_id: str, kind: str) -> str:
    """The ARN of the secret RDS makes for ``ManageMasterUserPassword`` (``rds!db-<uuid>``)."""
    prefix = "db" if kind == "instance" else "cluster"
    seed = f"{stack}/{logical_id}#master-secret"
    suffix = ids.hex_id(seed + "#6", 6)
    return (
        f"arn:{ids.PARTITION}:secretsmanager:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:"
        f"secret:rds!{prefix}-{_uuid(seed)}-{suffix}"
    )


#: How RDS generates a managed master-user password (inferred: RDS documents no options; it never uses
#: the characters a connection string or a shell would choke on).
MANAGED_PASSWORD = GenerateSecretString(password_length=28, exclude_characters="\"'@/\\ ")


def _with_managed_secret(ctx: ResourceContext, db: Database) -> list[object]:
    """The database, and the secret RDS makes for ``ManageMasterUserPassword``."""
    if not db.manage_master_password or db.managed_secret_arn is None:
        return [db]
    name = db.managed_secret_arn.split(":secret:", 1)[1].rsplit("-", 1)[0]
    template = json.dumps({"username": db.master_username or "admin"})
    secret = SecretSpec(
        stack=ctx.stack,
        logical_id=f"{ctx.logical_id}.MasterUserSecret",
        name=name,
        arn=db.managed_secret_arn,
        description=f"Secret associated with primary RDS DB {db.kind}: {db.arn}",
        generate=replace(MANAGED_PASSWORD, secret_string_template=template, generate_string_key="password"),
        owning_service="rds",
    )
    return [db, secret]


def _endpoint_key(ctx: ResourceContext) -> str:
    """The database whose server answers for this resource: a member instance's is its cluster's."""
    if ctx.type == DB_INSTANCE:
        cluster = _cluster_of(ctx)
        if cluster is not None and cluster in ctx.scope.resources:
            return f"{ctx.stack}/{cluster}"
    return ctx.seed


# ---- instance ------------------------------------------------------------------------------------


def _instance_ref(ctx: ResourceContext) -> str:
    return _identifier(ctx, "DBInstanceIdentifier")


def _instance_arn(ctx: ResourceContext) -> str:
    return f"arn:{ids.PARTITION}:rds:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:db:{_instance_ref(ctx)}"


def _att(ctx: ResourceContext, attribute: str, arn: str, resource_prefix: str) -> Any:
    if attribute in _ENDPOINT_ATTRIBUTES:
        return endpoint_reference(_endpoint_key(ctx), attribute)
    if attribute in ("DBInstanceArn", "DBClusterArn"):
        return arn
    if attribute in ("DbiResourceId", "DBClusterResourceId"):
        return f"{resource_prefix}-{ids.hex_id(ctx.seed, 26).upper()}"
    if attribute == "MasterUserSecret.SecretArn":
        kind = "instance" if ctx.type == DB_INSTANCE else "cluster"
        return managed_secret_arn(ctx.stack, ctx.logical_id, kind)
    if attribute == "Endpoint.HostedZoneId":
        return "Z2R2ITUGPM61AM"
    if attribute == "DBSystemId":
        return ids.hex_id(ctx.seed, 12)
    raise KeyError(attribute)


def _instance_att(ctx: ResourceContext, attribute: str) -> Any:
    return _att(ctx, attribute, _instance_arn(ctx), "db")


def _port(ctx: ResourceContext) -> int | None:
    return ctx.props.int("Port")


def _unsupported(ctx: ResourceContext, engine: str) -> list[object]:
    return [
        NotEmulated(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            type=ctx.type,
            reason=f"engine {engine} is not emulated (emulated: {SUPPORTED})",
        )
    ]


def _convert_instance(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    cluster = _cluster_of(ctx)
    if cluster is not None:
        return []  # a member of its cluster: the cluster is the server
    engine = (p.str("Engine") or "").lower()
    if not engine:
        if p.has("SourceDBInstanceIdentifier") or p.has("DBSnapshotIdentifier"):
            return [
                NotEmulated(
                    stack=ctx.stack,
                    logical_id=ctx.logical_id,
                    type=ctx.type,
                    reason="read replicas and snapshot restores are not emulated",
                )
            ]
        p.error("Engine", "required property is missing")
    if engine_family(engine) is EngineFamily.UNSUPPORTED:
        return _unsupported(ctx, engine)
    manage = bool(p.bool("ManageMasterUserPassword", False))
    return _with_managed_secret(
        ctx,
        Database(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            kind="instance",
            identifier=_instance_ref(ctx),
            arn=_instance_arn(ctx),
            engine=engine,
            engine_version=p.str("EngineVersion"),
            db_name=p.str("DBName"),
            master_username=p.str("MasterUsername"),
            master_password=p.str("MasterUserPassword"),
            manage_master_password=manage,
            managed_secret_arn=managed_secret_arn(ctx.stack, ctx.logical_id, "instance") if manage else None,
            port=_port(ctx) or DEFAULT_PORT[engine_family(engine)],
            resource_id=_instance_att(ctx, "DbiResourceId"),
            instance_class=p.str("DBInstanceClass"),
        ),
    )


# ---- cluster -------------------------------------------------------------------------------------


def _cluster_ref(ctx: ResourceContext) -> str:
    return _identifier(ctx, "DBClusterIdentifier")


def _cluster_arn(ctx: ResourceContext) -> str:
    return f"arn:{ids.PARTITION}:rds:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:cluster:{_cluster_ref(ctx)}"


def _cluster_att(ctx: ResourceContext, attribute: str) -> Any:
    return _att(ctx, attribute, _cluster_arn(ctx), "cluster")


def _convert_cluster(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    engine = p.req_str("Engine").lower()
    if engine_family(engine) is EngineFamily.UNSUPPORTED:
        return _unsupported(ctx, engine)
    members = tuple(
        logical_id
        for logical_id in ctx.scope.of_type(DB_INSTANCE)
        if _cluster_of(ctx.scope.context(logical_id)) == ctx.logical_id
    )
    scaling = p.sub("ServerlessV2ScalingConfiguration")
    serverless = None
    if scaling is not None:
        serverless = (scaling.float("MinCapacity", 0.5) or 0.5, scaling.float("MaxCapacity", 1.0) or 1.0)
    manage = bool(p.bool("ManageMasterUserPassword", False))
    return _with_managed_secret(
        ctx,
        Database(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            kind="cluster",
            identifier=_cluster_ref(ctx),
            arn=_cluster_arn(ctx),
            engine=engine,
            engine_version=p.str("EngineVersion"),
            db_name=p.str("DatabaseName"),
            master_username=p.str("MasterUsername"),
            master_password=p.str("MasterUserPassword"),
            manage_master_password=manage,
            managed_secret_arn=managed_secret_arn(ctx.stack, ctx.logical_id, "cluster") if manage else None,
            port=_port(ctx) or DEFAULT_PORT[engine_family(engine)],
            resource_id=_cluster_att(ctx, "DBClusterResourceId"),
            serverless_v2=serverless,
            members=members,
        ),
    )


KINDS: dict[str, ResourceKind] = {
    DB_INSTANCE: ResourceKind(ref=_instance_ref, get_att=_instance_att, convert=_convert_instance),
    DB_CLUSTER: ResourceKind(ref=_cluster_ref, get_att=_cluster_att, convert=_convert_cluster),
}
