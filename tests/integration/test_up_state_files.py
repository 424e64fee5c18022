"""The state directory is private and never served (issue 12, item 1).

Before the fix the classic example's ``python3 -m http.server`` served the whole app directory, so
``GET /.albfargate/supervisor.json`` through the local ALB returned the supervisor's control token, and the
control channel accepted that token from any ``Host``. Now the example serves ``html/``, the control channel
refuses a non-loopback ``Host``, and every state file is 0600 in 0700 directories (while tasks keep the
usual 022 umask of a container)."""

from __future__ import annotations

import http.client
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.up_support import (
    Svc,
    detached,
    free_port,
    get,
    make_template,
    service,
    wait_for,
)

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        out[str(p.relative_to(root))] = stat.S_IMODE(p.lstat().st_mode)
    return out


def test_state_files_are_private_and_tasks_keep_the_container_umask(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, container="app")])
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hi")
    (tmp_path / "albfargate.toml").write_text(
        "[containers.app]\n"
        "command = 'umask; exec python3 -m http.server --bind 127.0.0.1 \"$PORT\"'\n"
        "workdir = 'www'\n"
    )
    state = tmp_path / "state"
    port = free_port()
    with detached(state, "--template", str(tpl), "--driver", "process", "--port", f"80={port}") as st:
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        task = service(st, "web")["tasks"][0]["id"]
        log = wait_for(lambda: next((state / "logs" / "web").glob(f"{task}-*.log"), None), 10, "the log")
        assert wait_for(lambda: log.read_text().splitlines()[:1], 10, "the umask line") == ["0022"]
        wait_for(lambda: any((state / "access-logs").rglob("*.log")), 10, "an access-log file")
        modes = _modes(state)
        assert {"supervisor.pid", "supervisor.json", "supervisor.log"} <= set(modes)
        assert any(k.startswith("pids/") for k in modes) and any(k.startswith("logs/") for k in modes)
        for path, mode in modes.items():
            is_dir = (state / path).is_dir()
            assert mode == (0o700 if is_dir else 0o600), f"{path}: {oct(mode)}"


@pytest.mark.synth
def test_the_classic_example_does_not_serve_its_state_dir(
    tmp_path: Path, synthesized_example: Callable[[str], Path]
) -> None:
    app = tmp_path / "classic"
    shutil.copytree(EXAMPLES / "classic", app, ignore=shutil.ignore_patterns(".albfargate", "cdk.out"))
    shutil.copytree(synthesized_example("classic"), app / "cdk.out")
    state = app / ".albfargate"  # the default state dir of this assembly: the case of the report
    port = free_port()
    args = ("--assembly", str(app / "cdk.out"), "--driver", "process", "--port", f"80={port}")
    with detached(state, *args):
        code, body = get(f"http://127.0.0.1:{port}/.albfargate/supervisor.json")
        assert code == 404, body[:200]
        code, body = get(f"http://127.0.0.1:{port}/")
        assert code == 200 and b"<h1>classic</h1>" in body
        info = json.loads((state / "supervisor.json").read_text())
        control = http.client.HTTPConnection(
            "127.0.0.1", int(info["control_url"].rsplit(":", 1)[1]), timeout=5
        )
        try:
            for host, expected in (("evil.example.com", 403), (f"127.0.0.1:{port}", 200)):
                control.request("GET", "/steady", headers={"Host": host, "X-Albfargate-Token": info["token"]})
                resp = control.getresponse()
                resp.read()
                assert resp.status == expected, host
                control.close()
        finally:
            control.close()
