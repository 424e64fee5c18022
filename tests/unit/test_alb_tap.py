"""The console's sample of a process's exchanges (alb/tap.py): the tap takes the first ``limit`` exchanges
of an interval with their heads and body start, then steps out of the request path until the next take;
exchanges cross the worker pipe as plain values; a captured body is whole or says it is not; the
timeline holds a bounded amount of bodies (console/timeline.py)."""

from __future__ import annotations

import dataclasses
import pickle
from collections import deque
from typing import Any

from albfargate.alb import exchange as exchange_mod
from albfargate.alb.exchange import Exchange
from albfargate.alb.tap import BODY_LIMIT, EXCHANGE_FIELDS, Taken, Tap, body_of, exchange_of, exchange_values
from albfargate.console.timeline import Timeline, body_info


class Ctx:
    def __init__(self) -> None:
        self.logged: list[Exchange] = []
        self.sink: Any = self.logged.append
        self.capture: Any = None


def ex(n: int) -> Exchange:
    e = Exchange("http", "app/lb/1", ("127.0.0.1", 1000 + n), 100.0 + n)
    e.request_line = f"GET http://x/{n} HTTP/1.1"
    return e


def request(
    ctx: Ctx, e: Exchange, head: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", buf: bytes = b""
) -> None:
    """What the connection does: capture as it routes (when hooked), the sink at the end."""
    if ctx.capture is not None:
        ctx.capture(e, head, b"GET / HTTP/1.1\r\nX-Forwarded-For: 1\r\n\r\n", bytearray(buf))
    if ctx.sink is not None:
        ctx.sink(e)


def test_every_exchange_attribute_is_listed() -> None:
    if dataclasses.is_dataclass(exchange_mod.Exchange):
        assert {f.name for f in dataclasses.fields(exchange_mod.Exchange)} == set(EXCHANGE_FIELDS)
    e = ex(1)
    e.target, e.elb_status, e.actions_executed, e.sent_at = "127.0.0.1:9", 200, ("forward",), 101.5
    values = exchange_values(e)
    back = exchange_of(pickle.loads(pickle.dumps(values)))  # as it crosses the worker pipe
    assert exchange_values(back) == values


def test_the_tap_takes_a_sample_then_steps_aside_until_the_next_take() -> None:
    ctx = Ctx()
    original = ctx.sink
    ring: deque[Taken] = deque(maxlen=3)
    tap = Tap(ctx, ring)
    assert ctx.sink is tap.sink and ctx.capture is tap.capture
    for i in range(5):
        request(ctx, ex(i), buf=b"" if i else b"abc")
    assert len(ctx.logged) == 5  # the access log has every exchange
    assert [t[0].client[1] for t in ring] == [1000, 1001, 1002]  # the first three
    assert ring[0][1] is not None and ring[0][3] == b"abc" and ring[1][3] is None
    # the sample is full: the context's own sink is back and there is no capture hook
    assert ctx.sink is original and ctx.capture is None and tap.paused
    taken = tap.take()
    assert len(taken) == 3 and not ring
    assert ctx.sink is tap.sink and ctx.capture is tap.capture  # the next interval
    request(ctx, ex(9))
    assert [t[0].client[1] for t in tap.take()] == [1009]
    tap.remove()
    assert ctx.sink is original and ctx.capture is None


def test_heads_are_kept_at_most_for_the_sample() -> None:
    ctx = Ctx()
    tap = Tap(ctx, deque(maxlen=2))
    a, b, c = ex(1), ex(2), ex(3)
    head = b"GET / HTTP/1.1\r\n\r\n"
    ctx.capture(a, head, None, bytearray())
    ctx.capture(b, head, None, bytearray())
    ctx.capture(c, head, None, bytearray())  # ring + pending heads reach the sample: no more heads
    assert ctx.capture is None and len(tap.heads) == 2
    ctx.sink(c)
    ctx.sink(a)
    taken = tap.take()
    assert [(t[0], t[1] is not None) for t in taken] == [(c, False), (a, True)]


def test_a_body_is_whole_only_when_all_of_it_came_with_the_head() -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
    assert body_of(head, b"hello") == (b"hello", 5, True)
    assert body_of(head, b"helloGET / HTTP/1.1\r\n") == (b"hello", 5, True)  # a pipelined request after
    assert body_of(head, b"hel") == (b"hel", 5, False)
    assert body_of(head, None) == (b"", 5, False)  # it came after the head
    assert body_of(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /next HTTP/1.1\r\n\r\n") is None
    assert body_of(None, b"x") is None
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert body_of(chunked, b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n") == (b"hello!", None, True)
    assert body_of(chunked, b"5\r\nhello\r\n3\r\nab") == (b"helloab", None, False)
    big = b"x" * BODY_LIMIT
    assert body_of(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (BODY_LIMIT + 1), big)[2] is False


def test_the_timeline_keeps_the_newest_bodies_within_its_budget() -> None:
    t = Timeline(size=10, body_budget=10)
    head = b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
    rs = [t.add(ex(i), None, None, head_in=head, body=b"abcd") for i in range(4)]
    assert t.body_bytes == 8 and [r.body is not None for r in rs] == [False, False, True, True]
    old, new = body_info(rs[0]), body_info(rs[3])
    assert old is not None and old["whole"] is False and "no longer keeps" in old["why"]
    assert new == {"length": 4, "captured": 4, "whole": True, "why": None}
    for i in range(10):  # the entries with bodies leave the timeline: their bytes are given back
        t.add(ex(10 + i), None, None)
    assert t.body_bytes == 0 and not t._with_body
