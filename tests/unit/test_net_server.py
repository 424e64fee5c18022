"""The control endpoints' HTTP server loop (albfargate.net.server.serve_connection) fed bytes in memory (no
sockets): keep-alive and pipelining, the head bound, the Host guard before the body, bodies by length and
chunked, 100-continue, refusals worded by the endpoint (or a silent close), streamed answers, HEAD."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from albfargate.net.http import BodyRules, Problem, ProblemKind, RequestHead, Response
from albfargate.net.server import Admit, Limits, Refuse, Request, Sink, Streamed, serve_connection

LIMITS = Limits(max_head=256, max_body=16, idle_timeout=5.0)


class FakeWriter:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.data += data

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


def answers(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """The answers in ``data`` (Content-Length framed; an answer without one runs to the end)."""
    out = []
    rest = data
    while rest:
        raw, _, rest = rest.partition(b"\r\n\r\n")
        status, *lines = raw.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, rest = rest[:n], rest[n:]
        elif status.startswith("HTTP/1.1 100"):
            body = b""
        else:
            body, rest = rest, b""
        out.append((status, headers, body))
    return out


class Echo:
    """An endpoint that answers with the method, path and body it got."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    async def __call__(self, request: Request) -> Response | Streamed:
        self.seen.append(request)
        body = f"{request.method} {request.head.path} ".encode() + request.body
        return Response(200, (("Content-Type", "text/plain"),), body)


def worded(problem: Problem, head: RequestHead | None) -> Response:
    return Response(problem.status, (), f"{problem.kind}|{head is not None}|{problem.message}".encode())


def serve(
    data: bytes,
    respond: Callable[[Request], Awaitable[Response | Streamed]] | None = None,
    *,
    limits: Limits = LIMITS,
    refuse: Refuse = worded,
    admit: Admit | None = None,
    eof: bool = True,
) -> tuple[FakeWriter, asyncio.StreamReader]:
    async def run() -> tuple[FakeWriter, asyncio.StreamReader]:
        reader = asyncio.StreamReader(limit=limits.max_head)
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        writer = FakeWriter()
        await serve_connection(reader, writer, respond or Echo(), limits, refuse=refuse, admit=admit)
        return writer, reader

    return asyncio.run(run())


GET = b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_keep_alive_serves_pipelined_requests_in_order_until_close() -> None:
    data = (
        GET
        + b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
        + GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        + GET
    )
    writer, _ = serve(data)
    got = answers(bytes(writer.data))
    assert [(s, h["connection"], b) for s, h, b in got] == [
        ("HTTP/1.1 200 OK", "keep-alive", b"GET /a "),
        ("HTTP/1.1 200 OK", "keep-alive", b"POST /b xyz"),
        ("HTTP/1.1 200 OK", "close", b"GET /a "),  # and the fourth request is not served
    ]
    assert writer.closed


def test_one_request_per_connection_when_the_endpoint_says_so() -> None:
    writer, _ = serve(GET + GET, limits=Limits(max_head=256, max_body=16, idle_timeout=5, keep_alive=False))
    [(_, headers, _)] = answers(bytes(writer.data))
    assert headers["connection"] == "close"


def test_a_head_above_the_limit_is_431() -> None:
    big = b"GET / HTTP/1.1\r\nX: " + b"a" * 400 + b"\r\n\r\n"
    writer, _ = serve(big)
    [(status, headers, body)] = answers(bytes(writer.data))
    assert status == "HTTP/1.1 431 Request Header Fields Too Large" and headers["connection"] == "close"
    assert body == b"head_too_large|False|request head too large"


def test_a_malformed_head_is_worded_by_the_endpoint_or_closed_silently() -> None:
    writer, _ = serve(b"\x00\x01 garbage\r\n\r\n" + GET)
    [(status, _, body)] = answers(bytes(writer.data))
    assert status.startswith("HTTP/1.1 400") and body.startswith(b"malformed_head|False|malformed request")
    writer, _ = serve(b"\x00\x01 garbage\r\n\r\n", refuse=lambda problem, head: None)
    assert writer.data == b"" and writer.closed


def test_a_foreign_host_is_refused_before_the_body_is_read() -> None:
    echo = Echo()
    limits = Limits(max_head=256, max_body=16, idle_timeout=5, loopback_only=True)
    writer, reader = serve(
        b"POST / HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 4\r\n\r\nbody", echo, limits=limits
    )
    [(status, _, body)] = answers(bytes(writer.data))
    assert status.startswith("HTTP/1.1 403") and body.startswith(b"foreign_host|True|Host 'evil.example'")
    assert echo.seen == []

    async def left() -> bytes:
        return await reader.read()

    assert asyncio.run(left()) == b"body"  # unread
    writer, _ = serve(GET.replace(b"127.0.0.1", b"localhost:4566"), limits=limits)
    assert answers(bytes(writer.data))[0][0] == "HTTP/1.1 200 OK"


@pytest.mark.parametrize(
    ("extra", "kind", "status"),
    [
        (b"Content-Length: 17\r\n", ProblemKind.BODY_TOO_LARGE, 413),
        (b"Content-Length: x\r\n", ProblemKind.BAD_LENGTH, 400),
        (b"Transfer-Encoding: chunked\r\n", ProblemKind.CHUNKED_REFUSED, 411),
    ],
)
def test_body_refusals(extra: bytes, kind: ProblemKind, status: int) -> None:
    writer, _ = serve(b"POST / HTTP/1.1\r\n" + extra + b"\r\n" + b"a" * 17 + GET)
    [(line, headers, body)] = answers(bytes(writer.data))
    assert line.startswith(f"HTTP/1.1 {status}") and body.startswith(str(kind).encode())
    assert headers["connection"] == "close"


def test_linger_reads_the_refused_body_so_the_client_sees_the_answer() -> None:
    limits = Limits(max_head=256, max_body=16, idle_timeout=5, linger=True)
    writer, reader = serve(
        b"POST / HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + b"a" * 40 + b"tail", limits=limits
    )
    assert answers(bytes(writer.data))[0][0].startswith("HTTP/1.1 413")

    async def left() -> bytes:
        return await reader.read()

    assert asyncio.run(left()) == b"tail"  # the 40 bytes were read and dropped


CHUNKED = b"PUT /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked_rules(head: RequestHead) -> BodyRules:
    return BodyRules(max_body=8, chunked=True)


def test_chunked_bodies_where_admit_takes_them() -> None:
    body = b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n"
    writer, _ = serve(CHUNKED + body + GET, admit=chunked_rules)
    got = answers(bytes(writer.data))
    assert [b for _, _, b in got] == [b"PUT /o abcdefg", b"GET /a "]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", b"malformed chunk size"),
        (b"3\r\nabcX\r\n0\r\n\r\n", b"a chunk does not end with CRLF"),
        (b"5\r\nabcde\r\n5\r\nfghij\r\n0\r\n\r\n", b"the body exceeds 8 bytes"),
        (b"1" * 300 + b"\r\n", b"a chunk-size or trailer line is too long"),
    ],
)
def test_malformed_chunked_bodies(body: bytes, message: bytes) -> None:
    writer, _ = serve(CHUNKED + body, admit=chunked_rules)
    [(status, _, out)] = answers(bytes(writer.data))
    assert status.startswith("HTTP/1.1 400") and out.startswith(b"bad_chunked|True|" + message)


def test_admit_may_answer_at_once() -> None:
    echo = Echo()
    writer, _ = serve(GET + GET, echo, admit=lambda head: Response(501, (), b"not here"))
    [(status, headers, body)] = answers(bytes(writer.data))
    assert (status, headers["connection"], body) == ("HTTP/1.1 501 Not Implemented", "close", b"not here")
    assert echo.seen == []


def test_expect_100_continue_only_where_the_endpoint_answers_it() -> None:
    request = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    writer, _ = serve(request, limits=Limits(max_head=256, max_body=16, idle_timeout=5, expect_continue=True))
    assert [s for s, _, _ in answers(bytes(writer.data))] == ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]
    writer, _ = serve(request)
    assert [s for s, _, _ in answers(bytes(writer.data))] == ["HTTP/1.1 200 OK"]


def test_a_failing_endpoint_is_logged_and_answered_500(caplog: pytest.LogCaptureFixture) -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug")

    with caplog.at_level(logging.ERROR):
        writer, _ = serve(b"GET /p?token=SECRET HTTP/1.1\r\n\r\n", boom)
    [(status, _, body)] = answers(bytes(writer.data))
    assert status.startswith("HTTP/1.1 500") and body.startswith(b"internal|True")
    assert "a bug" in caplog.text and "GET /p failed" in caplog.text and "SECRET" not in caplog.text


def test_head_requests_get_the_length_without_the_body() -> None:
    writer, _ = serve(b"HEAD /a HTTP/1.1\r\n\r\n")
    assert bytes(writer.data).endswith(b"Content-Length: 8\r\nConnection: keep-alive\r\n\r\n")  # "HEAD /a "


def test_a_streamed_answer_then_the_connection_closes_and_done_runs() -> None:
    done: list[str] = []

    async def pump(sink: Sink) -> None:
        for n in range(3):
            sink.write(f"data: {n}\n\n".encode())
            await sink.drain()

    async def stream(request: Request) -> Streamed:
        return Streamed(200, (("Content-Type", "text/event-stream"),), pump, done=lambda: done.append("done"))

    writer, _ = serve(GET + GET, stream)
    assert bytes(writer.data) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    )
    assert done == ["done"] and writer.closed

    async def broken(sink: Sink) -> None:
        raise ConnectionResetError

    async def stream_broken(request: Request) -> Streamed:
        return Streamed(200, (), broken, done=lambda: done.append("again"))

    serve(GET, stream_broken)
    assert done == ["done", "again"]


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    limits = Limits(max_head=256, max_body=16, idle_timeout=0.05)
    writer, _ = serve(GET, limits=limits, eof=False)  # one answer, then nothing more comes
    assert len(answers(bytes(writer.data))) == 1 and writer.closed
