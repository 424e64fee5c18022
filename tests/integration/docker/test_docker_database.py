"""A Docker task reaches its real database on its own loopback: ``DB_HOST=127.0.0.1`` and ``DB_PORT`` (the
endpoint references of ``Endpoint.Address``/``Endpoint.Port``) are true inside the container, through the
forwarder in the task's network namespace (``ecs/runtime/netns.py``). The container (busybox, built FROM
scratch) talks to the server with ``nc`` and serves what it answered through the local load balancer:
PostgreSQL's answer to an SSLRequest (``N``: no TLS), MariaDB's greeting (its version string). After the
engine stops no container, forwarder or server is left."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from albfargate.ecs.runtime.netns import supported
from albfargate.ecs.runtime.process import free_port
from albfargate.engine import EngineConfig
from albfargate.model.backing import Database, endpoint_reference
from tests.engine_support import engine_in_background
from tests.integration.docker.test_docker_service import docker_model

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow]

# PostgreSQL answers an SSLRequest (length 8, code 80877103) with one byte; MariaDB greets at once
PROBE = {
    "postgres": r"printf '\0\0\0\010\004\322\026\057'",
    "mysql": "true",
}
SERVE = (
    '{probe} | timeout 5 nc "$DB_HOST" "$DB_PORT" > /www/db; '
    'echo "$DB_HOST:$DB_PORT" > /www/env; echo served-by-docker > /www/index.html; '
    "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait $!"
)


def _available(engine: str) -> str | None:
    if engine == "postgres":
        from albfargate.backing.postgres import candidates

        return None if candidates() else "no PostgreSQL (pip install albfargate[backing])"
    from albfargate.backing.mysql import find_server

    if find_server() is None:
        if os.environ.get("ALBFARGATE_REQUIRE_MYSQL") == "1":
            pytest.fail("MariaDB is required (ALBFARGATE_REQUIRE_MYSQL=1) but no mariadbd was found")
        return "no MariaDB server (apt-get install mariadb-server)"
    return None


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return bytes(r.read())


def _server_pids(state_dir: Path) -> list[int]:
    marker = f"ALBFARGATE_STATE_DIR={state_dir}".encode()
    out = []
    for e in os.scandir("/proc"):
        if not e.name.isdigit():
            continue
        try:
            env = Path(f"/proc/{e.name}/environ").read_bytes().split(b"\0")
            cmd = Path(f"/proc/{e.name}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in env and (b"postgres" in cmd or b"mariadbd" in cmd):
            out.append(int(e.name))
    return out


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_a_container_reaches_its_database_on_loopback(
    engine: str, state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    why = supported() or _available(engine)
    if why is not None:
        pytest.skip(why)
    db = Database(
        stack="Dk",
        logical_id="Db",
        kind="instance",
        identifier="db",
        arn="arn:aws:rds:us-east-1:000000000000:db:db",
        engine=engine,
        engine_version="16" if engine == "postgres" else "10.11",
        db_name="app",
        master_username="app",
        master_password="local-test-password",
        port=free_port(),
    )
    model = docker_model(busybox_image, desired=1)
    c = model.task_definitions[0].containers[0]
    env = (
        ("DB_HOST", endpoint_reference(db.key, "Endpoint.Address")),
        ("DB_PORT", endpoint_reference(db.key, "Endpoint.Port")),
    )
    c = replace(c, command=(SERVE.format(probe=PROBE[engine]),), environment=env)
    td = replace(model.task_definitions[0], containers=(c,))
    model = replace(model, task_definitions=(td,), databases=(db,))
    lb_port = free_port()
    config = EngineConfig(model=model, state_dir=state_dir, port_overrides={80: lb_port}, driver="docker")
    with engine_in_background(config, api=True, start_timeout=180, stop_timeout=120) as (engine_, _loop):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not engine_.steady()[0]:
            time.sleep(0.2)
        assert engine_.steady()[0], engine_.steady()[1]
        (status,) = engine_.backing.statuses.values()
        assert status.state == "running" and status.port
        lb = f"http://127.0.0.1:{lb_port}"
        assert _get(f"{lb}/env").decode().strip() == f"127.0.0.1:{status.port}"
        answer = _get(f"{lb}/db")
        if engine == "postgres":
            assert answer == b"N", answer  # the server itself answered, through the forwarder
        else:
            assert b"-MariaDB" in answer, answer  # the greeting packet carries the server version
        [task_id] = [t.task_id for t in engine_.store.tasks_of("web") if t.last_status == "RUNNING"]
        forwarder = engine_.driver._tasks[task_id].forwarder
        assert forwarder is not None and status.port in forwarder.ports
        assert _server_pids(state_dir)
    assert not [t for t in threading.enumerate() if t.name == "albfargate-netns"]
    assert not _server_pids(state_dir)
