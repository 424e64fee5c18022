"""The web console beside a load balancer with worker processes (``workers=2``), on real sockets:

- requests served by the worker process reach the requests timeline (the worker samples them while a
  console stream is open and sends them over its pipe), with their heads, and the target series count
  them;
- replay sends a request again with its body; a body that did not arrive whole with its head, or is over
  the capture limit, is not replayed (409, saying why), and the body is never in the answer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from albfargate.alb.tap import BODY_LIMIT
from albfargate.console.server import ConsoleServer
from albfargate.state.store import Store

from .alb_support import Upstream, healthy, model, port_of, read_response, running, target_group
from .console_support import Console, EventReader

pytestmark = pytest.mark.integration


class _Engine:
    """What the console reads of an engine, for a load balancer run alone (as bench/alb.py does)."""

    def __init__(self, rt: Any, m: Any, state: Path) -> None:
        self.lb, self.model, self.state_dir = rt, m, state
        self.store = Store(time.time)
        self.api_url = None
        self.scheduler = self.autoscaler = None
        self._stopping = False

    def on_load_balancers(self, callback: Any) -> None:
        callback(self.lb)

    def backing_status(self) -> None:
        return None


async def _one(port: int, raw: bytes, *, split: bool = False) -> int:
    """One request on its own connection (``split``: the head, a pause, then the body)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        if split:
            head, _, body = raw.partition(b"\r\n\r\n")
            w.write(head + b"\r\n\r\n")
            await w.drain()
            await asyncio.sleep(0.2)
            w.write(body)
        else:
            w.write(raw)
        await w.drain()
        return (await read_response(r)).status
    finally:
        w.close()


async def _entries(c: Console, path: str) -> list[dict[str, Any]]:
    doc = await asyncio.to_thread(c.get, f"/api/requests?path={path}&limit=500")
    return list(doc["requests"])


async def _until(pred: Any, timeout: float = 10.0, fail: Any = None) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = await pred()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(fail() if fail is not None else "not reached in time")
        await asyncio.sleep(0.2)


def test_worker_requests_reach_the_timeline_and_the_series(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await Upstream("a").start()
        tg = target_group("tga")
        m = model([tg])
        try:
            async with running(m, workers=2) as rt:
                assert len(rt.worker_pids()) == 1
                rt.targets.register(tg.arn, up.target)
                await healthy(rt, tg.arn, 1)
                await asyncio.sleep(0.3)  # the snapshot reaches the worker
                console = ConsoleServer(_Engine(rt, m, tmp_path), port=0, port_search=False)
                await console.start()
                try:
                    c = Console(console.url)
                    stream = await asyncio.to_thread(EventReader, c, "/api/events?requests=1")
                    await asyncio.sleep(1.5)  # the worker is told to sample; the first point is a baseline
                    port = port_of(rt)
                    n = 60  # one connection each: SO_REUSEPORT spreads them over both processes
                    codes = await asyncio.gather(
                        *(
                            _one(port, f"GET /w/{i} HTTP/1.1\r\nHost: x\r\nX-Seq: {i}\r\n\r\n".encode())
                            for i in range(n)
                        )
                    )
                    assert codes == [200] * n
                    worker_served = [0]

                    async def all_there() -> list[dict[str, Any]] | None:
                        got = await _entries(c, "/w/")
                        return got if len(got) >= n else None

                    got = await _until(all_there)
                    assert sorted(e["path"] for e in got) == sorted(f"/w/{i}" for i in range(n))
                    for e in got:
                        assert e["target"] == f"127.0.0.1:{up.port}" and e["status"] == 200
                    # every entry has its heads, whichever process served it
                    one = await asyncio.to_thread(c.get, f"/api/requests/{got[0]['id']}")
                    assert ["X-Seq", got[0]["path"].rsplit("/", 1)[1]] in one["headers_in"]
                    assert one["headers_out"] is not None
                    # the worker served some of them: its counters reached the main process
                    pool = rt._pool
                    assert pool is not None
                    worker_served[0] = sum(pool.target_requests.values())
                    assert 0 < worker_served[0] < n, worker_served

                    totals: list[float] = []

                    async def counted() -> bool:
                        doc = await asyncio.to_thread(c.get, "/api/metrics?scope=target")
                        totals.append(sum(p["rps"] or 0 for s in doc["series"] for p in s["points"]))
                        return totals[-1] >= n

                    # the target series count the worker's requests too
                    await _until(counted, fail=lambda: f"target series total {totals[-1:]} of {n}")
                    stream.close()
                finally:
                    await console.stop()
        finally:
            await up.stop()

    asyncio.run(scenario())


def test_replay_sends_the_body_and_refuses_one_not_captured_whole(tmp_path: Path) -> None:
    async def scenario() -> None:
        up = await Upstream("a").start()
        tg = target_group("tga")
        m = model([tg])
        try:
            async with running(m) as rt:
                rt.targets.register(tg.arn, up.target)
                await healthy(rt, tg.arn, 1)
                console = ConsoleServer(_Engine(rt, m, tmp_path), port=0, port_search=False)
                await console.start()
                try:
                    c = Console(console.url)
                    stream = await asyncio.to_thread(EventReader, c, "/api/events?requests=1")
                    port = port_of(rt)
                    secret = b'{"password": "hunter2-s3cr3t", "n": 1}'
                    whole = (
                        b"POST /echo/whole HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(secret), secret)
                    )
                    chunked = (
                        b"POST /echo/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                    late = b"POST /echo/late HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nlater"
                    big = b"x" * (BODY_LIMIT + 10)
                    large = b"POST /echo/large HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
                        len(big),
                        big,
                    )
                    assert await _one(port, whole) == 200
                    assert await _one(port, chunked) == 200
                    assert await _one(port, late, split=True) == 200
                    assert await _one(port, large) == 200
                    token = await asyncio.to_thread(c.token)

                    async def entry_of(path: str) -> dict[str, Any]:
                        got = await _until(lambda: _entries(c, path))
                        doc = await asyncio.to_thread(c.get, f"/api/requests/{got[0]['id']}")
                        assert isinstance(doc, dict)
                        return doc

                    e = await entry_of("/echo/whole")
                    want = {"length": len(secret), "captured": len(secret), "whole": True, "why": None}
                    assert e["body"] == want
                    raw = await asyncio.to_thread(c.request, "GET", f"/api/requests/{e['id']}")
                    assert b"hunter2" not in raw[2]  # the body is never rendered (rule 5)
                    before = len(up.seen)
                    status, answer = await asyncio.to_thread(
                        c.act, "replay", {"request_id": e["id"]}, token=token
                    )
                    assert status == 200 and answer["status"] == 200, answer
                    assert "body" in answer["note"]
                    head, body, _ = up.seen[before]
                    assert head.startswith(b"POST /echo/whole ") and body == secret
                    assert b"content-type: application/json" in head.lower()

                    e = await entry_of("/echo/chunked")
                    assert e["body"]["whole"] and e["body"]["length"] is None
                    before = len(up.seen)
                    status, answer = await asyncio.to_thread(
                        c.act, "replay", {"request_id": e["id"]}, token=token
                    )
                    assert status == 200 and answer["status"] == 200, answer
                    assert up.seen[before][1] == b"hello world"

                    for path in ("/echo/late", "/echo/large"):
                        e = await entry_of(path)
                        assert e["body"]["whole"] is False and e["body"]["why"], e["body"]
                        before = len(up.seen)
                        status, answer = await asyncio.to_thread(
                            c.act, "replay", {"request_id": e["id"]}, token=token
                        )
                        assert status == 409 and answer["code"] == "conflict", answer
                        assert "not replayed" in answer["error"]
                        await asyncio.sleep(0.2)
                        assert len(up.seen) == before  # nothing was sent
                    stream.close()
                finally:
                    await console.stop()
        finally:
            await up.stop()

    asyncio.run(scenario())
