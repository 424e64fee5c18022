"""Application Auto Scaling operations for ECS services (``ServiceNamespace=ecs``,
``ScalableDimension=ecs:service:DesiredCount``). Registered targets and target-tracking policies are
kept in the :class:`ConfigStore` and handed to the engine's autoscaler with ``backend.set_scaling``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from albfargate.api.autoscaling import errors
from albfargate.api.autoscaling.views import (
    activity_view,
    policy_view,
    scalable_target_arn,
    scalable_target_view,
)
from albfargate.api.backend import ServiceRecord, ServiceUpdate
from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.store import PolicyRecord, TargetRecord
from albfargate.api.wire import Reader, page
from albfargate.model.autoscaling import PredefinedMetric, ScalableTarget, TargetTrackingPolicy
from albfargate.model.ids import LOCAL_ACCOUNT, LOCAL_REGION

VALIDATION = "ValidationException"
NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
DEFAULT_COOLDOWN = 300  # seconds, for ECS services (spec §8.1)

T = TypeVar("T")


def _r(params: Params) -> Reader:
    return Reader(params, VALIDATION)


def _page(r: Reader, records: Sequence[T]) -> tuple[list[T], str | None]:
    """One page of a Describe* answer: ``MaxResults`` 1..50 (default 50), ``NextToken``."""
    size = r.integer("MaxResults", 50, lo=1, hi=50) or 50
    return page(records, r.text("NextToken"), size, VALIDATION, "NextToken")


def _namespace(r: Reader) -> str:
    ns = r.text("ServiceNamespace")
    if not ns:
        raise errors.validation(
            "1 validation error detected: Value null at 'serviceNamespace' failed to satisfy "
            "constraint: Member must not be null"
        )
    if ns != NAMESPACE:
        raise errors.validation(f"Unsupported service namespace '{ns}'; albfargate scales ECS services only")
    return ns


def _dimension(r: Reader, *, required: bool = True) -> str | None:
    dim = r.text("ScalableDimension")
    if dim is None and not required:
        return None
    if dim != DIMENSION:
        raise errors.validation(f"Unsupported scalable dimension '{dim}'; use '{DIMENSION}'")
    return dim


def _service_of(ctx: Context, resource_id: str) -> ServiceRecord | None:
    """The ACTIVE service a ``service/<cluster>/<service>`` resource ID names (ValidationException for
    another form of ID)."""
    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service":
        raise errors.validation(
            f"Unsupported resource ID '{resource_id}'; expected service/<cluster>/<service>"
        )
    cluster = next((c for c in ctx.backend.clusters() if c.name == parts[1]), None)
    if cluster is None:
        return None
    s = ctx.backend.service(cluster.arn, parts[2])  # by key: one record, not every service projected
    return s if s is not None and s.service.name == parts[2] and s.status == "ACTIVE" else None


def _clamp_desired(ctx: Context, target: ScalableTarget) -> None:
    """Registering a target moves the service's desired count inside [min, max] at once, as AAS does."""
    s = _service_of(ctx, target.resource_id)
    if s is not None:
        bounded = min(max(s.service.desired_count, target.min_capacity), target.max_capacity)
        if bounded != s.service.desired_count:
            ctx.backend.update_service(s.service.arn, ServiceUpdate(desired_count=bounded))


def _push(ctx: Context) -> None:
    targets = [t.target for t in ctx.store.scalable_targets.values()]
    policies = [p.policy for p in ctx.store.policies.values() if p.policy_type == "TargetTrackingScaling"]
    ctx.backend.set_scaling(targets, policies)


def register_scalable_target(ctx: Context, params: Params) -> Result:
    r = _r(params)
    ns = _namespace(r)
    resource_id = r.req("ResourceId")
    dim = _dimension(r)
    assert dim is not None
    if _service_of(ctx, resource_id) is None:
        raise errors.validation(f"ECS service doesn't exist: {resource_id}")
    current = ctx.store.scalable_target(ns, resource_id, dim)
    lo = r.integer("MinCapacity", lo=0)
    hi = r.integer("MaxCapacity", lo=0)
    if current is None and (lo is None or hi is None):
        raise errors.validation("MinCapacity and MaxCapacity are required for a new scalable target")
    base = current.target if current else ScalableTarget(resource_id, lo or 0, hi or 0)
    suspended = r.struct("SuspendedState") or {}
    target = ScalableTarget(
        resource_id=resource_id,
        min_capacity=base.min_capacity if lo is None else lo,
        max_capacity=base.max_capacity if hi is None else hi,
        dynamic_scaling_in_suspended=bool(
            suspended.get("DynamicScalingInSuspended", base.dynamic_scaling_in_suspended)
        ),
        dynamic_scaling_out_suspended=bool(
            suspended.get("DynamicScalingOutSuspended", base.dynamic_scaling_out_suspended)
        ),
        scheduled_scaling_suspended=bool(
            suspended.get("ScheduledScalingSuspended", base.scheduled_scaling_suspended)
        ),
    )
    if target.min_capacity > target.max_capacity:
        raise errors.validation("Minimum capacity cannot be greater than maximum capacity")
    record = TargetRecord(target, current.created_at if current else ctx.clock(), r.text("RoleARN"))
    ctx.store.put_scalable_target(record)
    _push(ctx)
    _clamp_desired(ctx, target)
    return {"ScalableTargetARN": scalable_target_arn(resource_id)}


def describe_scalable_targets(ctx: Context, params: Params) -> Result:
    r = _r(params)
    _namespace(r)
    dim = _dimension(r, required=False)
    ids = r.strs("ResourceIds")
    records = [
        x
        for x in ctx.store.scalable_targets.values()
        if (not ids or x.target.resource_id in ids) and (dim is None or x.target.scalable_dimension == dim)
    ]
    items, nxt = _page(r, records)
    return {"ScalableTargets": [scalable_target_view(x) for x in items], "NextToken": nxt}


def deregister_scalable_target(ctx: Context, params: Params) -> Result:
    r = _r(params)
    ns = _namespace(r)
    resource_id = r.req("ResourceId")
    dim = _dimension(r)
    assert dim is not None
    if ctx.store.scalable_target(ns, resource_id, dim) is None:
        raise errors.not_found(
            f"No scalable target registered for service namespace: {ns}, resource ID: "
            f"{resource_id}, scalable dimension: {dim}"
        )
    ctx.store.delete_scalable_target(ns, resource_id, dim)
    for arn in [a for a, p in ctx.store.policies.items() if p.policy.resource_id == resource_id]:
        del ctx.store.policies[arn]
    _push(ctx)
    return {}


def _policy_arn(resource_id: str, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{LOCAL_REGION}:{LOCAL_ACCOUNT}:scalingPolicy:{uuid.uuid4()}:"
        f"resource/ecs/{resource_id}:policyName/{name}"
    )


def _alarms(resource_id: str) -> list[dict[str, str]]:
    out = []
    for kind in ("AlarmHigh", "AlarmLow"):
        name = f"TargetTracking-{resource_id}-{kind}-{uuid.uuid4()}"
        out.append(
            {"AlarmName": name, "AlarmARN": f"arn:aws:cloudwatch:{LOCAL_REGION}:{LOCAL_ACCOUNT}:alarm:{name}"}
        )
    return out


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise errors.validation(f"{name} must be a number") from None


def put_scaling_policy(ctx: Context, params: Params) -> Result:
    r = _r(params)
    ns = _namespace(r)
    name = r.req("PolicyName")
    resource_id = r.req("ResourceId")
    dim = _dimension(r)
    assert dim is not None
    if ctx.store.scalable_target(ns, resource_id, dim) is None:
        raise errors.not_found(
            f"No scalable target registered for service namespace: {ns}, resource ID: "
            f"{resource_id}, scalable dimension: {dim}"
        )
    policy_type = r.text("PolicyType") or "StepScaling"
    existing = next(
        (
            p
            for p in ctx.store.policies.values()
            if p.policy.resource_id == resource_id and p.policy.name == name
        ),
        None,
    )
    if policy_type == "TargetTrackingScaling":
        raw = r.struct("TargetTrackingScalingPolicyConfiguration")
        if raw is None:
            raise errors.validation(
                "TargetTrackingScalingPolicyConfiguration is required for TargetTrackingScaling"
            )
        target_value = _number(raw.get("TargetValue"), "TargetValue")
        if target_value <= 0:
            raise errors.validation("TargetValue must be greater than 0")
        spec = raw.get("PredefinedMetricSpecification")
        metric = None
        label = None
        if isinstance(spec, dict):
            try:
                metric = PredefinedMetric(str(spec.get("PredefinedMetricType")))
            except ValueError:
                raise errors.validation(
                    f"Unsupported predefined metric type '{spec.get('PredefinedMetricType')}' for ECS"
                ) from None
            label = spec.get("ResourceLabel")
            if metric is PredefinedMetric.REQUEST_COUNT_PER_TARGET and not label:
                raise errors.validation("ResourceLabel is required for ALBRequestCountPerTarget")
        elif raw.get("CustomizedMetricSpecification") is None:
            raise errors.validation(
                "A PredefinedMetricSpecification or CustomizedMetricSpecification is required"
            )
        arn = existing.policy.arn if existing else _policy_arn(resource_id, name)
        policy = TargetTrackingPolicy(
            name=name,
            arn=arn,
            resource_id=resource_id,
            metric=metric,
            target_value=target_value,
            resource_label=label,
            scale_in_cooldown_seconds=int(raw.get("ScaleInCooldown", DEFAULT_COOLDOWN)),
            scale_out_cooldown_seconds=int(raw.get("ScaleOutCooldown", DEFAULT_COOLDOWN)),
            disable_scale_in=bool(raw.get("DisableScaleIn", False)),
        )
        config = dict(raw)
        config.setdefault("ScaleOutCooldown", DEFAULT_COOLDOWN)
        config.setdefault("ScaleInCooldown", DEFAULT_COOLDOWN)
        config.setdefault("DisableScaleIn", False)
        alarms = existing.alarms if existing else _alarms(resource_id)
    elif policy_type == "StepScaling":
        raw = r.struct("StepScalingPolicyConfiguration")
        if raw is None:
            raise errors.validation("StepScalingPolicyConfiguration is required for StepScaling")
        arn = existing.policy.arn if existing else _policy_arn(resource_id, name)
        policy = TargetTrackingPolicy(
            name=name, arn=arn, resource_id=resource_id, metric=None, target_value=0.0
        )
        config, alarms = dict(raw), []
    else:
        raise errors.validation(f"Unsupported policy type '{policy_type}' for ECS services")
    created = existing.created_at if existing else ctx.clock()
    if existing:
        del ctx.store.policies[existing.policy.arn]
    ctx.store.policies[policy.arn] = PolicyRecord(policy, policy_type, config, created, alarms)
    _push(ctx)
    return {"PolicyARN": policy.arn, "Alarms": alarms}


def describe_scaling_policies(ctx: Context, params: Params) -> Result:
    r = _r(params)
    _namespace(r)
    names = r.strs("PolicyNames")
    resource_id = r.text("ResourceId")
    records = [
        p
        for p in ctx.store.policies.values()
        if (not names or p.policy.name in names)
        and (resource_id is None or p.policy.resource_id == resource_id)
    ]
    items, nxt = _page(r, records)
    return {"ScalingPolicies": [policy_view(p) for p in items], "NextToken": nxt}


def delete_scaling_policy(ctx: Context, params: Params) -> Result:
    r = _r(params)
    ns = _namespace(r)
    name = r.req("PolicyName")
    resource_id = r.req("ResourceId")
    _dimension(r)
    found = next(
        (
            a
            for a, p in ctx.store.policies.items()
            if p.policy.name == name and p.policy.resource_id == resource_id
        ),
        None,
    )
    if found is None:
        raise errors.not_found(
            f"No scaling policy found for service namespace: {ns}, resource ID: {resource_id}, "
            f"scalable dimension: {DIMENSION}, policy name: {name}"
        )
    del ctx.store.policies[found]
    _push(ctx)
    return {}


def describe_scaling_activities(ctx: Context, params: Params) -> Result:
    r = _r(params)
    _namespace(r)
    resource_id = r.text("ResourceId")
    acts = [
        a for a in ctx.backend.scaling_activities() if resource_id is None or a.resource_id == resource_id
    ]
    acts.sort(key=lambda a: a.start_time, reverse=True)
    items, nxt = _page(r, acts)
    return {"ScalingActivities": [activity_view(a) for a in items], "NextToken": nxt}


OPERATIONS: dict[str, Handler] = {
    "RegisterScalableTarget": register_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "DeregisterScalableTarget": deregister_scalable_target,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
    "DescribeScalingActivities": describe_scaling_activities,
}
