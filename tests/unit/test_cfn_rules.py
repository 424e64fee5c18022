"""The pure evaluator of a template's Rules section (cfn/rules.py): every rule function, RuleCondition,
the first failed assertion's AssertDescription, malformed sections, and what cannot be known locally."""

from __future__ import annotations

from typing import Any

import pytest

from albfargate.cfn.rules import (
    NO_DESCRIPTION,
    RuleFormatError,
    RuleParameter,
    evaluate_rules,
    rule_parameters,
)

CDK_CHECK = {
    "CheckBootstrapVersion": {
        "Assertions": [
            {
                "Assert": {
                    "Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]
                },
                "AssertDescription": "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' "
                "with a recent version of the CDK CLI.",
            }
        ]
    }
}


def run(rules: dict[str, Any], **params: str | tuple[str, str]) -> str | None:
    values = {k: RuleParameter(*v) if isinstance(v, tuple) else RuleParameter(v) for k, v in params.items()}
    return evaluate_rules({"Rules": rules}, values, pseudo={"AWS::Region": "us-east-1"}).failed


def one(assertion: Any, description: str = "no") -> dict[str, Any]:
    return {"R": {"Assertions": [{"Assert": assertion, "AssertDescription": description}]}}


@pytest.mark.parametrize(("version", "failed"), [("21", False), ("6", False), ("5", True), ("1", True)])
def test_the_cdk_bootstrap_version_check(version: str, failed: bool) -> None:
    result = run(CDK_CHECK, BootstrapVersion=version)
    if failed:
        assert result == (
            "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the "
            "CDK CLI."
        )
    else:
        assert result is None


@pytest.mark.parametrize(
    ("assertion", "held"),
    [
        ({"Fn::Equals": [{"Ref": "Env"}, "prod"]}, True),
        ({"Fn::Equals": [{"Ref": "Env"}, "dev"]}, False),
        ({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}, True),
        ({"Fn::Not": [{"Fn::Equals": [{"Ref": "Env"}, "prod"]}]}, False),
        ({"Fn::And": [{"Fn::Equals": ["a", "a"]}, {"Fn::Equals": [{"Ref": "Env"}, "prod"]}]}, True),
        ({"Fn::And": [{"Fn::Equals": ["a", "a"]}, {"Fn::Equals": ["a", "b"]}]}, False),
        ({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Fn::Equals": [{"Ref": "Env"}, "prod"]}]}, True),
        ({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Fn::Equals": ["c", "d"]}]}, False),
        ({"Fn::Contains": [["dev", "prod"], {"Ref": "Env"}]}, True),
        ({"Fn::Contains": [["dev", "test"], {"Ref": "Env"}]}, False),
        ({"Fn::Contains": [{"Ref": "Subnets"}, "subnet-b"]}, True),
        ({"Fn::EachMemberEquals": [{"Ref": "Zones"}, "us-east-1a"]}, True),
        ({"Fn::EachMemberEquals": [{"Ref": "Subnets"}, "subnet-a"]}, False),
        ({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["subnet-a", "subnet-b", "subnet-c"]]}, True),
        ({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["subnet-a"]]}, False),
        ({"Fn::Equals": [{"Ref": "Count"}, 3]}, True),  # numbers compare as text
        ({"Fn::Equals": [True, "true"]}, True),
    ],
)
def test_rule_functions(assertion: Any, held: bool) -> None:
    params = {
        "Env": "prod",
        "Subnets": ("subnet-a,subnet-b", "List<AWS::EC2::Subnet::Id>"),
        "Zones": ("us-east-1a,us-east-1a", "CommaDelimitedList"),
        "Count": ("3", "Number"),
    }
    assert run(one(assertion, "it failed"), **params) == (None if held else "it failed")


def test_a_false_rule_condition_skips_the_assertions() -> None:
    rules = {
        "ProdOnly": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "Assertions": [
                {"Assert": {"Fn::Equals": [{"Ref": "Size"}, "large"]}, "AssertDescription": "big"}
            ],
        }
    }
    assert run(rules, Env="dev", Size="small") is None
    assert run(rules, Env="prod", Size="small") == "big"
    assert run(rules, Env="prod", Size="large") is None


def test_the_first_failed_assertion_is_the_message_and_a_missing_description_is_named() -> None:
    second = {"Assert": {"Fn::Equals": ["1", "2"]}, "AssertDescription": "second"}
    rules = {
        "A": {"Assertions": [{"Assert": {"Fn::Equals": ["x", "x"]}}]},
        "B": {"Assertions": [{"Assert": {"Fn::Equals": ["x", "y"]}}, second]},
    }
    assert run(rules) == NO_DESCRIPTION.format(rule="B")


def test_no_rules_section_passes() -> None:
    assert evaluate_rules({"Resources": {}}, {}).failed is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"R": {"RuleCondition": {"Fn::Equals": ["a", "a"]}}}, "must contain an Assertions member"),
        ({"R": "nope"}, "must contain an Assertions member"),
        ({"R": {"Assertions": [{"AssertDescription": "x"}]}}, "must contain an Assert member"),
        (one({"Fn::Sub": "x"}), "Encountered unsupported function: Fn::Sub"),
        (one({"Fn::GetAtt": ["A", "B"]}), "Encountered unsupported function: Fn::GetAtt"),
        (one({"Fn::Equals": ["a"]}), "Fn::Equals takes a list of 2 arguments"),
        (one({"Fn::And": [{"Fn::Equals": ["a", "a"]}]}), "between 2 and 10"),
        (
            one({"Fn::Equals": [{"Ref": "SomeResource"}, "a"]}),
            "Cannot reference resources in the Rules block",
        ),
        (one("text"), "must be a boolean"),
    ],
)
def test_malformed_rules_are_template_format_errors(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleFormatError, match="Template format error") as info:
        run(rules)
    assert message in str(info.value)


def test_account_lookups_unknown_locally_skip_the_assertion_and_say_so() -> None:
    rules = one(
        {"Fn::EachMemberEquals": [{"Fn::ValueOfAll": ["AWS::EC2::Subnet::Id", "VpcId"]}, {"Ref": "Vpc"}]},
        "subnets of the VPC",
    )
    values = {"Vpc": RuleParameter("vpc-1", "AWS::EC2::VPC::Id")}
    outcome = evaluate_rules({"Rules": rules}, values)
    assert outcome.failed is None
    assert outcome.skipped and "Fn::ValueOfAll AWS::EC2::Subnet::Id VpcId" in outcome.skipped[0]

    def lookup(function: str, subject: str, attribute: str | None) -> Any:
        return {"Fn::ValueOfAll": ["vpc-1", "vpc-2"], "Fn::RefAll": ["vpc-1"]}[function]

    assert evaluate_rules({"Rules": rules}, values, lookup=lookup).failed == "subnets of the VPC"
    ref_all = one({"Fn::Contains": [{"Fn::RefAll": "AWS::EC2::VPC::Id"}, {"Ref": "Vpc"}]}, "unknown vpc")
    assert evaluate_rules({"Rules": ref_all}, values, lookup=lookup).failed is None
    with pytest.raises(RuleFormatError, match="not a parameter"):
        evaluate_rules({"Rules": one({"Fn::Equals": [{"Fn::ValueOf": ["Nope", "VpcId"]}, "x"]})}, values)


def test_rule_parameters_take_the_declared_type_and_ssm_typed_values() -> None:
    declared = {
        "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
    }
    params = rule_parameters(declared, [("BootstrapVersion", "21"), ("Subnets", "a,b")])
    assert params["BootstrapVersion"] == RuleParameter("21", "String")
    assert params["Subnets"].ref() == ["a", "b"]
