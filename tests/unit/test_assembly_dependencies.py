"""The resource dependency graph (assembly/dependencies.py) and the loader's refusal of a circular
template with CloudFormation's message (issue 12, item 10)."""

from __future__ import annotations

from typing import Any

import pytest

from albfargate.assembly import model_from_templates
from albfargate.assembly.dependencies import CircularDependencyError, dependencies, dependency_order
from albfargate.errors import AssemblyError


def r(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::SNS::Topic", "Properties": props}


def test_every_kind_of_reference_is_a_dependency() -> None:
    resources = {
        "A": r(),
        "B": r(X={"Ref": "A"}),
        "C": r(X={"Fn::GetAtt": ["B", "Arn"]}),
        "D": r(X={"Fn::GetAtt": "C.Arn"}),
        "E": r(X={"Fn::Sub": "arn:${A}:${D.Arn}:${AWS::Region}:${!Literal}"}),
        "F": r(X={"Fn::Sub": ["${A}-${Local}", {"Local": {"Ref": "B"}}]}),
        "G": {"Type": "AWS::SNS::Topic", "DependsOn": "A"},
        "H": {
            "Type": "AWS::SNS::Topic",
            "DependsOn": ["G", "Missing"],
            "Properties": {"P": {"Ref": "Param"}},
        },
        "I": r(X=[{"Fn::If": ["Cond", {"Ref": "H"}, {"Ref": "AWS::NoValue"}]}]),
        "J": {"Type": "AWS::SNS::Topic", "Metadata": {"Ref": "A"}, "Condition": "A"},
    }
    assert dependencies(resources) == {
        "A": (),
        "B": ("A",),
        "C": ("B",),
        "D": ("C",),
        "E": ("A", "D"),
        "F": ("A", "B"),
        "G": ("A",),
        "H": ("G",),
        "I": ("H",),
        "J": (),
    }
    assert dependency_order(resources) == ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]


def test_order_puts_dependencies_first_and_keeps_template_order_otherwise() -> None:
    resources = {"Service": r(T={"Ref": "TaskDef"}), "Cluster": r(), "TaskDef": r(C={"Ref": "Cluster"})}
    assert dependency_order(resources) == ["Cluster", "TaskDef", "Service"]


@pytest.mark.parametrize(
    ("resources", "listed", "cycle"),
    [
        ({"A": r(X={"Ref": "B"}), "B": r(X={"Fn::GetAtt": ["A", "Arn"]})}, ("A", "B"), {"A", "B"}),
        (
            {"A": {"Type": "T", "DependsOn": "B"}, "B": {"Type": "T", "DependsOn": ["A"]}},
            ("A", "B"),
            {"A", "B"},
        ),
        ({"A": r(X={"Fn::Sub": "${A.Arn}"})}, ("A",), {"A"}),  # a resource referring to itself
        (  # a three-resource cycle and a resource that depends on it, which cannot be created either
            {
                "Ok": r(),
                "A": r(X={"Ref": "B"}),
                "B": r(X={"Ref": "C"}),
                "C": r(X={"Ref": "A"}, Y={"Ref": "Ok"}),
                "Downstream": r(X={"Ref": "C"}),
            },
            ("A", "B", "C", "Downstream"),
            {"A", "B", "C"},
        ),
    ],
)
def test_circular_dependencies_are_named(
    resources: dict[str, Any], listed: tuple[str, ...], cycle: set[str]
) -> None:
    with pytest.raises(CircularDependencyError) as exc:
        dependency_order(resources)
    assert exc.value.resources == listed
    assert set(exc.value.cycle) == cycle
    # the cycle is a real one: each depends on the next, the last on the first
    graph = dependencies(resources)
    ring = exc.value.cycle
    assert all(ring[(i + 1) % len(ring)] in graph[n] for i, n in enumerate(ring))
    assert str(exc.value) == f"Circular dependency between resources: [{', '.join(listed)}]"


def test_a_long_chain_is_ordered_without_recursion() -> None:
    resources = {f"R{i}": r(X={"Ref": f"R{i - 1}"}) if i else r() for i in range(5000)}
    assert dependency_order(resources)[-1] == "R4999"
    resources["R0"] = r(X={"Ref": "R4999"})
    with pytest.raises(CircularDependencyError) as exc:
        dependency_order(resources)
    assert len(exc.value.cycle) == 5000


def test_the_loader_refuses_a_circular_template() -> None:
    template = {
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::GetAtt": ["Queue", "Arn"]}},
            },
            "Queue": {"Type": "AWS::SQS::Queue", "DependsOn": "Topic"},
        }
    }
    with pytest.raises(AssemblyError) as exc:
        model_from_templates([("App", template)])
    assert str(exc.value) == "stack App: Circular dependency between resources: [Topic, Queue]"
