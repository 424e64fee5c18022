# ruff: noqa: E501  (exact error messages are kept on one line)
"""Stacks -> model: Ref and GetAtt values of every emulated type, parameters (defaults, SSM-typed,
missing), resource conditions, exports across stacks, stand-ins for resources not emulated, and error
messages that name stack, resource and property."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import load_template, model_from_templates
from albfargate.assembly.context import generated_name
from albfargate.errors import AssemblyError
from albfargate.model import SystemModel


def res(rtype: str, **props: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props}


LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"


def base_resources() -> dict[str, Any]:
    return {
        "Vpc": res("AWS::EC2::VPC", CidrBlock="10.1.0.0/16"),
        "Sg": res("AWS::EC2::SecurityGroup", VpcId={"Ref": "Vpc"}),
        "LB": res(LB, SecurityGroups=[{"Fn::GetAtt": ["Sg", "GroupId"]}]),
        "TG": res(TG, Port=80, Protocol="HTTP", TargetType="ip", VpcId={"Ref": "Vpc"}),
        "Listener": res(
            LISTENER,
            LoadBalancerArn={"Ref": "LB"},
            Port=80,
            Protocol="HTTP",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": {"Ref": "TG"}}],
        ),
        "Cluster": {"Type": "AWS::ECS::Cluster"},
        "Named": res("AWS::ECS::Cluster", ClusterName="named"),
        "TD": res(
            "AWS::ECS::TaskDefinition",
            ContainerDefinitions=[{"Name": "web", "Image": "nginx", "PortMappings": [{"ContainerPort": 80}]}],
        ),
        "Svc": res(
            "AWS::ECS::Service",
            Cluster={"Ref": "Cluster"},
            TaskDefinition={"Ref": "TD"},
            LoadBalancers=[{"TargetGroupArn": {"Ref": "TG"}, "ContainerName": "web", "ContainerPort": 80}],
        ),
        "Target": res(
            "AWS::ApplicationAutoScaling::ScalableTarget",
            MinCapacity=1,
            MaxCapacity=4,
            ResourceId={
                "Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Svc", "Name"]}]]
            },
            ScalableDimension="ecs:service:DesiredCount",
            ServiceNamespace="ecs",
        ),
    }


def probe(outputs: dict[str, Any], resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """Resolve values in a stack named "Probe" (as exported outputs) and read each back through a second
    stack that imports it into a cluster name."""
    resources = base_resources() | (resources or {})
    exports = {k: {"Value": v, "Export": {"Name": f"probe-{k}"}} for k, v in outputs.items()}
    reader = {
        "Resources": {
            k: res("AWS::ECS::Cluster", ClusterName={"Fn::Join": [",", [{"Fn::ImportValue": f"probe-{k}"}]]})
            for k in outputs
        }
    }
    m = model_from_templates([("Probe", {"Resources": resources, "Outputs": exports}), ("Reader", reader)])
    return {c.logical_id: c.name for c in m.clusters if c.stack == "Reader"}


def test_ref_and_getatt_values_of_emulated_types() -> None:
    values = probe(
        {
            "LBRef": {"Ref": "LB"},
            "LBArn": {"Fn::GetAtt": ["LB", "LoadBalancerArn"]},
            "LBDns": {"Fn::GetAtt": ["LB", "DNSName"]},
            "LBFull": {"Fn::GetAtt": ["LB", "LoadBalancerFullName"]},
            "LBName": {"Fn::GetAtt": ["LB", "LoadBalancerName"]},
            "LBZone": {"Fn::GetAtt": ["LB", "CanonicalHostedZoneID"]},
            "LBSgs": {"Fn::Join": [",", {"Fn::GetAtt": ["LB", "SecurityGroups"]}]},
            "TGRef": {"Ref": "TG"},
            "TGArn": {"Fn::GetAtt": ["TG", "TargetGroupArn"]},
            "TGFull": {"Fn::GetAtt": ["TG", "TargetGroupFullName"]},
            "TGName": {"Fn::GetAtt": ["TG", "TargetGroupName"]},
            "TGLbs": {"Fn::Join": [",", {"Fn::GetAtt": ["TG", "LoadBalancerArns"]}]},
            "ListenerRef": {"Ref": "Listener"},
            "ListenerArn": {"Fn::GetAtt": ["Listener", "ListenerArn"]},
            "ClusterRef": {"Ref": "Cluster"},
            "NamedRef": {"Ref": "Named"},
            "ClusterArn": {"Fn::GetAtt": ["Named", "Arn"]},
            "SvcRef": {"Ref": "Svc"},
            "SvcName": {"Fn::GetAtt": ["Svc", "Name"]},
            "SvcArn": {"Fn::GetAtt": ["Svc", "ServiceArn"]},
            "TDRef": {"Ref": "TD"},
            "TDArn": {"Fn::GetAtt": ["TD", "TaskDefinitionArn"]},
            "TargetRef": {"Ref": "Target"},
        }
    )
    m = model_from_templates([("Probe", {"Resources": base_resources()})])
    lb, tg, listener, svc, td = (
        m.load_balancers[0],
        m.target_groups[0],
        m.listeners[0],
        m.services[0],
        m.task_definitions[0],
    )
    assert values["LBRef"] == values["LBArn"] == lb.arn
    assert (
        lb.arn == f"arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/{lb.name}/{lb.lb_id}"
    )
    assert values["LBDns"] == lb.dns_name and lb.dns_name.endswith(".us-east-1.elb.amazonaws.com")
    assert values["LBFull"] == lb.full_name == f"app/{lb.name}/{lb.lb_id}"
    assert values["LBName"] == lb.name
    assert values["LBZone"] == "Z35SXDOTRQ7X7K"
    assert values["LBSgs"].startswith("sg-")
    assert values["TGRef"] == values["TGArn"] == tg.arn
    assert tg.arn == f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{tg.name}/{tg.tg_id}"
    assert values["TGFull"] == tg.full_name
    assert values["TGName"] == tg.name
    assert values["TGLbs"] == lb.arn
    assert values["ListenerRef"] == values["ListenerArn"] == listener.arn
    assert listener.arn.startswith(
        f"arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/{lb.name}/{lb.lb_id}/"
    )
    assert values["ClusterRef"] == "Cluster"
    assert values["NamedRef"] == "named"
    assert values["ClusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/named"
    assert (
        values["SvcRef"]
        == values["SvcArn"]
        == svc.arn
        == "arn:aws:ecs:us-east-1:000000000000:service/Cluster/Svc"
    )
    assert values["SvcName"] == "Svc"
    assert (
        values["TDRef"]
        == values["TDArn"]
        == td.arn
        == "arn:aws:ecs:us-east-1:000000000000:task-definition/ProbeTD:1"
    )
    assert values["TargetRef"] == "service/Cluster/Svc|ecs:service:DesiredCount|ecs"


def test_names_are_deterministic_cfn_style() -> None:
    a = model_from_templates([("my-app-stack", {"Resources": base_resources()})])
    b = model_from_templates([("my-app-stack", {"Resources": base_resources()})])
    assert a == b
    name = a.load_balancers[0].name
    assert name == generated_name("my-app-stack", "LB")
    assert name.startswith("my-app-s-LB-") and len(name) <= 32
    long = generated_name("a" * 80, "B" * 80)
    assert len(long) <= 32 and not long.startswith("-") and not long.endswith("-")
    assert not generated_name("internal-stack", "X").startswith("internal-")
    c = model_from_templates([("other", {"Resources": base_resources()})])
    assert c.load_balancers[0].arn != a.load_balancers[0].arn


def test_not_emulated_resources_listed_and_resolvable() -> None:
    resources = base_resources() | {
        "Fn": res("AWS::Lambda::Function", Code={"ZipFile": "x"}),
        "Custom": res("Custom::Thing", ServiceToken={"Fn::GetAtt": ["Fn", "Arn"]}, Value={"Ref": "Nope"}),
        "Role": res("AWS::IAM::Role"),
        "Logs": {"Type": "AWS::Logs::LogGroup"},
    }
    values = probe(
        {
            "VpcRef": {"Ref": "Vpc"},
            "VpcCidr": {"Fn::GetAtt": ["Vpc", "CidrBlock"]},
            "SgId": {"Fn::GetAtt": ["Sg", "GroupId"]},
            "FnArn": {"Fn::GetAtt": ["Fn", "Arn"]},
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "LogsArn": {"Fn::GetAtt": ["Logs", "Arn"]},
            "LogsRef": {"Ref": "Logs"},
            "CustomAtt": {"Fn::GetAtt": ["Custom", "Anything"]},
        },
        resources,
    )
    assert values["VpcRef"].startswith("vpc-") and len(values["VpcRef"]) == 21
    assert values["VpcCidr"] == "10.1.0.0/16"
    assert values["SgId"].startswith("sg-")
    assert values["FnArn"].startswith("arn:aws:lambda:us-east-1:000000000000:function:")
    assert values["RoleArn"].startswith("arn:aws:iam::000000000000:role/")
    assert values["LogsArn"].startswith("arn:aws:logs:us-east-1:000000000000:log-group:")
    assert values["LogsRef"].startswith("Probe-Logs-")
    assert values["CustomAtt"].endswith(".Anything")
    m = model_from_templates([("S", {"Resources": resources})])
    listed = {(n.logical_id, n.type, n.reason) for n in m.not_emulated}
    assert ("Custom", "Custom::Thing", "custom resource: not emulated") in listed
    assert ("Fn", "AWS::Lambda::Function", "not emulated") in listed
    assert ("Vpc", "AWS::EC2::VPC", "not emulated") in listed
    # a not-emulated resource's properties are never resolved (Custom's Ref 'Nope' is not an error)


def test_parameters_defaults_ssm_lists_and_overrides() -> None:
    template = {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            },
            "Image": {"Type": "String", "Default": "nginx:1"},
            "Count": {"Type": "Number", "Default": 3},
            "Subnets": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "NoDefault": {"Type": "String"},
        },
        "Resources": {
            "C": res(
                "AWS::ECS::Cluster",
                ClusterName={
                    "Fn::Join": ["|", [{"Ref": "BootstrapVersion"}, {"Fn::Join": ["+", {"Ref": "Subnets"}]}]]
                },
            ),
            "TD": res(
                "AWS::ECS::TaskDefinition", ContainerDefinitions=[{"Name": "w", "Image": {"Ref": "Image"}}]
            ),
            "S": res("AWS::ECS::Service", TaskDefinition={"Ref": "TD"}, DesiredCount={"Ref": "Count"}),
        },
    }
    m = model_from_templates([("S", template)])
    assert m.clusters[0].name == "ssm:/cdk-bootstrap/hnb659fds/version|a+b"
    assert m.task_definitions[0].containers[0].image == "nginx:1"
    assert m.services[0].desired_count == 3
    m2 = model_from_templates([("S", template)], parameter_values={"S": {"Image": "httpd"}})
    assert m2.task_definitions[0].containers[0].image == "httpd"
    template["Resources"]["C"]["Properties"]["ClusterName"] = {"Ref": "NoDefault"}
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("S", template)])
    assert str(info.value) == (
        "stack S, resource C, property Properties.ClusterName: parameter 'NoDefault' has no Default and no value was given"
    )


def test_resource_conditions() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {
            "Prod": {"Type": "AWS::ECS::Cluster", "Condition": "IsProd"},
            "Always": res("AWS::ECS::Cluster", ClusterName={"Fn::If": ["IsProd", "p", "d"]}),
            "Bad": res("AWS::ECS::Cluster", ClusterName={"Ref": "Prod"}),
        },
    }
    with pytest.raises(
        AssemblyError, match=r"resource Bad, property Properties\.ClusterName: resource 'Prod' is not created"
    ):
        model_from_templates([("S", template)])
    del template["Resources"]["Bad"]
    m = model_from_templates([("S", template)])
    assert [c.name for c in m.clusters] == ["d"]
    m = model_from_templates([("S", template)], parameter_values={"S": {"Env": "prod"}})
    assert [c.name for c in m.clusters] == ["Prod", "p"]


def test_import_value_across_stacks_and_errors() -> None:
    producer = {
        "Resources": {"Named": res("AWS::ECS::Cluster", ClusterName="shared")},
        "Outputs": {
            "Out": {"Value": {"Ref": "Named"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:Cluster"}}},
            "NotExported": {"Value": "x"},
        },
    }
    consumer = {
        "Resources": {
            "TD": res("AWS::ECS::TaskDefinition", ContainerDefinitions=[{"Name": "w", "Image": "nginx"}]),
            "S": res(
                "AWS::ECS::Service",
                Cluster={"Fn::ImportValue": "Producer:Cluster"},
                TaskDefinition={"Ref": "TD"},
            ),
        }
    }
    m = model_from_templates([("Producer", producer), ("Consumer", consumer)])
    assert m.services[0].cluster_name == "shared"
    assert m.stacks == ("Producer", "Consumer")
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("Consumer", consumer), ("Producer", producer)])
    assert str(info.value) == (
        "stack Consumer, resource S, property Properties.Cluster: "
        "Fn::ImportValue: no stack in the assembly exports 'Producer:Cluster'"
    )
    with pytest.raises(AssemblyError, match="already exported"):
        model_from_templates([("Producer", producer), ("Producer", producer)])


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"LB8A12904C": res(LB, Subnets=[{"Ref": "Nope"}])},
            "stack MyStack, resource LB8A12904C, property Properties.Subnets[0]: unresolvable Ref 'Nope'",
        ),
        (
            {"L": res(LISTENER, LoadBalancerArn={"Fn::GetAtt": ["Missing", "Arn"]}, DefaultActions=[])},
            "stack MyStack, resource L, property Properties.LoadBalancerArn: unresolvable Fn::GetAtt 'Missing.Arn'",
        ),
        (
            {"C": res("AWS::ECS::Cluster", ClusterName={"Fn::Frob": 1})},
            "stack MyStack, resource C, property Properties.ClusterName: unknown intrinsic function 'Fn::Frob'",
        ),
        (
            {"TG": res(TG, Port="eighty")},
            "stack MyStack, resource TG, property Properties.Port: expected a number, got 'eighty'",
        ),
        (
            {"TG": res(TG, TargetGroupAttributes=[{"Key": "stickiness.enabled", "Value": "maybe"}])},
            "stack MyStack, resource TG, property Properties.TargetGroupAttributes: stickiness.enabled: expected true or false",
        ),
        (
            {"L": res(LISTENER, LoadBalancerArn="not-an-arn", DefaultActions=[])},
            "stack MyStack, resource L, property Properties.LoadBalancerArn: not a load balancer ARN: 'not-an-arn'",
        ),
        (
            {"TD": res("AWS::ECS::TaskDefinition", ContainerDefinitions=[{"Name": "w"}])},
            "stack MyStack, resource TD, property Properties.ContainerDefinitions[0].Image: required property is missing",
        ),
        (
            {"S": res("AWS::ECS::Service", TaskDefinition="td", DesiredCount={"Fn::Select": [3, [1]]})},
            "stack MyStack, resource S, property Properties.DesiredCount: Fn::Select index 3 out of range",
        ),
        (
            {"X": {"Properties": {}}},
            "stack MyStack, resource X, property Type: resource has no Type",
        ),
        (
            {
                "A": res("AWS::ECS::Cluster", ClusterName={"Fn::GetAtt": ["B", "Arn"]}),
                "B": res("AWS::ECS::Cluster", ClusterName={"Fn::GetAtt": ["A", "Arn"]}),
            },
            "stack MyStack: Circular dependency between resources: [A, B]",
        ),
    ],
)
def test_error_messages_name_stack_resource_property(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("MyStack", {"Resources": resources})])
    assert message in str(info.value)


def test_output_errors_name_the_output() -> None:
    t = {"Resources": {}, "Outputs": {"O": {"Value": {"Ref": "Nope"}, "Export": {"Name": "n"}}}}
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("S", t)])
    assert str(info.value) == "stack S, property Outputs.O.Value: unresolvable Ref 'Nope'"


def test_load_template_names_stack_after_file(tmp_path: Path) -> None:
    path = tmp_path / "web-app.template.json"
    path.write_text('{"Resources": {"C": {"Type": "AWS::ECS::Cluster"}}}')
    model: SystemModel = load_template(path)
    assert model.stacks == ("web-app",)
    assert load_template(path, stack_name="Other").stacks == ("Other",)
