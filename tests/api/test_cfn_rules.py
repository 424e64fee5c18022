"""A template's Rules through boto3's CloudFormation client: the CDK's CheckBootstrapVersion assertion
reads the bootstrap version from the local Parameter Store and refuses CreateStack, CreateChangeSet and
UpdateStack with AWS's ValidationError carrying the AssertDescription; nothing is created or changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.cfn_live import FAST, cfn_engine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CDK_MESSAGE = (
    "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the CDK CLI."
)


def template(size_rule: bool = False) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "CheckBootstrapVersion": {
            "Assertions": [
                {
                    "Assert": {
                        "Fn::Not": [
                            {"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}
                        ]
                    },
                    "AssertDescription": CDK_MESSAGE,
                }
            ]
        }
    }
    if size_rule:
        rules["ProdIsLarge"] = {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "Assertions": [
                {
                    "Assert": {"Fn::Contains": [["large", "xlarge"], {"Ref": "Size"}]},
                    "AssertDescription": "prod needs a large size",
                }
            ],
        }
    return {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            },
            "Env": {"Type": "String", "Default": "dev"},
            "Size": {"Type": "String", "Default": "small"},
        },
        "Rules": rules,
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}},
    }


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


def test_rules_refuse_create_change_set_and_update_with_the_assert_description(tmp_path: Path) -> None:
    with cfn_engine(tmp_path / "state") as live:
        cfn, ssm = live.client("cloudformation"), live.client("ssm")
        ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Type="String", Value="5")
        text = json.dumps(template())
        assert refused(cfn.create_stack, StackName="Ruled", TemplateBody=text) == CDK_MESSAGE
        message = refused(
            cfn.create_change_set,
            StackName="Ruled",
            ChangeSetName="cdk-deploy-change-set",
            ChangeSetType="CREATE",
            TemplateBody=text,
        )
        assert message == CDK_MESSAGE
        # nothing was made: no stack, not even a REVIEW_IN_PROGRESS one
        assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "Ruled"] == []

        ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="21", Overwrite=True)
        cfn.create_stack(StackName="Ruled", TemplateBody=json.dumps(template(size_rule=True)))
        cfn.get_waiter("stack_create_complete").wait(StackName="Ruled", WaiterConfig=FAST)
        params = [{"ParameterKey": "Env", "ParameterValue": "prod"}]
        message = refused(cfn.update_stack, StackName="Ruled", UsePreviousTemplate=True, Parameters=params)
        assert message == "prod needs a large size"
        stack = cfn.describe_stacks(StackName="Ruled")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Env"] == "dev"
        ok = [*params, {"ParameterKey": "Size", "ParameterValue": "large"}]
        cfn.update_stack(StackName="Ruled", UsePreviousTemplate=True, Parameters=ok)
        cfn.get_waiter("stack_update_complete").wait(StackName="Ruled", WaiterConfig=FAST)
