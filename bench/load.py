"""Time to load the largest corpus cloud assembly into the model (goal: under 200 ms; process start and
imports excluded). Prints the median and best of several runs, each on a cold loader (no caches are kept
between runs; the OS file cache is warm after the first run, as it is for `albfargate describe`).

    .venv/bin/python bench/load.py [--runs N] [ASSEMBLY_DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from albfargate.assembly import load_assembly

ROOT = Path(__file__).resolve().parent.parent
INTEG = ROOT.parent / "shared" / "corpora" / "aws-cdk-integ"
GOAL_MS = 200.0


def largest_assembly() -> Path:
    candidates = [p for p in INTEG.iterdir() if (p / "manifest.json").is_file()] if INTEG.is_dir() else []
    if not candidates:
        sys.exit(f"no corpus assemblies under {INTEG}")
    return max(candidates, key=lambda p: sum(f.stat().st_size for f in p.glob("*.json")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "assembly", nargs="?", type=Path, help="assembly dir (default: the largest corpus one)"
    )
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    folder = args.assembly or largest_assembly()
    size = sum(f.stat().st_size for f in folder.glob("*.json"))
    times = []
    model = None
    for _ in range(args.runs):
        start = time.perf_counter()
        model = load_assembly(folder)
        times.append((time.perf_counter() - start) * 1000)
    assert model is not None
    resources = len(model.load_balancers) + len(model.listeners) + len(model.target_groups)
    resources += len(model.services) + len(model.task_definitions) + len(model.not_emulated)
    median = statistics.median(times)
    shape = f"{size / 1024:.0f} KiB of JSON, {len(model.stacks)} stacks, ~{resources} resources"
    print(f"assembly: {folder.name} ({shape})")
    spread = f"best {min(times):.1f} ms, first {times[0]:.1f} ms over {args.runs} runs"
    print(f"load_assembly: median {median:.1f} ms, {spread}")
    print(f"goal < {GOAL_MS:.0f} ms: {'met' if median < GOAL_MS else 'NOT met'}")
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
