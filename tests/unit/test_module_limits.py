"""Size limits of the sources (issue 14, docs/architecture.md "Module size"): no module in ``src/`` is over
1,100 lines and no function or method over 120 (``def`` to its last line, docstring included). Pure:
reads the files and their ASTs, imports nothing.

An offender that another change is rewriting at the same time is named in an allow-list below with its
own ceiling and the reason; everything else, including any new offender, fails. An allowed function that
is back under the limit fails too (drop its entry), so the list only shrinks."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
MAX_MODULE_LINES = 1100
MAX_FUNCTION_LINES = 120

#: module (relative to src/) -> (ceiling, reason)
ALLOWED_MODULES: dict[str, tuple[int, str]] = {}

#: (module, qualified function name) -> (ceiling, reason)
ALLOWED_FUNCTIONS: dict[tuple[str, str], tuple[int, str]] = {}


def sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """Every function and method, nested ones too, as (qualified name, lines)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = prefix + node.name
            assert node.end_lineno is not None
            yield name, node.end_lineno - node.lineno + 1
            yield from functions(node, name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, prefix + node.name + ".")
        else:
            yield from functions(node, prefix)


def long_functions(source: str, module: str) -> list[tuple[str, str, int]]:
    return [
        (module, name, lines)
        for name, lines in functions(ast.parse(source))
        if lines > ALLOWED_FUNCTIONS.get((module, name), (MAX_FUNCTION_LINES, ""))[0]
    ]


def test_no_module_over_1100_lines() -> None:
    over = []
    for path in sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        ceiling = ALLOWED_MODULES.get(rel(path), (MAX_MODULE_LINES, ""))[0]
        if lines > ceiling:
            over.append(f"{rel(path)}: {lines} lines (limit {ceiling})")
    assert over == [], "split these modules along their seams:\n" + "\n".join(over)


def test_no_function_over_120_lines() -> None:
    over = [
        f"{m}: {name} is {n} lines"
        for path in sources()
        for m, name, n in long_functions(path.read_text(encoding="utf-8"), rel(path))
    ]
    assert over == [], "split these functions (limit 120 lines):\n" + "\n".join(over)


def test_the_allow_lists_name_real_offenders_with_a_reason() -> None:
    for module, (ceiling, reason) in ALLOWED_MODULES.items():
        assert (SRC / module).is_file() and ceiling > MAX_MODULE_LINES and reason
    for (module, name), (ceiling, reason) in ALLOWED_FUNCTIONS.items():
        lengths = dict(functions(ast.parse((SRC / module).read_text(encoding="utf-8"))))
        assert name in lengths, f"{module}: {name} is gone: drop its allow-list entry"
        assert lengths[name] > MAX_FUNCTION_LINES, f"{module}: {name} is short again: drop its entry"
        assert ceiling > MAX_FUNCTION_LINES and reason


def test_the_function_check_counts_methods_and_nested_functions() -> None:
    body = "".join(f"        x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    source = "class A:\n    def m(self):\n" + body + "\ndef f():\n    def g():\n        pass\n"
    names = dict(functions(ast.parse(source)))
    assert names["A.m"] == MAX_FUNCTION_LINES + 1 and names["f.g"] == 2
    assert long_functions(source, "albfargate/new.py") == [("albfargate/new.py", "A.m", 121)]
