"""Backing-resource vocabulary: databases (RDS instances and Aurora clusters), Secrets Manager secrets
with their generation options and target attachments, and SSM parameters.

Values a template only knows at deploy time stay references in the model and are resolved at run time by
``albfargate.backing``: dynamic references (``{{resolve:secretsmanager:...}}``, ``{{resolve:ssm:...}}``) as
CloudFormation writes them, and the local endpoint of a database as an *endpoint reference*
``{{albfargate:endpoint:<stack>/<logical id>:<attribute>}}`` (made by :func:`endpoint_reference`). The
engine replaces every such reference before a task or an output sees the text, so neither ever reaches a
task; a value that cannot be resolved stops the task from starting with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ENDPOINT_PREFIX = "{{albfargate:endpoint:"


def endpoint_reference(key: str, attribute: str) -> str:
    """The run-time reference to a database's local endpoint: ``attribute`` is ``Endpoint.Address``,
    ``Endpoint.Port``, ``ReadEndpoint.Address`` or ``ReadEndpoint.Port``; ``key`` is ``stack/logicalId``
    of the database (an instance or a cluster)."""
    return f"{ENDPOINT_PREFIX}{key}:{attribute}}}}}"


class EngineFamily(StrEnum):
    """What runs a database locally: a PostgreSQL server, a MySQL/MariaDB server, or nothing."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    UNSUPPORTED = "unsupported"


POSTGRES_ENGINES = frozenset({"postgres", "aurora-postgresql"})
MYSQL_ENGINES = frozenset({"mysql", "mariadb", "aurora-mysql", "aurora"})

#: RDS's default port of each engine family.
DEFAULT_PORT = {EngineFamily.POSTGRES: 5432, EngineFamily.MYSQL: 3306}


def engine_family(engine: str) -> EngineFamily:
    name = engine.lower()
    if name in POSTGRES_ENGINES:
        return EngineFamily.POSTGRES
    if name in MYSQL_ENGINES:
        return EngineFamily.MYSQL
    return EngineFamily.UNSUPPORTED


@dataclass(frozen=True, slots=True)
class Database:
    """One database server: an ``AWS::RDS::DBInstance`` that is not a cluster member, or an
    ``AWS::RDS::DBCluster`` (its member instances are in ``members``; the cluster is one local server).

    ``master_username`` and ``master_password`` may hold dynamic references (resolved at run time);
    ``manage_master_password`` is ``ManageMasterUserPassword`` (RDS then keeps the password in the secret
    named ``managed_secret_arn``)."""

    stack: str
    logical_id: str
    kind: str  # "instance" | "cluster"
    identifier: str  # DBInstanceIdentifier / DBClusterIdentifier (the Ref value), lower case
    arn: str
    engine: str
    engine_version: str | None = None
    db_name: str | None = None  # DBName (instance) / DatabaseName (cluster)
    master_username: str | None = None
    master_password: str | None = None
    manage_master_password: bool = False
    managed_secret_arn: str | None = None
    port: int | None = None  # the template's Port (the local port is chosen at run time)
    resource_id: str = ""
    instance_class: str | None = None
    serverless_v2: tuple[float, float] | None = None  # (MinCapacity, MaxCapacity)
    members: tuple[str, ...] = ()  # cluster member instances (logical ids)
    #: the name of its data directory, log and pid file; None: the logical id (a database of the app's
    #: own model). A database deployed through CloudFormation has its identifier (unique in the account,
    #: as on RDS), so a replacement or another stack's database of the same logical id has its own data.
    data_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.logical_id}"

    @property
    def local_name(self) -> str:
        return self.data_name or self.logical_id

    @property
    def family(self) -> EngineFamily:
        return engine_family(self.engine)


@dataclass(frozen=True, slots=True)
class GenerateSecretString:
    """``GenerateSecretString`` with Secrets Manager's defaults (GetRandomPassword's): 32 characters of
    every type but the space, at least one of each included type."""

    secret_string_template: str | None = None
    generate_string_key: str | None = None
    password_length: int = 32
    exclude_characters: str = ""
    exclude_lowercase: bool = False
    exclude_uppercase: bool = False
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    include_space: bool = False
    require_each_included_type: bool = True


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """An ``AWS::SecretsManager::Secret`` (or the secret RDS makes for ``ManageMasterUserPassword``).
    The value is made at run time (generated once and kept in the local state, or ``secret_string``
    with its references resolved); it is never in the model."""

    stack: str
    logical_id: str
    name: str
    arn: str
    description: str | None = None
    secret_string: str | None = None
    generate: GenerateSecretString | None = None
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    owning_service: str | None = None  # "rds" for a managed master-user secret

    @property
    def key(self) -> str:
        return f"{self.stack}/{self.logical_id}"


@dataclass(frozen=True, slots=True)
class SecretTargetAttachment:
    """``AWS::SecretsManager::SecretTargetAttachment``: the database's connection fields are added to
    the secret's JSON (host, port, engine, dbname, dbInstanceIdentifier or dbClusterIdentifier)."""

    stack: str
    logical_id: str
    secret_arn: str
    target_key: str  # the database's key (stack/logical id)
    target_type: str  # AWS::RDS::DBInstance | AWS::RDS::DBCluster


@dataclass(frozen=True, slots=True)
class Parameter:
    """An ``AWS::SSM::Parameter``; ``value`` may hold references (resolved at run time)."""

    stack: str
    logical_id: str
    name: str
    type: str  # String | StringList
    value: str
    arn: str
    description: str | None = None
    tier: str = "Standard"
    data_type: str = "text"
    allowed_pattern: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
