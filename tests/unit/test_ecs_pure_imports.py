"""The ecs pure cores import no I/O or clock (DESIGN: sans-I/O cores): checked on their source, transitively
within albfargate."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

PURE = [
    "albfargate.ecs.tasks",
    "albfargate.ecs.planner",
    "albfargate.ecs.health",
    "albfargate.ecs.events",
    "albfargate.ecs.scaling",
]
FORBIDDEN = {"asyncio", "socket", "subprocess", "time", "random", "os", "threading", "selectors", "signal"}


def _imports(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    names: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for imp in _imports(m):
            names.add(imp)
            if imp.startswith("albfargate.") and importlib.util.find_spec(imp) is not None:
                todo.append(imp)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    bad = {n for n in _closure(module) if n.split(".")[0] in FORBIDDEN}
    assert not bad, f"{module} reaches {sorted(bad)}"
