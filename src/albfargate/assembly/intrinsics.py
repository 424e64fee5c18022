"""CloudFormation intrinsic functions and conditions, resolved to local values (pure).

Owns: ``Ref`` (pseudo parameters, parameters, resources via a callback), ``Fn::GetAtt``, ``Fn::Join``,
``Fn::Sub`` (both forms), ``Fn::Select``, ``Fn::Split``, ``Fn::If`` and the ``Conditions`` section
(``Fn::Equals``, ``Fn::And``, ``Fn::Or``, ``Fn::Not``, ``Condition``), ``Fn::FindInMap`` (with the
``AWS::LanguageExtensions`` default value), ``Fn::GetAZs``, ``Fn::ImportValue`` (via a callback),
``Fn::Base64``, ``Fn::Cidr``, ``Fn::Length`` and ``Fn::ToJsonString``.

Errors are :class:`IntrinsicError` carrying the property path (``Properties.Subnets[0]``); the loader adds
the stack and the resource. ``AWS::NoValue`` removes the list item or mapping key that holds it."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from albfargate.model import ids


class IntrinsicError(Exception):
    """An intrinsic could not be resolved; ``path`` is where in the template (``Properties.X[0]``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class _NoValue:
    """The value of ``{"Ref": "AWS::NoValue"}``: removed from the list or mapping that holds it."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

FUNCTIONS = frozenset(
    {
        "Ref",
        "Condition",
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::Sub",
        "Fn::Select",
        "Fn::Split",
        "Fn::If",
        "Fn::Equals",
        "Fn::And",
        "Fn::Or",
        "Fn::Not",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::ImportValue",
        "Fn::Base64",
        "Fn::Cidr",
        "Fn::Length",
        "Fn::ToJsonString",
    }
)

# Availability zones of the local region (``Fn::GetAZs``), deterministic.
LOCAL_AZ_SUFFIXES = ("a", "b", "c")

RefResolver = Callable[[str, str], Any]  # (logical id, path) -> value; raises KeyError if unknown
AttResolver = Callable[[str, str, str], Any]  # (logical id, attribute, path) -> value; KeyError if unknown
ImportResolver = Callable[[str, str], Any]  # (export name, path) -> value; KeyError if no such export

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _no_resource(name: str, path: str) -> Any:
    raise KeyError(name)


def _no_att(name: str, attribute: str, path: str) -> Any:
    raise KeyError(name)


def _no_import(name: str, path: str) -> Any:
    raise KeyError(name)


def to_text(value: Any) -> str:
    """A scalar as CloudFormation turns it into a string (numbers as written, booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Resolver:
    """Resolves template values of one stack. ``parameters`` holds the effective parameter values;
    ``conditions`` and ``mappings`` are the raw template sections; resources, attributes and imports
    are looked up through callbacks so the caller decides what a resource's ``Ref`` is."""

    stack_name: str
    stack_id: str | None = None  # AWS::StackId when a CloudFormation engine assigned one
    parameters: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    resource_ref: RefResolver = _no_resource
    resource_att: AttResolver = _no_att
    import_value: ImportResolver = _no_import
    region: str = ids.LOCAL_REGION
    account: str = ids.LOCAL_ACCOUNT
    _condition_values: dict[str, bool] = field(default_factory=dict)
    _conditions_in_progress: set[str] = field(default_factory=set)

    # ---- pseudo parameters -------------------------------------------------------------------

    def pseudo(self, name: str) -> Any:
        """The value of a pseudo parameter, or KeyError."""
        if name == "AWS::Region":
            return self.region
        if name == "AWS::AccountId":
            return self.account
        if name == "AWS::Partition":
            return ids.PARTITION
        if name == "AWS::URLSuffix":
            return ids.URL_SUFFIX
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::StackId":
            if self.stack_id is not None:
                return self.stack_id
            uuid = ids.hex_id(f"stack/{self.stack_name}", 32)
            guid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
            return (
                f"arn:{ids.PARTITION}:cloudformation:{self.region}:{self.account}:"
                f"stack/{self.stack_name}/{guid}"
            )
        if name == "AWS::NotificationARNs":
            return []
        if name == "AWS::NoValue":
            return NO_VALUE
        raise KeyError(name)

    def azs(self) -> list[str]:
        return [f"{self.region}{s}" for s in LOCAL_AZ_SUFFIXES]

    # ---- conditions --------------------------------------------------------------------------

    def condition(self, name: Any, path: str) -> bool:
        """The boolean value of a named condition of the ``Conditions`` section."""
        if not isinstance(name, str):
            raise IntrinsicError(path, f"condition name must be a string, got {_kind(name)}")
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.conditions:
            raise IntrinsicError(path, f"unknown condition '{name}'")
        if name in self._conditions_in_progress:
            raise IntrinsicError(path, f"condition '{name}' refers to itself")
        self._conditions_in_progress.add(name)
        try:
            value = self.resolve(self.conditions[name], f"Conditions.{name}")
        finally:
            self._conditions_in_progress.discard(name)
        if not isinstance(value, bool):
            raise IntrinsicError(f"Conditions.{name}", f"condition '{name}' is not a boolean: {value!r}")
        self._condition_values[name] = value
        return value

    # ---- resolution --------------------------------------------------------------------------

    def resolve(self, value: Any, path: str) -> Any:
        """``value`` with every intrinsic replaced by its local value. ``NO_VALUE`` may be returned at
        the top level (the caller decides what an absent property means)."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                # {"Condition": "Name"} is the condition function; an IAM statement's Condition
                # block (a mapping) is plain data.
                if key in FUNCTIONS and (key != "Condition" or isinstance(arg, str)):
                    return self._call(key, arg, path)
                if key.startswith("Fn::"):
                    raise IntrinsicError(path, f"unknown intrinsic function '{key}'")
            out: dict[str, Any] = {}
            for k, v in value.items():
                r = self.resolve(v, f"{path}.{k}" if path else str(k))
                if r is not NO_VALUE:
                    out[k] = r
            return out
        if isinstance(value, list):
            items = [self.resolve(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        return value

    def _call(self, key: str, arg: Any, path: str) -> Any:
        here = f"{path}.{key}"
        handler = _HANDLERS[key]
        return handler(self, arg, path, here)

    # -- Ref / GetAtt / ImportValue

    def _ref(self, arg: Any, path: str, here: str) -> Any:
        name = self.resolve(arg, here)
        if not isinstance(name, str):
            raise IntrinsicError(path, f"Ref needs a name, got {_kind(name)}")
        try:
            return self.pseudo(name)
        except KeyError:
            pass
        if name in self.parameters:
            return self.parameters[name]
        try:
            return self.resource_ref(name, path)
        except KeyError:
            raise IntrinsicError(path, f"unresolvable Ref '{name}'") from None

    def _get_att(self, arg: Any, path: str, here: str) -> Any:
        if isinstance(arg, str):
            head, _, tail = arg.partition(".")
            arg = [head, tail]
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError(path, "Fn::GetAtt needs [logicalId, attributeName]")
        logical_id = arg[0]
        attribute = self.resolve(arg[1], f"{here}[1]")
        if not isinstance(logical_id, str) or not isinstance(attribute, str):
            raise IntrinsicError(path, "Fn::GetAtt needs [logicalId, attributeName] as strings")
        try:
            return self.resource_att(logical_id, attribute, path)
        except KeyError:
            raise IntrinsicError(path, f"unresolvable Fn::GetAtt '{logical_id}.{attribute}'") from None

    def _import_value(self, arg: Any, path: str, here: str) -> Any:
        name = self.resolve(arg, here)
        if not isinstance(name, str):
            raise IntrinsicError(path, f"Fn::ImportValue needs an export name, got {_kind(name)}")
        try:
            return self.import_value(name, path)
        except KeyError:
            raise IntrinsicError(
                path, f"Fn::ImportValue: no stack in the assembly exports '{name}'"
            ) from None

    # -- string functions

    def _join(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError(path, "Fn::Join needs [delimiter, [values]]")
        delimiter = self.resolve(arg[0], f"{here}[0]")
        items = self.resolve(arg[1], f"{here}[1]")
        if not isinstance(delimiter, str):
            raise IntrinsicError(path, f"Fn::Join delimiter must be a string, got {_kind(delimiter)}")
        if not isinstance(items, list):
            raise IntrinsicError(path, f"Fn::Join needs a list of values, got {_kind(items)}")
        parts = []
        for i, item in enumerate(items):
            if isinstance(item, dict | list):
                raise IntrinsicError(f"{here}[1][{i}]", f"Fn::Join cannot join a {_kind(item)}")
            parts.append(to_text(item))
        return delimiter.join(parts)

    def _sub(self, arg: Any, path: str, here: str) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise IntrinsicError(path, "Fn::Sub needs a string or [string, {variables}]")
            template = self.resolve(arg[0], f"{here}[0]")
            variables = {k: self.resolve(v, f"{here}[1].{k}") for k, v in arg[1].items()}
        else:
            template = self.resolve(arg, here)
        if not isinstance(template, str):
            raise IntrinsicError(path, f"Fn::Sub needs a string, got {_kind(template)}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif "." in name:
                head, _, tail = name.partition(".")
                value = self._get_att([head, tail], path, here)
            else:
                value = self._ref(name, path, here)
            if isinstance(value, dict | list) or value is NO_VALUE:
                raise IntrinsicError(path, f"Fn::Sub variable '{name}' is not a string: {_kind(value)}")
            return to_text(value)

        return _SUB_VAR.sub(replace, template)

    def _select(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError(path, "Fn::Select needs [index, [values]]")
        index = self.resolve(arg[0], f"{here}[0]")
        items = self.resolve(arg[1], f"{here}[1]")
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise IntrinsicError(path, f"Fn::Select index must be a number, got {index!r}") from None
        if not isinstance(items, list):
            raise IntrinsicError(path, f"Fn::Select needs a list, got {_kind(items)}")
        if not 0 <= i < len(items):
            raise IntrinsicError(path, f"Fn::Select index {i} out of range for {len(items)} values")
        return items[i]

    def _split(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError(path, "Fn::Split needs [delimiter, string]")
        delimiter = self.resolve(arg[0], f"{here}[0]")
        source = self.resolve(arg[1], f"{here}[1]")
        if not isinstance(delimiter, str) or not delimiter:
            raise IntrinsicError(path, "Fn::Split delimiter must be a non-empty string")
        if not isinstance(source, str):
            raise IntrinsicError(path, f"Fn::Split needs a string, got {_kind(source)}")
        return source.split(delimiter)

    def _base64(self, arg: Any, path: str, here: str) -> Any:
        value = self.resolve(arg, here)
        if isinstance(value, dict | list):
            raise IntrinsicError(path, f"Fn::Base64 needs a string, got {_kind(value)}")
        return base64.b64encode(to_text(value).encode()).decode("ascii")

    def _cidr(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            raise IntrinsicError(path, "Fn::Cidr needs [ipBlock, count, cidrBits]")
        block = self.resolve(arg[0], f"{here}[0]")
        count = self.resolve(arg[1], f"{here}[1]")
        bits = self.resolve(arg[2], f"{here}[2]")
        try:
            network = ipaddress.ip_network(str(block), strict=False)
            n, b = int(count), int(bits)
        except ValueError as exc:
            raise IntrinsicError(path, f"Fn::Cidr: {exc}") from None
        prefix = network.max_prefixlen - b
        if not 1 <= n <= 256 or b < 1 or prefix < network.prefixlen:
            raise IntrinsicError(path, f"Fn::Cidr cannot cut {n} /{prefix} blocks out of {network}")
        out: list[str] = []
        for subnet in network.subnets(new_prefix=prefix):
            out.append(str(subnet))
            if len(out) == n:
                break
        if len(out) < n:
            raise IntrinsicError(path, f"Fn::Cidr: {network} holds only {len(out)} /{prefix} blocks")
        return out

    def _get_azs(self, arg: Any, path: str, here: str) -> Any:
        region = self.resolve(arg, here)
        if region in ("", None):
            region = self.region
        if not isinstance(region, str):
            raise IntrinsicError(path, f"Fn::GetAZs needs a region name, got {_kind(region)}")
        return [f"{region}{s}" for s in LOCAL_AZ_SUFFIXES]

    def _find_in_map(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            raise IntrinsicError(path, "Fn::FindInMap needs [MapName, TopLevelKey, SecondLevelKey]")
        keys = [self.resolve(a, f"{here}[{i}]") for i, a in enumerate(arg[:3])]
        default: Any = NO_VALUE
        if len(arg) == 4:
            opt = arg[3]
            if not isinstance(opt, dict) or "DefaultValue" not in opt:
                raise IntrinsicError(path, "Fn::FindInMap's fourth argument must be {DefaultValue: ...}")
            default = opt["DefaultValue"]
        node: Any = self.mappings
        for key in keys:
            key_text = to_text(key) if not isinstance(key, dict | list) else None
            if not isinstance(node, dict) or key_text is None or key_text not in node:
                if default is not NO_VALUE:
                    return self.resolve(default, f"{here}[3].DefaultValue")
                names = ".".join(to_text(k) for k in keys)
                raise IntrinsicError(path, f"Fn::FindInMap: no mapping entry {names}")
            node = node[key_text]
        return self.resolve(node, f"Mappings.{'.'.join(to_text(k) for k in keys)}")

    def _length(self, arg: Any, path: str, here: str) -> Any:
        value = self.resolve(arg, here)
        if not isinstance(value, list):
            raise IntrinsicError(path, f"Fn::Length needs a list, got {_kind(value)}")
        return len(value)

    def _to_json_string(self, arg: Any, path: str, here: str) -> Any:
        value = self.resolve(arg, here)
        return json.dumps(value, separators=(",", ":"))

    # -- conditions

    def _if(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            raise IntrinsicError(path, "Fn::If needs [condition, valueIfTrue, valueIfFalse]")
        chosen = 1 if self.condition(arg[0], f"{here}[0]") else 2
        return self.resolve(arg[chosen], f"{here}[{chosen}]")

    def _equals(self, arg: Any, path: str, here: str) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            raise IntrinsicError(path, "Fn::Equals needs [value1, value2]")
        a = self.resolve(arg[0], f"{here}[0]")
        b = self.resolve(arg[1], f"{here}[1]")
        return _comparable(a) == _comparable(b)

    def _bool_args(self, key: str, arg: Any, here: str, path: str) -> list[bool]:
        if not isinstance(arg, list) or not 1 <= len(arg) <= 10:
            raise IntrinsicError(path, f"{key} needs a list of 1 to 10 conditions")
        out = []
        for i, item in enumerate(arg):
            value = self.resolve(item, f"{here}[{i}]")
            if not isinstance(value, bool):
                raise IntrinsicError(f"{here}[{i}]", f"{key} needs conditions, got {value!r}")
            out.append(value)
        return out

    def _and(self, arg: Any, path: str, here: str) -> Any:
        values = self._bool_args("Fn::And", arg, here, path)
        if len(values) < 2:
            raise IntrinsicError(path, "Fn::And needs 2 to 10 conditions")
        return all(values)

    def _or(self, arg: Any, path: str, here: str) -> Any:
        values = self._bool_args("Fn::Or", arg, here, path)
        if len(values) < 2:
            raise IntrinsicError(path, "Fn::Or needs 2 to 10 conditions")
        return any(values)

    def _not(self, arg: Any, path: str, here: str) -> Any:
        values = self._bool_args("Fn::Not", arg, here, path)
        if len(values) != 1:
            raise IntrinsicError(path, "Fn::Not needs exactly one condition")
        return not values[0]

    def _condition_ref(self, arg: Any, path: str, here: str) -> Any:
        return self.condition(arg, path)


def _comparable(value: Any) -> Any:
    """Fn::Equals compares as CloudFormation does: scalars by their string form."""
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return to_text(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if value is NO_VALUE:
        return "AWS::NoValue"
    if value is None:
        return "null"
    return type(value).__name__


_HANDLERS: dict[str, Callable[[Resolver, Any, str, str], Any]] = {
    "Ref": Resolver._ref,
    "Condition": Resolver._condition_ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Join": Resolver._join,
    "Fn::Sub": Resolver._sub,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::Equals": Resolver._equals,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Fn::Not": Resolver._not,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::ImportValue": Resolver._import_value,
    "Fn::Base64": Resolver._base64,
    "Fn::Cidr": Resolver._cidr,
    "Fn::Length": Resolver._length,
    "Fn::ToJsonString": Resolver._to_json_string,
}
