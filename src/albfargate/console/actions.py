"""The console's actions (docs/console.md, "Actions"): scale, redeploy, stop a task, deregister a target
and replay a recorded request. Each goes through the command the AWS API and the CLI control channel
use (``Engine.update_desired_count``, ``Engine.force_new_deployment``, ``Engine.stop_task``, the target
registry's ``deregister`` as ``DeregisterTargets`` does); the state that results reaches the browser on
the event stream like any other change. Services and tasks are named as the CLI names them
(``albfargate.names``: exact, else a unique prefix). The guards (CSRF token, Origin) are the server's,
before any of this runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from albfargate import names
from albfargate.alb.tap import body_of
from albfargate.console.timeline import Timeline, body_info, headers_of, split_request_line

MAX_COUNT = 1000
REPLAY_TIMEOUT = 10.0
#: Headers not replayed: the connection's own, and the body framing (a body is sent with Content-Length).
_NOT_REPLAYED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    }
)


class ActionError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _text(body: Mapping[str, Any], key: str) -> str:
    v = body.get(key)
    if not isinstance(v, str) or not v:
        raise ActionError(400, "bad_request", f"{key}: a non-empty string")
    return v


def _service(engine: Any, query: str) -> str:
    cands = [names.Candidate(s.name, s.arn) for s in engine.store.services.values() if s.status == "ACTIVE"]
    try:
        return names.resolve(query, cands, kind="service")
    except names.NameNotFound as exc:
        raise ActionError(404, "not_found", str(exc)) from None


def _task(engine: Any, query: str) -> str:
    cands = [names.Candidate(t.task_id, t.task_arn) for t in engine.store.tasks.values()]
    try:
        return names.resolve(query, cands, kind="task")
    except names.NameNotFound as exc:
        raise ActionError(404, "not_found", str(exc)) from None


class Actions:
    def __init__(self, engine: Any, timeline: Timeline) -> None:
        self.engine = engine
        self.timeline = timeline
        self.routes: dict[str, Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]] = {
            "scale": self.scale,
            "redeploy": self.redeploy,
            "stop-task": self.stop_task,
            "deregister-target": self.deregister_target,
            "replay": self.replay,
        }

    async def run(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        handler = self.routes.get(name)
        if handler is None:
            raise ActionError(404, "not_found", f"no action {name!r} (there are: {', '.join(self.routes)})")
        if getattr(self.engine, "_stopping", False):
            raise ActionError(409, "conflict", "the system is stopping")
        try:
            return await handler(body)
        except KeyError as exc:
            raise ActionError(404, "not_found", str(exc.args[0]) if exc.args else "not found") from None
        except ValueError as exc:
            raise ActionError(400, "bad_request", str(exc)) from None

    async def scale(self, body: Mapping[str, Any]) -> dict[str, Any]:
        service = _service(self.engine, _text(body, "service"))
        count = body.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
            raise ActionError(400, "bad_request", f"count: a whole number 0..{MAX_COUNT}")
        self.engine.update_desired_count(service, count)
        return {"ok": True, "service": service, "desired": count}

    async def redeploy(self, body: Mapping[str, Any]) -> dict[str, Any]:
        service = _service(self.engine, _text(body, "service"))
        dep = self.engine.force_new_deployment(service)
        return {"ok": True, "service": service, "deployment": dep.id}

    async def stop_task(self, body: Mapping[str, Any]) -> dict[str, Any]:
        task_id = _task(self.engine, _text(body, "task_id"))
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ActionError(400, "bad_request", "reason: a string")
        rec = self.engine.stop_task(task_id, reason or "Stopped from the albfargate console")
        return {"ok": True, "task": rec.task_arn}

    async def deregister_target(self, body: Mapping[str, Any]) -> dict[str, Any]:
        from albfargate.model.targets import TargetId, TargetState

        tg_arn = _text(body, "target_group_arn")
        target_id = _text(body, "id")
        port = body.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ActionError(400, "bad_request", "port: a port number")
        rt = self.engine.lb
        if rt is None or not rt.targets.has_group(tg_arn):
            raise ActionError(404, "not_found", f"no target group {tg_arn}")
        tid = TargetId(target_id, port)
        t = rt.targets.target(tg_arn, tid)
        draining = t is not None and t.health.state is TargetState.DRAINING
        rt.targets.deregister(tg_arn, tid)  # unknown targets: a no-op, as DeregisterTargets (spec §3.1)
        return {"ok": True, "was_registered": t is not None and not draining}

    async def replay(self, body: Mapping[str, Any]) -> dict[str, Any]:
        rid = body.get("request_id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise ActionError(400, "bad_request", "request_id: the id of a timeline entry")
        rec = self.timeline.get(rid)
        if rec is None:
            raise ActionError(404, "not_found", f"request {rid} is no longer in the timeline")
        method, host, path, query = split_request_line(rec.ex.request_line)
        if method is None or path is None or rec.listener is None:
            raise ActionError(400, "bad_request", f"request {rid} cannot be replayed (it was not parsed)")
        headers = headers_of(rec.head_in)
        if headers is None:
            headers = [("Host", host or "127.0.0.1")]
            if rec.ex.user_agent and rec.ex.user_agent != "-":
                headers.append(("User-Agent", rec.ex.user_agent))
        note = None
        payload = b""
        info = body_info(rec)
        if info is not None:
            got = body_of(rec.head_in, rec.body)
            if not info["whole"] or got is None:
                raise ActionError(409, "conflict", f"request {rid} is not replayed: {info['why']}")
            payload = got[0]
            note = f"sent again with its body ({len(payload)} bytes)"
        elif rec.head_in is None and rec.ex.received_bytes and method not in ("GET", "HEAD"):
            note = "its head and body were not kept: replayed without a body"
        lines = [f"{method} {path}{'?' + query if query else ''} HTTP/1.1"]
        lines += [f"{n}: {v}" for n, v in headers if n.lower() not in _NOT_REPLAYED]
        if info is not None:
            lines.append(f"Content-Length: {len(payload)}")
        lines.append("Connection: close")
        status = await _send(
            rec.listener.local_port,
            ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload,
            https=rec.listener.scheme == "https",
        )
        return {"ok": True, "status": status, "request_id": None, "note": note}


async def _send(port: int, request: bytes, *, https: bool) -> int | None:
    """Send ``request`` to the local listener; the status code of the answer (None: no answer in time)."""
    ssl_ctx: Any = None
    if https:
        import ssl

        ssl_ctx = ssl.create_default_context()
        ssl_ctx.check_hostname = False
        ssl_ctx.verify_mode = ssl.CERT_NONE  # the local CA's listener certificate, on loopback
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ssl_ctx), REPLAY_TIMEOUT
        )
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLAY_TIMEOUT)
        parts = line.split(b" ")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
