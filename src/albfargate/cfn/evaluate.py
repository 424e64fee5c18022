"""A stack's template read through the assembly (the only code that knows CloudFormation intrinsics):
which resources are active (their conditions), one resource's resolved properties, physical id,
attributes and model objects, the outputs and exports -- with what the engine recorded of the resources
that exist (physical ids, attributes, replacement generations) and the exports of the other stacks.

Pure: templates and records in, values out; failures are :class:`EvaluationError` with the message
CloudFormation would give."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from albfargate.assembly import registry
from albfargate.assembly.dependencies import references
from albfargate.assembly.intrinsics import NO_VALUE, IntrinsicError, to_text
from albfargate.assembly.loader import StackScope
from albfargate.cfn.hooks import apply_item_hooks
from albfargate.cfn.model import Output, ParameterValue, ResourceRecord
from albfargate.errors import AssemblyError
from albfargate.model import NotEmulated


class EvaluationError(Exception):
    """A template value could not be evaluated (the message names where and why)."""


class RecordingExports(Mapping[str, Any]):
    """The exports of the other stacks; remembers which names were read (the stack's imports)."""

    def __init__(self, exports: Mapping[str, Any]) -> None:
        self._exports = dict(exports)
        self.used: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        value = self._exports[name]
        self.used.add(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._exports)

    def __len__(self) -> int:
        return len(self._exports)


@dataclass
class StackContext:
    """Everything a template is read with: the stack's name and id, its parameter values, the records of
    its resources that exist, the exports of the other stacks."""

    stack_name: str
    stack_id: str
    template: Mapping[str, Any]
    parameters: Sequence[ParameterValue] = ()
    records: Mapping[str, ResourceRecord] = field(default_factory=dict)
    exports: RecordingExports = field(default_factory=lambda: RecordingExports({}))
    generations: Mapping[str, int] = field(default_factory=dict)  # overrides the records' (replacements)

    def scope(self) -> StackScope:
        """A fresh scope (nothing cached from an earlier step)."""
        generations = {k: r.generation for k, r in self.records.items()}
        generations.update(self.generations)
        physical = {k: r.physical_id for k, r in self.records.items() if r.physical_id is not None}
        attributes = {k: dict(r.attributes) for k, r in self.records.items() if r.attributes}
        for k in self.generations:  # a resource being replaced gets its new ids, not the recorded ones
            physical.pop(k, None)
            attributes.pop(k, None)
        try:
            return StackScope(
                self.stack_name,
                self.template,
                exports=self.exports,
                parameter_values={p.key: p.value for p in self.parameters},
                stack_id=self.stack_id,
                physical_ids=physical,
                attributes=attributes,
                seed_suffixes={k: f"#{g}" for k, g in generations.items() if g},
                ssm_values={p.value: p.resolved for p in self.parameters if p.resolved is not None},
            )
        except AssemblyError as exc:
            raise EvaluationError(_message(exc)) from None


def _message(exc: Exception) -> str:
    text = str(exc)
    # "stack S, resource R, property P: message" -> "Template error: resource R, property P: message"
    if text.startswith("stack "):
        text = text.split(", ", 1)[1] if ", " in text else text.split(": ", 1)[-1]
    return f"Template error: {text}"


def active_resources(ctx: StackContext) -> dict[str, dict[str, Any]]:
    """The resources the stack creates: those without a ``Condition`` or whose condition holds."""
    scope = ctx.scope()
    out: dict[str, dict[str, Any]] = {}
    try:
        for logical_id, resource in scope.resources.items():
            if scope.active(logical_id):
                out[logical_id] = dict(resource)
    except AssemblyError as exc:
        raise EvaluationError(_message(exc)) from None
    return out


@dataclass(frozen=True)
class Evaluated:
    """One resource read from the template: its resolved properties, the physical id the assembly gives
    it, the model objects its converter makes (empty for a type it does not convert)."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_id: str
    items: tuple[object, ...]
    template: dict[str, Any]
    scope: StackScope

    def attribute(self, name: str) -> Any:
        try:
            return registry.get_att(self.scope.context(self.logical_id), name)
        except (AssemblyError, IntrinsicError) as exc:
            raise EvaluationError(_message(exc)) from None


def evaluate(ctx: StackContext, logical_id: str) -> Evaluated:
    """Resolve one resource (its dependencies must have their records, or deterministic ids)."""
    scope = ctx.scope()
    try:
        rc = scope.context(logical_id)
        properties = rc.resolved_properties()
        physical = registry.ref(rc)
        converted = [i for i in registry.convert(rc, rc.type) if not isinstance(i, NotEmulated)]
    except AssemblyError as exc:
        raise EvaluationError(_message(exc)) from None
    resource = scope.resources[logical_id]
    items = [apply_item_hooks(i, resource) for i in converted]
    return Evaluated(
        logical_id=logical_id,
        type=rc.type,
        properties=properties,
        physical_id=to_text(physical) if not isinstance(physical, str) else physical,
        items=tuple(items),
        template=dict(scope.resources[logical_id]),
        scope=scope,
    )


def referenced_attributes(template: Mapping[str, Any], logical_id: str) -> list[str]:
    """Every attribute of ``logical_id`` the template reads with ``Fn::GetAtt`` (resources and outputs),
    so the engine records them when it makes the resource."""
    found = references({k: template.get(k) for k in ("Resources", "Outputs")}).attributes
    return sorted(att for name, att in found if name == logical_id)


def attributes_of(ctx: StackContext, evaluated: Evaluated, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes to record for a resource: the provider's, plus the assembly's for every other one
    the template reads."""
    out = dict(overrides)
    for name in referenced_attributes(ctx.template, evaluated.logical_id):
        if name not in out:
            out[name] = evaluated.attribute(name)
    return out


def outputs(ctx: StackContext) -> list[Output]:
    """The stack's ``Outputs`` (conditions honoured), values as strings (lists joined with commas)."""
    scope = ctx.scope()
    out: list[Output] = []
    for key, output in (ctx.template.get("Outputs") or {}).items():
        if not isinstance(output, dict):
            continue
        where = f"Outputs.{key}"
        try:
            if "Condition" in output and not scope.resolver.condition(output["Condition"], where):
                continue
            value = scope.resolver.resolve(output.get("Value"), f"{where}.Value")
            export = (
                scope.resolver.resolve(output["Export"], f"{where}.Export") if "Export" in output else None
            )
            description = output.get("Description")
        except IntrinsicError as exc:
            raise EvaluationError(f"Template error: {exc.path}: {exc.message}") from None
        except AssemblyError as exc:
            raise EvaluationError(_message(exc)) from None
        if value is NO_VALUE or value is None:
            raise EvaluationError(
                f"Template format error: Output {key} is malformed. The Value field is required."
            )
        text = ",".join(to_text(v) for v in value) if isinstance(value, list) else _as_text(value)
        export_name = export.get("Name") if isinstance(export, dict) else None
        out.append(
            Output(
                key=str(key),
                value=text,
                description=description if isinstance(description, str) else None,
                export_name=to_text(export_name) if export_name is not None else None,
            )
        )
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return to_text(value)


def properties_text(properties: Mapping[str, Any]) -> str:
    """``ResourceProperties`` of an event: the resolved properties as JSON."""
    return json.dumps(properties, separators=(",", ":"), sort_keys=False, default=str)


def imports_of(template: Mapping[str, Any]) -> set[str]:
    """The literal ``Fn::ImportValue`` names of a template."""
    return references({k: template.get(k) for k in ("Resources", "Outputs", "Conditions")}).imports


def missing_imports(template: Mapping[str, Any], exports: Mapping[str, Any]) -> list[str]:
    return sorted(name for name in imports_of(template) if name not in exports)


def is_emulated_type(resource_type: str) -> bool:
    return resource_type in registry.table()
