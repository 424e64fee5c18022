"""The optional mypyc-compiled build of the ALB hot path: which modules it compiles, where builds live,
the build key, and switching a matching build on when :mod:`albfargate.alb` is imported.

A build is a directory ``<root>/<key>/`` (``<root>`` is the project's ``.build/compiled/``, never the
source tree) holding ``albfargate/alb/<module>.<abi>.so`` (mypyc's per-module shims),
``lib/<group>__mypyc.<abi>.so`` (the one shared library with the code) and ``manifest.json``. The key
hashes the bytes of every source the build read (the compiled modules and the albfargate modules they
import, whose types mypyc baked in), the Python version and the mypy version, so a build is used only
with exactly the sources it was made from: an edited source changes the key and the package runs as pure
Python until ``scripts/build_compiled.py`` is run again.

Switching on (:func:`activate_for`): ``ALBFARGATE_COMPILED=0`` keeps pure Python; otherwise the newest
build whose key matches the current sources is put first on ``albfargate.alb.__path__`` (so ``import
albfargate.alb.proxy`` finds the shim before ``proxy.py``) and its shared library is loaded into
``sys.modules`` under its own name, which is where the shims import it from (nothing is added to
``sys.path``). Any mismatch or error means pure Python, silently. Compiling is
``scripts/build_compiled.py``'s job; this module only hashes a few files and reads small manifests, so
importing it stays cheap (about 2 ms)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, MutableSequence
from dataclasses import dataclass
from pathlib import Path

ENV_SWITCH = "ALBFARGATE_COMPILED"  # "0": pure Python; anything else (or unset): a matching build if any
ENV_ROOT = "ALBFARGATE_COMPILED_DIR"  # overrides where builds are looked for (tests, other checkouts)

# Modules of albfargate.alb compiled by default (the request hot path). Each is a plain module name.
MODULES: tuple[str, ...] = (
    "proxy",
    "connection",
    "dispatch",
    "http1",
    "stream",
    "upstream",
    "headers",
    "rules",
    "balancing",
    "accesslog",
    "exchange",
    "targets",
    "metrics",
    "desync",
    "responses",
)

MANIFEST = "manifest.json"
SHIMS = "albfargate/alb"  # inside a build: the per-module extension shims
LIB = "lib"  # inside a build: the shared library
FORMAT = 1  # manifest format; bumped when the layout above changes

PACKAGE_DIR = Path(__file__).resolve().parent  # src/albfargate


@dataclass(frozen=True, slots=True)
class Build:
    """One usable build: its directory, its key and what it compiled."""

    path: Path
    key: str
    group: str  # shared library module name: <group>__mypyc
    modules: tuple[str, ...]


def extension_suffix() -> str:
    """The suffix this interpreter loads extension modules from (``.cpython-311-x86_64-linux-gnu.so``)."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def default_root() -> Path | None:
    """``.build/compiled/`` of the project this package is imported from (``src/albfargate/../..``), or
    ``None`` when the package is not in a project checkout (a regular, non-editable install)."""
    override = os.environ.get(ENV_ROOT)
    if override:
        return Path(override)
    project = PACKAGE_DIR.parent.parent
    if PACKAGE_DIR.parent.name != "src" or not (project / "pyproject.toml").is_file():
        return None
    return project / ".build" / "compiled"


def source_digest(package_dir: Path, sources: Iterable[str]) -> str:
    """sha256 over the named sources (paths relative to ``package_dir``, ``/``-separated): names and bytes.
    Raises OSError when one is missing."""
    h = hashlib.sha256()
    for rel in sorted(sources):
        data = (package_dir / rel).read_bytes()
        h.update(rel.encode())
        h.update(b"\0%d\0" % len(data))
        h.update(data)
    return h.hexdigest()


def build_key(digest: str, python: str, mypy: str, modules: Iterable[str]) -> str:
    """The build key: sources' digest, the exact Python version, the mypy version and the compiled modules."""
    h = hashlib.sha256()
    for part in (str(FORMAT), digest, python, mypy, ",".join(sorted(modules))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def group_name(key: str) -> str:
    """The shared library's module name; it carries the key so two builds never share a name."""
    return f"albfargate_alb_{key}"


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_build(
    path: Path, package_dir: Path = PACKAGE_DIR, digests: dict[tuple[str, ...], str] | None = None
) -> Build | None:
    """``path`` as a :class:`Build` when it is complete and its key matches the current sources under
    ``package_dir`` and this interpreter; otherwise ``None``. ``digests`` memoizes source digests across
    calls (builds of the same module list read the same files)."""
    m = _read_manifest(path)
    if m is None or m.get("format") != FORMAT or m.get("python") != sys.version:
        return None
    sources, modules, mypy = m.get("sources"), m.get("modules"), m.get("mypy")
    if not (isinstance(sources, list) and isinstance(modules, list) and isinstance(mypy, str)):
        return None
    if m.get("suffix") != extension_suffix():
        return None
    names = tuple(str(s) for s in sources)
    digest = (digests or {}).get(names)
    if digest is None:
        try:
            digest = source_digest(package_dir, names)
        except OSError:
            return None
        if digests is not None:
            digests[names] = digest
    mods = tuple(str(x) for x in modules)
    key = build_key(digest, sys.version, mypy, mods)
    if key != path.name or m.get("key") != key:
        return None
    suffix = extension_suffix()
    group = group_name(key)
    needed = [path / LIB / f"{group}__mypyc{suffix}"] + [path / SHIMS / f"{mod}{suffix}" for mod in mods]
    if not all(p.is_file() for p in needed):
        return None
    return Build(path=path, key=key, group=group, modules=mods)


def find_build(root: Path | None, package_dir: Path = PACKAGE_DIR) -> Build | None:
    """The newest build under ``root`` that matches the current sources, or ``None``."""
    if root is None:
        return None
    try:
        dirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    except OSError:
        return None
    dirs.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    digests: dict[tuple[str, ...], str] = {}
    for d in dirs:
        b = check_build(d, package_dir, digests)
        if b is not None:
            return b
    return None


_active: Build | None = None


def activate(build: Build, package_path: MutableSequence[str]) -> bool:
    """Make ``build``'s modules the ones imported from the package whose ``__path__`` is
    ``package_path``: load the shared library, then put the shims' directory first. Nothing is changed
    when the shared library does not load."""
    global _active
    name = f"{build.group}__mypyc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, build.path / LIB / f"{name}{extension_suffix()}")
        if spec is None or spec.loader is None:
            return False
        try:
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        except Exception:  # a build for another interpreter, a broken file: stay pure
            return False
        sys.modules[name] = mod  # where the shims import it from (by name)
    package_path.insert(0, str(build.path / SHIMS))
    _active = build
    return True


def activate_for(package_path: MutableSequence[str]) -> Build | None:
    """Called by ``albfargate/alb/__init__.py``: switch the matching build on unless
    ``ALBFARGATE_COMPILED=0``."""
    if _active is not None:
        return _active
    if os.environ.get(ENV_SWITCH, "").strip() == "0":
        return None
    try:
        build = find_build(default_root())
    except OSError:
        return None
    if build is None or not activate(build, package_path):
        return None
    return build


def active() -> Build | None:
    """The build in use, or ``None`` (pure Python)."""
    return _active
