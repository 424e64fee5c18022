"""The run commands find the system and resolve names the same way everywhere (issue 12, item 19):
``status`` from an app's parent directory (or a subdirectory) finds its state, as git finds .git; ``scale``
and ``stop-task`` take a unique prefix as ``logs`` does; unknown or ambiguous names list the candidates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    detached,
    free_port,
    make_template,
    service,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "albfargate.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_state_is_found_from_the_parent_and_names_resolve_by_prefix(tmp_path: Path) -> None:
    app = tmp_path / "apps" / "shop"
    app.mkdir(parents=True)
    tpl = make_template(
        app / "template.json",
        [
            Svc(name="storefront", desired=1),
            Svc(name="api-public", desired=1),
            Svc(name="api-admin", desired=1),
        ],
    )
    state = app / ".albfargate"  # the template's default state dir
    ports = [f"{80 + i}={free_port()}" for i in range(3)]
    with detached(
        state, "--template", str(tpl), "--stand-in", "*", *(a for p in ports for a in ("--port", p))
    ):
        for cwd in (app, app.parent, tmp_path):  # the app, its parent, two levels up
            p = run(cwd, "status", "--json")
            assert p.returncode == 0, (cwd, p.stderr)
            assert json.loads(p.stdout)["state_dir"] == str(state.resolve())
        (app / "src").mkdir()
        assert run(app / "src", "status").returncode == 0  # below the app, as git finds .git
        assert run(tmp_path, "status", "apps/shop").returncode == 0  # the app named
        assert run(tmp_path, "status", "apps/shop/template.json").returncode == 0

        p = run(tmp_path, "scale", "store", "2")
        assert p.returncode == 0 and p.stdout.strip() == "storefront: desired count 2", p.stderr
        wait_for(lambda: service(status(state), "storefront")["running"] == 2, 30, "scaled to 2")

        p = run(tmp_path, "scale", "api", "2")
        assert p.returncode == 1
        assert p.stderr.strip() == (
            "albfargate: error: service 'api' is ambiguous (api-admin, api-public); give more of the name"
        )
        p = run(tmp_path, "redeploy", "nope")
        assert p.returncode == 1 and p.stdout == ""
        assert "no service 'nope'; the services are api-admin, api-public, storefront" in p.stderr
        assert "albfargate status" in p.stderr

        task = service(status(state), "api-admin")["tasks"][0]["id"]
        p = run(tmp_path, "stop-task", task[:6])
        assert p.returncode == 0 and task in p.stdout, p.stderr
        p = run(tmp_path, "stop-task", "zzzz")
        assert p.returncode == 1 and "no task 'zzzz'" in p.stderr

        p = run(tmp_path, "logs", "api-p")
        assert p.returncode == 0 and "stand-in" in p.stdout, p.stderr
        p = run(tmp_path, "logs", "api")
        assert p.returncode == 1 and "is ambiguous (api-admin, api-public)" in p.stderr
        p = run(tmp_path, "logs", "store", "--app", "apps/shop")
        assert p.returncode == 0


def test_two_running_systems_below_must_be_named(tmp_path: Path) -> None:
    states = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        states.append(tmp_path / name / ".albfargate")
        make_template(tmp_path / name / "t.json", [Svc(name=name, desired=1)])
    a = ("--stand-in", "*", "--port", f"80={free_port()}")
    with detached(states[0], "--template", str(tmp_path / "one" / "t.json"), *a):
        b = ("--stand-in", "*", "--port", f"80={free_port()}")
        with detached(states[1], "--template", str(tmp_path / "two" / "t.json"), *b):
            p = run(tmp_path, "status")
            assert p.returncode == 1 and p.stdout == ""
            assert f"several systems run below {tmp_path.resolve()} (one, two)" in p.stderr
            assert "`albfargate status APP_DIR`" in p.stderr
            assert run(tmp_path, "status", "two").returncode == 0
            assert run(tmp_path / "one", "status").returncode == 0


def test_nothing_to_find_says_what_to_give(tmp_path: Path) -> None:
    for args in (("status",), ("down",), ("logs", "web"), ("scale", "web", "1")):
        p = run(tmp_path, *args)
        assert p.returncode == 1 and p.stdout == "", (args, p.stdout)
        assert "no .albfargate/ in" in p.stderr and "APP_DIR" in p.stderr, p.stderr
