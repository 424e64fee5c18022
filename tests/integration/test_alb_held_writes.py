"""Writes held to the end of the event loop iteration (``stream.HeldWrites``, issue 4 performance): a
``Stream.write`` is not sent when it is made but once the loop's current iteration ends, in order, one
system call per stream; ``drain``, ``write_eof`` and closing send what is held first, ``abort`` drops it,
and each event loop (a process may run several, in threads) holds its own. Real loopback sockets, on the
standard asyncio loop and on uvloop."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from albfargate.alb import stream
from albfargate.model import FixedResponseAction

from .alb_support import model, port_of, running, target_group
from .loop_support import event_loops

pytestmark = pytest.mark.integration


LOOPS = pytest.mark.parametrize("loop_factory", event_loops())


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop], main: Coroutine[Any, Any, None]) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as r:
        r.run(main)


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[stream.Stream, asyncio.StreamReader, asyncio.StreamWriter]]:
    """A server-side ``Stream`` and the client end of the same loopback connection."""
    made: asyncio.Future[stream.Stream] = asyncio.get_running_loop().create_future()
    server = await asyncio.get_running_loop().create_server(
        lambda: stream.Stream(made.set_result), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    s = await asyncio.wait_for(made, 5)
    try:
        yield s, r, w
    finally:
        w.close()
        s.abort()
        server.close()
        await server.wait_closed()


async def _read_exactly(r: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(r.readexactly(n), 5)


@LOOPS
def test_writes_are_sent_in_order_when_the_iteration_ends(loop_factory: Any) -> None:
    async def main() -> None:
        async with pair() as (s, r, _w):
            s.write(b"one ")
            s.write(b"two ")
            s.write(b"three")
            # held: nothing reached the transport yet, the backlog counts it
            assert s.transport.get_write_buffer_size() == 0
            assert s.backlog() == len(b"one two three")
            assert await _read_exactly(r, 13) == b"one two three"
            assert s.backlog() == 0

    run(loop_factory, main())


@LOOPS
def test_every_stream_written_in_an_iteration_is_sent(loop_factory: Any) -> None:
    async def main() -> None:
        async with pair() as (a, ra, _wa), pair() as (b, rb, _wb):
            a.write(b"to a")
            b.write(b"to b")
            a.write(b" again")
            assert held_streams() == [a, b]
            assert await _read_exactly(rb, 4) == b"to b"
            assert await _read_exactly(ra, 10) == b"to a again"
            assert held_streams() == []

    run(loop_factory, main())


def held_streams() -> list[stream.Stream]:
    return list(stream.held_writes(asyncio.get_running_loop()).streams)


@LOOPS
def test_write_eof_sends_what_is_held_first(loop_factory: Any) -> None:
    async def main() -> None:
        async with pair() as (s, r, _w):
            s.write(b"last words")
            s.write_eof()
            assert await asyncio.wait_for(r.read(), 5) == b"last words"  # then end of stream

    run(loop_factory, main())


@LOOPS
def test_drain_sends_what_is_held_first(loop_factory: Any) -> None:
    async def main() -> None:
        s = stream.Stream()
        t = RecordingTransport()
        s.connection_made(t)
        s.write(b"x" * 1000)
        await s.drain()  # not paused: returns without a loop iteration, the bytes went out meanwhile
        assert t.calls == [("write", [b"x" * 1000])]

    run(loop_factory, main())


@LOOPS
def test_abort_drops_what_is_held(loop_factory: Any) -> None:
    async def main() -> None:
        async with pair() as (s, r, _w):
            s.write(b"never sent")
            s.abort()
            assert s.backlog() == 0
            await asyncio.sleep(0.05)  # the release callback runs: nothing is written to the dead transport
            data = await asyncio.wait_for(r.read(), 5)
            assert data == b""

    run(loop_factory, main())


@LOOPS
def test_a_stream_closed_by_its_peer_before_the_release_writes_nothing(loop_factory: Any) -> None:
    async def main() -> None:
        async with pair() as (s, _r, w):
            # a reset (linger 0), not a FIN: the Stream keeps a half-closed connection open for writing
            w.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            w.transport.abort()
            await asyncio.wait_for(_until(lambda: s.closed), 5)
            s.write(b"ignored")  # after connection_lost: dropped, never held
            assert s.backlog() == 0
            assert held_streams() == []

    run(loop_factory, main())


async def _until(pred: Callable[[], bool]) -> None:
    while not pred():
        await asyncio.sleep(0.01)


def test_each_event_loop_holds_its_own_writes() -> None:
    """Two loops in two threads: a write on one is released by that loop, never by the other."""
    results: dict[str, bytes] = {}
    batches: dict[str, stream.HeldWrites] = {}
    errors: list[BaseException] = []

    def thread_main(name: str) -> None:
        async def main() -> None:
            batches[name] = stream.held_writes(asyncio.get_running_loop())
            async with pair() as (s, r, _w):
                for i in range(50):
                    s.write(f"{name}{i:02d};".encode())
                    await asyncio.sleep(0)
                results[name] = await _read_exactly(r, 50 * len(f"{name}00;"))

        try:
            asyncio.run(main())
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=thread_main, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert batches["a"] is not batches["b"]
    for name in ("a", "b"):
        assert results[name] == "".join(f"{name}{i:02d};" for i in range(50)).encode()


@LOOPS
def test_alb_answers_to_pipelined_requests_leave_in_one_send(loop_factory: Any) -> None:
    """Three pipelined requests answered by the ALB itself: the three answers are written in the same
    iteration, so they leave together and the client finds all three in its first read."""

    async def main() -> None:
        m = model([target_group("tga")], default=(FixedResponseAction("200", "text/plain", "hi"),))
        async with running(m) as rt:
            port = port_of(rt)
            sock = socket.create_connection(("127.0.0.1", port))
            try:
                sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
                sock.settimeout(5)
                loop = asyncio.get_running_loop()
                first = await loop.run_in_executor(None, sock.recv, 65536)
            finally:
                sock.close()
        assert first.count(b"HTTP/1.1 200 OK") == 3

    run(loop_factory, main())


class RecordingTransport(asyncio.Transport):
    """Records what a Stream hands its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[bytes]]] = []

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: Any) -> None:
        self.calls.append(("write", [bytes(data)]))

    def writelines(self, list_of_data: Any) -> None:
        self.calls.append(("writelines", [bytes(d) for d in list_of_data]))

    def abort(self) -> None:
        self.calls.append(("abort", []))


@LOOPS
def test_writes_of_one_iteration_reach_the_transport_as_one_call(loop_factory: Any) -> None:
    async def main() -> None:
        s = stream.Stream()
        t = RecordingTransport()
        s.connection_made(t)
        s.write(b"a")
        s.write(b"b")
        s.write(b"c")
        assert t.calls == []
        await asyncio.sleep(0)
        assert t.calls == [("writelines", [b"a", b"b", b"c"])]
        s.write(b"d")  # the next iteration: a new burst, a single buffer goes as one write
        await asyncio.sleep(0)
        assert t.calls[1:] == [("write", [b"d"])]
        s.write(b"dropped")
        s.abort()
        await asyncio.sleep(0)
        assert t.calls[2:] == [("abort", [])]

    run(loop_factory, main())


@LOOPS
def test_a_client_pipelining_without_reading_is_paused_not_buffered(loop_factory: Any) -> None:
    """Thousands of pipelined requests the ALB answers itself, from a client that reads nothing: the
    ALB stops answering once the connection's unsent bytes pass the high-water mark (held writes are
    sent every ``HELD_WRITES_MAX`` writes, so the transport's flow control sees them) instead of holding
    every answer (~11 MB here)."""

    async def main() -> None:
        body = "x" * 1024  # the largest fixed-response body AWS allows
        m = model([target_group("tga")], default=(FixedResponseAction("200", "text/plain", body),))
        async with running(m) as rt:
            loop = asyncio.get_running_loop()
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port_of(rt)))
            sending = asyncio.ensure_future(
                loop.sock_sendall(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 9000)
            )
            try:
                await asyncio.sleep(0.5)
                conns = [c for b in rt._bound.values() for c in b.state.connections]
                assert len(conns) == 1
                assert conns[0].writer.backlog() < 1_000_000
            finally:
                sending.cancel()
                sock.close()

    run(loop_factory, main())


class ClosedTransport(RecordingTransport):
    """A transport whose handle is closed: uvloop raises on any write to it."""

    def write(self, data: Any) -> None:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"")


@LOOPS
def test_a_transport_that_refuses_held_bytes_costs_only_its_own(loop_factory: Any) -> None:
    """A stream whose transport refuses the held bytes at release (closed under them): they are dropped,
    the other streams of the same iteration still get theirs, later iterations are released as usual,
    and nothing reaches the loop's exception handler."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        a, b = stream.Stream(), stream.Stream()
        ta, tb = ClosedTransport(), RecordingTransport()
        a.connection_made(ta)
        b.connection_made(tb)
        a.write(b"lost")
        b.write(b"delivered")
        await asyncio.sleep(0)
        assert tb.calls == [("write", [b"delivered"])]
        assert a.backlog() == 0
        b.write(b"again")
        await asyncio.sleep(0)
        assert tb.calls[1:] == [("write", [b"again"])]
        assert errors == []

    run(loop_factory, main())
