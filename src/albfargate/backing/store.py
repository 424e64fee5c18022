"""The local Secrets Manager secrets and SSM parameters, kept under the state directory.

``data/secretsmanager/secrets.json`` and ``data/ssm/parameters.json`` (mode 0600, written atomically):
a secret of the template is generated (or resolved) once and kept, so it is the same across restarts and
redeploys; ``down --volumes`` deletes ``data/`` and so forgets them. Secrets have versions with staging
labels (``AWSCURRENT``, ``AWSPREVIOUS``) as Secrets Manager keeps them; parameters have numbered versions.
Values are never logged or printed; the errors here name secrets, never their values.

Owns: the two files, lookups by name, ARN and partial ARN, the version rules of PutSecretValue and
PutParameter. The API (``api/secretsmanager``, ``api/ssm``) and the engine share one instance of each."""

from __future__ import annotations

import contextlib
import json
import os
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from albfargate.model import ids

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class NotFound(KeyError):
    """No such secret, version or parameter (the message is AWS's)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class Conflict(ValueError):
    """The resource exists already (ResourceExistsException / ParameterAlreadyExists)."""


def _write_private(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    tmp.replace(path)


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: the local {what} cannot be read ({exc}); it was not changed") from None
    if not isinstance(doc, dict):
        raise StoreError(f"{path}: the local {what} file is not a JSON object; it was not changed")
    return doc


class StoreError(Exception):
    """A store file is unreadable (never overwritten then)."""


@dataclass
class SecretVersion:
    version_id: str
    value: str | None
    stages: list[str]
    created: float
    binary: str | None = None  # base64 of SecretBinary

    def to_json(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "value": self.value,
            "binary": self.binary,
            "stages": self.stages,
            "created": self.created,
        }


@dataclass
class SecretRecord:
    arn: str
    name: str
    created: float
    description: str | None = None
    kms_key_id: str | None = None
    tags: list[tuple[str, str]] = field(default_factory=list)
    versions: list[SecretVersion] = field(default_factory=list)
    template_key: str | None = None  # stack/logicalId when the template made it
    owning_service: str | None = None
    last_changed: float | None = None
    last_accessed: float | None = None

    def version(self, *, version_id: str | None = None, stage: str | None = None) -> SecretVersion:
        if version_id is not None:
            for v in self.versions:
                if v.version_id == version_id and (stage is None or stage in v.stages):
                    return v
            raise NotFound(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            )
        stage = stage or CURRENT
        for v in self.versions:
            if stage in v.stages:
                return v
        raise NotFound(f"Secrets Manager can't find the specified secret value for staging label: {stage}")

    def current_value(self) -> str | None:
        try:
            return self.version().value
        except NotFound:
            return None

    def to_json(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "created": self.created,
            "description": self.description,
            "kms_key_id": self.kms_key_id,
            "tags": [list(t) for t in self.tags],
            "versions": [v.to_json() for v in self.versions],
            "template_key": self.template_key,
            "owning_service": self.owning_service,
            "last_changed": self.last_changed,
            "last_accessed": self.last_accessed,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SecretRecord:
        return cls(
            arn=str(d["arn"]),
            name=str(d["name"]),
            created=float(d.get("created") or 0.0),
            description=d.get("description"),
            kms_key_id=d.get("kms_key_id"),
            tags=[(str(k), str(v)) for k, v in d.get("tags") or []],
            versions=[
                SecretVersion(
                    version_id=str(v["version_id"]),
                    value=v.get("value"),
                    binary=v.get("binary"),
                    stages=[str(s) for s in v.get("stages") or []],
                    created=float(v.get("created") or 0.0),
                )
                for v in d.get("versions") or []
            ],
            template_key=d.get("template_key"),
            owning_service=d.get("owning_service"),
            last_changed=d.get("last_changed"),
            last_accessed=d.get("last_accessed"),
        )


def _partial(arn: str) -> str:
    """A secret ARN without its ``-XXXXXX`` suffix (what a partial ARN names)."""
    return arn.rsplit("-", 1)[0]


class SecretStore:
    def __init__(self, path: Path, *, clock: Callable[[], float], rng: random.Random | None = None) -> None:
        self.path = path
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        doc = _read(path, "secrets")
        self.secrets: dict[str, SecretRecord] = {}
        for d in doc.get("secrets", []):
            rec = SecretRecord.from_json(d)
            self.secrets[rec.arn] = rec

    def save(self) -> None:
        _write_private(self.path, {"secrets": [s.to_json() for s in self.secrets.values()]})

    def _new_version_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # ---- lookups -----------------------------------------------------------------------------------
    def find(self, secret_id: str) -> SecretRecord | None:
        """By ARN, partial ARN (without the random suffix) or name."""
        rec = self.secrets.get(secret_id)
        if rec is not None:
            return rec
        for r in self.secrets.values():
            if secret_id in (r.name, _partial(r.arn)):
                return r
        return None

    def get(self, secret_id: str) -> SecretRecord:
        rec = self.find(secret_id)
        if rec is None:
            raise NotFound("Secrets Manager can't find the specified secret.")
        return rec

    # ---- changes -----------------------------------------------------------------------------------
    def ensure(
        self,
        *,
        arn: str,
        name: str,
        template_key: str,
        make_value: Callable[[], str | None],
        literal: bool,
        description: str | None = None,
        kms_key_id: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
        owning_service: str | None = None,
    ) -> SecretRecord:
        """The template's secret, made once. ``literal``: the value is the template's ``SecretString``,
        so a changed template value becomes a new version (a stack update); a generated value is kept."""
        rec = self.secrets.get(arn)
        now = self.clock()
        if rec is None:
            value = make_value()
            rec = SecretRecord(
                arn=arn,
                name=name,
                created=now,
                description=description,
                kms_key_id=kms_key_id,
                tags=list(tags),
                template_key=template_key,
                owning_service=owning_service,
                last_changed=now,
            )
            if value is not None:
                rec.versions.append(SecretVersion(self._new_version_id(), value, [CURRENT], now))
            self.secrets[arn] = rec
            self.save()
            return rec
        if literal:
            value = make_value()
            if value is not None and value != rec.current_value():
                self.put_value(arn, value)
        if rec.description != description or rec.tags != list(tags):
            rec.description = description
            rec.tags = list(tags)
            self.save()
        return rec

    def put_value(
        self,
        secret_id: str,
        value: str | None,
        *,
        binary: str | None = None,
        version_id: str | None = None,
        stages: list[str] | None = None,
    ) -> tuple[SecretRecord, SecretVersion]:
        """PutSecretValue: a new version; ``AWSCURRENT`` moves to it and the old current becomes
        ``AWSPREVIOUS``. The same token with the same value is idempotent."""
        rec = self.get(secret_id)
        now = self.clock()
        stages = list(stages or [CURRENT])
        if version_id is not None:
            for v in rec.versions:
                if v.version_id == version_id:
                    if v.value == value and v.binary == binary:
                        return rec, v
                    raise Conflict(
                        f"You can't modify an existing version, you can only create a new version. "
                        f"VersionId: {version_id}"
                    )
        new = SecretVersion(version_id or self._new_version_id(), value, stages, now, binary)
        for v in rec.versions:
            if CURRENT in stages and CURRENT in v.stages:
                v.stages.remove(CURRENT)
                for old in rec.versions:
                    if PREVIOUS in old.stages:
                        old.stages.remove(PREVIOUS)
                v.stages.append(PREVIOUS)
            for s in stages:
                if s != CURRENT and s in v.stages:
                    v.stages.remove(s)
        rec.versions = [v for v in rec.versions if v.stages][-99:]
        rec.versions.append(new)
        rec.last_changed = now
        self.save()
        return rec, new

    def create(
        self,
        name: str,
        *,
        value: str | None,
        binary: str | None = None,
        description: str | None = None,
        kms_key_id: str | None = None,
        tags: list[tuple[str, str]] | None = None,
        version_id: str | None = None,
    ) -> tuple[SecretRecord, SecretVersion | None]:
        """CreateSecret (through the API)."""
        if self.find(name) is not None:
            raise Conflict(f"The operation failed because the secret {name} already exists.")
        suffix = "".join(self.rng.choice(_ALNUM) for _ in range(6))
        region, account = ids.LOCAL_REGION, ids.LOCAL_ACCOUNT
        arn = f"arn:{ids.PARTITION}:secretsmanager:{region}:{account}:secret:{name}-{suffix}"
        now = self.clock()
        rec = SecretRecord(
            arn=arn,
            name=name,
            created=now,
            description=description,
            kms_key_id=kms_key_id,
            tags=list(tags or []),
            last_changed=now,
        )
        version = None
        if value is not None or binary is not None:
            version = SecretVersion(version_id or self._new_version_id(), value, [CURRENT], now, binary)
            rec.versions.append(version)
        self.secrets[arn] = rec
        self.save()
        return rec, version

    def delete(self, secret_id: str) -> bool:
        """The secret goes (a CloudFormation stack deleted it); False when there was none."""
        rec = self.find(secret_id)
        if rec is None:
            return False
        del self.secrets[rec.arn]
        self.save()
        return True

    def touch(self, rec: SecretRecord) -> None:
        """GetSecretValue's LastAccessedDate (the day, as Secrets Manager keeps it); not saved each time."""
        day = self.clock() // 86400 * 86400
        if rec.last_accessed != day:
            rec.last_accessed = day
            with contextlib.suppress(OSError):
                self.save()


@dataclass
class ParameterRecord:
    name: str
    type: str
    value: str
    version: int
    last_modified: float
    arn: str
    description: str | None = None
    tier: str = "Standard"
    data_type: str = "text"
    allowed_pattern: str | None = None
    template_key: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions: value, version, time

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "value": self.value,
            "version": self.version,
            "last_modified": self.last_modified,
            "arn": self.arn,
            "description": self.description,
            "tier": self.tier,
            "data_type": self.data_type,
            "allowed_pattern": self.allowed_pattern,
            "template_key": self.template_key,
            "history": self.history,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ParameterRecord:
        return cls(
            name=str(d["name"]),
            type=str(d.get("type") or "String"),
            value=str(d.get("value") or ""),
            version=int(d.get("version") or 1),
            last_modified=float(d.get("last_modified") or 0.0),
            arn=str(d.get("arn") or ""),
            description=d.get("description"),
            tier=str(d.get("tier") or "Standard"),
            data_type=str(d.get("data_type") or "text"),
            allowed_pattern=d.get("allowed_pattern"),
            template_key=d.get("template_key"),
            history=list(d.get("history") or []),
        )

    def at_version(self, version: int | None) -> tuple[str, int, float]:
        """(value, version, last modified) of ``version`` (None: the latest)."""
        if version is None or version == self.version:
            return self.value, self.version, self.last_modified
        for h in self.history:
            if int(h["version"]) == version:
                return str(h["value"]), version, float(h["last_modified"])
        raise NotFound(f"Systems Manager could not find version {version} of {self.name}.")


def parameter_arn(name: str) -> str:
    path = name if name.startswith("/") else f"/{name}"
    return f"arn:{ids.PARTITION}:ssm:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:parameter{path}"


class ParameterStore:
    def __init__(self, path: Path, *, clock: Callable[[], float]) -> None:
        self.path = path
        self.clock = clock
        doc = _read(path, "parameters")
        self.parameters: dict[str, ParameterRecord] = {}
        for d in doc.get("parameters", []):
            rec = ParameterRecord.from_json(d)
            self.parameters[rec.name] = rec

    def save(self) -> None:
        _write_private(self.path, {"parameters": [p.to_json() for p in self.parameters.values()]})

    def find(self, name_or_arn: str) -> ParameterRecord | None:
        from .references import parameter_name

        name = parameter_name(name_or_arn)
        rec = self.parameters.get(name)
        if rec is None and name_or_arn.startswith("arn:"):
            rec = self.parameters.get(name.lstrip("/")) or self.parameters.get("/" + name)
        return rec

    def put(
        self,
        name: str,
        value: str,
        *,
        type: str = "String",
        overwrite: bool = False,
        description: str | None = None,
        tier: str | None = None,
        data_type: str | None = None,
        allowed_pattern: str | None = None,
        template_key: str | None = None,
    ) -> ParameterRecord:
        """PutParameter: version 1, or the next version when ``overwrite``."""
        now = self.clock()
        rec = self.parameters.get(name)
        if rec is None:
            rec = ParameterRecord(
                name=name,
                type=type,
                value=value,
                version=1,
                last_modified=now,
                arn=parameter_arn(name),
                description=description,
                tier=tier or "Standard",
                data_type=data_type or "text",
                allowed_pattern=allowed_pattern,
                template_key=template_key,
            )
            self.parameters[name] = rec
        else:
            if not overwrite:
                raise Conflict(
                    "The parameter already exists. To overwrite this value, set the overwrite option in the "
                    "request to true."
                )
            rec.history.append(
                {"value": rec.value, "version": rec.version, "last_modified": rec.last_modified}
            )
            rec.history = rec.history[-99:]
            rec.value = value
            rec.type = type
            rec.version += 1
            rec.last_modified = now
            if description is not None:
                rec.description = description
            if tier is not None:
                rec.tier = tier
            if data_type is not None:
                rec.data_type = data_type
        self.save()
        return rec

    def delete(self, name: str) -> bool:
        """The parameter goes (DeleteParameter, a CloudFormation stack deleted it); False when there was
        none."""
        rec = self.find(name)
        if rec is None:
            return False
        del self.parameters[rec.name]
        self.save()
        return True

    def ensure(
        self,
        name: str,
        value: str,
        *,
        type: str,
        template_key: str,
        description: str | None,
        tier: str,
        data_type: str,
        allowed_pattern: str | None,
    ) -> ParameterRecord:
        """The template's parameter: made once; a changed template value is the next version."""
        rec = self.parameters.get(name)
        if rec is not None and rec.value == value and rec.type == type:
            return rec
        return self.put(
            name,
            value,
            type=type,
            overwrite=True,
            description=description,
            tier=tier,
            data_type=data_type,
            allowed_pattern=allowed_pattern,
            template_key=template_key,
        )
