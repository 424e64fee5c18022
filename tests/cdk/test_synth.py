"""synth: the cache (unchanged app -> no synth), the environment the app runs in, and the errors.

The apps here are tiny Python scripts that write a cloud-assembly manifest into $CDK_OUTDIR, so the cache
logic is tested without jsii; the real examples are covered by test_synth_examples.py."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from albfargate import synth as synth_mod
from albfargate.cli import main
from albfargate.errors import SynthError
from albfargate.synth import (
    app_context,
    cache_key,
    find_node,
    source_files,
    synth,
    synth_app,
    synth_env,
)

pytestmark = pytest.mark.cdk

FAKE_APP = r"""
import json, os, pathlib, shutil, sys
out = pathlib.Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True, exist_ok=True)
(out / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {}}))
with open(os.environ.get("RUNS_FILE", "../runs.log"), "a") as f:
    f.write(json.dumps({
        "python3": shutil.which("python3"),
        "path0": os.environ["PATH"].split(os.pathsep)[0],
        "jsii_node": os.environ.get("JSII_NODE"),
        "context": json.loads(os.environ["CDK_CONTEXT_JSON"]),
        "outdir": os.environ["CDK_OUTDIR"],
    }) + "\n")
"""


def make_app(root: Path, context: dict[str, object] | None = None) -> Path:
    app = root / "app"
    app.mkdir()
    (app / "app.py").write_text(FAKE_APP)
    (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context or {"k": 1}}))
    return app


def runs(app: Path) -> list[dict[str, object]]:
    log = app.parent / "runs.log"
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_first_synth_runs_second_is_cached(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    first = synth(app)
    assert not first.cached
    assert first.outdir == (app / "cdk.out").resolve()
    assert (first.outdir / "manifest.json").is_file()
    second = synth(app)
    assert second.cached and second.seconds < 1.0
    assert len(runs(app)) == 1
    assert synth_app(app) == first.outdir
    assert len(runs(app)) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda app: (app / "app.py").write_text(FAKE_APP + "\n# edit\n"),
        lambda app: (app / "lib.py").write_text("X = 1\n"),
        lambda app: (app / "service").mkdir() or (app / "service" / "Dockerfile").write_text("FROM x\n"),
        lambda app: (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": {"k": 2}})),
        lambda app: (app / "cdk.context.json").write_text(json.dumps({"lookup": "vpc-1"})),
    ],
    ids=["edit-source", "new-source", "asset-file", "cdk-json-context", "cdk-context-json"],
)
def test_a_change_invalidates_the_cache(tmp_path: Path, change: object) -> None:
    app = make_app(tmp_path)
    synth(app)
    change(app)  # type: ignore[operator]
    assert not synth(app).cached
    assert len(runs(app)) == 2
    assert synth(app).cached


def test_outputs_and_caches_do_not_invalidate(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    synth(app)
    (app / "cdk.out" / "extra.json").write_text("{}")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    (app / ".albfargate" / "logs").mkdir(parents=True)
    (app / ".albfargate" / "logs" / "x.log").write_text("x")
    assert synth(app).cached


def test_force_and_missing_manifest_resynthesize(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    synth(app)
    assert not synth(app, force=True).cached
    (app / "cdk.out" / "manifest.json").unlink()
    assert not synth(app).cached
    assert len(runs(app)) == 3


def test_environment_of_the_app(tmp_path: Path) -> None:
    app = make_app(tmp_path, context={"@aws-cdk/x:flag": True})
    (app / "cdk.context.json").write_text(json.dumps({"availability-zones:1:us-east-1": ["a", "b"]}))
    synth(app)
    (run,) = runs(app)
    assert run["path0"] == str(Path(sys.executable).parent)
    assert run["python3"] is not None and Path(str(run["python3"])).parent == Path(sys.executable).parent
    assert run["outdir"] == str((app / "cdk.out").resolve())
    context = run["context"]
    assert isinstance(context, dict)
    assert context["@aws-cdk/x:flag"] is True
    assert context["availability-zones:1:us-east-1"] == ["a", "b"]
    assert context["aws:cdk:enable-path-metadata"] is True
    assert context["aws:cdk:enable-asset-metadata"] is True
    assert run["jsii_node"] == str(find_node())


def test_output_key_of_cdk_json_is_honoured(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    (app / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "output": "build/assembly"}))
    assert synth_app(app) == (app / "build" / "assembly").resolve()
    assert (app / "build" / "assembly" / "manifest.json").is_file()


def test_synth_env_pure() -> None:
    node = Path("/opt/node22/bin/node")
    env = synth_env(Path("/x/cdk.out"), {"a": 1}, base={"PATH": "/usr/bin", "HOME": "/h"}, node=node)
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/opt/node22/bin", "/usr/bin"]
    assert env["JSII_NODE"] == str(node)
    assert env["CDK_OUTDIR"] == "/x/cdk.out"
    assert json.loads(env["CDK_CONTEXT_JSON"]) == {"a": 1}
    assert env["HOME"] == "/h"
    assert "JSII_NODE" not in synth_env(Path("/o"), {}, base={"PATH": "/usr/bin"}, node=None)


def test_app_context_merges_like_the_cli(tmp_path: Path) -> None:
    (tmp_path / "cdk.context.json").write_text(json.dumps({"a": "from-context-file", "b": 2}))
    ctx = app_context(tmp_path, {"context": {"a": "from-cdk-json", "c": 3}, "versionReporting": False})
    assert ctx["a"] == "from-context-file" and ctx["b"] == 2 and ctx["c"] == 3
    assert ctx["aws:cdk:version-reporting"] is False


def test_cache_key_is_stable_and_content_based(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    cdk_json = json.loads((app / "cdk.json").read_text())
    out = app / "cdk.out"
    k1 = cache_key(app, cdk_json, {"a": 1}, out)
    assert k1 == cache_key(app, cdk_json, {"a": 1}, out)
    assert k1 != cache_key(app, cdk_json, {"a": 2}, out)
    os.utime(app / "app.py", (1, 1))  # mtime alone does not count: content does
    assert k1 == cache_key(app, cdk_json, {"a": 1}, out)


def fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_node_order(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    system = fake_executable(tmp_path / "bin" / "node")
    env = {"PATH": str(system.parent)}
    assert find_node(env, tools) == system  # no local node: the system one
    local = fake_executable(tools / "node_modules" / "node" / "bin" / "node")
    assert find_node(env, tools) == local  # the project-local Node 22 wins
    explicit = fake_executable(tmp_path / "other" / "node")
    assert find_node({**env, "JSII_NODE": str(explicit)}, tools) == explicit  # JSII_NODE wins
    assert find_node({"PATH": str(tmp_path / "empty")}, tmp_path / "none") is None


# --- errors ----------------------------------------------------------------------------------------------


def test_no_cdk_json(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match=r"no cdk\.json in .*: not a CDK app directory"):
        synth_app(tmp_path)


def test_no_app_command(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {}}))
    with pytest.raises(SynthError, match='no "app" command'):
        synth_app(tmp_path)


def test_bad_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text("{nope")
    with pytest.raises(SynthError, match="invalid JSON"):
        synth_app(tmp_path)


def test_app_failure_shows_its_stderr(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    (app / "app.py").write_text("import sys\nprint('useful detail', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(SynthError) as info:
        synth_app(app)
    message = str(info.value)
    assert "'python3 app.py' failed with exit code 3" in message
    assert "useful detail" in message
    assert not (app / ".albfargate" / "synth-cache.json").exists()


def test_app_writing_no_assembly(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    (app / "app.py").write_text("pass\n")
    with pytest.raises(SynthError, match=r"wrote no cloud assembly .*app\.synth\(\)"):
        synth_app(app)


def test_node_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path)
    monkeypatch.setattr(synth_mod, "find_node", lambda *a, **k: None)
    with pytest.raises(SynthError, match=r"Node\.js not found.*npm install --prefix .* node@22"):
        synth_app(app)


def test_failed_synth_after_success_is_not_cached(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    synth(app)
    (app / "app.py").write_text("raise SystemExit(1)\n")
    with pytest.raises(SynthError):
        synth(app)
    (app / "app.py").write_text(FAKE_APP)  # back to the first content: the old key is gone, so it reruns
    assert not synth(app).cached


# --- the command ---------------------------------------------------------------------------------------


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(tmp_path)
    assert main(["synth", str(app)]) == 0
    assert "synthesized in" in capsys.readouterr().out
    assert main(["synth", str(app)]) == 0
    assert "cached in" in capsys.readouterr().out
    assert main(["synth", str(app), "--force", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_synth_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path)]) == 1
    assert "albfargate: error: no cdk.json" in capsys.readouterr().err


@pytest.mark.timeout(20)
def test_special_files_in_the_app_are_skipped_not_read(tmp_path: Path) -> None:
    """A FIFO (reading it blocks forever), a socket, a symlink to a device and a dangling symlink in the
    app directory are not sources; a symlink to a regular file is, with its target's content."""
    app = make_app(tmp_path)
    cdk_json = json.loads((app / "cdk.json").read_text())
    out = app / "cdk.out"
    before = cache_key(app, cdk_json, {}, out)
    os.mkfifo(app / "pipe")
    os.mknod(app / "sock", stat.S_IFSOCK | 0o600)  # a socket file, as a server leaves it
    assert cache_key(app, cdk_json, {}, out) == before  # returns at once, and the FIFO does not count
    (app / "null").symlink_to("/dev/null")
    (app / "zero").symlink_to("/dev/zero")  # reading it would never end
    (app / "dangling").symlink_to(app / "missing")
    assert cache_key(app, cdk_json, {}, out) == before
    assert {p.name for p in source_files(app)} == {"app.py", "cdk.json"}
    real = tmp_path / "shared.py"
    real.write_text("X = 1\n")
    (app / "shared.py").symlink_to(real)
    with_link = cache_key(app, cdk_json, {}, out)
    assert with_link != before
    real.write_text("X = 2\n")  # the target's content counts
    assert cache_key(app, cdk_json, {}, out) != with_link
