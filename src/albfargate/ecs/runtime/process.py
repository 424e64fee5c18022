"""The process task driver (the default; needs no Docker): every container of a task is one local process
in its own process group (``start_new_session``), started in ``dependsOn`` order and stopped in reverse.

- stdout and stderr of a container go to ``<log_dir>/<task_id>-<container>.log``.
- A pid file per container under ``<state_dir>/pids/`` lets the next supervisor kill what a SIGKILLed one
  left behind (:meth:`ProcessDriver.cleanup_orphans`); every process also carries
  ``ALBFARGATE_STATE_DIR`` in its environment, which is checked before anything is killed.
- Stop = SIGTERM to the process group, wait ``stopTimeout``, SIGKILL (spec §6.2); exit codes of signalled
  processes are reported as 128 + signal (143 for SIGTERM, 137 for SIGKILL) as Docker does.
- Container health checks (``CMD`` / ``CMD-SHELL``, run locally with the container's environment and
  working directory) are run here and fed to the pure tracker in ``ecs/health.py``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

STATE_DIR_ENV = "ALBFARGATE_STATE_DIR"
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


def _environ_has(pid: int, marker: bytes) -> bool:
    try:
        return marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


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


class ProcessDriver:
    """Runs containers as local process groups. One instance per supervisor."""

    name = "process"

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir.resolve()
        self.pid_dir = self.state_dir / "pids"
        self.clock = clock
        self._procs: dict[tuple[str, str], asyncio.subprocess.Process] = {}
        self._watchers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._health_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._order: dict[str, list[str]] = {}

    # ---- start ---------------------------------------------------------------------------------
    async def start_task(self, spec: TaskSpec) -> RunningTask:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
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

    async def _spawn(self, task: RunningTask, c: ContainerSpec) -> None:
        spec = task.spec
        if not c.argv:
            raise TaskStartError(f"CannotStartContainerError: container {c.name} has no command to run")
        env = inherited_environment()
        env.update(c.env)
        env[STATE_DIR_ENV] = str(self.state_dir)
        env["ALBFARGATE_TASK_ID"] = spec.task_id
        env["ALBFARGATE_CONTAINER"] = c.name
        env["ALBFARGATE_SERVICE"] = spec.service or ""
        log = spec.log_path(c.name)
        cwd = c.workdir
        if cwd is not None and not Path(cwd).is_dir():
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name}: working directory {cwd} does not exist"
            )
        with log.open("ab") as logf:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *c.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=logf,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    **_task_umask(),
                )
            except OSError as exc:
                raise TaskStartError(
                    f"CannotStartContainerError: container {c.name}: {exc.strerror or exc}: {c.argv[0]}"
                ) from None
        key = (spec.task_id, c.name)
        self._procs[key] = proc
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
        # The leader is gone; take any member it left behind in its group with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        key = (task.spec.task_id, c.name)
        ht = self._health_tasks.pop(key, None)
        if ht is not None:
            ht.cancel()
        with contextlib.suppress(FileNotFoundError):
            (self.pid_dir / f"{task.spec.task_id}-{c.name}.pid").unlink()
        record_exit(task.containers[c.name], exit_code_of(rc), self.clock())
        self._procs.pop(key, None)
        task.notify()

    async def _run_check(
        self, argv: list[str], timeout: float, *, c: ContainerSpec, env: dict[str, str]
    ) -> bool:
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
        try:
            rc = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return False
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

    async def stop_all_now(self) -> None:
        """Last resort on a failing shutdown: SIGKILL every group this driver started."""
        for proc in list(self._procs.values()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for w in list(self._watchers.values()):
            with contextlib.suppress(Exception):
                await w

    # ---- crash recovery ------------------------------------------------------------------------
    async def cleanup_orphans(self, state_dir: Path) -> int:
        return kill_orphans(state_dir)


def kill_orphans(state_dir: Path) -> int:
    """SIGKILL every process group recorded under ``<state_dir>/pids`` whose members carry this state
    dir's marker in their environment; remove the pid files. Returns how many groups were killed."""
    state_dir = state_dir.resolve()
    pid_dir = state_dir / "pids"
    if not pid_dir.is_dir():
        return 0
    marker = f"{STATE_DIR_ENV}={state_dir}".encode()
    pgids: dict[int, Path] = {}
    for f in pid_dir.glob("*.pid"):
        try:
            pgids[int(f.read_text().strip())] = f
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
    killed = 0
    if pgids:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            pgrp = _pgrp_of(pid)
            if pgrp in pgids and _environ_has(pid, marker):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgrp, signal.SIGKILL)
                    killed += 1
                del pgids[pgrp]
                if not pgids:
                    break
    for f in pid_dir.glob("*.pid"):
        f.unlink(missing_ok=True)
    return killed


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
