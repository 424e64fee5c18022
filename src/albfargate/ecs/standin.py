"""The built-in stand-in container: a small echo server that replaces a container's image when
``--stand-in PATTERN`` matches it.

It listens on every given port and answers each request with ``200`` and a JSON body
``{"service", "task", "container", "method", "path", "query", "headers", "body_length"}`` (header names
lower-cased). ``?status=N`` answers with status N, ``?sleep=S`` delays the answer by S seconds.
Keep-alive and pipelining are honoured (answers go out in request order).

Run as ``python -m albfargate.ecs.standin --service S --task T --container C --port P [--port P2 ...]``.
It is one light process per container (asyncio, uvloop + httptools when installed), as 100 may run at once.
On a base install (no ``fast`` extra) it runs on the standard library alone: requests are then parsed by
:class:`SimpleRequestParser`, which offers the part of ``httptools.HttpRequestParser`` used here.
SIGTERM closes the listeners and exits 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

try:
    import httptools
except ImportError:  # a base install: the 'fast' extra (httptools, uvloop) is optional
    httptools = None  # type: ignore[assignment]

#: Refuse absurd sleeps so a typo cannot pin a connection for hours.
MAX_SLEEP_SECONDS = 600.0


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Identity:
    __slots__ = ("container", "service", "task")

    def __init__(self, service: str, task: str, container: str) -> None:
        self.service = service
        self.task = task
        self.container = container


def build_response(
    ident: Identity,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body_length: int,
    keep_alive: bool,
) -> tuple[bytes, float]:
    """The whole response for one request and the delay to apply before sending it."""
    parts = urlsplit(target)
    status = 200
    delay = 0.0
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "status":
            with contextlib.suppress(ValueError):
                n = int(value)
                if 100 <= n <= 599:
                    status = n
        elif key == "sleep":
            with contextlib.suppress(ValueError):
                delay = min(max(float(value), 0.0), MAX_SLEEP_SECONDS)
    doc = {
        "service": ident.service,
        "task": ident.task,
        "container": ident.container,
        "method": method,
        "path": parts.path,
        "query": parts.query,
        "headers": {k.lower(): v for k, v in headers},
        "body_length": body_length,
    }
    body = b"" if status in (204, 304) or 100 <= status < 200 else json.dumps(doc).encode() + b"\n"
    head = [
        f"HTTP/1.1 {status} {_reason(status)}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    data = ("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body)
    return data, delay


class ParseError(Exception):
    """A request :class:`SimpleRequestParser` cannot read (answered 400, then the connection closes)."""


class UpgradeRequest(Exception):
    """A request asking to switch protocols (the stand-in closes the connection, as with httptools)."""


_MAX_HEAD = 64 * 1024


class SimpleRequestParser:
    """HTTP/1.x request parsing on the standard library for a base install: the subset of
    ``httptools.HttpRequestParser`` the stand-in uses (``feed_data``, ``get_method``,
    ``should_keep_alive`` and the ``on_*`` callbacks). Heads end at CRLF CRLF (or LF LF); bodies are
    framed by Content-Length or chunked coding; several requests in one read are served in order."""

    def __init__(self, callbacks: EchoProtocol) -> None:
        self.cb = callbacks
        self.buf = bytearray()
        self.method = b""
        self.keep_alive = True
        self.state = "head"
        self.left = 0  # body or chunk bytes still to come

    def get_method(self) -> bytes:
        return self.method

    def should_keep_alive(self) -> bool:
        return self.keep_alive

    def feed_data(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _line(self) -> bytes | None:
        nl = self.buf.find(b"\n")
        if nl < 0:
            if len(self.buf) > _MAX_HEAD:
                raise ParseError("line too long")
            return None
        line = bytes(self.buf[:nl]).rstrip(b"\r")
        del self.buf[: nl + 1]
        return line

    def _step(self) -> bool:
        """Parse what the buffer holds for the current state; False when more bytes are needed."""
        if self.state == "head":
            return self._head()
        if self.state == "body":
            return self._body()
        if self.state == "size":
            line = self._line()
            if line is None:
                return False
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ParseError("bad chunk size") from None
            self.state, self.left = ("trailers", 0) if size == 0 else ("chunk", size)
            return True
        if self.state == "chunk":
            if not self._take():
                return False
            self.state = "chunk-end"
            return True
        if self.state == "chunk-end":
            line = self._line()
            if line is None:
                return False
            if line:
                raise ParseError("chunk not followed by CRLF")
            self.state = "size"
            return True
        line = self._line()  # trailers, up to the empty line
        if line is None:
            return False
        if not line:
            self._complete()
        return True

    def _take(self) -> bool:
        n = min(self.left, len(self.buf))
        if n:
            self.cb.on_body(bytes(self.buf[:n]))
            del self.buf[:n]
            self.left -= n
        return self.left == 0

    def _body(self) -> bool:
        if not self._take():
            return False
        self._complete()
        return True

    def _complete(self) -> None:
        self.state = "head"
        self.cb.on_message_complete()

    def _head(self) -> bool:
        while self.buf.startswith((b"\r\n", b"\n")):  # empty lines before a request line
            del self.buf[: 2 if self.buf.startswith(b"\r\n") else 1]
        end = self.buf.find(b"\n\r\n")
        alt = self.buf.find(b"\n\n")
        if end < 0 or (0 <= alt < end):
            end, skip = alt, 2
        else:
            skip = 3
        if end < 0:
            if len(self.buf) > _MAX_HEAD:
                raise ParseError("request head too large")
            return False
        lines = [x.rstrip(b"\r") for x in bytes(self.buf[:end]).split(b"\n")]
        del self.buf[: end + skip]
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[0] or not parts[1]:
            raise ParseError("bad request line")
        self.method, url, version = parts
        self.cb.on_message_begin()
        self.cb.on_url(url)
        length = 0
        chunked = False
        connection = b""
        upgrade = False
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name.strip():
                raise ParseError("bad header line")
            value = value.strip(b" \t")
            lname = name.strip().lower()
            self.cb.on_header(name, value)
            if lname == b"content-length":
                if not value.isdigit():
                    raise ParseError("bad content-length")
                length = int(value)
            elif lname == b"transfer-encoding":
                chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            elif lname == b"connection":
                connection += b"," + value.lower()
            elif lname == b"upgrade":
                upgrade = True
        tokens = {t.strip() for t in connection.split(b",")}
        self.keep_alive = b"close" not in tokens if version == b"HTTP/1.1" else b"keep-alive" in tokens
        if upgrade and b"upgrade" in tokens:
            raise UpgradeRequest
        if chunked:
            self.state = "size"
        elif length:
            self.state, self.left = "body", length
        else:
            self._complete()
        return True


def _parse_errors() -> tuple[type[Exception], type[Exception]]:
    """(upgrade, parse error) exception types of the parser in use."""
    if httptools is None:
        return UpgradeRequest, ParseError
    return httptools.HttpParserUpgrade, httptools.HttpParserError


class EchoProtocol(asyncio.Protocol):
    """One client connection. Requests are parsed by httptools; answers are chained so they leave in
    request order even when an earlier one sleeps."""

    def __init__(self, ident: Identity) -> None:
        self.ident = ident
        self.transport: asyncio.Transport | None = None
        self.parser: Any = (
            httptools.HttpRequestParser(self) if httptools is not None else SimpleRequestParser(self)
        )
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body_length = 0
        self.chain: asyncio.Future[None] | None = None
        self.closing = False
        self.pending: set[asyncio.Task[None]] = set()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        upgrade_error, parse_error = _parse_errors()
        try:
            self.parser.feed_data(data)
        except upgrade_error:
            self._close()
        except parse_error:
            if self.transport is not None:
                self.transport.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            self._close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body_length = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body_length += len(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        keep_alive = bool(self.parser.should_keep_alive())
        data, delay = build_response(
            self.ident, method, self.url.decode("latin-1"), self.headers, self.body_length, keep_alive
        )
        previous = self.chain
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.chain = done
        if previous is None and delay == 0.0:
            self._send(data, keep_alive)
            done.set_result(None)
            return
        task = loop.create_task(self._send_later(previous, done, data, delay, keep_alive))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _send_later(
        self,
        previous: asyncio.Future[None] | None,
        done: asyncio.Future[None],
        data: bytes,
        delay: float,
        keep_alive: bool,
    ) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            if previous is not None:
                await previous
            self._send(data, keep_alive)
        finally:
            done.set_result(None)
            if self.chain is done:
                self.chain = None

    def _send(self, data: bytes, keep_alive: bool) -> None:
        if self.transport is None or self.closing:
            return
        self.transport.write(data)
        if not keep_alive:
            self._close()

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


async def serve(ident: Identity, ports: Sequence[int], host: str = "127.0.0.1") -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for port in ports:
        servers.append(
            await loop.create_server(lambda: EchoProtocol(ident), host, port, reuse_address=True, backlog=512)
        )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"stand-in {ident.container} of task {ident.task} listening on "
        + ", ".join(f"{host}:{p}" for p in ports),
        flush=True,
    )
    await stop.wait()
    for s in servers:
        s.close()
    print("stand-in stopping", flush=True)


def probe(host: str, port: int, timeout: float = 4.0) -> int:
    """One ``GET /`` (the health check a stand-in gets instead of the image's own); 0 on a 2xx."""
    import http.client

    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", "/", headers={"User-Agent": "albfargate-healthcheck"})
        status = conn.getresponse().status
        conn.close()
    except OSError:
        return 1
    return 0 if 200 <= status < 300 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m albfargate.ecs.standin")
    parser.add_argument("--service", default=os.environ.get("ALBFARGATE_SERVICE", ""))
    parser.add_argument("--task", default=os.environ.get("ALBFARGATE_TASK_ID", ""))
    parser.add_argument("--container", default=os.environ.get("ALBFARGATE_CONTAINER", ""))
    parser.add_argument("--port", type=int, action="append", default=[])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--probe", type=int, metavar="PORT", help="health check: GET / on PORT, exit 0 on 2xx"
    )
    args = parser.parse_args(argv)
    if args.probe is not None:
        return probe(args.host, args.probe)
    ports: list[int] = args.port or ([int(os.environ["PORT"])] if os.environ.get("PORT") else [])
    ident = Identity(args.service, args.task, args.container)
    if not ports:
        # A container without port mappings: stay alive doing nothing until stopped.
        print(f"stand-in {ident.container}: no ports, idling", flush=True)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is in the 'fast' extra
        pass
    try:
        asyncio.run(serve(ident, ports, args.host))
    except OSError as exc:
        print(f"stand-in {ident.container}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
