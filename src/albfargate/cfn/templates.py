"""What CloudFormation checks before it changes anything: the template text, its sections, intrinsic
function names, references, the dependency order, the parameter values (SSM-typed ones read through a
callback), the capabilities, the stack and change-set names -- each refusal with AWS's error code and
message, as :class:`TemplateError`. Also the template summary (GetTemplateSummary, ValidateTemplate).

Pure: template mappings and callbacks in, values or :class:`TemplateError` out."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from albfargate.assembly.dependencies import (
    CircularDependencyError,
    dependency_order,
    references,
    unknown_functions,
)
from albfargate.assembly.intrinsics import FUNCTIONS, to_text
from albfargate.assembly.loader import SSM_PARAMETER_PREFIX
from albfargate.assembly.template import parse_template_text
from albfargate.cfn.model import ParameterValue
from albfargate.errors import AssemblyError


class TemplateError(Exception):
    """A refusal with AWS's error code (``ValidationError``, ``InsufficientCapabilitiesException``...)."""

    def __init__(self, message: str, code: str = "ValidationError", *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

#: The transform albfargate evaluates itself (``Fn::FindInMap`` defaults; see assembly/intrinsics.py).
SUPPORTED_TRANSFORMS = frozenset({"AWS::LanguageExtensions"})

_IAM_TYPES = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}

STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
CHANGE_SET_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
MAX_TEMPLATE_BODY = 51200  # TemplateBody; a TemplateURL may point at up to 1 MB


def check_stack_name(name: str | None, *, field: str = "stackName") -> str:
    if not name:
        raise TemplateError(
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if name.startswith("arn:"):
        return name
    if len(name) > 128 or STACK_NAME.fullmatch(name) is None:
        raise TemplateError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
        )
    return name


def check_change_set_name(name: str | None) -> str:
    if not name:
        raise TemplateError(
            "1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: "
            "Member must not be null"
        )
    if name.startswith("arn:"):
        return name
    if len(name) > 128 or CHANGE_SET_NAME.fullmatch(name) is None:
        raise TemplateError(
            f"1 validation error detected: Value '{name}' at 'changeSetName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )
    return name


# ---- the template text ------------------------------------------------------------------------------


def parse(text: str) -> dict[str, Any]:
    """A template (JSON, or YAML with the short-form tags) as one mapping."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TemplateError(
                f"Template format error: JSON not well-formed. (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise TemplateError("Template format error: JSON not well-formed. (line 1, column 1)")
        return data
    try:
        return parse_template_text(text, source="TemplateBody")
    except AssemblyError as exc:
        where = re.search(r"line (\d+), column (\d+)", str(exc))
        position = f" (line {where.group(1)}, column {where.group(2)})" if where else ""
        if "must be a mapping" in str(exc):
            raise TemplateError(f"Template format error: {str(exc).split(': ', 1)[-1]}") from None
        raise TemplateError(f"Template format error: YAML not well-formed.{position}") from None


def check(template: Mapping[str, Any]) -> list[str]:
    """The checks CloudFormation makes of a template before any change; returns the resources in
    dependency order."""
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for name, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(
                f"Template format error: [/Resources/{name}] Every Resources object must contain a Type "
                "member."
            )
    transforms = declared_transforms(template)
    unsupported = [t for t in transforms if t not in SUPPORTED_TRANSFORMS]
    if unsupported:
        raise TemplateError(
            f"Transform {unsupported[0]} is not supported by albfargate (macros do not run locally); "
            "deploy the processed template"
        )
    for section in ("Resources", "Outputs", "Conditions"):
        found = unknown_functions(template.get(section) or {}, FUNCTIONS)
        if found:
            supported = ", ".join(sorted(FUNCTIONS))
            raise TemplateError(
                f"Template format error: Encountered unsupported function: {found[0][1]} "
                f"Supported functions are: [{supported}]"
            )
    parameters = set((template.get("Parameters") or {}).keys())
    names = set(resources)
    known = names | parameters | PSEUDO_PARAMETERS
    for section in ("Resources", "Outputs"):
        body = template.get(section) or {}
        unresolved: list[str] = []
        for entry in body.values():
            if not isinstance(entry, dict):
                continue
            scanned = {k: v for k, v in entry.items() if k not in ("Metadata", "Type", "Condition")}
            found_refs = references(scanned)
            for ref in sorted(found_refs.refs):
                if ref not in known and ref not in unresolved:
                    unresolved.append(ref)
            for logical_id, _ in sorted(found_refs.attributes):
                if logical_id not in names:
                    raise TemplateError(
                        f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}"
                    )
            depends = entry.get("DependsOn") if section == "Resources" else None
            for dep in [depends] if isinstance(depends, str) else depends or ():
                if isinstance(dep, str) and dep not in names and dep not in unresolved:
                    unresolved.append(dep)
        if unresolved:
            raise TemplateError(
                f"Template format error: Unresolved resource dependencies [{', '.join(unresolved)}] in the "
                f"{section} block of the template"
            )
    try:
        return dependency_order(resources)
    except CircularDependencyError as exc:
        raise TemplateError(str(exc)) from None


def declared_transforms(template: Mapping[str, Any]) -> list[str]:
    raw = template.get("Transform")
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [t if isinstance(t, str) else str(t.get("Name", "")) for t in items if isinstance(t, str | dict)]


# ---- parameters -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenParameter:
    """A ``Parameters`` entry of a request."""

    key: str
    value: str | None = None
    use_previous: bool = False


def declared_parameters(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, decl in (template.get("Parameters") or {}).items():
        out[str(name)] = decl if isinstance(decl, dict) else {}
    return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _check_value(name: str, decl: Mapping[str, Any], value: str) -> None:
    ptype = str(decl.get("Type", "String"))
    allowed = decl.get("AllowedValues")
    if isinstance(allowed, list) and allowed:
        values = [v.strip() for v in value.split(",")] if ptype.startswith("List<") else [value]
        if any(v not in [to_text(a) for a in allowed] for v in values):
            raise TemplateError(f"Parameter '{name}' must be one of AllowedValues")
    pattern = decl.get("AllowedPattern")
    if isinstance(pattern, str) and re.fullmatch(pattern, value) is None:
        raise TemplateError(f"Parameter '{name}' must match pattern {pattern}")
    if ptype == "Number":
        number = _number(value)
        if number is None:
            raise TemplateError(f"Parameter '{name}' must be a number.")
        if "MinValue" in decl and number < float(decl["MinValue"]):
            raise TemplateError(
                f"Parameter '{name}' must be a number not less than {to_text(decl['MinValue'])}"
            )
        if "MaxValue" in decl and number > float(decl["MaxValue"]):
            raise TemplateError(
                f"Parameter '{name}' must be a number not greater than {to_text(decl['MaxValue'])}"
            )
    if "MinLength" in decl and len(value) < int(decl["MinLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at least {int(decl['MinLength'])} characters")
    if "MaxLength" in decl and len(value) > int(decl["MaxLength"]):
        raise TemplateError(f"Parameter '{name}' must contain at most {int(decl['MaxLength'])} characters")


def resolve_parameters(
    template: Mapping[str, Any],
    given: Sequence[GivenParameter],
    *,
    previous: Sequence[ParameterValue] | None = None,
    ssm: Callable[[str], str | None] = lambda name: None,
) -> list[ParameterValue]:
    """The effective parameter values of a deployment: given, else the previous value
    (``UsePreviousValue``), else the default; SSM-typed ones read through ``ssm`` (name -> value or
    None). Raises AWS's refusals."""
    declared = declared_parameters(template)
    unknown = [g.key for g in given if g.key not in declared]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    by_key = {g.key: g for g in given}
    before = {p.key: p for p in previous or ()}
    missing: list[str] = []
    out: list[ParameterValue] = []
    for name, decl in declared.items():
        g = by_key.get(name)
        value: str | None
        if g is not None and g.use_previous:
            if name not in before:
                raise TemplateError(
                    f"Invalid input for parameter key {name}. Cannot specify usePreviousValue as true for a "
                    "parameter key not in the previous template"
                )
            value = before[name].value
        elif g is not None and g.value is not None:
            value = g.value
        elif "Default" in decl:
            default = decl["Default"]
            value = ",".join(to_text(v) for v in default) if isinstance(default, list) else to_text(default)
        else:
            value = None
        if value is None:
            missing.append(name)
            continue
        out.append(ParameterValue(name, value, no_echo=_truthy(decl.get("NoEcho"))))
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    unfetched: list[str] = []
    for p in out:
        decl = declared[p.key]
        ptype = str(decl.get("Type", "String"))
        if ptype.startswith(SSM_PARAMETER_PREFIX):
            found = ssm(p.value)
            if found is None:
                unfetched.append(p.value)
            else:
                p.resolved = found
                continue
        _check_value(p.key, decl, p.value)
    if unfetched:
        raise TemplateError(
            f"Unable to fetch parameters [{','.join(unfetched)}] from parameter store for this account."
        )
    return out


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


# ---- capabilities -----------------------------------------------------------------------------------------


def required_capabilities(template: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """(capabilities, CapabilitiesReason) the template needs: CAPABILITY_IAM for IAM resources,
    CAPABILITY_NAMED_IAM when one has a custom name, CAPABILITY_AUTO_EXPAND for a transform."""
    iam: list[str] = []
    named = False
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("Type")
        if rtype in _IAM_TYPES:
            iam.append(str(rtype))
            name_prop = _IAM_TYPES[str(rtype)]
            props = resource.get("Properties") or {}
            if name_prop is not None and isinstance(props, dict) and props.get(name_prop) is not None:
                named = True
    caps: list[str] = []
    reason = None
    if iam:
        caps.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
        reason = f"The following resource(s) require capabilities: [{', '.join(sorted(set(iam)))}]"
    if declared_transforms(template):
        caps.append("CAPABILITY_AUTO_EXPAND")
    return caps, reason


def check_capabilities(template: Mapping[str, Any], given: Sequence[str]) -> None:
    needed, _ = required_capabilities(template)
    have = set(given)
    if "CAPABILITY_NAMED_IAM" in have:
        have.add("CAPABILITY_IAM")
    lacking = [c for c in needed if c not in have]
    if lacking:
        raise TemplateError(
            f"Requires capabilities : [{', '.join(lacking)}]", "InsufficientCapabilitiesException"
        )


# ---- summary --------------------------------------------------------------------------------------


def parameter_declarations(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``Parameters`` of GetTemplateSummary (ValidateTemplate uses a subset of the fields)."""
    out = []
    for name, decl in declared_parameters(template).items():
        entry: dict[str, Any] = {
            "ParameterKey": name,
            "ParameterType": str(decl.get("Type", "String")),
            "NoEcho": _truthy(decl.get("NoEcho")),
        }
        if "Default" in decl:
            default = decl["Default"]
            entry["DefaultValue"] = (
                ",".join(to_text(v) for v in default) if isinstance(default, list) else to_text(default)
            )
        if isinstance(decl.get("Description"), str):
            entry["Description"] = decl["Description"]
        allowed = decl.get("AllowedValues")
        if isinstance(allowed, list):
            entry["ParameterConstraints"] = {"AllowedValues": [to_text(a) for a in allowed]}
        out.append(entry)
    return out


def resource_types(template: Mapping[str, Any]) -> list[str]:
    seen: list[str] = []
    for resource in (template.get("Resources") or {}).values():
        rtype = resource.get("Type") if isinstance(resource, dict) else None
        if isinstance(rtype, str) and rtype not in seen:
            seen.append(rtype)
    return seen
