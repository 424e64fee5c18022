"""Application Auto Scaling target tracking for ECS services (spec §8.2), with injected time.

This module owns the alarms AAS would create for each target-tracking policy (AlarmHigh: metric > target for
3 consecutive periods; AlarmLow: metric < 0.9 × target for 15 consecutive periods), the new-capacity
formulas, the cooldowns, the "out if any, in only if all" rule for several policies, min/max clamps, the
suspended flags and the pause of scale-in during ECS deployments. It also computes the metrics from raw
measurements (service CPU/memory utilization, requests per target per minute).

The engine calls :func:`evaluate` once per period with that period's metrics and keeps the returned
:class:`ScalingState`; a :class:`Decision` is written with ``UpdateService(desiredCount)`` and recorded as a
scaling activity (``description`` / ``cause``).

Time compression (``--fast-scaling``): ``period_seconds`` is the length of one alarm period (60 by
default). Cooldowns are scaled by the same factor (``cooldown × period_seconds / 60``) so the whole
behaviour keeps its shape. Request counts are always normalized to requests per target per *minute* of
real time, so a policy's ``TargetValue`` keeps its meaning under compression.

Inferred where the spec says so (§8.2, §11.7): the capacity formulas; during the scale-out cooldown the
calculation starts from the running count at the scale-out that began the cooldown (the capacity the
metric still reflects), and acts only when that asks for more than the desired count, which already holds
the capacity added: "continuously but not excessively"; from zero running tasks one datapoint above zero
scales out to one task (or min).

Pure: no asyncio, time or random; ``now`` is passed in."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from albfargate.model.autoscaling import PredefinedMetric, ScalableTarget, TargetTrackingPolicy
from albfargate.model.ids import hex_id

ALARM_HIGH_PERIODS = 3
ALARM_LOW_PERIODS = 15
ALARM_LOW_FACTOR = 0.9
DEFAULT_PERIOD_SECONDS = 60.0
#: Scale-in removes at most this fraction of the running tasks per step (at least one task).
SCALE_IN_MAX_FRACTION = 0.1


# --- alarms ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlarmState:
    """Consecutive periods above the target (AlarmHigh) and below 0.9 × target (AlarmLow)."""

    high_periods: int = 0
    low_periods: int = 0
    last_value: float | None = None

    @property
    def high(self) -> bool:
        return self.high_periods >= ALARM_HIGH_PERIODS

    @property
    def low(self) -> bool:
        return self.low_periods >= ALARM_LOW_PERIODS


def low_threshold(target: float) -> float:
    return ALARM_LOW_FACTOR * target


def observe(alarm: AlarmState, value: float | None, target: float) -> AlarmState:
    """The alarms after one period whose metric was ``value`` (None: no data, both alarms leave ALARM)."""
    if value is None:
        return AlarmState()
    high = alarm.high_periods + 1 if value > target else 0
    low = alarm.low_periods + 1 if value < low_threshold(target) else 0
    return AlarmState(high, low, value)


def _uuid(seed: str) -> str:
    h = hex_id(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def alarm_name(policy: TargetTrackingPolicy, high: bool) -> str:
    """``TargetTracking-service/<cluster>/<service>-AlarmHigh-<uuid>`` (uuid stable per policy)."""
    kind = "AlarmHigh" if high else "AlarmLow"
    return f"TargetTracking-{policy.resource_id}-{kind}-{_uuid(policy.arn + '#' + kind)}"


def alarm_description(policy: TargetTrackingPolicy) -> str:
    return f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy.arn}."


# --- metrics -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metrics:
    """One period's metric values; None means no datapoint."""

    cpu: float | None = None  # ECSServiceAverageCPUUtilization, percent
    memory: float | None = None  # ECSServiceAverageMemoryUtilization, percent
    request_count_per_target: float | None = None  # ALBRequestCountPerTarget, requests per target per minute

    def value(self, metric: PredefinedMetric) -> float | None:
        if metric is PredefinedMetric.CPU:
            return self.cpu
        if metric is PredefinedMetric.MEMORY:
            return self.memory
        return self.request_count_per_target


def service_utilization(used: Sequence[float], reserved_per_task: float) -> float | None:
    """Service CPU or memory utilization (§8.1): ``sum(used) × 100 / (reserved per task × tasks)``.

    ``used``: what each running task used on average over the period (CPU units or MiB). None without
    tasks or without a reservation."""
    if not used or reserved_per_task <= 0:
        return None
    return sum(used) * 100.0 / (reserved_per_task * len(used))


def request_count_per_target(requests: int, targets: int, period_seconds: float) -> float | None:
    """Requests per target per minute from the requests routed during one period.

    With no registered target the count is taken as per one target (so that scale-out from zero sees
    demand); None when the period has no length."""
    if period_seconds <= 0:
        return None
    return requests / max(1, targets) * 60.0 / period_seconds


# --- decisions ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScalingState:
    """What the engine keeps between periods for one scalable target."""

    alarms: Mapping[str, AlarmState] = field(default_factory=dict)  # by policy name
    last_scale_out_at: float | None = None
    scale_out_base: int | None = None  # running count when the last scale-out happened
    last_scale_in_at: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int
    direction: Literal["out", "in"]
    policy_name: str
    alarm_name: str
    description: str  # Setting desired count to N.
    cause: str  # monitor alarm <name> in state ALARM triggered policy <policy>


@dataclass(frozen=True, slots=True)
class Evaluation:
    state: ScalingState
    decision: Decision | None


def scale_out_capacity(current: int, metric: float, target: float) -> int:
    """``max(current + 1, ceil(current × metric / target))``."""
    proportional = math.ceil(current * metric / target - 1e-9) if target > 0 else current + 1
    return max(current + 1, proportional)


def scale_in_capacity(current: int, metric: float, target: float) -> int:
    """``max(ceil(current × metric / target), current − ceil(0.1 × current))``: gradual, at least one."""
    proportional = math.ceil(current * metric / target - 1e-9) if target > 0 else 0
    return max(proportional, current - math.ceil(SCALE_IN_MAX_FRACTION * current))


def _cooldown(seconds: int, period_seconds: float) -> float:
    return seconds * period_seconds / DEFAULT_PERIOD_SECONDS


def _decision(desired: int, direction: Literal["out", "in"], policy: TargetTrackingPolicy) -> Decision:
    alarm = alarm_name(policy, high=direction == "out")
    return Decision(
        desired=desired,
        direction=direction,
        policy_name=policy.name,
        alarm_name=alarm,
        description=f"Setting desired count to {desired}.",
        cause=f"monitor alarm {alarm} in state ALARM triggered policy {policy.name}",
    )


def evaluate(
    state: ScalingState,
    *,
    target: ScalableTarget,
    policies: Sequence[TargetTrackingPolicy],
    metrics: Metrics,
    running: int,
    desired: int,
    now: float,
    deployment_in_progress: bool = False,
    period_seconds: float = DEFAULT_PERIOD_SECONDS,
) -> Evaluation:
    """Feed one period's ``metrics`` (ending at ``now``) and decide.

    ``running`` is the service's running task count (the starting point of the calculation), ``desired``
    its current desiredCount. Policies of other resources and customized-metric policies are ignored."""
    tracked = [p for p in policies if p.metric is not None and p.resource_id == target.resource_id]
    alarms = dict(state.alarms)
    values: dict[str, float | None] = {}
    for p in tracked:
        assert p.metric is not None
        v = metrics.value(p.metric)
        values[p.name] = v
        alarms[p.name] = observe(alarms.get(p.name, AlarmState()), v, p.target_value)
    new_state = replace(state, alarms=alarms)
    lo, hi = target.min_capacity, target.max_capacity

    # scale out if any policy wants to
    wants_out = [p for p in tracked if alarms[p.name].high]
    if running == 0:  # from zero: one datapoint showing demand is enough (§8.2)
        wants_out += [p for p in tracked if p not in wants_out and (values[p.name] or 0.0) > 0.0]
    if wants_out and not target.dynamic_scaling_out_suspended:
        best: tuple[int, TargetTrackingPolicy] | None = None
        for p in wants_out:
            value = values[p.name]
            assert value is not None
            in_cooldown = state.last_scale_out_at is not None and now < state.last_scale_out_at + _cooldown(
                p.scale_out_cooldown_seconds, period_seconds
            )
            base = state.scale_out_base if in_cooldown and state.scale_out_base is not None else running
            proposed = 1 if base == 0 else scale_out_capacity(base, value, p.target_value)
            proposed = min(hi, max(lo, proposed))
            if best is None or proposed > best[0]:
                best = (proposed, p)
        if best is not None and best[0] > desired:
            new_state = replace(
                new_state, last_scale_out_at=now, scale_out_base=running, last_scale_in_at=None
            )
            return Evaluation(new_state, _decision(best[0], "out", best[1]))
    if wants_out:
        return Evaluation(new_state, None)  # in only if no policy wants out

    # scale in only if every policy with scale-in enabled agrees
    voters = [p for p in tracked if not p.disable_scale_in]
    if (
        not voters
        or target.dynamic_scaling_in_suspended
        or deployment_in_progress
        or not all(alarms[p.name].low for p in voters)
    ):
        return Evaluation(new_state, None)
    if state.last_scale_in_at is not None and any(
        now < state.last_scale_in_at + _cooldown(p.scale_in_cooldown_seconds, period_seconds) for p in voters
    ):
        return Evaluation(new_state, None)
    chosen: tuple[int, TargetTrackingPolicy] | None = None
    for p in voters:
        value = values[p.name]
        assert value is not None  # a low alarm implies data
        proposed = scale_in_capacity(running, value, p.target_value)
        if chosen is None or proposed > chosen[0]:  # the most conservative policy wins
            chosen = (proposed, p)
    assert chosen is not None
    # above max, the next scale-in first lowers desired to max (§8.2)
    new_desired = max(lo, hi) if desired > hi else max(lo, min(chosen[0], desired))
    if new_desired >= desired:
        return Evaluation(new_state, None)
    new_state = replace(new_state, last_scale_in_at=now)
    return Evaluation(new_state, _decision(new_desired, "in", chosen[1]))
