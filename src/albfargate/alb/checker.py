"""The health-check prober: one asyncio task per registered target of every target group in use.

The first check runs right after registration, then one every ``interval_seconds`` (each result holds
for the interval; response time does not shift the next check, spec §3.2). A check is ``GET <path>``
over HTTP/1.1 on a new connection with ``Host: <ip>:<port>`` and ``User-Agent: ELB-HealthChecker/2.0``,
bounded by ``timeout_seconds``; the outcome is classified by :func:`albfargate.alb.health.check_result`
and fed to the state machine :func:`albfargate.alb.health.on_check`. This module only does the I/O."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from albfargate.alb import health
from albfargate.alb.targets import LiveTargets, Target
from albfargate.model import HealthCheck
from albfargate.model.targets import TargetState

# The status line of a health-check response must arrive within this many bytes; anything longer
# is a malformed response (and a target cannot make the prober buffer more).
MAX_STATUS_LINE = 8192

UA = "ELB-HealthChecker/2.0"


_NO_VERIFY: ssl.SSLContext | None = None


def _no_verify() -> ssl.SSLContext:
    """HTTPS health checks do not validate the target's certificate (as traffic, spec §3.1)."""
    global _NO_VERIFY
    if _NO_VERIFY is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _NO_VERIFY = ctx
    return _NO_VERIFY


async def probe(host: str, port: int, hc: HealthCheck) -> tuple[int | None, bool]:
    """One health check: (status or None, timed_out). A refused/reset connection or a malformed
    response gives (None, False)."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(hc.timeout_seconds):
            ssl_ctx = _no_verify() if hc.protocol.upper() == "HTTPS" else None
            reader, writer = await asyncio.open_connection(host, port, ssl=ssl_ctx)
            req = (
                f"GET {hc.path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {UA}\r\n"
                "Accept: */*\r\nConnection: close\r\n\r\n"
            )
            writer.write(req.encode("latin-1"))
            line = await reader.readuntil(b"\n")
            if len(line) > MAX_STATUS_LINE:
                return None, False
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                return None, False
            return int(parts[1]), False
    except TimeoutError:
        return None, True
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        return None, False
    finally:
        if writer is not None:
            writer.close()


class HealthChecker:
    """Keeps one probing task per (target group, target) while the target is registered, in use
    and not draining. ``sleep`` is injectable for tests."""

    def __init__(
        self,
        registry: LiveTargets,
        *,
        on_result: Callable[[str, Target, health.TargetHealth], None] | None = None,
    ) -> None:
        self._reg = registry
        self._tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._on_result = on_result
        self._stopped = False
        registry.subscribe(self._on_event)

    def start(self) -> None:
        """Probe every target already registered in a group in use."""
        for g in self._reg.groups():
            if not g.in_use:
                continue
            for t in list(g.targets.values()):
                if t.health.state is not TargetState.DRAINING:
                    self._spawn(g.tg.arn, t)

    def _on_event(self, arn: str, t: Target, event: str) -> None:
        if self._stopped:
            return
        if event == "register":
            self._spawn(arn, t)

    def _spawn(self, arn: str, t: Target) -> None:
        key = (arn, id(t))
        old = self._tasks.get(key)
        if old is not None and not old.done():
            return
        task = asyncio.get_running_loop().create_task(self._run(arn, t), name=f"health-check {t.key}")
        self._tasks[key] = task
        task.add_done_callback(self._forget(key))

    def _forget(self, key: tuple[str, int]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            if self._tasks.get(key) is task:
                del self._tasks[key]

        return done

    async def _run(self, arn: str, t: Target) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopped:
            g_tg = self._reg.target_group(arn)
            if g_tg is None or self._reg.target(arn, t.tid) is not t:
                return
            if t.health.state in (TargetState.DRAINING, TargetState.UNUSED):
                return
            hc = g_tg.health_check
            started = loop.time()
            port = t.tid.port if hc.port in ("traffic-port", "") else int(hc.port)
            status, timed_out = await probe(t.tid.id, port, hc)
            if self._stopped or self._reg.target(arn, t.tid) is not t:
                return
            if t.health.state in (TargetState.DRAINING, TargetState.UNUSED):
                return
            result = health.check_result(hc, status=status, timed_out=timed_out)
            new = health.on_check(t.health, result, hc)
            self._reg.set_health(arn, t, new)
            if self._on_result is not None:
                self._on_result(arn, t, new)
            await asyncio.sleep(max(0.0, started + hc.interval_seconds - loop.time()))

    async def stop(self) -> None:
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
