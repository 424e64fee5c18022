"""The console's HTTP server: HTTP/1.1 with keep-alive on 127.0.0.1, the routes of docs/console.md, the
static files of the front end (``console/static/``, package data) and the Server-Sent Event streams.

Every request passes the guards first (``console.security``): a foreign ``Host`` is 403 whatever it
asks for; any method but GET/HEAD needs the per-run CSRF token and the console's own ``Origin``. Then the
route: reads are built from the engine's state (``console.topology``), the rule tester from the
listener's live rules (``console.explain``), actions go through the engine's commands
(``console.actions``). The console owns the wiring here: the event hub, the change notifications it
follows (``console.live``) and the sampler (``console.sampler``); :meth:`ConsoleServer.stop` undoes all
of it, and the supervisor stops the console before the engine."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from albfargate.console import explain, logs
from albfargate.console.actions import ActionError, Actions
from albfargate.console.http import (
    MAX_BODY,
    MAX_HEAD,
    SSE_KEEPALIVE,
    SSE_TYPE,
    Request,
    Response,
    content_type_of,
    error,
    json_response,
    request_of,
    sse_event,
    wire,
    wire_headers,
)
from albfargate.console.hub import CLOSE, Hub, Stream
from albfargate.console.live import Live
from albfargate.console.sampler import Sampler
from albfargate.console.security import check_host, check_state_change
from albfargate.console.timeline import entry
from albfargate.console.topology import Reader
from albfargate.errors import RuntimeStartError
from albfargate.net import http as net
from albfargate.net import server as http_server
from albfargate.net.http import ProblemKind

log = logging.getLogger(__name__)

DEFAULT_PORT = 4590
PORT_SEARCH = 100
IDLE_TIMEOUT = 60.0
KEEPALIVE_SECONDS = 15.0
STATIC_DIR = Path(__file__).resolve().parent / "static"
FORMAT = "albfargate.console/1"

Route = Callable[[Request], Awaitable[Response]]


class ConsoleServer:
    def __init__(
        self,
        engine: Any,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        port_search: bool = True,
        static_dir: Path = STATIC_DIR,
        sample_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the console binds loopback only")
        self.engine = engine
        self.host = host
        self.port = port
        self.port_search = port_search
        self.static_dir = static_dir
        self.clock = clock
        self.token = secrets.token_hex(16)
        self.started_at = clock()
        self.reader = Reader(engine)
        self.hub = Hub(on_clients=lambda clients: self.sampler.set_watching(clients))
        self.sampler = Sampler(engine, self.hub, interval=sample_interval, clock=clock)
        self.live = Live(engine, self.hub, self.reader)
        self.live.on_runtime.append(self.sampler.runtime_started)
        self.actions = Actions(engine, self.sampler.timeline)
        limits = http_server.Limits(
            max_head=MAX_HEAD, max_body=MAX_BODY, idle_timeout=IDLE_TIMEOUT, loopback_only=True
        )
        self._http = http_server.HttpServer(self._serve, limits, refuse=self._refuse)
        self._log_streams = 0
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/api/session"): self._session,
            ("GET", "/api/topology"): self._topology,
            ("GET", "/api/metrics"): self._metrics,
            ("GET", "/api/requests"): self._requests,
            ("POST", "/api/rule-test"): self._rule_test,
            ("GET", "/api/logs"): self._logs,
            ("GET", "/api/logs/tail"): self._log_tail,
        }

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> str:
        """Bind ``port`` or (``port_search``) the next free one above it (0: any); start following the
        system. Returns the URL."""
        search = self.port_search and self.port != 0
        try:
            self.port = await self._http.start(self.host, self.port, search=PORT_SEARCH if search else 0)
        except OSError as last:
            if not search:
                why = last.strerror or last
                raise RuntimeStartError(
                    f"--console-port {self.port}: the port is not available on {self.host} ({why}); pick "
                    f"another one, or leave --console-port out to use {DEFAULT_PORT} or the next free port"
                ) from None
            raise RuntimeStartError(
                f"console: no free port from {self.port} on {self.host}: {last}"
            ) from None
        self.live.start()
        self.sampler.start()
        return self.url

    async def stop(self) -> None:
        self.live.stop()
        self.hub.close()
        await self.sampler.stop()
        await self._http.stop()

    # ---- connections (albfargate.net.server reads, guards and writes) ---------------------------------
    def _refuse(self, problem: net.Problem, head: net.RequestHead | None) -> net.Response:
        """The server's refusals in the console's error shape; each closes the connection."""
        if problem.kind is ProblemKind.FOREIGN_HOST:  # before anything else, the body unread
            refusal = check_host(head.header("host") if head is not None else None)
            if refusal is not None:
                return wire(error(refusal.status, refusal.code, refusal.message))
        answer = {
            ProblemKind.HEAD_TOO_LARGE: error(431, "bad_request", "request head too large"),
            ProblemKind.MALFORMED_HEAD: error(400, "bad_request", problem.message),
            ProblemKind.CHUNKED_REFUSED: error(411, "bad_request", "send Content-Length"),
            ProblemKind.BAD_LENGTH: error(400, "bad_request", "invalid Content-Length"),
            ProblemKind.BODY_TOO_LARGE: error(413, "bad_request", f"bodies are at most {MAX_BODY} bytes"),
        }.get(problem.kind)
        if answer is None:
            answer = error(500, "internal", "the console failed on this request (see the supervisor log)")
        return wire(answer)

    async def _serve(self, received: http_server.Request) -> net.Response | http_server.Streamed:
        request = request_of(received.method, received.target, received.headers, received.body)
        if request.method == "GET" and request.path in ("/api/events", "/api/logs/stream"):
            return self._stream(request)
        return wire(await self._respond(request))

    async def _respond(self, request: Request) -> Response:
        refusal = check_state_change(request.method, request.headers, self.token)
        if refusal is not None:
            return error(refusal.status, refusal.code, refusal.message)
        method = "GET" if request.method == "HEAD" else request.method
        path = request.path
        try:
            route = self.routes.get((method, path))
            if route is not None:
                return await route(request)
            if method == "POST" and path.startswith("/api/actions/"):
                return await self._action(request, path.removeprefix("/api/actions/"))
            if method == "GET" and path.startswith("/api/services/"):
                return self._service(path.removeprefix("/api/services/"))
            if method == "GET" and path.startswith("/api/requests/"):
                return self._request(path.removeprefix("/api/requests/"))
            if path.startswith("/api/") or path == "/api":
                known = {p for _, p in self.routes}
                if path in known:
                    return error(405, "method", f"{request.method} is not served for {path}")
                return error(404, "not_found", f"no console API {request.method} {path} (docs/console.md)")
            if method != "GET":
                return error(405, "method", "static files are GET only")
            return self._static(path)
        except ActionError as exc:
            return error(exc.status, exc.code, str(exc))
        except ValueError as exc:
            return error(400, "bad_request", str(exc))
        except Exception:  # never a traceback to the browser
            log.exception("console: %s %s failed", request.method, request.target)
            return error(500, "internal", "the console failed on this request (see the supervisor log)")

    # ---- routes --------------------------------------------------------------------------------------
    async def _session(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "format": FORMAT,
                "csrf_token": self.token,
                "console_url": self.url,
                "api_url": self.engine.api_url,
                "state_dir": str(self.engine.state_dir),
                "started_at": self.started_at,
                "now": self.clock(),
                "metrics": {
                    "interval_seconds": self.sampler.history.interval,
                    "window_seconds": self.sampler.history.window,
                },
                "version": self.hub.version,
            },
        )

    async def _topology(self, request: Request) -> Response:
        return json_response(200, self.reader.topology(self.hub.version))

    async def _metrics(self, request: Request) -> Response:
        q = request.query
        since = q.get("since")
        try:
            since_t = float(since) if since is not None else None
        except ValueError:
            raise ValueError("since: a time (epoch seconds)") from None
        return json_response(
            200,
            self.sampler.history.document(self.clock(), scope=q.get("scope"), sid=q.get("id"), since=since_t),
        )

    async def _requests(self, request: Request) -> Response:
        items = self.sampler.timeline.query(request.query)
        return json_response(200, {"requests": items, "capturing": self.sampler.watching})

    def _request(self, rid: str) -> Response:
        rec = self.sampler.timeline.get(int(rid)) if rid.isdigit() else None
        if rec is None:
            return error(404, "not_found", f"request {rid} is not in the timeline")
        return json_response(200, entry(rec))

    def _service(self, name: str) -> Response:
        svc = self.engine.store.service(name)
        if svc is None:
            known = ", ".join(sorted(self.engine.store.services)) or "none"
            return error(404, "not_found", f"no service {name!r} (services: {known})")
        return json_response(200, self.reader.service(svc, detail=True))

    async def _rule_test(self, request: Request) -> Response:
        doc = _json_body(request)
        rt = self.engine.lb
        bindings = rt.bindings() if rt is not None else []
        arn = doc.get("listener_arn")
        if arn is None:
            if len(bindings) != 1:
                raise ValueError("listener_arn: name the listener (there is not exactly one)")
            arn = bindings[0].listener_arn
        live = rt.listener_rules(arn) if rt is not None and isinstance(arn, str) else None
        if live is None:
            return error(404, "not_found", f"no listener {arn!r} served here")
        req = explain.probe_of(doc)
        answer = explain.explain(live[0], live[1], req.view(), self.reader._tg_names())
        return json_response(200, {"listener_arn": arn, **answer})

    async def _action(self, request: Request, name: str) -> Response:
        return json_response(200, await self.actions.run(name, _json_body(request)))

    async def _logs(self, request: Request) -> Response:
        return json_response(200, logs.catalogue(self.engine))

    async def _log_tail(self, request: Request) -> Response:
        try:
            path = logs.resolve(self.engine, request.query)
        except logs.LogNotFound as exc:
            return error(404, "not_found", str(exc))
        n = request.query.get("lines", "200")
        if not n.isdigit():
            raise ValueError("lines: a number")
        lines, offset = logs.tail(path, lines=int(n), needle=request.query.get("filter"))
        return json_response(200, {"lines": lines, "offset": offset})

    def _static(self, path: str) -> Response:
        rel = "index.html" if path in ("", "/") else path.lstrip("/")
        root = self.static_dir.resolve()
        try:
            file = (root / rel).resolve()
        except (OSError, ValueError):
            return error(404, "not_found", "no such file")
        if root not in file.parents or not file.is_file():
            return error(404, "not_found", f"no such file {path}")
        return Response(200, file.read_bytes(), content_type_of(file.name))

    # ---- event streams -------------------------------------------------------------------------------
    def _stream(self, request: Request) -> net.Response | http_server.Streamed:
        """An event stream (``/api/events``) or a log stream; a refusal closes the connection."""
        if self.hub.full() or self._log_streams >= 8:
            return wire(error(409, "conflict", "too many console streams open"), close=True)
        if request.path == "/api/logs/stream":
            return self._log_stream(request)
        last = request.header("last-event-id")
        stream = self.hub.open(
            requests=request.query.get("requests") == "1",
            last_event_id=int(last) if last is not None and last.isdigit() else None,
        )
        return http_server.Streamed(
            200,
            wire_headers(SSE_TYPE),
            lambda sink: self._pump(stream, sink),
            done=lambda: self.hub.close_stream(stream),
        )

    async def _pump(self, stream: Stream, writer: http_server.Sink) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(stream.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                frame = SSE_KEEPALIVE
            if frame == CLOSE:
                return
            writer.write(frame)
            # several frames queued: write them together
            while not stream.queue.empty():
                more = stream.queue.get_nowait()
                if more == CLOSE:
                    await writer.drain()
                    return
                writer.write(more)
            await writer.drain()

    def _log_stream(self, request: Request) -> net.Response | http_server.Streamed:
        try:
            path = logs.resolve(self.engine, request.query)
        except logs.LogNotFound as exc:
            return wire(error(404, "not_found", str(exc)), close=True)
        needle = request.query.get("filter")
        start = request.query.get("offset")
        offset = (
            int(start) if start is not None and start.isdigit() else logs.tail(path, lines=1, needle=None)[1]
        )
        self._log_streams += 1

        def done() -> None:
            self._log_streams -= 1

        return http_server.Streamed(
            200, wire_headers(SSE_TYPE), lambda sink: self._follow(path, offset, needle, sink), done=done
        )

    async def _follow(self, path: Path, offset: int, needle: str | None, writer: http_server.Sink) -> None:
        writer.write(sse_event("hello", {"offset": offset}))
        await writer.drain()
        quiet = 0.0
        while not self.hub.closed:
            lines, offset = logs.read_from(path, offset)
            for line in lines:
                if not needle or needle in line:
                    writer.write(sse_event("log", {"line": line}))
            if lines:
                quiet = 0.0
                await writer.drain()
            else:
                quiet += logs.FOLLOW_INTERVAL
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    writer.write(SSE_KEEPALIVE)
                    await writer.drain()
            await asyncio.sleep(logs.FOLLOW_INTERVAL)


def _json_body(request: Request) -> dict[str, Any]:
    ctype = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if request.body and ctype != "application/json":
        raise ActionError(415, "bad_request", "send the body as application/json")
    if not request.body:
        return {}
    try:
        doc = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ActionError(400, "bad_request", "the body is not JSON") from None
    if not isinstance(doc, dict):
        raise ActionError(400, "bad_request", "the body must be a JSON object")
    return doc
