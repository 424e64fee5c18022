"""Synth benchmark: cold synth time and cached re-synth time of each example.

    .venv/bin/python bench/synth.py [--runs N]

"cold" forces a synth (the app runs: Python + the jsii Node kernel); "cached" is the unchanged-app path
that only hashes the sources (required < 1 s). Exits 1 if a cached re-synth takes 1 s or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from albfargate.synth import synth

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CACHED_LIMIT_SECONDS = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cached re-synths per example (default 3)")
    parser.add_argument("examples", nargs="*", default=["classic", "hello"])
    args = parser.parse_args()
    ok = True
    print(f"{'example':<10} {'cold synth':>11} {'cached (median)':>16} {'cached (max)':>13}")
    for name in args.examples:
        app = EXAMPLES / name
        started = time.perf_counter()
        cold = synth(app, force=True)
        cold_s = time.perf_counter() - started
        assert not cold.cached
        cached: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = synth(app)
            cached.append(time.perf_counter() - started)
            assert result.cached, f"{name}: the second synth was not served from the cache"
        worst = max(cached)
        ok = ok and worst < CACHED_LIMIT_SECONDS
        print(
            f"{name:<10} {cold_s:>10.2f}s {statistics.median(cached) * 1000:>14.1f}ms {worst * 1000:>11.1f}ms"
        )
    if not ok:
        print(f"FAIL: a cached re-synth took {CACHED_LIMIT_SECONDS:g} s or more", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
