"""The pure-core import contract (pyproject.toml) forbids asyncio, socket, subprocess, time, selectors,
threading and random; ``datetime`` stays allowed for formatting timestamps a caller passes in, so this test
reads every module of that contract (files only, nothing imported) and fails when one reads the clock
through it (``datetime.now()``, ``utcnow()``, ``today()``)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
CLOCK_READS = {"now", "utcnow", "today"}


def pure_core_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (pure,) = [c for c in contracts if c["name"].startswith("pure cores")]
    assert "random" in pure["forbidden_modules"] and "time" in pure["forbidden_modules"]
    return list(pure["source_modules"])


def module_file(name: str) -> Path:
    base = SRC.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def clock_reads(source: str, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_READS
            and isinstance(node.func.value, ast.Name | ast.Attribute)
        ):
            found.append(f"{label}:{node.lineno}: .{node.func.attr}()")
    return found


def test_the_contract_names_the_control_plane_cores() -> None:
    modules = pure_core_modules()
    for name in ("albfargate.ecs.health", "albfargate.ecs.events", "albfargate.alb.accesslog"):
        assert name in modules
    assert "albfargate.backing.passwords" in modules  # its random source is injected (RandomSource)


def test_every_module_of_the_contract_exists() -> None:
    missing = [m for m in pure_core_modules() if not module_file(m).is_file()]
    assert missing == []


def test_no_pure_core_reads_the_clock_through_datetime() -> None:
    reads = [
        r for m in pure_core_modules() for r in clock_reads(module_file(m).read_text(encoding="utf-8"), m)
    ]
    assert reads == [], "a pure core reads the clock; take `now` from the caller:\n" + "\n".join(reads)


def test_the_check_sees_a_clock_read() -> None:
    source = "import datetime\n\ndef f():\n    return datetime.datetime.now(datetime.UTC)\n"
    assert clock_reads(source, "m") == ["m:4: .now()"]
    assert clock_reads("from datetime import datetime\nx = datetime.fromtimestamp(0)\n", "m") == []
