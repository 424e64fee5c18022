"""The live providers: CloudFormation resources the local system runs, made through
:class:`LiveSystem` -- the engine's public commands, the same ones the AWS API uses (the adapter over
them is ``albfargate.api.cloudformation.system``).

Live: ELBv2 load balancers, listeners, listener rules, target groups; ECS clusters, task definitions,
services (a service completes when its deployment is steady; a deployment the circuit breaker stops
fails the resource with "ECS Deployment Circuit Breaker was triggered"); Application Auto Scaling
targets and policies; S3 buckets (a bucket that is not empty cannot be deleted, as on AWS, unless the
CDK's ``Custom::S3AutoDeleteObjects`` resource empties it first: its delete is emulated); SSM parameters
and Secrets Manager secrets. RDS databases and secret attachments are made live by
``albfargate.api.rds.provider`` (registered), ECR repositories by ``albfargate.api.ecr.provider``. Every
other type is an inert record (:class:`albfargate.cfn.providers.InertProvider`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from albfargate.cfn.providers import Provider, ProviderResult, ResourceFailed, ResourceRequest
from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.backing import Parameter, SecretSpec
from albfargate.model.ecs import Cluster, Service, TaskDefinition
from albfargate.model.elbv2 import Listener, LoadBalancer, Rule, TargetGroup
from albfargate.model.s3 import Bucket


@dataclass(frozen=True)
class DeploymentState:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    rollout_state: str  # IN_PROGRESS | COMPLETED | FAILED
    task_definition_arn: str
    rollout_state_reason: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True)
class ServiceState:
    """An ECS service as a CloudFormation provider waits on it."""

    status: str  # ACTIVE | DRAINING | INACTIVE
    desired_count: int
    running_count: int
    deployments: tuple[DeploymentState, ...] = ()
    events: tuple[str, ...] = ()  # newest first

    @property
    def primary(self) -> DeploymentState | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


class LiveSystem(Protocol):
    """What the live providers need from the running system. Every method changes the system the way the
    matching AWS API call does (the ELBv2 configuration store and the data plane, the ECS store and
    scheduler, the Application Auto Scaling configuration, the S3 buckets, the SSM and Secrets Manager
    stores); it raises :class:`~albfargate.cfn.providers.ResourceFailed` with AWS's message when
    refused."""

    # ELBv2
    async def put_load_balancer(self, lb: LoadBalancer) -> None: ...
    async def delete_load_balancer(self, arn: str) -> None: ...
    async def put_listener(self, listener: Listener) -> None: ...
    async def delete_listener(self, arn: str) -> None: ...
    async def put_rule(self, rule: Rule) -> None: ...
    async def delete_rule(self, arn: str) -> None: ...
    async def put_target_group(self, tg: TargetGroup) -> None: ...
    async def delete_target_group(self, arn: str) -> None: ...

    # ECS
    async def put_cluster(self, cluster: Cluster) -> None: ...
    async def delete_cluster(self, arn: str) -> None: ...
    async def register_task_definition(self, td: TaskDefinition) -> str: ...  # the registered ARN
    async def deregister_task_definition(self, arn: str) -> None: ...
    async def create_service(self, service: Service) -> None: ...
    async def update_service(self, service: Service, *, desired_count: bool = True) -> None: ...
    async def delete_service(self, arn: str) -> None: ...
    def service_state(self, arn: str) -> ServiceState | None: ...

    # Application Auto Scaling
    async def put_scalable_target(self, target: ScalableTarget) -> None: ...
    async def delete_scalable_target(self, target: ScalableTarget) -> None: ...
    async def put_scaling_policy(self, policy: TargetTrackingPolicy) -> None: ...
    async def delete_scaling_policy(self, arn: str) -> None: ...

    # S3
    async def create_bucket(self, bucket: Bucket) -> None: ...
    async def update_bucket(self, bucket: Bucket) -> None: ...
    async def delete_bucket(self, name: str) -> None: ...
    async def empty_bucket(self, name: str) -> None: ...

    # SSM Parameter Store and Secrets Manager
    async def put_parameter(self, parameter: Parameter) -> None: ...
    async def delete_parameter(self, name: str) -> None: ...
    async def put_secret(self, spec: SecretSpec) -> None: ...
    async def delete_secret(self, arn: str) -> None: ...

    # reading (SSM-typed template parameters, the CDK's BootstrapVersion one)
    def ssm_parameter(self, name: str) -> str | None: ...


#: How often a provider looks at what it waits for (an ECS service's deployment, its draining).
POLL_SECONDS = 0.25

CIRCUIT_BREAKER = "ECS Deployment Circuit Breaker was triggered"


def handler_message(message: str, code: str = "GeneralServiceException") -> str:
    """A failure reason as CloudFormation's resource handlers word it."""
    return f'Resource handler returned message: "{message}" (HandlerErrorCode: {code})'


def _one(request: ResourceRequest, kind: type[Any]) -> Any:
    for item in request.items:
        if isinstance(item, kind):
            return item
    raise ResourceFailed(
        handler_message(
            f"{request.type} {request.logical_id}: the template does not define it", "InvalidRequest"
        )
    )


def _previous(request: ResourceRequest) -> str:
    assert request.previous is not None and request.previous.physical_id is not None
    return request.previous.physical_id


def _system(request: ResourceRequest) -> LiveSystem:
    system: LiveSystem = request.system
    return system


# ---- ELBv2 ------------------------------------------------------------------------------------------


class LoadBalancerProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        lb: LoadBalancer = _one(request, LoadBalancer)
        await _system(request).put_load_balancer(lb)
        return ProviderResult(lb.arn)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_load_balancer(_previous(request))


class ListenerProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        listener: Listener = _one(request, Listener)
        await _system(request).put_listener(listener)
        return ProviderResult(listener.arn)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_listener(_previous(request))


class RuleProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        rule: Rule = _one(request, Rule)
        await _system(request).put_rule(rule)
        return ProviderResult(rule.arn)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_rule(_previous(request))


class TargetGroupProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        tg: TargetGroup = _one(request, TargetGroup)
        await _system(request).put_target_group(tg)
        return ProviderResult(tg.arn)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_target_group(_previous(request))


# ---- ECS --------------------------------------------------------------------------------------------


class ClusterProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        cluster: Cluster = _one(request, Cluster)
        await _system(request).put_cluster(cluster)
        return ProviderResult(cluster.name, {"Arn": cluster.arn})

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        from albfargate.model import ids

        await _system(request).delete_cluster(ids.cluster_arn(_previous(request)))


class TaskDefinitionProvider:
    """Every change registers a new revision (CloudFormation replaces a task definition); its ARN is the
    physical id; delete deregisters it."""

    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        td: TaskDefinition = _one(request, TaskDefinition)
        arn = await _system(request).register_task_definition(td)
        return ProviderResult(arn, {"TaskDefinitionArn": arn})

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).deregister_task_definition(_previous(request))


class ServiceProvider:
    """Create and update return once the service's deployment is steady (its rollout COMPLETED, one
    deployment, the desired count running), as CloudFormation waits on ECS; a deployment the circuit
    breaker stopped fails the resource. Delete scales to 0, waits for the tasks to stop (draining) and
    removes the service."""

    live = True

    def __init__(self, poll: float = POLL_SECONDS) -> None:
        self.poll = poll

    async def create(self, request: ResourceRequest) -> ProviderResult:
        service: Service = _one(request, Service)
        system = _system(request)
        await system.create_service(service)
        request.initiated(service.arn)
        await self._steady(system, service.arn, (), service.task_definition_arn)
        return ProviderResult(service.arn, {"Name": service.name, "ServiceArn": service.arn})

    async def update(self, request: ResourceRequest) -> ProviderResult:
        service: Service = _one(request, Service)
        system = _system(request)
        before = system.service_state(service.arn)
        if before is None or before.status != "ACTIVE":
            raise ResourceFailed(handler_message(f"Service {service.name} was not found", "NotFound"))
        previous = request.previous.properties if request.previous is not None else {}
        # as CloudFormation: the desired count is set only when the template changed it (autoscaling
        # may have moved it since)
        desired = request.properties.get("DesiredCount") != previous.get("DesiredCount")
        await system.update_service(service, desired_count=desired)
        request.initiated(service.arn)
        known = tuple(d.id for d in before.deployments)
        await self._steady(system, service.arn, known, service.task_definition_arn)
        return ProviderResult(service.arn, {"Name": service.name, "ServiceArn": service.arn})

    async def _steady(self, system: LiveSystem, arn: str, known: Sequence[str], want: str) -> None:
        """Wait until the service is steady on task definition ``want``. ``known``: the deployments
        before the change. A deployment of ``want`` that fails, or a service that settles on another
        task definition (ECS rolled the failed deployment back), fails the resource."""
        breaker = ResourceFailed(handler_message(f"Error occurred during operation '{CIRCUIT_BREAKER}'."))
        while True:
            state = system.service_state(arn)
            if state is None or state.status != "ACTIVE":
                raise ResourceFailed(handler_message(f"Service {arn.rsplit('/', 1)[-1]} is not active"))
            new = [d for d in state.deployments if d.id not in known]
            if any(d.task_definition_arn == want and d.rollout_state == "FAILED" for d in new):
                raise breaker
            primary = state.primary
            steady = (
                primary is not None
                and len(state.deployments) == 1
                and primary.rollout_state == "COMPLETED"
                and state.running_count == state.desired_count
            )
            if primary is not None and primary.id not in known and primary.task_definition_arn != want:
                raise breaker  # ECS rolled back to an earlier task definition
            if steady and primary is not None:
                if primary.task_definition_arn != want:
                    raise breaker
                return
            await asyncio.sleep(self.poll)

    async def delete(self, request: ResourceRequest) -> None:
        arn = _previous(request)
        system = _system(request)
        state = system.service_state(arn)
        if state is None or state.status == "INACTIVE":
            return
        if state.status == "ACTIVE":
            await system.delete_service(arn)
        while True:
            state = system.service_state(arn)
            if state is None or state.status == "INACTIVE":
                return
            await asyncio.sleep(self.poll)


# ---- Application Auto Scaling ---------------------------------------------------------------------------


class ScalableTargetProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        target: ScalableTarget = _one(request, ScalableTarget)
        await _system(request).put_scalable_target(target)
        return ProviderResult(request.physical_id)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        # the physical id is ``<ResourceId>|<ScalableDimension>|<ServiceNamespace>`` (ScalableTarget.ref)
        resource_id, _, rest = _previous(request).partition("|")
        dimension, _, namespace = rest.partition("|")
        target = ScalableTarget(
            resource_id=resource_id,
            min_capacity=0,
            max_capacity=0,
            service_namespace=namespace or "ecs",
            scalable_dimension=dimension or "ecs:service:DesiredCount",
        )
        await _system(request).delete_scalable_target(target)


class ScalingPolicyProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        found = [i for i in request.items if isinstance(i, TargetTrackingPolicy)]
        if found:  # step scaling policies are records only (the autoscaler tracks targets)
            await _system(request).put_scaling_policy(found[0])
            return ProviderResult(found[0].arn)
        return ProviderResult(request.physical_id)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_scaling_policy(_previous(request))


# ---- S3 ---------------------------------------------------------------------------------------------------


class BucketProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        bucket: Bucket = _one(request, Bucket)
        await _system(request).create_bucket(bucket)
        return ProviderResult(bucket.name)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        bucket: Bucket = _one(request, Bucket)
        await _system(request).update_bucket(bucket)  # versioning and tags; the name is the same
        return ProviderResult(bucket.name)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_bucket(_previous(request))


class AutoDeleteObjectsProvider:
    """The CDK's ``autoDeleteObjects: true`` is a Lambda-backed custom resource
    (``Custom::S3AutoDeleteObjects``, property ``BucketName``) that empties the bucket when the
    resource is deleted or moved to another bucket. No Lambda runs locally: its effect is emulated, so
    ``cdk destroy`` of a stack with such a bucket succeeds as on AWS."""

    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        return ProviderResult(request.physical_id)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        old = request.previous.properties.get("BucketName") if request.previous else None
        if old and old != request.properties.get("BucketName"):
            await _system(request).empty_bucket(str(old))
        return ProviderResult(request.physical_id)

    async def delete(self, request: ResourceRequest) -> None:
        assert request.previous is not None
        name = request.previous.properties.get("BucketName")
        if name:
            await _system(request).empty_bucket(str(name))


# ---- SSM and Secrets Manager ----------------------------------------------------------------------------


class ParameterProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        parameter: Parameter = _one(request, Parameter)
        await _system(request).put_parameter(parameter)
        return ProviderResult(parameter.name)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_parameter(_previous(request))


class SecretProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        spec: SecretSpec = _one(request, SecretSpec)
        await _system(request).put_secret(spec)
        return ProviderResult(spec.arn)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return await self.create(request)

    async def delete(self, request: ResourceRequest) -> None:
        await _system(request).delete_secret(_previous(request))


PROVIDERS: dict[str, Provider] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": LoadBalancerProvider(),
    "AWS::ElasticLoadBalancingV2::Listener": ListenerProvider(),
    "AWS::ElasticLoadBalancingV2::ListenerRule": RuleProvider(),
    "AWS::ElasticLoadBalancingV2::TargetGroup": TargetGroupProvider(),
    "AWS::ECS::Cluster": ClusterProvider(),
    "AWS::ECS::TaskDefinition": TaskDefinitionProvider(),
    "AWS::ECS::Service": ServiceProvider(),
    "AWS::ApplicationAutoScaling::ScalableTarget": ScalableTargetProvider(),
    "AWS::ApplicationAutoScaling::ScalingPolicy": ScalingPolicyProvider(),
    "AWS::S3::Bucket": BucketProvider(),
    "Custom::S3AutoDeleteObjects": AutoDeleteObjectsProvider(),
    "AWS::SSM::Parameter": ParameterProvider(),
    "AWS::SecretsManager::Secret": SecretProvider(),
}
