"""Writes access-log lines (formatted by :mod:`albfargate.alb.accesslog`, spec §5) under
``<state_dir>/access-logs/``: one file per load balancer, ``<lb-name>.<lb-id>.log``, one line per
request (per connection for WebSockets).

Lines are queued in memory and appended by a flush every ``FLUSH_INTERVAL`` seconds (and on close), so
the proxy's hot path never touches the disk; the queue is bounded (``MAX_PENDING``): beyond it lines are
dropped and counted, as AWS's logging is best effort too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLUSH_INTERVAL = 0.5
# Lines held between flushes at most (about 0.5 s of a fast benchmark); more are dropped and counted.
MAX_PENDING = 200_000


class AccessLogWriter:
    def __init__(self, state_dir: Path, format_line: Callable[[Any], str]) -> None:
        self.dir = state_dir / "access-logs"
        self._format = format_line
        self._pending: dict[str, list[Any]] = {}
        self._count = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

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
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.flush()

    def flush(self) -> None:
        pending, self._pending, self._count = self._pending, {}, 0
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
