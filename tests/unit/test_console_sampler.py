"""The console's sampler (console/sampler.py) against a stand-in runtime: the baseline it takes when the
load balancers' runtime appears, and what one tick adds to the series."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from albfargate.alb.metrics import Metrics
from albfargate.console.hub import Hub
from albfargate.console.sampler import Sampler

LB, TG, L1 = "arn:lb", "arn:tg", "arn:l1"
T1 = "127.0.0.1:1001"


def runtime(metrics: Metrics, target: SimpleNamespace) -> SimpleNamespace:
    group = SimpleNamespace(tg=SimpleNamespace(arn=TG, name="web-tg"), targets={T1: target})
    binding = SimpleNamespace(lb_arn=LB, protocol="HTTP", local_port=8080, port=80, listener_arn=L1)
    lb = SimpleNamespace(arn=LB, full_name="app/web/1", name="web")
    return SimpleNamespace(
        metrics=metrics,
        targets=SimpleNamespace(groups=lambda: [group]),
        load_balancers=lambda: [lb],
        bindings=lambda: [binding],
        listener_rules=lambda arn: None,
    )


def serve(metrics: Metrics, target: SimpleNamespace, n: int) -> None:
    lb, tg = metrics.lbs[LB], metrics.tgs[TG]
    lb.requests += n
    lb.target_2xx += n
    tg.requests += n
    tg.target_2xx += n
    target.requests += n


def points(sampler: Sampler, scope: str) -> list[dict]:
    return [p for sid, s in sampler.history.series.items() if sampler.history.scopes[sid] == scope for p in s]


def test_requests_served_before_the_first_tick_count_in_it() -> None:
    metrics = Metrics()
    metrics.add_load_balancer(LB, "app/web/1")
    metrics.add_target_group(TG, "targetgroup/web-tg/1")
    target = SimpleNamespace(key=T1, requests=0)
    serve(metrics, target, 3)  # served before the console's sampler saw the runtime: not counted
    rt = runtime(metrics, target)
    sampler = Sampler(SimpleNamespace(lb=rt), Hub(), clock=lambda: 1.0)
    sampler.runtime_started(rt)
    serve(metrics, target, 7)  # a fast `up`, then a burst before the first tick
    asyncio.run(sampler.tick())
    assert [p["target_2xx"] for p in points(sampler, "target_group")] == [7]
    assert [p["rps"] for p in points(sampler, "target")] == [7.0]
    assert [p["target_2xx"] for p in points(sampler, "load_balancer")] == [7]
    assert sampler.history.labels[TG] == "web-tg" and sampler.history.labels[L1] == "web HTTP:80"
    serve(metrics, target, 2)
    asyncio.run(sampler.tick())
    assert [p["target_2xx"] for p in points(sampler, "target_group")] == [7, 2]


def test_without_a_runtime_a_tick_adds_nothing() -> None:
    sampler = Sampler(SimpleNamespace(lb=None), Hub(), clock=lambda: 1.0)
    asyncio.run(sampler.tick())
    assert sampler.history.series == {}
