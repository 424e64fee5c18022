"""References to values known only at run time, and their substitution in text (pure).

- CloudFormation dynamic references, wherever they appear in a property's text:
  ``{{resolve:secretsmanager:<secret-id>[:SecretString[:<json-key>[:<version-stage>[:<version-id>]]]]}}``
  (``secret-id`` a name or a whole ARN; empty segments mean "not given") and
  ``{{resolve:ssm:<name or ARN>[:<version>]}}`` / ``{{resolve:ssm-secure:...}}``.
- The endpoint reference of a database, ``{{albfargate:endpoint:<stack>/<logical id>:<attribute>}}``
  (``albfargate.model.backing.endpoint_reference``).
- ECS ``ValueFrom`` (task ``Secrets``): a Secrets Manager ARN, whole or
  ``arn:...:secret:<name>:<json-key>:<version-stage>:<version-id>``; an SSM parameter ARN
  (``arn:...:parameter/<name>``); anything else is an SSM parameter name (ECS's rule for a value that is
  not an ARN).

:func:`substitute` replaces each reference through a callback; a reference that cannot be resolved
raises :class:`Unresolved` with the reason, so a placeholder never reaches a task."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from albfargate.model.backing import ENDPOINT_PREFIX


class Unresolved(Exception):
    """A reference has no value (yet); the message says why."""


class BadReference(ValueError):
    """A reference or ValueFrom that is not of any accepted form."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    secret_id: str  # a name, a partial ARN or a whole ARN
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


@dataclass(frozen=True, slots=True)
class ParameterRef:
    name: str  # a name (with its leading "/" for a hierarchy) or an ARN
    version: int | None = None
    #: the dynamic reference's service, ``ssm`` (String/StringList only, CloudFormation's rule) or
    #: ``ssm-secure`` (a SecureString); None for an ECS ValueFrom (any type)
    service: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointRef:
    key: str  # stack/logicalId of the database
    attribute: str  # Endpoint.Address | Endpoint.Port | ReadEndpoint.Address | ReadEndpoint.Port


Reference = SecretRef | ParameterRef | EndpointRef

_REFERENCE = re.compile(r"\{\{(resolve:[^{}]*|albfargate:endpoint:[^{}]*)\}\}")
_ARN_PARTS = 7  # arn:partition:service:region:account:resource-type:resource


def _opt(parts: list[str], i: int) -> str | None:
    return parts[i] if len(parts) > i and parts[i] != "" else None


def _split_arn(text: str) -> tuple[str, list[str]]:
    """A secret ARN's first seven colon parts, and the parts after them."""
    parts = text.split(":")
    if len(parts) < _ARN_PARTS or parts[5] != "secret" or not parts[6]:
        raise BadReference(f"not a Secrets Manager secret ARN: {text}")
    return ":".join(parts[:_ARN_PARTS]), parts[_ARN_PARTS:]


def parse_dynamic(body: str) -> Reference:
    """One reference between ``{{`` and ``}}``."""
    if body.startswith("albfargate:endpoint:"):
        key, sep, attribute = body[len("albfargate:endpoint:") :].rpartition(":")
        if not sep or not key:
            raise BadReference(f"bad endpoint reference {{{{{body}}}}}")
        return EndpointRef(key, attribute)
    service, _, rest = body[len("resolve:") :].partition(":")
    if service == "secretsmanager":
        if rest.startswith("arn:"):
            secret_id, tail = _split_arn(rest)
        else:
            secret_id, *tail = rest.split(":")
        if not secret_id:
            raise BadReference("{{resolve:secretsmanager:...}} needs a secret name or ARN")
        if len(tail) > 4:
            raise BadReference(f"too many segments in {{{{{body}}}}}")
        if tail and tail[0] not in ("", "SecretString"):
            raise BadReference(f"{{{{{body}}}}}: only SecretString can be resolved, not {tail[0]}")
        return SecretRef(secret_id, _opt(tail, 1), _opt(tail, 2), _opt(tail, 3))
    if service in ("ssm", "ssm-secure"):
        name, version = rest, None
        if rest.startswith("arn:"):
            parts = rest.split(":")
            if len(parts) == _ARN_PARTS and parts[6].isdigit():
                name, version = ":".join(parts[:6]), int(parts[6])
        else:
            head, sep, last = rest.rpartition(":")
            if sep and last.isdigit():
                name, version = head, int(last)
        if not name:
            raise BadReference(f"{{{{resolve:{service}:...}}}} needs a parameter name")
        return ParameterRef(name, version, service)
    raise BadReference(f"unknown dynamic reference {{{{{body}}}}}")


def references_in(text: str) -> list[Reference]:
    """Every reference in ``text``, in order."""
    return [parse_dynamic(m.group(1)) for m in _REFERENCE.finditer(text)]


def has_reference(text: str) -> bool:
    return "{{resolve:" in text or ENDPOINT_PREFIX in text


def substitute(text: str, resolve: Callable[[Reference], str]) -> str:
    """``text`` with every reference replaced by ``resolve(reference)`` (which raises Unresolved)."""
    if not has_reference(text):
        return text
    return _REFERENCE.sub(lambda m: resolve(parse_dynamic(m.group(1))), text)


def parse_value_from(value_from: str) -> SecretRef | ParameterRef:
    """An ECS ``ValueFrom``, in every form ECS accepts."""
    if not value_from:
        raise BadReference("ValueFrom is empty")
    if value_from.startswith("arn:"):
        parts = value_from.split(":")
        if len(parts) >= 6 and parts[2] == "secretsmanager":
            secret_id, tail = _split_arn(value_from)
            if len(tail) > 3:
                raise BadReference(
                    f"ValueFrom {value_from}: expected arn:...:secret:<name>:<json-key>:<version-stage>:"
                    "<version-id>"
                )
            return SecretRef(secret_id, _opt(tail, 0), _opt(tail, 1), _opt(tail, 2))
        if len(parts) >= 6 and parts[2] == "ssm" and parts[5].startswith("parameter"):
            return ParameterRef(value_from)
        raise BadReference(f"ValueFrom {value_from} is neither a Secrets Manager nor an SSM parameter ARN")
    return ParameterRef(value_from)


def parameter_name(name_or_arn: str) -> str:
    """An SSM parameter's name from a name or an ARN (``arn:...:parameter/a/b`` -> ``/a/b``,
    ``arn:...:parameter/x`` -> ``x``: a name with a "/" in it is a hierarchy and starts with "/")."""
    if not name_or_arn.startswith("arn:"):
        return name_or_arn
    resource = name_or_arn.split(":", 5)[5]
    path = resource[len("parameter") :]
    rest = path.lstrip("/")
    return "/" + rest if "/" in rest else rest


def json_field(secret_string: str, key: str, *, what: str) -> str:
    """A key of a secret's JSON value, as text (a JSON string as is, anything else as JSON)."""
    try:
        doc = json.loads(secret_string)
    except ValueError:
        raise Unresolved(f"{what} is not JSON, so it has no key {key}") from None
    if not isinstance(doc, dict) or key not in doc:
        raise Unresolved(f"{what} did not contain json key {key}")
    value = doc[key]
    return value if isinstance(value, str) else json.dumps(value)
