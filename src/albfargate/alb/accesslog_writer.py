"""Writes access-log lines (formatted by :mod:`albfargate.alb.accesslog`, spec §5) under
``<state_dir>/access-logs/``: one file per load balancer, ``<lb-name>.<lb-id>.log``, one line per
request (per connection for WebSockets).

Each record is formatted and encoded when the proxy hands it over (``add``, or the compiled
:class:`~albfargate.alb.exchange.LineQueue` the proxy calls directly; ~1 µs for a plain exchange) and
appended to its load balancer's byte buffer, so the cost is spread evenly over the requests and no record
object outlives its request: formatting a whole batch at flush time made bursts of several milliseconds
(the latency tail) and kept thousands of records alive (memory). Every ``FLUSH_INTERVAL`` seconds the
buffers are swapped out and appended to the files with ``os.write``, from the event loop itself, as nginx
writes its access log from its event loop, at most ``WRITE_PIECE`` bytes per load balancer in one loop
iteration (the rest in the next ones, before anything newer): on the development VM one write of 20 ms of
a fast benchmark's lines (~150 KB) took 1.3 ms on average and up to 10, a pause for every connection.
A worker thread did it before; joining and encoding a batch there held the GIL for a
millisecond ten times a second, a pause for every request in flight (the p99 of the benchmark,
docs/alb.md), and even handing it only the write cost the loop a visibly longer tail on one core (thread
wake-up and GIL hand-offs). On close everything left is written at once.

The queue is bounded (``MAX_PENDING``): beyond it lines are dropped and counted, as AWS's logging is best
effort too; so is a record the formatter refuses, and so are lines a write fails for (a full disk, a
read-only state directory: one warning per kind of failure, and the load balancer keeps serving)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from albfargate.alb.exchange import LineQueue

# 20 ms of lines per write: the write pauses the loop while it copies (longer batches, longer pauses);
# flushing every 5 ms gave a longer tail in the benchmark too (docs/alb.md)
FLUSH_INTERVAL = 0.02
# A flush writes at most this much per load balancer in one loop iteration: on the development VM an
# append costs ~7 ns a byte (page-cache pages), so 20 ms of a fast benchmark's lines (~150 KB) in one write
# paused every connection for 1-10 ms (docs/alb.md, "Where the LB's latency tail comes from").
WRITE_PIECE = 32 * 1024
# Lines held between flushes at most (far more than one flush interval of a fast benchmark); more are dropped
# and counted.
MAX_PENDING = 100_000

log = logging.getLogger(__name__)


class AccessLogWriter:
    def __init__(self, state_dir: Path, format_line: Callable[[Any], str]) -> None:
        self.dir = state_dir / "access-logs"
        self.queue = LineQueue(format_line, MAX_PENDING)
        self._task: asyncio.Task[None] | None = None
        self.failed = 0  # lines a write failed for
        self._warned: set[tuple[str, int | None]] = set()
        self._out: dict[str, bytearray] = {}  # taken off the queue, not written yet

    def path_for(self, lb_full_name: str) -> Path:
        # app/<name>/<id> -> <name>.<id>.log
        parts = lb_full_name.split("/")
        stem = ".".join(parts[1:]) if len(parts) >= 3 else lb_full_name.replace("/", "_")
        return self.dir / f"{stem}.log"

    @property
    def dropped(self) -> int:
        """Lines dropped: over the queue's bound, records the formatter refused, failed writes."""
        return self.queue.dropped + self.failed

    def add(self, lb_full_name: str, record: Any) -> None:
        """Format one record and queue its line (written at the next flush)."""
        self.queue.add(lb_full_name, record)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="access-log flush")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self._collect()
            while self._out:  # a piece per loop iteration: no connection waits behind the whole batch
                self._append({lb: self._piece(lb) for lb in list(self._out)})
                await asyncio.sleep(0)

    def _collect(self) -> None:
        """Move the queued lines behind what is still to write (in order, per load balancer)."""
        for lb, data in self._take().items():
            held = self._out.get(lb)
            if held is None:
                self._out[lb] = data
            else:
                held += data

    def _piece(self, lb: str) -> bytearray:
        """Up to :data:`WRITE_PIECE` bytes of whole lines (one longer line whole): a failed write drops
        whole lines, counted exactly, and a write never leaves half a line in the file."""
        data = self._out[lb]
        if len(data) <= WRITE_PIECE:
            del self._out[lb]
            return data
        cut = data.rfind(b"\n", 0, WRITE_PIECE) + 1 or data.find(b"\n", WRITE_PIECE) + 1 or len(data)
        if cut == len(data):
            del self._out[lb]
            return data
        piece = data[:cut]
        del data[:cut]  # from the front: bytearray moves its start, no copy of the rest
        return piece

    def _take(self) -> dict[str, bytearray]:
        return self.queue.take()

    def _append(self, pending: dict[str, bytearray]) -> None:
        for lb, data in pending.items():
            if data:
                path = self.path_for(lb)
                try:
                    self._append_to(path, data)
                except OSError as e:
                    self.failed += data.count(b"\n")
                    kind = (type(e).__name__, e.errno)
                    if kind not in self._warned:
                        self._warned.add(kind)
                        log.warning("access log %s: lines dropped: %s", path, e.strerror or e)

    def _append_to(self, path: Path, data: bytearray) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:  # the directory was removed while the LB ran: make it again
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def flush(self) -> None:
        """Write everything queued, now, on the calling thread (after what a flush left to write)."""
        self._collect()
        out, self._out = self._out, {}
        self._append(out)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
