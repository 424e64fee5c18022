"""Robustness of the local ALB over real sockets: draining under load loses no request, the
deregistration delay cuts what is still in flight with 502, 1,000 idle clients neither block others nor
outlive the idle timeout, a target reset costs one client only, and fuzzed/mutated requests never crash
or hang the listener."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck as HypothesisHealthCheck
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.model import LoadBalancerAttributes, TargetGroupAttributes
from albfargate.model.targets import TargetState

from .alb_support import (
    Upstream,
    get,
    healthy,
    model,
    one_healthy_target,
    port_of,
    read_response,
    running,
    target_group,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_draining_under_load_loses_no_request() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga = target_group("tga", attributes=TargetGroupAttributes(deregistration_delay_seconds=2))
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tga.arn, b.target)
                await healthy(rt, tga.arn, 2)
                port = port_of(rt)
                statuses: list[int] = []
                stop = asyncio.Event()

                async def client() -> None:
                    rd, wr = await asyncio.open_connection("127.0.0.1", port)
                    try:
                        while not stop.is_set():
                            wr.write(b"GET /slow?s=0.02 HTTP/1.1\r\nHost: x\r\n\r\n")
                            statuses.append((await asyncio.wait_for(read_response(rd), 5)).status)
                    finally:
                        wr.close()

                clients = [asyncio.ensure_future(client()) for _ in range(10)]
                await asyncio.sleep(0.5)
                rt.targets.deregister(tga.arn, a.target)
                assert rt.targets.health_of(tga.arn, a.target).state is TargetState.DRAINING
                await asyncio.sleep(0.1)  # requests in flight at deregistration may still land on a
                seen_a = len(a.requests)
                await asyncio.sleep(1.0)
                assert len(a.requests) == seen_a  # no new request to a draining target
                assert rt.targets.health_of(tga.arn, a.target).state is TargetState.DRAINING
                stop.set()
                await asyncio.gather(*clients)
                assert statuses and set(statuses) == {200}, set(statuses)
                assert len(statuses) > 50
                # after the delay the target leaves
                await wait_for(lambda: all(t != a.target for t, _ in rt.targets.describe(tga.arn)), 3)
                assert rt.targets.health_of(tga.arn, a.target).reason == "Target.NotRegistered"
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_deregistration_delay_cuts_in_flight_with_502() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga", attributes=TargetGroupAttributes(deregistration_delay_seconds=1))
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                await healthy(rt, tga.arn)
                port = port_of(rt)
                pending = asyncio.ensure_future(get(port, "/slow?s=10"))
                await wait_for(lambda: "/slow" in a.requests)
                rt.targets.deregister(tga.arn, a.target)
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                r = await asyncio.wait_for(pending, 5)
                assert r.status == 502
                assert 0.7 < loop.time() - t0 < 3.0
                assert (await get(port, "/")).status == 503  # no target left
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_thousand_idle_connections_do_not_block_and_are_closed() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # both ends of 1,000 connections live in this process
        if hard != resource.RLIM_INFINITY and hard < 4096:
            pytest.skip(f"needs 4096 open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))

    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        m = model([tga], attributes=LoadBalancerAttributes(idle_timeout_seconds=2))
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        try:
            async with running(m) as rt:
                rt.targets.register(tga.arn, a.target)
                await healthy(rt, tga.arn)
                port = port_of(rt)
                for i in range(1000):
                    idle.append(await asyncio.open_connection("127.0.0.1", port))
                    if i % 3 == 0:  # some send half a request
                        idle[-1][1].write(b"GET / HTTP/1.1\r\n")
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                r = await get(port, "/alive")
                assert r.status == 200
                assert loop.time() - t0 < 1.0
                # every idle connection is closed by the idle timeout (half requests get a 408 first)
                closed = 0

                async def eof(rd: asyncio.StreamReader) -> bool:
                    with contextlib.suppress(ConnectionError):
                        data = await asyncio.wait_for(rd.read(), 6)
                        return data == b"" or data.startswith(b"HTTP/1.1 408")
                    return True

                results = await asyncio.gather(*(eof(rd) for rd, _ in idle))
                closed = sum(results)
                assert closed == 1000
                assert loop.time() - t0 < 6
        finally:
            for _, wr in idle:
                wr.transport.abort()
            await a.stop()

    asyncio.run(scenario())


def test_target_reset_costs_one_client_only() -> None:
    async def scenario() -> None:
        async with one_healthy_target() as (rt, _tga, _a):
            port = port_of(rt)
            others = [asyncio.ensure_future(get(port, "/slow?s=0.3")) for _ in range(5)]
            await asyncio.sleep(0.05)
            assert (await get(port, "/reset-head")).status == 502
            # reset after the head: the client sees a truncated response and a closed connection
            rd, wr = await asyncio.open_connection("127.0.0.1", port)
            wr.write(b"GET /reset-body HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
                await asyncio.wait_for(read_response(rd), 5)
            wr.close()
            assert [(await o).status for o in others] == [200] * 5
            assert (await get(port, "/after")).body == b"a /after"

    asyncio.run(scenario())


# ------------------------------------------------------------------------------------------- fuzzing
class _Background:
    """A runtime + upstream on an event loop in a thread, so hypothesis drives plain sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0
        self._cm: contextlib.AbstractAsyncContextManager[LoadBalancerRuntime] | None = None
        self.upstream: Upstream | None = None

    def call(self, coro: object, timeout: float = 20) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def start(self) -> None:
        self.thread.start()

        async def up() -> None:
            self.upstream = await Upstream("a").start()
            tga = target_group("tga")
            m = model([tga], attributes=LoadBalancerAttributes(idle_timeout_seconds=1))
            self._cm = running(m)
            rt = await self._cm.__aenter__()
            rt.targets.register(tga.arn, self.upstream.target)
            await healthy(rt, tga.arn)
            self.port = port_of(rt)

        self.call(up())

    def stop(self) -> None:
        async def down() -> None:
            if self._cm is not None:
                await self._cm.__aexit__(None, None, None)
            if self.upstream is not None:
                await self.upstream.stop()

        try:
            self.call(down())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@pytest.fixture(scope="module")
def background() -> Iterator[_Background]:
    bg = _Background()
    bg.start()
    try:
        yield bg
    finally:
        bg.stop()


def _exchange(port: int, data: bytes) -> bytes:
    """Send bytes, half-close, read until the ALB closes (bounded: it must answer or close within
    the 1 s idle timeout, plus slack)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        with contextlib.suppress(OSError):
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        out = b""
        with contextlib.suppress(ConnectionResetError):
            while True:
                chunk = s.recv(65536)  # socket.timeout here means a hang: the test fails
                if not chunk:
                    break
                out += chunk
        return out


VALID = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /x?y=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 3))
        pos = draw(st.integers(0, len(base)))
        if op == 0 and base:
            del base[min(pos, len(base) - 1)]
        elif op == 1:
            base[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == 2 and base:
            base[min(pos, len(base) - 1)] = draw(st.integers(0, 255))
        else:
            base[pos:pos] = draw(
                st.sampled_from([b"\r\n", b"\n", b":", b" ", b"\x00", b"chunked", b"Content-Length: 9\r\n"])
            )
    return bytes(base)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HypothesisHealthCheck.function_scoped_fixture, HypothesisHealthCheck.too_slow],
)
@given(data=st.one_of(st.binary(max_size=400), mutated()))
def test_fuzzed_requests_never_crash_or_hang(background: _Background, data: bytes) -> None:
    out = _exchange(background.port, data)
    if out:
        assert out.startswith(b"HTTP/1.1 "), out[:80]


def test_valid_request_served_after_fuzzing(background: _Background) -> None:
    for data in (b"\x00" * 100, b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"\r\n" * 50):
        _exchange(background.port, data)
    out = _exchange(background.port, b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"a /ok")


def test_stop_lets_in_flight_finish_and_closes_idle_connections() -> None:
    async def scenario() -> None:
        async with one_healthy_target() as (rt, _tga, a):
            port = port_of(rt)
            idle_rd, idle_wr = await asyncio.open_connection("127.0.0.1", port)
            in_flight = asyncio.ensure_future(get(port, "/slow?s=0.5"))
            await wait_for(lambda: "/slow" in a.requests)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await rt.stop(grace=3.0)
            assert loop.time() - t0 < 2.0  # returned once the in-flight request was done
            r = await asyncio.wait_for(in_flight, 1)
            assert r.status == 200 and r.header("Connection") == "close"
            assert await asyncio.wait_for(idle_rd.read(), 1) == b""  # idle connection closed
            idle_wr.close()
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", port)  # no longer accepting

    asyncio.run(scenario())
