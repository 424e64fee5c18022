"""The API's mutable picture of load-balancer and auto-scaling configuration, seeded from the model.

ELBv2 writes (CreateRule, ModifyListener, attribute changes...) and AAS writes change this store first and
are then pushed to the data plane through :class:`albfargate.api.backend.Backend`. Also holds tags for
every ARN and creation times. Not thread-safe: used on the event loop only."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.elbv2 import Listener, LoadBalancer, Rule, TargetGroup
from albfargate.model.ids import hex_id, rule_arn
from albfargate.model.system import SystemModel


@dataclass(slots=True)
class PolicyRecord:
    """A scaling policy as registered (the model keeps what the engine tracks; ``raw`` what was put)."""

    policy: TargetTrackingPolicy
    policy_type: str
    raw_config: dict[str, object]
    created_at: float
    alarms: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class TargetRecord:
    target: ScalableTarget
    created_at: float
    role_arn: str | None = None


def default_rule_arn(listener: Listener) -> str:
    """A stable ARN for a listener's default rule (``…:listener-rule/app/<lb>/<lbid>/<lid>/<16hex>``)."""
    parts = listener.arn.split(":listener/", 1)[-1].split("/")
    if len(parts) >= 4:
        kind, lb_name, lb_id, listener_id = parts[0], parts[1], parts[2], parts[3]
        return rule_arn(lb_name, lb_id, listener_id, hex_id(listener.arn + "#default"), kind)
    return listener.arn.replace(":listener/", ":listener-rule/") + "/" + hex_id(listener.arn + "#default")


class ConfigStore:
    """Mutable ELBv2 + AAS configuration; lookups by ARN; insertion order is describe order."""

    def __init__(self, model: SystemModel, *, now: float | None = None) -> None:
        started = time.time() if now is None else now
        self.load_balancers: dict[str, LoadBalancer] = {x.arn: x for x in model.load_balancers}
        self.listeners: dict[str, Listener] = {x.arn: x for x in model.listeners}
        self.rules: dict[str, Rule] = {x.arn: x for x in model.rules}
        self.target_groups: dict[str, TargetGroup] = {x.arn: x for x in model.target_groups}
        self.created_at: dict[str, float] = {}
        for arn in [*self.load_balancers, *self.target_groups]:
            self.created_at[arn] = started
        self.tags: dict[str, dict[str, str]] = {}
        self.scalable_targets: dict[str, TargetRecord] = {
            self._target_key(t.service_namespace, t.resource_id, t.scalable_dimension): TargetRecord(
                t, started
            )
            for t in model.scalable_targets
        }
        self.policies: dict[str, PolicyRecord] = {}
        for p in model.scaling_policies:
            self.policies[p.arn] = PolicyRecord(p, "TargetTrackingScaling", policy_config(p), started)
        self.default_rules: dict[str, str] = {default_rule_arn(x): x.arn for x in model.listeners}

    @staticmethod
    def _target_key(namespace: str, resource_id: str, dimension: str) -> str:
        return f"{namespace}|{resource_id}|{dimension}"

    def scalable_target(self, namespace: str, resource_id: str, dimension: str) -> TargetRecord | None:
        return self.scalable_targets.get(self._target_key(namespace, resource_id, dimension))

    def put_scalable_target(self, record: TargetRecord) -> None:
        t = record.target
        self.scalable_targets[self._target_key(t.service_namespace, t.resource_id, t.scalable_dimension)] = (
            record
        )

    def delete_scalable_target(self, namespace: str, resource_id: str, dimension: str) -> None:
        self.scalable_targets.pop(self._target_key(namespace, resource_id, dimension), None)

    def rules_of(self, listener_arn: str) -> list[Rule]:
        return sorted(
            (r for r in self.rules.values() if r.listener_arn == listener_arn), key=lambda r: r.priority
        )

    def listeners_of(self, lb_arn: str) -> list[Listener]:
        return [x for x in self.listeners.values() if x.load_balancer_arn == lb_arn]

    def default_rule_of(self, listener_arn: str) -> str:
        return next(arn for arn, owner in self.default_rules.items() if owner == listener_arn)

    def add_listener(self, listener: Listener) -> None:
        self.listeners[listener.arn] = listener
        self.default_rules[default_rule_arn(listener)] = listener.arn

    def remove_listener(self, listener_arn: str) -> None:
        self.listeners.pop(listener_arn, None)
        for arn in [a for a, owner in self.default_rules.items() if owner == listener_arn]:
            del self.default_rules[arn]
        for arn in [r.arn for r in self.rules.values() if r.listener_arn == listener_arn]:
            del self.rules[arn]


def policy_config(p: TargetTrackingPolicy) -> dict[str, object]:
    """``TargetTrackingScalingPolicyConfiguration`` of a model policy, as AAS returns it."""
    config: dict[str, object] = {"TargetValue": p.target_value}
    if p.metric is not None:
        spec: dict[str, object] = {"PredefinedMetricType": str(p.metric)}
        if p.resource_label:
            spec["ResourceLabel"] = p.resource_label
        config["PredefinedMetricSpecification"] = spec
    config["ScaleOutCooldown"] = p.scale_out_cooldown_seconds
    config["ScaleInCooldown"] = p.scale_in_cooldown_seconds
    config["DisableScaleIn"] = p.disable_scale_in
    return config
