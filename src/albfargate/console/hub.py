"""The console's event hub: numbered events, a replay buffer, and one bounded queue per open event stream
(docs/console.md, ``GET /api/events``).

:meth:`Hub.publish` frames an event once (``console.http.sse_event``) and hands the bytes to every stream;
a stream that falls :data:`QUEUE_LIMIT` events behind is closed (its client reconnects with
``Last-Event-ID`` and gets what it missed from the buffer, or a ``resync``), so a stalled browser never
makes the supervisor buffer without bound. The hub tells its owner when the first stream opens and the
last one closes (``on_clients``): the console samples exchanges only while someone watches."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from albfargate.console.http import sse_event

BUFFER = 1000  # events kept for reconnecting clients
QUEUE_LIMIT = 2000  # events a stream may fall behind before it is closed
MAX_STREAMS = 8  # event streams open at once (log streams included)

CLOSE = b""  # queued to end a stream


@dataclass(eq=False)
class Stream:
    """One open event stream: its queue and what it asked for."""

    requests: bool = False  # wants `request` events
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    dropped: bool = False


class Hub:
    def __init__(self, on_clients: Callable[[int], None] | None = None) -> None:
        self.version = 0
        self.buffer: deque[tuple[int, bytes, bool]] = deque(maxlen=BUFFER)  # (id, frame, requests only)
        self.evicted = 0  # the newest event id that left the buffer
        self.streams: set[Stream] = set()
        self.on_clients = on_clients
        self.closed = False

    def full(self) -> bool:
        return len(self.streams) >= MAX_STREAMS

    def open(self, *, requests: bool = False, last_event_id: int | None = None) -> Stream:
        """A new stream: ``hello`` first; then, for a reconnect, the buffered events after
        ``last_event_id`` (or ``resync`` when they are gone)."""
        s = Stream(requests=requests)
        s.queue.put_nowait(sse_event("hello", {"version": self.version}))
        if last_event_id is not None and last_event_id < self.version:
            if last_event_id < self.evicted:
                s.queue.put_nowait(
                    sse_event("resync", {"version": self.version, "why": "missed events"}, self.version)
                )
            else:
                for eid, frame, only_requests in self.buffer:
                    if eid > last_event_id and (requests or not only_requests):
                        s.queue.put_nowait(frame)
        self.streams.add(s)
        if len(self.streams) == 1 and self.on_clients is not None:
            self.on_clients(1)
        return s

    def close_stream(self, s: Stream) -> None:
        if s in self.streams:
            self.streams.discard(s)
            if not self.streams and self.on_clients is not None:
                self.on_clients(0)

    def publish(self, event: str, data: Any, *, requests_only: bool = False, keep: bool = True) -> int:
        """Number and frame ``event``, keep it for reconnects (unless ``keep`` is False: the ``metrics``
        and ``request`` events, which a reconnecting client reads from their own endpoints), and queue it
        to every stream that wants it."""
        if self.closed:
            return self.version
        self.version += 1
        frame = sse_event(event, data, self.version)
        if keep:
            if len(self.buffer) == self.buffer.maxlen:
                self.evicted = self.buffer[0][0]
            self.buffer.append((self.version, frame, requests_only))
        for s in list(self.streams):
            if requests_only and not s.requests:
                continue
            if s.queue.qsize() >= QUEUE_LIMIT:  # a stalled client: end its stream, it reconnects
                s.dropped = True
                s.queue.put_nowait(CLOSE)
                self.close_stream(s)
                continue
            s.queue.put_nowait(frame)
        return self.version

    def close(self) -> None:
        """End every stream (the console stops)."""
        self.closed = True
        for s in list(self.streams):
            s.queue.put_nowait(CLOSE)
            self.close_stream(s)
