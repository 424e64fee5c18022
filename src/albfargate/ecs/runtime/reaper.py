"""The process table as the process driver and the supervisor see it (Linux /proc), and what they do with
it: become a child subreaper, reap adopted orphans, kill a container's whole tree, find and kill what
carries a state directory's marker. The decisions are ``ecs/proctree.py``'s (pure).

- :func:`become_subreaper`: ``prctl(PR_SET_CHILD_SUBREAPER)``, so that a task process whose parent exits
  (a ``setsid`` child, a daemon's double fork) is reparented to the supervisor instead of init, stays
  findable and becomes the supervisor's zombie, which :func:`reap` waits for.
- :func:`snapshot`: one pass over /proc (stat, and the markers of the environment when asked).
- :func:`kill_tree`: signal every process of a container (``proctree.container_tree``).
- :func:`sweep`: SIGKILL everything carrying ``ALBFARGATE_STATE_DIR=<dir>`` (and the process groups of
  the pid files under ``<dir>/pids`` that carry it): the last resort of ``down`` and of the next ``up``
  after a SIGKILLed supervisor.
- :func:`find_orphans`: what carries the marker but belongs to nothing running (``status``)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from albfargate.ecs import proctree
from albfargate.ecs.proctree import CONTAINER_ENV, STATE_DIR_ENV, TASK_ID_ENV, Proc

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

_STATE = STATE_DIR_ENV.encode() + b"="
_TASK = TASK_ID_ENV.encode() + b"="
_CONTAINER = CONTAINER_ENV.encode() + b"="


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl`` (None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux 3.4+); False where unavailable."""
    prctl = _prctl()
    if prctl is None:
        return False
    return int(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def is_subreaper() -> bool:
    prctl = _prctl()
    if prctl is None:
        return False
    flag = ctypes.c_int(0)
    if int(prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)) != 0:
        return False
    return flag.value != 0


# ---- reading /proc ----------------------------------------------------------------------------------------


def _markers(pid: int) -> tuple[str | None, str | None, str | None]:
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None, None, None
    if _STATE not in data:
        return None, None, None
    state = task = container = None
    for entry in data.split(b"\0"):
        if entry.startswith(_STATE):
            state = entry[len(_STATE) :].decode(errors="replace")
        elif entry.startswith(_TASK):
            task = entry[len(_TASK) :].decode(errors="replace")
        elif entry.startswith(_CONTAINER):
            container = entry[len(_CONTAINER) :].decode(errors="replace")
    return state, task, container


def read_proc(pid: int, *, markers: bool = True) -> Proc | None:
    """One process from /proc, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    close = stat.rfind(b")")
    comm = stat[stat.find(b"(") + 1 : close].decode(errors="replace")
    f = stat[close + 2 :].split()
    # fields after comm: state(0) ppid(1) pgrp(2) session(3) ... starttime(19)
    if len(f) < 20:
        return None
    zombie = f[0] in (b"Z", b"X")
    state = task = container = None
    if markers and not zombie:
        state, task, container = _markers(pid)
    return Proc(
        pid=pid,
        ppid=int(f[1]),
        pgrp=int(f[2]),
        session=int(f[3]),
        start=int(f[19]),
        zombie=zombie,
        state_dir=state,
        task_id=task,
        container=container,
        command=comm,
    )


def snapshot(*, markers: bool = True) -> dict[int, Proc]:
    """Every process of /proc (with the environment markers when ``markers``)."""
    out: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            p = read_proc(int(entry.name), markers=markers)
            if p is not None:
                out[p.pid] = p
    return out


def children(pid: int) -> list[int] | None:
    """The children of ``pid`` from /proc/<pid>/task/*/children (every thread's); None where the kernel
    has no such file (CONFIG_PROC_CHILDREN)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tids:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except FileNotFoundError:
            if not Path(f"/proc/{pid}/task/{tid}").exists():
                continue  # the thread is gone
            return None
        except OSError:
            continue
        out.extend(int(x) for x in text.split())
    return out


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def ancestors(pid: int) -> set[int]:
    """``pid`` and its parents up to init."""
    out = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        p = read_proc(pid, markers=False)
        if p is None:
            break
        pid = p.ppid
    return out


# ---- acting ---------------------------------------------------------------------------------------------


def signal_pids(pids: Iterable[int], sig: int) -> int:
    """Send ``sig`` to each pid; returns how many were signalled."""
    sent = 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            sent += 1
    return sent


def reap(started: Collection[int]) -> list[int]:
    """Wait for the zombie children of this process that nobody else waits for (``proctree.reapable``;
    ``started``: what this process started in sessions of their own and waits for itself)."""
    me = os.getpid()
    kids = children(me)
    if kids is None:
        procs = {p.pid: p for p in snapshot(markers=False).values() if p.ppid == me}
    else:
        procs = {p.pid: p for p in (read_proc(k, markers=False) for k in kids) if p is not None}
    self_proc = read_proc(me, markers=False)
    if self_proc is None:
        return []
    procs[me] = self_proc
    out = []
    for pid in proctree.reapable(procs, me, started=started):
        with contextlib.suppress(ChildProcessError, OSError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                out.append(pid)
    return out


def kill_tree(
    state_dir: Path, task_id: str, container: str | None, leaders: Collection[int], sig: int
) -> list[int]:
    """Send ``sig`` to every live process of a container (``container`` None: of the task); returns the
    pids signalled."""
    procs = snapshot()
    pids = proctree.container_tree(procs, str(state_dir), task_id, container, leaders)
    pids.discard(os.getpid())
    signal_pids(pids, sig)
    return sorted(pids)


def pid_file_groups(state_dir: Path) -> dict[int, Path]:
    """The process groups recorded under ``<state_dir>/pids`` (container leaders, database servers)."""
    out: dict[int, Path] = {}
    pid_dir = state_dir / "pids"
    if not pid_dir.is_dir():
        return out
    for f in pid_dir.glob("*.pid"):
        try:
            out[int(f.read_text().strip())] = f
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
    return out


def sweep(state_dir: Path, *, exclude: Collection[int] = ()) -> int:
    """SIGKILL every live process carrying ``state_dir``'s marker, and the process group of every pid file
    under ``<state_dir>/pids`` that has a member carrying it; remove the pid files. Never this process or
    its parents, nor ``exclude``. Returns how many processes were killed."""
    state_dir = state_dir.resolve()
    keep = ancestors(os.getpid()) | set(exclude)
    groups = pid_file_groups(state_dir)
    procs = snapshot()
    marked = [
        p for p in procs.values() if p.state_dir == str(state_dir) and not p.zombie and p.pid not in keep
    ]
    killed = signal_pids((p.pid for p in marked), signal.SIGKILL)
    for pgrp in {p.pgrp for p in marked if p.pgrp in groups}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgrp, signal.SIGKILL)
    for f in groups.values():
        f.unlink(missing_ok=True)
    return killed


def find_orphans(
    state_dir: Path, *, live_tasks: Collection[str] = (), exclude: Collection[int] = ()
) -> list[dict[str, object]]:
    """The processes carrying ``state_dir``'s marker that belong to no running task (``live_tasks``) and
    to no database server of the pid files; one entry each: pid, task id, container, command."""
    state_dir = state_dir.resolve()
    own = {pgrp for pgrp, f in pid_file_groups(state_dir).items() if f.name.startswith("backing-")}
    found = proctree.orphans(
        snapshot(),
        str(state_dir),
        live_tasks=live_tasks,
        own_groups=own,
        exclude=ancestors(os.getpid()) | set(exclude),
    )
    return [
        {
            "pid": p.pid,
            "task_id": p.task_id,
            "container": p.container,
            "command": command_line(p.pid) or p.command,
        }
        for p in found
    ]
