#!/usr/bin/env python3
"""classic: the Application Load Balanced Fargate service as the CDK pattern's introductions show it.

A VPC (max 2 AZs), a cluster, a Fargate task definition with one nginx container from the public registry
(port 80), and ApplicationLoadBalancedFargateService with 2 tasks behind a public ALB listening on 80.

What changed from the CDK v1 form of this app:
- `from aws_cdk import core`, `core.App()`, `core.Stack` -> `import aws_cdk as cdk`, `cdk.App()`, `cdk.Stack`.
- `from aws_cdk import aws_ec2, aws_ecs, aws_ecs_patterns` now come from the one `aws-cdk-lib` package
  (v1 had one pip package per service: aws-cdk.aws-ec2, aws-cdk.aws-ecs, aws-cdk.aws-ecs-patterns, ...).
- `Construct` comes from the separate `constructs` package (`from constructs import Construct`), not core.
- Stacks take `construct_id` (v1 samples used `id`, shadowing the builtin); `app.synth()` is unchanged.
- Feature flags that were opt-in under v1 are the default in v2; cdk.json holds the recommended new ones.
- requirements.txt pins `aws-cdk-lib` + `constructs>=10` instead of a list of `aws-cdk.*` v1 packages.
"""

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from constructs import Construct


class ClassicStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        vpc = ec2.Vpc(self, "MyVpc", max_azs=2)  # default subnets: 1 public + 1 private per AZ, 1 NAT per AZ

        cluster = ecs.Cluster(self, "MyCluster", vpc=vpc)

        task_definition = ecs.FargateTaskDefinition(self, "TaskDef", cpu=256, memory_limit_mib=512)
        container = task_definition.add_container(
            "web",
            image=ecs.ContainerImage.from_registry("nginx"),
        )
        container.add_port_mappings(ecs.PortMapping(container_port=80))

        ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "MyFargateService",
            cluster=cluster,
            task_definition=task_definition,
            desired_count=2,
            listener_port=80,
            public_load_balancer=True,
        )


app = cdk.App()
ClassicStack(app, "ClassicStack")
app.synth()
