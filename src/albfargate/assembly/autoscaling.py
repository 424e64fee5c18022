"""Application Auto Scaling resources -> model: scalable targets and target-tracking policies of ECS
services (spec §8), linked to their service by ``ResourceId`` (``service/<cluster>/<service>``).

Owns: the ``Ref`` of a scalable target (``<ResourceId>|<ScalableDimension>|<ServiceNamespace>``, spec §8.3
*inferred*) and of a policy (its ARN); step-scaling policies and other namespaces are not emulated."""

from __future__ import annotations

from typing import Any

from albfargate.model import NotEmulated, PredefinedMetric, ScalableTarget, TargetTrackingPolicy, ids

from .context import ResourceContext
from .kinds import ResourceKind

SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
SCALING_POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"


def _target_parts(ctx: ResourceContext) -> tuple[str, str, str]:
    p = ctx.props
    return (
        p.req_str("ResourceId"),
        p.str("ScalableDimension") or "ecs:service:DesiredCount",
        p.str("ServiceNamespace") or "ecs",
    )


def _target_ref(ctx: ResourceContext) -> str:
    return "|".join(_target_parts(ctx))


def _no_att(ctx: ResourceContext, attribute: str) -> Any:
    raise KeyError(attribute)


def _convert_target(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    resource_id, dimension, namespace = _target_parts(ctx)
    if namespace != "ecs":
        return [
            NotEmulated(ctx.stack, ctx.logical_id, ctx.type, f"scalable target of {namespace}: not emulated")
        ]
    minimum: int = p.req_int("MinCapacity")
    maximum: int = p.req_int("MaxCapacity")
    if not 0 <= minimum <= maximum:
        p.error("MinCapacity", f"MinCapacity {minimum} / MaxCapacity {maximum} are inconsistent")
    suspended = p.sub("SuspendedState")
    return [
        ScalableTarget(
            resource_id=resource_id,
            min_capacity=minimum,
            max_capacity=maximum,
            service_namespace=namespace,
            scalable_dimension=dimension,
            dynamic_scaling_in_suspended=bool(suspended and suspended.bool("DynamicScalingInSuspended")),
            dynamic_scaling_out_suspended=bool(suspended and suspended.bool("DynamicScalingOutSuspended")),
            scheduled_scaling_suspended=bool(suspended and suspended.bool("ScheduledScalingSuspended")),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


def _policy_target(ctx: ResourceContext) -> tuple[str, str, str]:
    """(ResourceId, ScalableDimension, ServiceNamespace) from ScalingTargetId or the explicit ids."""
    p = ctx.props
    target = p.str("ScalingTargetId")
    if target is not None:
        parts = target.split("|")
        if len(parts) != 3:
            p.error("ScalingTargetId", f"not a scalable target reference: {target!r}")
        return parts[0], parts[1], parts[2]
    return (
        p.req_str("ResourceId"),
        p.str("ScalableDimension") or "ecs:service:DesiredCount",
        p.str("ServiceNamespace") or "ecs",
    )


def _policy_name(ctx: ResourceContext) -> str:
    return ctx.props.str("PolicyName") or ctx.logical_id


def _policy_arn(ctx: ResourceContext) -> str:
    resource_id, _, namespace = _policy_target(ctx)
    guid = ids.hex_id(ctx.seed, 32)
    uuid = f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}"
    return (
        f"arn:{ids.PARTITION}:autoscaling:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:scalingPolicy:{uuid}:"
        f"resource/{namespace}/{resource_id}:policyName/{_policy_name(ctx)}"
    )


def _policy_att(ctx: ResourceContext, attribute: str) -> Any:
    if attribute == "Arn":
        return _policy_arn(ctx)
    raise KeyError(attribute)


_METRICS = {m.value: m for m in PredefinedMetric}


def _convert_policy(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    policy_type = p.str("PolicyType") or "TargetTrackingScaling"
    resource_id, dimension, namespace = _policy_target(ctx)
    if policy_type != "TargetTrackingScaling":
        return [NotEmulated(ctx.stack, ctx.logical_id, ctx.type, f"{policy_type} policy: not emulated")]
    if namespace != "ecs":
        return [
            NotEmulated(ctx.stack, ctx.logical_id, ctx.type, f"scaling policy of {namespace}: not emulated")
        ]
    config = p.sub("TargetTrackingScalingPolicyConfiguration")
    if config is None:
        p.error("TargetTrackingScalingPolicyConfiguration", "target tracking needs its configuration")
    predefined = config.sub("PredefinedMetricSpecification")
    metric = None
    label = None
    if predefined is not None:
        metric = _METRICS.get(predefined.req_str("PredefinedMetricType"))
        label = predefined.str("ResourceLabel")
    target_value = config.float("TargetValue")
    if target_value is None:
        config.error("TargetValue", "required property is missing")
    return [
        TargetTrackingPolicy(
            name=_policy_name(ctx),
            arn=_policy_arn(ctx),
            resource_id=resource_id,
            metric=metric,
            target_value=target_value,
            resource_label=label,
            scale_in_cooldown_seconds=config.int("ScaleInCooldown", 300) or 0,
            scale_out_cooldown_seconds=config.int("ScaleOutCooldown", 300) or 0,
            disable_scale_in=bool(config.bool("DisableScaleIn", False)),
            service_namespace=namespace,
            scalable_dimension=dimension,
            stack=ctx.stack,
            logical_id=ctx.logical_id,
        )
    ]


KINDS: dict[str, ResourceKind] = {
    SCALABLE_TARGET: ResourceKind(ref=_target_ref, get_att=_no_att, convert=_convert_target),
    SCALING_POLICY: ResourceKind(ref=_policy_arn, get_att=_policy_att, convert=_convert_policy),
}
