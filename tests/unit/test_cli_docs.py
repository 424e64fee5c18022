"""docs/cli.md carries the current --help of every command (regenerate: python scripts/cli_docs.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_matches_the_parser() -> None:
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "cli.md").read_text() == module.rendered(), (
        "docs/cli.md is out of date: run python scripts/cli_docs.py"
    )
    for command in ("up", "down", "status", "logs", "scale", "redeploy", "stop-task", "describe", "synth"):
        assert f"## `albfargate {command} --help`" in module.rendered()
