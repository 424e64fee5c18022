"""Target tracking (spec §8.2) with a fake clock: alarms, capacity formulas, cooldowns, several policies,
clamps, suspension, scale-in paused during deployments, scale from zero and time compression."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.ecs.scaling import (
    AlarmState,
    Decision,
    Metrics,
    ScalingState,
    alarm_description,
    alarm_name,
    evaluate,
    low_threshold,
    observe,
    request_count_per_target,
    scale_in_capacity,
    scale_out_capacity,
    service_utilization,
)
from albfargate.model.autoscaling import PredefinedMetric, ScalableTarget, TargetTrackingPolicy

RID = "service/cluster/web"
TARGET = ScalableTarget(RID, min_capacity=1, max_capacity=10)
ARN = (
    "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1234:"
    "resource/ecs/service/cluster/web:policyName/"
)


def policy(
    name: str = "cpu",
    metric: PredefinedMetric | None = PredefinedMetric.CPU,
    target: float = 50.0,
    **kw: object,
) -> TargetTrackingPolicy:
    p = TargetTrackingPolicy(name, ARN + name, RID, metric, target)
    return replace(p, **kw)  # type: ignore[arg-type]


CPU = policy()
REQ = policy("req", PredefinedMetric.REQUEST_COUNT_PER_TARGET, 1000.0)


@dataclass
class Clock:
    """Drives evaluate() once per period like the engine does, applying decisions to desired/running."""

    policies: list[TargetTrackingPolicy]
    target: ScalableTarget = TARGET
    running: int = 2
    desired: int = 2
    now: float = 0.0
    period: float = 60.0
    deployment: bool = False
    follow: bool = True  # running catches up with desired at once
    state: ScalingState = field(default_factory=ScalingState)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)

    def tick(self, metrics: Metrics, periods: int = 1) -> Decision | None:
        last = None
        for _ in range(periods):
            self.now += self.period
            ev = evaluate(
                self.state,
                target=self.target,
                policies=self.policies,
                metrics=metrics,
                running=self.running,
                desired=self.desired,
                now=self.now,
                deployment_in_progress=self.deployment,
                period_seconds=self.period,
            )
            self.state = ev.state
            last = ev.decision
            if last is not None:
                self.decisions.append((self.now, last))
                self.desired = last.desired
                if self.follow:
                    self.running = last.desired
        return last


# --- alarms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "high", "low"),
    [
        ([60, 60], False, False),
        ([60, 60, 60], True, False),
        ([60, 60, 50, 60, 60], False, False),  # equal to target is not above it
        ([60, 60, 40, 60, 60, 60], True, False),
        ([44.9] * 14, False, False),
        ([44.9] * 15, False, True),  # < 0.9 x 50 = 45
        ([45.0] * 20, False, False),  # not strictly below
        ([10] * 14 + [None] + [10], False, False),  # missing data resets
        ([60, 60, None, 60], False, False),
    ],
)
def test_alarm_streaks(values: list[float | None], high: bool, low: bool) -> None:
    a = AlarmState()
    for v in values:
        a = observe(a, v, 50.0)
    assert (a.high, a.low) == (high, low)


@pytest.mark.parametrize(("target", "low"), [(70.0, 63.0), (80.0, 72.0), (50.0, 45.0)])
def test_low_threshold(target: float, low: float) -> None:
    assert low_threshold(target) == pytest.approx(low)


def test_alarm_names() -> None:
    high = alarm_name(CPU, high=True)
    assert re.fullmatch(
        r"TargetTracking-service/cluster/web-AlarmHigh-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        high,
    )
    assert alarm_name(CPU, high=True) == high  # stable
    assert alarm_name(CPU, high=False).startswith("TargetTracking-service/cluster/web-AlarmLow-")
    assert alarm_name(REQ, high=True) != high
    assert alarm_description(CPU) == f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {ARN}cpu."


# --- formulas ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "metric", "target", "expected"),
    [
        (2, 90, 50, 4),  # ceil(3.6)
        (4, 55, 50, 5),  # ceil(4.4)
        (4, 100, 50, 8),
        (3, 50.0001, 50, 4),  # at least one more
        (10, 75, 50, 15),
        (1, 1000, 50, 20),
    ],
)
def test_scale_out_capacity(current: int, metric: float, target: float, expected: int) -> None:
    assert scale_out_capacity(current, metric, target) == expected


@pytest.mark.parametrize(
    ("current", "metric", "target", "expected"),
    [
        (10, 20, 50, 9),  # at most 10 % per step
        (10, 44, 50, 9),
        (30, 5, 50, 27),
        (2, 10, 50, 1),
        (1, 0, 50, 0),
        (20, 40, 50, 18),
    ],
)
def test_scale_in_capacity(current: int, metric: float, target: float, expected: int) -> None:
    assert scale_in_capacity(current, metric, target) == expected


# --- scale out -----------------------------------------------------------------------------------------


def test_alarm_high_after_three_periods() -> None:
    c = Clock([CPU])
    assert c.tick(Metrics(cpu=90.0), periods=2) is None
    d = c.tick(Metrics(cpu=90.0))
    assert d is not None and (d.desired, d.direction) == (4, "out")
    assert d.description == "Setting desired count to 4."
    assert d.cause == f"monitor alarm {alarm_name(CPU, high=True)} in state ALARM triggered policy cpu"
    assert d.policy_name == "cpu" and c.now == 180.0


def test_scale_out_cooldown_allows_only_larger() -> None:
    c = Clock([CPU], follow=False)
    c.tick(Metrics(cpu=90.0), periods=3)
    assert c.desired == 4 and c.running == 2 and c.now == 180.0
    # in cooldown, still computed from 2: ceil(2 x 90 / 50) = 4 is not larger than 4 -> nothing
    assert c.tick(Metrics(cpu=90.0)) is None
    # a bigger need is acted on during the cooldown (and restarts it)
    d = c.tick(Metrics(cpu=200.0))
    assert d is not None and d.desired == 8 and c.now == 300.0
    # the capacity arrives; the metric lags above target: no overshoot while the cooldown runs
    c.running = 8
    assert c.tick(Metrics(cpu=55.0), periods=4) is None
    # cooldown over (300 s after the last scale-out): computed from the running count again
    d = c.tick(Metrics(cpu=55.0))
    assert d is not None and d.desired == 9 and c.now == 600.0


def test_cooldown_prevents_overshoot_when_tasks_start_fast() -> None:
    c = Clock([policy(scale_out_cooldown_seconds=120)], running=2, desired=2)
    c.tick(Metrics(cpu=100.0), periods=3)  # -> 4, running follows at once
    assert (c.desired, c.running) == (4, 4)
    assert c.tick(Metrics(cpu=100.0)) is None  # lagging metric inside the 120 s cooldown
    d = c.tick(Metrics(cpu=100.0))  # 120 s later, still overloaded: scale from the running count
    assert d is not None and d.desired == 8


def test_scale_out_capped_at_max_and_lifted_to_min() -> None:
    c = Clock([CPU], target=ScalableTarget(RID, min_capacity=1, max_capacity=5))
    d = c.tick(Metrics(cpu=400.0), periods=3)
    assert d is not None and d.desired == 5
    assert c.tick(Metrics(cpu=400.0), periods=10) is None  # at max: nothing more
    low = Clock([CPU], target=ScalableTarget(RID, min_capacity=6, max_capacity=10), running=2, desired=2)
    d = low.tick(Metrics(cpu=60.0), periods=3)
    assert d is not None and d.desired == 6  # desired < min: the next scale-out lifts it to min


def test_scale_out_suspended() -> None:
    c = Clock([CPU], target=replace(TARGET, dynamic_scaling_out_suspended=True))
    assert c.tick(Metrics(cpu=99.0), periods=5) is None


def test_scale_out_continues_during_deployment() -> None:
    c = Clock([CPU], deployment=True)
    assert c.tick(Metrics(cpu=99.0), periods=3) is not None


def test_scale_from_zero_needs_one_datapoint() -> None:
    t = ScalableTarget(RID, min_capacity=0, max_capacity=4)
    c = Clock([REQ], target=t, running=0, desired=0)
    assert c.tick(Metrics(request_count_per_target=0.0)) is None
    assert c.tick(Metrics(request_count_per_target=None)) is None
    d = c.tick(Metrics(request_count_per_target=30.0))
    assert d is not None and d.desired == 1 and d.direction == "out"


# --- scale in ------------------------------------------------------------------------------------------


def test_alarm_low_after_fifteen_periods_gradually() -> None:
    c = Clock([CPU], running=10, desired=10)
    assert c.tick(Metrics(cpu=20.0), periods=14) is None
    d = c.tick(Metrics(cpu=20.0))
    assert d is not None and (d.desired, d.direction) == (9, "in")
    assert d.cause == f"monitor alarm {alarm_name(CPU, high=False)} in state ALARM triggered policy cpu"


def test_scale_in_cooldown() -> None:
    c = Clock([policy(scale_in_cooldown_seconds=300)], running=10, desired=10)
    c.tick(Metrics(cpu=5.0), periods=15)
    assert c.desired == 9
    assert c.tick(Metrics(cpu=5.0), periods=4) is None  # 240 s < 300 s
    d = c.tick(Metrics(cpu=5.0))  # 300 s after
    assert d is not None and d.desired == 8
    times = [t for t, _ in c.decisions]
    assert times[1] - times[0] == 300.0


def test_scale_out_cancels_scale_in_cooldown() -> None:
    c = Clock([policy(scale_in_cooldown_seconds=3000)], running=10, desired=10)
    c.tick(Metrics(cpu=5.0), periods=15)
    assert c.desired == 9 and c.state.last_scale_in_at is not None
    c.tick(Metrics(cpu=90.0), periods=3)
    assert c.decisions[-1][1].direction == "out" and c.state.last_scale_in_at is None
    d = c.tick(Metrics(cpu=5.0), periods=15)  # well inside the old 3000 s scale-in cooldown
    assert d is not None and d.direction == "in"


def test_scale_in_floor_and_lowering_to_max() -> None:
    c = Clock([CPU], target=ScalableTarget(RID, min_capacity=2, max_capacity=10), running=2, desired=2)
    assert c.tick(Metrics(cpu=1.0), periods=30) is None  # at min
    over = Clock([CPU], target=ScalableTarget(RID, min_capacity=1, max_capacity=4), running=9, desired=9)
    d = over.tick(Metrics(cpu=1.0), periods=15)
    assert d is not None and d.desired == 4  # desired > max: the next scale-in lowers it to max


def test_scale_in_paused_during_deployment_and_when_suspended() -> None:
    c = Clock([CPU], running=5, desired=5, deployment=True)
    assert c.tick(Metrics(cpu=1.0), periods=20) is None
    c.deployment = False
    assert c.tick(Metrics(cpu=1.0)) is not None  # the alarm was in ALARM all along
    s = Clock([CPU], target=replace(TARGET, dynamic_scaling_in_suspended=True), running=5, desired=5)
    assert s.tick(Metrics(cpu=1.0), periods=20) is None


def test_disable_scale_in() -> None:
    c = Clock([policy(disable_scale_in=True)], running=5, desired=5)
    assert c.tick(Metrics(cpu=1.0), periods=30) is None


def test_time_compression_scales_cooldowns() -> None:
    c = Clock([policy(scale_in_cooldown_seconds=300)], running=10, desired=10, period=1.0)
    c.tick(Metrics(cpu=5.0), periods=15)
    assert c.now == 15.0 and c.desired == 9
    assert c.tick(Metrics(cpu=5.0), periods=4) is None
    assert c.tick(Metrics(cpu=5.0)) is not None  # 300 s x 1/60 = 5 s
    assert c.now == 20.0


# --- several policies ----------------------------------------------------------------------------------


def test_out_if_any_policy_wants_out() -> None:
    c = Clock([CPU, REQ], running=4, desired=4)
    d = c.tick(Metrics(cpu=10.0, request_count_per_target=3000.0), periods=3)
    assert d is not None and d.direction == "out" and d.policy_name == "req" and d.desired == 10


def test_largest_scale_out_wins() -> None:
    c = Clock([CPU, REQ], running=2, desired=2)
    d = c.tick(Metrics(cpu=100.0, request_count_per_target=1500.0), periods=3)
    assert d is not None and d.policy_name == "cpu" and d.desired == 4


def test_in_only_if_all_agree() -> None:
    c = Clock([CPU, REQ], running=10, desired=10)
    assert c.tick(Metrics(cpu=5.0, request_count_per_target=950.0), periods=20) is None
    d = c.tick(Metrics(cpu=5.0, request_count_per_target=100.0), periods=15)
    assert d is not None and d.direction == "in" and d.desired == 9


def test_no_scale_in_while_another_policy_is_high() -> None:
    c = Clock([CPU, REQ], running=10, desired=10, target=ScalableTarget(RID, 1, 10))
    # request policy high but at max; CPU low: no scale-in because one policy wants out
    assert c.tick(Metrics(cpu=1.0, request_count_per_target=5000.0), periods=20) is None


def test_scale_in_disabled_policy_does_not_vote() -> None:
    req_no_in = policy("req", PredefinedMetric.REQUEST_COUNT_PER_TARGET, 1000.0, disable_scale_in=True)
    c = Clock([CPU, req_no_in], running=10, desired=10)
    d = c.tick(Metrics(cpu=5.0, request_count_per_target=990.0), periods=15)
    assert d is not None and d.direction == "in" and d.policy_name == "cpu"


def test_most_conservative_scale_in_wins() -> None:
    mem = policy("mem", PredefinedMetric.MEMORY, 50.0)
    # running 3: CPU at 1 % proposes max(ceil(0.06), 3 - 1) = 2; memory at 44 % proposes ceil(2.64) = 3
    c = Clock([CPU, mem], running=3, desired=3)
    assert c.tick(Metrics(cpu=1.0, memory=44.0), periods=20) is None
    # memory at 30 %: ceil(1.8) = 2, both agree on 2
    d = c.tick(Metrics(cpu=1.0, memory=30.0))  # both alarms already in ALARM
    assert d is not None and d.desired == 2


def test_ignores_custom_metric_and_other_resources() -> None:
    custom = policy("custom", None)
    other = policy("other", resource_id="service/cluster/other")
    c = Clock([custom, other])
    assert c.tick(Metrics(cpu=99.0), periods=10) is None
    assert c.state.alarms == {}


# --- metric helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "targets", "period", "expected"),
    [(1200, 2, 60.0, 600.0), (10, 1, 1.0, 600.0), (0, 3, 60.0, 0.0), (50, 0, 60.0, 50.0), (5, 1, 0.0, None)],
)
def test_request_count_per_target(requests: int, targets: int, period: float, expected: float | None) -> None:
    assert request_count_per_target(requests, targets, period) == expected


@pytest.mark.parametrize(
    ("used", "reserved", "expected"),
    [([256.0, 128.0], 512.0, 37.5), ([512.0], 512.0, 100.0), ([], 512.0, None), ([10.0], 0.0, None)],
)
def test_service_utilization(used: list[float], reserved: float, expected: float | None) -> None:
    assert service_utilization(used, reserved) == expected


def test_metrics_value() -> None:
    m = Metrics(cpu=1.0, memory=2.0, request_count_per_target=3.0)
    assert [m.value(x) for x in PredefinedMetric] == [1.0, 2.0, 3.0]


# --- property: bounds and cooldowns hold for any metric sequence -----------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(0.0, 400.0)), min_size=1, max_size=60),
    lo=st.integers(0, 3),
    span=st.integers(0, 8),
    start=st.integers(0, 12),
    deployment=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_scaling_invariants(
    values: list[float | None], lo: int, span: int, start: int, deployment: list[bool]
) -> None:
    hi = lo + span
    c = Clock(
        [policy(scale_in_cooldown_seconds=180, scale_out_cooldown_seconds=120)], running=start, desired=start
    )
    c.target = ScalableTarget(RID, lo, hi)
    last_in: float | None = None
    for i, v in enumerate(values):
        c.deployment = deployment[i]
        before = c.desired
        d = c.tick(Metrics(cpu=v))
        if d is None:
            continue
        assert lo <= d.desired <= hi
        assert d.description == f"Setting desired count to {d.desired}."
        if d.direction == "out":
            assert d.desired > before
            last_in = None  # a scale-out cancels the scale-in cooldown
        else:
            assert d.desired < before
            assert not deployment[i]
            assert v is not None and v < 45.0
            if last_in is not None:
                assert c.now - last_in >= 180.0
            last_in = c.now
