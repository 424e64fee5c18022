"""Issue 12 item 6: a rollback under ``up --watch`` runs the OLD code and does not loop.

The report: a broken edit failed, rolled "back" to revision :1, which ran the same broken files again --
6 deployments and 20 launches until the file was fixed. Now each task-definition revision runs in a
snapshot of its run setting's working directory (taken when the revision is registered), so the
rollback to :1 runs the code :1 was made from and serves 200; and when the old code cannot be restored
(``snapshot = false``) the rollback fails once and the service stops there, saying so.

Real processes: the ``up --watch`` supervisor, its synth (a tiny app command that writes a cloud
assembly, no CDK needed), and the tasks, small Python HTTP servers run by the process driver."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.up_support import (
    Svc,
    detached,
    free_port,
    get,
    make_template,
    service,
    status,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

SYNTH = """\
import json, os, pathlib, shutil
out = pathlib.Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True, exist_ok=True)
shutil.copy("template.json", out / "App.template.json")
(out / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {"App": {
    "type": "aws:cloudformation:stack", "properties": {"templateFile": "App.template.json"}}}}))
"""

SERVER = """\
import http.server, os
VERSION = "{version}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"version {{VERSION}}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

#: A broken edit: the server dies a second after it started (it reached RUNNING; not a failed start, so
#: the launch throttle does not slow the circuit breaker down).
BROKEN = 'import time\ntime.sleep(1)\nraise SystemExit("broken edit")\n'


def make_app(root: Path, *, snapshot: bool = True) -> Path:
    app = root / "app"
    (app / "service").mkdir(parents=True)
    (app / "cdk.json").write_text(json.dumps({"app": "python3 synth.py"}))
    (app / "synth.py").write_text(SYNTH)
    svc = Svc(name="web", desired=2, image="local/web:1", circuit_breaker=True, rollback=True, stop_timeout=2)
    make_template(app / "template.json", [svc])
    (app / "albfargate.toml").write_text(
        '[containers.app]\ncommand = ["python3", "server.py"]\nworkdir = "service"\n'
        + ("" if snapshot else "snapshot = false\n")
    )
    (app / "service" / "server.py").write_text(SERVER.format(version="1"))
    # the snapshot rule: dependency folders are linked, caches and VCS left out (see the unit tests)
    (app / "service" / "__pycache__").mkdir()
    (app / "service" / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    return app


@pytest.fixture
def watched(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Path, str]]:
    app = make_app(tmp_path, snapshot=getattr(request, "param", True))
    state = tmp_path / "state"
    port = free_port()
    args = (str(app), "--watch", "--driver", "process", "--port", f"80={port}")
    with detached(state, *args, timeout=90):
        yield app, state, f"http://127.0.0.1:{port}/"


def ecs_events(st: dict[str, Any]) -> list[str]:
    """The service's events, oldest first (up to 100, through the AWS endpoint)."""
    from tests.api.conftest import api_client

    ecs = api_client(st["api_url"], "ecs")
    (svc,) = ecs.describe_services(cluster=service(st, "web")["cluster"], services=["web"])["services"]
    return [e["message"] for e in reversed(svc["events"])]


def launches(events: list[str]) -> int:
    return sum(int(m.group(1)) for e in events if (m := re.search(r"\) has started (\d+) tasks", e)))


def body(url: str) -> str:
    code, data = get(url, timeout=3)
    return f"{code} {data.decode(errors='replace').strip()}"


def test_a_broken_edit_rolls_back_to_the_old_code_and_serves_it(watched: tuple[Path, Path, str]) -> None:
    app, state, url = watched
    assert body(url) == "200 version 1"
    first = service(status(state), "web")["deployments"][0]
    snapshots = [p for p in (state / "snapshots").iterdir() if not p.name.startswith(".")]
    assert len(snapshots) == 1 and (snapshots[0] / "server.py").is_file()
    assert not (snapshots[0] / "__pycache__").exists()  # caches are left out

    (app / "service" / "server.py").write_text(BROKEN + SERVER.format(version="2"))
    answers: list[str] = []

    def rolled_back() -> dict[str, Any] | None:
        answers.append(body(url))
        st = status(state)
        deps = service(st, "web")["deployments"]
        done = (
            len(deps) == 1
            and deps[0]["id"] != first["id"]
            and deps[0]["task_definition"] == first["task_definition"]
            and deps[0]["rollout_state"] == "COMPLETED"
        )
        return st if done and st["steady"] else None

    st = wait_for(rolled_back, 150, "the rollback to revision 1 completed and steady", interval=0.5)
    # the rollback runs the code revision 1 was made from, although the file on disk is still broken
    assert "broken edit" in (app / "service" / "server.py").read_text()
    assert all(body(url) == "200 version 1" for _ in range(6))
    # the old tasks served all along (minimum healthy 100 %): every answer was the old code's
    assert answers and set(answers) == {"200 version 1"}, sorted(set(answers))
    n = launches(ecs_events(st))
    # first 2; the bad revision until the breaker's 3 failures were counted (a crashed task counts once
    # it has drained, so up to the 2 of the surge more); 2 back
    assert n <= 2 + 6 + 2, n
    time.sleep(5)  # and then nothing more happens: no loop
    events = ecs_events(st)
    assert launches(events) == n, "\n".join(events)
    assert sum("rolling back to deployment" in e for e in events) == 1, events
    assert service(status(state), "web")["deployments"][0]["id"] == service(st, "web")["deployments"][0]["id"]
    assert not any("rollback to deployment" in e and "failed" in e for e in events)

    # the fix: saving it deploys it (a new revision: the code under the running one changed)
    (app / "service" / "server.py").write_text(SERVER.format(version="3"))
    wait_for(lambda: body(url) == "200 version 3", 90, "the fix serving")
    wait_for(lambda: status(state)["steady"], 60, "steady on the fix")
    (latest,) = service(status(state), "web")["deployments"]
    assert latest["task_definition"].endswith(":3")  # :2 was the broken one


@pytest.mark.parametrize("watched", [False], indirect=True, ids=["snapshot-false"])
def test_when_the_old_code_cannot_be_restored_one_rollback_fails_and_it_stops(
    watched: tuple[Path, Path, str],
) -> None:
    app, state, url = watched
    assert body(url) == "200 version 1"
    assert not (state / "snapshots").exists() or not any((state / "snapshots").iterdir())
    first = service(status(state), "web")["deployments"][0]
    (app / "service" / "server.py").write_text(BROKEN + SERVER.format(version="2"))

    def gave_up() -> dict[str, Any] | None:
        st = status(state)
        deps = service(st, "web")["deployments"]
        # the rollback (the third deployment: the first, the broken one, the rollback) failed
        failed = len(deps) == 3 and deps[0]["rollout_state"] == "FAILED"
        return st if failed and deps[0]["task_definition"] == first["task_definition"] else None

    st = wait_for(gave_up, 150, "the rollback deployment FAILED", interval=0.5)
    time.sleep(8)  # nothing more: no second rollback, no new launches
    st2 = status(state)
    events = ecs_events(st2)
    assert sum("rolling back to deployment" in e for e in events) == 1, events
    assert sum("rollback to deployment" in e and "failed: its tasks failed too" in e for e in events) == 1
    assert service(st2, "web")["deployments"][0]["id"] == service(st, "web")["deployments"][0]["id"]
    n = launches(events)
    assert n <= 2 + 6 + 6, events  # first 2; each failed deployment: the breaker's 3 and the surge
    time.sleep(4)
    assert launches(ecs_events(status(state))) == n
    # one clear line, in the supervisor's output and in status
    lines = [ln for ln in (state / "supervisor.log").read_text().splitlines() if "the rollback to" in ln]
    assert len(lines) == 1, lines
    assert lines[0].startswith("albfargate: error: service web: the rollback to fam-web:1 failed: its code")
    assert "snapshot = false" in lines[0] and "fix the app and deploy again" in lines[0]
    assert any("the rollback to fam-web:1 failed" in n for n in st2["notes"])

    # the fix deploys and serves
    (app / "service" / "server.py").write_text(SERVER.format(version="3"))
    wait_for(lambda: body(url) == "200 version 3", 90, "the fix serving")
    wait_for(lambda: status(state)["steady"], 60, "steady on the fix")
    shutil.rmtree(app / "cdk.out", ignore_errors=True)


def test_redeploy_after_an_edit_registers_a_revision_for_the_new_code(tmp_path: Path) -> None:
    """Without --watch: ``albfargate redeploy`` deploys what is on disk. The running revision keeps the code
    it was made from, so an edit needs a new revision, which ``redeploy`` registers; with nothing changed
    it forces a new deployment of the same revision (and the same snapshot)."""
    from tests.integration.up_support import cli

    app = make_app(tmp_path)
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with detached(state, str(app), "--driver", "process", "--port", f"80={port}", timeout=90):
        assert body(url) == "200 version 1"
        (app / "service" / "server.py").write_text(SERVER.format(version="2"))
        out = cli("redeploy", "web", "--state-dir", str(state)).stdout
        assert out.strip() == "web: new task definition fam-web:2 (the code changed)"
        wait_for(lambda: status(state)["steady"] and body(url) == "200 version 2", 60, "version 2 steady")
        out = cli("redeploy", "web", "--state-dir", str(state)).stdout
        assert out.startswith("web: new deployment ecs-svc/"), out
        wait_for(
            lambda: (s := status(state))["steady"] and service(s, "web")["deployments"][0]["id"] in out,
            60,
            "the forced deployment steady",
        )
        (dep,) = service(status(state), "web")["deployments"]
        assert dep["task_definition"].endswith(":2") and body(url) == "200 version 2"


def test_snapshots_no_deployment_uses_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process engine, real tasks: three revisions over three versions of the code; once the third has
    replaced the others, only the snapshots of revisions still kept remain (the grace period is cut to 0
    here; it is a minute)."""
    import asyncio

    from albfargate import snapshot_rules
    from albfargate.assembly import load_template
    from albfargate.engine import Engine, EngineConfig
    from albfargate.runsettings import load_run_settings
    from tests.integration.up_support import assert_nothing_left

    monkeypatch.setattr(snapshot_rules, "PRUNE_GRACE_SECONDS", 0.0)
    app = make_app(tmp_path)
    state = tmp_path / "state"
    config = EngineConfig(
        model=load_template(app / "template.json"),
        state_dir=state,
        run_settings=load_run_settings(app),
        port_overrides={80: free_port()},
        driver="process",
    )

    def names() -> set[str]:
        return {p.name for p in (state / "snapshots").iterdir() if not p.name.startswith(".")}

    async def until(pred: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.2)

    def on_revision(engine: Engine, version: str) -> bool:
        svc = engine.store.service("web")
        return engine.steady()[0] and svc is not None and svc.task_definition_arn.endswith(f":{version}")

    async def go() -> None:
        engine = Engine(config)
        await engine.start()
        try:
            await until(lambda: engine.steady()[0], "steady on revision 1")
            first = names()
            assert len(first) == 1
            for version in ("2", "3"):
                (app / "service" / "server.py").write_text(SERVER.format(version=version))
                line = await engine.redeploy("web")
                assert line == f"web: new task definition fam-web:{version} (the code changed)"
                await until(lambda v=version: on_revision(engine, v), f"steady on revision {version}")
            assert engine.code is not None
            kept = engine.code.revisions()
            svc = engine.store.service("web")
            assert svc is not None
            latest = kept[svc.task_definition_arn]
            await until(lambda: names() == set(latest), "the snapshots of revisions 1 and 2 pruned")
            assert not names() & first
        finally:
            await engine.stop()

    asyncio.run(go())
    assert_nothing_left(state)
