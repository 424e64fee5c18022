"""Docker tasks reach the host's loopback endpoints on their own 127.0.0.1: the AWS endpoint, the task
metadata endpoint and the credentials endpoint, through the forwarder in the task's network namespace
(``ecs/runtime/netns.py``); the forwarder goes with its task, and after the engine stops nothing of it
remains (no container: the ``state_dir`` fixture; no thread, no socket file, no listener)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from albfargate.ecs.runtime.netns import supported
from albfargate.ecs.runtime.process import free_port
from albfargate.engine import EngineConfig
from tests.engine_support import engine_in_background
from tests.integration.docker.test_docker_service import docker_model

pytestmark = [pytest.mark.integration, pytest.mark.docker]

FETCH = (
    'wget -q -O /www/meta "$ECS_CONTAINER_METADATA_URI_V4"; '
    'wget -q -O /www/api "$AWS_ENDPOINT_URL/health"; '
    'wget -q --header "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" -O /www/creds '
    '"$AWS_CONTAINER_CREDENTIALS_FULL_URI"; '
    "echo served-by-docker > /www/index.html; "
    "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait $!"
)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_a_container_reaches_the_aws_metadata_and_credentials_endpoints_on_loopback(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    why = supported()
    if why is not None:
        pytest.skip(why)
    model = docker_model(busybox_image, desired=1)
    c = model.task_definitions[0].containers[0]
    from dataclasses import replace

    td = replace(model.task_definitions[0], containers=(replace(c, command=(FETCH,)),))
    model = replace(model, task_definitions=(td,))
    lb_port = free_port()
    config = EngineConfig(model=model, state_dir=state_dir, port_overrides={80: lb_port}, driver="docker")
    with engine_in_background(config, api=True, start_timeout=120, stop_timeout=120) as (engine, loop):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not engine.steady()[0]:
            time.sleep(0.2)
        assert engine.steady()[0], engine.steady()[1]
        lb = f"http://127.0.0.1:{lb_port}"
        status, body = _get(f"{lb}/api")
        assert (status, json.loads(body)) == (200, {"status": "running"})
        status, body = _get(f"{lb}/meta")
        meta = json.loads(body)
        assert status == 200 and meta["Name"] == "web" and meta["DockerName"] == "web"  # fetched at its start
        status, body = _get(f"{lb}/creds")
        creds = json.loads(body)
        assert status == 200 and creds["AccessKeyId"].startswith("ASIA") and creds["Expiration"]
        [task_id] = [t.task_id for t in engine.store.tasks_of("web") if t.last_status == "RUNNING"]
        forwarder = engine.driver._tasks[task_id].forwarder
        assert forwarder is not None
        assert sorted(forwarder.ports) == sorted({engine.metadata.port, engine.api_server.port})
        # inside the namespace the env names 127.0.0.1 URLs, exactly as for the process driver
        env = dict(
            e.split("=", 1)
            for e in docker_client.containers.get(f"albfargate-{task_id}-web").attrs["Config"]["Env"]
        )
        assert env["AWS_ENDPOINT_URL"] == engine.api_url
        assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith(f"http://127.0.0.1:{engine.metadata.port}/")

        # the forwarder stops with its task
        import asyncio

        asyncio.run_coroutine_threadsafe(_stop(engine, task_id), loop).result(60)
        assert task_id not in engine.driver._tasks
        assert forwarder.ports == []
    assert not [t for t in threading.enumerate() if t.name == "albfargate-netns"]
    assert not [p for p in state_dir.rglob("*") if p.is_socket()]


async def _stop(engine: Any, task_id: str) -> None:
    import asyncio

    engine.stop_task(task_id, "test")
    for _ in range(600):
        if task_id not in engine.driver._tasks:
            return
        await asyncio.sleep(0.1)
