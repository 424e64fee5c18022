"""The callback-driven fast lane of the ALB shell (issue 4, performance) keeps every behaviour of the
task path: on one keep-alive client connection the first request goes through the task (no pooled target
connection yet), the next ones on the pooled connection are served from protocol callbacks. Each
failure a target can cause there must still give the client the ALB's answer and leave nothing in
flight; a response the fast lane cannot finish (a body still streaming) is handed to a task and the
connection comes back to the callbacks afterwards."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from albfargate.alb import connection
from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.model import LoadBalancerAttributes, TargetGroupAttributes

from .alb_support import (
    Response,
    Upstream,
    healthy,
    model,
    port_of,
    read_response,
    running,
    target_group,
    wait_for,
)

pytestmark = pytest.mark.integration


def _sync(fn: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    @functools.wraps(fn)
    def run() -> None:
        asyncio.run(fn())

    return run


class Client:
    """One keep-alive client connection."""

    def __init__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.r, self.w = r, w

    async def get(self, path: str, *, timeout: float = 10.0) -> Response:
        self.w.write(f"GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
        return await asyncio.wait_for(read_response(self.r), timeout)


@asynccontextmanager
async def lane(
    *, idle: int = 60, delay: int = 1
) -> AsyncIterator[tuple[LoadBalancerRuntime, Upstream, Client, str]]:
    """A healthy target, a running LB and one client connection whose first request ("/") has left a
    pooled target connection behind, so that the next request takes the fast lane."""
    up = await Upstream("a").start()
    tg = target_group("tga", attributes=TargetGroupAttributes(deregistration_delay_seconds=delay))
    try:
        async with running(model([tg], attributes=LoadBalancerAttributes(idle_timeout_seconds=idle))) as rt:
            rt.targets.register(tg.arn, up.target)
            await healthy(rt, tg.arn)
            r, w = await asyncio.open_connection("127.0.0.1", port_of(rt))
            client = Client(r, w)
            try:
                first = await client.get("/")
                assert (first.status, first.body) == (200, b"a /")
                yield rt, up, client, tg.arn
            finally:
                w.transport.abort()
    finally:
        await up.stop()


def _in_flight(rt: LoadBalancerRuntime) -> int:
    return sum(t.outstanding for g in rt.targets.groups() for t in g.targets.values())


def _connections(rt: LoadBalancerRuntime) -> int:
    return sum(len(b.state.connections) for b in rt._bound.values())


def _modes(rt: LoadBalancerRuntime) -> list[int]:
    return [c.mode for b in rt._bound.values() for c in b.state.connections]


@_sync
async def test_pipelined_requests_are_answered_in_order() -> None:
    async with lane() as (rt, _up, c, _):
        c.w.write(b"".join(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(1, 4)))
        bodies = [(await asyncio.wait_for(read_response(c.r), 10)).body for _ in range(3)]
        assert bodies == [b"a /1", b"a /2", b"a /3"]
        assert _in_flight(rt) == 0


@_sync
async def test_target_closing_mid_head_is_502_and_the_client_connection_stays() -> None:
    async with lane() as (rt, _, c, _):
        bad = await c.get("/reset-head")
        assert bad.status == 502 and bad.header("Server") == "awselb/2.0"
        again = await c.get("/after")
        assert (again.status, again.body) == (200, b"a /after")
        assert _in_flight(rt) == 0


@_sync
async def test_malformed_response_head_is_502() -> None:
    async with lane() as (_, _, c, _):
        assert (await c.get("/malformed")).status == 502


@_sync
async def test_pooled_connection_closed_by_the_target_is_retried_once_on_a_new_one() -> None:
    # AWS's keep-alive race: the target closes the pooled connection as the request arrives
    async with lane() as (rt, up, c, _):
        res = await c.get("/drop-once")
        assert (res.status, res.body) == (200, b"a /drop-once")
        assert up.requests.count("/drop-once") == 2
        assert (await c.get("/next")).body == b"a /next"
        assert _in_flight(rt) == 0


@_sync
async def test_streamed_chunked_response_goes_to_a_task_and_the_connection_comes_back() -> None:
    async with lane() as (rt, _, c, _):
        big = await c.get("/big?n=300000")
        assert big.status == 200 and len(big.body) == 300000
        assert _modes(rt) == [connection.CALLBACK]  # back from the task
        assert (await c.get("/after")).body == b"a /after"
        assert _in_flight(rt) == 0


@_sync
async def test_target_reset_mid_body_closes_only_that_client() -> None:
    async with lane() as (rt, _, c, _):
        c.w.write(b"GET /reset-body HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await asyncio.wait_for(read_response(c.r), 10)
        await wait_for(lambda: _in_flight(rt) == 0)
        assert (await Client(*await asyncio.open_connection("127.0.0.1", port_of(rt))).get("/")).status == 200


@_sync
async def test_target_silent_past_the_idle_timeout_is_504() -> None:
    async with lane(idle=1) as (rt, _, c, _):
        res = await c.get("/slow?s=3", timeout=5)
        assert res.status == 504
        await wait_for(lambda: _in_flight(rt) == 0)


@_sync
async def test_deregistration_delay_cuts_a_fast_lane_request_with_502() -> None:
    async with lane(delay=1) as (rt, up, c, arn):
        c.w.write(b"GET /slow?s=5 HTTP/1.1\r\nHost: x\r\n\r\n")
        await wait_for(lambda: "/slow" in up.requests)
        assert _modes(rt) == [connection.FAST]  # served from callbacks, no task
        rt.targets.deregister(arn, up.target)
        res = await asyncio.wait_for(read_response(c.r), 5)
        assert res.status == 502
        assert _in_flight(rt) == 0


@_sync
async def test_client_leaving_mid_exchange_leaves_nothing_behind() -> None:
    async with lane() as (rt, up, c, _):
        assert _connections(rt) == 1
        c.w.write(b"GET /slow?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
        await wait_for(lambda: "/slow" in up.requests)
        assert _modes(rt) == [connection.FAST]
        c.w.transport.abort()
        await wait_for(lambda: _in_flight(rt) == 0 and _connections(rt) == 0, timeout=5)
        assert rt.metrics.snapshot()  # the LB still answers
        assert (await Client(*await asyncio.open_connection("127.0.0.1", port_of(rt))).get("/")).status == 200


def _active(rt: LoadBalancerRuntime) -> float:
    snap = rt.metrics.snapshot().values()
    return sum(v["ActiveConnectionCount"] for v in snap if "ActiveConnectionCount" in v)


@_sync
async def test_every_way_a_connection_ends_is_counted_once() -> None:
    # the task path closing (Connection: close on a fresh connection), the fast lane closing, an
    # ALB-made answer closing, a framing error, a client leaving while idle: ActiveConnectionCount
    # goes back to 0, never below
    async with lane() as (rt, _, c, _):
        port = port_of(rt)
        for raw in (
            b"GET /big?n=200000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # body relayed by a task
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",  # task
            b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # ALB-made 405
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",  # 400
        ):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(raw)
            assert (await asyncio.wait_for(read_response(r), 10)).status in (200, 400, 405)
            w.transport.abort()
        c.w.write(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # the fast lane, closing
        assert (await asyncio.wait_for(read_response(c.r), 10)).body == b"a /b"
        r, w = await asyncio.open_connection("127.0.0.1", port)
        await wait_for(lambda: _connections(rt) == 1)
        w.transport.abort()  # idle, gone
        await wait_for(lambda: _connections(rt) == 0)
        await asyncio.sleep(0.1)
        assert _active(rt) == 0
