"""Synthesizing a CDK app into a cloud assembly, with a cache; finding Node; installing the CDK CLI.

Owns: reading ``cdk.json`` (app command, output dir, context), the environment a synth runs in (the
current interpreter's bin dir first on PATH so ``python3 app.py`` uses this venv; ``JSII_NODE`` pointing at
a project-local Node 22 when present; ``CDK_OUTDIR``; ``CDK_CONTEXT_JSON`` as the CDK CLI would pass it),
the synth cache (key = hash of the app's source files, ``cdk.json``, context, the construct library and the
interpreter; an unchanged app is not synthesized again), and the project-local tools folder where
``npm install`` puts ``node@22`` and the pinned ``aws-cdk`` CLI.

Public: :func:`synth_app` (used by ``synth``, ``describe`` and ``up``), :func:`find_node`,
:func:`synth_env`, :func:`cache_key`, :func:`ensure_cdk_cli`, :func:`tools_dir`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import albfargate
from albfargate.errors import SynthError

CDK_CLI_VERSION = "2.1148.1"  # npm aws-cdk, pinned; supports aws-cdk-lib 2.275's cloud assembly schema
NODE_PACKAGE = "node@22"
CACHE_FORMAT = 1
STATE_DIR = ".albfargate"
CACHE_FILE = "synth-cache.json"
SYNTH_TIMEOUT_SECONDS = 900.0
STDERR_TAIL_LINES = 40

# Never part of the source hash: outputs, local state, caches, VCS and dependency folders.
EXCLUDED_DIRS = frozenset(
    {
        "cdk.out",
        STATE_DIR,
        "__pycache__",
        ".git",
        ".hg",
        "node_modules",
        ".venv",
        "venv",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        ".tox",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


@dataclass(frozen=True, slots=True)
class SynthResult:
    outdir: Path
    cached: bool
    seconds: float
    stderr: str = ""


# --- tools: Node and the CDK CLI -----------------------------------------------------------------------


def repo_root() -> Path | None:
    """The source checkout albfargate runs from (editable install), if any."""
    root = Path(albfargate.__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def tools_dir() -> Path:
    """Where project-local npm tools live: $ALBFARGATE_TOOLS, else ``<checkout>/.tools``, else
    ``~/.cache/albfargate/tools``."""
    env = os.environ.get("ALBFARGATE_TOOLS")
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    if root is not None:
        return root / ".tools"
    return Path.home() / ".cache" / "albfargate" / "tools"


def local_node(tools: Path | None = None) -> Path | None:
    """The project-local Node (``npm install --prefix <tools> node@22``), if installed."""
    node = (tools or tools_dir()) / "node_modules" / "node" / "bin" / "node"
    return node if node.is_file() and os.access(node, os.X_OK) else None


def find_node(env: Mapping[str, str] | None = None, tools: Path | None = None) -> Path | None:
    """The Node binary synth uses: $JSII_NODE when it names an executable, else the project-local
    Node 22, else ``node`` on PATH; None when there is none."""
    env = os.environ if env is None else env
    given = env.get("JSII_NODE")
    if given:
        found = shutil.which(given, path=env.get("PATH"))
        if found:
            return Path(found)
    node = local_node(tools)
    if node is not None:
        return node
    found = shutil.which("node", path=env.get("PATH"))
    return Path(found) if found else None


def node_missing_message() -> str:
    return (
        "Node.js not found: the CDK (jsii) needs it. Install Node 22 project-locally with "
        f"`npm install --prefix {tools_dir()} {NODE_PACKAGE}` (or put node on PATH, or set JSII_NODE)"
    )


def cdk_cli_path(tools: Path | None = None) -> Path:
    return (tools or tools_dir()) / "node_modules" / "aws-cdk" / "bin" / "cdk"


def installed_cdk_cli_version(tools: Path | None = None) -> str | None:
    pkg = (tools or tools_dir()) / "node_modules" / "aws-cdk" / "package.json"
    try:
        version = json.loads(pkg.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def npm_install_argv(tools: Path, package: str) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise SynthError(f"npm not found: it is needed once to install {package} into {tools}")
    return [npm, "install", "--prefix", str(tools), "--no-audit", "--no-fund", "--loglevel=error", package]


def ensure_cdk_cli(tools: Path | None = None) -> Path:
    """The pinned CDK CLI, installed into the tools folder on first use."""
    tools = tools or tools_dir()
    cli = cdk_cli_path(tools)
    if cli.is_file() and installed_cdk_cli_version(tools) == CDK_CLI_VERSION:
        return cli
    tools.mkdir(parents=True, exist_ok=True)
    argv = npm_install_argv(tools, f"aws-cdk@{CDK_CLI_VERSION}")
    print(f"albfargate: installing aws-cdk@{CDK_CLI_VERSION} into {tools} (first use)", file=sys.stderr)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not cli.is_file():
        raise SynthError(f"could not install aws-cdk@{CDK_CLI_VERSION}: {_tail(proc.stderr)}")
    return cli


# --- cdk.json and the synth environment ------------------------------------------------------------------


def read_cdk_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "cdk.json"
    if not path.is_file():
        raise SynthError(f"no cdk.json in {app_dir}: not a CDK app directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SynthError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SynthError(f"{path}: expected a JSON object")
    app = data.get("app")
    if not isinstance(app, str) or not app.strip():
        raise SynthError(f'{path}: no "app" command (e.g. "python3 app.py")')
    return data


def app_context(app_dir: Path, cdk_json: Mapping[str, Any]) -> dict[str, Any]:
    """The context the CDK CLI would give the app: cdk.json ``context``, then ``cdk.context.json`` (cached
    lookups) over it, plus the metadata switches the CLI turns on."""
    context: dict[str, Any] = {}
    raw = cdk_json.get("context")
    if isinstance(raw, dict):
        context.update(raw)
    cached = app_dir / "cdk.context.json"
    if cached.is_file():
        try:
            more = json.loads(cached.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SynthError(f"{cached}: invalid JSON: {exc}") from exc
        if isinstance(more, dict):
            context.update(more)
    context.setdefault("aws:cdk:enable-path-metadata", True)
    context.setdefault("aws:cdk:enable-asset-metadata", True)
    context.setdefault("aws:cdk:version-reporting", bool(cdk_json.get("versionReporting", True)))
    context.setdefault("aws:cdk:bundling-stacks", ["**"])
    return context


def outdir_for(app_dir: Path, cdk_json: Mapping[str, Any]) -> Path:
    output = cdk_json.get("output")
    return (app_dir / (output if isinstance(output, str) and output else "cdk.out")).resolve()


def synth_env(
    outdir: Path,
    context: Mapping[str, Any],
    *,
    base: Mapping[str, str] | None = None,
    node: Path | None = None,
) -> dict[str, str]:
    """The environment of the app command: this interpreter's bin dir first on PATH (so ``python3``
    is this venv's), then Node's dir; JSII_NODE; CDK_OUTDIR; CDK_CONTEXT_JSON."""
    env = dict(os.environ if base is None else base)
    path_parts = [str(Path(sys.executable).parent)]
    if node is not None:
        path_parts.append(str(node.parent))
        env["JSII_NODE"] = str(node)
    path_parts.append(env.get("PATH", os.defpath))
    env["PATH"] = os.pathsep.join(path_parts)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps(dict(context), sort_keys=True)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# --- the cache ----------------------------------------------------------------------------------------


def source_files(app_dir: Path, outdir: Path | None = None) -> Iterator[Path]:
    """Every file of the app that can change its synth output, in a stable order.

    Only regular files count: a FIFO, a socket or a device in the app directory is skipped (reading one
    would block or never end). A symlink to a regular file counts with its target's content (the app
    reads through it); a dangling symlink, or one to anything else, is skipped; symlinked directories
    are not descended into (``os.walk``'s default: no loops, nothing outside the app by accident)."""
    skip = {outdir.resolve()} if outdir is not None else set()
    for dirpath, dirnames, filenames in os.walk(app_dir):
        current = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in EXCLUDED_DIRS and (current / d).resolve() not in skip
        )
        for name in sorted(filenames):
            if name.endswith(EXCLUDED_SUFFIXES):
                continue
            path = current / name
            try:
                regular = stat.S_ISREG(path.stat().st_mode)
            except OSError:  # dangling symlink, permission, gone
                continue
            if regular:
                yield path


def _read_regular(path: Path) -> bytes | None:
    """The content of ``path`` if it is (still) a regular file, else None. Opened non-blocking and
    checked on the open descriptor, so a file swapped for a FIFO after :func:`source_files` looked at
    it cannot block the hash."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _hash_tree(h: Any, root: Path, files: Iterator[Path]) -> None:
    for path in files:
        data = _read_regular(path)
        if data is None:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(data).digest())


def _library_fingerprint() -> str:
    """Versions/sources outside the app that change templates: albfargate's constructs, aws-cdk-lib."""
    h = hashlib.sha256()
    cdk_pkg = Path(albfargate.__file__).parent / "cdk"
    if cdk_pkg.is_dir():
        _hash_tree(h, cdk_pkg, (p for p in sorted(cdk_pkg.rglob("*.py")) if "__pycache__" not in p.parts))
    try:
        from importlib.metadata import version

        h.update(f"aws-cdk-lib={version('aws-cdk-lib')}".encode())
    except Exception:
        h.update(b"aws-cdk-lib=none")
    return h.hexdigest()


def cache_key(app_dir: Path, cdk_json: Mapping[str, Any], context: Mapping[str, Any], outdir: Path) -> str:
    h = hashlib.sha256()
    h.update(f"format={CACHE_FORMAT}\0albfargate={albfargate.__version__}\0".encode())
    h.update(f"python={sys.executable}\0".encode())
    h.update(json.dumps(cdk_json, sort_keys=True).encode() + b"\0")
    h.update(json.dumps(dict(context), sort_keys=True).encode() + b"\0")
    h.update(str(outdir).encode() + b"\0")
    for var in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        h.update(f"{var}={os.environ.get(var, '')}\0".encode())
    h.update(_library_fingerprint().encode())
    _hash_tree(h, app_dir, source_files(app_dir, outdir))
    return h.hexdigest()


def _cache_path(app_dir: Path) -> Path:
    return app_dir / STATE_DIR / CACHE_FILE


def _read_cache(app_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(_cache_path(app_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _lock(app_dir: Path) -> Iterator[None]:
    """One synth per app at a time (describe and up may both call synth_app)."""
    state = app_dir / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    with (state / "synth.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- synth ---------------------------------------------------------------------------------------------


def synth(app_dir: Path, *, force: bool = False, umask: int | None = None) -> SynthResult:
    """Synthesize the app in ``app_dir`` unless the cache says its output is current (``umask``: the app
    command's, when the caller runs with another one, as the supervisor does)."""
    started = time.perf_counter()
    app_dir = app_dir.resolve()
    if not app_dir.is_dir():
        raise SynthError(f"{app_dir}: no such directory")
    cdk_json = read_cdk_json(app_dir)
    context = app_context(app_dir, cdk_json)
    outdir = outdir_for(app_dir, cdk_json)
    with _lock(app_dir):
        key = cache_key(app_dir, cdk_json, context, outdir)
        cached = _read_cache(app_dir)
        if (
            not force
            and cached.get("key") == key
            and cached.get("outdir") == str(outdir)
            and (outdir / "manifest.json").is_file()
        ):
            return SynthResult(outdir, cached=True, seconds=time.perf_counter() - started)
        node = find_node()
        if node is None:
            raise SynthError(node_missing_message())
        _cache_path(app_dir).unlink(missing_ok=True)
        outdir.mkdir(parents=True, exist_ok=True)
        env = synth_env(outdir, context, node=node)
        app = str(cdk_json["app"])
        try:
            proc = subprocess.run(
                app,
                shell=True,
                cwd=app_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=SYNTH_TIMEOUT_SECONDS,
                check=False,
                umask=-1 if umask is None else umask,
            )
        except subprocess.TimeoutExpired as exc:
            raise SynthError(f"the app command {app!r} took longer than {SYNTH_TIMEOUT_SECONDS:g} s") from exc
        if proc.returncode != 0:
            raise SynthError(
                f"the app command {app!r} failed with exit code {proc.returncode} in {app_dir}:\n"
                + _tail(proc.stderr or proc.stdout)
            )
        if not (outdir / "manifest.json").is_file():
            raise SynthError(
                f"the app command {app!r} wrote no cloud assembly to {outdir} (does it call app.synth()?)"
            )
        cache_file = _cache_path(app_dir)
        cache_file.write_text(json.dumps({"key": key, "outdir": str(outdir)}) + "\n", encoding="utf-8")
        return SynthResult(outdir, cached=False, seconds=time.perf_counter() - started, stderr=proc.stderr)


def synth_app(app_dir: Path, *, force: bool = False, umask: int | None = None) -> Path:
    """Synthesize (or reuse the cached synth of) the CDK app in ``app_dir``; returns the cdk.out path."""
    return synth(app_dir, force=force, umask=umask).outdir


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    kept = (text or "").rstrip().splitlines()[-lines:]
    return "\n".join(kept) if kept else "(no output)"
