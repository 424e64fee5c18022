"""Application Auto Scaling vocabulary: scalable targets and target-tracking policies (spec §8)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PredefinedMetric(StrEnum):
    CPU = "ECSServiceAverageCPUUtilization"
    MEMORY = "ECSServiceAverageMemoryUtilization"
    REQUEST_COUNT_PER_TARGET = "ALBRequestCountPerTarget"


@dataclass(frozen=True, slots=True)
class ScalableTarget:
    resource_id: str  # service/<cluster>/<service>
    min_capacity: int
    max_capacity: int
    service_namespace: str = "ecs"
    scalable_dimension: str = "ecs:service:DesiredCount"
    dynamic_scaling_in_suspended: bool = False
    dynamic_scaling_out_suspended: bool = False
    scheduled_scaling_suspended: bool = False
    stack: str = ""
    logical_id: str = ""

    @property
    def ref(self) -> str:
        """``Ref`` of the resource: ``<ResourceId>|<ScalableDimension>|<ServiceNamespace>`` (spec §8.3)."""
        return f"{self.resource_id}|{self.scalable_dimension}|{self.service_namespace}"


@dataclass(frozen=True, slots=True)
class TargetTrackingPolicy:
    name: str
    arn: str
    resource_id: str
    metric: PredefinedMetric | None  # None: a customized metric, recorded but not tracked
    target_value: float
    resource_label: str | None = None
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 300
    disable_scale_in: bool = False
    service_namespace: str = "ecs"
    scalable_dimension: str = "ecs:service:DesiredCount"
    stack: str = ""
    logical_id: str = ""
