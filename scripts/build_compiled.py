"""Build the optional mypyc-compiled ALB hot path into ``.build/compiled/<key>/`` (never next to the sources).

Run with the project's Python (it needs mypy, which ships mypyc, a C compiler and the Python headers):

    .venv/bin/python scripts/build_compiled.py [--modules proxy,headers,...] [--root DIR] [--keep 3]

What it does: takes the modules of ``albfargate.alb`` to compile (default ``albfargate._compiled.MODULES``),
collects every albfargate source they import (transitively: mypyc bakes those types in), copies exactly those
files into a private staging tree, hashes them into the build key (see :mod:`albfargate._compiled`), and, when
no build with that key exists, runs mypyc + the C compiler on the snapshot in a child process. The result is
checked by importing it in another child process (the hot-path modules must come from the build) and only
then renamed into place, so a half-written or broken build is never found by the loader. Older builds beyond
``--keep`` are removed.

Unchanged sources: prints that the build is up to date and exits 0 at once. Any failure prints ONE line
starting ``build_compiled: failed:`` (the full compiler output is kept in ``<root>/last-failure.log``) and
exits non-zero; callers treat the build as optional and the package simply runs as pure Python."""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SRC = PROJECT / "src"
sys.path.insert(0, str(SRC))  # this checkout's albfargate, whatever is installed

from albfargate import _compiled  # noqa: E402

PACKAGE = "albfargate"
PREFIX = "build_compiled:"


class BuildError(Exception):
    """A build step failed; the message is the one line printed."""


# ------------------------------------------------------------------------------------------- sources
def module_file(module: str) -> Path | None:
    """src/ path of an albfargate module or package (``__init__.py``), or None when it is not ours."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Modules named by the import statements of ``path`` (all of them, TYPE_CHECKING ones included:
    mypy reads those too), relative imports resolved."""
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_bytes(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_pkg else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return found


def closure(modules: list[str]) -> list[str]:
    """Every albfargate source file (relative to src/albfargate, ``/``-separated) that compiling
    ``albfargate.alb.<m>`` for ``m`` in ``modules`` reads: the modules, the packages above them and
    everything they import, transitively."""
    todo = [f"{PACKAGE}.alb.{m}" for m in modules]
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = module_file(mod)
        if path is None:
            continue
        files.add(path)
        parts = mod.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        todo.extend(_imports(path, mod))
    pkg_dir = SRC / PACKAGE
    return sorted(p.relative_to(pkg_dir).as_posix() for p in files)


# ------------------------------------------------------------------------------------------- toolchain
def mypy_version() -> str:
    try:
        import mypyc.build  # noqa: F401
        from mypy.version import __version__
    except ImportError:
        raise BuildError(f"mypy (with mypyc) is not installed in {sys.executable}") from None
    return str(__version__)


def check_toolchain() -> None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        raise BuildError(f"no C compiler ({cc}) on PATH")
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.is_file():
        raise BuildError(
            f"no Python headers ({header}); install python{sys.version_info[0]}.{sys.version_info[1]}-dev"
        )


# ------------------------------------------------------------------------------------------- child: compile
def compile_child(stage: Path, modules: list[str], group: str) -> None:
    """Runs in a child process with cwd = ``stage``: mypyc on the snapshot, then setuptools' build_ext."""
    from mypyc.build import mypycify
    from setuptools import setup  # type: ignore[import-untyped]

    paths = [f"src/{PACKAGE}/alb/{m}.py" for m in modules]
    config = ["--config-file", str(PROJECT / "pyproject.toml")]
    ext = mypycify(config + paths, target_dir="c", group_name=group, opt_level="3")
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    args = ["build_ext", "--build-lib", "out", "--build-temp", "obj", "--parallel", jobs]
    setup(name="albfargate-compiled", ext_modules=ext, script_args=[*args, "--quiet"])


# Runs in a child process (python -c, PYTHONPATH = the snapshot, ALBFARGATE_COMPILED_DIR = the staging
# root): the loader must pick the new build and the compiled modules must be the ones imported.
VERIFY = """
import importlib, sys
import albfargate.alb
from albfargate import _compiled
if not albfargate.alb.compiled():
    raise SystemExit("the loader did not pick the new build")
for m in sys.argv[1].split(","):
    f = importlib.import_module("albfargate.alb." + m).__file__ or ""
    if not f.endswith(_compiled.extension_suffix()):
        raise SystemExit(f"albfargate.alb.{m} was imported from {f}")
"""


def first_error(log: str) -> str:
    """The line of a compiler/mypyc log worth printing."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for pattern in (r": error: ", r"\berror\b", r"Error"):
        for ln in lines:
            if re.search(pattern, ln):
                return ln
    return lines[-1] if lines else "no output"


# ------------------------------------------------------------------------------------------- build
def build(modules: list[str], root: Path, keep: int, force: bool) -> str:
    bad = [m for m in modules if not (SRC / PACKAGE / "alb" / f"{m}.py").is_file()]
    if bad:
        raise BuildError(f"no such module in albfargate.alb: {', '.join(bad)}")
    mypy = mypy_version()
    check_toolchain()

    root.mkdir(parents=True, exist_ok=True)
    stage_root = root / f".stage-{os.getpid()}"
    shutil.rmtree(stage_root, ignore_errors=True)
    try:
        # 1. Snapshot the sources, so the key hashes exactly the bytes mypyc compiles (the tree may be
        #    edited while the build runs).
        sources = closure(modules)
        snap = stage_root / "snap"
        for rel in sources:
            dst = snap / "src" / PACKAGE / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SRC / PACKAGE / rel, dst)
        digest = _compiled.source_digest(snap / "src" / PACKAGE, sources)
        key = _compiled.build_key(digest, sys.version, mypy, modules)
        final = root / key
        # up to date: a build with this key exists and the live tree (not only the snapshot) matches it
        if not force and _compiled.check_build(final) is not None:
            os.utime(final)  # newest: the loader tries it first
            prune(root, keep, final)
            return f"{PREFIX} up to date ({_rel(final)})"

        # 2. Compile (child process: mypyc and setuptools print a lot and may exit the process).
        started = time.monotonic()
        group = _compiled.group_name(key)
        log_path = root / "last-failure.log"
        child = subprocess.run(
            [sys.executable, __file__, "--_compile", ",".join(modules), "--_group", group],
            cwd=snap,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if child.returncode != 0:
            log_path.write_text(child.stdout)
            raise BuildError(f"{first_error(child.stdout)} (full log: {_rel(log_path)})")

        # 3. Lay the build out: shims under albfargate/alb/, the shared library under lib/.
        suffix = _compiled.extension_suffix()
        out = snap / "out"
        staged = stage_root / key
        (staged / _compiled.SHIMS).mkdir(parents=True)
        (staged / _compiled.LIB).mkdir()
        lib = f"{group}__mypyc{suffix}"
        shutil.move(out / lib, staged / _compiled.LIB / lib)
        for m in modules:
            shim = f"{m}{suffix}"
            shutil.move(out / PACKAGE / "alb" / shim, staged / _compiled.SHIMS / shim)
        manifest = {
            "format": _compiled.FORMAT,
            "key": key,
            "python": sys.version,
            "suffix": suffix,
            "mypy": mypy,
            "modules": modules,
            "sources": sources,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staged / _compiled.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        # 4. Check that it loads (against the snapshot the key was made from), then publish it.
        env = dict(os.environ, **{_compiled.ENV_ROOT: str(stage_root), _compiled.ENV_SWITCH: "1"})
        env["PYTHONPATH"] = str(snap / "src")
        check = subprocess.run(
            [sys.executable, "-c", VERIFY, ",".join(modules)],
            env=env,
            cwd=stage_root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if check.returncode != 0:
            log_path.write_text(check.stdout)
            raise BuildError(f"the new build does not load: {first_error(check.stdout)}")
        if final.exists():
            shutil.rmtree(final)
        staged.rename(final)
        log_path.unlink(missing_ok=True)  # an earlier failure's log would only mislead
        prune(root, keep, final)
        took = time.monotonic() - started
        note = "" if _compiled.check_build(final) else " (the sources changed meanwhile: run again)"
        return f"{PREFIX} built {len(modules)} modules into {_rel(final)} in {took:.0f} s{note}"
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)


def prune(root: Path, keep: int, current: Path) -> None:
    """Remove all but the ``keep`` newest builds (never ``current``) and stale staging directories."""
    builds = [d for d in root.iterdir() if d.is_dir() and (d / _compiled.MANIFEST).is_file()]
    builds.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for d in [b for b in builds if b != current][max(0, keep - 1) :]:
        shutil.rmtree(d, ignore_errors=True)
    for d in root.glob(".stage-*"):
        if time.time() - d.stat().st_mtime > 3600:
            shutil.rmtree(d, ignore_errors=True)


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(PROJECT))
    except ValueError:
        return str(p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--modules", default=",".join(_compiled.MODULES), help="albfargate.alb modules, comma-separated"
    )
    ap.add_argument("--root", type=Path, default=None, help="builds directory (default: .build/compiled)")
    ap.add_argument("--keep", type=int, default=3, help="how many builds to keep (default 3)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    ap.add_argument("--_compile", help=argparse.SUPPRESS)
    ap.add_argument("--_group", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._compile:
        compile_child(Path.cwd(), a._compile.split(","), a._group)
        return 0
    modules = [m.strip() for m in a.modules.split(",") if m.strip()]
    root = a.root or _compiled.default_root() or PROJECT / ".build" / "compiled"
    try:
        print(build(modules, root.resolve(), max(1, a.keep), a.force))
    except BuildError as e:
        print(f"{PREFIX} failed: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # an unexpected failure is still one line: the build is optional
        print(f"{PREFIX} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
