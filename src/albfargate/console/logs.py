"""Log tails for the console (docs/console.md, "Logs"): which logs there are (each task container's output,
each load balancer's access log), the last lines of one with a filter, and following one as it grows.

Logs are files the task processes and the access-log writer append to; nothing notifies of a new line,
so a followed log is checked every :data:`FOLLOW_INTERVAL` seconds while its stream is open (a
``stat`` per check). File system paths are not given out: a log is named by task and container, or by
load balancer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_LINES = 1000
TAIL_BYTES = 512 * 1024  # read at most this much from the end for a tail
FOLLOW_INTERVAL = 0.5
FOLLOW_CHUNK = 256 * 1024  # bytes read per check at most


class LogNotFound(LookupError):
    pass


def catalogue(engine: Any) -> dict[str, Any]:
    tasks = []
    for t in sorted(engine.store.tasks.values(), key=lambda t: t.created_at, reverse=True):
        for c in t.containers:
            if c.log_path:
                tasks.append({"task_id": t.task_id, "service": t.service_name, "container": c.name})
    access = []
    rt = engine.lb
    if rt is not None:
        for lb in rt.load_balancers():
            if rt.access_log_path(lb.arn) is not None:
                access.append({"load_balancer": lb.name})
    return {"tasks": tasks, "access": access}


def resolve(engine: Any, query: Mapping[str, str]) -> Path:
    """The file a ``?task=&container=`` or ``?access=`` query names; LogNotFound says what there is."""
    access = query.get("access")
    if access is not None:
        rt = engine.lb
        for lb in rt.load_balancers() if rt is not None else ():
            if access in (lb.name, lb.arn):
                path = rt.access_log_path(lb.arn)
                if path is not None:
                    return Path(path)
        raise LogNotFound(f"no access log of a load balancer named {access!r}")
    task_id = query.get("task")
    if not task_id:
        raise LogNotFound("name a log: ?task=<id>&container=<name> or ?access=<load balancer name>")
    t = engine.store.task(task_id)
    if t is None:
        raise LogNotFound(f"no task {task_id!r}")
    container = query.get("container")
    for c in t.containers:
        if (container is None or c.name == container) and c.log_path:
            return Path(c.log_path)
    names = ", ".join(c.name for c in t.containers)
    raise LogNotFound(f"task {t.task_id} has no log for container {container!r} (containers: {names})")


def tail(path: Path, *, lines: int, needle: str | None) -> tuple[list[str], int]:
    """The last ``lines`` lines (containing ``needle``) and the file's size (where a follow starts)."""
    lines = max(1, min(MAX_LINES, lines))
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            f.seek(start)
            data = f.read(size - start)
    except FileNotFoundError:
        return [], 0
    text = data.decode("utf-8", "replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first line read is cut
    if needle:
        text = [line for line in text if needle in line]
    return text[-lines:], size


def read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Whole lines written after ``offset``, and the offset after them (a partial last line waits). A file
    that shrank (rotated, truncated) is read from its start."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size < offset:
                offset = 0
            if size == offset:
                return [], offset
            f.seek(offset)
            data = f.read(min(size - offset, FOLLOW_CHUNK))
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        if len(data) >= FOLLOW_CHUNK:  # one enormous line: hand it over in pieces
            return [data.decode("utf-8", "replace")], offset + len(data)
        return [], offset
    return data[:end].decode("utf-8", "replace").split("\n"), offset + end + 1
