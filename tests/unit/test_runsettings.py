"""The local run setting format: albfargate.toml / cdk.json context "albfargate" -> RunSettings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from albfargate.errors import AlbfargateError
from albfargate.runsettings import (
    ContainerRunSetting,
    load_run_settings,
    load_secret_values,
    secret_value,
)


def write(app: Path, text: str) -> Path:
    (app / "albfargate.toml").write_text(text, encoding="utf-8")
    return app


def test_missing_file_gives_empty(tmp_path: Path) -> None:
    rs = load_run_settings(tmp_path)
    assert rs.empty
    assert rs.source is None
    assert rs.container("web") is None
    assert rs.secrets_file is None


def test_full_example(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write(
        tmp_path,
        """
[containers.web]
command = ["python3", "app.py"]
workdir = "src"
env = { GREETING = "hi", COUNT = 3 }

[containers.sidecar]
command = "exec ./run.sh --flag"

[secrets]
file = "secrets.local.toml"
""",
    )
    rs = load_run_settings(tmp_path)
    assert rs.source == (tmp_path / "albfargate.toml").resolve()
    web = rs.container("web")
    assert isinstance(web, ContainerRunSetting)
    assert web.command == ("python3", "app.py")
    assert web.argv == ("python3", "app.py")
    assert web.workdir == (tmp_path / "src").resolve()
    assert dict(web.env) == {"GREETING": "hi", "COUNT": "3"}
    assert web.port_env == "PORT"
    side = rs.container("sidecar")
    assert side is not None
    assert side.argv == ("/bin/sh", "-c", "exec ./run.sh --flag")
    assert side.workdir == tmp_path.resolve()
    assert dict(side.env) == {}
    assert rs.secrets_file == (tmp_path / "secrets.local.toml").resolve()
    assert rs.container("nope") is None


def test_frozen(tmp_path: Path) -> None:
    write(tmp_path, '[containers.web]\ncommand = ["x"]\nenv = {A = "1"}\n')
    rs = load_run_settings(tmp_path)
    web = rs.container("web")
    assert web is not None
    with pytest.raises(AttributeError):
        web.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        web.env["B"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        rs.containers["x"] = web  # type: ignore[index]


def test_port_env_override_and_disable(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[containers.a]\ncommand = ["x"]\nport_env = "HTTP_PORT"\n'
        '[containers.b]\ncommand = ["x"]\nport_env = false\nsnapshot = false\n',
    )
    rs = load_run_settings(tmp_path)
    assert rs.containers["a"].port_env == "HTTP_PORT"
    assert rs.containers["b"].port_env is None
    assert rs.containers["a"].snapshot is True  # the default: each revision runs in a snapshot
    assert rs.containers["b"].snapshot is False


def test_cdk_json_context(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps(
            {
                "app": "python3 app.py",
                "context": {"albfargate": {"containers": {"web": {"command": ["python3", "app.py"]}}}},
            }
        )
    )
    rs = load_run_settings(tmp_path)
    assert rs.source == (tmp_path / "cdk.json").resolve()
    web = rs.container("web")
    assert web is not None and web.argv == ("python3", "app.py")


def test_cdk_json_without_context_is_empty(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "python3 app.py"}))
    assert load_run_settings(tmp_path).empty


def test_both_sources_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps({"app": "x", "context": {"albfargate": {"containers": {}}}})
    )
    write(tmp_path, '[containers.web]\ncommand = ["x"]\n')
    with pytest.raises(AlbfargateError, match="keep only one"):
        load_run_settings(tmp_path)


BAD = [
    ("nonsense = 1\n", "nonsense: unknown key"),
    ("containers = 3\n", "containers: expected a table"),
    ("[containers]\nweb = 3\n", "containers.web: expected a table"),
    ("[containers.web]\nworkdir = '.'\n", "containers.web.command: missing"),
    ("[containers.web]\ncommand = []\n", "containers.web.command: expected a non-empty list"),
    ("[containers.web]\ncommand = [1, 2]\n", "containers.web.command: expected a non-empty list"),
    ("[containers.web]\ncommand = ['']\n", "containers.web.command: the program"),
    ("[containers.web]\ncommand = '  '\n", "containers.web.command: empty command"),
    ("[containers.web]\ncommand = 5\n", "containers.web.command: expected a list of strings or a string"),
    ("[containers.web]\ncommand = ['x']\nworkdir = 3\n", "containers.web.workdir: expected"),
    ("[containers.web]\ncommand = ['x']\nenv = 'A=1'\n", "containers.web.env: expected a table"),
    ("[containers.web]\ncommand = ['x']\nenv = {A = true}\n", "containers.web.env.A: expected a string"),
    ("[containers.web]\ncommand = ['x']\nenv = {A = [1]}\n", "containers.web.env.A: expected a string"),
    ("[containers.web]\ncommand = ['x']\nport_env = 3\n", "containers.web.port_env: expected"),
    (
        "[containers.web]\ncommand = ['x']\nsnapshot = 'no'\n",
        "containers.web.snapshot: expected true or false",
    ),
    ("[containers.web]\ncommand = ['x']\ncmd = ['y']\n", "containers.web.cmd: unknown key"),
    ("[secrets]\npath = 'x'\n", "secrets.path: unknown key"),
    ("[secrets]\nfile = ''\n", "secrets.file: expected a non-empty path"),
    ("secrets = 'x'\n", "secrets: expected a table"),
    ("[containers.web\n", "invalid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_malformed_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(AlbfargateError) as info:
        load_run_settings(tmp_path)
    assert str(info.value).startswith(str((tmp_path / "albfargate.toml").resolve()) + ": ")
    assert message in str(info.value)


def test_malformed_context_names_context_key(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps({"app": "x", "context": {"albfargate": {"containers": {"web": {"command": 1}}}}})
    )
    with pytest.raises(AlbfargateError, match=r"cdk\.json: context\.albfargate\.containers\.web\.command"):
        load_run_settings(tmp_path)


def test_secret_values(tmp_path: Path) -> None:
    f = tmp_path / "secrets.local.toml"
    f.write_text('DB_PASSWORD = "pw"\n"arn:aws:secretsmanager:us-east-1:1:secret:api" = "key"\n')
    values = load_secret_values(f)
    assert secret_value(values, name="DB_PASSWORD", value_from="arn:x") == "pw"
    assert (
        secret_value(values, name="API", value_from="arn:aws:secretsmanager:us-east-1:1:secret:api") == "key"
    )
    assert secret_value(values, name="OTHER", value_from="arn:y") is None


def test_secret_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AlbfargateError, match="secrets file not found"):
        load_secret_values(tmp_path / "nope.toml")
    f = tmp_path / "s.toml"
    f.write_text("[table]\nA = 1\n")
    with pytest.raises(AlbfargateError, match="table: expected a string"):
        load_secret_values(f)
