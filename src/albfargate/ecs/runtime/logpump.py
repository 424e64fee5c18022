"""The process driver's log pump: every container writes its stdout and stderr into a pipe, one thread
reads all the pipes and another writes the log files (``<log_dir>/<task id>-<container>.log``), so that a
task never blocks on its log and never sees a write error, and a slow or full disk never reaches the
event loop. ECS's ``non-blocking`` log mode behaves this way.

- A pipe is made per container (:meth:`LogPump.open`; its write end is the container's stdout and
  stderr, 256 KiB of pipe where the kernel allows it); the reader feeds each container's
  :class:`~albfargate.ecs.logbuffer.LineBuffer` (bounded: a line that does not fit is dropped and counted).
- The writer takes batches of whole lines and appends them to the file (opened while there is something
  to write, so a quiet container holds only its pipe); a write that fails (a full disk:
  ``ENOSPC``, a quota, an I/O error) drops the batch and counts its lines, the first failure is warned
  about once (``on_warning``), and the next batch is tried again, so the log goes on once there is room.
- :meth:`LogPump.finish` is called when a container's process has exited: the stream is read to its end
  (every process holding the pipe has exited) or until a grace time passes, written out, and closed.
- :meth:`LogPump.dropped` and friends are what ``status`` shows (``log_lines_dropped``)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import itertools
import os
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from albfargate.ecs.logbuffer import DEFAULT_MAX_BYTES, DropWarnings, LineBuffer

#: The pipe size asked for (Linux ``F_SETPIPE_SZ``; 4 times the default 64 KiB, so a burst waits in the
#: kernel while the reader thread is not scheduled). Not more: a user's pipes count against
#: ``pipe-user-pages-soft`` (64 MiB by default), past which every new pipe of that user gets 8 KiB.
PIPE_BYTES = 256 * 1024
READ_BYTES = 64 * 1024


@dataclass(eq=False)
class _Stream:
    id: int
    path: Path
    task_id: str
    container: str
    service: str | None
    read_fd: int
    buf: LineBuffer
    file_fd: int | None = None
    eof: bool = False  # the pipe is read to its end (or given up on): nothing more comes
    done: bool = False  # eof and everything written (or dropped); the file is closed
    deadline: float | None = None  # finish(): stop waiting for the end of the pipe at this time
    waiters: list[concurrent.futures.Future[None]] = field(default_factory=list)


class LogPump:
    """The pipes and log files of one driver's containers (see the module docstring). Threads start with
    the first stream; :meth:`close` stops them."""

    def __init__(
        self,
        on_warning: Callable[[str], None],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_warning = on_warning
        self.max_bytes = max_bytes
        self.clock = clock
        self._lock = threading.Lock()
        self._wake_writer = threading.Condition(self._lock)
        self._streams: dict[int, _Stream] = {}
        self._ids = itertools.count(1)
        self._to_register: list[_Stream] = []
        self._warnings = DropWarnings()
        self.warned: list[str] = []
        self.dropped_by_task: dict[str, int] = {}
        self.dropped_by_service: dict[str, int] = {}
        self.write_error: str | None = None  # the last write error, None once a write succeeds again
        self._closed = False
        self._selector: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = -1
        self._threads: list[threading.Thread] = []

    # ---- the driver's side --------------------------------------------------------------------------------
    def open(self, path: Path, *, task_id: str, container: str, service: str | None) -> tuple[int, int]:
        """A pipe for one container: returns (stream id, write end). The caller gives the write end to the
        process as its stdout and stderr and closes its own copy once the process is started."""
        self._start()
        r, w = os.pipe()
        os.set_blocking(r, False)
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        with contextlib.suppress(OSError):  # `logs` finds the file at once; a full disk is handled later
            # (O_NONBLOCK: the event loop's thread never waits here, not even for a FIFO's reader)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
            os.close(os.open(path, flags, 0o600))
        s = _Stream(next(self._ids), path, task_id, container, service, r, LineBuffer(self.max_bytes))
        with self._lock:
            self._streams[s.id] = s
            self._to_register.append(s)
        self._poke()
        return s.id, w

    def finish(self, stream_id: int, grace: float) -> concurrent.futures.Future[None]:
        """The container's process has exited: read its pipe to the end (every process holding it has
        exited too) or for ``grace`` seconds at most, write out what came, close. The future is done then."""
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            s = self._streams.get(stream_id)
            if s is None or s.done:
                fut.set_result(None)
                return fut
            s.waiters.append(fut)
            deadline = self.clock() + grace
            s.deadline = deadline if s.deadline is None else min(s.deadline, deadline)
        self._poke()
        return fut

    def dropped(self, task_id: str) -> int:
        with self._lock:
            return self.dropped_by_task.get(task_id, 0)

    def dropped_of_service(self, service: str) -> int:
        with self._lock:
            return self.dropped_by_service.get(service, 0)

    def dropped_total(self) -> int:
        with self._lock:
            return sum(self.dropped_by_task.values())

    def close(self, timeout: float = 5.0) -> None:
        """Stop the threads (every stream is given up on at once; what is buffered is written out)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for s in self._streams.values():
                s.deadline = self.clock()
            self._wake_writer.notify_all()
        self._poke()
        for t in self._threads:
            t.join(timeout)
        if self._selector is not None:
            with contextlib.suppress(OSError):
                self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # ---- threads -------------------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._threads or self._closed:
                if self._closed:
                    raise RuntimeError("the log pump is closed")
                return
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)
            self._threads = [
                threading.Thread(target=self._read_loop, name="albfargate-log-reader", daemon=True),
                threading.Thread(target=self._write_loop, name="albfargate-log-writer", daemon=True),
            ]
        for t in self._threads:
            t.start()

    def _poke(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"x")

    def _read_loop(self) -> None:
        sel = self._selector
        assert sel is not None
        while True:
            with self._lock:
                for s in self._to_register:
                    sel.register(s.read_fd, selectors.EVENT_READ, s)
                self._to_register.clear()
                deadlines = [s.deadline for s in self._streams.values() if not s.eof and s.deadline]
                if self._closed and not any(not s.eof for s in self._streams.values()):
                    return
            timeout = max(0.0, min(deadlines) - self.clock()) if deadlines else None
            for key, _ in sel.select(timeout):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError, OSError):
                        while os.read(self._wake_r, 4096):
                            pass
                    continue
                self._read(sel, key.data)
            now = self.clock()
            with self._lock:
                late = [s for s in self._streams.values() if not s.eof and s.deadline and s.deadline <= now]
            for s in late:  # a process still holds the pipe (it escaped the kill) or close(): give up on it
                while not s.eof and self._read(sel, s):  # what is in the pipe already
                    pass
                if not s.eof:
                    self._end(sel, s)

    def _read(self, sel: selectors.BaseSelector, s: _Stream) -> bool:
        """One read of a stream's pipe; False when there was nothing to read."""
        try:
            data = os.read(s.read_fd, READ_BYTES)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._end(sel, s)
            return False
        warning = None
        with self._lock:
            dropped = s.buf.feed(data)
            if dropped:
                self._count(s, dropped)
                where = f"container {s.container} of task {s.task_id}"
                warning = self._warnings.buffer_full(where, self.max_bytes)
            self._wake_writer.notify()
        self._warn(warning)
        return True

    def _end(self, sel: selectors.BaseSelector, s: _Stream) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            sel.unregister(s.read_fd)
        with contextlib.suppress(OSError):
            os.close(s.read_fd)
        with self._lock:
            dropped = s.buf.end()
            if dropped:
                self._count(s, dropped)
            s.eof = True
            self._wake_writer.notify()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    ready = [
                        s for s in self._streams.values() if s.buf.has_output() or (s.eof and not s.done)
                    ]
                    if ready or (self._closed and not any(not s.done for s in self._streams.values())):
                        break
                    self._wake_writer.wait()
                if not ready:
                    return
                batches = []
                for s in ready:
                    chunk = s.buf.take()
                    if chunk:
                        batches.append((s, chunk))
            for s, chunk in batches:
                self._write(s, chunk)
            with self._lock:
                for s in ready:
                    if s.eof and not s.buf.has_output() and not s.done:
                        self._done(s)

    def _write(self, s: _Stream, chunk: bytes) -> None:
        """Write one batch outside the lock; account for it under the lock."""
        error: str | None = None
        n = 0
        try:
            if s.file_fd is None:
                s.file_fd = os.open(s.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            n = os.write(s.file_fd, chunk)
            if n < len(chunk):  # short: the rest once more (a full disk fails it)
                n += os.write(s.file_fd, chunk[n:])
        except OSError as exc:
            error = exc.strerror or str(exc)
        warning = None
        with self._lock:
            if n:
                s.buf.written(n)
            if error is None:  # all written, or still short without an error: the rest in the next round
                self.write_error = None
                if not s.buf.has_output():  # idle: no descriptor held per quiet container
                    self._close_file(s)
                return
            self.write_error = error
            self._count(s, s.buf.failed())
            warning = self._warnings.write_failed(str(s.path.parent.parent), error)
        self._warn(warning)

    def _done(self, s: _Stream) -> None:
        """Under the lock: the stream is read and written out; close its file, tell the waiters."""
        s.done = True
        self._close_file(s)
        for fut in s.waiters:
            if not fut.done():
                fut.set_result(None)
        s.waiters.clear()
        del self._streams[s.id]

    @staticmethod
    def _close_file(s: _Stream) -> None:
        if s.file_fd is not None:
            with contextlib.suppress(OSError):
                os.close(s.file_fd)
            s.file_fd = None

    def _count(self, s: _Stream, dropped: int) -> None:
        if dropped <= 0:
            return
        self.dropped_by_task[s.task_id] = self.dropped_by_task.get(s.task_id, 0) + dropped
        if s.service:
            self.dropped_by_service[s.service] = self.dropped_by_service.get(s.service, 0) + dropped

    def _warn(self, text: str | None) -> None:
        """Tell ``on_warning`` (outside the lock: printing may block for a while, the other thread not)."""
        if text is None:
            return
        with self._lock:
            self.warned.append(text)
        with contextlib.suppress(Exception):  # a warning must never take the pump down
            self.on_warning(text)
