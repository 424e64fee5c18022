"""The stock npm ``aws-cdk`` CLI against a local system (issue 16): the pinned CLI installed into
``.tools/`` (``albfargate.synth.ensure_cdk_cli``), run with nothing but the lines ``albfargate env``
prints added to the environment (no wrapper, no patch), in a copy of an example app.

The environment the CLI gets: this one without any ``AWS_*`` variable or profile file, this venv's bin dir
first on PATH (the app's ``python3`` has aws-cdk-lib), ``CDK_DISABLE_CLI_TELEMETRY=1`` (this machine
reaches no AWS host) and ``--no-notices`` on each command, then what ``albfargate env`` says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from albfargate import synth
from tests.integration.up_support import PY

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent


@dataclass
class Cdk:
    node: Path
    cli: Path

    def version(self) -> str:
        return subprocess.run(
            [str(self.node), str(self.cli), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()


def cdk_cli() -> Cdk:
    node = synth.find_node()
    assert node is not None, "no Node.js: bash scripts/setup.sh installs Node 22 into .tools"
    return Cdk(node, synth.ensure_cdk_cli())


def copy_example(name: str, dest: Path) -> Path:
    app = dest / name
    shutil.copytree(
        EXAMPLES / name, app, ignore=shutil.ignore_patterns(".albfargate", "cdk.out", "__pycache__")
    )
    return app


def base_env(docker_config: Path | None = None) -> dict[str, str]:
    """``docker_config``: where ``docker login`` (run by the CLI for image assets) keeps what it writes,
    instead of the user's ``~/.docker``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "DOCKER_CONFIG"))}
    if docker_config is not None:
        env["DOCKER_CONFIG"] = str(docker_config)
    env.update(
        {
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_PAGER": "",
            "CDK_DISABLE_CLI_TELEMETRY": "1",
            "PATH": f"{BIN}:{env.get('PATH', '')}",
        }
    )
    node = synth.find_node()
    if node is not None:
        env["JSII_NODE"] = str(node)
    return env


def albfargate(*args: str, cwd: Path, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "albfargate.cli", *args],
        cwd=cwd,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def system_env(cwd: Path, docker_config: Path | None = None) -> dict[str, str]:
    """``eval "$(albfargate env)"`` from ``cwd``: the base environment and the lines it prints."""
    p = albfargate("env", "--json", cwd=cwd)
    assert p.returncode == 0, p.stderr
    return {**base_env(docker_config), **json.loads(p.stdout)}


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float


def run_cdk(cdk: Cdk, *args: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> Run:
    """``cdk <args> --no-notices`` in ``cwd``; stdout and stderr together, as a terminal shows them."""
    start = time.monotonic()
    p = subprocess.run(
        [str(cdk.node), str(cdk.cli), *args, "--no-notices"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(p.returncode, p.stdout, time.monotonic() - start)


def outputs(text: str, stack: str) -> dict[str, str]:
    """The ``Outputs:`` lines ``cdk deploy`` prints: ``Stack.Key = value`` -> {Key: value}."""
    found = {}
    for m in re.finditer(rf"^{re.escape(stack)}\.(\w+) = (.*)$", text, re.MULTILINE):
        found[m.group(1)] = m.group(2).strip()
    return found


def output(found: dict[str, str], prefix: str) -> str:
    (value,) = [v for k, v in found.items() if k.startswith(prefix)]
    return value


def curl(url: str, timeout: float = 10) -> tuple[int, str]:
    """``curl URL``: curl resolves ``*.localhost`` to the loopback address itself."""
    p = subprocess.run(
        ["curl", "-sS", "-m", str(timeout), "-w", "\n%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
        check=False,
    )
    body, _, code = p.stdout.rpartition("\n")
    return int(code or 0), body or p.stderr
