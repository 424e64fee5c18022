"""Every intrinsic function and condition form of assembly/intrinsics.py, as tables of cases, and each
error path (the message names the property path)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from albfargate.assembly.intrinsics import NO_VALUE, IntrinsicError, Resolver

RESOURCES = {
    "MyLB": "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/lb/0123456789abcdef"
}
ATTS = {("MyLB", "DNSName"): "lb-1.us-east-1.elb.amazonaws.com", ("MyLB", "SecurityGroups"): ["sg-1", "sg-2"]}
EXPORTS = {"Shared-VpcId": "vpc-123", "Shared-Subnets": "subnet-a,subnet-b"}


def _ref(name: str, path: str) -> Any:
    return RESOURCES[name]


def _att(name: str, attribute: str, path: str) -> Any:
    return ATTS[(name, attribute)]


def _import(name: str, path: str) -> Any:
    return EXPORTS[name]


def make() -> Resolver:
    return Resolver(
        stack_name="MyStack",
        parameters={"Env": "prod", "Port": 8080, "Names": ["a", "b", "c"], "Empty": ""},
        conditions={
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
            "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
            "ProdAndNotDev": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "NotDev"}]},
            "DevOrProd": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "IsProd"}]},
            "DevOrDev": {"Fn::Or": [{"Condition": "IsDev"}, {"Fn::Equals": ["x", "y"]}]},
            "NumberEquals": {"Fn::Equals": [{"Ref": "Port"}, "8080"]},
            "Loop": {"Fn::Not": [{"Condition": "Loop"}]},
            "NotBool": "yes",
        },
        mappings={
            "Sizes": {"prod": {"Cpu": 1024, "Zones": ["a", "b"]}, "dev": {"Cpu": 256}},
        },
        resource_ref=_ref,
        resource_att=_att,
        import_value=_import,
    )


CASES: list[tuple[str, Any, Any]] = [
    # Ref: pseudo parameters, parameters, resources
    ("Ref region", {"Ref": "AWS::Region"}, "us-east-1"),
    ("Ref account", {"Ref": "AWS::AccountId"}, "000000000000"),
    ("Ref partition", {"Ref": "AWS::Partition"}, "aws"),
    ("Ref stack name", {"Ref": "AWS::StackName"}, "MyStack"),
    ("Ref url suffix", {"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
    ("Ref notification arns", {"Ref": "AWS::NotificationARNs"}, []),
    ("Ref parameter", {"Ref": "Env"}, "prod"),
    ("Ref list parameter", {"Ref": "Names"}, ["a", "b", "c"]),
    ("Ref resource", {"Ref": "MyLB"}, RESOURCES["MyLB"]),
    # GetAtt both forms
    ("GetAtt list", {"Fn::GetAtt": ["MyLB", "DNSName"]}, "lb-1.us-east-1.elb.amazonaws.com"),
    ("GetAtt dotted", {"Fn::GetAtt": "MyLB.DNSName"}, "lb-1.us-east-1.elb.amazonaws.com"),
    ("GetAtt list value", {"Fn::GetAtt": ["MyLB", "SecurityGroups"]}, ["sg-1", "sg-2"]),
    # Join
    ("Join", {"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}, "a-prod-3"),
    ("Join empty", {"Fn::Join": ["", []]}, ""),
    ("Join of a list value", {"Fn::Join": [",", {"Ref": "Names"}]}, "a,b,c"),
    ("Join booleans", {"Fn::Join": [",", [True, False]]}, "true,false"),
    # Sub, string form and list form
    ("Sub pseudo", {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::AccountId}"}, "arn:aws:s3:::000000000000"),
    ("Sub param and att", {"Fn::Sub": "${Env}/${MyLB.DNSName}"}, "prod/lb-1.us-east-1.elb.amazonaws.com"),
    ("Sub literal", {"Fn::Sub": "${!Literal}-${Env}"}, "${Literal}-prod"),
    ("Sub variables", {"Fn::Sub": ["${A}-${Env}", {"A": {"Ref": "Port"}}]}, "8080-prod"),
    ("Sub variable shadows", {"Fn::Sub": ["${Env}", {"Env": "x"}]}, "x"),
    ("Sub no vars", {"Fn::Sub": "plain"}, "plain"),
    # Select, Split
    ("Select", {"Fn::Select": [1, ["a", "b", "c"]]}, "b"),
    ("Select string index", {"Fn::Select": ["0", {"Ref": "Names"}]}, "a"),
    ("Split", {"Fn::Split": [",", "a,b,,c"]}, ["a", "b", "", "c"]),
    ("Select of Split", {"Fn::Select": [2, {"Fn::Split": ["/", "x/y/z"]}]}, "z"),
    # If + conditions
    ("If true", {"Fn::If": ["IsProd", "p", "d"]}, "p"),
    ("If false", {"Fn::If": ["IsDev", "p", "d"]}, "d"),
    ("If NoValue in list", [1, {"Fn::If": ["IsDev", 2, {"Ref": "AWS::NoValue"}]}, 3], [1, 3]),
    ("If NoValue in map", {"A": 1, "B": {"Fn::If": ["IsDev", 2, {"Ref": "AWS::NoValue"}]}}, {"A": 1}),
    ("If Not", {"Fn::If": ["NotDev", "yes", "no"]}, "yes"),
    ("If And", {"Fn::If": ["ProdAndNotDev", "yes", "no"]}, "yes"),
    ("If Or", {"Fn::If": ["DevOrProd", "yes", "no"]}, "yes"),
    ("If Or false", {"Fn::If": ["DevOrDev", "yes", "no"]}, "no"),
    ("Equals number vs string", {"Fn::If": ["NumberEquals", "yes", "no"]}, "yes"),
    ("Equals inline", {"Fn::Equals": ["a", "a"]}, True),
    ("And inline", {"Fn::And": [{"Fn::Equals": [1, 1]}, {"Fn::Equals": [1, 2]}]}, False),
    ("Or inline", {"Fn::Or": [{"Fn::Equals": [1, 1]}, {"Fn::Equals": [1, 2]}]}, True),
    ("Not inline", {"Fn::Not": [{"Fn::Equals": [1, 2]}]}, True),
    ("Condition inline", {"Condition": "IsProd"}, True),
    # FindInMap (incl. the LanguageExtensions default)
    ("FindInMap", {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Cpu"]}, 1024),
    ("FindInMap list", {"Fn::FindInMap": ["Sizes", "prod", "Zones"]}, ["a", "b"]),
    ("FindInMap default", {"Fn::FindInMap": ["Sizes", "test", "Cpu", {"DefaultValue": 128}]}, 128),
    # GetAZs
    ("GetAZs empty", {"Fn::GetAZs": ""}, ["us-east-1a", "us-east-1b", "us-east-1c"]),
    ("GetAZs region", {"Fn::GetAZs": {"Ref": "AWS::Region"}}, ["us-east-1a", "us-east-1b", "us-east-1c"]),
    ("Select GetAZs", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "us-east-1a"),
    # ImportValue
    ("ImportValue", {"Fn::ImportValue": "Shared-VpcId"}, "vpc-123"),
    ("ImportValue of Join", {"Fn::ImportValue": {"Fn::Join": ["-", ["Shared", "VpcId"]]}}, "vpc-123"),
    (
        "Split ImportValue",
        {"Fn::Split": [",", {"Fn::ImportValue": "Shared-Subnets"}]},
        ["subnet-a", "subnet-b"],
    ),
    # Base64, Cidr
    (
        "Base64",
        {"Fn::Base64": {"Fn::Sub": "#!/bin/sh\necho ${Env}"}},
        base64.b64encode(b"#!/bin/sh\necho prod").decode(),
    ),
    ("Cidr", {"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
    ("Cidr ipv6", {"Fn::Cidr": ["2600:1f18::/56", 2, 64]}, ["2600:1f18::/64", "2600:1f18:0:1::/64"]),
    # LanguageExtensions extras
    ("Length", {"Fn::Length": {"Ref": "Names"}}, 3),
    ("ToJsonString", {"Fn::ToJsonString": {"a": [1, {"Ref": "Env"}]}}, '{"a":[1,"prod"]}'),
    # plain data passes through; NoValue removes keys; an IAM Condition block is data
    ("nested data", {"A": [{"B": {"Ref": "Env"}}]}, {"A": [{"B": "prod"}]}),
    (
        "IAM condition block",
        {"Condition": {"StringEquals": {"k": "v"}}},
        {"Condition": {"StringEquals": {"k": "v"}}},
    ),
    ("NoValue at top", {"Ref": "AWS::NoValue"}, NO_VALUE),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_intrinsic(value: Any, expected: Any) -> None:
    assert make().resolve(value, "Properties.X") == expected


def test_stack_id_is_deterministic_arn() -> None:
    a = make().resolve({"Ref": "AWS::StackId"}, "P")
    b = make().resolve({"Ref": "AWS::StackId"}, "P")
    assert a == b
    assert a.startswith("arn:aws:cloudformation:us-east-1:000000000000:stack/MyStack/")


def test_conditions_are_evaluated_once_and_cached() -> None:
    r = make()
    assert r.condition("IsProd", "Condition") is True
    assert r._condition_values == {"IsProd": True}


ERRORS: list[tuple[str, Any, str, str]] = [
    ("unknown Ref", {"Ref": "Nope"}, "Properties.X", "unresolvable Ref 'Nope'"),
    (
        "unknown Ref nested",
        {"Fn::Join": ["", ["a", {"Ref": "Nope"}]]},
        "Properties.X.Fn::Join[1][1]",
        "unresolvable Ref 'Nope'",
    ),
    ("unknown GetAtt", {"Fn::GetAtt": ["Nope", "Arn"]}, "Properties.X", "unresolvable Fn::GetAtt 'Nope.Arn'"),
    (
        "GetAtt shape",
        {"Fn::GetAtt": ["OnlyOne"]},
        "Properties.X",
        "Fn::GetAtt needs [logicalId, attributeName]",
    ),
    (
        "unknown function",
        {"Fn::Frobnicate": [1]},
        "Properties.X",
        "unknown intrinsic function 'Fn::Frobnicate'",
    ),
    (
        "Transform unsupported",
        {"Fn::Transform": {"Name": "AWS::Include"}},
        "Properties.X",
        "unknown intrinsic function 'Fn::Transform'",
    ),
    ("Join shape", {"Fn::Join": ["-"]}, "Properties.X", "Fn::Join needs [delimiter, [values]]"),
    ("Join non-list", {"Fn::Join": ["-", "abc"]}, "Properties.X", "Fn::Join needs a list of values"),
    (
        "Join of mapping",
        {"Fn::Join": ["-", [{"a": 1}]]},
        "Properties.X.Fn::Join[1][0]",
        "cannot join a mapping",
    ),
    ("Sub unknown var", {"Fn::Sub": "${Nope}"}, "Properties.X", "unresolvable Ref 'Nope'"),
    ("Sub unknown att", {"Fn::Sub": "${Nope.Arn}"}, "Properties.X", "unresolvable Fn::GetAtt 'Nope.Arn'"),
    ("Sub list var", {"Fn::Sub": "${Names}"}, "Properties.X", "Fn::Sub variable 'Names' is not a string"),
    ("Sub shape", {"Fn::Sub": ["a", "b"]}, "Properties.X", "Fn::Sub needs a string or [string, {variables}]"),
    (
        "Select out of range",
        {"Fn::Select": [5, ["a"]]},
        "Properties.X",
        "Fn::Select index 5 out of range for 1 values",
    ),
    ("Select bad index", {"Fn::Select": ["x", ["a"]]}, "Properties.X", "Fn::Select index must be a number"),
    ("Select non-list", {"Fn::Select": [0, "abc"]}, "Properties.X", "Fn::Select needs a list"),
    ("Split non-string", {"Fn::Split": [",", ["a"]]}, "Properties.X", "Fn::Split needs a string"),
    (
        "If unknown condition",
        {"Fn::If": ["Nope", 1, 2]},
        "Properties.X.Fn::If[0]",
        "unknown condition 'Nope'",
    ),
    (
        "If shape",
        {"Fn::If": ["IsProd", 1]},
        "Properties.X",
        "Fn::If needs [condition, valueIfTrue, valueIfFalse]",
    ),
    (
        "condition loop",
        {"Fn::If": ["Loop", 1, 2]},
        "Conditions.Loop.Fn::Not[0]",
        "condition 'Loop' refers to itself",
    ),
    ("condition not boolean", {"Fn::If": ["NotBool", 1, 2]}, "Conditions.NotBool", "is not a boolean"),
    (
        "And one arg",
        {"Fn::And": [{"Fn::Equals": [1, 1]}]},
        "Properties.X",
        "Fn::And needs 2 to 10 conditions",
    ),
    ("Or non-bool", {"Fn::Or": ["a", "b"]}, "Properties.X.Fn::Or[0]", "Fn::Or needs conditions"),
    (
        "Not two args",
        {"Fn::Not": [{"Fn::Equals": [1, 1]}, {"Fn::Equals": [1, 1]}]},
        "Properties.X",
        "Fn::Not needs exactly one condition",
    ),
    ("Equals shape", {"Fn::Equals": [1]}, "Properties.X", "Fn::Equals needs [value1, value2]"),
    (
        "FindInMap missing",
        {"Fn::FindInMap": ["Sizes", "test", "Cpu"]},
        "Properties.X",
        "no mapping entry Sizes.test.Cpu",
    ),
    ("FindInMap shape", {"Fn::FindInMap": ["Sizes"]}, "Properties.X", "Fn::FindInMap needs [MapName"),
    (
        "ImportValue unknown",
        {"Fn::ImportValue": "Nope"},
        "Properties.X",
        "no stack in the assembly exports 'Nope'",
    ),
    ("Cidr too many", {"Fn::Cidr": ["10.0.0.0/30", 8, 1]}, "Properties.X", "Fn::Cidr"),
    ("Cidr bad block", {"Fn::Cidr": ["not-a-cidr", 1, 8]}, "Properties.X", "Fn::Cidr"),
    ("Base64 list", {"Fn::Base64": ["a"]}, "Properties.X", "Fn::Base64 needs a string"),
    ("Length non-list", {"Fn::Length": "abc"}, "Properties.X", "Fn::Length needs a list"),
    ("GetAZs list", {"Fn::GetAZs": ["x"]}, "Properties.X", "Fn::GetAZs needs a region name"),
]


@pytest.mark.parametrize(("value", "path", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_intrinsic_errors(value: Any, path: str, message: str) -> None:
    with pytest.raises(IntrinsicError) as info:
        make().resolve(value, "Properties.X")
    assert info.value.path == path
    assert message in info.value.message
