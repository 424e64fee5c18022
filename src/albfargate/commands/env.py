"""``albfargate env``: the shell lines that point AWS SDKs and the aws CLI at the running system's
AWS-compatible endpoint, as ``minikube docker-env`` does: ``eval "$(albfargate env)"``.

The endpoint is read from the running supervisor (its port may have moved from 4566 when that was taken),
so the lines are always right; with no running system nothing is printed on stdout (``eval`` does nothing)
and one line on stderr says what to do. ``--unset`` prints the lines that undo it (no system needed)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from albfargate.errors import AlbfargateError
from albfargate.model.ids import LOCAL_REGION

#: The variables ``env`` sets, in order. The endpoint accepts any credentials (signatures are not checked);
#: fixed local ones keep a real profile's keys from being used against it.
NAMES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
LOCAL_KEY = "albfargate"
SHELLS = ("bash", "zsh", "sh", "fish", "powershell")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from albfargate.commands.up import state_dir_args

    p = subparsers.add_parser(
        "env",
        help="print the shell lines that point the aws CLI and SDKs at the running system",
        description="Print export lines for the running system's AWS-compatible endpoint: eval "
        '"$(albfargate env)". They are read from the running supervisor, so they are right even when port '
        "4566 was taken. Without a running system nothing is printed on stdout and the exit code is 1.",
    )
    state_dir_args(p, positional=True)
    p.add_argument("--unset", "-u", action="store_true", help="print the lines that unset the variables")
    p.add_argument(
        "--shell",
        choices=("auto", *SHELLS),
        default="auto",
        help="the syntax (default auto: fish when $SHELL is fish, else POSIX sh)",
    )
    p.add_argument("--json", action="store_true", help="the variables as a JSON object instead")
    p.set_defaults(func=cmd_env)


def env_values(api_url: str, region: str = LOCAL_REGION) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": api_url.rstrip("/"),
        "AWS_ACCESS_KEY_ID": LOCAL_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def detect_shell(environ: Mapping[str, str]) -> str:
    return "fish" if Path(environ.get("SHELL", "")).name == "fish" else "sh"


def render(values: Mapping[str, str | None], shell: str, *, how_to: str = "") -> str:
    """The lines for ``shell``: a value of None unsets the variable. ``how_to`` is the command the
    closing comment tells the user to run."""
    lines = []
    for name, value in values.items():
        if shell == "fish":
            lines.append(f"set -e {name};" if value is None else f"set -gx {name} {_fish_quote(value)};")
        elif shell == "powershell":
            lines.append(
                f"Remove-Item Env:\\{name} -ErrorAction SilentlyContinue"
                if value is None
                else f"$Env:{name} = {_ps_quote(value)}"
            )
        else:
            lines.append(f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}")
    if how_to:
        what = "undo it" if all(v is None for v in values.values()) else "point your shell at it"
        lines.append(f"# To {what}, run:")
        if shell == "fish":
            lines.append(f"# {how_to} | source")
        elif shell == "powershell":
            lines.append(f"# & {how_to} | Invoke-Expression")
        else:
            lines.append(f'# eval "$({how_to})"')
    return "\n".join(lines) + "\n"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cmd_env(args: argparse.Namespace) -> int:
    from albfargate import supervisor
    from albfargate.commands.up import find_state_dir

    shell = detect_shell(os.environ) if args.shell == "auto" else args.shell
    extra = [] if args.shell == "auto" else ["--shell", args.shell]
    if args.unset:
        unset: dict[str, str | None] = dict.fromkeys(NAMES)
        if args.json:
            print(json.dumps(unset))
        else:
            how_to = shlex.join(["albfargate", "env", "--unset", *extra])
            sys.stdout.write(render(unset, shell, how_to=how_to))
        return 0
    state_dir = find_state_dir(args)
    st = supervisor.call(state_dir, "GET", "/status")  # raises NoSupervisor: nothing on stdout
    api_url = st.get("api_url")
    if not api_url:
        raise AlbfargateError(
            f"the supervisor of {state_dir} runs without the AWS-compatible endpoint (it did not start; "
            f"see {state_dir / supervisor.LOG_FILE} or the output of `albfargate up`)"
        )
    values = env_values(str(api_url))
    if args.json:
        print(json.dumps(values))
        return 0
    how_to = shlex.join(["albfargate", "env", *_state_dir_argv(args), *extra])
    sys.stdout.write(render(values, shell, how_to=how_to))
    return 0


def _state_dir_argv(args: argparse.Namespace) -> list[str]:
    if args.state_dir:
        return ["--state-dir", str(args.state_dir)]
    app = getattr(args, "app", None) or getattr(args, "app_dir", None)
    return [str(app)] if app else []
