"""bench/alb_shell.py (the ALB shell's Python time per request, issue 4) keeps working: it forwards every
request through a real runtime and prints its figure, on the compiled path and on the pure-Python one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_alb_shell_bench_runs_and_prints_its_figure(compiled: str) -> None:
    env = {**os.environ, "ALBFARGATE_COMPILED": compiled}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "alb_shell.py"), "--requests", "2000"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    ).stdout
    line = r"albfargate ALB shell \((compiled|pure), with access logs\): ([0-9.]+) us of Python per request\n"
    m = re.fullmatch(line, out)
    assert m is not None, out
    assert float(m.group(2)) > 0
    if compiled == "0":
        assert m.group(1) == "pure"
