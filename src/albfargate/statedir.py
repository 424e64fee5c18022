"""Where the run commands (``status``, ``down``, ``logs``, ``scale``, ``redeploy``, ``stop-task``, ``env``)
find the state directory of a system, the way ``git`` finds ``.git``:

1. ``--state-dir DIR`` as given;
2. the app given (``APP_DIR`` or ``--app``): its state dir as ``up`` chooses it (``APP_DIR/.albfargate``;
   next to a ``cdk.out`` or a template);
3. the nearest ``.albfargate/`` in the current directory or one of its parents;
4. from an app's parent folder: the one running system in a folder at most two levels below (several
   running is an error that lists them).

Otherwise :class:`StateNotFound` says what to give. Documented in docs/running.md."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from albfargate.errors import AlbfargateError

STATE_DIR_NAME = ".albfargate"
#: How deep below the current directory a running system is looked for (repo root -> examples/hello).
SEARCH_DEPTH = 2
#: Folders never searched for a running system (big, and never an app).
_SKIP = frozenset({"node_modules", "cdk.out", "__pycache__", "site-packages", "venv", "dist", "build"})


class StateNotFound(AlbfargateError):
    """No state directory could be found for a run command."""


def state_dir_of(app: Path) -> Path:
    """The state dir ``up`` uses for an app directory, a cloud assembly directory or a template file."""
    app = app.resolve()
    if app.is_file():
        return app.parent / STATE_DIR_NAME
    if (app / "manifest.json").is_file() and not (app / "cdk.json").is_file():
        return app.parent / STATE_DIR_NAME
    return app / STATE_DIR_NAME


def find(
    *,
    state_dir: Path | None = None,
    app: Path | None = None,
    cwd: Path | None = None,
    command: str = "status",
) -> Path:
    """The state directory by the rules of the module docstring."""
    if state_dir is not None:
        return state_dir.resolve()
    if app is not None:
        if not app.exists():
            raise StateNotFound(f"{app}: no such app directory, cloud assembly or template")
        return state_dir_of(app)
    here = (cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / STATE_DIR_NAME).is_dir():
            return d / STATE_DIR_NAME
    running = sorted(running_below(here))
    if len(running) == 1:
        return running[0]
    if running:
        apps = ", ".join(str(p.parent.relative_to(here)) for p in running)
        raise StateNotFound(
            f"several systems run below {here} ({apps}); name one: `albfargate {command} APP_DIR` "
            f"(or --app APP_DIR / --state-dir DIR)"
        )
    raise StateNotFound(
        f"no {STATE_DIR_NAME}/ in {here} or its parents, and no running system below it; name the app: "
        f"`albfargate {command} APP_DIR` (or --app APP_DIR / --state-dir DIR), or start one with "
        f"`albfargate up APP_DIR`"
    )


def running_below(root: Path, depth: int = SEARCH_DEPTH) -> Iterator[Path]:
    """State dirs with a live supervisor in the folders at most ``depth`` levels below ``root``."""
    from albfargate.supervisor import running_pid

    for d in _folders(root, depth):
        state = d / STATE_DIR_NAME
        if (state / "supervisor.pid").is_file() and running_pid(state) is not None:
            yield state


def _folders(root: Path, depth: int) -> Iterator[Path]:
    if depth <= 0:
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        if e.name.startswith(".") or e.name in _SKIP or not e.is_dir(follow_symlinks=False):
            continue
        yield Path(e.path)
        yield from _folders(Path(e.path), depth - 1)
