"""``albfargate deploy | diff | destroy [APP_DIR] [-- CDK_ARGS...]``: pass-through to the pinned CDK CLI.

The npm ``aws-cdk`` CLI (version :data:`albfargate.synth.CDK_CLI_VERSION`) is installed project-locally on
first use and run with the project-local Node 22 when present, in APP_DIR, with this interpreter's bin dir
first on PATH (so the app command's ``python3`` is this venv's). Before anything runs, a local check looks
for AWS credentials (environment variables, the shared credentials/config files); it makes no network call.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from albfargate.errors import AlbfargateError, UsageError

COMMANDS = {
    "deploy": "deploy the app's stacks to AWS (cdk deploy)",
    "diff": "compare the app's stacks with what is deployed (cdk diff)",
    "destroy": "delete the app's stacks from AWS (cdk destroy)",
}

# profile keys (in ~/.aws/config) that make a profile able to produce credentials
_CONFIG_CREDENTIAL_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
    "login_session",
)


class NoCredentialsError(AlbfargateError):
    """No AWS credentials are configured for deploy/diff/destroy."""


def credentials_source(env: Mapping[str, str], home: Path) -> str | None:
    """Where AWS credentials would come from (a short description), or None. Reads only environment
    variables and the shared files; never calls AWS or the instance metadata service."""
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN"):
        return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container credentials endpoint"
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    credentials_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config_file = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    creds = _read_ini(credentials_file)
    if creds.has_section(profile) and dict(creds.items(profile)).get("aws_access_key_id"):
        return f"profile {profile!r} in {credentials_file}"
    config = _read_ini(config_file)
    section = profile if profile == "default" else f"profile {profile}"
    if config.has_section(section) and any(
        dict(config.items(section)).get(k) for k in _CONFIG_CREDENTIAL_KEYS
    ):
        return f"profile {profile!r} in {config_file}"
    return None


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    # unreadable: treated as absent; the CDK CLI reports the details if it gets that far
    with contextlib.suppress(configparser.Error, UnicodeDecodeError):
        parser.read(path, encoding="utf-8")
    return parser


def no_credentials_message(command: str, env: Mapping[str, str]) -> str:
    profile = env.get("AWS_PROFILE")
    which = f"profile {profile!r} has no credentials" if profile else "no AWS credentials are configured"
    return (
        f"cannot {command}: {which}. Run `aws configure` (or `aws sso login --profile NAME` and set "
        "AWS_PROFILE), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. On EC2/ECS with an instance "
        "role, pass --no-credential-check. (`albfargate up` runs the app locally without AWS.)"
    )


def cdk_argv(command: str, cdk_args: Sequence[str], *, cli: Path, node: Path | None) -> list[str]:
    """The CDK CLI invocation: ``[node] <aws-cdk>/bin/cdk <command> <cdk_args...>``."""
    if command not in COMMANDS:
        raise UsageError(f"unknown CDK command {command!r}")
    args = list(cdk_args)
    if args and args[0] == "--":
        args = args[1:]
    prefix = [str(node), str(cli)] if node is not None else [str(cli)]
    return [*prefix, command, *args]


def split_own_flags(cdk_args: Sequence[str]) -> tuple[list[str], bool]:
    """Our own flag may also follow APP_DIR (before any --): take it out of what goes to cdk."""
    args = list(cdk_args)
    own = False
    end = args.index("--") if "--" in args else len(args)
    if "--no-credential-check" in args[:end]:
        args.remove("--no-credential-check")
        own = True
    return args, own


def register(subparsers: Any) -> None:
    for command, help_text in COMMANDS.items():
        p: argparse.ArgumentParser = subparsers.add_parser(
            command,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}, through the pinned npm aws-cdk CLI "
            "(installed into the project's tools folder on first use). Arguments after -- go to the CDK CLI.",
        )
        p.add_argument("app_dir", nargs="?", default=".", metavar="APP_DIR", help="the CDK app (default: .)")
        p.add_argument(
            "--no-credential-check",
            action="store_true",
            help="skip the local AWS credentials check (e.g. on EC2 with an instance role)",
        )
        p.add_argument(
            "cdk_args",
            nargs=argparse.REMAINDER,
            metavar="CDK_ARGS",
            help="everything after APP_DIR (an optional -- first) goes to the cdk CLI",
        )
        p.set_defaults(func=run, cdk_command=command)


def run(args: argparse.Namespace) -> int:
    from albfargate import synth

    command: str = args.cdk_command
    cdk_args, skip_check = split_own_flags(args.cdk_args)
    skip_check = skip_check or args.no_credential_check
    app_dir = Path(args.app_dir).resolve()
    cdk_json = synth.read_cdk_json(app_dir)  # fails first with a clear message when not a CDK app
    if not skip_check and credentials_source(os.environ, Path.home()) is None:
        raise NoCredentialsError(no_credentials_message(command, os.environ))
    node = synth.find_node()
    if node is None:
        raise AlbfargateError(synth.node_missing_message())
    cli = synth.ensure_cdk_cli()
    argv = cdk_argv(command, cdk_args, cli=cli, node=node)
    context = synth.app_context(app_dir, cdk_json)
    env = synth.synth_env(synth.outdir_for(app_dir, cdk_json), context, node=node)
    # The CDK CLI reads cdk.json itself and sets CDK_OUTDIR/CDK_CONTEXT_JSON for the app; don't preset them.
    env.pop("CDK_OUTDIR", None)
    env.pop("CDK_CONTEXT_JSON", None)
    sys.stderr.flush()
    return subprocess.run(argv, cwd=app_dir, env=env, check=False).returncode
