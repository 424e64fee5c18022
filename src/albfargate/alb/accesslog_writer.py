"""Writes access-log lines (formatted by :mod:`albfargate.alb.accesslog`, spec §5) under
``<state_dir>/access-logs/``: one file per load balancer, ``<lb-name>.<lb-id>.log``, one line per
request (per connection for WebSockets).

Each record is formatted and encoded when the proxy hands it over (``add``, or the compiled
:class:`~albfargate.alb.exchange.LineQueue` the proxy calls directly; ~1 µs for a plain exchange) and
appended to its load balancer's byte buffer, so the cost is spread evenly over the requests and no record
object outlives its request: formatting a whole batch at flush time made bursts of several milliseconds
(the latency tail) and kept thousands of records alive (memory). Every ``FLUSH_INTERVAL`` seconds the
buffers are swapped out and a worker thread appends them to the files with ``os.write``, which releases
the GIL: joining and encoding a batch there held the GIL for a millisecond ten times a second, a pause for
every request in flight (the p99 of the benchmark, docs/alb.md). On close everything left is written at
once. The queue is bounded (``MAX_PENDING``): beyond it lines are dropped and counted, as AWS's logging
is best effort too; so is a record the formatter refuses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from albfargate.alb.exchange import LineQueue

FLUSH_INTERVAL = 0.02  # small writes often: a write competes for the LB's CPU while it copies
# Lines held between flushes at most (far more than 0.1 s of a fast benchmark); more are dropped and counted.
MAX_PENDING = 100_000


class AccessLogWriter:
    def __init__(self, state_dir: Path, format_line: Callable[[Any], str]) -> None:
        self.dir = state_dir / "access-logs"
        self.queue = LineQueue(format_line, MAX_PENDING)
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="access-log")
        self._lock = threading.RLock()  # one writer at a time (worker flush vs. flush() on close)

    def path_for(self, lb_full_name: str) -> Path:
        # app/<name>/<id> -> <name>.<id>.log
        parts = lb_full_name.split("/")
        stem = ".".join(parts[1:]) if len(parts) >= 3 else lb_full_name.replace("/", "_")
        return self.dir / f"{stem}.log"

    @property
    def dropped(self) -> int:
        """Lines dropped: over the queue's bound, or records the formatter refused."""
        return self.queue.dropped

    def add(self, lb_full_name: str, record: Any) -> None:
        """Format one record and queue its line (written at the next flush)."""
        self.queue.add(lb_full_name, record)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="access-log flush")

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            pending = self._take()
            if pending:
                await loop.run_in_executor(self._executor, self._append, pending)

    def _take(self) -> dict[str, bytearray]:
        return self.queue.take()

    def _append(self, pending: dict[str, bytearray]) -> None:
        with self._lock:
            for lb, data in pending.items():
                if data:
                    self._append_to(self.path_for(lb), data)

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
        """Write everything queued, now, on the calling thread."""
        self._append(self._take())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=True)  # a write in progress completes first: lines stay in order
        self.flush()
