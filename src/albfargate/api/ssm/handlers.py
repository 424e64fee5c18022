"""SSM Parameter Store operations: GetParameter, GetParameters, GetParametersByPath, PutParameter, with
SSM's error codes (ParameterNotFound, ParameterVersionNotFound, ParameterAlreadyExists,
ValidationException, HierarchyLevelLimitExceededException). They act on the store the engine keeps
(``backing.store.ParameterStore``, in ``Context.parameters``). ``Name`` may carry a ``:version``
selector. SecureString values are kept as given (no KMS locally) and returned as they are."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.errors import ApiError
from albfargate.backing.references import parameter_name
from albfargate.backing.store import Conflict, NotFound, ParameterRecord, ParameterStore

TARGET_PREFIX = "AmazonSSM."
TYPES = ("String", "StringList", "SecureString")
_NAME = re.compile(r"^[a-zA-Z0-9_.\-/]+$")


def _store(ctx: Context) -> ParameterStore | None:
    return getattr(ctx, "parameters", None)


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _not_found(name: str) -> ApiError:
    return ApiError("ParameterNotFound", f"Parameter {name} not found.")


def _split_selector(name: str) -> tuple[str, int | None]:
    if not name.startswith("arn:"):
        head, sep, tail = name.rpartition(":")
        if sep and tail.isdigit():
            return head, int(tail)
        return name, None
    parts = name.split(":")
    if len(parts) == 7 and parts[6].isdigit():
        return ":".join(parts[:6]), int(parts[6])
    return name, None


def _view(rec: ParameterRecord, version: int | None, selector: str | None) -> dict[str, Any]:
    value, v, modified = rec.at_version(version)
    out: dict[str, Any] = {
        "Name": rec.name,
        "Type": rec.type,
        "Value": value,
        "Version": v,
        "LastModifiedDate": datetime.fromtimestamp(modified, UTC),
        "ARN": rec.arn,
        "DataType": rec.data_type,
    }
    if selector:
        out["Selector"] = selector
    return out


def _lookup(ctx: Context, name: str) -> dict[str, Any]:
    store = _store(ctx)
    base, version = _split_selector(name)
    rec = store.find(base) if store is not None else None
    if rec is None:
        raise _not_found(parameter_name(base))
    try:
        return _view(rec, version, f":{version}" if version is not None else None)
    except NotFound:
        raise ApiError(
            "ParameterVersionNotFound",
            f"Systems Manager could not find version {version} of {rec.name}. "
            "Verify the version and try again.",
        ) from None


def _name(params: Params, key: str = "Name") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise _validation(
            f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def get_parameter(ctx: Context, params: Params) -> Result:
    return {"Parameter": _lookup(ctx, _name(params))}


def get_parameters(ctx: Context, params: Params) -> Result:
    names = params.get("Names")
    if not isinstance(names, list) or not 1 <= len(names) <= 10 or not all(isinstance(n, str) for n in names):
        raise _validation(
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have "
            "length less than or equal to 10 and greater than or equal to 1"
        )
    found, invalid = [], []
    for n in dict.fromkeys(names):
        try:
            found.append(_lookup(ctx, n))
        except ApiError:
            invalid.append(n)
    return {"Parameters": found, "InvalidParameters": invalid}


def get_parameters_by_path(ctx: Context, params: Params) -> Result:
    path = _name(params, "Path")
    if not path.startswith("/"):
        raise _validation(
            "The parameter doesn't meet the parameter name requirements. "
            'The parameter name must begin with a forward slash "/".'
        )
    if path.count("/") > 15:
        raise ApiError("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels.")
    recursive = bool(params.get("Recursive", False))
    prefix = path if path.endswith("/") else path + "/"
    store = _store(ctx)
    records = sorted(store.parameters.values(), key=lambda r: r.name) if store is not None else []
    chosen = []
    for rec in records:
        if not rec.name.startswith(prefix):
            continue
        rest = rec.name[len(prefix) :]
        if not rest or (not recursive and "/" in rest):
            continue
        chosen.append(rec)
    for f in params.get("ParameterFilters") or []:
        if isinstance(f, dict) and f.get("Key") == "Type":
            values = [str(v) for v in f.get("Values") or []]
            chosen = [r for r in chosen if r.type in values]
    limit = params.get("MaxResults", 10)
    if not isinstance(limit, int) or not 1 <= limit <= 10:
        raise _validation(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
            "Member must have "
            "value less than or equal to 10"
        )
    start = 0
    token = params.get("NextToken")
    if token is not None:
        try:
            start = int(str(token))
        except ValueError:
            raise _validation("The specified token is not valid.") from None
    out: dict[str, Any] = {"Parameters": [_view(r, None, None) for r in chosen[start : start + limit]]}
    if start + limit < len(chosen):
        out["NextToken"] = str(start + limit)
    return out


def put_parameter(ctx: Context, params: Params) -> Result:
    name = _name(params)
    value = params.get("Value")
    if not isinstance(value, str):
        raise _validation(
            "1 validation error detected: Value null at 'value' failed to satisfy constraint: "
            "Member must not be null"
        )
    if not _NAME.match(name.removeprefix("arn:aws:ssm:")) or (
        name.count("/") > 0 and not name.startswith("/")
    ):
        raise _validation(
            'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, '
            "it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of "
            "letters, numbers and the following 3 symbols .-_"
        )
    if name.lower().startswith(("aws", "ssm", "/aws", "/ssm")):
        raise _validation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).')
    store = _store(ctx)
    if store is None:
        raise ApiError("InternalServerError", "the parameter store is not running")
    ptype = params.get("Type")
    existing = store.find(name)
    if ptype is None:
        if existing is None:
            raise _validation("A parameter type is required when you create a parameter.")
        ptype = existing.type
    if ptype not in TYPES:
        raise _validation(
            f"1 validation error detected: Value '{ptype}' at 'type' failed to satisfy constraint: "
            "Member must "
            "satisfy enum value set: [SecureString, StringList, String]"
        )
    pattern = params.get("AllowedPattern")
    if isinstance(pattern, str) and not re.fullmatch(pattern, value):
        raise ApiError(
            "ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}",
        )
    try:
        rec = store.put(
            name,
            value,
            type=str(ptype),
            overwrite=bool(params.get("Overwrite", False)),
            description=params.get("Description"),
            tier=params.get("Tier"),
            data_type=params.get("DataType"),
            allowed_pattern=pattern if isinstance(pattern, str) else None,
        )
    except Conflict as exc:
        raise ApiError("ParameterAlreadyExists", str(exc)) from None
    return {"Version": rec.version, "Tier": rec.tier}


OPERATIONS: dict[str, Handler] = {
    "GetParameter": get_parameter,
    "GetParameters": get_parameters,
    "GetParametersByPath": get_parameters_by_path,
    "PutParameter": put_parameter,
}
