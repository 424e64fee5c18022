"""The task-output buffer of one container (pure: no I/O, no clock, no threads).

The process driver reads a container's stdout and stderr through a pipe and writes its log file itself
(``ecs/runtime/logpump.py``), as ECS's ``non-blocking`` log mode does: the task never blocks on its log
and never sees a write error, whatever happens to the disk. This module owns the accounting between the
pipe and the file:

- output is kept as whole lines (bytes ending with ``\\n``); an unterminated last line waits for its end,
  and one that grows longer than :data:`MAX_LINE` is cut into pieces of that size (each counted as a
  line; Docker splits long lines at 16 KiB too), so the partial line is bounded;
- at most ``max_bytes`` of whole lines wait to be written (:data:`DEFAULT_MAX_BYTES`, 1 MiB: Docker's
  default ``max-buffer-size`` of the non-blocking mode); a line that does not fit is dropped and counted
  (``dropped_full``), the newest first, as Docker's ring buffer does;
- the writer :meth:`take` s a batch, then reports :meth:`written` (possibly short) or :meth:`failed`;
  a failed batch is dropped and its unwritten lines counted (``dropped_failed``; a line written in part
  counts as dropped);
- :class:`DropWarnings` decides the one warning per cause that a supervisor prints.

The memory a buffer holds is bounded by ``max_bytes`` + the batch being written + :data:`MAX_LINE`."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: Whole lines waiting to be written, per container (Docker's non-blocking ``max-buffer-size`` default).
DEFAULT_MAX_BYTES = 1024 * 1024
#: The longest line kept whole; a longer one is cut into pieces of this size (Docker: 16 KiB).
MAX_LINE = 16 * 1024
#: The most bytes the writer takes in one batch.
BATCH_BYTES = 64 * 1024


class LineBuffer:
    """The lines of one container between its pipe and its log file (see the module docstring)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_line: int = MAX_LINE) -> None:
        if max_bytes < 1 or max_line < 1:
            raise ValueError("max_bytes and max_line must be positive")
        self.max_bytes = max_bytes
        self.max_line = max_line
        self._chunks: deque[bytes] = deque()  # whole lines; every chunk ends with b"\n"
        self._pending = 0  # bytes in _chunks
        self._partial = bytearray()  # an unterminated last line (at most max_line bytes)
        self._batch = b""  # taken by the writer, not yet all written
        self._batch_done = 0  # bytes of _batch already written
        self.lines_in = 0  # whole lines received (pieces of a cut line count one each)
        self.lines_written = 0
        self.dropped_full = 0  # lines that found the buffer full
        self.dropped_failed = 0  # lines whose write failed

    # ---- from the pipe ---------------------------------------------------------------------------------
    def feed(self, data: bytes) -> int:
        """Output read from the pipe; returns how many lines were dropped now (buffer full)."""
        if not data:
            return 0
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # no end of line in it: all of it continues the partial line
            self._partial += data
            return self._admit(self._cut_partial())
        whole = bytes(self._partial) + data[:cut] if self._partial else data[:cut]
        self._partial = bytearray(data[cut:])
        return self._admit(whole + self._cut_partial())

    def end(self) -> int:
        """The pipe is closed: an unterminated last line is kept as a line of its own."""
        if not self._partial:
            return 0
        line = bytes(self._partial) + b"\n"
        self._partial = bytearray()
        return self._admit(line)

    def _cut_partial(self) -> bytes:
        """Pieces of :data:`MAX_LINE` bytes cut off a partial line that grew longer, each ended."""
        if len(self._partial) <= self.max_line:
            return b""
        pieces = []
        while len(self._partial) > self.max_line:
            pieces.append(bytes(self._partial[: self.max_line]) + b"\n")
            del self._partial[: self.max_line]
        return b"".join(pieces)

    def _admit(self, lines: bytes) -> int:
        """Queue whole ``lines`` (ending with b"\\n") as far as they fit; the rest is dropped."""
        if not lines:
            return 0
        count = lines.count(b"\n")
        self.lines_in += count
        room = self.max_bytes - self._pending
        if len(lines) > room:
            keep = lines.rfind(b"\n", 0, room) + 1 if room > 0 else 0
            lines = lines[:keep]
            dropped = count - lines.count(b"\n")
            self.dropped_full += dropped
        else:
            dropped = 0
        if lines:
            self._chunks.append(lines)
            self._pending += len(lines)
        return dropped

    # ---- to the file ------------------------------------------------------------------------------------
    def take(self, limit: int = BATCH_BYTES) -> bytes:
        """The next bytes to write: the rest of a batch written in part, else up to ``limit`` bytes of
        whole lines (at least one chunk). Empty when there is nothing to write."""
        if self._batch:
            return self._batch[self._batch_done :]
        parts: list[bytes] = []
        size = 0
        while self._chunks and (not parts or size + len(self._chunks[0]) <= limit):
            chunk = self._chunks.popleft()
            parts.append(chunk)
            size += len(chunk)
        self._pending -= size
        self._batch = b"".join(parts)
        self._batch_done = 0
        return self._batch

    def written(self, n: int) -> None:
        """``n`` bytes of what :meth:`take` gave were written (a short write leaves the rest in the batch)."""
        if n < 0 or self._batch_done + n > len(self._batch):
            raise ValueError(f"written {n} bytes of a batch of {len(self._batch) - self._batch_done}")
        self._batch_done += n
        if self._batch_done == len(self._batch):
            self.lines_written += self._batch.count(b"\n")
            self._batch = b""
            self._batch_done = 0

    def failed(self) -> int:
        """Writing the batch failed: its lines not written whole are dropped; returns how many."""
        done = self._batch[: self._batch_done].count(b"\n")
        dropped = self._batch.count(b"\n") - done
        self.lines_written += done
        self.dropped_failed += dropped
        self._batch = b""
        self._batch_done = 0
        return dropped

    # ---- reading ----------------------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self.dropped_full + self.dropped_failed

    @property
    def pending_bytes(self) -> int:
        """Bytes held: queued lines, the unwritten part of the batch and the partial line."""
        return self._pending + len(self._batch) - self._batch_done + len(self._partial)

    def has_output(self) -> bool:
        """Whether there is something to write (queued lines or the rest of a batch)."""
        return bool(self._chunks or self._batch)


@dataclass(slots=True)
class DropWarnings:
    """One warning per cause and per supervisor: the first failed log write, and the first line dropped
    because a task wrote faster than its log could take it. Later drops are only counted."""

    write_warned: bool = False
    full_warned: bool = False

    def write_failed(self, log_dir: str, error: str) -> str | None:
        if self.write_warned:
            return None
        self.write_warned = True
        return (
            f"warning: task output cannot be written to {log_dir} ({error}): lines are dropped and counted "
            f"(log_lines_dropped in `albfargate status`), the tasks keep running; free some space and "
            f"the logs go on"
        )

    def buffer_full(self, where: str, max_bytes: int) -> str | None:
        if self.full_warned:
            return None
        self.full_warned = True
        return (
            f"warning: {where} writes output faster than its log takes it: lines over "
            f"{max_bytes // 1024} KiB waiting are dropped and counted (log_lines_dropped in "
            f"`albfargate status`)"
        )
