"""The whole system read from an assembly: every emulated resource (the backing resources too: databases,
secrets, parameters), the image assets, and the list of resources that are not emulated. One frozen value;
lookups by ARN and name."""

from __future__ import annotations

from dataclasses import dataclass

from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.backing import Database, Parameter, SecretSpec, SecretTargetAttachment
from albfargate.model.ecs import Cluster, ImageAsset, Service, TaskDefinition
from albfargate.model.elbv2 import Listener, LoadBalancer, Rule, TargetGroup
from albfargate.model.s3 import Bucket


@dataclass(frozen=True, slots=True)
class NotEmulated:
    stack: str
    logical_id: str
    type: str
    reason: str = "not emulated"


@dataclass(frozen=True, slots=True)
class SystemModel:
    stacks: tuple[str, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    listeners: tuple[Listener, ...] = ()
    rules: tuple[Rule, ...] = ()
    target_groups: tuple[TargetGroup, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    task_definitions: tuple[TaskDefinition, ...] = ()
    services: tuple[Service, ...] = ()
    scalable_targets: tuple[ScalableTarget, ...] = ()
    scaling_policies: tuple[TargetTrackingPolicy, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    assets: tuple[ImageAsset, ...] = ()
    not_emulated: tuple[NotEmulated, ...] = ()
    databases: tuple[Database, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    secret_attachments: tuple[SecretTargetAttachment, ...] = ()
    parameters: tuple[Parameter, ...] = ()

    def load_balancer(self, arn: str) -> LoadBalancer | None:
        return next((x for x in self.load_balancers if x.arn == arn), None)

    def listeners_of(self, lb_arn: str) -> tuple[Listener, ...]:
        return tuple(x for x in self.listeners if x.load_balancer_arn == lb_arn)

    def rules_of(self, listener_arn: str) -> tuple[Rule, ...]:
        """Non-default rules of a listener in evaluation order (ascending priority)."""
        mine = (r for r in self.rules if r.listener_arn == listener_arn)
        return tuple(sorted(mine, key=lambda r: r.priority))

    def target_group(self, arn: str) -> TargetGroup | None:
        return next((x for x in self.target_groups if x.arn == arn), None)

    def task_definition(self, arn: str) -> TaskDefinition | None:
        return next((x for x in self.task_definitions if x.arn == arn), None)

    def service(self, name: str) -> Service | None:
        return next((x for x in self.services if x.name == name or x.arn == name), None)

    def policies_of(self, resource_id: str) -> tuple[TargetTrackingPolicy, ...]:
        return tuple(p for p in self.scaling_policies if p.resource_id == resource_id)

    def scalable_target(self, resource_id: str) -> ScalableTarget | None:
        return next((x for x in self.scalable_targets if x.resource_id == resource_id), None)

    def database(self, key: str) -> Database | None:
        """A database by key (``stack/logicalId``), identifier or ARN."""
        return next((d for d in self.databases if key in (d.key, d.identifier, d.arn)), None)

    @property
    def has_backing(self) -> bool:
        return bool(self.databases or self.secrets or self.parameters)
