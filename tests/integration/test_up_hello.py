"""The hello example (examples/hello, run by its albfargate.toml with the process driver) comes up and
serves ``/`` through the load balancer from both tasks; each task learns its id from the task metadata
endpoint (``ECS_CONTAINER_METADATA_URI_V4``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.up_support import detached, free_port, get, service

pytestmark = [pytest.mark.integration, pytest.mark.synth]

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"


def test_hello_serves_from_both_tasks(tmp_path: Path) -> None:
    if not (HELLO / "cdk.json").is_file():
        pytest.skip("examples/hello is not there")
    state = tmp_path / "state"
    port = free_port()
    with detached(state, str(HELLO), "--driver", "process", "--port", f"80={port}", timeout=180) as st:
        svc = st["services"][0]
        assert svc["desired"] == 2 and svc["running"] == 2
        ids = {t["id"] for t in service(st, svc["name"])["tasks"]}
        seen = set()
        for _ in range(10):
            code, body = get(f"http://127.0.0.1:{port}/")
            assert code == 200
            m = re.search(rb'<p id="task">([0-9a-f]{32})</p>', body)
            assert m, body[:300]
            seen.add(m.group(1).decode())
        assert seen == ids  # both tasks answer, and each names itself by its metadata task id
        assert get(f"http://127.0.0.1:{port}/health")[0] == 200
