"""The task-role credentials endpoint on a real socket, read by botocore's own container provider as an
SDK in a task does: the full URI on loopback with the ``Authorization`` token, refresh before expiry, and
the refusals (no or a wrong token, an unknown id, a stopped task)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from albfargate.ecs.metadata import MetadataServer
from albfargate.ecs.tasks import LastStatus, TaskEvent, TaskLifecycle
from albfargate.state.store import Store, TaskRecord

pytestmark = pytest.mark.integration
botocore = pytest.importorskip("botocore")
from botocore.credentials import ContainerProvider  # noqa: E402


@pytest.fixture
def served() -> Iterator[tuple[MetadataServer, Store, dict[str, float]]]:
    clock = {"now": time.time()}
    store = Store(time.time)
    store.add_task(
        TaskRecord(
            task_id="a" * 32,
            task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/" + "a" * 32,
            cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
            cluster="c",
            task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/f:1",
            service_name="web",
            deployment_id=None,
            life=TaskLifecycle(created_at=time.time(), last_status=LastStatus.RUNNING),
        )
    )
    # 14 minutes: inside botocore's advisory refresh window (15 min), so every read refetches
    server = MetadataServer(store, clock=lambda: clock["now"], credentials_lifetime=14 * 60)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield server, store, clock
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _env(server: MetadataServer, task_id: str) -> dict[str, str]:
    creds = server.credentials_for(task_id)
    return {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.credentials_uri(creds),
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": creds.token,
    }


def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_botocore_container_provider_reads_and_refreshes(served: Any) -> None:
    server, _store, clock = served
    env = _env(server, "a" * 32)
    creds = ContainerProvider(environ=env).load()
    assert creds is not None and creds.method == "container-role"
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.token
    first_expiry = creds._expiry_time
    clock["now"] += 600  # ten minutes on: the next read refreshes and gets a later expiry
    creds.get_frozen_credentials()
    assert creds._expiry_time > first_expiry
    assert creds.get_frozen_credentials().access_key == frozen.access_key


def test_refusals(served: Any) -> None:
    server, store, _clock = served
    env = _env(server, "a" * 32)
    url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert _get(url, {})[0] == 401
    assert _get(url, {"Authorization": "wrong"})[0] == 401
    assert (
        _get(url.rsplit("/", 1)[0] + "/nope", {"Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})[0]
        == 404
    )
    assert _get(url, {"Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})[0] == 200
    task = store.task("a" * 32)
    assert task is not None
    task.move(TaskEvent.STOP_REQUESTED, now=time.time())
    for event in (TaskEvent.DRAINED, TaskEvent.STOPPED_PROCESSES, TaskEvent.DEPROVISIONED):
        task.move(event, now=time.time())
    status, doc = _get(url, {"Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    assert status == 404 and "stopped" in doc["message"]
