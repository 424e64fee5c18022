"""examples/notes end to end with a real PostgreSQL: a note written through the ALB is read back, it is
still there after down/up, no server process remains after down, and no secret value is printed."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.integration.up_support import cli, detached, free_port, get, processes_of

pytestmark = [pytest.mark.integration, pytest.mark.synth, pytest.mark.slow]

NOTES = Path(__file__).resolve().parents[2] / "examples" / "notes"
pytest.importorskip("pg8000")


def _post(url: str, body: bytes) -> dict[str, object]:
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_notes_write_read_and_persist(tmp_path: Path) -> None:
    from albfargate.backing.postgres import candidates

    if not candidates():
        pytest.skip("no PostgreSQL (pip install albfargate[backing])")
    state = tmp_path / "state"
    port = free_port()
    with detached(state, str(NOTES), "--driver", "process", "--port", f"80={port}", timeout=180) as st:
        assert st["steady"]
        (db,) = st["backing"]["databases"]
        assert db["state"] == "running" and db["url"].startswith("postgresql://notes:****@127.0.0.1:")
        assert _post(f"http://127.0.0.1:{port}/notes", b"first note")["id"] == 1
        code, body = get(f"http://127.0.0.1:{port}/")
        doc = json.loads(body)
        assert code == 200 and doc["title"] == "My notes"
        assert [n["body"] for n in doc["notes"]] == ["first note"]
        secrets = json.loads((state / "data" / "secretsmanager" / "secrets.json").read_text())
        password = json.loads(secrets["secrets"][0]["versions"][0]["value"])["password"]
        shown = cli("status", "--state-dir", str(state)).stdout + json.dumps(st)
        shown += (state / "supervisor.log").read_text()
        assert password not in shown
    assert processes_of(state) == []
    with detached(state, str(NOTES), "--driver", "process", "--port", f"80={port}", timeout=180):
        code, body = get(f"http://127.0.0.1:{port}/")
        assert [n["body"] for n in json.loads(body)["notes"]] == ["first note"]
    assert processes_of(state) == []
