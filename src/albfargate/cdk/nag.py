"""cdk-nag (AwsSolutions pack) acknowledgments for ``LoadBalancedWebService``, each with its reason.

cdk-nag v3 runs as a CDK policy-validation plugin (``Validations.of(app).add_plugins(AwsSolutionsChecks
(app))``, see :func:`add_aws_solutions_checks`) and findings are acknowledged with
``Validations.of(construct).acknowledge``. Each acknowledgment is made only when the prop that would fix
the finding is off, so turning the prop on removes both the finding and its acknowledgment.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

PACK = "AwsSolutions"


def add_aws_solutions_checks(scope: Construct) -> Any:
    """Register the AwsSolutions pack on ``scope`` (normally the App); returns the pack."""
    from cdk_nag import AwsSolutionsChecks

    pack = AwsSolutionsChecks(scope)
    cdk.Validations.of(scope).add_plugins(pack)
    return pack


def _ack(scope: Construct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def acknowledge_service_findings(
    service: Any,
    *,
    created_vpc: bool,
    flow_logs: bool,
    access_logs: bool,
    public_load_balancer: bool,
    has_environment: bool,
) -> list[str]:
    """Acknowledge the AwsSolutions findings the construct's defaults leave, with reasons; returns the
    rule ids acknowledged (for tests and docs)."""
    done: list[str] = []

    def ack(scope: Construct, rule: str, reason: str) -> None:
        _ack(scope, rule, reason)
        done.append(rule)

    if created_vpc and not flow_logs:
        ack(
            service.vpc,
            "VPC7",
            "VPC flow logs are off by default because they bill per GB ingested and are usually an "
            "account-level control; set flow_logs=True to create one (then this is not acknowledged).",
        )
    if not access_logs:
        ack(
            service.load_balancer,
            "ELB2",
            "ALB access logs need an S3 bucket the user owns (retention, encryption, region policy); "
            "pass access_logs_bucket to enable them (then this is not acknowledged).",
        )
    if public_load_balancer:
        ack(
            service.load_balancer,
            "EC23",
            "An internet-facing web service must accept its listener ports from 0.0.0.0/0; only the "
            "listener ports are open and the tasks accept traffic from the ALB security group only.",
        )
    else:
        ack(
            service.load_balancer,
            "EC23",
            "The internal ALB's listener ports are open to the VPC's own CIDR block only; cdk-nag cannot "
            "resolve that CIDR (a CloudFormation GetAtt) and so reports it as possibly open.",
        )
    if has_environment:
        ack(
            service.task_definition,
            "ECS2",
            "Plain environment variables carry non-secret configuration by design; secret values go "
            "through the secrets prop (Secrets Manager / SSM), never through environment.",
        )
    # The execution role's generated policy (ECR pull, logs) and the ECS Exec task-role policy use
    # Resource '*' for actions that support no resource-level permissions.
    ack(
        service.task_definition,
        "IAM5[Resource::*]",
        "CDK-generated grants: ecr:GetAuthorizationToken and (with ECS Exec) ssmmessages:* support no "
        "resource-level permissions, so AWS requires Resource '*'; every other grant is scoped.",
    )
    return done
