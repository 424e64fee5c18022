"""LoadBalancedWebService: one stack and one Template per case, asserting what each option writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

cdk = pytest.importorskip("aws_cdk")

from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_ecs as ecs  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_route53 as route53  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_ssm as ssm  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from albfargate.cdk import LoadBalancedWebService, LoadBalancedWebServiceProps, ServicePropsError  # noqa: E402

pytestmark = pytest.mark.cdk

ENV = cdk.Environment(account="123456789012", region="us-east-1")
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def build(
    before: Callable[[Any], dict[str, Any]] | None = None, **props: Any
) -> tuple[Template, LoadBalancedWebService]:
    app = cdk.App()
    stack = cdk.Stack(app, "Test", env=ENV)
    if before is not None:
        props.update(before(stack))
    props.setdefault("image", "nginx")
    web = LoadBalancedWebService(stack, "Web", **props)
    return Template.from_stack(stack), web


def tg_attributes(t: Template) -> dict[str, str]:
    (tg,) = t.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    return {a["Key"]: a["Value"] for a in tg["Properties"].get("TargetGroupAttributes", [])}


def lb_attributes(t: Template) -> dict[str, str]:
    (lb,) = t.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    return {a["Key"]: a["Value"] for a in lb["Properties"].get("LoadBalancerAttributes", [])}


def url_output(t: Template) -> dict[str, Any]:
    (out,) = [v for k, v in t.find_outputs("*").items() if k.startswith("WebUrl")]
    return dict(out)


def lb_id(t: Template) -> str:
    (logical_id,) = t.find_resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    return str(logical_id)


def test_defaults() -> None:
    t, web = build()
    t.resource_count_is("AWS::EC2::VPC", 1)
    t.resource_count_is("AWS::EC2::Subnet", 4)
    t.resource_count_is("AWS::EC2::NatGateway", 1)  # cost: one NAT by default
    t.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "256",
            "Memory": "512",
            "NetworkMode": "awsvpc",
            "RuntimePlatform": {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Name": "web",
                        "Image": "nginx",
                        "PortMappings": [Match.object_like({"ContainerPort": 8080})],
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                    }
                )
            ],
        },
    )
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DesiredCount": 2,
            "LaunchType": "FARGATE",
            "HealthCheckGracePeriodSeconds": 60,
            "EnableExecuteCommand": False,
            "DeploymentConfiguration": {
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                "MaximumPercent": 200,
                "MinimumHealthyPercent": 100,
            },
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "TargetType": "ip",
            "Port": 80,
            "Protocol": "HTTP",
            "HealthCheckPath": "/",
            "HealthCheckIntervalSeconds": 15,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Matcher": {"HttpCode": "200"},
        },
    )
    assert tg_attributes(t)["deregistration_delay.timeout_seconds"] == "30"
    assert tg_attributes(t).get("stickiness.enabled", "false") == "false"
    assert lb_attributes(t)["idle_timeout.timeout_seconds"] == "60"
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internet-facing"})
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"})
    t.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    t.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    out = url_output(t)
    assert out["Description"] == "The service URL"
    assert out["Value"] == {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [lb_id(t), "DNSName"]}]]}
    # created resources are attributes
    assert web.scaling is None and web.redirect_listener is None and web.certificate is None
    for attr in (
        "vpc",
        "cluster",
        "service",
        "task_definition",
        "container",
        "load_balancer",
        "listener",
        "target_group",
        "log_group",
        "pattern",
        "url_output",
    ):
        assert getattr(web, attr) is not None, attr
    assert web.container.container_name == "web"


def test_health_check_props() -> None:
    t, _ = build(
        health_check_path="/health",
        health_check_interval=cdk.Duration.seconds(10),
        health_check_timeout=cdk.Duration.seconds(3),
        healthy_threshold_count=3,
        unhealthy_threshold_count=4,
        health_check_matcher="200-299",
        health_check_grace_period=cdk.Duration.seconds(120),
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 10,
            "HealthCheckTimeoutSeconds": 3,
            "HealthyThresholdCount": 3,
            "UnhealthyThresholdCount": 4,
            "Matcher": {"HttpCode": "200-299"},
        },
    )
    t.has_resource_properties("AWS::ECS::Service", {"HealthCheckGracePeriodSeconds": 120})


def test_target_group_and_lb_attributes() -> None:
    t, _ = build(
        deregistration_delay=cdk.Duration.seconds(5),
        stickiness=cdk.Duration.minutes(10),
        idle_timeout=cdk.Duration.seconds(120),
    )
    attrs = tg_attributes(t)
    assert attrs["deregistration_delay.timeout_seconds"] == "5"
    assert attrs["stickiness.enabled"] == "true"
    assert attrs["stickiness.type"] == "lb_cookie"
    assert attrs["stickiness.lb_cookie.duration_seconds"] == "600"
    assert lb_attributes(t)["idle_timeout.timeout_seconds"] == "120"


def test_autoscaling_all_targets() -> None:
    t, web = build(
        min_tasks=1,
        max_tasks=6,
        cpu_target_percent=55,
        memory_target_percent=75,
        requests_per_target=300,
        scale_in_cooldown=cdk.Duration.seconds(120),
        scale_out_cooldown=cdk.Duration.seconds(30),
    )
    assert web.scaling is not None
    t.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 1, "MaxCapacity": 6, "ScalableDimension": "ecs:service:DesiredCount"},
    )
    t.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 3)
    for metric, value in (
        ("ECSServiceAverageCPUUtilization", 55),
        ("ECSServiceAverageMemoryUtilization", 75),
        ("ALBRequestCountPerTarget", 300),
    ):
        t.has_resource_properties(
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                    {
                        "PredefinedMetricSpecification": Match.object_like({"PredefinedMetricType": metric}),
                        "TargetValue": value,
                        "ScaleInCooldown": 120,
                        "ScaleOutCooldown": 30,
                    }
                ),
            },
        )


def test_autoscaling_default_is_cpu_70() -> None:
    t, _ = build(max_tasks=4)
    t.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 4}
    )
    t.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)
    t.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {"TargetValue": 70, "ScaleInCooldown": 60, "ScaleOutCooldown": 60}
            )
        },
    )


def test_deployment_options() -> None:
    t, _ = build(circuit_breaker=False, rollback=False, min_healthy_percent=50, max_healthy_percent=150)
    (svc,) = t.find_resources("AWS::ECS::Service").values()
    dc = svc["Properties"]["DeploymentConfiguration"]
    assert dc["MinimumHealthyPercent"] == 50 and dc["MaximumPercent"] == 150
    assert "DeploymentCircuitBreaker" not in dc


def test_circuit_breaker_without_rollback() -> None:
    t, _ = build(rollback=False)
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": False}}
            )
        },
    )


def test_https_from_certificate_arn_with_redirect() -> None:
    t, web = build(certificate_arn=CERT)
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Protocol": "HTTPS", "Certificates": [{"CertificateArn": CERT}]},
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [
                Match.object_like(
                    {
                        "Type": "redirect",
                        "RedirectConfig": Match.object_like(
                            {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
                        ),
                    }
                )
            ],
        },
    )
    assert web.redirect_listener is not None and web.certificate is not None
    (out,) = [v for k, v in t.find_outputs("*").items() if k.startswith("WebUrl")]
    assert "https://" in str(out["Value"])


def test_https_without_redirect() -> None:
    t, web = build(certificate_arn=CERT, redirect_http=False, listener_port=8443)
    t.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 8443, "Protocol": "HTTPS"})
    assert web.redirect_listener is None
    lb_dns = {"Fn::GetAtt": [lb_id(t), "DNSName"]}
    assert url_output(t)["Value"] == {"Fn::Join": ["", ["https://", lb_dns, ":8443"]]}


def test_https_from_domain_and_zone() -> None:
    def zone(stack: Any) -> dict[str, Any]:
        return {
            "domain_zone": route53.HostedZone.from_hosted_zone_attributes(
                stack, "Zone", hosted_zone_id="Z123", zone_name="example.com"
            )
        }

    t, web = build(zone, https=True, domain_name="app.example.com")
    t.has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {"DomainName": "app.example.com", "ValidationMethod": "DNS"},
    )
    t.has_resource_properties(
        "AWS::Route53::RecordSet", {"Name": "app.example.com.", "Type": "A", "HostedZoneId": "Z123"}
    )
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 443, "Protocol": "HTTPS"})
    assert web.url == "https://app.example.com"


def test_logs_exec_insights() -> None:
    t, _ = build(
        log_retention=logs.RetentionDays.ONE_WEEK, enable_execute_command=True, container_insights=False
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
    t.has_resource_properties("AWS::ECS::Service", {"EnableExecuteCommand": True})
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": Match.array_with(["ssmmessages:CreateControlChannel"])})]
                )
            }
        },
    )
    t.has_resource_properties(
        "AWS::ECS::Cluster", {"ClusterSettings": [{"Name": "containerInsights", "Value": "disabled"}]}
    )


def test_fargate_spot_weight() -> None:
    t, _ = build(spot_weight=3, on_demand_base=1)
    (svc,) = t.find_resources("AWS::ECS::Service").values()
    assert "LaunchType" not in svc["Properties"]
    assert svc["Properties"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 3},
    ]
    t.has_resource_properties(
        "AWS::ECS::ClusterCapacityProviderAssociations",
        {"CapacityProviders": Match.array_with(["FARGATE", "FARGATE_SPOT"])},
    )


def test_arm64_and_task_size() -> None:
    t, _ = build(arm64=True, cpu=1024, memory_limit_mib=3072, desired_count=3, container_port=3000)
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "1024",
            "Memory": "3072",
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
        },
    )
    t.has_resource_properties("AWS::ECS::Service", {"DesiredCount": 3})
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {"Port": 80})
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like({"PortMappings": [Match.object_like({"ContainerPort": 3000})]})
            ]
        },
    )


def test_environment_and_secrets() -> None:
    def secret(stack: Any) -> dict[str, Any]:
        param = ssm.StringParameter.from_secure_string_parameter_attributes(
            stack, "P", parameter_name="/app/db-password"
        )
        return {"secrets": {"DB_PASSWORD": ecs.Secret.from_ssm_parameter(param)}}

    t, _ = build(secret, environment={"GREETING": "hi", "MODE": "prod"}, command=["serve", "--fast"])
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Environment": [
                            {"Name": "GREETING", "Value": "hi"},
                            {"Name": "MODE", "Value": "prod"},
                        ],
                        "Secrets": [Match.object_like({"Name": "DB_PASSWORD"})],
                        "Command": ["serve", "--fast"],
                    }
                )
            ]
        },
    )


def test_internal_load_balancer_open_to_vpc_only() -> None:
    t, _ = build(public_load_balancer=False)
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"})
    (sg,) = [
        r
        for r in t.find_resources("AWS::EC2::SecurityGroup").values()
        if "ELB" in r["Properties"]["GroupDescription"]
    ]
    ingress = sg["Properties"]["SecurityGroupIngress"]
    assert len(ingress) == 1
    assert ingress[0]["FromPort"] == 80
    assert ingress[0]["CidrIp"] == {"Fn::GetAtt": [Match.any_value(), "CidrBlock"]} or "CidrBlock" in str(
        ingress[0]["CidrIp"]
    )
    assert "0.0.0.0/0" not in str(ingress)


def test_no_nat_gateways() -> None:
    t, _ = build(nat_gateways=0)
    t.resource_count_is("AWS::EC2::NatGateway", 0)
    t.has_resource_properties(
        "AWS::ECS::Service",
        {"NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "ENABLED"})}},
    )


def test_vpc_azs_and_nat_count() -> None:
    t, _ = build(max_azs=3, nat_gateways=2)
    t.resource_count_is("AWS::EC2::Subnet", 6)
    t.resource_count_is("AWS::EC2::NatGateway", 2)


def test_existing_vpc() -> None:
    def vpc(stack: Any) -> dict[str, Any]:
        return {"vpc": ec2.Vpc(stack, "Mine", max_azs=2, nat_gateways=1)}

    t, web = build(vpc)
    t.resource_count_is("AWS::EC2::VPC", 1)
    assert web.vpc.node.id == "Mine"


def test_existing_cluster() -> None:
    def cluster(stack: Any) -> dict[str, Any]:
        vpc = ec2.Vpc(stack, "Mine", max_azs=2, nat_gateways=1)
        return {"cluster": ecs.Cluster(stack, "MyCluster", vpc=vpc)}

    t, web = build(cluster)
    t.resource_count_is("AWS::ECS::Cluster", 1)
    assert web.cluster.node.id == "MyCluster"


def test_flow_logs_and_access_logs() -> None:
    def bucket(stack: Any) -> dict[str, Any]:
        return {"access_logs_bucket": s3.Bucket(stack, "Logs", enforce_ssl=True)}

    t, web = build(bucket, flow_logs=True, access_logs_prefix="web")
    t.resource_count_is("AWS::EC2::FlowLog", 1)
    attrs = lb_attributes(t)
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.prefix"] == "web"
    assert "VPC7" not in web.acknowledged_nag_rules and "ELB2" not in web.acknowledged_nag_rules


def test_image_from_directory_is_an_asset(tmp_path: Any) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    app = cdk.App()
    stack = cdk.Stack(app, "Test", env=ENV)
    LoadBalancedWebService(stack, "Web", directory=str(tmp_path))
    t = Template.from_stack(stack)
    (td,) = t.find_resources("AWS::ECS::TaskDefinition").values()
    image = td["Properties"]["ContainerDefinitions"][0]["Image"]
    assert "cdk-hnb659fds-container-assets" in str(image)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"image": None}, "exactly one of image and directory must be given"),
        ({"directory": "/x"}, "exactly one of image and directory must be given"),
        ({"cpu": 256, "memory_limit_mib": 4096}, "memory_limit_mib 4096 is not valid with cpu 256"),
        ({"health_check_timeout": cdk.Duration.seconds(20)}, "health_check_timeout (20 s) must be smaller"),
        ({"stickiness": cdk.Duration.days(8)}, "stickiness must be between 1 and 604800 s"),
        ({"https": True}, "https=True needs certificate_arn"),
        ({"spot_weight": 1, "arm64": True}, "Fargate Spot runs only X86_64 tasks"),
        ({"cpu_target_percent": 50}, "cpu_target_percent needs max_tasks"),
    ],
)
def test_construct_validates_before_creating(props: dict[str, Any], message: str) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Test", env=ENV)
    props.setdefault("image", "nginx")
    with pytest.raises(ServicePropsError) as info:
        LoadBalancedWebService(stack, "Web", **props)
    assert message in str(info.value)
    web = stack.node.try_find_child("Web")
    assert web is not None and len(web.node.children) == 0  # nothing created before validation


def test_duration_props_must_be_durations() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Test", env=ENV)
    with pytest.raises(TypeError, match=r"idle_timeout must be an aws_cdk\.Duration"):
        LoadBalancedWebService(stack, "Web", image="nginx", idle_timeout=60)  # type: ignore[arg-type]


def test_a_props_object_makes_the_template_the_keywords_make() -> None:
    options: dict[str, Any] = {
        "image": "nginx",
        "container_port": 3000,
        "max_tasks": 4,
        "health_check_interval": cdk.Duration.seconds(10),
        "certificate_arn": CERT,
    }
    by_keywords, _ = build(**options)
    props = LoadBalancedWebServiceProps(**options)
    for form in ("positional", "keyword"):
        app = cdk.App()
        stack = cdk.Stack(app, "Test", env=ENV)
        web = (
            LoadBalancedWebService(stack, "Web", props)
            if form == "positional"
            else LoadBalancedWebService(stack, "Web", props=props)
        )
        assert Template.from_stack(stack).to_json() == by_keywords.to_json(), form
        assert web.props is props and web.settings is props


def test_props_and_keywords_together_are_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Test", env=ENV)
    props = LoadBalancedWebServiceProps(image="nginx")
    with pytest.raises(TypeError, match=r"a props object or keyword options, not both \(got props and cpu\)"):
        LoadBalancedWebService(stack, "Web", props, cpu=512)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="props must be a LoadBalancedWebServiceProps, got dict"):
        LoadBalancedWebService(stack, "Web", {"image": "nginx"})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unexpected keyword argument 'contianer_port'"):
        LoadBalancedWebService(stack, "Web", image="nginx", contianer_port=80)  # type: ignore[call-overload]
    assert stack.node.try_find_child("Web") is None  # refused before the construct was made


def test_the_local_run_setting_is_recorded_only_against_a_local_endpoint(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from albfargate.model.ecs import RUN_SETTINGS_METADATA

    (tmp_path / "albfargate.toml").write_text('[containers.web]\ncommand = ["python3", "server.py"]\n')
    monkeypatch.chdir(tmp_path)  # the CDK CLI runs the app in its directory
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    t, _ = build(container_name="web")
    (td,) = t.find_resources("AWS::ECS::TaskDefinition").values()
    assert RUN_SETTINGS_METADATA not in (td.get("Metadata") or {})  # a template for AWS is unchanged

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")  # after eval "$(albfargate env)"
    t, _ = build(container_name="web")
    (td,) = t.find_resources("AWS::ECS::TaskDefinition").values()
    assert td["Metadata"][RUN_SETTINGS_METADATA] == {
        "web": {"command": ["python3", "server.py"], "workdir": str(tmp_path), "env": {}, "port_env": "PORT"}
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://ecs.us-east-1.amazonaws.com")
    t, _ = build(container_name="web")
    (td,) = t.find_resources("AWS::ECS::TaskDefinition").values()
    assert RUN_SETTINGS_METADATA not in (td.get("Metadata") or {})
