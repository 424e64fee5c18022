"""The asyncio shell of the control endpoints' HTTP/1.1 server (the pure part is ``albfargate.net.http``).

One :class:`HttpServer` per endpoint: it binds (a port, or the next free one above it), and serves each
connection with :func:`serve_connection`: the head read and bounded (``Limits.max_head``; the idle time
between requests ``Limits.idle_timeout``), parsed, the loopback ``Host`` guard (``Limits.loopback_only``),
the body read by Content-Length (or chunked, when the endpoint takes it), ``Expect: 100-continue``
answered, the endpoint's answer written (a :class:`~albfargate.net.http.Response`, or a
:class:`Streamed` one such as the console's Server-Sent Events), and keep-alive. What the server refuses
on its own (a malformed or oversized head, a bad body) is a :class:`~albfargate.net.http.Problem` the
endpoint words in its own error format -- or answers by closing the connection (``refuse`` returns None).
:meth:`HttpServer.stop` closes the listener and ends every connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from albfargate.net.http import (
    BodyPlan,
    BodyRules,
    HeadError,
    Problem,
    ProblemKind,
    RequestHead,
    Response,
    body_plan,
    chunk_size,
    is_loopback_host,
    parse_head,
    render,
    render_head,
)

__all__ = ["HttpServer", "Limits", "Request", "Streamed", "serve_connection"]

log = logging.getLogger(__name__)

#: After refusing an oversized body (``Limits.linger``), read and drop up to this much of it, for at most
#: LINGER_SECONDS, before closing, so the client reads the refusal instead of a connection reset.
LINGER_BYTES = 8 * 1024 * 1024
LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Limits:
    """An endpoint's HTTP rules."""

    max_head: int  # request line + headers (431 above it)
    max_body: int  # by Content-Length (413 above it)
    idle_timeout: float  # waiting for a request head (the first one too)
    keep_alive: bool = True  # False: one request per connection (``Connection: close``)
    loopback_only: bool = False  # the Host guard, before the body is read
    chunked: bool = False  # chunked request bodies are taken (else 411)
    expect_continue: bool = False  # ``Expect: 100-continue`` is answered before the body is read
    linger: bool = False  # after a 413, read the body a while (LINGER_*) before closing


@dataclass(frozen=True, slots=True)
class Request:
    head: RequestHead
    body: bytes = b""

    @property
    def method(self) -> str:
        return self.head.method

    @property
    def target(self) -> str:
        return self.head.target

    @property
    def headers(self) -> Mapping[str, str]:
        return self.head.headers


class Sink(Protocol):
    """Where a streamed answer writes (an ``asyncio.StreamWriter``)."""

    def write(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...


class Writer(Sink, Protocol):
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Streamed:
    """An answer written over time: the server writes the head (no Content-Length, ``Connection:
    close``), then awaits ``pump(sink)``, then closes the connection. ``done`` runs at the end whatever
    happened (the head not written, the client gone, the server stopped)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    pump: Callable[[Sink], Awaitable[None]]
    done: Callable[[], None] | None = None


Respond = Callable[[Request], Awaitable[Response | Streamed]]
Refuse = Callable[[Problem, RequestHead | None], Response | None]
Admit = Callable[[RequestHead], BodyRules | Response | None]


def _close_silently(problem: Problem, head: RequestHead | None) -> Response | None:
    return None


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: Writer,
    respond: Respond,
    limits: Limits,
    *,
    refuse: Refuse = _close_silently,
    admit: Admit | None = None,
) -> None:
    """Serve requests on one connection until it closes (or an answer closes it); closes ``writer``.
    ``admit(head)`` (after the Host guard, before the body) may answer at once, or give the request its
    own body rules (default: ``limits``'). ``reader`` must have been made with ``limit=limits.max_head``
    (``HttpServer`` does that)."""
    try:
        while await _one(reader, writer, respond, limits, refuse, admit):
            pass
    except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        pass
    except asyncio.CancelledError:  # stop(): end quietly
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _one(
    reader: asyncio.StreamReader,
    writer: Writer,
    respond: Respond,
    limits: Limits,
    refuse: Refuse,
    admit: Admit | None,
) -> bool:
    """One request; False when the connection should close."""
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), limits.idle_timeout)
    except asyncio.LimitOverrunError:
        problem = Problem(ProblemKind.HEAD_TOO_LARGE, "request head too large")
        await _refuse(writer, refuse, problem, None)
        return False
    except (asyncio.IncompleteReadError, TimeoutError):
        return False
    if len(raw) > limits.max_head:  # the separator was found just past the reader's limit
        await _refuse(writer, refuse, Problem(ProblemKind.HEAD_TOO_LARGE, "request head too large"), None)
        return False
    try:
        head = parse_head(raw)
    except HeadError as exc:
        await _refuse(writer, refuse, Problem(ProblemKind.MALFORMED_HEAD, str(exc)), None)
        return False
    if limits.loopback_only and not is_loopback_host(head.header("host")):
        message = f"Host {head.header('host')!r} is not a loopback name; only loopback requests are served"
        await _refuse(writer, refuse, Problem(ProblemKind.FOREIGN_HOST, message), head)
        return False
    rules = BodyRules(limits.max_body, limits.chunked)
    admitted = admit(head) if admit is not None else None
    if isinstance(admitted, Response):
        await _write(writer, admitted, keep_alive=False, head_only=head.method == "HEAD")
        return False
    plan = body_plan(head, admitted or rules)
    if isinstance(plan, Problem):
        await _refuse(writer, refuse, plan, head)
        if plan.kind is ProblemKind.BODY_TOO_LARGE and limits.linger and plan.length is not None:
            await _linger(reader, plan.length)
        return False
    if limits.expect_continue and head.expects_continue:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        body = await _read_body(reader, plan)
    except ValueError as exc:
        await _refuse(writer, refuse, Problem(ProblemKind.BAD_CHUNKED, str(exc), limit=plan.limit), head)
        return False
    try:
        answer = await respond(Request(head, body))
    except asyncio.CancelledError:
        raise
    except Exception:  # a bug in the endpoint: logged here, never a traceback to the client
        log.exception("%s %s failed", head.method, head.path)
        await _refuse(writer, refuse, Problem(ProblemKind.INTERNAL, "internal error"), head)
        return False
    if isinstance(answer, Streamed):
        await _stream(writer, answer)
        return False
    keep_alive = limits.keep_alive and head.keep_alive and not answer.close
    await _write(writer, answer, keep_alive=keep_alive, head_only=head.method == "HEAD")
    return keep_alive


async def _refuse(writer: Writer, refuse: Refuse, problem: Problem, head: RequestHead | None) -> None:
    response = refuse(problem, head)
    if response is not None:
        await _write(writer, response, keep_alive=False, head_only=head is not None and head.method == "HEAD")


async def _write(writer: Writer, response: Response, *, keep_alive: bool, head_only: bool) -> None:
    writer.write(render(response, keep_alive=keep_alive, head_only=head_only))
    await writer.drain()


async def _stream(writer: Writer, answer: Streamed) -> None:
    try:
        writer.write(render_head(answer.status, answer.headers, length=None, keep_alive=False))
        await writer.drain()
        await answer.pump(writer)
    finally:
        if answer.done is not None:
            answer.done()


async def _read_body(reader: asyncio.StreamReader, plan: BodyPlan) -> bytes:
    if plan.length is not None:
        return await reader.readexactly(plan.length) if plan.length else b""
    return await read_chunked(reader, plan.limit)


async def read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """A chunked body (RFC 9112 §7.1), trailer fields read and dropped; ValueError when it is malformed
    or above ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            size = chunk_size(await reader.readuntil(b"\r\n"))
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailer fields
                return b"".join(parts)
            total += size
            if total > limit:
                raise ValueError(f"the body exceeds {limit} bytes")
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk does not end with CRLF")
    except asyncio.LimitOverrunError:
        raise ValueError("a chunk-size or trailer line is too long") from None


async def _linger(reader: asyncio.StreamReader, length: int) -> None:
    remaining = min(length, LINGER_BYTES)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    with contextlib.suppress(Exception):
        while remaining > 0 and loop.time() < deadline:
            chunk = await asyncio.wait_for(reader.read(min(remaining, 65536)), deadline - loop.time())
            if not chunk:
                break
            remaining -= len(chunk)


class HttpServer:
    """One endpoint's listener on ``host``: :meth:`start` binds, :meth:`stop` closes it and ends every
    connection (a streamed answer's ``done`` runs)."""

    def __init__(
        self,
        respond: Respond,
        limits: Limits,
        *,
        refuse: Refuse = _close_silently,
        admit: Admit | None = None,
    ) -> None:
        self.respond = respond
        self.limits = limits
        self.refuse = refuse
        self.admit = admit
        self.host = ""
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def sockname(self) -> tuple[str, int] | None:
        """The bound (address, port), or None before :meth:`start` and after :meth:`stop`."""
        if self._server is None:
            return None
        name = self._server.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    async def start(self, host: str, port: int, *, search: int = 0) -> int:
        """Bind ``port`` on ``host``, or with ``search`` > 0 the first free one of the ``search`` ports from
        ``port`` up (port 0: any free port); returns the port. Raises the last ``OSError`` when none is
        free (the endpoint words it)."""
        candidates = range(port, min(65536, port + search)) if search > 0 and port != 0 else [port]
        last: OSError | None = None
        for candidate in candidates:
            try:
                self._server = await asyncio.start_server(
                    self._serve, host, candidate, limit=self.limits.max_head
                )
            except OSError as exc:
                last = exc
                continue
            self.host = host
            self.port = self._server.sockets[0].getsockname()[1]
            return self.port
        assert last is not None
        raise last

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await serve_connection(
                reader, writer, self.respond, self.limits, refuse=self.refuse, admit=self.admit
            )
        finally:
            if task is not None:
                self._tasks.discard(task)
