"""Writes access-log lines (formatted by :mod:`albfargate.alb.accesslog`, spec §5) under
``<state_dir>/access-logs/``: one file per load balancer, ``<lb-name>.<lb-id>.log``, one line per
request (per connection for WebSockets).

Records are queued in memory by the proxy (a list append) and formatted + appended to the file every
``FLUSH_INTERVAL`` seconds by a worker thread (and on close), so the proxy's hot path never formats or
touches the disk, and a big batch never stalls the event loop for longer than the interpreter's thread
switch interval. The queue is bounded (``MAX_PENDING``): beyond it records are dropped and counted, as
AWS's logging is best effort too."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

FLUSH_INTERVAL = 0.2
# Lines held between flushes at most (far more than 0.2 s of a fast benchmark); more are dropped and counted.
MAX_PENDING = 200_000


class AccessLogWriter:
    def __init__(self, state_dir: Path, format_line: Callable[[Any], str]) -> None:
        self.dir = state_dir / "access-logs"
        self._format = format_line
        self._pending: dict[str, list[Any]] = {}
        self._count = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="access-log")
        self._lock = threading.RLock()  # one writer at a time (worker flush vs. flush() on close)

    def path_for(self, lb_full_name: str) -> Path:
        # app/<name>/<id> -> <name>.<id>.log
        parts = lb_full_name.split("/")
        stem = ".".join(parts[1:]) if len(parts) >= 3 else lb_full_name.replace("/", "_")
        return self.dir / f"{stem}.log"

    def add(self, lb_full_name: str, record: Any) -> None:
        """Queue one record (formatted at flush time, off the request path)."""
        if self._count >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.setdefault(lb_full_name, []).append(record)
        self._count += 1

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="access-log flush")

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            pending = self._take()
            if pending:
                await loop.run_in_executor(self._executor, self._write, pending)

    def _take(self) -> dict[str, list[Any]]:
        pending, self._pending, self._count = self._pending, {}, 0
        return pending

    def flush(self) -> None:
        """Format and write everything queued, now, on the calling thread."""
        with self._lock:
            self._write(self._take())

    def _write(self, pending: dict[str, list[Any]]) -> None:
        with self._lock:
            self._write_locked(pending)

    def _write_locked(self, pending: dict[str, list[Any]]) -> None:
        for lb, records in pending.items():
            lines: list[str] = []
            for r in records:
                try:
                    lines.append(self._format(r))
                except Exception:  # a record that can't be formatted is not worth a crash
                    self.dropped += 1
            if not lines:
                continue
            self.dir.mkdir(parents=True, exist_ok=True)
            with self.path_for(lb).open("a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
        self._executor.shutdown(wait=True)
