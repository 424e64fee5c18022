"""The ``albfargate`` command line: builds the parser from the modules of ``albfargate.commands`` and is
the only place that turns errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

import albfargate
import albfargate.commands
from albfargate.errors import AlbfargateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albfargate",
        description="Define, run locally, and deploy an Application Load Balanced Fargate service.",
    )
    parser.add_argument("--version", action="version", version=f"albfargate {albfargate.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(albfargate.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"albfargate.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code = func(args)
    except AlbfargateError as exc:
        print(f"albfargate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``albfargate describe --json | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
