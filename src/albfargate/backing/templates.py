"""Initialised data directories kept per server build, copied for each new database.

``initdb`` (about a second) and ``mariadb-install-db`` (several seconds on a busy machine) make the same
files for every database of one server build: nothing in them depends on the template (the master user,
its password and ``DBName`` are set by the runner on every start). So the first new database of a build
makes a *template* once, in ``$XDG_CACHE_HOME/albfargate/db-templates/<key>/`` (``~/.cache/...``), and
every new data directory is a copy of it. A template is made in a temporary directory and renamed into
place once complete (a ``COMPLETE`` file marks it), so two ``up`` runs at once or an interrupted one never
leave a half template; the loser of a race drops its own. ``ALBFARGATE_DB_TEMPLATES`` names another
directory, or ``off`` to initialise every data directory directly. When the cache cannot be written the
data directory is initialised directly.

The key holds the kind, the server's version and a digest of the binary's path, its version text and
:data:`RECIPE` (bumped when the runners' init options change), so a new build or new options make a new
template. Copies share what ``initdb`` draws once (PostgreSQL's system identifier), which only matters
for replication between them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

ENV = "ALBFARGATE_DB_TEMPLATES"
RECIPE = "1"
COMPLETE = "COMPLETE"


def cache_root() -> Path | None:
    """Where templates live; None when they are off."""
    env = os.environ.get(ENV)
    if env == "off":
        return None
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "albfargate" / "db-templates"


def template_key(kind: str, version: str, binary: str, version_text: str) -> str:
    """``<kind>-<version>-<digest>``: one template per server build and init recipe."""
    digest = hashlib.sha256(f"{binary}\0{version_text}\0{RECIPE}".encode()).hexdigest()[:12]
    return f"{kind}-{re.sub(r'[^A-Za-z0-9.]+', '_', version)}-{digest}"


async def materialise(key: str, dest: Path, make: Callable[[Path], Awaitable[None]]) -> str:
    """Make ``dest`` (which must not exist) an initialised data directory: a copy of the template
    ``key``, made first with ``make(<directory>)`` when it is missing. Returns ``"copied"`` (the template
    was there), ``"made"`` (made now, then copied) or ``"direct"`` (no cache: ``make(dest)``). A failing
    ``make`` raises and leaves neither a template nor ``dest``."""
    root = cache_root()
    if root is None:
        await make(dest)
        return "direct"
    template = root / key
    outcome = "copied"
    if not (template / COMPLETE).is_file():
        try:
            root.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
        except OSError:
            await make(dest)
            return "direct"
        try:
            os.chmod(work, 0o700)
            await make(work / "data")
            (work / COMPLETE).write_text(f"{key}\n")
            try:
                os.rename(work, template)
                outcome = "made"
            except OSError:  # another run made it first (or a stale incomplete one is in the way)
                if not (template / COMPLETE).is_file():
                    await asyncio.to_thread(shutil.rmtree, template, True)
                    os.rename(work, template)
                    outcome = "made"
        finally:
            if work.exists():
                await asyncio.to_thread(shutil.rmtree, work, True)
    await asyncio.to_thread(shutil.copytree, template / "data", dest, symlinks=True)
    return outcome
