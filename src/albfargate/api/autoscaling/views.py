"""Application Auto Scaling wire views: scalable targets, policies and activities in AAS's shapes."""

from __future__ import annotations

from typing import Any

from albfargate.api.backend import ScalingActivity
from albfargate.api.store import PolicyRecord, TargetRecord
from albfargate.api.wire import ts
from albfargate.model.ids import LOCAL_ACCOUNT, LOCAL_REGION, hex_id

ECS_ROLE = (
    f"arn:aws:iam::{LOCAL_ACCOUNT}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ECSService"
)


def scalable_target_arn(resource_id: str) -> str:
    prefix = f"arn:aws:application-autoscaling:{LOCAL_REGION}:{LOCAL_ACCOUNT}"
    return f"{prefix}:scalable-target/{hex_id(resource_id, 32)}"


def scalable_target_view(record: TargetRecord) -> dict[str, Any]:
    t = record.target
    return {
        "ServiceNamespace": t.service_namespace,
        "ResourceId": t.resource_id,
        "ScalableDimension": t.scalable_dimension,
        "MinCapacity": t.min_capacity,
        "MaxCapacity": t.max_capacity,
        "RoleARN": record.role_arn or ECS_ROLE,
        "CreationTime": ts(record.created_at),
        "SuspendedState": {
            "DynamicScalingInSuspended": t.dynamic_scaling_in_suspended,
            "DynamicScalingOutSuspended": t.dynamic_scaling_out_suspended,
            "ScheduledScalingSuspended": t.scheduled_scaling_suspended,
        },
        "ScalableTargetARN": scalable_target_arn(t.resource_id),
    }


def policy_view(record: PolicyRecord) -> dict[str, Any]:
    p = record.policy
    out: dict[str, Any] = {
        "PolicyARN": p.arn,
        "PolicyName": p.name,
        "ServiceNamespace": p.service_namespace,
        "ResourceId": p.resource_id,
        "ScalableDimension": p.scalable_dimension,
        "PolicyType": record.policy_type,
        "Alarms": [{"AlarmName": a["AlarmName"], "AlarmARN": a["AlarmARN"]} for a in record.alarms],
        "CreationTime": ts(record.created_at),
    }
    key = {
        "TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
        "StepScaling": "StepScalingPolicyConfiguration",
    }.get(record.policy_type, "PredictiveScalingPolicyConfiguration")
    out[key] = record.raw_config
    return out


def activity_view(a: ScalingActivity) -> dict[str, Any]:
    return {
        "ActivityId": a.activity_id,
        "ServiceNamespace": "ecs",
        "ResourceId": a.resource_id,
        "ScalableDimension": "ecs:service:DesiredCount",
        "Description": a.description,
        "Cause": a.cause,
        "StartTime": ts(a.start_time),
        "EndTime": ts(a.end_time),
        "StatusCode": a.status_code,
        "StatusMessage": a.status_message,
        "Details": a.details,
    }
