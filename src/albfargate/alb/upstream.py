"""Connections from the local ALB to its targets: one keep-alive connection (:class:`Upstream`) and the
idle pools per target (:class:`Pools`, spec §4.3: the ALB reuses them), with the target connect
timeout. HTTPS targets get TLS without certificate validation (spec §3.1)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Final

from albfargate.alb.stream import Stream
from albfargate.alb.targets import Target

# Idle upstream connections kept per target (more concurrent requests open more; extra are closed).
POOL_MAX_IDLE_PER_TARGET: Final = 256
# Target connect timeout (spec §4.3).
CONNECT_TIMEOUT: Final = 10.0


class Upstream:
    """One keep-alive connection to a target."""

    __slots__ = ("buf", "last_used", "reused", "s", "target")

    def __init__(self, target: Target, stream: Stream) -> None:
        self.target = target
        self.s = stream
        self.buf = stream.buf
        self.reused = False
        self.last_used = 0.0

    def close(self) -> None:
        self.s.abort()


def _target_tls() -> ssl.SSLContext:
    """HTTPS to targets does not validate target certificates (spec §3.1)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Pools:
    """Idle keep-alive upstream connections per target (spec §4.3: the ALB reuses them). Keyed by the
    registry's Target object, so a target registered again (or in two groups) never shares a pool
    with its former self."""

    def __init__(self) -> None:
        self._idle: dict[Target, list[Upstream]] = {}
        self._tls: ssl.SSLContext | None = None

    def take_idle(self, target: Target, idle_timeout: float, now: float) -> Upstream | None:
        """A pooled connection to ``target`` still fit for a request, or None (no coroutine: the hot path
        calls this first and awaits :meth:`connect` only when it must). ``now``: the event loop's clock,
        as the caller last read it (the pool reads no clock of its own)."""
        stack = self._idle.get(target)
        if stack:
            while stack:
                up = stack.pop()
                # unsolicited bytes (up.buf) mean the connection is out of step with its requests
                if up.s.eof or up.buf or up.s.transport.is_closing() or now - up.last_used >= idle_timeout:
                    up.close()
                    continue
                up.reused = True
                return up
        return None

    async def connect(self, target: Target, connect_timeout: float) -> Upstream:
        """A new connection to ``target``."""
        ssl_ctx = None
        if target.tls:
            if self._tls is None:
                self._tls = _target_tls()
            ssl_ctx = self._tls
        async with asyncio.timeout(connect_timeout):
            _, stream = await asyncio.get_running_loop().create_connection(
                Stream, target.tid.id, target.tid.port, ssl=ssl_ctx
            )
        sock = stream.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Upstream(target, stream)

    def release(self, up: Upstream, now: float) -> None:
        """Keep ``up`` for the next request to its target (``now``: the event loop's clock)."""
        up.s.on_data = None
        t = up.target
        if t.gone or up.buf or up.s.transport.is_closing() or up.s.eof:
            up.close()
            return
        stack = self._idle.setdefault(t, [])
        if len(stack) >= POOL_MAX_IDLE_PER_TARGET:
            up.close()
            return
        up.last_used = now
        stack.append(up)

    def drop_target(self, target: Target) -> None:
        for up in self._idle.pop(target, []):
            up.close()

    def close(self) -> None:
        for stack in self._idle.values():
            for up in stack:
                up.close()
        self._idle.clear()
