"""The optional compiled hot path for real: scripts/build_compiled.py builds this checkout's ALB modules
with mypyc into a temporary build root (never next to the sources), a second run is a no-op, and a fresh
interpreter then imports the compiled modules and proxies a request through a real LoadBalancerRuntime;
``ALBFARGATE_COMPILED=0`` keeps the same interpreter on pure Python. Needs mypy (mypyc), a C compiler and
the Python headers; skipped without them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import albfargate
from albfargate import _compiled

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = Path(albfargate.__file__).resolve().parent.parent
PROJECT = SRC.parent
BUILD = PROJECT / "scripts" / "build_compiled.py"

# Runs in the child: which modules were imported, and one request through a running load balancer.
CHILD = """
import asyncio, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(message)s")
import albfargate.alb
from albfargate import _compiled
from albfargate.alb import proxy
print("compiled", albfargate.alb.compiled())
for m in _compiled.MODULES:
    mod = __import__("albfargate.alb." + m, fromlist=["x"])
    print("module", m, mod.__file__)
from tests.integration.alb_support import get, one_healthy_target, port_of

async def main():
    async with one_healthy_target() as (rt, tg, up):
        r = await get(port_of(rt), "/hello")
        print("response", r.status, r.body.decode())
asyncio.run(main())
"""


def _toolchain_missing() -> str | None:
    if importlib.util.find_spec("mypyc") is None:
        return "mypy (mypyc) is not installed"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers"
    return None


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = _toolchain_missing()
    if missing:
        pytest.skip(f"compiled build needs a toolchain: {missing}")
    root = tmp_path_factory.mktemp("compiled")
    first = subprocess.run(
        [sys.executable, str(BUILD), "--root", str(root)], capture_output=True, text=True, timeout=280
    )
    assert first.returncode == 0, first.stderr.strip() or first.stdout
    assert f"built {len(_compiled.MODULES)} modules" in first.stdout
    return root


def _child(root: Path, switch: str) -> list[str]:
    env = dict(os.environ)
    env[_compiled.ENV_ROOT] = str(root)
    env[_compiled.ENV_SWITCH] = switch
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(PROJECT)])
    r = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.splitlines()


def test_build_is_outside_the_sources_and_a_second_run_is_a_no_op(build_root: Path) -> None:
    builds = [d for d in build_root.iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(builds) == 1
    assert _compiled.check_build(builds[0]) is not None  # matches the current sources
    assert not list((SRC / "albfargate").rglob("*.so"))  # nothing next to the .py files
    again = subprocess.run(
        [sys.executable, str(BUILD), "--root", str(build_root)], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


def test_compiled_modules_load_and_serve_a_request(build_root: Path) -> None:
    out = _child(build_root, "1")
    assert "compiled True" in out
    suffix = _compiled.extension_suffix()
    modules = [ln.split() for ln in out if ln.startswith("module ")]
    assert len(modules) == len(_compiled.MODULES)
    for _, name, file in modules:
        assert file.endswith(suffix) and file.startswith(str(build_root)), (name, file)
    assert any("compiled (mypyc) hot path" in ln for ln in out)  # the runtime's debug line
    assert "response 200 a /hello" in out  # upstream "a" answers "<name> <path>"


def test_switched_off_the_same_interpreter_runs_pure_python(build_root: Path) -> None:
    out = _child(build_root, "0")
    assert "compiled False" in out
    for ln in out:
        if ln.startswith("module "):
            assert ln.endswith(".py"), ln
    assert any("pure Python hot path" in ln for ln in out)
    assert "response 200 a /hello" in out
