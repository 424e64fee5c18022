"""The supervisor: the one process that runs an :class:`~albfargate.engine.Engine` for a state directory,
and the way the other commands reach it.

Owns
- the state directory layout: ``supervisor.pid`` (the running supervisor), ``supervisor.json`` (its pid,
  control URL and token; mode 0600), ``supervisor.log`` (output of a detached supervisor), ``pids/``
  (container process groups, written by the process driver), ``logs/`` (task output), ``access-logs/``;
- the single-supervisor lock and crash recovery: when the pid file names a process that is gone (a
  SIGKILLed supervisor), the next ``up`` kills every process it left (by the state-dir marker in their
  environment, and the process groups of their pid files) before starting;
- being the child subreaper of its tasks (``PR_SET_CHILD_SUBREAPER``): what a task leaves behind is
  reparented to the supervisor, which kills it with its container and reaps it;
- the control channel: HTTP/1.1 + JSON on 127.0.0.1 (ephemeral port) with a random token, used by
  ``status``, ``scale``, ``redeploy``, ``stop-task`` and ``down`` (:func:`call`);
- :func:`serve`: run the engine until SIGINT/SIGTERM or ``down``, then the engine's ordered shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import json
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from albfargate.alb.runtime import tune_gc
from albfargate.api.server import DEFAULT_PORT as DEFAULT_API_PORT
from albfargate.ecs.runtime.process import STATE_DIR_ENV, kill_orphans
from albfargate.ecs.runtime.reaper import become_subreaper
from albfargate.engine import Engine, EngineConfig, remove_docker_orphans
from albfargate.errors import AlbfargateError, RuntimeStartError
from albfargate.net.http import Problem, ProblemKind, RequestHead, Response, is_loopback_host
from albfargate.net.server import HttpServer, Limits, Request

PID_FILE = "supervisor.pid"
INFO_FILE = "supervisor.json"
LOG_FILE = "supervisor.log"
SUPERVISOR_ENV = "ALBFARGATE_SUPERVISOR_OF"
#: Control requests are small JSON documents.
MAX_CONTROL_BODY = 1024 * 1024
MAX_CONTROL_HEAD = 64 * 1024  # asyncio's default stream limit, which bounded the head before


class NoSupervisor(AlbfargateError):
    """No supervisor is running for the state directory."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_our_supervisor(pid: int, state_dir: Path) -> bool:
    """The pid is alive and is a supervisor of this state dir (not a recycled pid)."""
    if not pid_alive(pid):
        return False
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # cannot tell: be safe, assume it is
    # a detached supervisor carries the marker; a foreground `up` is recognised by its command line
    return f"{SUPERVISOR_ENV}={state_dir}".encode() in env or b"albfargate" in cmdline


def running_pid(state_dir: Path) -> int | None:
    """The pid of the live supervisor of ``state_dir`` (or of the ``up`` that is starting one), else None."""
    state_dir = state_dir.resolve()
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_supervisor(pid, state_dir) else None


def detached_supervisors(state_dir: Path) -> list[int]:
    """Live detached supervisors of ``state_dir`` found by the marker they are started with
    (``ALBFARGATE_SUPERVISOR_OF`` in their environment and ``--supervised`` in their command line), also
    while they are still starting and have not written the pid file yet. Their tasks inherit the marker
    but also carry ``ALBFARGATE_STATE_DIR`` and are not listed."""
    state_dir = state_dir.resolve()
    marker = f"{SUPERVISOR_ENV}={state_dir}".encode()
    task_marker = f"{STATE_DIR_ENV}=".encode()
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            marker in env
            and b"--supervised" in argv
            and not any(e.startswith(task_marker) for e in env)
            and pid_alive(int(entry.name))
        ):
            out.append(int(entry.name))
    return out


def private_dir(path: Path) -> Path:
    """Make ``path`` (and its parents) a directory only its owner can enter (mode 0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours (a shared --state-dir): leave its mode alone
        if path.stat().st_uid == os.getuid():
            path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically with mode 0600 (the state files hold a token and task output)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


def _handed_over(pid: int, state_dir: Path) -> bool:
    """``pid`` is the ``up --detach`` that started this (detached) supervisor: its claim passes to us."""
    return pid == os.getppid() and os.environ.get(SUPERVISOR_ENV) == str(state_dir)


def claim(state_dir: Path) -> None:
    """Take ``state_dir``: write the pid file naming this process, first thing, so that ``down`` finds an
    ``up`` that is still starting (it signals the pid; ``up`` stops what it started). Raises
    :class:`RuntimeStartError` when another supervisor runs; a detached supervisor takes over the claim of
    the ``up --detach`` that started it."""
    state_dir = state_dir.resolve()
    private_dir(state_dir)
    pid = running_pid(state_dir)
    if pid is not None and pid != os.getpid() and not _handed_over(pid, state_dir):
        raise RuntimeStartError(
            f"a supervisor is already running for {state_dir} (pid {pid}); "
            f"stop it with `albfargate down --state-dir {state_dir}`"
        )
    write_private(state_dir / PID_FILE, f"{os.getpid()}\n")


def unclaim(state_dir: Path) -> None:
    """Remove the pid file if it still names this process."""
    p = state_dir.resolve() / PID_FILE
    with contextlib.suppress(OSError, ValueError):
        if int(p.read_text().strip()) == os.getpid():
            p.unlink()


def read_info(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir.resolve() / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def acquire(state_dir: Path) -> int:
    """Become the supervisor of ``state_dir``: fail when one is running; otherwise clean up what a
    crashed one left (returns how many orphan processes and containers were killed) and write the pid
    file."""
    state_dir = state_dir.resolve()
    claim(state_dir)
    killed = kill_orphans(state_dir) + remove_docker_orphans(state_dir)
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    os.environ[SUPERVISOR_ENV] = str(state_dir)
    return killed


def release(state_dir: Path) -> None:
    state_dir = state_dir.resolve()
    with contextlib.suppress(OSError, ValueError):
        if int((state_dir / PID_FILE).read_text().strip()) == os.getpid():
            (state_dir / INFO_FILE).unlink(missing_ok=True)
    unclaim(state_dir)


# ---- the control channel: server ---------------------------------------------------------------------

Handler = Callable[[dict[str, Any]], Awaitable[tuple[int, Any]]]
FOREIGN_HOST = "the control channel serves loopback requests only (Host is not loopback)"


class ControlServer:
    def __init__(self, engine: Engine, on_down: Callable[[], None], token: str) -> None:
        self.engine = engine
        self.on_down = on_down
        self.token = token
        self.port = 0
        # one request per connection, the Host guard before the body; every refusal is a 400 (a 403 for
        # a foreign Host), worded for ``call``
        limits = Limits(
            max_head=MAX_CONTROL_HEAD,
            max_body=MAX_CONTROL_BODY,
            idle_timeout=10.0,
            keep_alive=False,
            loopback_only=True,
        )
        self._http = HttpServer(self._respond, limits, refuse=self._refuse)
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/status"): self._status,
            ("GET", "/steady"): self._steady,
            ("POST", "/scale"): self._scale,
            ("POST", "/redeploy"): self._redeploy,
            ("POST", "/stop-task"): self._stop_task,
            ("POST", "/down"): self._down,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = await self._http.start("127.0.0.1", 0)

    async def stop(self) -> None:
        await self._http.stop()

    @staticmethod
    def _refuse(problem: Problem, head: RequestHead | None) -> Response:
        if problem.kind is ProblemKind.FOREIGN_HOST:
            return _control_answer(403, {"error": FOREIGN_HOST})
        if problem.kind is ProblemKind.INTERNAL:  # logged by the server with its traceback
            return _control_answer(500, {"error": f"the supervisor failed on this request: see {LOG_FILE}"})
        return _control_answer(400, {"error": "bad request"})

    async def _respond(self, request: Request) -> Response:
        try:
            status, doc = await self._dispatch(
                request.method, request.target, dict(request.headers), request.body
            )
        except ValueError:  # a body that is not JSON
            status, doc = 400, {"error": "bad request"}
        return _control_answer(status, doc)

    async def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if not is_loopback_host(headers.get("host")):  # DNS rebinding: a page that learnt the token
            return 403, {"error": FOREIGN_HOST}
        if not secrets.compare_digest(headers.get("x-albfargate-token", ""), self.token):
            return 403, {"error": "bad token"}
        parts = urlsplit(target)
        handler = self.routes.get((method, parts.path))
        if handler is None:
            return 404, {"error": f"no such control operation {method} {parts.path}"}
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if body:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                args.update(loaded)
        try:
            return await handler(args)
        except KeyError as exc:
            return 404, {"error": str(exc.args[0]) if exc.args else "not found"}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)}

    async def _status(self, args: dict[str, Any]) -> tuple[int, Any]:
        await self.engine.refresh_orphans()
        return 200, self.engine.status(supervisor_pid=os.getpid(), events=int(args.get("events", 10)))

    async def _steady(self, args: dict[str, Any]) -> tuple[int, Any]:
        ok, why = self.engine.steady()
        return 200, {"steady": ok, "why": why}

    async def _scale(self, args: dict[str, Any]) -> tuple[int, Any]:
        self.engine.update_desired_count(str(args["service"]), int(args["count"]))
        return 200, {"ok": True}

    async def _redeploy(self, args: dict[str, Any]) -> tuple[int, Any]:
        name = str(args["service"])
        line = await self.engine.redeploy(name)
        svc = self.engine.store.service(name)
        dep = svc.primary if svc is not None else None
        return 200, {"deployment": dep.id if dep is not None else None, "line": line}

    async def _stop_task(self, args: dict[str, Any]) -> tuple[int, Any]:
        rec = self.engine.stop_task(str(args["task_id"]), args.get("reason"))
        return 200, {"task": rec.task_arn}

    async def _down(self, args: dict[str, Any]) -> tuple[int, Any]:
        asyncio.get_running_loop().call_soon(self.on_down)
        return 200, {"ok": True, "pid": os.getpid()}


def _control_answer(status: int, doc: Any) -> Response:
    return Response(status, (("Content-Type", "application/json"),), json.dumps(doc).encode())


# ---- the control channel: client ----------------------------------------------------------------------


def call(
    state_dir: Path, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 10.0
) -> Any:
    """One control request to the supervisor of ``state_dir``; raises :class:`NoSupervisor` or
    :class:`AlbfargateError` with the supervisor's error text."""
    state_dir = state_dir.resolve()
    info = read_info(state_dir)
    pid = running_pid(state_dir)
    if pid is None:
        raise NoSupervisor(
            f"no supervisor is running for {state_dir}: start one with `albfargate up APP_DIR`"
        )
    if info is None:
        raise NoSupervisor(
            f"the supervisor of {state_dir} (pid {pid}) is still starting: try again in a moment, or stop "
            f"it with `albfargate down --state-dir {state_dir}`"
        )
    url = urlsplit(str(info["control_url"]))
    data = json.dumps(body).encode() if body is not None else b""
    try:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
        conn.request(
            method,
            path,
            body=data,
            headers={"X-Albfargate-Token": str(info["token"]), "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        payload = json.loads(resp.read() or b"null")
        conn.close()
    except (OSError, ValueError) as exc:
        raise NoSupervisor(
            f"the supervisor of {state_dir} does not answer ({exc}); it may be starting or stopping: see "
            f"{state_dir / LOG_FILE} or `albfargate status --state-dir {state_dir}` again, or stop it with "
            f"`albfargate down --state-dir {state_dir}`"
        ) from None
    if resp.status != 200:
        msg = payload.get("error") if isinstance(payload, dict) else payload
        raise AlbfargateError(str(msg))
    return payload


# ---- running -------------------------------------------------------------------------------------------


def source_fingerprint(app_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every source file of the app (what ``synth`` hashes)."""
    from albfargate.synth import source_files

    out = []
    for f in source_files(app_dir):
        with contextlib.suppress(OSError):
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)


async def watch(
    engine: Engine, app_dir: Path, *, interval: float = 1.0, synth_umask: int | None = None
) -> None:
    """``up --watch``: when the app's sources change, synth (cached) and roll new deployments (the app
    command runs with ``synth_umask``, the user's, not the supervisor's private one)."""
    from albfargate.assembly import load_assembly
    from albfargate.synth import synth_app

    last = await asyncio.to_thread(source_fingerprint, app_dir)
    while True:
        await asyncio.sleep(interval)
        current = await asyncio.to_thread(source_fingerprint, app_dir)
        if current == last:
            continue
        last = current
        try:
            out = await asyncio.to_thread(functools.partial(synth_app, app_dir, umask=synth_umask))
            model = await asyncio.to_thread(load_assembly, out)
        except AlbfargateError as exc:
            print(f"albfargate: watch: {exc}", flush=True)
            continue
        for line in await engine.redeploy_from_model(model):
            print(f"albfargate: watch: {line}", flush=True)


async def _start_api(engine: Engine, port: int | None) -> Any:
    """The AWS-compatible endpoint when the api package is there: on ``port`` exactly (``--api-port``: a
    port that is taken is an error), else on 4566 or the next free port. A failure to start the default one
    is reported and the run goes on without it (``api_url`` stays null)."""
    try:
        from albfargate.api.engine_backend import start_api
    except ImportError:
        return None
    if port is not None:
        try:
            return await start_api(engine, port=port, exact=True)
        except (OSError, RuntimeStartError) as exc:
            raise RuntimeStartError(_api_port_taken(port, exc)) from None
    try:
        return await start_api(engine, port=DEFAULT_API_PORT)
    except Exception as exc:
        print(f"albfargate: warning: the AWS-compatible API did not start: {exc}", flush=True)
        return None


def _api_port_taken(port: int, exc: BaseException) -> str:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (
        f"--api-port {port}: the port is not available on 127.0.0.1 ({why}); pick another one, or leave "
        f"--api-port out to use {DEFAULT_API_PORT} or the next free port"
    )


def check_api_port(port: int | None, host: str = "127.0.0.1") -> None:
    """Fail before anything starts when an explicit ``--api-port`` is taken."""
    if not port:
        return
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            s.bind((host, port))
        except OSError as exc:
            raise RuntimeStartError(_api_port_taken(port, exc)) from None


def check_console_port(port: int | None, host: str = "127.0.0.1") -> None:
    """Fail before anything starts when an explicit ``--console-port`` is taken."""
    if not port:
        return
    import socket

    from albfargate.console.server import DEFAULT_PORT as CONSOLE_PORT

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise RuntimeStartError(
                f"--console-port {port}: the port is not available on {host} ({exc.strerror or exc}); pick "
                f"another one, or leave --console-port out to use {CONSOLE_PORT} or the next free port"
            ) from None


async def _start_console(engine: Engine, port: int | None) -> Any:
    """The web console (docs/console.md) on ``port`` exactly (``--console-port``: a port that is taken is
    an error), else on 4590 or the next free port with a note. Sets ``engine.console_url``. A failure to
    start the default one is reported and the run goes on without it (``console_url`` stays null)."""
    from albfargate.console.server import DEFAULT_PORT as CONSOLE_PORT
    from albfargate.console.server import ConsoleServer

    server = ConsoleServer(engine, port=CONSOLE_PORT if port is None else port, port_search=port is None)
    try:
        engine.console_url = await server.start()
    except RuntimeStartError:
        if port is not None:
            raise
        print("albfargate: warning: the web console did not start: no free port", flush=True)
        return None
    if port is None and server.port != CONSOLE_PORT:
        engine.notes.append(f"port {CONSOLE_PORT} is taken: the console is {server.url} instead")
    return server


def port_notes(engine: Engine, api_port: int | None) -> list[str]:
    """Notes for every listener and the API endpoint that did not get the port it asked for."""
    from albfargate.alb.runtime import local_port_for
    from albfargate.statusview import ListenerPort
    from albfargate.statusview import port_notes as notes

    overrides = engine.config.port_overrides
    listeners = [
        ListenerPort(
            b.lb_name, b.protocol, b.port, overrides.get(b.port, local_port_for(b.port)), b.local_port, b.url
        )
        for b in (engine.lb.bindings() if engine.lb is not None else ())
    ]
    return notes(
        listeners,
        api_wanted=DEFAULT_API_PORT if api_port is None else None,
        api_url=engine.api_url,
        env_command=env_command(engine.state_dir),
    )


def env_command(state_dir: Path) -> str:
    """``albfargate env`` as the user runs it from here (with ``--state-dir`` when it would not be found)."""
    from albfargate import statedir

    try:
        found = statedir.find()
    except AlbfargateError:
        found = None
    return "albfargate env" if found == state_dir.resolve() else f"albfargate env --state-dir {state_dir}"


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(line: str) -> None:
    """A line of the supervisor's own (stdout: the terminal of a foreground ``up``, or supervisor.log)."""
    print(f"albfargate: {line}", flush=True)


async def serve(
    config: EngineConfig,
    *,
    watch_app: Path | None = None,
    synth_umask: int | None = None,
    api_port: int | None = None,
    console_port: int | None = None,
    console: bool = True,
    on_started: Callable[[Engine], None] | None = None,
    view: Callable[[Engine, asyncio.Event], Coroutine[Any, Any, None]] | None = None,
) -> int | None:
    """Run the engine for ``config`` until SIGINT/SIGTERM/SIGHUP or ``down``, then the ordered shutdown
    with its stages printed as they begin; a second signal during it forces the stop
    (:meth:`Engine.force_stop`). A stop asked for while starting runs the same shutdown once started.
    Returns the signal that stopped it (None: ``down``). The caller holds the lock."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stopped_by: list[int] = []

    def on_signal(signum: int) -> None:
        if not stop.is_set():
            stopped_by.append(signum)
            stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    while _kept_signals:  # a stop asked for while the loop was starting
        on_signal(_kept_signals.pop(0))
    engine = Engine(config)
    control: ControlServer | None = None
    console_server: Any = None
    serving = False
    try:
        check_api_port(api_port)
        if console:
            check_console_port(console_port)
        if not stop.is_set():  # not stopped before it began
            # the engine starts the endpoint before the tasks and stops it after them
            await engine.start(serve_api=lambda e: _start_api(e, api_port))
            serving = True
        if not stop.is_set():  # not stopped while starting
            engine.notes.extend(port_notes(engine, api_port))
            if console:
                console_server = await _start_console(engine, console_port)
            control = ControlServer(engine, stop.set, secrets.token_hex(16))
            await control.start()
            tune_gc()
            info = {
                "pid": os.getpid(),
                "control_url": control.url,
                "token": control.token,
                "started_at": time.time(),
                "state_dir": str(engine.state_dir),
            }
            write_private(engine.state_dir / INFO_FILE, json.dumps(info))
            if on_started is not None:
                on_started(engine)
        await _serve_until(engine, stop, view, watch_app, synth_umask)
    finally:
        (engine.state_dir / INFO_FILE).unlink(missing_ok=True)
        forced = False

        def again(signum: int) -> None:  # a second Ctrl-C: force the stop
            nonlocal forced
            if not forced:
                forced = True
                say("forcing the stop: in-flight requests are cut, every task is killed now")
                engine.force_stop()

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, again, sig)
        if serving:
            why = signal.Signals(stopped_by[0]).name if stopped_by else "albfargate down"
            hint = "; Ctrl-C again to force" if stopped_by and stopped_by[0] == signal.SIGINT else ""
            say(f"shutting down ({why}{hint})")
        if console_server is not None:  # before the engine: it follows the engine's notifications
            await console_server.stop()
            engine.console_url = None
        if control is not None:
            await control.stop()
        await engine.stop(on_stage=say if serving else None)
        if serving:
            say("stopped: every task, load balancer and endpoint is closed")
    return stopped_by[0] if stopped_by else None


async def _serve_until(
    engine: Engine,
    stop: asyncio.Event,
    view: Callable[[Engine, asyncio.Event], Coroutine[Any, Any, None]] | None,
    watch_app: Path | None,
    synth_umask: int | None,
) -> None:
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    if not stop.is_set():
        if watch_app is not None:
            tasks.append(loop.create_task(watch(engine, watch_app, synth_umask=synth_umask)))
        if view is not None:
            tasks.append(loop.create_task(view(engine, stop)))
    await stop.wait()
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t


#: The supervisor's umask: every state file it writes (pid and info files, task and access logs, pid
#: files of the task groups, TLS keys) is 0600 and every directory 0700. Its tasks run with the usual
#: container umask instead (``ecs.runtime.process.TASK_UMASK``).
PRIVATE_UMASK = 0o077


def run(config: EngineConfig, **kw: Any) -> int | None:
    """Acquire the state dir, serve, release; returns the signal that stopped it (None: ``down``). Uses
    uvloop when installed."""
    state_dir = config.state_dir.resolve()
    user_umask = os.umask(PRIVATE_UMASK)
    kw.setdefault("synth_umask", user_umask)
    # what a task starts and leaves behind (a `setsid` child, a daemon) is reparented to this process, not
    # to init: the process driver kills it with its container and reaps it (ecs/runtime/reaper.py)
    become_subreaper()
    killed = acquire(state_dir)
    if killed:
        say(f"killed {killed} orphan process{'es' if killed != 1 else ''} an earlier run of {state_dir} left")
    try:
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:  # pragma: no cover
            pass
        # from here until serve() installs the loop's handlers a stop signal is kept, not raised (an
        # exception raised inside the starting loop could be swallowed by it), and serve() acts on it
        old = {sig: signal.signal(sig, _keep_signal) for sig in STOP_SIGNALS}
        try:
            return asyncio.run(serve(config, **kw))
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
    finally:
        release(state_dir)
        os.umask(user_umask)


#: Stop signals that arrived while the event loop was starting (see :func:`run`).
_kept_signals: list[int] = []


def _keep_signal(signum: int, frame: object) -> None:
    _kept_signals.append(signum)
