"""A fixed URL never reaches someone else's instance (issue 12, item 2): a listener port that is taken moves
with a note; an explicit ``--api-port`` that is taken is an error; ``eval "$(albfargate env)"`` points the
real aws CLI at the running system's endpoint, whatever its port; with no running system ``env`` prints
nothing on stdout (so eval does nothing) and exits non-zero with one line on stderr."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    detached,
    free_port,
    make_template,
    status,
    up_detached,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
AWS = Path(sys.executable).parent / "aws"
ALBFARGATE = f"{shlex.quote(PY)} -m albfargate.cli"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": ""})
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_env_without_a_running_system_prints_nothing_to_eval(tmp_path: Path) -> None:
    p = cli("env", "--state-dir", str(tmp_path / "state"), check=False)
    assert p.returncode == 1 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "albfargate up" in p.stderr, p.stderr
    # from a folder with no state anywhere above it
    q = bash(f'eval "$({ALBFARGATE} env)"; echo "endpoint=${{AWS_ENDPOINT_URL:-none}}"', tmp_path)
    assert q.stdout.strip() == "endpoint=none"
    assert "albfargate: error:" in q.stderr and "APP_DIR" in q.stderr, q.stderr


def test_eval_env_drives_the_running_system_with_the_aws_cli(tmp_path: Path) -> None:
    if not AWS.exists():
        pytest.skip("the aws CLI (awscli) is not installed in this environment")
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / ".albfargate"  # the template's default state dir: `env` finds it from tmp_path
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", "--api-port", "0")
    with detached(state, *args) as st:
        api = st["api_url"]
        assert api.startswith("http://127.0.0.1:") and not api.endswith(":4566")
        out = bash(
            f'eval "$({ALBFARGATE} env)" && echo "$AWS_ENDPOINT_URL" && '
            "aws ecs list-services --cluster test --output text --query 'serviceArns[0]'",
            tmp_path,
        )
        assert out.returncode == 0, out.stderr
        endpoint, arn = out.stdout.split()
        assert endpoint == api.rstrip("/")
        assert arn.endswith("/test/web")
        sub = tmp_path / "deeper" / "dir"  # found from a subdirectory too, as git finds .git
        sub.mkdir(parents=True)
        out = bash(f'eval "$({ALBFARGATE} env)" && echo "$AWS_ENDPOINT_URL"', sub)
        assert out.stdout.strip() == api.rstrip("/"), out.stderr
        out = bash(
            f'eval "$({ALBFARGATE} env)"; eval "$({ALBFARGATE} env --unset)"; '
            'echo "endpoint=${AWS_ENDPOINT_URL:-none}"',
            tmp_path,
        )
        assert out.stdout.strip() == "endpoint=none", out.stderr


def test_an_explicit_api_port_that_is_taken_is_an_error(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        p = up_detached(
            state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}",
            "--api-port", str(taken), timeout=60,
        )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--api-port {taken}" in lines[0] and "not available" in lines[0], p.stderr
    assert_nothing_left(state)


def test_a_listener_port_that_is_taken_moves_with_a_note(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)], listener_port=taken)
        state = tmp_path / "state"
        p = up_detached(state, "--template", str(tpl), "--stand-in", "*", "--api-port", "0", timeout=60)
        try:
            assert p.returncode == 0, p.stdout + p.stderr
            lst = status(state)["load_balancers"][0]["listeners"][0]
            assert lst["port"] == taken and lst["local_port"] != taken
            note = (
                f"albfargate: note: port {taken} is taken: listener HTTP:{taken} of lb-web is served on "
                f"{lst['local_port']} instead ({lst['url']})"
            )
            assert note in p.stdout.splitlines(), p.stdout
            assert status(state)["notes"] == [note.removeprefix("albfargate: note: ")]
        finally:
            cli("down", "--state-dir", str(state), check=False, timeout=200)
            assert_nothing_left(state)
