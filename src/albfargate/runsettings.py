"""The local run setting: how the process driver starts each container of a task definition as a plain
local command (no Docker), kept next to the app.

Owns the file format (``albfargate.toml`` beside ``cdk.json``, or the same table under the ``"albfargate"``
context key of ``cdk.json``), its validation, and the local secrets file format. Resolved once into frozen
objects; every malformed value raises :class:`~albfargate.errors.AlbfargateError` naming the file and key.
Documented in ``docs/run-settings.md``.

Example ``albfargate.toml``::

    [containers.web]                 # container name from the task definition
    command = ["python3", "app.py"]  # argv list, or a string run with /bin/sh -c
    workdir = "."                    # relative to the app directory
    env = { GREETING = "hi" }        # added on top of the container's Environment
    port_env = "PORT"                # env var through which the driver passes the local port
    snapshot = true                  # run each revision in a snapshot of workdir (docs/run-settings.md)

    [secrets]
    file = "secrets.local.toml"      # optional: local values for the task definitions' Secrets
"""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from albfargate.errors import AlbfargateError

RUN_SETTINGS_FILE = "albfargate.toml"
CDK_CONTEXT_KEY = "albfargate"
DEFAULT_PORT_ENV = "PORT"

_TOP_KEYS = frozenset({"containers", "secrets"})
_CONTAINER_KEYS = frozenset({"command", "workdir", "env", "port_env", "snapshot"})
_SECRETS_KEYS = frozenset({"file"})


class RunSettingsError(AlbfargateError):
    """The local run setting (albfargate.toml or cdk.json context "albfargate") is malformed."""


@dataclass(frozen=True, slots=True)
class ContainerRunSetting:
    """How to start one container (by its task-definition name) as a local process."""

    name: str
    command: tuple[str, ...] | str  # argv, or a shell string run with /bin/sh -c
    workdir: Path  # absolute
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    port_env: str | None = DEFAULT_PORT_ENV  # None: the driver passes no port variable
    snapshot: bool = True  # each task-definition revision runs in a snapshot of workdir (snapshots.py)

    @property
    def argv(self) -> tuple[str, ...]:
        """The argv to execute: the list as given, or ``/bin/sh -c <string>``."""
        if isinstance(self.command, str):
            return ("/bin/sh", "-c", self.command)
        return self.command


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Every container run setting of one app; empty when the app has none."""

    app_dir: Path
    source: Path | None = None  # the file it was read from (albfargate.toml or cdk.json); None: none found
    containers: Mapping[str, ContainerRunSetting] = field(default_factory=lambda: MappingProxyType({}))
    secrets_file: Path | None = None  # absolute; may not exist yet (it is usually git-ignored)

    def container(self, name: str) -> ContainerRunSetting | None:
        return self.containers.get(name)

    @property
    def empty(self) -> bool:
        return not self.containers and self.secrets_file is None


#: ``python -m MODULE`` static file servers that serve their working directory (or ``--directory``).
_FILE_SERVER_MODULES = frozenset({"http.server", "SimpleHTTPServer"})


def served_directory(setting: ContainerRunSetting) -> Path | None:
    """The directory a container serves as static files when its command is Python's file server
    (``python -m http.server [--directory D]``): its working directory or ``D``; None for any other
    command. ``up`` warns when it contains the state directory (which holds the control token)."""
    words = list(setting.command) if not isinstance(setting.command, str) else _shell_words(setting.command)
    for i, w in enumerate(words[:-1]):
        python = i > 0 and Path(words[i - 1]).name.startswith("python")
        if python and w == "-m" and words[i + 1] in _FILE_SERVER_MODULES:
            rest = words[i + 2 :]
            directory = "."
            for j, arg in enumerate(rest):
                if arg in ("--directory", "-d") and j + 1 < len(rest):
                    directory = rest[j + 1]
                elif arg.startswith("--directory="):
                    directory = arg.split("=", 1)[1]
            return (setting.workdir / directory).resolve()
    return None


def state_dir_warnings(settings: RunSettings, state_dir: Path) -> list[str]:
    """One warning per container whose file server serves ``state_dir`` (the supervisor's control token,
    the task logs): through the load balancer anyone could read them."""
    out = []
    for c in settings.containers.values():
        served = served_directory(c)
        if served is not None and state_dir.resolve().is_relative_to(served):
            where = f" in {settings.source}" if settings.source else ""
            out.append(
                f"container {c.name} serves {served} as files, which holds the state directory {state_dir} "
                f'(its control token and logs): serve a folder of its own instead (workdir = "html"{where})'
            )
    return out


def _shell_words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def load_run_settings(app_dir: Path) -> RunSettings:
    """Read the run setting of the app in ``app_dir``.

    ``albfargate.toml`` is used when present; otherwise the ``"albfargate"`` key of ``cdk.json``'s
    ``context``; having both is an error (one source of truth). Neither gives an empty RunSettings.
    """
    app_dir = app_dir.resolve()
    toml_path = app_dir / RUN_SETTINGS_FILE
    cdk_json = app_dir / "cdk.json"
    from_context = _context_table(cdk_json)
    if toml_path.is_file():
        if from_context is not None:
            raise RunSettingsError(
                f"{toml_path}: run settings are also given under cdk.json context key "
                f"{CDK_CONTEXT_KEY!r} in {cdk_json}; keep only one"
            )
        try:
            with toml_path.open("rb") as f:
                data: Any = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise RunSettingsError(f"{toml_path}: invalid TOML: {exc}") from exc
        return parse_run_settings(data, app_dir=app_dir, source=toml_path)
    if from_context is not None:
        return parse_run_settings(
            from_context, app_dir=app_dir, source=cdk_json, prefix=f"context.{CDK_CONTEXT_KEY}."
        )
    return RunSettings(app_dir=app_dir)


def _context_table(cdk_json: Path) -> Any | None:
    if not cdk_json.is_file():
        return None
    try:
        data = json.loads(cdk_json.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunSettingsError(f"{cdk_json}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        return None
    context = data.get("context")
    if not isinstance(context, dict):
        return None
    return context.get(CDK_CONTEXT_KEY)


def parse_run_settings(data: Any, *, app_dir: Path, source: Path, prefix: str = "") -> RunSettings:
    """Validate an already-decoded table (from TOML or JSON) into RunSettings. ``prefix`` is put before
    key names in messages (e.g. ``context.albfargate.``)."""

    def fail(key: str, problem: str) -> RunSettingsError:
        return RunSettingsError(f"{source}: {prefix}{key}: {problem}")

    if not isinstance(data, dict):
        raise RunSettingsError(f"{source}: {prefix.rstrip('.') or 'top level'}: expected a table")
    for key in data:
        if key not in _TOP_KEYS:
            raise fail(str(key), f"unknown key (expected one of {', '.join(sorted(_TOP_KEYS))})")

    containers: dict[str, ContainerRunSetting] = {}
    raw_containers = data.get("containers", {})
    if not isinstance(raw_containers, dict):
        raise fail("containers", "expected a table of container name -> settings")
    for name, raw in raw_containers.items():
        containers[name] = _parse_container(name, raw, app_dir=app_dir, fail=fail)

    secrets_file: Path | None = None
    raw_secrets = data.get("secrets")
    if raw_secrets is not None:
        if not isinstance(raw_secrets, dict):
            raise fail("secrets", "expected a table")
        for key in raw_secrets:
            if key not in _SECRETS_KEYS:
                raise fail(f"secrets.{key}", "unknown key (expected: file)")
        file = raw_secrets.get("file")
        if file is not None:
            if not isinstance(file, str) or not file:
                raise fail("secrets.file", "expected a non-empty path string")
            secrets_file = (app_dir / file).resolve()

    return RunSettings(
        app_dir=app_dir,
        source=source,
        containers=MappingProxyType(containers),
        secrets_file=secrets_file,
    )


def _parse_container(
    name: str, raw: Any, *, app_dir: Path, fail: Callable[[str, str], RunSettingsError]
) -> ContainerRunSetting:
    base = f"containers.{name}"
    if not isinstance(raw, dict):
        raise fail(base, "expected a table with command, workdir, env")
    for key in raw:
        if key not in _CONTAINER_KEYS:
            raise fail(f"{base}.{key}", f"unknown key (expected one of {', '.join(sorted(_CONTAINER_KEYS))})")
    if "command" not in raw:
        raise fail(f"{base}.command", "missing (an argv list, or a string run with /bin/sh -c)")
    raw_command = raw["command"]
    command: tuple[str, ...] | str
    if isinstance(raw_command, str):
        if not raw_command.strip():
            raise fail(f"{base}.command", "empty command")
        command = raw_command
    elif isinstance(raw_command, list):
        if not raw_command or not all(isinstance(a, str) for a in raw_command):
            raise fail(f"{base}.command", "expected a non-empty list of strings")
        if not raw_command[0]:
            raise fail(f"{base}.command", "the program (first item) is empty")
        command = tuple(raw_command)
    else:
        raise fail(f"{base}.command", "expected a list of strings or a string")

    raw_workdir = raw.get("workdir", ".")
    if not isinstance(raw_workdir, str) or not raw_workdir:
        raise fail(f"{base}.workdir", "expected a non-empty path string")
    workdir = (app_dir / raw_workdir).resolve()

    raw_env = raw.get("env", {})
    if not isinstance(raw_env, dict):
        raise fail(f"{base}.env", "expected a table of NAME = value")
    env: dict[str, str] = {}
    for key, value in raw_env.items():
        if not key or "=" in key or "\0" in key:
            raise fail(f"{base}.env.{key}", "invalid environment variable name")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(f"{base}.env.{key}", "expected a string (or a number)")
        env[key] = str(value)

    port_env: str | None = DEFAULT_PORT_ENV
    if "port_env" in raw:
        raw_port_env = raw["port_env"]
        if raw_port_env is False or raw_port_env == "":
            port_env = None
        elif isinstance(raw_port_env, str) and "=" not in raw_port_env:
            port_env = raw_port_env
        else:
            raise fail(f"{base}.port_env", "expected an environment variable name, or false")

    snapshot = raw.get("snapshot", True)
    if not isinstance(snapshot, bool):
        raise fail(f"{base}.snapshot", "expected true or false")

    return ContainerRunSetting(
        name=name,
        command=command,
        workdir=workdir,
        env=MappingProxyType(env),
        port_env=port_env,
        snapshot=snapshot,
    )


def load_secret_values(path: Path) -> dict[str, str]:
    """Read a local secrets file: a flat TOML table whose keys are a secret's ``Name`` (the environment
    variable it becomes) or its ``ValueFrom`` (ARN), and whose values are the local strings."""
    if not path.is_file():
        raise RunSettingsError(f"{path}: secrets file not found (named by [secrets] file)")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise RunSettingsError(f"{path}: invalid TOML: {exc}") from exc
    values: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise RunSettingsError(f"{path}: {key}: expected a string value")
        values[key] = str(value)
    return values


def secret_value(values: Mapping[str, str], *, name: str, value_from: str) -> str | None:
    """The local value of one secret: looked up by ``ValueFrom`` first, then by ``Name``."""
    if value_from in values:
        return values[value_from]
    return values.get(name)


def from_template(container: str, text: str) -> ContainerRunSetting:
    """The run setting a deployed template carries for ``container`` (``ContainerDefinition.run_setting``:
    the JSON the construct wrote into the task definition's Metadata; its workdir is absolute)."""
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None

    def fail(path: str, message: str) -> RunSettingsError:
        return RunSettingsError(f"the template's run setting ({path}): {message}")

    return _parse_container(container, raw, app_dir=Path("/"), fail=fail)


def to_template(setting: ContainerRunSetting) -> dict[str, Any]:
    """What the construct writes into the task definition's Metadata for one container (see
    :func:`from_template`): the command, the absolute workdir, the env and the port variable."""
    command = setting.command if isinstance(setting.command, str) else list(setting.command)
    return {
        "command": command,
        "workdir": str(setting.workdir),
        "env": dict(setting.env),
        "port_env": setting.port_env if setting.port_env is not None else False,
    }
