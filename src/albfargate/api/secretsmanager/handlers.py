"""Secrets Manager operations: GetSecretValue, DescribeSecret, ListSecrets, PutSecretValue, CreateSecret,
with Secrets Manager's error codes (ResourceNotFoundException, ResourceExistsException,
InvalidParameterException, InvalidRequestException). They act on the store the engine keeps
(``backing.store.SecretStore``, in ``Context.secrets``); values go only to the caller who asked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.errors import ApiError
from albfargate.backing.store import Conflict, NotFound, SecretRecord, SecretStore

TARGET_PREFIX = "secretsmanager."
MAX_LIST = 100


def _store(ctx: Context) -> SecretStore:
    store = getattr(ctx, "secrets", None)
    if store is None:
        raise ApiError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    return store  # type: ignore[no-any-return]


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def _text(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _invalid(f"You must provide a value for the {name} parameter.")
        return None
    if not isinstance(value, str):
        raise ApiError("SerializationException", f"{name} must be a string")
    return value


def _time(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def _find(ctx: Context, params: Params) -> SecretRecord:
    secret_id = _text(params, "SecretId", required=True)
    assert secret_id is not None
    try:
        return _store(ctx).get(secret_id)
    except NotFound as exc:
        raise ApiError("ResourceNotFoundException", str(exc)) from None


def _tags(rec: SecretRecord) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in rec.tags]


def get_secret_value(ctx: Context, params: Params) -> Result:
    rec = _find(ctx, params)
    try:
        version = rec.version(version_id=_text(params, "VersionId"), stage=_text(params, "VersionStage"))
    except NotFound as exc:
        raise ApiError("ResourceNotFoundException", str(exc)) from None
    _store(ctx).touch(rec)
    out: dict[str, Any] = {
        "ARN": rec.arn,
        "Name": rec.name,
        "VersionId": version.version_id,
        "VersionStages": list(version.stages),
        "CreatedDate": _time(version.created),
    }
    if version.value is not None:
        out["SecretString"] = version.value
    if version.binary is not None:
        out["SecretBinary"] = version.binary
    return out


def _versions_to_stages(rec: SecretRecord) -> dict[str, list[str]]:
    return {v.version_id: list(v.stages) for v in rec.versions if v.stages}


def _description(rec: SecretRecord) -> dict[str, Any]:
    return {
        "ARN": rec.arn,
        "Name": rec.name,
        "Description": rec.description,
        "KmsKeyId": rec.kms_key_id,
        "RotationEnabled": False if rec.owning_service is None else None,
        "LastChangedDate": _time(rec.last_changed),
        "LastAccessedDate": _time(rec.last_accessed),
        "Tags": _tags(rec) or None,
        "CreatedDate": _time(rec.created),
        "OwningService": rec.owning_service,
    }


def describe_secret(ctx: Context, params: Params) -> Result:
    rec = _find(ctx, params)
    out = _description(rec)
    out["VersionIdsToStages"] = _versions_to_stages(rec)
    return out


def _matches(rec: SecretRecord, key: str, values: list[str]) -> bool:
    def starts(text: str | None) -> bool:
        if text is None:
            return False
        return any((not text.startswith(v[1:]) if v.startswith("!") else text.startswith(v)) for v in values)

    if key == "name":
        return starts(rec.name)
    if key == "description":
        return starts(rec.description)
    if key == "tag-key":
        return any(starts(k) for k, _ in rec.tags)
    if key == "tag-value":
        return any(starts(v) for _, v in rec.tags)
    if key == "owning-service":
        return starts(rec.owning_service)
    if key == "primary-region":
        return False
    if key == "all":
        return any(starts(t) for t in (rec.name, rec.description, *[x for kv in rec.tags for x in kv]))
    raise _invalid(f"Invalid filter key {key}.")


def list_secrets(ctx: Context, params: Params) -> Result:
    store = _store(ctx) if getattr(ctx, "secrets", None) is not None else None
    records = list(store.secrets.values()) if store is not None else []
    for f in params.get("Filters") or []:
        if not isinstance(f, dict):
            raise _invalid("Filters must be a list of Key/Values")
        key, values = str(f.get("Key", "")), [str(v) for v in f.get("Values") or []]
        records = [r for r in records if _matches(r, key, values)]
    records.sort(key=lambda r: r.created, reverse=params.get("SortOrder") != "asc")
    limit = params.get("MaxResults", MAX_LIST)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
        raise _invalid("MaxResults must be between 1 and 100.")
    start = 0
    token = params.get("NextToken")
    if token is not None:
        try:
            start = int(str(token))
        except ValueError:
            raise _invalid("Invalid NextToken.") from None
    page = records[start : start + limit]
    entries = []
    for rec in page:
        entry = _description(rec)
        entry["SecretVersionsToStages"] = _versions_to_stages(rec)
        entries.append(entry)
    out: dict[str, Any] = {"SecretList": entries}
    if start + limit < len(records):
        out["NextToken"] = str(start + limit)
    return out


def put_secret_value(ctx: Context, params: Params) -> Result:
    rec = _find(ctx, params)
    value = _text(params, "SecretString")
    binary = _text(params, "SecretBinary")
    if (value is None) == (binary is None):
        raise _invalid("You must provide either SecretString or SecretBinary, but not both.")
    stages = params.get("VersionStages")
    if stages is not None and (not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)):
        raise _invalid("VersionStages must be a list of strings.")
    try:
        rec, version = _store(ctx).put_value(
            rec.arn, value, binary=binary, version_id=_text(params, "ClientRequestToken"), stages=stages
        )
    except Conflict as exc:
        raise ApiError("ResourceExistsException", str(exc)) from None
    return {
        "ARN": rec.arn,
        "Name": rec.name,
        "VersionId": version.version_id,
        "VersionStages": version.stages,
    }


def create_secret(ctx: Context, params: Params) -> Result:
    name = _text(params, "Name", required=True)
    assert name is not None
    if not 1 <= len(name) <= 512:
        raise _invalid("Name must be 1 to 512 characters.")
    value = _text(params, "SecretString")
    binary = _text(params, "SecretBinary")
    if value is not None and binary is not None:
        raise _invalid(
            "You can't specify both a binary secret value and a string secret value in the same secret."
        )
    tags = []
    for t in params.get("Tags") or []:
        if not isinstance(t, dict) or not isinstance(t.get("Key"), str):
            raise _invalid("Tags must be a list of Key/Value.")
        tags.append((str(t["Key"]), str(t.get("Value", ""))))
    try:
        rec, version = _store(ctx).create(
            name,
            value=value,
            binary=binary,
            description=_text(params, "Description"),
            kms_key_id=_text(params, "KmsKeyId"),
            tags=tags,
            version_id=_text(params, "ClientRequestToken"),
        )
    except Conflict as exc:
        raise ApiError("ResourceExistsException", str(exc)) from None
    out: dict[str, Any] = {"ARN": rec.arn, "Name": rec.name}
    if version is not None:
        out["VersionId"] = version.version_id
    return out


OPERATIONS: dict[str, Handler] = {
    "GetSecretValue": get_secret_value,
    "DescribeSecret": describe_secret,
    "ListSecrets": list_secrets,
    "PutSecretValue": put_secret_value,
    "CreateSecret": create_secret,
}
