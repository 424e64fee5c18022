"""What the load balancer's target registry and the ECS scheduler share: a target's identity
(:class:`TargetId`), its health state (:class:`TargetState`) and its health as DescribeTargetHealth
reports it (:class:`TargetHealth`).

Plain data, defined here so that ``albfargate.alb`` (which owns the health state machine,
:mod:`albfargate.alb.health`, and the live registry, :mod:`albfargate.alb.targets`) and
``albfargate.ecs`` (whose scheduler registers tasks and waits for them to be healthy) need not import
each other (the independence contract in pyproject.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["TargetHealth", "TargetId", "TargetState"]


class TargetState(StrEnum):
    """``TargetHealth.State`` of DescribeTargetHealth (spec §3.3)."""

    INITIAL = "initial"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNUSED = "unused"
    DRAINING = "draining"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class TargetHealth:
    state: TargetState
    reason: str | None  # e.g. "Elb.InitialHealthChecking", "Target.Timeout"
    description: str | None  # e.g. "Request timed out"
    successes: int = 0  # consecutive
    failures: int = 0  # consecutive


@dataclass(frozen=True, slots=True)
class TargetId:
    id: str  # "127.0.0.1" (awsvpc emulation: the task's address)
    port: int
