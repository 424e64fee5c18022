"""The live target registry without sockets: registration states, NotInUse groups, draining with the
deregistration delay (cutting in-flight requests), health updates and slow-start entry on a fake clock,
sticky picks, and the request counters."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from albfargate.alb import health
from albfargate.alb.targets import LiveTargets
from albfargate.model import HealthCheck, TargetGroup, TargetGroupAttributes
from albfargate.model.targets import TargetId, TargetState

A, B, C = TargetId("127.0.0.1", 1001), TargetId("127.0.0.1", 1002), TargetId("127.0.0.1", 1003)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def group(arn: str = "tg", **attrs: object) -> TargetGroup:
    return TargetGroup(arn=arn, name=arn, tg_id="1", attributes=TargetGroupAttributes(**attrs))  # type: ignore[arg-type]


def registry(*groups: TargetGroup, clock: Clock | None = None) -> LiveTargets:
    reg = LiveTargets(groups or (group(),), clock=clock or Clock(), rng=random.Random(1))
    reg.set_in_use([g.arn for g in (groups or (group(),))])
    return reg


OK = health.CheckResult(True, None, None)


def make_healthy(reg: LiveTargets, arn: str, tid: TargetId) -> None:
    t = reg.target(arn, tid)
    assert t is not None
    reg.set_health(arn, t, health.on_check(t.health, OK, HealthCheck()))


def test_register_enters_initial_and_unknown_is_not_registered() -> None:
    reg = registry()
    events: list[str] = []
    reg.subscribe(lambda arn, t, ev: events.append(f"{ev} {t.key}"))
    reg.register("tg", A)
    reg.register("tg", A)  # idempotent
    assert reg.health_of("tg", A).state is TargetState.INITIAL
    assert reg.health_of("tg", B) == health.not_registered()
    assert events == ["register 127.0.0.1:1001"]
    assert [t for t, _ in reg.describe("tg")] == [A]
    reg.deregister("tg", B)  # unknown: no-op


def test_group_not_in_use_reports_not_in_use() -> None:
    reg = LiveTargets([group("used"), group("idle")], clock=Clock())
    reg.set_in_use(["used"])
    reg.register("idle", A)
    assert reg.health_of("idle", A) == health.not_in_use()
    assert (reg.in_use("used"), reg.in_use("idle"), reg.in_use("unknown")) == (True, False, False)
    reg.set_in_use(["used", "idle"])
    assert reg.health_of("idle", A).state is TargetState.INITIAL


def test_initial_and_draining_targets_get_no_request() -> None:
    reg = registry()
    reg.register("tg", A)
    assert reg.pick("tg", 0.0) is None  # only initial -> 503
    make_healthy(reg, "tg", A)
    t = reg.pick("tg", 0.0)
    assert t is not None and t.key == "127.0.0.1:1001"

    async def drain() -> None:
        reg.deregister("tg", A)
        assert reg.health_of("tg", A).state is TargetState.DRAINING
        assert reg.pick("tg", 0.0) is None

    asyncio.run(drain())


class FastLoop(asyncio.SelectorEventLoop):
    """An event loop whose time runs 20x fast: ``call_later`` (which ``asyncio.sleep`` uses too) waits
    ``delay / 20``, so a whole-second deregistration delay takes 50 ms. Records the delays asked for."""

    SPEED = 20

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def call_later(  # type: ignore[override]  # typeshed's TypeVarTuple signature; Any is enough here
        self, delay: float, callback: Any, *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        self.asked.append(delay)
        return super().call_later(delay / self.SPEED, callback, *args, context=context)


def test_deregistration_delay_cuts_in_flight_then_target_leaves() -> None:
    # Whole seconds, as AWS's deregistration_delay.timeout_seconds and the model's int field (which the
    # compiled build enforces at run time); FastLoop keeps the test quick.
    reg = registry(group(deregistration_delay_seconds=1))
    reg.register("tg", A)
    make_healthy(reg, "tg", A)
    cut: list[str] = []

    async def scenario() -> None:
        t = reg.pick("tg", 0.0)
        assert t is not None
        reg.begin("tg", t, lambda: cut.append("cut"))
        assert t.outstanding == 1 and reg.request_count("tg") == 1
        reg.deregister("tg", A)
        await asyncio.sleep(0.4)
        assert reg.health_of("tg", A).state is TargetState.DRAINING and cut == []
        await asyncio.sleep(1.6)
        assert cut == ["cut"]
        assert reg.describe("tg") == []
        assert t.gone

    with asyncio.Runner(loop_factory=FastLoop) as runner:
        runner.run(scenario())
        loop = runner.get_loop()
        assert isinstance(loop, FastLoop) and loop.asked[0] == 1  # the drain timer: the attribute's 1 s


def test_zero_delay_leaves_at_once_and_reregistering_a_draining_target_restarts_it() -> None:
    reg = registry(group(deregistration_delay_seconds=0))  # type: ignore[arg-type]
    reg.register("tg", A)
    reg.deregister("tg", A)
    assert reg.describe("tg") == []

    reg2 = registry(group(deregistration_delay_seconds=30))  # type: ignore[arg-type]

    async def scenario() -> None:
        reg2.register("tg", A)
        reg2.deregister("tg", A)
        reg2.register("tg", A)
        assert reg2.health_of("tg", A).state is TargetState.INITIAL
        reg2.close()

    asyncio.run(scenario())


def test_slow_start_only_when_another_healthy_target_exists() -> None:
    clock = Clock()
    reg = registry(group(slow_start_seconds=30), clock=clock)  # type: ignore[arg-type]
    reg.register("tg", A)
    reg.register("tg", B)
    make_healthy(reg, "tg", A)
    ta = reg.target("tg", A)
    assert ta is not None and ta.slow_start_from is None and ta.healthy_since == 1000.0
    clock.t = 1010.0
    make_healthy(reg, "tg", B)
    tb = reg.target("tg", B)
    assert tb is not None and tb.slow_start_from == 1010.0


def test_sticky_key_wins_only_for_a_routable_target() -> None:
    reg = registry()
    for tid in (A, B, C):
        reg.register("tg", tid)
        make_healthy(reg, "tg", tid)
    for _ in range(5):
        t = reg.pick("tg", 0.0, "127.0.0.1:1002")
        assert t is not None and t.key == "127.0.0.1:1002"
    keys = {reg.pick("tg", 0.0, "127.0.0.1:9999").key for _ in range(6)}  # type: ignore[union-attr]
    assert keys == {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}  # round robin


def test_counts_and_failing_targets_fail_open() -> None:
    reg = registry()
    reg.register("tg", A)
    reg.register("tg", B)
    make_healthy(reg, "tg", A)
    tb = reg.target("tg", B)
    assert tb is not None
    reg.set_health(
        "tg", tb, health.TargetHealth(TargetState.UNHEALTHY, "Target.Timeout", "Request timed out")
    )
    assert reg.counts("tg") == (1, 1)
    ta = reg.target("tg", A)
    assert ta is not None
    reg.set_health(
        "tg", ta, health.TargetHealth(TargetState.UNHEALTHY, "Target.Timeout", "Request timed out")
    )
    assert reg.counts("tg") == (0, 2)
    assert reg.pick("tg", 0.0) is not None  # all unhealthy: fail open


def test_requests_served_by_worker_processes_are_added_to_the_group() -> None:
    reg = registry()
    reg.add_requests("tg", 5)
    reg.add_requests("tg", 2)
    reg.add_requests("unknown", 9)  # a group the main process does not have: nothing
    assert reg.request_count("tg") == 7
