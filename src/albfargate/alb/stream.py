"""The lean byte stream under every connection of the local ALB (:class:`Stream`, an asyncio protocol
used instead of StreamReader/StreamWriter), its flow-control limits and the writes held to the end of
the event loop's iteration (:class:`HeldWrites`).

Flow control: a stream stops reading from its socket while more than ``READ_BUFFER_LIMIT`` received
bytes sit unconsumed, and the shell awaits ``drain()`` once more than ``STREAM_HIGH_WATER`` bytes are
queued towards a peer, so a large upload or download is never held whole in memory."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any, Final

# More than this many X-Forwarded-For addresses -> 463 (spec §4.2); counted by headers.forward_headers.
# Unconsumed received bytes a connection holds before it stops reading from its socket (flow control:
# a client or target sending faster than the other side takes is paused here, never buffered whole).
READ_BUFFER_LIMIT: Final = 256 * 1024
# Above this many bytes queued towards a peer we await drain(), which stops us reading from the other
# side until the slow peer catches up: a large upload/download is never held whole in memory.
STREAM_HIGH_WATER: Final = 256 * 1024


# Writes one stream holds at most; the next one sends them (see HeldWrites).
HELD_WRITES_MAX: Final = 16


class HeldWrites:
    """The streams of one event loop holding written bytes until the loop's current iteration ends.

    Writes are not sent when the hot path makes them but once per loop iteration, back to back, after
    every connection that became ready in that iteration had its turn (``call_soon`` runs before the
    loop polls again). A peer asleep in ``epoll_wait`` is then woken once for a burst instead of once
    per write: on loopback the writer pays for that wake-up, and spreading writes 10 µs apart woke wrk
    and the targets nearly once per request (docs/alb.md, "Writes held to the end of the iteration").
    Order per stream is kept; ``drain``, ``write_eof`` and closing send what is held first, and so does
    a stream's ``HELD_WRITES_MAX``-th write in an iteration (a client pipelining hundreds of requests the
    ALB answers itself: past the high-water mark the transport pauses the pump, as it would unheld)."""

    __slots__ = ("streams",)

    def __init__(self) -> None:
        self.streams: list[Stream] = []

    def release(self) -> None:
        streams = self.streams
        self.streams = []
        for s in streams:
            s.flush()


_held_writes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeldWrites] = weakref.WeakKeyDictionary()


def held_writes(loop: asyncio.AbstractEventLoop) -> HeldWrites:
    """The :class:`HeldWrites` of ``loop`` (one per loop: a process may run several in threads)."""
    h = _held_writes.get(loop)
    if h is None:
        h = _held_writes[loop] = HeldWrites()
    return h


class Stream(asyncio.Protocol):
    """A lean byte stream over one transport (instead of StreamReader/StreamWriter): received bytes
    land directly in ``buf``, which the consumer parses and trims in place (no intermediate copies).

    Flow control: reading pauses while ``buf`` holds more than ``READ_BUFFER_LIMIT`` unconsumed bytes
    and resumes when the consumer asks for more; ``drain()`` waits while the transport's write buffer
    is above its high-water mark (``pause_writing`` / ``resume_writing``).

    ``write`` holds its bytes until the end of the loop iteration (:class:`HeldWrites`)."""

    __slots__ = (
        "_drain",
        "_held",
        "_loop",
        "_out",
        "_read_paused",
        "_waiter",
        "_write_paused",
        "buf",
        "closed",
        "eof",
        "on_data",
        "on_made",
        "transport",
    )

    def __init__(self, on_made: Callable[[Stream], None] | None = None) -> None:
        self.buf = bytearray()
        self.eof = False
        self.closed = False
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self._out: list[bytes] | None = None
        self._held: HeldWrites = None  # type: ignore[assignment]
        self.on_made = on_made
        # called (no arguments) when bytes or the end of stream arrive and no read_more() waits
        self.on_data: Callable[[], None] | None = None

    # protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._loop = asyncio.get_running_loop()  # once: each lookup costs a getpid() syscall
        self._held = held_writes(self._loop)
        self.transport.set_write_buffer_limits(high=STREAM_HIGH_WATER)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > READ_BUFFER_LIMIT and not self._read_paused:
            self._read_paused = True
            with contextlib.suppress(Exception):
                self.transport.pause_reading()
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        elif self.on_data is not None:
            self.on_data()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        # keep the transport open for writing (half-close: the answer may still be owed); we close
        # it ourselves. TLS transports cannot stay half-open.
        return self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.closed = True
        self._wake()
        d = self._drain
        if d is not None:
            self._drain = None
            if not d.done():
                d.set_exception(ConnectionResetError("connection lost"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        d = self._drain
        if d is not None:
            self._drain = None
            if not d.done():
                d.set_result(None)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        elif self.on_data is not None:
            self.on_data()

    # consumer side
    async def read_more(self) -> bool:
        """Wait for more bytes in ``buf``; False at end of stream (nothing new arrived).

        The consumer asks for more only when it cannot progress with what ``buf`` holds, so reading
        resumes even if ``buf`` filled up meanwhile (e.g. while the consumer awaited the other side's
        drain): waiting with reading paused would never end."""
        self.want_more()
        if self.eof:
            return False
        before = len(self.buf)
        fut = self._loop.create_future()
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None
        return len(self.buf) > before or not self.eof

    def want_more(self) -> None:
        """Resume reading if the buffer limit paused it (the consumer cannot progress without more)."""
        if self._read_paused:
            self._read_paused = False
            with contextlib.suppress(Exception):
                self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        """Send ``data`` (bytes: it is held, so it must not change) when the loop iteration ends."""
        if not self.closed:
            out = self._out
            if out is None:
                h = self._held
                if not h.streams:
                    self._loop.call_soon(h.release)
                h.streams.append(self)
                self._out = [data]
            else:
                out.append(data)
                if len(out) >= HELD_WRITES_MAX:  # many answers in one go (pipelining): the
                    self.flush()  # transport's flow control (pause_writing) must see them

    def backlog(self) -> int:
        """Bytes written and not yet sent: held ones and the transport's buffer."""
        out = self._out
        held = sum(map(len, out)) if out is not None else 0
        return held + self.transport.get_write_buffer_size()

    def flush(self) -> None:
        """Send the held bytes now."""
        out = self._out
        if out is not None:
            self._out = None
            if not self.closed:
                try:
                    if len(out) == 1:
                        self.transport.write(out[0])
                    else:
                        self.transport.writelines(out)
                except Exception:  # the transport was closed under the held bytes (uvloop raises once
                    pass  # its handle is): they go with it, and the other held streams still go out

    async def drain(self) -> None:
        self.flush()
        if self.closed:
            raise ConnectionResetError("connection lost")
        if not self._write_paused:
            return
        fut = self._loop.create_future()
        self._drain = fut
        await fut

    def write_eof(self) -> None:
        self.flush()
        with contextlib.suppress(Exception):
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:
                self.transport.close()

    def get_extra_info(self, name: str) -> Any:
        return self.transport.get_extra_info(name)

    def abort(self) -> None:
        self._out = None  # what is held goes with the connection
        with contextlib.suppress(Exception):
            self.transport.abort()
