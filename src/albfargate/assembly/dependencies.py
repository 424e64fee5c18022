"""The dependency graph of a template's resources, as CloudFormation builds it before it creates any.

Owns: which resources a resource depends on (:func:`dependencies`: every ``Ref`` and ``Fn::GetAtt`` to
another resource, every ``${Name}`` / ``${Name.Attribute}`` in ``Fn::Sub``, and ``DependsOn``), the order
in which the resources can be created (:func:`dependency_order`: each one after everything it depends
on), and the error for a template that has no such order (:class:`CircularDependencyError`, whose
message is CloudFormation's: ``Circular dependency between resources: [A, B]``).

Pure: plain template mappings in, names out. The assembly reader rejects a circular template with it;
a CloudFormation engine can order resource creation with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CircularDependencyError",
    "References",
    "dependencies",
    "dependency_order",
    "references",
    "unknown_functions",
]

# Resource attributes that hold no reference CloudFormation orders by (Type and Condition are names,
# Metadata is not resolved, the policies are words).
_NOT_SCANNED = frozenset(
    {"Type", "Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy"}
)
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class CircularDependencyError(ValueError):
    """The resources cannot be ordered. ``resources``: every resource that cannot be created because it
    is on a cycle or depends on one (in template order, as CloudFormation lists them); ``cycle``: one
    cycle among them, each resource depending on the next and the last on the first."""

    def __init__(self, resources: tuple[str, ...], cycle: tuple[str, ...]) -> None:
        self.resources = resources
        self.cycle = cycle
        super().__init__(f"Circular dependency between resources: [{', '.join(resources)}]")


def _references(value: Any, names: frozenset[str], out: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, names, out)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            if isinstance(arg, str) and arg in names:
                out.add(arg)
            return
        if key == "Fn::GetAtt":
            target: Any = None
            if isinstance(arg, list) and arg:
                target = arg[0]
            elif isinstance(arg, str):  # the "Name.Attribute" form
                target = arg.split(".", 1)[0]
            if isinstance(target, str) and target in names:
                out.add(target)
            if isinstance(arg, list):  # the attribute name can itself be an intrinsic
                _references(arg[1:], names, out)
            return
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
            local = frozenset(variables) if isinstance(variables, dict) else frozenset()
            if isinstance(text, str):
                for match in _SUB_VARIABLE.finditer(text):
                    name = match.group(1).split(".", 1)[0].strip()
                    if name in names and name not in local:
                        out.add(name)
            _references(variables, names, out)
            return
    for item in value.values():
        _references(item, names, out)


@dataclass
class References:
    """What a template value names: ``refs`` every name of a ``Ref`` or ``${Name}`` (resources,
    parameters, pseudo parameters alike), ``attributes`` every ``(logical id, attribute)`` of an
    ``Fn::GetAtt`` or ``${Name.Attribute}``, ``imports`` every literal ``Fn::ImportValue`` name."""

    refs: set[str] = field(default_factory=set)
    attributes: set[tuple[str, str]] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)


def _scan(value: Any, out: References, local: frozenset[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _scan(item, out, local)
        return
    if not isinstance(value, dict):
        return
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            if isinstance(arg, str):
                out.refs.add(arg)
            return
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                head, _, tail = arg.partition(".")
                out.attributes.add((head, tail))
            elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
                if isinstance(arg[1], str):
                    out.attributes.add((arg[0], arg[1]))
                else:
                    out.refs.add(arg[0])  # an attribute chosen at run time: the resource is named
                    _scan(arg[1], out, local)
            return
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
            names = local | (frozenset(variables) if isinstance(variables, dict) else frozenset())
            if isinstance(text, str):
                for match in _SUB_VARIABLE.finditer(text):
                    name = match.group(1).strip()
                    head, dot, tail = name.partition(".")
                    if head in names:
                        continue
                    if dot and not head.startswith("AWS::"):
                        out.attributes.add((head, tail))
                    else:
                        out.refs.add(name)
            else:
                _scan(text, out, local)
            _scan(variables, out, local)
            return
        if key == "Fn::ImportValue" and isinstance(arg, str):
            out.imports.add(arg)
            return
    for item in value.values():
        _scan(item, out, local)


def references(value: Any) -> References:
    """Every name ``value`` refers to (see :class:`References`), at any depth."""
    out = References()
    _scan(value, out, frozenset())
    return out


def unknown_functions(value: Any, known: Iterable[str]) -> list[tuple[str, str]]:
    """``(path, name)`` of every ``Fn::``-prefixed key of a one-key mapping that is not in ``known``,
    in document order (CloudFormation refuses such a template before it changes anything)."""
    names = frozenset(known)
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, dict):
            if len(node) == 1:
                ((key, _),) = node.items()
                if isinstance(key, str) and key.startswith("Fn::") and key not in names:
                    found.append((path, key))
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))

    walk(value, "")
    return found


def dependencies(resources: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """For each resource (in template order), the other resources it depends on, in template order.
    A resource that refers to itself depends on itself (CloudFormation rejects that too). References to
    names that are not resources (parameters, pseudo parameters, unknown names) are not dependencies."""
    names = frozenset(resources)
    order = {name: i for i, name in enumerate(resources)}
    out: dict[str, tuple[str, ...]] = {}
    for name, resource in resources.items():
        found: set[str] = set()
        for key, value in resource.items():
            if key not in _NOT_SCANNED:
                _references(value, names, found)
        depends_on = resource.get("DependsOn")
        for dep in [depends_on] if isinstance(depends_on, str) else depends_on or ():
            if isinstance(dep, str) and dep in names:
                found.add(dep)
        out[name] = tuple(sorted(found, key=order.__getitem__))
    return out


def _find_cycle(graph: Mapping[str, tuple[str, ...]], among: Iterable[str]) -> tuple[str, ...]:
    """One cycle in ``graph`` restricted to ``among`` (every node of which is on a cycle or leads to
    one): walk dependencies until a node repeats (iteratively, any size)."""
    left = set(among)
    start = next(n for n in graph if n in left)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(d for d in graph[node] if d in left)
    return tuple(path[seen[node] :])


def dependency_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The resources in an order CloudFormation could create them: each after every resource it depends
    on; among those ready at the same time, template order. Raises :class:`CircularDependencyError`
    when some cannot be ordered."""
    graph = dependencies(resources)
    waiting = {name: len(set(deps)) for name, deps in graph.items()}
    dependents: dict[str, list[str]] = {name: [] for name in graph}
    for name, deps in graph.items():
        for dep in set(deps):
            dependents[dep].append(name)
    position = {name: i for i, name in enumerate(graph)}
    ready = sorted((n for n, count in waiting.items() if count == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        released = []
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                released.append(dependent)
        if released:
            ready = sorted([*ready, *released], key=position.__getitem__)
    if len(order) < len(graph):
        done = set(order)
        stuck = tuple(n for n in graph if n not in done)
        raise CircularDependencyError(stuck, _find_cycle(graph, stuck))
    return order
