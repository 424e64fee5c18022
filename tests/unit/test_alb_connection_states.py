"""A client connection's phase and mode move only along their tables (alb/connection.py: PHASES, MODES);
any other transition raises IllegalTransition and costs that connection only. shutdown() closes an idle
connection and lets an exchange in flight go on; abort() cuts it. Fake transports, no sockets."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from typing import Any

import pytest

from albfargate.alb import connection as cn
from albfargate.alb.dispatch import ListenerState, Routing
from albfargate.alb.metrics import Metrics
from albfargate.alb.rules import CompiledRules
from albfargate.alb.stream import Stream
from albfargate.alb.targets import LiveTargets
from albfargate.model import (
    ForwardAction,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    TargetGroup,
    TargetGroupTuple,
)
from albfargate.model.targets import TargetHealth, TargetId, TargetState

PHASES = range(7)
PHASE_EVENTS = range(7)
MODES = range(4)
MODE_EVENTS = range(4)


def test_every_phase_transition_is_the_tables() -> None:
    for phase, event in itertools.product(PHASES, PHASE_EVENTS):
        want = cn.PHASES.get((phase, event))
        if want is None:
            with pytest.raises(cn.IllegalTransition):
                cn.next_phase(phase, event)
        else:
            assert cn.next_phase(phase, event) == want


def test_every_mode_transition_is_the_tables() -> None:
    for mode, event in itertools.product(MODES, MODE_EVENTS):
        want = cn.MODES.get((mode, event))
        if want is None:
            with pytest.raises(cn.IllegalTransition):
                cn.next_mode(mode, event)
        else:
            assert cn.next_mode(mode, event) == want


def test_illegal_transitions_name_the_state_and_the_event() -> None:
    with pytest.raises(cn.IllegalTransition, match="illegal phase transition: TUNNEL on HEAD_BYTES"):
        cn.next_phase(cn.TUNNEL, cn.HEAD_BYTES)
    with pytest.raises(cn.IllegalTransition, match="illegal phase transition: BODY on EMPTY"):
        cn.next_phase(cn.BODY, cn.EMPTY)  # a connection that failed mid-body closes, it never idles
    with pytest.raises(cn.IllegalTransition, match="illegal mode transition: DONE on BACK"):
        cn.next_mode(cn.DONE, cn.BACK)
    with pytest.raises(cn.IllegalTransition):
        cn.next_phase(cn.CLOSED, cn.CLOSE)  # closing twice is the caller's early return, not a move


def test_closed_and_done_are_reachable_from_every_live_state() -> None:
    assert all(cn.next_phase(p, cn.CLOSE) == cn.CLOSED for p in PHASES if p != cn.CLOSED)
    assert all(cn.next_mode(m, cn.FINISH) == cn.DONE for m in MODES if m != cn.DONE)


class FakeTransport:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def writelines(self, data: list[bytes]) -> None:
        self.out.append(b"".join(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True


def _connection(*, healthy: bool = True) -> tuple[cn.ClientConnection, FakeTransport, ListenerState]:
    tg = TargetGroup(arn="arn:tg", name="tg", tg_id="0" * 16, port=80)
    registry = LiveTargets([tg], clock=lambda: 1.0)
    registry.set_in_use([tg.arn])
    registry.register(tg.arn, TargetId("127.0.0.1", 9))
    t = registry.target(tg.arn, TargetId("127.0.0.1", 9))
    assert t is not None
    if healthy:
        registry.set_health(tg.arn, t, TargetHealth(TargetState.HEALTHY, None, None))
    lb = LoadBalancer(arn="arn:lb", name="lb", lb_id="0" * 16, dns_name="lb.example")
    default = (ForwardAction((TargetGroupTuple(tg.arn),)),)
    listener = Listener(
        arn="arn:l", load_balancer_arn=lb.arn, port=80, protocol="HTTP", default_actions=default
    )
    metrics = Metrics()
    ls = ListenerState(
        listener=listener,
        lb=lb,
        counters=metrics.add_load_balancer(lb.arn, lb.full_name),
        scheme="http",
        local_port=8080,
        rules=CompiledRules((), default),
        attributes=LoadBalancerAttributes(),
    )
    ctx = cn.ProxyContext(
        routing=Routing(registry=registry, local_ports={}, sticky_key=b"k" * 32, rng=random.Random(0)),
        metrics=metrics,
        tg_counters={},
    )
    transport = FakeTransport()
    made: list[cn.ClientConnection] = []

    def start(s: Stream) -> None:
        c = cn.ClientConnection(ctx, ls, s)
        made.append(c)
        c.start()

    Stream(start).connection_made(transport)  # type: ignore[arg-type]
    return made[0], transport, ls


def test_shutdown_closes_an_idle_connection_and_keeps_one_in_flight() -> None:
    async def main() -> None:
        c, transport, ls = _connection()
        assert (c.phase, c.mode) == (cn.IDLE, cn.CALLBACK) and c in ls.connections
        c.shutdown()
        assert transport.closed and c.mode == cn.DONE and c not in ls.connections

        busy, busy_transport, _ = _connection()
        busy.writer.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n")  # a head still arriving
        assert busy.phase == cn.HEAD
        busy.shutdown()
        assert not busy_transport.closed and busy.mode == cn.CALLBACK
        busy.abort()
        assert busy_transport.aborted or busy_transport.closed
        assert busy.phase == cn.CLOSED

    asyncio.run(main())


def test_an_illegal_transition_costs_the_connection_only(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        c, transport, ls = _connection()
        c.phase = cn.TUNNEL  # a state from which a request head cannot be framed: a bug if it happened
        with caplog.at_level(logging.ERROR, logger="albfargate.alb.connection"):
            c.writer.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert c.mode == cn.DONE and c not in ls.connections and (transport.closed or transport.aborted)
        assert "illegal phase transition: TUNNEL on HEAD_BYTES" in caplog.text
        # another connection of the listener is served as ever (no healthy target: the ALB's 503)
        ok, ok_transport, _ = _connection(healthy=False)
        ok.writer.data_received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        await asyncio.sleep(0)  # the held writes go out when the loop iteration ends
        assert b"".join(ok_transport.out).startswith(b"HTTP/1.1 503 ")
        assert (ok.phase, ok.mode) == (cn.IDLE, cn.CALLBACK)

    asyncio.run(main())
