"""STS operations: ``GetCallerIdentity``, ``AssumeRole``, ``GetSessionToken`` and ``GetAccessKeyInfo``.

There is one local account (``000000000000``) and IAM is not evaluated, so the caller is always that
account's root and every credential is accepted. ``AssumeRole`` is what the CDK CLI does with the roles
``cdk bootstrap`` made (``cdk-<qualifier>-deploy-role-...``, ``...-file-publishing-role-...``): the role
must exist, as an ``AWS::IAM::Role`` of a stack deployed through the local CloudFormation (the inert
record of the bootstrap stack), else it is refused as AWS refuses a role that does not exist or does not
trust the caller (``AccessDenied``), so an unbootstrapped ``cdk deploy`` says so. The credentials it
returns are dummies (any credentials are accepted by the endpoint) with AWS's shapes and an
``Expiration`` ``DurationSeconds`` away."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.errors import ApiError
from albfargate.model import ids

VERSION = "2011-06-15"
XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})$")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 43200, 3600


def caller_arn() -> str:
    return f"arn:aws:iam::{ids.LOCAL_ACCOUNT}:root"


def get_caller_identity(ctx: Context, params: Params) -> Result:
    return {"UserId": ids.LOCAL_ACCOUNT, "Account": ids.LOCAL_ACCOUNT, "Arn": caller_arn()}


def get_access_key_info(ctx: Context, params: Params) -> Result:
    key = params.get("AccessKeyId")
    if not isinstance(key, str) or not 16 <= len(key) <= 128:
        raise _validation("accessKeyId", key, "Member must have length greater than or equal to 16")
    return {"Account": ids.LOCAL_ACCOUNT}


def _validation(field: str, value: Any, constraint: str) -> ApiError:
    return ApiError(
        "ValidationError",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"{constraint}",
    )


def _duration(params: Params) -> int:
    raw = params.get("DurationSeconds")
    if raw is None or raw == "":
        return DEFAULT_DURATION
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _validation("durationSeconds", raw, "Member must be an integer") from None
    if value < MIN_DURATION:
        raise _validation(
            "durationSeconds", value, f"Member must have value greater than or equal to {MIN_DURATION}"
        )
    if value > MAX_DURATION:
        raise _validation(
            "durationSeconds", value, f"Member must have value less than or equal to {MAX_DURATION}"
        )
    return value


def _credentials(seed: str, now: float, duration: int) -> dict[str, Any]:
    digest = hashlib.sha256(f"{seed}|{now}".encode()).hexdigest().upper()
    return {
        "AccessKeyId": "ASIA" + digest[:16],
        "SecretAccessKey": hashlib.sha256(digest.encode()).hexdigest()[:40],
        "SessionToken": "albfargate-local-session-" + digest[16:56],
        "Expiration": datetime.fromtimestamp(now + duration, UTC),
    }


def known_roles(ctx: Context) -> set[str]:
    """The role names of the ``AWS::IAM::Role`` resources of the deployed CloudFormation stacks."""
    api = getattr(ctx, "cloudformation", None)
    if api is None:
        return set()
    names: set[str] = set()
    for stack in api.engine.stacks():
        for record in stack.resources.values():
            if record.type == "AWS::IAM::Role" and record.physical_id and record.status != "DELETE_COMPLETE":
                names.add(str(record.physical_id).rsplit("/", 1)[-1])
    return names


def assume_role(ctx: Context, params: Params) -> Result:
    role_arn = params.get("RoleArn")
    session = params.get("RoleSessionName")
    if not isinstance(role_arn, str) or not role_arn:
        raise _validation("roleArn", None, "Member must not be null")
    if not isinstance(session, str) or not session:
        raise _validation("roleSessionName", None, "Member must not be null")
    if not _SESSION_NAME.match(session):
        raise _validation(
            "roleSessionName", session, "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )
    duration = _duration(params)
    match = _ROLE_ARN.match(role_arn)
    if match is None or len(role_arn) < 20:
        raise ApiError("ValidationError", f"{role_arn} is invalid")
    account, name = match.groups()
    if account != ids.LOCAL_ACCOUNT or name not in known_roles(ctx):
        raise ApiError(
            "AccessDenied",
            f"User: {caller_arn()} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            status=403,
        )
    now = ctx.clock()
    role_id = "AROA" + hashlib.sha256(role_arn.encode()).hexdigest().upper()[:17]
    return {
        "Credentials": _credentials(f"{role_arn}|{session}", now, duration),
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role_id}:{session}",
            "Arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        },
        "PackedPolicySize": 0 if params.get("Policy") else None,
    }


def get_session_token(ctx: Context, params: Params) -> Result:
    raw = params.get("DurationSeconds")
    duration = 43200 if raw in (None, "") else _duration(params)
    return {"Credentials": _credentials("session", ctx.clock(), duration)}


OPERATIONS: dict[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
    "GetAccessKeyInfo": get_access_key_info,
}
