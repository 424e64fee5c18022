"""The change-set planner (cfn/planner.py): Add / Modify / Remove, Replacement True / False / Conditional
from the replacement table (Conditional for a type albfargate does not know), the details' sources
(direct, parameter, resource reference, attribute) and the order of operations."""

from __future__ import annotations

from typing import Any

import pytest

from albfargate.cfn.planner import StackView, delete_order, plan, replaces, requires_recreation
from albfargate.cfn.templates import TemplateError

TG = "AWS::ElasticLoadBalancingV2::TargetGroup"


def tg(**props: Any) -> dict[str, Any]:
    base = {"Port": 80, "Protocol": "HTTP", "TargetType": "ip", "HealthCheckPath": "/"}
    base.update(props)
    return {"Type": TG, "Properties": base}


def view(resources: dict[str, Any], **kw: Any) -> StackView:
    return StackView(resources=resources, **kw)


def only(changes: Any, logical_id: str) -> Any:
    found = [c for c in changes if c.logical_id == logical_id]
    assert len(found) == 1, changes
    return found[0]


@pytest.mark.parametrize(
    ("prop", "value", "replacement", "recreation"),
    [
        ("Port", 8080, "True", "Always"),  # Update requires: Replacement
        ("Name", "renamed", "True", "Always"),
        ("HealthCheckPath", "/health", "False", "Never"),  # No interruption
        ("Tags", [{"Key": "a", "Value": "b"}], "False", "Never"),
    ],
)
def test_modify_replacement_from_the_table(prop: str, value: Any, replacement: str, recreation: str) -> None:
    old = view({"TG": tg()}, physical_ids={"TG": "arn:tg"})
    new = view({"TG": tg(**{prop: value})})
    change = only(plan(old, new).changes, "TG")
    assert change.action == "Modify"
    assert change.physical_id == "arn:tg"
    assert change.replacement == replacement
    (detail,) = change.details
    assert detail.requires_recreation == recreation
    assert detail.change_source == "DirectModification"
    assert detail.evaluation == "Static"
    assert change.scope == (("Tags",) if prop == "Tags" else ("Properties",))


def test_a_type_not_in_the_table_is_conditional() -> None:
    old = view({"R": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/"}}})
    new = view({"R": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/x/"}}})
    change = only(plan(old, new).changes, "R")
    assert change.replacement == "Conditional"
    assert change.details[0].requires_recreation == "Conditionally"
    assert requires_recreation("AWS::IAM::Role", "Path") == "Conditionally"
    assert replaces("AWS::IAM::Role", ["Path"]) is None
    assert replaces(TG, ["Port"]) is True and replaces(TG, ["Matcher"]) is False


def test_add_and_remove_in_dependency_order() -> None:
    old = view(
        {
            "A": tg(),
            "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "A"}}},
            "C": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
        },
        physical_ids={"A": "a", "B": "b", "C": "c"},
    )
    new = view(
        {
            "A": tg(),
            "E": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "D"}}},
            "D": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "A"}}},
        }
    )
    p = plan(old, new)
    assert [(c.action, c.logical_id) for c in p.changes] == [
        ("Add", "D"),
        ("Add", "E"),
        ("Remove", "C"),
        ("Remove", "B"),
    ]
    assert p.create_or_update == ("A", "D", "E")
    assert p.delete == ("C", "B")
    remove = only(p.changes, "C")
    assert remove.physical_id == "c" and remove.replacement is None


def test_a_new_stack_adds_everything() -> None:
    p = plan(None, view({"A": tg(), "B": {"Type": "AWS::SNS::Topic"}}))
    assert [(c.action, c.logical_id, c.replacement) for c in p.changes] == [
        ("Add", "A", None),
        ("Add", "B", None),
    ]


def test_parameter_reference() -> None:
    resources = {"TG": tg(Port={"Ref": "P"})}
    old = view(resources, parameters={"P": "80"})
    new = view(resources, parameters={"P": "81"})
    change = only(plan(old, new).changes, "TG")
    (detail,) = change.details
    assert (detail.change_source, detail.causing_entity, detail.evaluation) == (
        "ParameterReference",
        "P",
        "Static",
    )
    assert change.replacement == "True"  # Port requires replacement and the value is known to change


def test_the_same_parameter_value_is_no_change() -> None:
    resources = {"TG": tg(Port={"Ref": "P"})}
    p = plan(view(resources, parameters={"P": "80"}), view(resources, parameters={"P": "80"}))
    assert p.changes == () and p.empty


def test_a_replaced_resource_changes_what_refers_to_it_and_an_attribute_may() -> None:
    resources_old = {
        "TG": tg(),
        "L": {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {"Actions": [{"Ref": "TG"}]},
        },
        "O": {"Type": "AWS::SNS::Topic", "Properties": {"Name": {"Fn::GetAtt": ["TG", "TargetGroupName"]}}},
    }
    resources_new = dict(resources_old, TG=tg(Port=81))
    changes = plan(view(resources_old), view(resources_new)).changes
    rule = only(changes, "L")
    assert rule.replacement == "False"  # Actions update in place
    (d,) = rule.details
    assert (d.change_source, d.causing_entity, d.evaluation) == ("ResourceReference", "TG", "Static")
    topic = only(changes, "O")
    (d,) = topic.details
    assert (d.change_source, d.causing_entity, d.evaluation) == (
        "ResourceAttribute",
        "TG.TargetGroupName",
        "Dynamic",
    )
    assert topic.replacement == "Conditional"


def test_metadata_and_policies_are_their_own_scope() -> None:
    old = view({"TG": {**tg(), "Metadata": {"a": 1}}})
    new = view({"TG": {**tg(), "Metadata": {"a": 2}, "DeletionPolicy": "Retain"}})
    change = only(plan(old, new).changes, "TG")
    assert change.scope == ("Metadata", "DeletionPolicy")
    assert change.replacement == "False"


def test_a_changed_resource_type_is_refused() -> None:
    with pytest.raises(TemplateError) as err:
        plan(view({"X": tg()}), view({"X": {"Type": "AWS::SNS::Topic"}}))
    assert err.value.message == (
        "Update of resource type is not permitted. The new template modifies resource type of the following "
        "resources: [X]"
    )


def test_outputs_only_change_is_not_empty() -> None:
    resources = {"TG": tg()}
    p = plan(view(resources, outputs={"A": {"Value": "1"}}), view(resources, outputs={"A": {"Value": "2"}}))
    assert p.changes == () and p.outputs_changed and not p.empty


def test_delete_order_is_reverse_dependency_order() -> None:
    resources = {
        "C": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
        "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "A"}}},
        "A": {"Type": "AWS::SNS::Topic"},
    }
    assert delete_order(resources) == ["C", "B", "A"]


def test_include_property_values_before_and_after() -> None:
    old = view({"TG": tg()}, before={"TG": {"Port": 80, "Protocol": "HTTP"}})
    change = only(plan(old, view({"TG": tg(HealthCheckPath="/h")})).changes, "TG")
    (detail,) = change.details
    assert (detail.before, detail.after, detail.change_type) == ("/", "/h", "Modify")
    assert change.before == {"Port": 80, "Protocol": "HTTP"}
    assert change.after["HealthCheckPath"] == "/h"
