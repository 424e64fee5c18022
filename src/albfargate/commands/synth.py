"""``albfargate synth [APP_DIR]``: synthesize a CDK app into APP_DIR/cdk.out, cached by source hash."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "synth",
        help="synthesize the CDK app (cached: an unchanged app is not synthesized again)",
        description="Run the app command of APP_DIR/cdk.json with CDK_OUTDIR set and write the cloud "
        "assembly to APP_DIR/cdk.out. The result is cached by a hash of the app's sources, cdk.json and "
        "context; --force synthesizes anyway.",
    )
    p.add_argument("app_dir", nargs="?", default=".", metavar="APP_DIR", help="the CDK app (default: .)")
    p.add_argument("--force", action="store_true", help="synthesize even when the cache is current")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from albfargate.synth import synth

    result = synth(Path(args.app_dir), force=args.force)
    if not args.quiet:
        if result.stderr.strip():
            sys.stderr.write(result.stderr if result.stderr.endswith("\n") else result.stderr + "\n")
        state = "cached" if result.cached else "synthesized"
        print(f"{result.outdir} ({state} in {result.seconds:.2f} s)")
    return 0
