"""Small CloudFormation templates the CloudFormation tests deploy (unit tests with a fake system, API
tests with a real engine): a target group with an inert VPC, a whole load-balanced service, buckets."""

from __future__ import annotations

import copy
import json
from typing import Any


def tg_template(*, port: int = 80, health_path: str = "/", export: str | None = "slice-tg") -> dict[str, Any]:
    out: dict[str, Any] = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "TG": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Port": port,
                    "Protocol": "HTTP",
                    "TargetType": "ip",
                    "HealthCheckPath": health_path,
                    "VpcId": {"Ref": "Vpc"},
                },
            },
        },
        "Outputs": {
            "TgArn": {"Value": {"Ref": "TG"}},
            "VpcId": {"Value": {"Ref": "Vpc"}, "Description": "the VPC"},
        },
    }
    if export:
        out["Outputs"]["TgArn"]["Export"] = {"Name": export}
    return out


def service_template(
    *,
    image: str = "example/web:1",
    env: str = "1",
    desired: int = 2,
    circuit_breaker: bool = True,
    deregistration_delay: int = 1,
    listener_port: int = 80,
    healthy_code: str = "200",
) -> dict[str, Any]:
    """VPC and subnet (inert), cluster, load balancer, listener, target group, task definition and a
    service behind the load balancer with a fast health check; outputs the URL."""
    return {
        "Parameters": {"Desired": {"Type": "Number", "Default": str(desired)}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"},
            },
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "cfn"}},
            "LB": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Subnets": [{"Ref": "Subnet"}], "Scheme": "internet-facing"},
            },
            "TG": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Port": 8080,
                    "Protocol": "HTTP",
                    "TargetType": "ip",
                    "VpcId": {"Ref": "Vpc"},
                    "HealthCheckPath": "/",
                    "HealthCheckIntervalSeconds": 5,
                    "HealthCheckTimeoutSeconds": 2,
                    "HealthyThresholdCount": 2,
                    "UnhealthyThresholdCount": 2,
                    "Matcher": {"HttpCode": healthy_code},
                    "TargetGroupAttributes": [
                        {"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}
                    ],
                },
            },
            "Listener": {
                "Type": "AWS::ElasticLoadBalancingV2::Listener",
                "Properties": {
                    "LoadBalancerArn": {"Ref": "LB"},
                    "Port": listener_port,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TG"}}],
                },
            },
            "TaskDef": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "cfnweb",
                    "Cpu": "256",
                    "Memory": "512",
                    "NetworkMode": "awsvpc",
                    "RequiresCompatibilities": ["FARGATE"],
                    "ContainerDefinitions": [
                        {
                            "Name": "web",
                            "Image": image,
                            "Essential": True,
                            "StopTimeout": 2,
                            "PortMappings": [{"ContainerPort": 8080}],
                            "Environment": [{"Name": "VERSION", "Value": env}],
                        }
                    ],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "DependsOn": ["Listener"],
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "ServiceName": "web",
                    "TaskDefinition": {"Ref": "TaskDef"},
                    "DesiredCount": {"Ref": "Desired"},
                    "LaunchType": "FARGATE",
                    "DeploymentConfiguration": {
                        "MaximumPercent": 200,
                        "MinimumHealthyPercent": 100,
                        "DeploymentCircuitBreaker": {"Enable": circuit_breaker, "Rollback": circuit_breaker},
                    },
                    "LoadBalancers": [
                        {"ContainerName": "web", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "TG"}}
                    ],
                    "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": [{"Ref": "Subnet"}]}},
                },
            },
        },
        "Outputs": {
            "URL": {"Value": {"Fn::Join": ["", ["http://", {"Fn::GetAtt": ["LB", "DNSName"]}]]}},
            "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
        },
    }


def bucket_template(*, name: str = "cfn-test-bucket", auto_delete: bool = False) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}, "DeletionPolicy": "Delete"},
    }
    if auto_delete:  # what the CDK makes of autoDeleteObjects: true (its Lambda does not run locally)
        resources["Handler"] = {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "nodejs20.x"}}
        resources["AutoDelete"] = {
            "Type": "Custom::S3AutoDeleteObjects",
            "DependsOn": ["Bucket"],
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]},
                "BucketName": {"Ref": "Bucket"},
            },
        }
    return {"Resources": resources, "Outputs": {"BucketName": {"Value": {"Ref": "Bucket"}}}}


def body(template: dict[str, Any]) -> str:
    return json.dumps(template)


def with_changes(template: dict[str, Any], **props: Any) -> dict[str, Any]:
    """A copy of ``template`` with ``Resource__Property=value`` set."""
    out = copy.deepcopy(template)
    for key, value in props.items():
        logical_id, _, prop = key.partition("__")
        out["Resources"][logical_id]["Properties"][prop] = value
    return out
