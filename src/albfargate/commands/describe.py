"""``albfargate describe [APP_DIR] [--assembly DIR | --template FILE] [--json]``: synthesize the app when
needed (cached by the synth step), read the assembly, print the tree or the JSON of the model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from albfargate.errors import UsageError
from albfargate.model import SystemModel


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "describe",
        help="show the load balancers, listeners, rules, target groups, services and containers of an app",
        description=(
            "Read what `cdk synth` writes (synthesizing APP_DIR first when needed) and show the system a "
            "local run would start: load balancer -> listener (local URL) -> rules -> target groups -> "
            "services -> containers, then the resources that are not emulated."
        ),
    )
    parser.add_argument("app_dir", nargs="?", metavar="APP_DIR", help="CDK app directory (default: .)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--assembly", metavar="DIR", type=Path, help="read this cloud assembly (cdk.out)")
    source.add_argument("--template", metavar="FILE", type=Path, help="read this CloudFormation template")
    parser.add_argument("--json", action="store_true", help="print the model as JSON (docs/describe.md)")
    parser.set_defaults(func=run)


def load_model(args: argparse.Namespace) -> SystemModel:
    """The model named by the describe arguments (shared by commands that take the same options)."""
    from albfargate.assembly import load_assembly, load_template

    if args.app_dir is not None and (args.assembly is not None or args.template is not None):
        raise UsageError("give either APP_DIR or --assembly/--template, not both")
    if args.template is not None:
        return load_template(args.template)
    if args.assembly is not None:
        return load_assembly(args.assembly)
    app_dir = Path(args.app_dir or ".")
    if (app_dir / "manifest.json").is_file() and not (app_dir / "cdk.json").is_file():
        return load_assembly(app_dir)  # APP_DIR is already a cloud assembly
    from albfargate.synth import synth_app  # imported only when an app must be synthesized

    return load_assembly(synth_app(app_dir))


def run(args: argparse.Namespace) -> int:
    from albfargate.describe import render_tree, to_json

    model = load_model(args)
    if args.json:
        json.dump(to_json(model), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_tree(model))
    return 0
