"""``up --watch``: editing the app's sources rolls a new deployment (a new task-definition revision when
the image asset changed) and the new code serves through the load balancer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.up_support import detached, free_port, get, service, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.synth, pytest.mark.slow]

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"


def test_watch_rolls_a_new_deployment_on_source_change(tmp_path: Path) -> None:
    if not (HELLO / "cdk.json").is_file():
        pytest.skip("examples/hello is not there")
    app = tmp_path / "hello"
    shutil.copytree(HELLO, app, ignore=shutil.ignore_patterns(".albfargate", "__pycache__"))
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with detached(
        state, str(app), "--watch", "--driver", "process", "--port", f"80={port}", timeout=240
    ) as st:
        name = st["services"][0]["name"]
        first = service(st, name)["deployments"][0]
        assert b"Hello from task" in get(url)[1]
        server = app / "service" / "server.py"
        server.write_text(
            server.read_text().replace('f"<h1>{html.escape(GREETING)} from task', 'f"<h1>Howdy from task')
        )

        def rolled() -> dict | None:  # type: ignore[type-arg]
            s = status(state)
            deps = service(s, name)["deployments"]
            return s if deps[0]["id"] != first["id"] else None

        st2 = wait_for(rolled, 180, "a new deployment after the edit", interval=1.0)
        new = service(st2, name)["deployments"][0]
        assert new["task_definition"] != first["task_definition"]  # the asset hash changed: new revision
        assert new["task_definition"].endswith(":2")
        # once the new tasks are healthy the old ones are deregistered and drain (no new request reaches
        # them): then every answer comes from the new code
        wait_for(
            lambda: all(b"Howdy from task" in get(url)[1] for _ in range(6)), 60, "only the new code serving"
        )
