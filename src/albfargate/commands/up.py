"""The run commands: ``up``, ``down``, ``status``, ``logs``, ``scale``, ``redeploy``, ``stop-task``.

``up`` resolves its arguments once into an :class:`~albfargate.engine.EngineConfig` and runs the
supervisor in the foreground (live view until Ctrl-C, then the ordered shutdown) or, with ``--detach``,
starts it as a background process and returns once every service is steady. The other commands find the
system's state directory (``albfargate.statedir``), resolve the names they are given (``albfargate.names``)
and talk to its supervisor over the control channel (``albfargate.supervisor``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from albfargate.errors import AlbfargateError, RuntimeStartError, UsageError
from albfargate.statusview import render_view, should_colour

DEFAULT_STATE_DIR = ".albfargate"
DEFAULT_DETACH_TIMEOUT = 120.0
#: How long ``down`` waits for the supervisor's ordered shutdown before it escalates.
DOWN_TIMEOUT = 150.0


def _state_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=f"supervisor state directory (default: {DEFAULT_STATE_DIR}/ next to the app, assembly or "
        "template)",
    )


def state_dir_args(p: argparse.ArgumentParser, *, positional: bool = False) -> None:
    """How a run command names its system: APP_DIR (``positional``) or ``--app``, or ``--state-dir``;
    by default it is found from the current directory (``albfargate.statedir``)."""
    what = "the app of the system (or its cdk.out or template); default: found from the current directory"
    if positional:
        p.add_argument("app_dir", nargs="?", metavar="APP_DIR", help=what)
    else:
        p.add_argument("--app", type=Path, metavar="APP_DIR", help=what)
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=f"the state directory itself (default: APP_DIR/{DEFAULT_STATE_DIR})",
    )


def find_state_dir(args: argparse.Namespace) -> Path:
    """The state dir a run command works on (docs/running.md: --state-dir, the app, the current directory
    and its parents, a single running system below)."""
    from albfargate import statedir

    app = getattr(args, "app_dir", None) or getattr(args, "app", None)
    return statedir.find(
        state_dir=args.state_dir, app=Path(app) if app else None, command=getattr(args, "command", "status")
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="run the app locally: load balancers + Fargate services (process or Docker driver)",
        description="Synthesize if needed, start the local load balancers and every ECS service, and keep "
        "them running (foreground live view until Ctrl-C, or --detach).",
    )
    up.add_argument("app_dir", nargs="?", metavar="APP_DIR", help="CDK app directory (default: .)")
    src = up.add_mutually_exclusive_group()
    src.add_argument("--assembly", type=Path, metavar="DIR", help="run this cloud assembly (cdk.out)")
    src.add_argument("--template", type=Path, metavar="FILE", help="run this CloudFormation template")
    src.add_argument(
        "--empty",
        action="store_true",
        help="run the local system with nothing deployed (the AWS endpoint, S3, SSM, CloudFormation) for "
        "`cdk deploy` or `aws cloudformation deploy` to deploy into (docs/deploy-local.md); state in "
        f"./{DEFAULT_STATE_DIR}/ unless --state-dir",
    )
    up.add_argument(
        "--driver",
        choices=("auto", "process", "docker"),
        default="auto",
        help="how tasks run: process (local commands), docker (the images), auto (default: process when "
        "every container has a run setting or stand-in, else docker when an engine answers)",
    )
    up.add_argument(
        "--stand-in",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run the built-in echo server for containers whose image or name matches (glob; '*' = all)",
    )
    up.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="LISTENER_PORT=LOCAL_PORT",
        help="serve the listener of template port LISTENER_PORT on LOCAL_PORT",
    )
    up.add_argument(
        "--api-port",
        type=port_number,
        metavar="PORT",
        help="serve the AWS-compatible endpoint on PORT (taken: an error; 0: any free port); default 4566, "
        "or the next free port with a note",
    )
    up.add_argument(
        "--console-port",
        type=port_number,
        metavar="PORT",
        help="serve the web console on PORT (taken: an error; 0: any free port); default 4590, or the next "
        "free port with a note (docs/console.md)",
    )
    up.add_argument("--no-console", action="store_true", help="do not serve the web console")
    _state_dir_arg(up)
    up.add_argument("--detach", action="store_true", help="leave a supervisor running; return once steady")
    up.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_DETACH_TIMEOUT,
        metavar="SECONDS",
        help=f"with --detach: how long to wait for steady (default {DEFAULT_DETACH_TIMEOUT:g})",
    )
    up.add_argument(
        "--watch", action="store_true", help="roll a new deployment when the app's sources change"
    )
    up.add_argument(
        "--fast-scaling", action="store_true", help="autoscaling with 1-second periods (demos, tests)"
    )
    up.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_up)

    down = subparsers.add_parser("down", help="stop the supervisor: drain, stop tasks, close")
    down.add_argument(
        "--volumes",
        "-v",
        action="store_true",
        help="also delete the backing data (databases, secrets, parameters, objects: STATE_DIR/data) "
        "after asking",
    )
    down.add_argument("--yes", "-y", action="store_true", help="with --volumes: do not ask")
    state_dir_args(down, positional=True)
    down.set_defaults(func=cmd_down)

    status = subparsers.add_parser("status", help="load balancers, services, tasks and target health")
    state_dir_args(status, positional=True)
    status.add_argument("--json", action="store_true", help="the documented JSON contract (docs/running.md)")
    status.set_defaults(func=cmd_status)

    logs = subparsers.add_parser(
        "logs", help="task output of a service, a database's server log, or the load balancer access logs"
    )
    logs.add_argument(
        "service", metavar="SERVICE", help="a service, or a database's logical id or identifier"
    )
    logs.add_argument("--follow", "-f", action="store_true")
    logs.add_argument("--access", action="store_true", help="the access logs of the load balancers instead")
    state_dir_args(logs)
    logs.set_defaults(func=cmd_logs)

    scale = subparsers.add_parser("scale", help="set a service's desired count")
    scale.add_argument("service", metavar="SERVICE")
    scale.add_argument("count", type=int, metavar="COUNT")
    state_dir_args(scale)
    scale.set_defaults(func=cmd_scale)

    redeploy = subparsers.add_parser("redeploy", help="force a new deployment of a service")
    redeploy.add_argument("service", metavar="SERVICE")
    state_dir_args(redeploy)
    redeploy.set_defaults(func=cmd_redeploy)

    stop_task = subparsers.add_parser("stop-task", help="stop one task (the scheduler replaces it)")
    stop_task.add_argument("task_id", metavar="TASK_ID")
    stop_task.add_argument("--reason", default=None)
    state_dir_args(stop_task)
    stop_task.set_defaults(func=cmd_stop_task)


# ---- resolving `up` arguments -------------------------------------------------------------------------


def port_number(text: str) -> int:
    """argparse type of a port option: 0-65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a port number, 0-65535 (0: any free port)")
    return value


def positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``: a number of seconds > 0 (0 would return before anything started,
    leaving a supervisor that is still starting behind)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number of seconds > 0")
    return value


def parse_port_overrides(values: Sequence[str]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        left, sep, right = v.partition("=")
        try:
            if not sep:
                raise ValueError
            lp, local = int(left), int(right)
        except ValueError:
            raise UsageError(f"--port {v}: expected LISTENER_PORT=LOCAL_PORT, e.g. 80=8080") from None
        if not (0 < lp < 65536 and 0 < local < 65536):
            raise UsageError(f"--port {v}: ports must be 1-65535")
        out[lp] = local
    return out


def check_port_overrides(overrides: dict[int, int], listener_ports: Sequence[int]) -> None:
    """Every ``--port LISTENER_PORT=...`` must name a listener of the app (UsageError otherwise)."""
    ports = sorted(set(listener_ports))
    for lp, local in overrides.items():
        if lp not in ports:
            have = f"its listeners are on {', '.join(map(str, ports))}" if ports else "it has no listeners"
            raise UsageError(f"--port {lp}={local}: the app has no listener on port {lp}; {have}")


def warn_about_model(model: Any) -> None:
    """Print ``up``'s warnings about the model (nothing to run, what is not emulated) to stderr."""
    from albfargate.describe import up_warnings

    for line in up_warnings(model):
        print(f"albfargate: warning: {line}", file=sys.stderr, flush=True)


def resolve_source(args: argparse.Namespace) -> tuple[Path | None, Path | None, Path | None, Path]:
    """(app_dir, assembly_dir, template_file, default state dir) from the ``up`` arguments (all three None
    with ``--empty``: the state dir is then in the current directory)."""
    empty = getattr(args, "empty", False)
    if args.app_dir is not None and (args.assembly is not None or args.template is not None or empty):
        raise UsageError("give either APP_DIR or --assembly/--template/--empty, not both")
    if empty:
        return None, None, None, Path.cwd().resolve() / DEFAULT_STATE_DIR
    if args.template is not None:
        t = Path(args.template).resolve()
        return None, None, t, t.parent / DEFAULT_STATE_DIR
    if args.assembly is not None:
        a = Path(args.assembly).resolve()
        return None, a, None, a.parent / DEFAULT_STATE_DIR
    app = Path(args.app_dir or ".").resolve()
    if (app / "manifest.json").is_file() and not (app / "cdk.json").is_file():
        return None, app, None, app.parent / DEFAULT_STATE_DIR
    return app, None, None, app / DEFAULT_STATE_DIR


def up_state_dir(args: argparse.Namespace) -> Path:
    """The state directory ``up`` runs with (``--state-dir``, else next to the app/assembly/template)."""
    return Path(args.state_dir).resolve() if args.state_dir else resolve_source(args)[3]


def _claim(args: argparse.Namespace, state_dir: Path) -> None:
    """Write the pid file (``supervisor.claim``) unless the app, assembly or template does not exist (a
    mistyped APP_DIR must not get a state directory; building the config then says what is wrong)."""
    from albfargate import supervisor

    if args.state_dir is not None or state_dir.parent.is_dir():
        supervisor.claim(state_dir)


def build_config(args: argparse.Namespace) -> Any:
    from albfargate.assembly import load_assembly, load_template
    from albfargate.engine import EngineConfig
    from albfargate.runsettings import RunSettings, load_run_settings

    app_dir, assembly, template, default_state = resolve_source(args)
    if getattr(args, "empty", False):
        return _empty_config(args, default_state)
    if app_dir is not None:
        if not (app_dir / "cdk.json").is_file():
            raise UsageError(
                f"{app_dir} is not a CDK app (no cdk.json); give APP_DIR, --assembly or --template"
            )
        from albfargate.synth import synth_app

        assembly = synth_app(app_dir)
    if template is not None:
        model = load_template(template)
    else:
        assert assembly is not None
        model = load_assembly(assembly)
    settings_dir = app_dir
    if settings_dir is None:
        # an assembly or template may sit beside (or inside) the app that has the run settings
        base = template.parent if template is not None else assembly
        assert base is not None
        settings_dir = base.parent if (base.parent / "cdk.json").is_file() else base
    run_settings = (
        load_run_settings(settings_dir) if settings_dir.is_dir() else RunSettings(app_dir=settings_dir)
    )
    state_dir = Path(args.state_dir).resolve() if args.state_dir else default_state
    # the stacks deployed through CloudFormation into this state dir run again (docs/cloudformation.md)
    from albfargate.cfn.restore import with_deployed_stacks

    model, notes = with_deployed_stacks(model, state_dir)
    for note in notes:
        print(f"albfargate: warning: {note}", file=sys.stderr, flush=True)
    port_overrides = parse_port_overrides(args.port)
    check_port_overrides(port_overrides, [lst.port for lst in model.listeners])
    if not args.supervised and args.driver != "docker":
        from albfargate.runsettings import state_dir_warnings

        for line in state_dir_warnings(run_settings, state_dir):
            print(f"albfargate: warning: {line}", file=sys.stderr)
    return EngineConfig(
        model=model,
        state_dir=state_dir,
        run_settings=run_settings,
        stand_in=tuple(args.stand_in),
        port_overrides=port_overrides,
        driver=args.driver,
        fast_scaling=args.fast_scaling,
    )


def _empty_config(args: argparse.Namespace, default_state: Path) -> Any:
    """``up --empty``: nothing of an app, only what CloudFormation deployed into the state dir before."""
    from albfargate.cfn.restore import with_deployed_stacks
    from albfargate.engine import EngineConfig
    from albfargate.model import SystemModel
    from albfargate.runsettings import RunSettings

    state_dir = Path(args.state_dir).resolve() if args.state_dir else default_state
    model, notes = with_deployed_stacks(SystemModel(), state_dir)
    for note in notes:
        print(f"albfargate: warning: {note}", file=sys.stderr, flush=True)
    port_overrides = parse_port_overrides(args.port)  # deployed listeners may appear later: not checked
    return EngineConfig(
        model=model,
        state_dir=state_dir,
        run_settings=RunSettings(app_dir=state_dir.parent),
        stand_in=tuple(args.stand_in),
        port_overrides=port_overrides,
        driver=args.driver,
        fast_scaling=args.fast_scaling,
    )


# ---- up -------------------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    if args.detach:
        return _up_detached(args)
    from albfargate import supervisor

    state_dir = up_state_dir(args)
    made = not state_dir.exists()
    # until the event loop takes them over, SIGTERM/SIGHUP (`down` while this starts) end it cleanly
    with _StopSignals(signals=(signal.SIGTERM, signal.SIGHUP)):
        try:
            _claim(args, state_dir)  # first: a `down` from now on finds this `up`, even while it synthesizes
            return _up_foreground(args)
        except _Interrupted as stop:  # before anything was started
            return 128 + stop.signum
        finally:
            supervisor.unclaim(state_dir)
            if made:  # an up refused before it started leaves no state directory behind (rmdir: empty only)
                with contextlib.suppress(OSError):
                    state_dir.rmdir()


def _up_foreground(args: argparse.Namespace) -> int:
    from albfargate import supervisor

    config = build_config(args)
    if not args.supervised:  # a detached supervisor's parent has printed them
        warn_about_model(config.model)
    interactive = not args.supervised and sys.stdout.isatty()

    def started(engine: Any) -> None:
        print(render_urls(engine.status()), flush=True)
        if args.supervised:
            print("albfargate: supervisor started", flush=True)

    watch_app = None
    if args.watch:
        app_dir, _, _, _ = resolve_source(args)
        if app_dir is None:
            raise UsageError("--watch needs APP_DIR (a CDK app), not --assembly/--template")
        watch_app = app_dir
    stopped_by = supervisor.run(
        config,
        on_started=started,
        view=_live_view if interactive else _plain_view,
        watch_app=watch_app,
        api_port=args.api_port,
        console_port=args.console_port,
        console=not args.no_console,
    )
    return 0 if stopped_by is None else 128 + stopped_by  # 130 after Ctrl-C, 143 after SIGTERM


def _terminal_view(status: dict[str, Any]) -> str:
    """The status view as stdout takes it: cut to the terminal's width and coloured when it is one (and
    NO_COLOR is not set), full lines without colour into a pipe or file."""
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    return render_view(status, width=width, colour=should_colour(tty, os.environ))


async def _live_view(engine: Any, stop: asyncio.Event) -> None:
    """Redraw the live view every second until stopped (a terminal is attached)."""
    while not stop.is_set():
        text = _terminal_view(engine.status(events=6))
        sys.stdout.write("\x1b[H\x1b[2J" + text + "\n(Ctrl-C to stop)\n")
        sys.stdout.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def _plain_view(engine: Any, stop: asyncio.Event) -> None:
    """Without a terminal: print each new service event once, and steady transitions."""
    seen: set[tuple[str, float, str]] = set()
    was_steady = False
    while not stop.is_set():
        st = engine.status(events=20)
        for svc in st["services"]:
            for ev in reversed(svc["events"]):
                key = (svc["name"], ev["created_at"], ev["message"])
                if key not in seen:
                    seen.add(key)
                    print(ev["message"], flush=True)
        if st["steady"] and not was_steady:
            print("albfargate: every service is steady", flush=True)
        was_steady = st["steady"]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def render_urls(status: dict[str, Any]) -> str:
    lines = []
    for lb in status["load_balancers"]:
        for lst in lb["listeners"]:
            lines.append(f"{lb['name']} {lst['protocol']}:{lst['port']} -> {lst['url']}")
    if not lines:
        lines.append("(no load balancer listeners)")
    if status.get("api_url"):
        lines.append(f"AWS API endpoint (ECS, ELBv2, CloudFormation, S3, SSM, ...) -> {status['api_url']}")
    if status.get("console_url"):
        lines.append(f"web console -> {status['console_url']}")
    lines.extend(f"albfargate: note: {note}" for note in status.get("notes", ()))
    return "\n".join(lines)


class _Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP reached ``up --detach`` (Ctrl-C, or ``down`` while it starts)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """While ``up --detach`` runs, a stop signal raises :class:`_Interrupted` where it is armed; inside
    :meth:`held` (starting the supervisor process) it is kept and raised right after."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, signals: Sequence[int] = SIGNALS) -> None:
        self.armed = True
        self.pending: int | None = None
        self.signals = tuple(signals)
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        for sig in self.signals:
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: object) -> None:
        if not self.armed:
            self.pending = signum
            return
        raise _Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Any:
        self.armed = False
        try:
            yield
        finally:
            self.armed = True
        if self.pending is not None:
            signum, self.pending = self.pending, None
            raise _Interrupted(signum)


def _up_detached(args: argparse.Namespace) -> int:
    from albfargate import supervisor

    state_dir = up_state_dir(args)
    with _StopSignals() as signals:
        _claim(args, state_dir)  # first: a `down` from now on finds this `up` and stops what it started
        child: subprocess.Popen[bytes] | None = None
        try:
            config = build_config(args)  # fail fast (bad assembly, missing run setting...) before forking
            warn_about_model(config.model)
            _check_run_settings(config)
            with signals.held():
                child, log_path, log_start = _start_supervisor(args, state_dir)
            return _wait_steady(args, child, state_dir, log_path, log_start)
        except _Interrupted as stop:
            name = signal.Signals(stop.signum).name
            if child is None:
                print(f"albfargate: up stopped ({name}) before the supervisor started", file=sys.stderr)
            else:
                _stop_child(child, signals)
                print(
                    f"albfargate: up stopped ({name}) before every service was steady; the supervisor "
                    f"(pid {child.pid}) stopped everything it started",
                    file=sys.stderr,
                )
            return 128 + stop.signum
        finally:
            supervisor.unclaim(state_dir)


def _check_run_settings(config: Any) -> None:
    from albfargate.engine import missing_run_settings, resolve_driver

    problems = (
        missing_run_settings(config.model, config.run_settings, config.stand_in)
        if resolve_driver(config.driver, config.model, config.run_settings, config.stand_in) == "process"
        else []  # the Docker driver runs the images themselves
    )
    if problems:
        raise RuntimeStartError(
            problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )


def _start_supervisor(args: argparse.Namespace, state_dir: Path) -> tuple[subprocess.Popen[bytes], Path, int]:
    """Start the detached supervisor (``up --supervised``); its output goes to ``supervisor.log``."""
    from albfargate import supervisor

    argv = [sys.executable, "-m", "albfargate.cli", "up", "--supervised", "--state-dir", str(state_dir)]
    if args.template is not None:
        argv += ["--template", str(Path(args.template).resolve())]
    elif args.assembly is not None:
        argv += ["--assembly", str(Path(args.assembly).resolve())]
    elif getattr(args, "empty", False):
        argv.append("--empty")
    else:
        argv.append(str(Path(args.app_dir or ".").resolve()))
    argv += ["--driver", args.driver]
    for p in args.stand_in:
        argv += ["--stand-in", p]
    for p in args.port:
        argv += ["--port", p]
    if args.api_port is not None:
        argv += ["--api-port", str(args.api_port)]
    if args.console_port is not None:
        argv += ["--console-port", str(args.console_port)]
    if args.no_console:
        argv.append("--no-console")
    if args.fast_scaling:
        argv.append("--fast-scaling")
    if args.watch:
        argv.append("--watch")
    log_path = state_dir / supervisor.LOG_FILE
    env = dict(os.environ)
    env[supervisor.SUPERVISOR_ENV] = str(state_dir)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as logf:
        log_start = logf.tell()  # this run's output starts here
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=os.getcwd(),
        )
    return child, log_path, log_start


def _stop_child(child: subprocess.Popen[bytes], signals: _StopSignals) -> None:
    """Ask the supervisor this ``up`` started to run its ordered shutdown and wait for it; a second stop
    signal is passed on (the supervisor then forces its stop)."""
    print(f"albfargate: stopping the supervisor (pid {child.pid}) ...", file=sys.stderr, flush=True)
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    while True:
        try:
            child.wait()
            return
        except _Interrupted:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)


def _wait_steady(
    args: argparse.Namespace, child: subprocess.Popen[bytes], state_dir: Path, log_path: Path, log_start: int
) -> int:
    """Wait for every service to be steady, printing a progress line per change; return as
    soon as a rollout FAILED (the supervisor is left running, as ``docker compose up --wait`` leaves its
    containers) or after ``--timeout``."""
    from albfargate import supervisor
    from albfargate.statusview import failed_rollouts, progress

    def say(line: str) -> None:  # progress on stdout: stderr carries only what went wrong
        print(f"albfargate: {line}", flush=True)

    say(
        f"started the supervisor (pid {child.pid}, output in {log_path}); waiting up to {args.timeout:g} s "
        "for every service to be steady"
    )
    deadline = time.monotonic() + args.timeout
    seen: dict[str, str] = {}
    why: list[str] = []
    while time.monotonic() < deadline:
        rc = child.poll()
        if rc is not None:
            # 0: `down`; 143/130: SIGTERM/SIGINT handled; -15/-2: the signal came before its handler was set
            if rc in (0, 128 + signal.SIGTERM, 128 + signal.SIGINT, -signal.SIGTERM, -signal.SIGINT):
                raise RuntimeStartError(
                    f"the supervisor was stopped (`albfargate down`?) before every service was steady "
                    f"(see {log_path})"
                )
            if rc < 0:
                raise RuntimeStartError(
                    f"the supervisor was killed by {signal.Signals(-rc).name} (see {log_path})"
                )
            raise RuntimeStartError(
                _last_error(log_path, log_start) or f"the supervisor exited with code {rc} (see {log_path})"
            )
        st = None
        if supervisor.read_info(state_dir) is not None:
            with contextlib.suppress(AlbfargateError):
                st = supervisor.call(state_dir, "GET", "/status", timeout=5)
        if st is not None:
            seen, changed = progress(seen, st)
            for line in changed:
                say(line)
            if st["steady"]:
                print(render_urls(st))
                print(f"albfargate: steady; supervisor pid {child.pid}, state {state_dir}")
                return 0
            failed = failed_rollouts(st)
            if failed:
                for line in failed:
                    print(f"albfargate: error: {line}", file=sys.stderr)
                _left_running(child.pid, state_dir)
                return 1
            why = list(st["not_steady"])
        time.sleep(0.25)
    print(f"albfargate: not steady after {args.timeout:g} s:", file=sys.stderr)
    for line in why or ["the supervisor did not report yet"]:
        print(f"  {line}", file=sys.stderr)
    _left_running(child.pid, state_dir)
    return 1


def _left_running(pid: int, state_dir: Path) -> None:
    where = f" --state-dir {state_dir}"
    print(
        f"albfargate: the supervisor (pid {pid}) is left running to look at: `albfargate status{where}`, "
        f"`albfargate logs SERVICE{where}`; stop it with `albfargate down{where}`",
        file=sys.stderr,
    )


def _last_error(log_path: Path, start: int) -> str | None:
    try:
        with log_path.open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    errors = [ln for ln in text.splitlines() if ln.startswith("albfargate: error: ")]
    return errors[-1][len("albfargate: error: ") :] if errors else None


# ---- the other commands ---------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from albfargate import supervisor

    state_dir = find_state_dir(args)
    try:
        st = supervisor.call(state_dir, "GET", "/status")
    except supervisor.NoSupervisor as exc:
        raise supervisor.NoSupervisor(f"{exc}{_orphans_note(state_dir)}") from None
    if args.json:
        json.dump(st, sys.stdout, indent=2)
        print()
    else:
        print(_terminal_view(st))
    return 0


def _orphans_note(state_dir: Path) -> str:
    """What a stopped system left running (a SIGKILLed supervisor's tasks), for the error of ``status``."""
    from albfargate.ecs.runtime.reaper import find_orphans

    try:
        found = find_orphans(state_dir)
    except OSError:
        return ""
    if not found:
        return ""
    pids = ", ".join(str(o["pid"]) for o in found[:10]) + (", ..." if len(found) > 10 else "")
    return (
        f"; {len(found)} orphan process{'es' if len(found) != 1 else ''} of it still run (pid {pids}): "
        f"`albfargate down --state-dir {state_dir}` kills them"
    )


def _service_candidates(st: dict[str, Any]) -> list[Any]:
    from albfargate.names import Candidate

    return [Candidate(s["name"], s.get("arn", "")) for s in st["services"] if s.get("status") != "INACTIVE"]


def _resolve_service(state_dir: Path, query: str) -> str:
    """The service ``query`` names on the running system (exact name or ARN, else a unique prefix)."""
    from albfargate import supervisor
    from albfargate.names import resolve

    st = supervisor.call(state_dir, "GET", "/status")
    return resolve(query, _service_candidates(st), kind="service", hint="see `albfargate status`")


def cmd_scale(args: argparse.Namespace) -> int:
    from albfargate import supervisor

    if args.count < 0:
        raise UsageError(f"COUNT must be 0 or more, e.g. `albfargate scale {args.service} 2`")
    state_dir = find_state_dir(args)
    name = _resolve_service(state_dir, args.service)
    supervisor.call(state_dir, "POST", "/scale", {"service": name, "count": args.count})
    print(f"{name}: desired count {args.count}")
    return 0


def cmd_redeploy(args: argparse.Namespace) -> int:
    from albfargate import supervisor

    state_dir = find_state_dir(args)
    name = _resolve_service(state_dir, args.service)
    r = supervisor.call(state_dir, "POST", "/redeploy", {"service": name})
    print(r.get("line") or f"{name}: new deployment {r['deployment']}")
    return 0


def cmd_stop_task(args: argparse.Namespace) -> int:
    from albfargate import supervisor
    from albfargate.names import Candidate, NameNotFound, resolve

    state_dir = find_state_dir(args)
    st = supervisor.call(state_dir, "GET", "/status")
    tasks = [Candidate(t["id"]) for svc in st["services"] for t in svc["tasks"]]
    try:
        task_id = resolve(args.task_id, tasks, kind="task", hint="see `albfargate status`")
    except NameNotFound:
        tail = args.task_id.rsplit("/", 1)[-1]
        if len(tail) != 32:  # a full id may name a task outside the services (RunTask): the engine knows
            raise
        task_id = tail
    r = supervisor.call(state_dir, "POST", "/stop-task", {"task_id": task_id, "reason": args.reason})
    print(f"stopping {r['task']}")
    return 0


def _confirm_volumes(args: argparse.Namespace, data: Path) -> bool:
    """``down --volumes``: whether to delete ``data`` (asked on a terminal; ``--yes`` skips the question;
    without a terminal and without ``--yes`` it is refused)."""
    if not getattr(args, "volumes", False) or not data.exists():
        return False
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"down --volumes would delete {data} (databases, secrets, parameters, objects) and there is no "
            f"terminal to ask: add --yes to delete it"
        )
    answer = input(f"Delete {data} (databases, secrets, parameters, objects)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _delete_volumes(data: Path) -> None:
    import shutil

    shutil.rmtree(data)
    print(f"deleted {data}")


def _orphans_removed(state_dir: Path, *, containers: bool) -> str:
    """Kill what carries the state dir's marker (and, with ``containers``, remove its Docker containers);
    the words for ``down``'s line: ``; killed 2 orphan processes and removed 1 orphan container it left``."""
    from albfargate.ecs.runtime.process import kill_orphans
    from albfargate.engine import remove_docker_orphans

    done = []
    killed = kill_orphans(state_dir)
    if killed:
        done.append(f"killed {killed} orphan process{'es' if killed != 1 else ''}")
    removed = remove_docker_orphans(state_dir) if containers else 0
    if removed:
        done.append(f"removed {removed} orphan container{'s' if removed != 1 else ''}")
    return f"; {' and '.join(done)} it left" if done else ""


def cmd_down(args: argparse.Namespace) -> int:
    from albfargate import supervisor
    from albfargate.ecs.runtime.process import kill_orphans
    from albfargate.engine import remove_docker_orphans

    state_dir = find_state_dir(args)
    data = state_dir.resolve() / "data"
    delete = _confirm_volumes(args, data)
    if getattr(args, "volumes", False) and data.exists() and not delete:
        print(f"kept {data}")
    pid = supervisor.running_pid(state_dir)
    # the pid file names the supervisor, or the `up` that is starting one (it stops what it started);
    # without one, a detached supervisor may still be starting (found by its marker)
    pids = [pid] if pid is not None else supervisor.detached_supervisors(state_dir)
    if not pids:
        print(f"no supervisor running for {state_dir}" + _orphans_removed(state_dir, containers=True))
        if delete:
            _delete_volumes(data)
        return 0
    asked = False
    if pid is not None and supervisor.read_info(state_dir) is not None:
        try:
            supervisor.call(state_dir, "POST", "/down")
            asked = True
        except AlbfargateError:
            pass
    if not asked:  # still starting (no control channel yet): SIGTERM runs the same ordered shutdown
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT
    while any(supervisor.pid_alive(p) for p in pids):
        if time.monotonic() > deadline:
            for p in [*pids, *supervisor.detached_supervisors(state_dir)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            time.sleep(0.2)
            kill_orphans(state_dir)
            remove_docker_orphans(state_dir)
            (state_dir / supervisor.PID_FILE).unlink(missing_ok=True)
            print(
                f"supervisor {pids[0]} did not stop in {DOWN_TIMEOUT:g} s: killed it and its tasks",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.1)
    # the last resort: anything still carrying the state dir's marker (it escaped its task's stop)
    print(f"stopped supervisor {pids[0]}" + _orphans_removed(state_dir, containers=False))
    if delete:
        _delete_volumes(data)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    state_dir = find_state_dir(args)
    if not args.access:
        backing_log = _match_backing_log(state_dir / "logs", args.service)
        if backing_log is not None:
            return _show_backing_log(backing_log, follow=args.follow)
    name = _logs_service(state_dir, args.service)
    if args.access:
        root = state_dir / "access-logs"
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
        missing = f"no access log under {root} yet (it is written as requests arrive)"
    else:
        root = state_dir / "logs" / name
        files = sorted(root.glob("*.log"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
        missing = f"service {name} has no task output under {root} yet (see `albfargate status`)"
    if not files and not args.follow:
        raise AlbfargateError(missing)
    offsets: dict[Path, int] = {}
    keep = _access_filter(state_dir, name) if args.access else None

    def prefix_of(p: Path) -> str:
        return "" if args.access else f"[{p.stem[:8]}{p.stem[32:]}] "

    try:
        while True:
            for f in files:
                with f.open("rb") as fh:
                    fh.seek(offsets.get(f, 0))
                    data = fh.read()
                    offsets[f] = fh.tell()
                if data:
                    pre = prefix_of(f)
                    for line in data.decode(errors="replace").splitlines():
                        if keep is None or any(arn in line for arn in keep):
                            sys.stdout.write(pre + line + "\n")
            sys.stdout.flush()
            if not args.follow:
                return 0
            time.sleep(0.5)
            if args.access:
                files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
            else:
                files = sorted(root.glob("*.log"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    except (KeyboardInterrupt, BrokenPipeError):
        return 0


def _match_backing_log(root: Path, name: str) -> Path | None:
    """A database's server log (``logs/backing/<logical id>.log``) by logical id, its prefix, or the
    identifier the running supervisor reports."""
    d = root / "backing"
    if not d.is_dir():
        return None
    exact = d / f"{name}.log"
    if exact.is_file():
        return exact
    cands = [p for p in d.glob("*.log") if p.stem.lower().startswith(name.lower())]
    if len(cands) == 1:
        return cands[0]
    if not cands:
        from albfargate import supervisor

        try:
            st = supervisor.call(root.parent, "GET", "/status", timeout=5)
        except AlbfargateError:
            return None
        for db in (st.get("backing") or {}).get("databases", []):
            if db.get("identifier") == name and db.get("log"):
                return Path(db["log"])
    return None


def _show_backing_log(path: Path, *, follow: bool) -> int:
    offset = 0
    try:
        while True:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
                offset = fh.tell()
            if data:
                sys.stdout.write(data.decode(errors="replace"))
                sys.stdout.flush()
            if not follow:
                return 0
            time.sleep(0.5)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0


def _logs_service(state_dir: Path, query: str) -> str:
    """The service ``logs`` shows: resolved among the running system's services, or (no supervisor) among
    the services that left logs in the state dir."""
    from albfargate import supervisor
    from albfargate.names import Candidate, resolve

    root = state_dir / "logs"
    cands = (
        [  # logs/backing holds the databases' server logs (cmd_logs looks there first)
            Candidate(p.name) for p in sorted(root.iterdir()) if p.is_dir() and p.name != "backing"
        ]
        if root.is_dir()
        else []
    )
    with contextlib.suppress(supervisor.NoSupervisor):  # a stopped system's logs are still there
        running = _service_candidates(supervisor.call(state_dir, "GET", "/status", timeout=5))
        cands = running + [c for c in cands if c.name not in {r.name for r in running}]
    return resolve(query, cands, kind="service", hint="see `albfargate status`")


def _access_filter(state_dir: Path, name: str) -> tuple[str, ...] | None:
    """The target groups of service ``name`` (access-log lines name their target group), asked from the
    running supervisor; None (no filter) when it does not run or the service is unknown."""
    from albfargate import supervisor

    try:
        st = supervisor.call(state_dir, "GET", "/status", timeout=5)
    except AlbfargateError:
        return None
    for svc in st.get("services", []):
        if svc["name"] == name:
            return tuple(svc.get("target_groups", ())) or None
    return None
