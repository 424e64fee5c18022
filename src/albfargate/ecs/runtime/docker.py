"""The Docker task driver (``--driver docker``): every container of a task runs as a Docker container from
its task-definition image, behind the same :class:`~albfargate.ecs.runtime.base.TaskDriver` seam as the
process driver, with the same semantics (``dependsOn`` order, essential exit, health checks run by
albfargate, SIGTERM / ``stopTimeout`` / SIGKILL, per-task log files).

Owns
- talking to the engine (the ``docker`` SDK, ``DOCKER_HOST`` honoured): :func:`connect` and its one-line
  error when no engine answers (how to start it, and that ``--driver process`` exists);
- awsvpc emulation: one ``pause`` container per task holds the task's network namespace and publishes every
  container port on ``127.0.0.1:<local port of this task>`` (the task's target); the task's containers join
  it with ``network_mode=container:<pause>``, so they reach each other on ``localhost``. Traffic is only
  ever sent to 127.0.0.1, never to a bridge address. The pause containers sit on one bridge network per
  state directory (``albfargate-<hash>``; one per task would exhaust Docker's address pools);
- container settings from the :class:`~albfargate.model.ecs.ContainerDefinition`: command, entry point,
  environment and secrets (resolved values arrive in the spec's env; never logged), working directory,
  user, cpu (``nano_cpus`` = cpu units / 1024 CPUs) and memory (hard ``memory`` MiB, soft
  ``memoryReservation``), docker labels, read-only root filesystem, ulimits. The image's own
  ``HEALTHCHECK`` is disabled (spec §6.5: only the task definition's check counts); the health check is run
  here with ``docker exec`` and fed to ``ecs/health.py``;
- labels ``albfargate.state-dir=<abs state dir>`` and ``albfargate.task=<task id>`` on every container
  (the network carries the state-dir label and an empty task label: it is shared by the state dir's tasks);
  :func:`remove_orphans` removes exactly what carries the state-dir label and nothing else;
- loopback forwarding: once the pause container runs, the task's ``forward_ports`` (the AWS endpoint,
  the metadata and credentials endpoint) are served on 127.0.0.1 inside its namespace and relayed to the
  host's 127.0.0.1 (``runtime/netns.py``), so containers use the same ``127.0.0.1`` URLs as processes;
  without root or with a remote engine this is not possible and the driver says so once;
- container exits come from one engine event stream (``die`` events filtered by the state-dir label);
  logs are followed per container by a daemon thread into ``spec.log_path(container)``.

Blocking SDK calls run on a private thread pool; long-lived streams (events, logs) on daemon threads."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.types import Ulimit

from albfargate.ecs.runtime.base import (
    ContainerSpec,
    ContainerStatus,
    RunningTask,
    TaskSpec,
    TaskStartError,
)
from albfargate.ecs.runtime.common import (
    health_loop,
    new_running_task,
    record_exit,
    settle,
    start_order,
    stop_timeout_reason,
    wait_dependencies,
)
from albfargate.ecs.runtime.images import ImageResolver
from albfargate.ecs.runtime.netns import LoopbackForwarder
from albfargate.ecs.runtime.netns import supported as netns_supported
from albfargate.errors import RuntimeStartError

log = logging.getLogger("albfargate.docker")

LABEL_STATE_DIR = "albfargate.state-dir"
LABEL_TASK = "albfargate.task"
LABEL_CONTAINER = "albfargate.container"
LABEL_ROLE = "albfargate.role"  # pause | container | network
#: Seconds an engine has to answer ``ping`` before it counts as not reachable.
PING_TIMEOUT = 3.0
#: API calls (create/start/stop/exec/inspect) in flight at once; streams use their own threads.
API_THREADS = 16
#: The docker SDK's HTTP pool: one connection per log stream + events + the API threads.
MAX_POOL_SIZE = 128
#: How often a running health-check exec is polled for its exit code.
EXEC_POLL_SECONDS = 0.1


class DockerUnavailable(RuntimeStartError):
    """No Docker engine answers where the SDK looks (``DOCKER_HOST`` or the default socket)."""


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float = PING_TIMEOUT, *, api_timeout: float = 120.0) -> docker.DockerClient:
    """A client for the engine at ``DOCKER_HOST`` (or the default socket) that has answered ``ping``;
    :class:`DockerUnavailable` with how to fix it otherwise."""
    address = _engine_address()
    try:
        client = docker.from_env(timeout=math.ceil(timeout), max_pool_size=MAX_POOL_SIZE)
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, PermissionError ...
        reason = str(exc).split("\n", 1)[0]
        raise DockerUnavailable(
            f"the Docker engine is not reachable at {address} ({reason}); start it "
            f"(`sudo systemctl start docker`, or `sudo dockerd &`), set DOCKER_HOST to where it listens, "
            f"or run without Docker: `albfargate up --driver process`"
        ) from None
    client.api.timeout = api_timeout
    return client


def engine_available(timeout: float = 1.0) -> bool:
    """Whether an engine answers (``--driver auto``)."""
    try:
        connect(timeout).close()
    except DockerUnavailable:
        return False
    return True


def network_name(state_dir: Path) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return f"albfargate-{digest}"


def container_name(task_id: str, name: str) -> str:
    return f"albfargate-{task_id}-{name}"


def nano_cpus(cpu_units: int) -> int | None:
    """ECS cpu units (1024 = one vCPU) as Docker ``NanoCpus``; 0 means no limit."""
    return cpu_units * 1_000_000_000 // 1024 if cpu_units > 0 else None


def remove_orphans(state_dir: Path, client: docker.DockerClient | None = None) -> int:
    """Force-remove every container and network labelled with ``state_dir`` (never anything else);
    returns how many tasks had containers left. Without a reachable engine there is nothing to remove
    (returns 0)."""
    own = client is None
    if client is None:
        try:
            client = connect(1.0)
        except DockerUnavailable:
            return 0
    label = f"{LABEL_STATE_DIR}={state_dir.resolve()}"
    try:
        tasks: set[str] = set()
        for c in client.containers.list(all=True, filters={"label": label}):
            tasks.add(c.labels.get(LABEL_TASK, ""))
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)
        for n in client.networks.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                n.remove()
        tasks.discard("")
        return len(tasks)
    finally:
        if own:
            client.close()


@dataclass(slots=True)
class _TaskRecord:
    task: RunningTask
    order: list[str]
    pause_id: str | None = None
    ids: dict[str, str] = field(default_factory=dict)  # container name -> container id
    log_threads: list[threading.Thread] = field(default_factory=list)
    health: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    forwarder: LoopbackForwarder | None = None


class DockerDriver:
    """Runs tasks as Docker containers. One instance per supervisor."""

    name = "docker"

    def __init__(
        self,
        state_dir: Path,
        *,
        client: docker.DockerClient | None = None,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.client = client if client is not None else connect()
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="albfargate-docker")
        self.images = ImageResolver(self.client, self._run, progress=progress)
        self.label = f"{LABEL_STATE_DIR}={self.state_dir}"
        self._tasks: dict[str, _TaskRecord] = {}
        self._by_id: dict[str, tuple[str, str]] = {}  # container id -> (task id, container name)
        self._events: Any = None
        self._events_ready = threading.Event()
        self._events_lock = asyncio.Lock()
        self._network_lock = asyncio.Lock()
        self._network: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        api = getattr(self.client, "api", None)
        self._local_engine = str(getattr(api, "base_url", "")).startswith("http+docker://")
        #: why containers cannot reach the host's loopback endpoints (None: they can)
        self.no_forwarding: str | None = (
            netns_supported() if self._local_engine else "the Docker engine is not on this machine"
        )
        self._warned_forwarding = False

    @property
    def forwards_loopback(self) -> bool:
        """Whether a task's containers reach the host's loopback ports of ``TaskSpec.forward_ports``."""
        return self.no_forwarding is None

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def _labels(self, task_id: str, role: str, container: str | None = None) -> dict[str, str]:
        labels = {LABEL_STATE_DIR: str(self.state_dir), LABEL_TASK: task_id, LABEL_ROLE: role}
        if container is not None:
            labels[LABEL_CONTAINER] = container
        return labels

    # ---- engine events (container exits) ----------------------------------------------------------------
    async def _ensure_events(self) -> None:
        async with self._events_lock:  # tasks start concurrently: one stream
            if self._events is not None:
                return
            self._loop = asyncio.get_running_loop()
            self._events_ready.clear()
            thread = threading.Thread(
                target=self._follow_events, name="albfargate-docker-events", daemon=True
            )
            thread.start()
            await self._run(self._events_ready.wait, 10.0)

    def _follow_events(self) -> None:
        try:
            stream = self.client.events(
                decode=True,
                filters={"type": "container", "event": "die", "label": self.label},
            )
        except Exception:
            log.exception("cannot follow the Docker engine's events")
            self._events_ready.set()
            return
        self._events = stream
        self._events_ready.set()
        loop = self._loop
        try:
            for ev in stream:
                cid = str(ev.get("id", ""))
                attrs = ev.get("Actor", {}).get("Attributes", {})
                try:
                    code = int(attrs.get("exitCode", "-1"))
                except ValueError:
                    code = -1
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self._on_die, cid, code)
        except Exception:
            pass  # closed by stop_all_now, or the engine went away
        finally:
            if self._events is stream:
                self._events = None

    def _on_die(self, cid: str, exit_code: int, reason: str | None = None) -> None:
        where = self._by_id.get(cid)
        if where is None:
            return
        rec = self._tasks.get(where[0])
        if rec is None:
            return
        st = rec.task.containers[where[1]]
        if st.status is ContainerStatus.STOPPED:
            return
        record_exit(st, exit_code, self.clock(), reason)
        ht = rec.health.pop(where[1], None)
        if ht is not None:
            ht.cancel()
        rec.task.notify()

    # ---- network ----------------------------------------------------------------------------------------
    async def _ensure_network(self) -> str:
        async with self._network_lock:
            if self._network is None:
                self._network = await self._run(self._make_network)
            return self._network

    def _make_network(self) -> str:
        name = network_name(self.state_dir)
        for n in self.client.networks.list(names=[name], filters={"label": self.label}):
            if n.name == name:
                return name
        try:
            self.client.networks.create(
                name,
                driver="bridge",
                labels={LABEL_STATE_DIR: str(self.state_dir), LABEL_TASK: "", LABEL_ROLE: "network"},
                check_duplicate=True,
            )
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise TaskStartError(
                    f"ResourceInitializationError: cannot create the Docker network {name}: "
                    f"{exc.explanation or exc}"
                ) from None
        return name

    # ---- start ------------------------------------------------------------------------------------------
    async def start_task(self, spec: TaskSpec) -> RunningTask:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        order = start_order(spec.containers)
        task = new_running_task(spec)
        rec = _TaskRecord(task=task, order=[c.name for c in order])
        self._tasks[spec.task_id] = rec
        try:
            await self._ensure_events()
            images = {}
            for c in order:
                asset = c.definition.image_asset if c.definition is not None else None
                images[c.name] = await self.images.resolve(c.image, asset)
            network = await self._ensure_network()
            await self._start_pause(rec, network)
            await self._forward(rec)
            for c in order:
                await wait_dependencies(task, c, self.clock)
                await self._start_container(rec, c, images[c.name])
            await settle(task)
        except BaseException:
            task.stopping = True
            await asyncio.shield(self._remove_task(rec))
            raise
        return task

    async def _start_pause(self, rec: _TaskRecord, network: str) -> None:
        spec = rec.task.spec
        image = await self.images.pause_image()
        ports: dict[str, tuple[str, int]] = {}
        for c in spec.containers:
            for cp, lp in c.ports:
                ports[f"{cp}/tcp"] = ("127.0.0.1", lp)
        name = container_name(spec.task_id, "pause")

        def create_and_start() -> str:
            ctr = self.client.containers.create(
                image,
                name=name,
                labels=self._labels(spec.task_id, "pause"),
                network=network,
                ports=ports,
                detach=True,
                healthcheck={"test": ["NONE"]},
            )
            rec.pause_id = ctr.id
            ctr.start()
            return str(ctr.id)

        try:
            await self._run(create_and_start)
        except docker.errors.APIError as exc:
            text = str(exc.explanation or exc)
            if "already allocated" in text or "address already in use" in text:
                listing = ", ".join(f"127.0.0.1:{hp}" for _, (_, hp) in ports.items())
                raise TaskStartError(
                    f"CannotStartContainerError: a local port of the task is in use ({listing}): {text}"
                ) from None
            raise TaskStartError(
                f"CannotStartContainerError: cannot start the task's network container: {text}"
            ) from None

    async def _forward(self, rec: _TaskRecord) -> None:
        """Serve the task's ``forward_ports`` on 127.0.0.1 inside its namespace, before any container of
        it starts (so a container's first request finds them)."""
        spec = rec.task.spec
        if not spec.forward_ports or rec.pause_id is None:
            return
        if self.no_forwarding is not None:
            if not self._warned_forwarding:
                self._warned_forwarding = True
                log.warning(
                    "containers cannot reach the AWS endpoint and the task metadata/credentials endpoint: %s",
                    self.no_forwarding,
                )
            return
        try:
            info = await self._run(self.client.api.inspect_container, rec.pause_id)
            pid = int(info["State"].get("Pid") or 0)
            if not pid:
                raise OSError("the task's network container has no process")
            rec.forwarder = LoopbackForwarder()
            await rec.forwarder.start(pid, spec.forward_ports)
        except (OSError, docker.errors.APIError) as exc:
            raise TaskStartError(
                f"ResourceInitializationError: cannot forward the local endpoints into the task's "
                f"network namespace: {exc}"
            ) from None

    def create_options(self, c: ContainerSpec, image: str, pause_id: str, task_id: str) -> dict[str, Any]:
        """The ``containers.create`` keyword arguments for one container (public for tests)."""
        d = c.definition
        labels = dict(d.docker_labels) if d is not None else {}
        labels.update(self._labels(task_id, "container", c.name))
        opts: dict[str, Any] = {
            "name": container_name(task_id, c.name),
            "environment": dict(c.env),
            "labels": labels,
            "network_mode": f"container:{pause_id}",
            "detach": True,
            "healthcheck": {"test": ["NONE"]},
        }
        if d is None:
            if c.argv:
                opts["command"] = list(c.argv)
            if c.workdir:
                opts["working_dir"] = c.workdir
            return opts
        if d.command is not None:
            opts["command"] = list(d.command)
        if d.entry_point is not None:
            opts["entrypoint"] = list(d.entry_point)
        if d.working_directory:
            opts["working_dir"] = d.working_directory
        if d.user:
            opts["user"] = d.user
        cpus = nano_cpus(d.cpu)
        if cpus:
            opts["nano_cpus"] = cpus
        if d.memory:
            opts["mem_limit"] = f"{d.memory}m"
        if d.memory_reservation:
            opts["mem_reservation"] = f"{d.memory_reservation}m"
        if d.readonly_root_filesystem:
            opts["read_only"] = True
        if d.ulimits:
            opts["ulimits"] = [Ulimit(name=n, soft=s, hard=h) for n, s, h in d.ulimits]
        return opts

    async def _start_container(self, rec: _TaskRecord, c: ContainerSpec, image: str) -> None:
        spec = rec.task.spec
        assert rec.pause_id is not None
        opts = self.create_options(c, image, rec.pause_id, spec.task_id)

        def create() -> str:
            ctr = self.client.containers.create(image, **opts)
            return str(ctr.id)

        try:
            cid = await self._run(create)
        except docker.errors.APIError as exc:
            raise TaskStartError(
                f"CannotCreateContainerError: container {c.name} (image {c.image}): {exc.explanation or exc}"
            ) from None
        rec.ids[c.name] = cid
        self._by_id[cid] = (spec.task_id, c.name)
        try:
            await self._run(self.client.api.start, cid)
        except docker.errors.APIError as exc:
            raise TaskStartError(
                f"CannotStartContainerError: container {c.name} (image {c.image}): {exc.explanation or exc}"
            ) from None
        st = rec.task.containers[c.name]
        if st.status is ContainerStatus.PENDING:
            st.status = ContainerStatus.RUNNING
            st.started_at = self.clock()
        if self._local_engine:
            # the host pid of the container's main process (its own process group): CPU/memory samples
            # for target tracking come from /proc, which only means something on this machine's engine
            with contextlib.suppress(Exception):
                info = await self._run(self.client.api.inspect_container, cid)
                st.pid = int(info["State"].get("Pid") or 0) or None
        t = threading.Thread(
            target=self._follow_logs, args=(cid, spec.log_path(c.name)), name=f"logs-{c.name}", daemon=True
        )
        t.start()
        rec.log_threads.append(t)
        if c.health_check is not None and c.health_check.command and st.status is ContainerStatus.RUNNING:
            rec.health[c.name] = asyncio.get_running_loop().create_task(
                health_loop(rec.task, c, self.clock, functools.partial(self._run_check, cid))
            )
        rec.task.notify()

    def _follow_logs(self, cid: str, path: Path) -> None:
        try:
            with path.open("ab") as f:
                for chunk in self.client.api.logs(cid, stream=True, follow=True, stdout=True, stderr=True):
                    f.write(chunk)
                    f.flush()
        except Exception:
            pass  # the container was removed, or the engine went away

    # ---- health checks ----------------------------------------------------------------------------------
    async def _run_check(self, cid: str, argv: list[str], timeout: float) -> bool:
        """``docker exec`` of the check; exit code 0 within ``timeout`` is a success. A check that
        overruns is abandoned (the engine has no exec kill) and counts as a failure."""
        api = self.client.api
        try:
            exec_id = (await self._run(api.exec_create, cid, argv, stdout=False, stderr=False))["Id"]
            await self._run(api.exec_start, exec_id, detach=True)
        except docker.errors.APIError:
            return False
        deadline = self.clock() + timeout
        while True:
            try:
                info = await self._run(api.exec_inspect, exec_id)
            except docker.errors.APIError:
                return False
            if not info.get("Running"):
                return bool(info.get("ExitCode") == 0)
            if self.clock() >= deadline:
                return False
            await asyncio.sleep(EXEC_POLL_SECONDS)

    # ---- stop -------------------------------------------------------------------------------------------
    async def stop_task(self, task: RunningTask, reason: str) -> None:
        task.stopping = True
        rec = self._tasks.get(task.spec.task_id)
        if rec is None:
            return
        specs = {c.name: c for c in task.spec.containers}
        for name in reversed(rec.order):
            cid = rec.ids.get(name)
            st = task.containers[name]
            if cid is None or st.status is not ContainerStatus.RUNNING:
                continue
            await self._stop_container(rec, specs[name], cid)
        await self._remove_task(rec)

    async def _stop_container(self, rec: _TaskRecord, c: ContainerSpec, cid: str) -> None:
        """``docker stop``: the stop signal (SIGTERM unless the image says otherwise), ``stopTimeout``,
        SIGKILL."""
        st = rec.task.containers[c.name]
        timeout = max(0, math.ceil(c.stop_timeout))
        try:
            await self._run(self.client.api.stop, cid, timeout=timeout)
            info = await self._run(self.client.api.inspect_container, cid)
        except docker.errors.NotFound:
            self._on_die(cid, 137, "container removed")
            return
        except docker.errors.APIError as exc:
            log.warning("stopping container %s failed: %s", c.name, exc)
            return
        code = int(info["State"].get("ExitCode", -1))
        if code == 137 and not info["State"].get("OOMKilled"):
            # the die event may have come first with the generic reason: this stop is what killed it
            st.reason = stop_timeout_reason(c)
        self._on_die(cid, code)

    async def _remove_task(self, rec: _TaskRecord) -> None:
        """Force-remove the task's containers (and its pause container); whatever was still running is
        reported STOPPED with 137."""
        for ht in rec.health.values():
            ht.cancel()
        rec.health.clear()
        if rec.forwarder is not None:
            await rec.forwarder.close()
            rec.forwarder = None
        ids = [rec.ids[n] for n in reversed(rec.order) if n in rec.ids]
        for cid in ids:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                await self._run(self.client.api.remove_container, cid, force=True)
            self._on_die(cid, 137, "removed with its task")
        if rec.pause_id is not None:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                await self._run(self.client.api.remove_container, rec.pause_id, force=True)
        for t in rec.log_threads:
            await self._run(t.join, 5.0)
        for cid in ids:
            self._by_id.pop(cid, None)
        self._tasks.pop(rec.task.spec.task_id, None)

    async def stop_all_now(self) -> None:
        """Last step of a shutdown: remove every container and the network of this state dir, stop
        following events."""
        for rec in list(self._tasks.values()):
            await self._remove_task(rec)
        await self._run(remove_orphans, self.state_dir, self.client)
        self._network = None
        stream = self._events
        if stream is not None:
            self._events = None
            with contextlib.suppress(Exception):
                stream.close()

    # ---- crash recovery ---------------------------------------------------------------------------------
    async def cleanup_orphans(self, state_dir: Path) -> int:
        n: int = await self._run(remove_orphans, state_dir, self.client)
        if state_dir.resolve() == self.state_dir:
            self._network = None
        return n

    def close(self) -> None:
        stream = self._events
        self._events = None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.client.close()
