"""Reading one CloudFormation template file: JSON, or YAML with the short-form intrinsic tags
(``!Ref``, ``!Sub``, ``!GetAtt`` ...), turned into the long JSON form (``{"Ref": ...}``,
``{"Fn::GetAtt": [...]}``) so the resolver only ever sees one shape.

Owns: file decoding and the shape check of the top level (a mapping with ``Resources`` a mapping)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from albfargate.errors import AssemblyError

# Short-form tag -> long-form key. ``!GetAtt`` and ``!Condition`` have their own constructors below.
_FN_TAGS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "Length",
    "ToJsonString",
    "Contains",
)


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation's tags and keeps dates as strings
    (``AWSTemplateFormatVersion: 2010-09-09`` must stay the string CloudFormation reads)."""


def _node_value(loader: _CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _fn(key: str) -> Any:
    def construct(loader: _CfnLoader, node: yaml.Node) -> Any:
        return {key: _node_value(loader, node)}

    return construct


def _ref(loader: _CfnLoader, node: yaml.Node) -> Any:
    return {"Ref": _node_value(loader, node)}


def _condition(loader: _CfnLoader, node: yaml.Node) -> Any:
    return {"Condition": _node_value(loader, node)}


def _get_att(loader: _CfnLoader, node: yaml.Node) -> Any:
    value = _node_value(loader, node)
    if isinstance(value, str):
        # "Resource.Attribute" -- the attribute may itself contain dots (e.g. Endpoint.Address).
        head, _, tail = value.partition(".")
        return {"Fn::GetAtt": [head, tail]}
    return {"Fn::GetAtt": value}


def _timestamp_as_string(loader: _CfnLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _name in _FN_TAGS:
    _CfnLoader.add_constructor(f"!{_name}", _fn(f"Fn::{_name}"))
_CfnLoader.add_constructor("!Ref", _ref)
_CfnLoader.add_constructor("!GetAtt", _get_att)
_CfnLoader.add_constructor("!Condition", _condition)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def parse_template_text(text: str, *, source: str) -> dict[str, Any]:
    """Parse a template given as text (JSON first, then YAML); ``source`` names it in errors."""
    stripped = text.lstrip()
    data: Any
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssemblyError(f"template {source}: invalid JSON: {exc}") from exc
    else:
        try:
            data = yaml.load(text, Loader=_CfnLoader)
        except yaml.YAMLError as exc:
            raise AssemblyError(f"template {source}: invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AssemblyError(f"template {source}: the top level must be a mapping")
    for section in ("Resources", "Parameters", "Conditions", "Mappings", "Outputs"):
        if section in data and data[section] is not None and not isinstance(data[section], dict):
            raise AssemblyError(f"template {source}: section {section} must be a mapping")
    return data


def read_template(path: Path) -> dict[str, Any]:
    """Read a template file (JSON or YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssemblyError(f"cannot read template {path}: {exc.strerror or exc}") from exc
    return parse_template_text(text, source=str(path))
