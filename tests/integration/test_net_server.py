"""The control endpoints' HTTP server on real loopback sockets (albfargate.net.server.HttpServer): the port
search, a taken port refused without it, and stop() ending open connections and streams."""

from __future__ import annotations

import asyncio
import socket

import pytest

from albfargate.net.http import Response
from albfargate.net.server import HttpServer, Limits, Request, Sink, Streamed

LIMITS = Limits(max_head=4096, max_body=1024, idle_timeout=30.0)


async def hello(request: Request) -> Response:
    return Response(200, (("Content-Type", "text/plain"),), b"hello")


def test_a_taken_port_is_skipped_with_search_and_refused_without() -> None:
    async def scenario() -> None:
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen()
            taken = blocker.getsockname()[1]
            server = HttpServer(hello, LIMITS)
            with pytest.raises(OSError):
                await server.start("127.0.0.1", taken)
            assert server.sockname is None
            port = await server.start("127.0.0.1", taken, search=20)
            try:
                assert port > taken and server.sockname == ("127.0.0.1", port)
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = await asyncio.wait_for(reader.read(), 5)
                writer.close()
                assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nhello")
            finally:
                await server.stop()
            assert server.sockname is None

    asyncio.run(scenario())


def test_stop_ends_keep_alive_connections_and_streams() -> None:
    done: list[bool] = []
    forever = asyncio.Event()

    async def pump(sink: Sink) -> None:
        sink.write(b"data: 1\n\n")
        await sink.drain()
        await forever.wait()  # never set: only stop() ends it

    async def respond(request: Request) -> Response | Streamed:
        if request.head.path == "/stream":
            return Streamed(200, (), pump, done=lambda: done.append(True))
        return await hello(request)

    async def scenario() -> None:
        server = HttpServer(respond, LIMITS)
        port = await server.start("127.0.0.1", 0)
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
        idle_w.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # keep-alive: stays open
        first = await asyncio.wait_for(idle_r.readuntil(b"hello"), 5)
        assert b"Connection: keep-alive" in first
        stream_r, stream_w = await asyncio.open_connection("127.0.0.1", port)
        stream_w.write(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await asyncio.wait_for(stream_r.readuntil(b"data: 1\n\n"), 5)).startswith(b"HTTP/1.1 200")
        await asyncio.wait_for(server.stop(), 5)
        assert done == [True]
        assert await asyncio.wait_for(idle_r.read(), 5) == b""  # closed by the server
        assert await asyncio.wait_for(stream_r.read(), 5) == b""
        idle_w.close()
        stream_w.close()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    asyncio.run(scenario())
