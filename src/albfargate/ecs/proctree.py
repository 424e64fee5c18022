"""Which processes belong to a task, which are orphans and which zombies the supervisor may reap (pure:
decisions over a snapshot of the process table that ``ecs/runtime/reaper.py`` reads from /proc).

Every process the process driver starts carries markers in its environment, and every process it starts
inherits them unless it clears its environment: ``ALBFARGATE_STATE_DIR`` (the state directory),
``ALBFARGATE_TASK_ID`` and ``ALBFARGATE_CONTAINER``. A task's command may leave its process group and
session (``setsid``, a daemon's double fork), so a process group is not the whole of a container:

- :func:`container_tree`: the processes of one container — its leader, every process carrying the
  container's markers, and every descendant of those (also one that cleared its environment);
- :func:`orphans`: processes carrying a state directory's marker that belong to no running task and to no
  server the supervisor runs (what ``status`` reports and ``down`` and the next ``up`` kill);
- :func:`reapable`: zombie children of the supervisor (a child subreaper: orphaned descendants of its
  tasks become its children) that nobody else waits for;
- :func:`adopted`: the live ones, also those that cleared their environment (killed at shutdown)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

STATE_DIR_ENV = "ALBFARGATE_STATE_DIR"
TASK_ID_ENV = "ALBFARGATE_TASK_ID"
CONTAINER_ENV = "ALBFARGATE_CONTAINER"


@dataclass(frozen=True, slots=True)
class Proc:
    """One process of the snapshot. ``start`` is its start time (clock ticks since boot), which tells a
    process from a later one that got the same pid; the markers are None when absent or unreadable
    (another user's process, a zombie)."""

    pid: int
    ppid: int
    pgrp: int
    session: int
    start: int
    zombie: bool = False
    state_dir: str | None = None
    task_id: str | None = None
    container: str | None = None
    command: str = ""


def children_of(procs: Mapping[int, Proc]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for p in procs.values():
        out.setdefault(p.ppid, []).append(p.pid)
    return out


def descendants(procs: Mapping[int, Proc], roots: Iterable[int]) -> set[int]:
    """``roots`` (those in the snapshot) and every process below them."""
    kids = children_of(procs)
    seen: set[int] = set()
    todo = [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(kids.get(pid, ()))
    return seen


def container_tree(
    procs: Mapping[int, Proc],
    state_dir: str,
    task_id: str,
    container: str | None = None,
    leaders: Collection[int] = (),
) -> set[int]:
    """Live processes of a container (every container of the task when ``container`` is None): the
    ``leaders`` the driver started, the processes carrying the markers, and their descendants."""
    roots = set(leaders)
    for p in procs.values():
        if p.state_dir == state_dir and p.task_id == task_id and container in (None, p.container):
            roots.add(p.pid)
    return {pid for pid in descendants(procs, roots) if not procs[pid].zombie}


def orphans(
    procs: Mapping[int, Proc],
    state_dir: str,
    *,
    live_tasks: Collection[str] = (),
    own_groups: Collection[int] = (),
    exclude: Collection[int] = (),
) -> list[Proc]:
    """Live processes with ``state_dir``'s marker that no running task (``live_tasks``: task ids) and no
    process group the supervisor runs (``own_groups``: its database servers) accounts for, nor a
    descendant of one of those; ``exclude``: pids never to count (the caller and its parents). Sorted
    by pid."""
    owned = descendants(
        procs,
        [
            p.pid
            for p in procs.values()
            if p.state_dir == state_dir
            and ((p.task_id is not None and p.task_id in live_tasks) or p.pgrp in own_groups)
        ],
    )
    return sorted(
        (
            p
            for p in procs.values()
            if p.state_dir == state_dir and not p.zombie and p.pid not in owned and p.pid not in exclude
        ),
        key=lambda p: p.pid,
    )


def reapable(procs: Mapping[int, Proc], me: int, *, started: Collection[int]) -> list[int]:
    """Zombie children of ``me`` that the supervisor may wait for without taking an exit status one of its
    own waiters expects: those in a session other than ``me``'s that are not in ``started`` (what the
    supervisor started in sessions of their own and waits for itself: container leaders, health checks,
    database servers). A task's processes are never in the supervisor's session (a container leader starts
    a session, and a process cannot join another session), and everything else the supervisor starts stays
    in its session and is waited for by whoever started it."""
    self_proc = procs.get(me)
    if self_proc is None:
        return []
    return sorted(
        p.pid
        for p in procs.values()
        if p.ppid == me and p.zombie and p.pid not in started and p.session != self_proc.session
    )


def adopted(procs: Mapping[int, Proc], me: int, *, started: Collection[int]) -> set[int]:
    """Live children of ``me`` in a session other than its own that it did not start (``started``), and
    everything below them: orphaned task processes reparented to the supervisor, also those that cleared
    their environment (the same argument as :func:`reapable`: nothing else of the supervisor's is there)."""
    self_proc = procs.get(me)
    if self_proc is None:
        return set()
    roots = [
        p.pid
        for p in procs.values()
        if p.ppid == me and not p.zombie and p.pid not in started and p.session != self_proc.session
    ]
    return {pid for pid in descendants(procs, roots) if not procs[pid].zombie}
