"""deploy | diff | destroy: the local credentials check and the CDK CLI argv; no AWS call is made."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from albfargate import synth as synth_mod
from albfargate.cli import main
from albfargate.commands import cdk as cdk_cmd
from albfargate.commands.cdk import cdk_argv, credentials_source

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def home_with(tmp_path: Path, credentials: str | None = None, config: str | None = None) -> Path:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    if credentials is not None:
        (home / ".aws" / "credentials").write_text(credentials)
    if config is not None:
        (home / ".aws" / "config").write_text(config)
    return home


CASES: list[tuple[dict[str, str], str | None, str | None, str | None]] = [
    # env, credentials file, config file, expected source substring (None = no credentials)
    ({}, None, None, None),
    ({"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}, None, None, "environment variables"),
    ({"AWS_ACCESS_KEY_ID": "AKIA"}, None, None, None),  # half a key pair is not credentials
    ({}, "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n", None, "profile 'default'"),
    ({"AWS_PROFILE": "dev"}, "[default]\naws_access_key_id = AKIA\n", None, None),
    ({"AWS_PROFILE": "dev"}, "[dev]\naws_access_key_id = AKIA\n", None, "profile 'dev'"),
    ({"AWS_PROFILE": "sso"}, None, "[profile sso]\nsso_session = corp\n", "profile 'sso'"),
    ({}, None, "[default]\nregion = us-east-1\n", None),  # a region alone is not credentials
    ({}, None, "[default]\ncredential_process = /bin/creds\n", "profile 'default'"),
    ({"AWS_PROFILE": "r"}, None, "[profile r]\nrole_arn = arn:aws:iam::1:role/x\n", "profile 'r'"),
    ({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn"}, None, None, "web identity"),
    ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds"}, None, None, "container credentials"),
    ({}, "not an ini file [[[", None, None),
]


@pytest.mark.parametrize(("env", "credentials", "config", "expected"), CASES)
def test_credentials_source(
    tmp_path: Path, env: dict[str, str], credentials: str | None, config: str | None, expected: str | None
) -> None:
    home = home_with(tmp_path, credentials, config)
    found = credentials_source(env, home)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found


def test_credentials_files_from_env_vars(tmp_path: Path) -> None:
    f = tmp_path / "elsewhere"
    f.write_text("[default]\naws_access_key_id = AKIA\n")
    assert credentials_source({"AWS_SHARED_CREDENTIALS_FILE": str(f)}, tmp_path / "nohome") is not None


def test_argv() -> None:
    cli = Path("/t/node_modules/aws-cdk/bin/cdk")
    node = Path("/t/node_modules/node/bin/node")
    assert cdk_argv("deploy", [], cli=cli, node=node) == [str(node), str(cli), "deploy"]
    assert cdk_argv("diff", ["--", "-c", "a=b"], cli=cli, node=None) == [str(cli), "diff", "-c", "a=b"]
    assert cdk_argv("destroy", ["--force"], cli=cli, node=node)[-2:] == ["destroy", "--force"]


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    home = home_with(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    return app


def forbid_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("no process may start without credentials")

    monkeypatch.setattr(cdk_cmd.subprocess, "run", boom)
    monkeypatch.setattr(synth_mod, "ensure_cdk_cli", boom)


@pytest.mark.parametrize("command", ["deploy", "diff", "destroy"])
def test_no_credentials_is_a_clear_error(
    command: str, no_aws: Path, app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forbid_subprocess(monkeypatch)
    assert main([command, str(app)]) == 1
    err = capsys.readouterr().err
    assert f"albfargate: error: cannot {command}: no AWS credentials are configured" in err
    assert "aws configure" in err


def test_profile_without_credentials_is_named(
    no_aws: Path, app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forbid_subprocess(monkeypatch)
    monkeypatch.setenv("AWS_PROFILE", "prod")
    assert main(["diff", str(app)]) == 1
    assert "profile 'prod' has no credentials" in capsys.readouterr().err


def test_not_a_cdk_app_fails_before_the_credentials_check(
    no_aws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forbid_subprocess(monkeypatch)
    assert main(["deploy", str(tmp_path)]) == 1
    assert "no cdk.json" in capsys.readouterr().err


def test_with_credentials_runs_the_pinned_cli(
    no_aws: Path, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    cli = Path("/tools/node_modules/aws-cdk/bin/cdk")
    monkeypatch.setattr(synth_mod, "ensure_cdk_cli", lambda *a, **k: cli)
    calls: list[tuple[list[str], dict[str, Any]]] = []

    class Done:
        returncode = 7

    def fake_run(argv: list[str], **kwargs: Any) -> Done:
        calls.append((argv, kwargs))
        return Done()

    monkeypatch.setattr(cdk_cmd.subprocess, "run", fake_run)
    assert main(["deploy", str(app), "--", "--require-approval", "never"]) == 7  # the CLI's exit code
    ((argv, kwargs),) = calls
    node = synth_mod.find_node()
    assert argv == [str(node), str(cli), "deploy", "--require-approval", "never"]
    assert kwargs["cwd"] == app.resolve()
    env = kwargs["env"]
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["JSII_NODE"] == str(node)
    assert "CDK_OUTDIR" not in env and "CDK_CONTEXT_JSON" not in env


def test_no_credential_check_flag(no_aws: Path, app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth_mod, "ensure_cdk_cli", lambda *a, **k: Path("/c/cdk"))

    class Done:
        returncode = 0

    seen: list[list[str]] = []
    monkeypatch.setattr(cdk_cmd.subprocess, "run", lambda argv, **k: seen.append(argv) or Done())
    assert main(["destroy", str(app), "--no-credential-check", "--", "--force"]) == 0
    assert seen[0][-2:] == ["destroy", "--force"]


def test_cdk_cli_pin_and_install_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert synth_mod.CDK_CLI_VERSION.startswith("2.")
    monkeypatch.setattr(synth_mod.shutil, "which", lambda name, path=None: "/usr/bin/npm")
    argv = synth_mod.npm_install_argv(tmp_path, f"aws-cdk@{synth_mod.CDK_CLI_VERSION}")
    assert argv[:4] == ["/usr/bin/npm", "install", "--prefix", str(tmp_path)]
    assert argv[-1] == f"aws-cdk@{synth_mod.CDK_CLI_VERSION}"
    # an installed CLI of the pinned version is reused, not reinstalled
    pkg = tmp_path / "node_modules" / "aws-cdk"
    (pkg / "bin").mkdir(parents=True)
    (pkg / "bin" / "cdk").write_text("#!/usr/bin/env node\n")
    (pkg / "package.json").write_text(json.dumps({"version": synth_mod.CDK_CLI_VERSION}))

    def no_install(*a: Any, **k: Any) -> Any:
        raise AssertionError("must not reinstall")

    monkeypatch.setattr(synth_mod.subprocess, "run", no_install)
    assert synth_mod.ensure_cdk_cli(tmp_path) == pkg / "bin" / "cdk"


@pytest.mark.parametrize(
    ("given", "expected", "skip"),
    [
        ([], [], False),
        (["--all"], ["--all"], False),
        (["--no-credential-check", "--", "-c", "a=b"], ["--", "-c", "a=b"], True),
        (["--", "--no-credential-check"], ["--", "--no-credential-check"], False),  # after --: cdk's
    ],
)
def test_split_own_flags(given: list[str], expected: list[str], skip: bool) -> None:
    assert cdk_cmd.split_own_flags(given) == (expected, skip)
