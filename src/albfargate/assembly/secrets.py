"""Secrets Manager and SSM Parameter Store resources -> model: ``AWS::SecretsManager::Secret`` (with
``GenerateSecretString`` or a ``SecretString``), ``AWS::SecretsManager::SecretTargetAttachment`` and
``AWS::SSM::Parameter``; the secret RDS makes for ``ManageMasterUserPassword`` is added here too.

Owns: secret names and ARNs (``arn:...:secret:<name>-<6 characters>``), parameter names (CloudFormation's
``CFN-<LogicalId>-<suffix>`` when ``Name`` is absent) and their ``Ref``/``GetAtt`` values. Secret values
never enter the model: they are generated or resolved at run time (``albfargate.backing``)."""

from __future__ import annotations

import json
from typing import Any

from albfargate.model import ids
from albfargate.model.backing import GenerateSecretString, Parameter, SecretSpec, SecretTargetAttachment

from .context import ResourceContext, physical_suffix
from .kinds import ResourceKind

SECRET = "AWS::SecretsManager::Secret"
ATTACHMENT = "AWS::SecretsManager::SecretTargetAttachment"
PARAMETER = "AWS::SSM::Parameter"

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _alnum(seed: str, n: int) -> str:
    digest = ids.hex_id(seed, n * 2)
    return "".join(_ALNUM[int(digest[i * 2 : i * 2 + 2], 16) % len(_ALNUM)] for i in range(n))


def secret_arn(name: str, seed: str) -> str:
    """A secret's ARN: its name, ``-`` and six random characters, as Secrets Manager makes them."""
    return (
        f"arn:{ids.PARTITION}:secretsmanager:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:"
        f"secret:{name}-{_alnum(seed + '#arn', 6)}"
    )


# ---- secret --------------------------------------------------------------------------------------


def _secret_name(ctx: ResourceContext) -> str:
    given = ctx.props.str("Name")
    if given:
        return given
    return f"{ctx.logical_id[:40]}-{_alnum(ctx.seed, 12)}"


def _secret_ref(ctx: ResourceContext) -> str:
    return secret_arn(_secret_name(ctx), ctx.seed)


def _secret_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Id":
        return _secret_ref(ctx)
    raise KeyError(attribute)


def _generate(ctx: ResourceContext) -> GenerateSecretString | None:
    g = ctx.props.sub("GenerateSecretString")
    if g is None:
        return None
    template = g.str("SecretStringTemplate")
    key = g.str("GenerateStringKey")
    if (template is None) != (key is None):
        g.error(
            "SecretStringTemplate" if template is None else "GenerateStringKey",
            "SecretStringTemplate and GenerateStringKey go together (Secrets Manager needs both or neither)",
        )
    if template is not None:
        try:
            doc = json.loads(template)
        except ValueError:
            g.error("SecretStringTemplate", "is not valid JSON")
        if not isinstance(doc, dict):
            g.error("SecretStringTemplate", "must be a JSON object")
    d = GenerateSecretString()
    length = g.int("PasswordLength", d.password_length) or d.password_length
    if not 1 <= length <= 4096:
        g.error("PasswordLength", f"must be between 1 and 4096, got {length}")
    return GenerateSecretString(
        secret_string_template=template,
        generate_string_key=key,
        password_length=length,
        exclude_characters=g.str("ExcludeCharacters", "") or "",
        exclude_lowercase=bool(g.bool("ExcludeLowercase", False)),
        exclude_uppercase=bool(g.bool("ExcludeUppercase", False)),
        exclude_numbers=bool(g.bool("ExcludeNumbers", False)),
        exclude_punctuation=bool(g.bool("ExcludePunctuation", False)),
        include_space=bool(g.bool("IncludeSpace", False)),
        require_each_included_type=bool(g.bool("RequireEachIncludedType", True)),
    )


def _convert_secret(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    if p.has("SecretString") and p.has("GenerateSecretString"):
        p.error("SecretString", "a secret has either SecretString or GenerateSecretString, not both")
    return [
        SecretSpec(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            name=_secret_name(ctx),
            arn=_secret_ref(ctx),
            description=p.str("Description"),
            secret_string=p.str("SecretString"),
            generate=_generate(ctx),
            kms_key_id=p.str("KmsKeyId"),
            tags=p.pairs("Tags"),
        )
    ]


# ---- target attachment -----------------------------------------------------------------------------


def _attachment_ref(ctx: ResourceContext) -> str:
    """CloudFormation: the Ref of a SecretTargetAttachment is the ARN of the secret."""
    return ctx.props.req_str("SecretId") if ctx.props.has("SecretId") else ""


def _attachment_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Id":
        return _attachment_ref(ctx)
    raise KeyError(attribute)


def _convert_attachment(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    target_type = p.req_str("TargetType")
    raw = ctx.raw_properties.get("TargetId")
    target_logical: str | None = None
    if isinstance(raw, dict) and isinstance(raw.get("Ref"), str):
        target_logical = str(raw["Ref"])
    else:
        value = p.req_str("TargetId")
        for logical_id in ctx.scope.of_type(target_type):
            if ctx.scope.ref(logical_id, "Properties.TargetId") == value:
                target_logical = logical_id
    if target_type not in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        return []  # Redshift / DocumentDB targets: the secret stays as it is
    if target_logical is None:
        p.error("TargetId", "names no database of this stack")
    return [
        SecretTargetAttachment(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            secret_arn=p.req_str("SecretId"),
            target_key=f"{ctx.stack}/{target_logical}",
            target_type=target_type,
        )
    ]


# ---- SSM parameter -----------------------------------------------------------------------------------


def _parameter_name(ctx: ResourceContext) -> str:
    given = ctx.props.str("Name")
    if given:
        return given
    return f"CFN-{ctx.logical_id}-{physical_suffix(ctx.seed, 12)}"


def parameter_arn(name: str) -> str:
    path = name if name.startswith("/") else f"/{name}"
    return f"arn:{ids.PARTITION}:ssm:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:parameter{path}"


def _parameter_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Type":
        return ctx.props.str("Type") or "String"
    if attribute == "Value":
        return ctx.props.req_str("Value")
    raise KeyError(attribute)


def _convert_parameter(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    ptype = p.str("Type") or "String"
    if ptype not in ("String", "StringList"):
        p.error("Type", f"CloudFormation creates String or StringList parameters, not {ptype}")
    value = p.raw("Value")
    text = ",".join(str(v) for v in value) if isinstance(value, list) else p.req_str("Value")
    name = _parameter_name(ctx)
    tags = p.raw("Tags")
    return [
        Parameter(
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            name=name,
            type=ptype,
            value=text,
            arn=parameter_arn(name),
            description=p.str("Description"),
            tier=p.str("Tier") or "Standard",
            data_type=p.str("DataType") or "text",
            allowed_pattern=p.str("AllowedPattern"),
            tags=tuple((str(k), str(v)) for k, v in tags.items()) if isinstance(tags, dict) else (),
        )
    ]


KINDS: dict[str, ResourceKind] = {
    SECRET: ResourceKind(ref=_secret_ref, get_att=_secret_att, convert=_convert_secret),
    ATTACHMENT: ResourceKind(ref=_attachment_ref, get_att=_attachment_att, convert=_convert_attachment),
    PARAMETER: ResourceKind(ref=_parameter_name, get_att=_parameter_att, convert=_convert_parameter),
}
