"""The exceptions a user can meet. Each carries one clear line; ``cli.py`` turns them into exit codes."""

from __future__ import annotations


class AlbfargateError(Exception):
    """Base of every error albfargate reports to a user as one line (exit code 1 unless overridden)."""

    exit_code = 1


class UsageError(AlbfargateError):
    """Bad arguments or options (exit code 2)."""

    exit_code = 2


class SynthError(AlbfargateError):
    """The CDK app could not be synthesized."""


class AssemblyError(AlbfargateError):
    """A cloud assembly or template could not be read; the message names stack, resource and path."""


class RuntimeStartError(AlbfargateError):
    """The local system could not start (port in use, missing run setting, supervisor running...)."""
