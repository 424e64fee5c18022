"""The listener servers of the local ALB: binding one listener (:func:`start_listener`) and handing each
accepted connection to a :class:`~albfargate.alb.connection.ClientConnection` (spec §2, §4).

The rest of the data plane's shell is split along its seams: :mod:`~albfargate.alb.http1` (framing and
head parsing, pure), :mod:`~albfargate.alb.stream` (the byte stream, held writes, flow control),
:mod:`~albfargate.alb.upstream` (target connections and pools) and :mod:`~albfargate.alb.connection`
(one client connection)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Final

from albfargate.alb.connection import ClientConnection, ProxyContext
from albfargate.alb.dispatch import ListenerState
from albfargate.alb.stream import Stream

# Grace period for in-flight requests on stop() before they are cut.
STOP_GRACE: Final = 5.0


# ----------------------------------------------------------------------------------------- servers
async def start_listener(
    ctx: ProxyContext,
    ls: ListenerState,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Bind one listener; raises OSError when the port is taken. ``reuse_port``: SO_REUSEPORT, so that
    worker processes share the port (the kernel spreads connections over them)."""
    loop = asyncio.get_running_loop()

    def made(stream: Stream) -> None:
        sock = stream.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ClientConnection(ctx, ls, stream).start()

    return await loop.create_server(
        lambda: Stream(made),
        host,
        port,
        ssl=ssl_context,
        backlog=2048,
        reuse_address=True,
        reuse_port=reuse_port or None,
        ssl_handshake_timeout=10.0 if ssl_context is not None else None,
    )
