"""``LoadBalancedWebService``: an Application Load Balanced Fargate service with production defaults.

Wraps ``aws_ecs_patterns.ApplicationLoadBalancedFargateService`` and closes the gaps users report against
it: the target-group health check, deregistration delay and stickiness as props (aws-cdk #6498),
autoscaling as props, circuit breaker with rollback on, 100 %/200 % deployment bounds, Container Insights,
a log group with retention, Fargate Spot weight, ARM64, HTTPS from a certificate ARN or a domain with an
HTTP->HTTPS redirect, and VPC options including the NAT gateway count.

Shaped like aws-cdk's pattern base class: one props object (``props.py``, every option with its default),
validated first (``validation.py``), then the private builders of ``builders.py`` (network, task, service,
scaling, outputs); the created resources are attributes, and ``CfnOutput`` ``Url`` carries the service URL.
The options are documented in ``docs/define.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, overload

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from constructs import Construct

from albfargate.cdk import builders
from albfargate.cdk.nag import acknowledge_service_findings
from albfargate.cdk.props import LoadBalancedWebServiceProps
from albfargate.cdk.validation import validate

_P = ParamSpec("_P")


def _keywords_of(
    props_type: Callable[_P, object],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, Construct, str, _P], None]]:
    """Type the construct's keyword form with the keyword arguments of ``props_type``: the props' fields
    stay the one list of options, and a type checker still checks every keyword and its type."""

    def typed(init: Callable[..., None]) -> Callable[Concatenate[Any, Construct, str, _P], None]:
        return init

    return typed


class LoadBalancedWebService(Construct):
    """An HTTP(S) web service on Fargate behind an Application Load Balancer.

    ``LoadBalancedWebService(scope, id, directory="service", container_port=8080, ...)`` with the options
    of :class:`LoadBalancedWebServiceProps` as keywords, or ``LoadBalancedWebService(scope, id, props)``
    with a props object (``dataclasses.replace(props, ...)`` derives another).

    Attributes: ``props``, ``vpc``, ``cluster``, ``service``, ``task_definition``, ``container``,
    ``load_balancer``, ``listener``, ``redirect_listener`` (or None), ``target_group``, ``log_group``,
    ``certificate`` (or None), ``scaling`` (``ScalableTaskCount`` or None), ``pattern`` (the wrapped
    ``ApplicationLoadBalancedFargateService``), ``url`` (str token), ``url_output`` (``CfnOutput``) and
    ``acknowledged_nag_rules``.
    """

    @overload
    def __init__(self, scope: Construct, construct_id: str, props: LoadBalancedWebServiceProps) -> None: ...

    @overload
    @_keywords_of(LoadBalancedWebServiceProps)
    def __init__(self, scope: Construct, construct_id: str, **options: Any) -> None: ...

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        props: LoadBalancedWebServiceProps | None = None,
        **options: Any,
    ) -> None:
        if props is not None and options:
            raise TypeError(
                "LoadBalancedWebService takes a props object or keyword options, not both "
                f"(got props and {', '.join(sorted(options))}); use dataclasses.replace(props, ...)"
            )
        if props is None:
            props = LoadBalancedWebServiceProps(**options)
        elif not isinstance(props, LoadBalancedWebServiceProps):
            raise TypeError(f"props must be a LoadBalancedWebServiceProps, got {type(props).__name__}")
        super().__init__(scope, construct_id)
        resolved = validate(props)  # before any resource is created
        self.props = props

        network = builders.build_network(self, props, resolved)
        self.vpc: ec2.IVpc = network.vpc
        self.cluster: ecs.ICluster = network.cluster
        task = builders.build_task(self, props)
        self.log_group: logs.LogGroup = task.log_group
        service = builders.build_service(self, props, resolved, network, task)
        self.pattern: ecs_patterns.ApplicationLoadBalancedFargateService = service.pattern
        self.certificate: acm.ICertificate | None = service.certificate
        self.service: ecs.FargateService = self.pattern.service
        self.task_definition: ecs.FargateTaskDefinition = self.pattern.task_definition
        container = self.task_definition.default_container
        assert container is not None
        self.container: ecs.ContainerDefinition = container
        self.load_balancer: elbv2.ApplicationLoadBalancer = self.pattern.load_balancer
        self.listener: elbv2.ApplicationListener = self.pattern.listener
        self.redirect_listener: elbv2.ApplicationListener | None = self.pattern.redirect_listener
        self.target_group: elbv2.ApplicationTargetGroup = self.pattern.target_group
        self.scaling: ecs.ScalableTaskCount | None = builders.build_scaling(
            self.service, self.target_group, props, resolved
        )
        builders.record_local_run_setting(self.task_definition, self.container.container_name)
        self.url: str
        self.url_output: cdk.CfnOutput
        self.url, self.url_output = builders.build_outputs(self, props, resolved, self.load_balancer)

        self.acknowledged_nag_rules = acknowledge_service_findings(
            self,
            created_vpc=resolved.created_vpc,
            flow_logs=props.flow_logs,
            access_logs=props.access_logs_bucket is not None,
            public_load_balancer=props.public_load_balancer,
            has_environment=bool(props.environment),
        )

    @property
    def settings(self) -> LoadBalancedWebServiceProps:
        """The validated props (the name before ``props``; kept for compatibility)."""
        return self.props
