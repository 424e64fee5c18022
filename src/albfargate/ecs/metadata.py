"""The local task metadata endpoint (version 4) and the task-role credentials endpoint: what a container
finds at ``$ECS_CONTAINER_METADATA_URI_V4`` (its own container metadata) and
``$ECS_CONTAINER_METADATA_URI_V4/task`` (the task with all its containers), shaped like Fargate's, and at
``$AWS_CONTAINER_CREDENTIALS_FULL_URI`` (temporary credentials, as the ECS agent serves them at
``169.254.170.2/v2/credentials/<id>``).

One small HTTP/1.1 server on 127.0.0.1 (ephemeral port) per supervisor. Each container gets
``http://127.0.0.1:<port>/v4/<task_id>/<container>``. The documents are built from the live store on every
request (:func:`container_document`, :func:`task_document`, :func:`credentials_document` are pure).

Credentials: one set per task (:meth:`MetadataServer.credentials_for`), random and known only to this
process and the task's environment: a credentials id in the URI, and an ``Authorization`` token that
botocore's container provider sends from ``$AWS_CONTAINER_AUTHORIZATION_TOKEN``. A request without the
task's token is refused (401); a stopped task's credentials are gone (404). Every answer carries an
``Expiration`` :data:`CREDENTIALS_LIFETIME` ahead, so SDKs refresh them as they do on ECS (botocore refetches
15 minutes before it). The keys are accepted by the local AWS endpoint, which checks no signature; they
are never logged nor shown by ``status`` or ``describe``."""

from __future__ import annotations

import hmac
import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from albfargate.model.ecs import TaskDefinition
from albfargate.model.ids import LOCAL_REGION
from albfargate.net.http import Response
from albfargate.net.server import HttpServer, Limits, Request
from albfargate.state.store import ContainerRecord, Store, TaskRecord

#: Requests to this endpoint are tiny GETs; anything bigger is not ours.
MAX_REQUEST_HEAD = 16 * 1024
#: Seconds until the credentials of an answer expire (ECS hands out credentials valid for about 6 hours
#: and rotates them well before; a new answer always carries a fresh Expiration).
CREDENTIALS_LIFETIME = 6 * 3600.0
CREDENTIALS_PATH = "/v2/credentials/"


@dataclass(frozen=True, slots=True)
class TaskCredentials:
    """One task's credentials. ``repr`` shows no secret (it may end up in a log line)."""

    task_id: str
    credentials_id: str
    token: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    def __repr__(self) -> str:
        return f"TaskCredentials(task_id={self.task_id!r}, access_key_id={self.access_key_id!r}, ...)"


def new_credentials(task_id: str, rng: secrets.SystemRandom | None = None) -> TaskCredentials:
    """Fresh random credentials for one task (``ASIA...`` keys as STS issues them)."""
    alphabet = string.ascii_uppercase + string.digits
    pick = rng or secrets.SystemRandom()
    return TaskCredentials(
        task_id=task_id,
        credentials_id=secrets.token_hex(16),
        token=secrets.token_urlsafe(32),
        access_key_id="ASIA" + "".join(pick.choice(alphabet) for _ in range(16)),
        secret_access_key=secrets.token_urlsafe(30),
        session_token=secrets.token_urlsafe(96),
    )


def credentials_document(
    creds: TaskCredentials, *, role_arn: str | None, now: float, lifetime: float = CREDENTIALS_LIFETIME
) -> dict[str, Any]:
    """The JSON the ECS agent answers on its credentials endpoint (what botocore's container provider
    reads: ``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``Expiration``)."""
    expiration = datetime.fromtimestamp(now + lifetime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc: dict[str, Any] = {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token,
        "Expiration": expiration,
    }
    if role_arn:
        doc["RoleArn"] = role_arn
    return doc


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

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        *,
        clock: Callable[[], float] = time.time,
        credentials_lifetime: float = CREDENTIALS_LIFETIME,
    ) -> None:
        self.store = store
        self.host = host
        self.port = 0
        self.clock = clock
        self.credentials_lifetime = credentials_lifetime
        # containers' SDKs keep connections alive; a malformed or big request is not ours: closed unanswered
        limits = Limits(max_head=MAX_REQUEST_HEAD, max_body=MAX_REQUEST_HEAD, idle_timeout=30.0)
        self._http = HttpServer(self._respond, limits)
        self._credentials: dict[str, TaskCredentials] = {}  # credentials id -> credentials
        self._by_task: dict[str, TaskCredentials] = {}

    def credentials_for(self, task_id: str) -> TaskCredentials:
        """The task's credentials (made on first use; one set for all its containers)."""
        creds = self._by_task.get(task_id)
        if creds is None:
            creds = new_credentials(task_id)
            self._by_task[task_id] = creds
            self._credentials[creds.credentials_id] = creds
        return creds

    def credentials_uri(self, creds: TaskCredentials) -> str:
        return f"{self.base_url}{CREDENTIALS_PATH}{creds.credentials_id}"

    def forget_credentials(self, task_id: str) -> None:
        creds = self._by_task.pop(task_id, None)
        if creds is not None:
            self._credentials.pop(creds.credentials_id, None)

    def resolve_credentials(self, path: str, authorization: str | None) -> tuple[int, Any]:
        """(status, document) for ``GET /v2/credentials/<id>`` with the request's ``Authorization``."""
        creds = self._credentials.get(path.split("?", 1)[0][len(CREDENTIALS_PATH) :])
        if creds is None:
            return 404, {"code": "NotFound", "message": "no credentials for this id"}
        if authorization is None or not hmac.compare_digest(authorization.encode(), creds.token.encode()):
            return 401, {"code": "AccessDenied", "message": "missing or wrong authorization token"}
        task = self.store.task(creds.task_id)
        if task is None or task.last_status == "STOPPED":
            self.forget_credentials(creds.task_id)
            return 404, {"code": "NotFound", "message": "the task has stopped"}
        td = self.store.task_definitions.get(task.task_definition_arn)
        role = td.task_role_arn if td is not None else None
        return 200, credentials_document(
            creds, role_arn=role, now=self.clock(), lifetime=self.credentials_lifetime
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def uri_for(self, task_id: str, container: str) -> str:
        return f"{self.base_url}/v4/{task_id}/{container}"

    async def start(self) -> None:
        self.port = await self._http.start(self.host, 0)

    async def stop(self) -> None:
        await self._http.stop()

    async def _respond(self, request: Request) -> Response:
        if request.method != "GET":
            status, doc = 405, {"error": "method not allowed"}
        elif request.target.startswith(CREDENTIALS_PATH):
            status, doc = self.resolve_credentials(request.target, request.head.header("authorization"))
        else:
            status, doc = resolve(self.store, request.target)
        return Response(status, (("Content-Type", "application/json"),), json.dumps(doc).encode())
