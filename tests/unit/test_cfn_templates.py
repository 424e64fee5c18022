"""What CloudFormation refuses before it changes anything (cfn/templates.py), with AWS's codes and
messages: the template text and sections, unknown intrinsics, unresolved references, circular
dependencies, parameters (missing, unknown, constraints, SSM-typed), capabilities, names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from albfargate.cfn.model import ParameterValue
from albfargate.cfn.templates import (
    GivenParameter,
    TemplateError,
    check,
    check_capabilities,
    check_change_set_name,
    check_stack_name,
    parameter_declarations,
    parse,
    required_capabilities,
    resolve_parameters,
)

TOPIC = {"Type": "AWS::SNS::Topic"}


def refusal(fn: Any, *args: Any, **kw: Any) -> TemplateError:
    with pytest.raises(TemplateError) as err:
        fn(*args, **kw)
    return err.value


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({}, "Template format error: At least one Resources member must be defined."),
        ({"Resources": {}}, "Template format error: At least one Resources member must be defined."),
        (
            {"Resources": {"A": {"Properties": {}}}},
            "Template format error: [/Resources/A] Every Resources object must contain a Type member.",
        ),
        (
            {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "Nope"}}}}},
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the "
            "template",
        ),
        (
            {"Resources": {"A": {"Type": "AWS::SNS::Topic", "DependsOn": ["Gone"]}}},
            "Template format error: Unresolved resource dependencies [Gone] in the Resources block of the "
            "template",
        ),
        (
            {"Resources": {"A": TOPIC}, "Outputs": {"O": {"Value": {"Ref": "Missing"}}}},
            "Template format error: Unresolved resource dependencies [Missing] in the Outputs block of the "
            "template",
        ),
        (
            {
                "Resources": {
                    "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::GetAtt": ["Ghost", "Arn"]}}}
                }
            },
            "Template error: instance of Fn::GetAtt references undefined resource Ghost",
        ),
        (
            {
                "Resources": {
                    "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
                    "B": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::GetAtt": ["A", "Arn"]}}},
                }
            },
            "Circular dependency between resources: [A, B]",
        ),
    ],
)
def test_template_refusals(template: dict[str, Any], message: str) -> None:
    err = refusal(check, template)
    assert (err.code, err.message) == ("ValidationError", message)


def test_an_unknown_intrinsic_is_refused_with_the_supported_list() -> None:
    template = {"Resources": {"A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::Frobnicate": [1]}}}}}
    err = refusal(check, template)
    assert err.code == "ValidationError"
    assert err.message.startswith("Template format error: Encountered unsupported function: Fn::Frobnicate ")
    assert "Supported functions are: [" in err.message and "Fn::Sub" in err.message


def test_references_that_resolve_pass_and_give_the_order() -> None:
    template = {
        "Parameters": {"P": {"Type": "String"}},
        "Resources": {
            "B": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"X": {"Fn::Sub": "${A}-${P}-${AWS::Region}-${!x}"}},
            },
            "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::Sub": ["${v}", {"v": {"Ref": "P"}}]}}},
        },
    }
    assert check(template) == ["A", "B"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Resources": ', "Template format error: JSON not well-formed. (line 1, column 15)"),
        ("Resources:\n  A: [unclosed\n", "Template format error: YAML not well-formed. (line 2, column 6)"),
    ],
)
def test_unreadable_templates(text: str, message: str) -> None:
    assert refusal(parse, text).message == message


def test_yaml_short_forms_are_read() -> None:
    template = parse(
        "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: !Ref AWS::Region\n"
    )
    assert template["Resources"]["A"]["Properties"]["X"] == {"Ref": "AWS::Region"}


DECLARED = {
    "Parameters": {
        "Name": {"Type": "String", "AllowedValues": ["a", "b"]},
        "Count": {"Type": "Number", "Default": "2", "MinValue": 1, "MaxValue": 5},
        "Secret": {"Type": "String", "NoEcho": True, "Default": "x", "MinLength": 1},
        "Version": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/hnb659fds/version",
        },
    },
    "Resources": {"A": TOPIC},
}


def given(**values: str) -> tuple[GivenParameter, ...]:
    return tuple(GivenParameter(k, v) for k, v in values.items())


def ssm(name: str) -> str | None:
    return {"/cdk-bootstrap/hnb659fds/version": "21"}.get(name)


def test_parameters_given_default_and_ssm() -> None:
    values = resolve_parameters(DECLARED, given(Name="a"), ssm=ssm)
    assert [(p.key, p.value, p.resolved, p.no_echo) for p in values] == [
        ("Name", "a", None, False),
        ("Count", "2", None, False),
        ("Secret", "x", None, True),
        ("Version", "/cdk-bootstrap/hnb659fds/version", "21", False),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "Parameters: [Name] must have values"),
        ({"Name": "c"}, "Parameter 'Name' must be one of AllowedValues"),
        ({"Name": "a", "Count": "x"}, "Parameter 'Count' must be a number."),
        ({"Name": "a", "Count": "9"}, "Parameter 'Count' must be a number not greater than 5"),
        ({"Name": "a", "Count": "0"}, "Parameter 'Count' must be a number not less than 1"),
        ({"Name": "a", "Secret": ""}, "Parameter 'Secret' must contain at least 1 characters"),
        ({"Name": "a", "Other": "1"}, "Parameters: [Other] do not exist in the template"),
    ],
)
def test_parameter_refusals(values: dict[str, str], message: str) -> None:
    err = refusal(resolve_parameters, DECLARED, given(**values), ssm=ssm)
    assert (err.code, err.message) == ("ValidationError", message)


def test_an_ssm_parameter_that_does_not_exist() -> None:
    err = refusal(resolve_parameters, DECLARED, given(Name="a"), ssm=lambda name: None)
    assert err.message == (
        "Unable to fetch parameters [/cdk-bootstrap/hnb659fds/version] from parameter store for this account."
    )


def test_use_previous_value() -> None:
    previous = [ParameterValue("Name", "b")]
    values = resolve_parameters(
        DECLARED, (GivenParameter("Name", use_previous=True),), previous=previous, ssm=ssm
    )
    assert values[0].value == "b"
    err = refusal(resolve_parameters, DECLARED, (GivenParameter("Name", use_previous=True),), ssm=ssm)
    assert "Cannot specify usePreviousValue as true" in err.message


def test_capabilities() -> None:
    role = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}
    named = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}
    assert required_capabilities(role) == (
        ["CAPABILITY_IAM"],
        "The following resource(s) require capabilities: [AWS::IAM::Role]",
    )
    err = refusal(check_capabilities, role, [])
    assert (err.code, err.message) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_IAM]",
    )
    check_capabilities(role, ["CAPABILITY_IAM"])
    check_capabilities(role, ["CAPABILITY_NAMED_IAM"])
    assert refusal(check_capabilities, named, ["CAPABILITY_IAM"]).message == (
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    )
    check_capabilities({"Resources": {"A": TOPIC}}, [])


def test_an_unsupported_transform_is_refused() -> None:
    err = refusal(check, {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"A": TOPIC}})
    assert "AWS::Serverless-2016-10-31 is not supported" in err.message


@pytest.mark.parametrize("name", ["bad_name", "1abc", "a" * 129])
def test_stack_names(name: str) -> None:
    assert "failed to satisfy constraint" in refusal(check_stack_name, name).message
    assert check_stack_name("Good-Name1") == "Good-Name1"
    assert "failed to satisfy constraint" in refusal(check_change_set_name, name).message


def test_summary_declarations() -> None:
    declared = parameter_declarations(DECLARED)
    assert declared[0] == {
        "ParameterKey": "Name",
        "ParameterType": "String",
        "NoEcho": False,
        "ParameterConstraints": {"AllowedValues": ["a", "b"]},
    }
    assert declared[1]["DefaultValue"] == "2"
    assert json.loads(json.dumps(declared))  # plain values only
