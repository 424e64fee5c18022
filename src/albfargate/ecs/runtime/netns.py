"""Loopback forwarding into a Docker task's network namespace: inside the namespace, ``127.0.0.1:<port>``
reaches the supervisor's own ``127.0.0.1:<port>`` (the AWS endpoint, the metadata and credentials
endpoint, later the databases), so the same URLs are true for both drivers and no traffic ever goes to a
Docker bridge or any other address.

How: a socket belongs to the network namespace it was created in, not to the thread that uses it. A
short-lived thread of the supervisor enters the task's namespace (``setns(2)`` on
``/proc/<pause pid>/ns/net``, which needs root: CAP_SYS_ADMIN), creates the listening sockets on
``127.0.0.1`` there, and goes back; the event loop then accepts on them and relays each connection to the
same port on the host's loopback. Nothing else runs: no helper process, no image, no socket file, so
nothing can be left behind: the listeners close with the task (:meth:`LoopbackForwarder.close`) or with
the supervisor, and the namespace itself goes with the pause container.

Why this and not a relay process in the namespace: a process there needs an image that can run it (no
image can be pulled; a static forwarder binary would have to be built), a Unix socket bind-mounted per
forwarded service, and its own clean-up after a crash. ``nsenter`` + a host program would be a process per
task that a SIGKILLed supervisor leaves behind. The in-process listeners need neither, at the price of
root (Docker's own socket is root's by default) and a local engine (``/proc`` of the container's pid).
:func:`supported` says whether this process can do it; the driver warns once when it cannot."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import socket
import threading
from collections.abc import Sequence

log = logging.getLogger("albfargate.docker")

CLONE_NEWNET = 0x40000000
#: Bytes read per relay step (either direction).
RELAY_CHUNK = 64 * 1024
#: Pending connections per forwarded port.
BACKLOG = 128


def supported() -> str | None:
    """None when this process can create sockets in another network namespace, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the supervisor is not root (entering a container's network namespace needs CAP_SYS_ADMIN)"
    if not os.path.exists("/proc/thread-self/ns/net"):
        return "no /proc/thread-self/ns/net (not Linux)"
    return None


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listen_in_namespace(pid: int, ports: Sequence[int], host: str = "127.0.0.1") -> dict[int, socket.socket]:
    """Listening TCP sockets on ``host:port`` inside the network namespace of process ``pid``, one per
    port that could be bound (a port already taken there is skipped with a warning). Blocking; runs the
    namespace switch on a thread of its own, which goes back to its namespace before it ends."""
    result: dict[int, socket.socket] = {}
    failure: list[BaseException] = []

    def work() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                for port in ports:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    try:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind((host, port))
                        s.listen(BACKLOG)
                        s.setblocking(False)
                    except OSError as exc:
                        s.close()
                        log.warning("cannot forward %s:%d into the task's namespace: %s", host, port, exc)
                        continue
                    result[port] = s
            finally:
                _setns(own)  # never leave the thread (or a pool reusing it) in the task's namespace
        except BaseException as exc:
            failure.append(exc)
        finally:
            os.close(own)

    t = threading.Thread(target=work, name="albfargate-netns", daemon=True)
    t.start()
    t.join()
    if failure:
        for s in result.values():
            s.close()
        raise failure[0]
    return result


class LoopbackForwarder:
    """The relays of one task: each listener in its namespace forwards to ``host:<same port>`` here."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._servers: list[asyncio.Server] = []
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def ports(self) -> list[int]:
        return [int(s.sockets[0].getsockname()[1]) for s in self._servers if s.sockets]

    async def start(self, pid: int, ports: Sequence[int]) -> list[int]:
        """Forward ``ports`` into the namespace of ``pid``; returns the ports that are forwarded."""
        wanted = sorted({p for p in ports if p})
        if not wanted:
            return []
        listeners = await asyncio.to_thread(listen_in_namespace, pid, wanted, self.host)
        for port, sock in listeners.items():

            async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int = port) -> None:
                await self._relay(r, w, port)

            self._servers.append(await asyncio.start_server(handle, sock=sock))
        return sorted(listeners)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._relays.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(self.host, port)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()
            if task is not None:
                self._relays.discard(task)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._relays):
            task.cancel()
        if self._relays:
            await asyncio.gather(*self._relays, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()
