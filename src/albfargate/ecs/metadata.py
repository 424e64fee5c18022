"""The local task metadata endpoint (version 4): what a container finds at
``$ECS_CONTAINER_METADATA_URI_V4`` (its own container metadata) and ``$ECS_CONTAINER_METADATA_URI_V4/task``
(the task with all its containers), shaped like Fargate's.

One small HTTP/1.1 server on 127.0.0.1 (ephemeral port) per supervisor. Each container gets
``http://127.0.0.1:<port>/v4/<task_id>/<container>``. The documents are built from the live store on every
request (:func:`container_document`, :func:`task_document` are pure)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from albfargate.model.ecs import TaskDefinition
from albfargate.model.ids import LOCAL_REGION
from albfargate.state.store import ContainerRecord, Store, TaskRecord

#: Requests to this endpoint are tiny GETs; anything bigger is not ours.
MAX_REQUEST_HEAD = 16 * 1024


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def container_document(task: TaskRecord, c: ContainerRecord, td: TaskDefinition | None) -> dict[str, Any]:
    cdef = td.container(c.name) if td is not None else None
    limits: dict[str, Any] = {"CPU": cdef.cpu if cdef else 0}
    if cdef is not None and cdef.memory is not None:
        limits["Memory"] = cdef.memory
    doc: dict[str, Any] = {
        "DockerId": f"{task.task_id}-{c.name}",
        "Name": c.name,
        "DockerName": c.name,
        "Image": c.image,
        "ImageID": "",
        "Labels": {
            "com.amazonaws.ecs.cluster": task.cluster_arn,
            "com.amazonaws.ecs.container-name": c.name,
            "com.amazonaws.ecs.task-arn": task.task_arn,
            "com.amazonaws.ecs.task-definition-family": td.family if td else "",
            "com.amazonaws.ecs.task-definition-version": str(td.revision) if td else "",
        },
        "DesiredStatus": task.desired_status,
        "KnownStatus": c.last_status,
        "Limits": limits,
        "CreatedAt": _iso(task.created_at),
        "StartedAt": _iso(task.started_at),
        "Type": "NORMAL",
        "ContainerARN": c.container_arn,
        "LogDriver": (cdef.log_driver if cdef else None) or "awslogs",
        "Networks": [
            {
                "NetworkMode": "awsvpc",
                "IPv4Addresses": ["127.0.0.1"],
                "AttachmentIndex": 0,
                "IPv4SubnetCIDRBlock": "127.0.0.0/8",
                "PrivateDNSName": "localhost",
            }
        ],
        # albfargate extension: where each container port is really served locally (awsvpc emulation)
        "Ports": [
            {"ContainerPort": cp, "Protocol": "tcp", "HostPort": lp, "HostIp": "127.0.0.1"}
            for cp, lp in c.ports
        ],
    }
    if c.exit_code is not None:
        doc["ExitCode"] = c.exit_code
    if c.health_status != "UNKNOWN" or (cdef is not None and cdef.health_check is not None):
        doc["Health"] = {"status": c.health_status}
    return doc


def task_document(task: TaskRecord, td: TaskDefinition | None) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if td is not None and td.cpu is not None:
        limits["CPU"] = td.cpu / 1024
    if td is not None and td.memory is not None:
        limits["Memory"] = td.memory
    doc: dict[str, Any] = {
        "Cluster": task.cluster_arn,
        "TaskARN": task.task_arn,
        "Family": td.family if td else "",
        "Revision": str(td.revision) if td else "",
        "DesiredStatus": task.desired_status,
        "KnownStatus": task.last_status,
        "Limits": limits,
        "PullStartedAt": _iso(task.pull_started_at),
        "PullStoppedAt": _iso(task.pull_stopped_at),
        "AvailabilityZone": f"{LOCAL_REGION}a",
        "LaunchType": "FARGATE",
        "Containers": [container_document(task, c, td) for c in task.containers],
        "ClockDrift": {"ClockErrorBound": 0.5, "ReferenceTimestamp": _iso(task.created_at)},
        "EphemeralStorageMetrics": {"Utilized": 0, "Reserved": 20496},
    }
    if task.service_name:
        doc["ServiceName"] = task.service_name
    return doc


Resolver = Callable[[str], tuple[int, dict[str, Any] | list[Any]]]


def resolve(store: Store, path: str) -> tuple[int, Any]:
    """Route one GET path to (status, JSON document)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if len(parts) < 3 or parts[0] != "v4":
        return 404, {"error": "not found"}
    task = store.task(parts[1])
    if task is None:
        return 404, {"error": f"unknown task {parts[1]}"}
    td = store.task_definitions.get(task.task_definition_arn)
    rest = parts[3:]
    container = next((c for c in task.containers if c.name == parts[2]), None)
    if container is None:
        return 404, {"error": f"unknown container {parts[2]}"}
    if not rest:
        return 200, container_document(task, container, td)
    if rest == ["task"]:
        return 200, task_document(task, td)
    if rest == ["stats"] or rest == ["task", "stats"]:
        return 200, {}
    return 404, {"error": "not found"}


class MetadataServer:
    """The endpoint's asyncio shell."""

    def __init__(self, store: Store, host: str = "127.0.0.1") -> None:
        self.store = store
        self.host = host
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def uri_for(self, task_id: str, container: str) -> str:
        return f"{self.base_url}/v4/{task_id}/{container}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                    return
                if len(head) > MAX_REQUEST_HEAD:
                    return
                line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                if len(line) < 2:
                    return
                method, path = line[0], line[1]
                close = b"connection: close" in head.lower()
                if method != "GET":
                    status, doc = 405, {"error": "method not allowed"}
                else:
                    status, doc = resolve(self.store, path)
                body = json.dumps(doc).encode()
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                if close:
                    return
        except ConnectionError:
            return
        finally:
            writer.close()
