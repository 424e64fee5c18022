"""The README's promise: exactly two commands, both through .venv; CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def two_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_exactly_two_commands() -> None:
    commands = two_commands()
    assert commands == ["bash scripts/run.sh", "bash scripts/test.sh"]
    for cmd in commands:
        assert (ROOT / cmd.split()[1]).is_file()


def test_both_commands_use_the_repo_venv() -> None:
    for script in ("run.sh", "test.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "bash scripts/setup.sh" in text
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-m venv .venv" in setup and "node@22" in setup
    assert ".venv/bin/albfargate" in (ROOT / "scripts" / "run.sh").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    assert "ALBFARGATE_REQUIRE_CORPORA=1" in ci
    assert two_commands()[1] in ci
    assert "|| true" not in ci.split(two_commands()[1])[-1]  # the test result is never swallowed
