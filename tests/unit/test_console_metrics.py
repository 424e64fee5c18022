"""The console's traffic series (console/metrics.py): per-interval deltas of the ALB's counters, p50/p99
and status splits from the sampled exchanges, ALB-made apart from target-made, the 15-minute window."""

from __future__ import annotations

import pytest

from albfargate.console.metrics import (
    LbReading,
    MetricsHistory,
    Observed,
    Reading,
    TgReading,
    percentile,
    status_field,
)

LB, L1, L2, TG = "arn:lb", "arn:l1", "arn:l2", "arn:tg"
T1 = "127.0.0.1:1001"


def reading(
    lb_requests: int, tg_requests: int, t1: int, *, elb_5xx: int = 0, t2xx: int = 0, listeners=None
) -> Reading:
    return Reading(
        lbs={LB: LbReading(lb_requests, 0, 0, elb_5xx, t2xx, 0, 0, 0)},
        tgs={TG: TgReading(tg_requests, t2xx, 0, 0, 0)},
        targets={(TG, T1): t1},
        listeners=listeners or {L1: LB},
        labels={LB: "my-lb", TG: "my-tg"},
    )


def ob(status: int | None, elb: int, t: float, listener: str = L1) -> Observed:
    return Observed(LB, listener, TG if status is not None else None, T1 if status else None, elb, status, t)


def points(out: list[dict], scope: str) -> list[dict]:
    return [p for p in out if p["scope"] == scope]


def test_percentile_nearest_rank() -> None:
    values = sorted(float(i) for i in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([0.5], 99) == 0.5
    assert percentile([], 50) is None


def test_status_fields_keep_alb_made_apart() -> None:
    assert status_field(ob(200, 200, 0.1)) == "target_2xx"
    assert status_field(ob(503, 503, 0.1)) == "target_5xx"  # the target said 503
    assert status_field(ob(None, 503, -1)) == "elb_5xx"  # the ALB said 503 (no target)
    assert status_field(ob(None, 301, -1)) == "elb_3xx"
    assert status_field(ob(None, 200, -1)) is None  # a fixed 200: no CloudWatch count


def test_counters_become_per_interval_rates() -> None:
    h = MetricsHistory(interval=1.0)
    h.step(100.0, reading(10, 8, 8, t2xx=8), [], sampling=False)
    out = h.step(101.0, reading(25, 20, 20, elb_5xx=3, t2xx=20), [], sampling=False)
    lb = points(out, "load_balancer")[0]
    assert lb["rps"] == 15.0 and lb["target_2xx"] == 12 and lb["elb_5xx"] == 3
    tg = points(out, "target_group")[0]
    assert tg["rps"] == 12.0 and tg["target_2xx"] == 12 and tg["elb_5xx"] == 0
    assert points(out, "target")[0]["rps"] == 12.0
    # no sampling: no percentiles, no sampled split of the target's statuses
    assert lb["p50"] is None and lb["p99"] is None and lb["sampled"] == 0
    assert points(out, "target")[0]["target_2xx"] is None
    # the only listener of its load balancer has the load balancer's exact counts
    assert points(out, "listener")[0]["rps"] == 15.0


def test_sampled_exchanges_give_percentiles_and_splits() -> None:
    h = MetricsHistory(interval=2.0)
    h.step(0.0, reading(0, 0, 0), [], sampling=True)
    obs = [ob(200, 200, t / 1000) for t in range(1, 100)] + [ob(500, 500, 1.0), ob(None, 503, -1)]
    out = h.step(2.0, reading(101, 100, 100, elb_5xx=1, t2xx=99), obs, sampling=True)
    lb = points(out, "load_balancer")[0]
    assert lb["sampled"] == 101
    assert lb["p50"] == pytest.approx(0.050)
    assert lb["p99"] == pytest.approx(0.099)  # the ALB-made 503 has no target time
    assert lb["rps"] == 50.5
    target = points(out, "target")[0]
    assert target["id"] == f"{TG}|{T1}"
    assert target["target_2xx"] == 99 and target["target_5xx"] == 1 and target["elb_5xx"] == 0


def test_two_listeners_are_split_by_the_sample() -> None:
    h = MetricsHistory()
    listeners = {L1: LB, L2: LB}
    h.step(0.0, reading(0, 0, 0, listeners=listeners), [], sampling=True)
    obs = [ob(200, 200, 0.01, L1), ob(200, 200, 0.02, L2), ob(None, 301, -1, L2)]
    out = h.step(1.0, reading(3, 2, 2, listeners=listeners), obs, sampling=True)
    by_id = {p["id"]: p for p in points(out, "listener")}
    assert by_id[L1]["rps"] == 1.0 and by_id[L2]["rps"] == 2.0
    assert by_id[L2]["elb_3xx"] == 1
    out = h.step(2.0, reading(4, 2, 2, listeners=listeners), [], sampling=False)
    assert {p["id"]: p["rps"] for p in points(out, "listener")} == {L1: None, L2: None}


def test_window_keeps_the_last_15_minutes_and_gone_series_age_out() -> None:
    h = MetricsHistory(interval=1.0, window=900)
    for i in range(1000):
        h.step(float(i), reading(i, i, i), [], sampling=False)
    doc = h.document(999.0, scope="load_balancer")
    assert len(doc["series"]) == 1
    pts = doc["series"][0]["points"]
    assert len(pts) == 900 and pts[0]["t"] == 100.0
    assert doc["series"][0]["label"] == "my-lb"
    assert [p["t"] for p in h.document(999.0, sid=LB, since=997.0)["series"][0]["points"]] == [998.0, 999.0]
    # the target leaves: its series stays until its last point is older than the window
    gone = Reading(lbs={}, tgs={}, targets={}, listeners={})
    h.step(1000.0, gone, [], sampling=False)
    assert any(s["scope"] == "target" for s in h.document(1000.0)["series"])
    h.step(1900.0, gone, [], sampling=False)
    assert not h.document(1900.0)["series"]


def test_a_counter_that_restarts_counts_from_zero() -> None:
    h = MetricsHistory()
    h.step(0.0, reading(50, 50, 50), [], sampling=False)
    out = h.step(1.0, reading(5, 5, 5), [], sampling=False)
    assert points(out, "load_balancer")[0]["rps"] == 0.0


def test_the_first_reading_is_a_baseline_not_a_spike() -> None:
    h = MetricsHistory()
    out = h.step(0.0, reading(5000, 5000, 5000), [], sampling=False)
    assert points(out, "load_balancer")[0]["rps"] == 0.0


def test_a_baseline_counts_what_was_served_before_the_first_step() -> None:
    # the sampler takes the baseline when the load balancers' runtime appears; requests served before the
    # first tick (a fast `up`, then a quick burst) land in the first interval instead of vanishing
    h = MetricsHistory(interval=1.0)
    h.baseline(reading(0, 0, 0))
    out = h.step(1.0, reading(7, 7, 7, t2xx=7), [], sampling=False)
    assert points(out, "load_balancer")[0]["target_2xx"] == 7
    assert points(out, "target_group")[0]["target_2xx"] == 7 and points(out, "target")[0]["rps"] == 7.0
    assert h.labels[TG] == "my-tg"
