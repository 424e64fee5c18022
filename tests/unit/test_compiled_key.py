"""The compiled build's key and staleness rules (albfargate._compiled) on a fake package and fake builds:
a build is found only while every source it was made from is byte-identical, for this Python, complete;
a broken shared library leaves the package pure. No compiler involved (see
tests/integration/test_compiled_build.py for a real build)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from albfargate import _compiled

SOURCES = ["__init__.py", "alb/__init__.py", "alb/headers.py", "model/elbv2.py"]
MODULES = ("headers",)


def fake_package(tmp: Path) -> Path:
    pkg = tmp / "src" / "albfargate"
    for rel in SOURCES:
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(f"# {rel}\nX = 1\n")
    return pkg


def fake_build(root: Path, pkg: Path, *, mypy: str = "2.4.1", python: str = sys.version) -> Path:
    """A build directory laid out as scripts/build_compiled.py makes it (the .so files are empty)."""
    key = _compiled.build_key(_compiled.source_digest(pkg, SOURCES), python, mypy, MODULES)
    d = root / key
    suffix = _compiled.extension_suffix()
    (d / _compiled.SHIMS).mkdir(parents=True)
    (d / _compiled.LIB).mkdir()
    (d / _compiled.LIB / f"{_compiled.group_name(key)}__mypyc{suffix}").write_bytes(b"")
    for m in MODULES:
        (d / _compiled.SHIMS / f"{m}{suffix}").write_bytes(b"")
    manifest = {
        "format": _compiled.FORMAT,
        "key": key,
        "python": python,
        "suffix": suffix,
        "mypy": mypy,
        "modules": list(MODULES),
        "sources": SOURCES,
    }
    (d / _compiled.MANIFEST).write_text(json.dumps(manifest))
    return d


def test_a_build_of_the_current_sources_is_found(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    d = fake_build(tmp_path / "builds", pkg)
    b = _compiled.find_build(tmp_path / "builds", pkg)
    assert b is not None and b.path == d and b.key == d.name and b.modules == MODULES
    assert b.group == f"albfargate_alb_{d.name}"


def test_a_changed_source_changes_the_key_and_the_build_is_not_used(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    fake_build(tmp_path / "builds", pkg)
    before = _compiled.source_digest(pkg, SOURCES)
    (pkg / "alb/headers.py").write_text("# alb/headers.py\nX = 2\n")  # same length, one byte differs
    assert _compiled.source_digest(pkg, SOURCES) != before
    assert _compiled.find_build(tmp_path / "builds", pkg) is None
    # a dependency that is not compiled itself counts too (its types are baked into the build)
    (pkg / "alb/headers.py").write_text("# alb/headers.py\nX = 1\n")
    assert _compiled.find_build(tmp_path / "builds", pkg) is not None
    (pkg / "model/elbv2.py").write_text("# model/elbv2.py\nX = 1\nY = 2\n")
    assert _compiled.find_build(tmp_path / "builds", pkg) is None


def test_a_missing_source_means_no_build(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    fake_build(tmp_path / "builds", pkg)
    (pkg / "model/elbv2.py").unlink()
    assert _compiled.find_build(tmp_path / "builds", pkg) is None


def test_the_key_covers_python_mypy_and_the_module_list() -> None:
    base = _compiled.build_key("d" * 64, "3.11.7", "2.4.1", ["proxy", "rules"])
    assert _compiled.build_key("d" * 64, "3.11.7", "2.4.1", ["rules", "proxy"]) == base  # order-free
    assert _compiled.build_key("e" * 64, "3.11.7", "2.4.1", ["proxy", "rules"]) != base
    assert _compiled.build_key("d" * 64, "3.11.8", "2.4.1", ["proxy", "rules"]) != base
    assert _compiled.build_key("d" * 64, "3.11.7", "2.5.0", ["proxy", "rules"]) != base
    assert _compiled.build_key("d" * 64, "3.11.7", "2.4.1", ["proxy"]) != base


def test_a_build_for_another_python_or_an_incomplete_build_is_not_used(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    fake_build(tmp_path / "other-python", pkg, python="3.12.1 (main)")
    assert _compiled.find_build(tmp_path / "other-python", pkg) is None

    d = fake_build(tmp_path / "no-shim", pkg)
    next((d / _compiled.SHIMS).iterdir()).unlink()
    assert _compiled.find_build(tmp_path / "no-shim", pkg) is None

    d = fake_build(tmp_path / "renamed", pkg)
    d.rename(d.with_name("0" * 20))  # a directory whose name is not its key
    assert _compiled.find_build(tmp_path / "renamed", pkg) is None

    d = fake_build(tmp_path / "bad-manifest", pkg)
    (d / _compiled.MANIFEST).write_text("{not json")
    assert _compiled.find_build(tmp_path / "bad-manifest", pkg) is None

    assert _compiled.find_build(tmp_path / "absent", pkg) is None
    assert _compiled.find_build(None, pkg) is None


def test_the_newest_matching_build_wins(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    old = fake_build(tmp_path / "builds", pkg, mypy="2.3.0")
    new = fake_build(tmp_path / "builds", pkg, mypy="2.4.1")
    os.utime(old, (1, 1))
    b = _compiled.find_build(tmp_path / "builds", pkg)
    assert b is not None and b.path == new


def test_a_shared_library_that_does_not_load_leaves_the_package_pure(tmp_path: Path) -> None:
    pkg = fake_package(tmp_path)
    fake_build(tmp_path / "builds", pkg)  # empty .so files: not loadable
    b = _compiled.find_build(tmp_path / "builds", pkg)
    assert b is not None
    path = [str(pkg / "alb")]
    assert _compiled.activate(b, path) is False
    assert path == [str(pkg / "alb")]
    assert f"{b.group}__mypyc" not in sys.modules


def test_the_build_root_is_the_projects_dot_build_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_compiled.ENV_ROOT, raising=False)
    root = _compiled.default_root()
    # tests run from a checkout (src layout): <project>/.build/compiled, never inside src/
    assert root == _compiled.PACKAGE_DIR.parent.parent / ".build" / "compiled"
    monkeypatch.setenv(_compiled.ENV_ROOT, "/somewhere/else")
    assert _compiled.default_root() == Path("/somewhere/else")
