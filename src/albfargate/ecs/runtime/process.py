"""The process task driver (the default; needs no Docker): every container of a task is one local process
in its own process group (``start_new_session``), started in ``dependsOn`` order and stopped in reverse.

- stdout and stderr of a container go through a pipe to the driver's log pump (``logpump.py``), which
  writes ``<log_dir>/<task_id>-<container>.log``: a full disk drops and counts lines, never blocks or
  fails the task (``log_lines_dropped`` in ``status``).
- Every process carries ``ALBFARGATE_STATE_DIR``, ``ALBFARGATE_TASK_ID`` and ``ALBFARGATE_CONTAINER`` in
  its environment. A container is its whole process tree (``ecs/proctree.py``), also what left its group
  or session (``setsid``): when its main process exits, or its stop times out, the rest of the tree is
  SIGKILLed, as the end of a container's PID 1 ends everything in it. Under a supervisor that is a child
  subreaper (``reaper.become_subreaper``) orphaned task processes are reparented to it and reaped.
- A pid file per container under ``<state_dir>/pids/`` and the state-dir marker let ``down`` and the next
  supervisor kill what a SIGKILLed one left behind (:func:`kill_orphans`).
- Stop = SIGTERM to the process group, wait ``stopTimeout``, SIGKILL (spec §6.2); exit codes of signalled
  processes are reported as 128 + signal (143 for SIGTERM, 137 for SIGKILL) as Docker does.
- Container health checks (``CMD`` / ``CMD-SHELL``, run locally with the container's environment and
  working directory) are run here and fed to the pure tracker in ``ecs/health.py``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from albfargate.ecs.logbuffer import DEFAULT_MAX_BYTES
from albfargate.ecs.proctree import CONTAINER_ENV, TASK_ID_ENV
from albfargate.ecs.proctree import STATE_DIR_ENV as STATE_DIR_ENV  # re-exported (supervisor, tests)
from albfargate.ecs.runtime import reaper
from albfargate.ecs.runtime.base import (
    ContainerSpec,
    ContainerStatus,
    RunningTask,
    TaskSpec,
    TaskStartError,
)
from albfargate.ecs.runtime.common import (
    health_loop,
    new_running_task,
    record_exit,
    settle,
    stop_timeout_reason,
    wait_dependencies,
)
from albfargate.ecs.runtime.common import start_order as start_order  # re-exported (tests, callers)
from albfargate.ecs.runtime.logpump import LogPump

#: How often a supervisor that is a child subreaper waits for the orphans it adopted.
REAP_SECONDS = 1.0
#: Every how many reaps the process table is searched for orphans (``status`` shows the last result).
ORPHAN_SCAN_TICKS = 10
_log = logging.getLogger(__name__)

#: How long a timed-out health check's exit is awaited after SIGKILL (a status taken by another waiter
#: must not stop the container's check loop).
CHECK_KILL_WAIT = 5.0

#: How long the log of a container whose process exited is still read (from what it left running
#: before the tree was killed) before it is closed.
LOG_END_GRACE = 2.0
#: The umask of a container process (Docker's default): the supervisor itself runs with 077 so that its
#: state files are private, which its tasks must not inherit.
TASK_UMASK = 0o022

#: AWS settings of the shell that ran ``up`` that a task must not inherit: on ECS a task's credentials
#: come from its task role (the credentials endpoint), never from the host. A value the task definition
#: or run setting gives is kept.
INHERITED_AWS_SETTINGS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL",
)


def inherited_environment() -> dict[str, str]:
    """The supervisor's environment without its AWS credentials, profile and endpoint (see
    :data:`INHERITED_AWS_SETTINGS`); ``~/.aws`` files are pointed away so that the credential chain of
    an SDK in the task reaches the task role, as in a container."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_AWS_SETTINGS}
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_CONFIG_FILE"] = os.devnull
    return env


def exit_code_of(returncode: int) -> int:
    """asyncio reports death by signal N as -N; Docker/ECS report 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _pgrp_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp ...; comm may contain spaces/parentheses
    rest = stat[stat.rfind(")") + 2 :].split()
    return int(rest[2]) if len(rest) > 2 else None


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is ``pgid`` (from /proc)."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _pgrp_of(int(entry.name)) == pgid:
            out.append(int(entry.name))
    return out


def group_usage(pgid: int) -> tuple[float, int]:
    """(CPU seconds used, resident bytes) summed over the live members of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu = 0.0
    rss = 0
    for pid in group_members(pgid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = stat[stat.rfind(")") + 2 :].split()
        # fields after comm: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21)
        cpu += (int(f[11]) + int(f[12])) / tick
        rss += int(f[21]) * page
    return cpu, rss


def _set_task_umask() -> None:
    os.umask(TASK_UMASK)


def _task_umask() -> dict[str, Any]:
    """The subprocess argument that gives a task :data:`TASK_UMASK`: Popen's ``umask`` on asyncio's own
    loop; uvloop takes no ``umask``, only a ``preexec_fn`` (it runs its fork handler in the child anyway)."""
    if type(asyncio.get_running_loop()).__module__.startswith("uvloop"):
        return {"preexec_fn": _set_task_umask}
    return {"umask": TASK_UMASK}


def _print_warning(text: str) -> None:
    """A warning of the driver's, on the supervisor's output (never raises: that may be a full disk)."""
    with contextlib.suppress(Exception):
        print(f"albfargate: {text}", flush=True)


class ProcessDriver:
    """Runs containers as local process groups. One instance per supervisor."""

    name = "process"

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        on_warning: Callable[[str], None] = _print_warning,
        log_buffer_bytes: int | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.pid_dir = self.state_dir / "pids"
        self.clock = clock
        self._procs: dict[tuple[str, str], asyncio.subprocess.Process] = {}
        self._watchers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._health_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._order: dict[str, list[str]] = {}
        self._streams: dict[tuple[str, str], int] = {}  # container -> its log pump stream
        self._checks: set[int] = set()  # pids of the health checks running now
        # spawns in flight: until create_subprocess_exec returns, the new pid is in no waiter set, and a
        # reap pass then could take the exit status of a child that exits at once (a health check's
        # `exit 1`): the loop's own waiter never learns of it and `proc.wait()` hangs (on uvloop, for ever)
        self._spawning = 0
        self.logs = LogPump(on_warning, max_bytes=log_buffer_bytes or DEFAULT_MAX_BYTES)
        self._reaper: asyncio.Task[None] | None = None
        self.last_orphans: list[dict[str, object]] = []

    # ---- start ---------------------------------------------------------------------------------
    async def start_task(self, spec: TaskSpec) -> RunningTask:
        for d in (spec.log_dir, self.pid_dir):
            with contextlib.suppress(OSError):  # a full disk: the task runs, its log lines are dropped
                d.mkdir(parents=True, exist_ok=True)
        self._start_reaper()
        order = start_order(spec.containers)
        task = new_running_task(spec)
        self._order[spec.task_id] = [c.name for c in order]
        try:
            for c in order:
                await wait_dependencies(task, c, self.clock)
                await self._spawn(task, c)
            await settle(task)
        except BaseException:
            await self._kill_all(task)
            raise
        return task

    def _environment(self, spec: TaskSpec, c: ContainerSpec) -> dict[str, str]:
        env = inherited_environment()
        env.update(c.env)
        env[STATE_DIR_ENV] = str(self.state_dir)
        env[TASK_ID_ENV] = spec.task_id
        env[CONTAINER_ENV] = c.name
        env["ALBFARGATE_SERVICE"] = spec.service or ""
        return env

    async def _spawn(self, task: RunningTask, c: ContainerSpec) -> None:
        spec = task.spec
        if not c.argv:
            raise TaskStartError(f"CannotStartContainerError: container {c.name} has no command to run")
        env = self._environment(spec, c)
        cwd = c.workdir
        if cwd is not None and not Path(cwd).is_dir():
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name}: working directory {cwd} does not exist"
            )
        key = (spec.task_id, c.name)
        stream, out = self.logs.open(
            spec.log_path(c.name), task_id=spec.task_id, container=c.name, service=spec.service
        )
        self._spawning += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *c.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=cwd,
                env=env,
                start_new_session=True,
                **_task_umask(),
            )
        except OSError as exc:
            self.logs.finish(stream, 0.0)
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name}: {exc.strerror or exc}: {c.argv[0]}"
            ) from None
        finally:
            self._spawning -= 1
            os.close(out)  # the process holds it now: the pipe ends when every holder has exited
        self._procs[key] = proc  # no await since the spawn: no reap pass ran before this
        self._streams[key] = stream
        with contextlib.suppress(OSError):  # a full disk must not fail the start; the marker still finds it
            (self.pid_dir / f"{spec.task_id}-{c.name}.pid").write_text(f"{proc.pid}\n")
        st = task.containers[c.name]
        st.pid = proc.pid
        st.status = ContainerStatus.RUNNING
        st.started_at = self.clock()
        self._watchers[key] = asyncio.get_running_loop().create_task(self._watch(task, c, proc))
        if c.health_check is not None and c.health_check.command:
            self._health_tasks[key] = asyncio.get_running_loop().create_task(
                health_loop(task, c, self.clock, functools.partial(self._run_check, c=c, env=env))
            )
        task.notify()

    async def _watch(self, task: RunningTask, c: ContainerSpec, proc: asyncio.subprocess.Process) -> None:
        rc = await proc.wait()
        key = (task.spec.task_id, c.name)
        # The main process is gone: everything else of the container goes with it (its group, and what
        # left the group or the session), as the end of a container's PID 1 ends the container.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                reaper.kill_tree, self.state_dir, task.spec.task_id, c.name, (), signal.SIGKILL
            )
        ht = self._health_tasks.pop(key, None)
        if ht is not None:
            ht.cancel()
        with contextlib.suppress(OSError):
            (self.pid_dir / f"{task.spec.task_id}-{c.name}.pid").unlink()
        stream = self._streams.pop(key, None)
        if stream is not None:  # its last lines are in the log before the container is reported stopped
            # (bounded: a hung disk must not hold the stop; the pump writes the rest when it can)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.wrap_future(self.logs.finish(stream, LOG_END_GRACE)), LOG_END_GRACE + 1.0
                )
        self._reap_now()
        record_exit(task.containers[c.name], exit_code_of(rc), self.clock())
        self._procs.pop(key, None)
        task.notify()

    async def _run_check(
        self, argv: list[str], timeout: float, *, c: ContainerSpec, env: dict[str, str]
    ) -> bool:
        self._spawning += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                cwd=c.workdir,
                env=env,
                start_new_session=True,
                **_task_umask(),
            )
        except OSError:
            return False
        finally:
            self._spawning -= 1
        self._checks.add(proc.pid)  # no await since the spawn: no reap pass ran before this
        try:
            rc = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:  # bounded: if another waiter ever took the status, the check loop still goes on
                await asyncio.wait_for(proc.wait(), CHECK_KILL_WAIT)
            except TimeoutError:
                _log.warning(
                    "health check of container %s (pid %d) did not report its exit %.0f s after SIGKILL; "
                    "counted as failed, checks go on",
                    c.name,
                    proc.pid,
                    CHECK_KILL_WAIT,
                )
            return False
        finally:
            self._checks.discard(proc.pid)
        return rc == 0

    # ---- stop ----------------------------------------------------------------------------------
    async def stop_task(self, task: RunningTask, reason: str) -> None:
        task.stopping = True
        names = list(reversed(self._order.get(task.spec.task_id, list(task.containers))))
        specs = {c.name: c for c in task.spec.containers}
        for name in names:
            await self._stop_container(task, specs[name])
        self._order.pop(task.spec.task_id, None)

    async def _stop_container(self, task: RunningTask, c: ContainerSpec) -> None:
        key = (task.spec.task_id, c.name)
        proc = self._procs.get(key)
        watcher = self._watchers.get(key)
        if proc is None or watcher is None:
            return
        st = task.containers[c.name]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(watcher), c.stop_timeout)
        except TimeoutError:
            st.reason = stop_timeout_reason(c)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    reaper.kill_tree, self.state_dir, task.spec.task_id, c.name, (proc.pid,), signal.SIGKILL
                )
            await watcher
        self._watchers.pop(key, None)

    async def _kill_all(self, task: RunningTask) -> None:
        for name in reversed(self._order.get(task.spec.task_id, [])):
            key = (task.spec.task_id, name)
            proc = self._procs.get(key)
            if proc is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            watcher = self._watchers.pop(key, None)
            if watcher is not None:
                await watcher
        self._order.pop(task.spec.task_id, None)

    async def stop_all_now(self) -> None:
        """Last resort on a failing shutdown: SIGKILL every group this driver started and every process
        carrying a task marker of this state dir."""
        for proc in list(self._procs.values()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        started = self._started()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(kill_task_processes, self.state_dir, started)
        for w in list(self._watchers.values()):
            with contextlib.suppress(Exception):
                await w
        self._reap_now()

    async def aclose(self) -> None:
        """After every task stopped: stop the reaper and the log pump (what is buffered is written)."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        self._reap_now()
        await asyncio.to_thread(self.logs.close)

    # ---- orphans -------------------------------------------------------------------------------
    def _start_reaper(self) -> None:
        """Under a child subreaper (the supervisor), wait for adopted orphans every :data:`REAP_SECONDS`."""
        if self._reaper is None and reaper.is_subreaper():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_loop())

    async def _reap_loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(REAP_SECONDS)
            self._reap_now()
            ticks += 1
            if ticks % ORPHAN_SCAN_TICKS == 0:
                with contextlib.suppress(Exception):
                    await self.find_orphans()

    def _started(self) -> set[int]:
        """What this process started in sessions of its own and waits for itself."""
        return (
            {p.pid for p in self._procs.values()}
            | set(self._checks)
            | set(reaper.pid_file_groups(self.state_dir))
        )

    def _reap_now(self) -> None:
        if self._reaper is None or self._spawning:  # a zombie of now is reaped on the next pass
            return
        with contextlib.suppress(Exception):
            reaper.reap(self._started())

    async def find_orphans(self) -> list[dict[str, object]]:
        """Processes of this state dir that belong to no running task (nor to a database server), looked
        for now (off the event loop); also kept as :attr:`last_orphans`."""
        live = set(self._order)
        self.last_orphans = await asyncio.to_thread(reaper.find_orphans, self.state_dir, live_tasks=live)
        return self.last_orphans

    def log_lines_dropped(self, task_id: str) -> int:
        return self.logs.dropped(task_id)

    # ---- crash recovery ------------------------------------------------------------------------
    async def cleanup_orphans(self, state_dir: Path) -> int:
        return kill_orphans(state_dir)


def kill_orphans(state_dir: Path) -> int:
    """SIGKILL every process carrying ``state_dir``'s marker in its environment (what a SIGKILLed
    supervisor left: tasks, what they started with ``setsid``, database servers) and the process groups
    recorded under ``<state_dir>/pids``; remove the pid files. Returns how many processes were killed."""
    return reaper.sweep(state_dir)


def kill_task_processes(state_dir: Path, started: set[int] | None = None) -> int:
    """SIGKILL every process carrying a task marker of ``state_dir`` and their descendants (not the
    database servers, which carry the state-dir marker only); with ``started`` (what this process started
    in sessions of its own), also the orphans this process adopted as a child subreaper, whatever their
    environment (``proctree.adopted``). Returns how many."""
    from albfargate.ecs import proctree

    procs = reaper.snapshot()
    roots = [p.pid for p in procs.values() if p.state_dir == str(state_dir.resolve()) and p.task_id]
    pids = {p for p in proctree.descendants(procs, roots) if not procs[p].zombie}
    if started is not None and reaper.is_subreaper():
        pids |= proctree.adopted(procs, os.getpid(), started=started)
    pids -= reaper.ancestors(os.getpid())
    return reaper.signal_pids(pids, signal.SIGKILL)


#: Task ports are taken below the kernel's ephemeral range, so that an outgoing connection (the load
#: balancer's upstream pools, health checks) can never be handed the port a task is about to bind.
TASK_PORT_FLOOR = 20000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1", exclude: frozenset[int] = frozenset()) -> int:
    """A currently free TCP port on ``host`` for a task's container port (awsvpc emulation): a random
    bindable port between :data:`TASK_PORT_FLOOR` and the start of the ephemeral range, else any free one."""
    import random
    import socket

    top = _ephemeral_start() - 1
    if top > TASK_PORT_FLOOR:
        for _ in range(100):
            port = random.randint(TASK_PORT_FLOOR, top)
            if port in exclude:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            return port
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in exclude:
            return port
    raise OSError("no free local port found")
