# ruff: noqa: E501  (exact error messages are kept on one line)
"""ECS and Application Auto Scaling converters: task definitions with every container field, services
with CloudFormation's defaults, capacity providers, and target-tracking policies linked to services."""

from __future__ import annotations

from typing import Any

import pytest

from albfargate.assembly import model_from_templates
from albfargate.errors import AssemblyError
from albfargate.model import (
    ContainerDependency,
    ContainerHealthCheck,
    DependencyCondition,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    PortMapping,
    PredefinedMetric,
    Secret,
    ServiceLoadBalancer,
)


def res(rtype: str, **props: Any) -> dict[str, Any]:
    return {"Type": rtype, "Properties": props}


FULL_CONTAINER = {
    "Name": "web",
    "Image": "public.ecr.aws/docker/library/python:3.12",
    "Command": ["python", "-m", "http.server", 8000],
    "EntryPoint": ["/bin/sh", "-c"],
    "Environment": [{"Name": "A", "Value": "1"}, {"Name": "FLAG", "Value": True}],
    "Secrets": [{"Name": "DB", "ValueFrom": "arn:aws:secretsmanager:us-east-1:000000000000:secret:db"}],
    "PortMappings": [
        {"ContainerPort": 8000, "HostPort": 8000, "Protocol": "tcp", "Name": "http", "AppProtocol": "http"}
    ],
    "Essential": True,
    "HealthCheck": {
        "Command": ["CMD-SHELL", "curl -f localhost:8000"],
        "Interval": 10,
        "Retries": 5,
        "StartPeriod": 20,
    },
    "DependsOn": [{"ContainerName": "init", "Condition": "SUCCESS"}, {"ContainerName": "side"}],
    "StartTimeout": 60,
    "StopTimeout": 10,
    "WorkingDirectory": "/app",
    "User": "1000",
    "DockerLabels": {"team": "web"},
    "Cpu": 128,
    "Memory": 256,
    "MemoryReservation": 128,
    "ReadonlyRootFilesystem": True,
    "Ulimits": [{"Name": "nofile", "SoftLimit": 1024, "HardLimit": 4096}],
    "LogConfiguration": {"LogDriver": "awslogs", "Options": {"awslogs-region": {"Ref": "AWS::Region"}}},
}


def stack() -> dict[str, Any]:
    return {
        "Resources": {
            "Cluster": res(
                "AWS::ECS::Cluster",
                ClusterName="prod",
                ClusterSettings=[{"Name": "containerInsights", "Value": "enabled"}],
            ),
            "TD": res(
                "AWS::ECS::TaskDefinition",
                Family="web",
                Cpu="512",
                Memory="1024",
                NetworkMode="awsvpc",
                RequiresCompatibilities=["FARGATE"],
                RuntimePlatform={"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
                ExecutionRoleArn="arn:aws:iam::000000000000:role/exec",
                ContainerDefinitions=[
                    FULL_CONTAINER,
                    {"Name": "init", "Image": "busybox", "Essential": False},
                    {"Name": "side", "Image": "busybox", "Essential": "false"},
                ],
            ),
            "TG": res("AWS::ElasticLoadBalancingV2::TargetGroup", Port=8000, TargetType="ip"),
            "Svc": res(
                "AWS::ECS::Service",
                ServiceName="web-svc",
                Cluster={"Fn::GetAtt": ["Cluster", "Arn"]},
                TaskDefinition={"Ref": "TD"},
                DesiredCount=2,
                DeploymentConfiguration={
                    "MaximumPercent": 150,
                    "MinimumHealthyPercent": 50,
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                },
                HealthCheckGracePeriodSeconds=30,
                LoadBalancers=[
                    {"TargetGroupArn": {"Ref": "TG"}, "ContainerName": "web", "ContainerPort": 8000}
                ],
                CapacityProviderStrategy=[
                    {"CapacityProvider": "FARGATE_SPOT", "Weight": 2},
                    {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1},
                ],
                EnableExecuteCommand=True,
                NetworkConfiguration={
                    "AwsvpcConfiguration": {
                        "AssignPublicIp": "ENABLED",
                        "Subnets": ["subnet-1"],
                        "SecurityGroups": ["sg-1"],
                    }
                },
                PropagateTags="SERVICE",
            ),
            "Plain": res("AWS::ECS::Service", TaskDefinition={"Ref": "TD"}),
            "Target": res(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                MinCapacity=2,
                MaxCapacity=10,
                ResourceId={
                    "Fn::Join": ["", ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": ["Svc", "Name"]}]]
                },
                ScalableDimension="ecs:service:DesiredCount",
                ServiceNamespace="ecs",
                RoleARN={"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"},
                SuspendedState={"DynamicScalingInSuspended": True},
            ),
            "Cpu": res(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                PolicyName="cpu",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId={"Ref": "Target"},
                TargetTrackingScalingPolicyConfiguration={
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                    "TargetValue": 50,
                    "ScaleInCooldown": 60,
                },
            ),
            "Requests": res(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                PolicyName="req",
                PolicyType="TargetTrackingScaling",
                ResourceId="service/prod/web-svc",
                ScalableDimension="ecs:service:DesiredCount",
                ServiceNamespace="ecs",
                TargetTrackingScalingPolicyConfiguration={
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ALBRequestCountPerTarget",
                        "ResourceLabel": "app/lb/1/targetgroup/tg/2",
                    },
                    "TargetValue": 100.5,
                    "DisableScaleIn": True,
                },
            ),
            "Step": res(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                PolicyName="step",
                PolicyType="StepScaling",
                ScalingTargetId={"Ref": "Target"},
            ),
            "Dynamo": res(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                MinCapacity=1,
                MaxCapacity=2,
                ResourceId="table/t",
                ScalableDimension="dynamodb:table:ReadCapacityUnits",
                ServiceNamespace="dynamodb",
            ),
        }
    }


@pytest.fixture(scope="module")
def model() -> Any:
    return model_from_templates([("App", stack())])


def test_cluster(model: Any) -> None:
    cluster, implicit = model.clusters  # "Plain" names no cluster: the implicit "default" is added
    assert (implicit.name, implicit.logical_id) == ("default", "")
    assert (cluster.name, cluster.arn, cluster.container_insights) == (
        "prod",
        "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
        True,
    )


def test_task_definition_and_every_container_field(model: Any) -> None:
    (td,) = model.task_definitions
    assert (td.family, td.revision, td.arn) == (
        "web",
        1,
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
    )
    assert (td.cpu, td.memory, td.network_mode, td.cpu_architecture) == (512, 1024, "awsvpc", "ARM64")
    assert td.requires_compatibilities == ("FARGATE",)
    assert td.execution_role_arn == "arn:aws:iam::000000000000:role/exec" and td.task_role_arn is None
    web = td.container("web")
    assert web.command == ("python", "-m", "http.server", "8000")
    assert web.entry_point == ("/bin/sh", "-c")
    assert web.environment == (("A", "1"), ("FLAG", "true"))
    assert web.secrets == (Secret("DB", "arn:aws:secretsmanager:us-east-1:000000000000:secret:db"),)
    assert web.port_mappings == (PortMapping(8000, 8000, "tcp", "http", "http"),)
    assert web.health_check == ContainerHealthCheck(
        ("CMD-SHELL", "curl -f localhost:8000"),
        interval_seconds=10,
        timeout_seconds=5,
        retries=5,
        start_period_seconds=20,
    )
    assert web.depends_on == (
        ContainerDependency("init", DependencyCondition.SUCCESS),
        ContainerDependency("side", DependencyCondition.START),
    )
    assert (web.start_timeout_seconds, web.stop_timeout_seconds, web.effective_stop_timeout) == (60, 10, 10)
    assert (web.working_directory, web.user, web.docker_labels) == ("/app", "1000", (("team", "web"),))
    assert (web.cpu, web.memory, web.memory_reservation, web.readonly_root_filesystem) == (
        128,
        256,
        128,
        True,
    )
    assert web.ulimits == (("nofile", 1024, 4096),)
    assert web.log_driver == "awslogs" and web.log_options == (("awslogs-region", "us-east-1"),)
    assert web.image_asset is None
    init, side = td.container("init"), td.container("side")
    assert not init.essential and not side.essential
    assert init.command is None and init.port_mappings == () and init.effective_stop_timeout == 30


def test_services(model: Any) -> None:
    svc = model.service("web-svc")
    tg = model.target_groups[0]
    assert svc.arn == "arn:aws:ecs:us-east-1:000000000000:service/prod/web-svc"
    assert (svc.cluster_name, svc.cluster_arn) == ("prod", "arn:aws:ecs:us-east-1:000000000000:cluster/prod")
    assert svc.task_definition_arn == model.task_definitions[0].arn
    assert svc.desired_count == 2
    assert svc.deployment_configuration == DeploymentConfiguration(
        150, 50, DeploymentCircuitBreaker(True, True)
    )
    assert svc.health_check_grace_period_seconds == 30
    assert svc.load_balancers == (ServiceLoadBalancer(tg.arn, "web", 8000),)
    assert svc.launch_type is None
    assert svc.capacity_provider_strategy == (("FARGATE_SPOT", 2, 0), ("FARGATE", 1, 1))
    assert svc.enable_execute_command and svc.assign_public_ip
    assert (svc.subnets, svc.security_groups, svc.propagate_tags) == (("subnet-1",), ("sg-1",), "SERVICE")
    plain = model.service("Plain")
    assert plain.cluster_name == "default" and plain.arn.endswith(":service/default/Plain")
    assert plain.desired_count == 1 and plain.launch_type == "FARGATE"
    assert plain.deployment_configuration == DeploymentConfiguration()  # 200 / 100, no circuit breaker
    assert plain.health_check_grace_period_seconds == 0 and not plain.enable_execute_command


def test_autoscaling_linked_to_service(model: Any) -> None:
    target = model.scalable_target("service/prod/web-svc")
    assert (target.min_capacity, target.max_capacity) == (2, 10)
    assert target.dynamic_scaling_in_suspended and not target.dynamic_scaling_out_suspended
    assert target.ref == "service/prod/web-svc|ecs:service:DesiredCount|ecs"
    cpu, req = model.policies_of("service/prod/web-svc")
    assert (cpu.name, cpu.metric, cpu.target_value) == ("cpu", PredefinedMetric.CPU, 50.0)
    assert (cpu.scale_in_cooldown_seconds, cpu.scale_out_cooldown_seconds, cpu.disable_scale_in) == (
        60,
        300,
        False,
    )
    assert cpu.arn.startswith("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:")
    assert cpu.arn.endswith(":resource/ecs/service/prod/web-svc:policyName/cpu")
    assert (req.metric, req.resource_label, req.target_value) == (
        PredefinedMetric.REQUEST_COUNT_PER_TARGET,
        "app/lb/1/targetgroup/tg/2",
        100.5,
    )
    assert req.disable_scale_in
    reasons = {n.logical_id: n.reason for n in model.not_emulated}
    assert reasons["Step"] == "StepScaling policy: not emulated"
    assert reasons["Dynamo"] == "scalable target of dynamodb: not emulated"


def test_task_definition_family_default_and_defaults() -> None:
    t = {
        "Resources": {
            "TD": res("AWS::ECS::TaskDefinition", ContainerDefinitions=[{"Name": "w", "Image": "x"}])
        }
    }
    (td,) = model_from_templates([("MyStack", t)]).task_definitions
    assert td.family == "MyStackTD" and td.arn.endswith(":task-definition/MyStackTD:1")
    assert (td.cpu, td.memory, td.cpu_architecture, td.operating_system_family) == (
        None,
        None,
        "X86_64",
        "LINUX",
    )


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            res("AWS::ECS::TaskDefinition", ContainerDefinitions=[]),
            "resource X, property Properties.ContainerDefinitions: a task definition needs at least one container",
        ),
        (
            res(
                "AWS::ECS::TaskDefinition",
                ContainerDefinitions=[{"Name": "a", "Image": "x"}, {"Name": "a", "Image": "y"}],
            ),
            "property Properties.ContainerDefinitions: container names must be unique",
        ),
        (
            res(
                "AWS::ECS::TaskDefinition",
                ContainerDefinitions=[
                    {"Name": "a", "Image": "x", "DependsOn": [{"ContainerName": "b", "Condition": "LATER"}]}
                ],
            ),
            "property Properties.ContainerDefinitions[0].DependsOn[0].Condition: unknown dependency condition 'LATER'",
        ),
        (
            res(
                "AWS::ECS::TaskDefinition",
                ContainerDefinitions=[{"Name": "a", "Image": "x", "PortMappings": [{}]}],
            ),
            "property Properties.ContainerDefinitions[0].PortMappings[0].ContainerPort: required property is missing",
        ),
        (
            res(
                "AWS::ECS::Service",
                TaskDefinition="td",
                DeploymentConfiguration={"MaximumPercent": 50, "MinimumHealthyPercent": 100},
            ),
            "property Properties.DeploymentConfiguration: MinimumHealthyPercent 100 / MaximumPercent 50 are inconsistent",
        ),
        (
            res(
                "AWS::ECS::Service",
                TaskDefinition="td",
                LoadBalancers=[{"LoadBalancerName": "classic", "ContainerName": "a", "ContainerPort": 1}],
            ),
            "property Properties.LoadBalancers[0].TargetGroupArn: only target-group load balancing is emulated",
        ),
        (
            res("AWS::ECS::Service"),
            "property Properties.TaskDefinition: required property is missing",
        ),
        (
            res(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                ResourceId="service/a/b",
                MinCapacity=5,
                MaxCapacity=2,
            ),
            "property Properties.MinCapacity: MinCapacity 5 / MaxCapacity 2 are inconsistent",
        ),
        (
            res("AWS::ApplicationAutoScaling::ScalingPolicy", PolicyName="p", ScalingTargetId="nonsense"),
            "property Properties.ScalingTargetId: not a scalable target reference: 'nonsense'",
        ),
        (
            res(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                PolicyName="p",
                ResourceId="service/a/b",
                TargetTrackingScalingPolicyConfiguration={},
            ),
            "property Properties.TargetTrackingScalingPolicyConfiguration.TargetValue: required property is missing",
        ),
    ],
)
def test_errors(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(AssemblyError) as info:
        model_from_templates([("S", {"Resources": {"X": resource}})])
    assert str(info.value).startswith("stack S, resource X, property Properties.")
    assert message in str(info.value)


def test_size_forms_task_definition_forms_and_implicit_cluster() -> None:
    t = {
        "Resources": {
            "TD": res(
                "AWS::ECS::TaskDefinition",
                Family="f",
                Cpu="0.5 vCPU",
                Memory="2 GB",
                ContainerDefinitions=[{"Name": "w", "Image": "x"}],
            ),
            "ByFamily": res("AWS::ECS::Service", TaskDefinition="f"),
            "ByRevision": res("AWS::ECS::Service", TaskDefinition="f:1", Cluster="other"),
        }
    }
    m = model_from_templates([("S", t)])
    (td,) = m.task_definitions
    assert (td.cpu, td.memory) == (512, 2048)
    assert m.service("ByFamily").task_definition_arn == td.arn
    assert m.service("ByRevision").task_definition_arn == td.arn
    assert [(c.name, c.logical_id) for c in m.clusters] == [("default", ""), ("other", "")]
    t["Resources"]["TD"]["Properties"]["Cpu"] = "half vCPU"
    with pytest.raises(AssemblyError, match=r"property Properties\.Cpu: expected a number of vcpu"):
        model_from_templates([("S", t)])
