"""The Docker driver on a real engine: shared network namespace (sidecar reaches main on localhost, ports
published on 127.0.0.1 only), container settings from the definition, health checks run by albfargate,
essential exit, stop (SIGTERM, stopTimeout, SIGKILL), dependsOn, logs, orphan cleanup and clear errors."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from albfargate.ecs.runtime.base import (
    ContainerHealthStatus,
    ContainerSpec,
    ContainerStatus,
    RunningTask,
    TaskStartError,
)
from albfargate.ecs.runtime.docker import (
    LABEL_STATE_DIR,
    LABEL_TASK,
    DockerDriver,
    DockerUnavailable,
    connect,
    container_name,
)
from albfargate.ecs.runtime.process import free_port, group_usage
from albfargate.model.ecs import (
    ContainerDefinition,
    ContainerDependency,
    ContainerHealthCheck,
    DependencyCondition,
    PortMapping,
)

from .conftest import task_spec

pytestmark = [pytest.mark.integration, pytest.mark.docker]

HTTPD = ("httpd", "-f", "-p", "80", "-h", "/www")


def cspec(name: str, image: str, d: ContainerDefinition | None = None, **kw: Any) -> ContainerSpec:
    d = d or ContainerDefinition(name=name, image=image)
    return ContainerSpec(name=name, image=image, argv=(), definition=d, **kw)


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


async def wait_for(pred: Any, timeout: float = 15.0, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


def http_ok(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/")[0] == 200
    except OSError:
        return False


def test_sidecar_reaches_main_on_localhost_and_ports_are_loopback_only(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        lp = free_port()
        web = cspec(
            "web",
            busybox_image,
            ContainerDefinition(
                name="web",
                image=busybox_image,
                entry_point=("sh", "-c"),
                command=("echo main-page > /www/index.html && exec httpd -f -p 80 -h /www",),
                port_mappings=(PortMapping(80),),
            ),
            ports=((80, lp),),
            stop_timeout=1.0,
        )
        side = cspec(
            "sidecar",
            busybox_image,
            ContainerDefinition(
                name="sidecar",
                image=busybox_image,
                command=("sh", "-c", "while :; do wget -q -O- http://localhost:80/ && sleep 0.2; done"),
                essential=False,
            ),
            essential=False,
            stop_timeout=1.0,
        )
        spec = task_spec(state_dir, (web, side))
        task = await driver.start_task(spec)
        try:
            await wait_for(lambda: http_ok(lp))
            assert get(f"http://127.0.0.1:{lp}/")[1] == b"main-page\n"
            log = spec.log_path("sidecar")
            await wait_for(lambda: log.is_file() and b"main-page" in log.read_bytes())
            pause = docker_client.containers.get(container_name(spec.task_id, "pause"))
            bindings = pause.attrs["HostConfig"]["PortBindings"]["80/tcp"]
            assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(lp)}]
            for name in ("web", "sidecar", "pause"):
                labels = docker_client.containers.get(container_name(spec.task_id, name)).labels
                assert labels[LABEL_STATE_DIR] == str(state_dir)
                assert labels[LABEL_TASK] == spec.task_id
            web_c = docker_client.containers.get(container_name(spec.task_id, "web"))
            assert web_c.attrs["HostConfig"]["NetworkMode"] == f"container:{pause.id}"
            assert task.containers["web"].status is ContainerStatus.RUNNING
        finally:
            await driver.stop_task(task, "test over")
            await driver.stop_all_now()
            driver.close()
        assert all(c.status is ContainerStatus.STOPPED for c in task.containers.values())

    asyncio.run(main())


def test_container_settings_from_the_definition(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    script = (
        "echo user=$(id -u):$(id -g); echo cwd=$(pwd); echo greet=$GREETING; echo secret-len=${#TOKEN}; "
        "echo nofile=$(ulimit -n); (touch /rootfs-probe 2>/dev/null && echo rootfs=rw) || echo rootfs=ro; "
        "exec sleep 300"
    )
    d = ContainerDefinition(
        name="app",
        image=busybox_image,
        entry_point=("/bin/sh", "-c"),
        command=(script,),
        environment=(("GREETING", "hi there"),),
        working_directory="/tmp",
        user="65534:65534",
        cpu=512,
        memory=64,
        memory_reservation=32,
        docker_labels=(("com.example.team", "web"),),
        readonly_root_filesystem=True,
        ulimits=(("nofile", 1000, 2000),),
        stop_timeout_seconds=1,
    )

    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        spec = task_spec(
            state_dir,
            (
                cspec(
                    "app",
                    busybox_image,
                    d,
                    env=(("GREETING", "hi there"), ("TOKEN", "s3cr3t-value")),
                    secret_names=("TOKEN",),
                    stop_timeout=1.0,
                ),
            ),
        )
        task = await driver.start_task(spec)
        try:
            log = spec.log_path("app")
            await wait_for(lambda: log.is_file() and b"rootfs=" in log.read_bytes())
            text = log.read_text()
            assert "user=65534:65534" in text
            assert "cwd=/tmp" in text
            assert "greet=hi there" in text
            assert "secret-len=12" in text
            assert "nofile=1000" in text
            assert "rootfs=ro" in text
            c = docker_client.containers.get(container_name(spec.task_id, "app"))
            hc = c.attrs["HostConfig"]
            assert hc["NanoCpus"] == 500_000_000
            assert hc["Memory"] == 64 * 1024 * 1024
            assert hc["MemoryReservation"] == 32 * 1024 * 1024
            assert hc["ReadonlyRootfs"] is True
            assert c.labels["com.example.team"] == "web"
            assert c.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]  # the image's own check is off
            pid = task.containers["app"].pid  # host pid: the autoscaler samples CPU/memory from /proc
            assert pid == c.attrs["State"]["Pid"]
            assert group_usage(pid)[1] > 0
        finally:
            await driver.stop_task(task, "test over")
            await driver.stop_all_now()
            driver.close()

    asyncio.run(main())


def test_health_checks_are_run_by_albfargate(state_dir: Path, busybox_image: str, docker_client: Any) -> None:
    def container(name: str, check: str) -> ContainerSpec:
        hcheck = ContainerHealthCheck(("CMD-SHELL", check), interval_seconds=1, timeout_seconds=2, retries=2)
        d = ContainerDefinition(
            name=name,
            image=busybox_image,
            command=("sleep", "300"),
            health_check=hcheck,
            stop_timeout_seconds=1,
        )
        return cspec(name, busybox_image, d, health_check=hcheck, stop_timeout=1.0)

    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        spec = task_spec(state_dir, (container("good", "test -d /www"), container("bad", "exit 1")))
        task = await driver.start_task(spec)
        seen: list[tuple[str, str]] = []
        task.subscribe(lambda t: seen.append((t.containers["good"].health, t.containers["bad"].health)))
        try:
            await wait_for(lambda: task.containers["good"].health is ContainerHealthStatus.HEALTHY)
            await wait_for(lambda: task.containers["bad"].health is ContainerHealthStatus.UNHEALTHY)
            assert task.health() is ContainerHealthStatus.UNHEALTHY
            assert task.containers["bad"].status is ContainerStatus.RUNNING  # the driver does not stop it
        finally:
            await driver.stop_task(task, "test over")
            await driver.stop_all_now()
            driver.close()

    asyncio.run(main())


def test_essential_exit_stop_timeout_and_depends_on(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        hcheck = ContainerHealthCheck(("CMD", "true"), interval_seconds=1, timeout_seconds=2, retries=1)
        db = cspec(
            "db",
            busybox_image,
            ContainerDefinition(
                name="db", image=busybox_image, command=("sleep", "300"), health_check=hcheck, essential=False
            ),
            health_check=hcheck,
            essential=False,
            stop_timeout=1.0,
        )
        # ignores SIGTERM: killed after its stopTimeout
        stubborn = cspec(
            "stubborn",
            busybox_image,
            ContainerDefinition(
                name="stubborn",
                image=busybox_image,
                command=("sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"),
                depends_on=(ContainerDependency("db", DependencyCondition.HEALTHY),),
            ),
            depends_on=(ContainerDependency("db", DependencyCondition.HEALTHY),),
            stop_timeout=1.0,
        )
        quitter = cspec(
            "quitter",
            busybox_image,
            ContainerDefinition(name="quitter", image=busybox_image, command=("sh", "-c", "sleep 2; exit 3")),
            stop_timeout=1.0,
        )
        spec = task_spec(state_dir, (stubborn, quitter, db))
        task = await driver.start_task(spec)
        changes: list[RunningTask] = []
        task.subscribe(changes.append)
        try:
            c = task.containers
            assert c["db"].health is ContainerHealthStatus.HEALTHY
            assert c["stubborn"].started_at is not None and c["db"].started_at is not None
            assert c["stubborn"].started_at >= c["db"].started_at
            await wait_for(lambda: c["quitter"].status is ContainerStatus.STOPPED)
            assert c["quitter"].exit_code == 3
            assert task.essential_exited() is c["quitter"]
            assert changes
            t0 = time.monotonic()
        finally:
            await driver.stop_task(task, "essential exited")
            await driver.stop_all_now()
            driver.close()
        took = time.monotonic() - t0
        assert c["stubborn"].exit_code == 137
        assert c["stubborn"].reason == "killed after stopTimeout 1 s"
        assert c["db"].exit_code == 137 or c["db"].exit_code == 143  # sleep as PID 1: SIGTERM ignored
        assert took < 8.0

    asyncio.run(main())


def test_essential_container_dead_at_start_fails_the_task(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        d = ContainerDefinition(name="app", image=busybox_image, command=("sh", "-c", "echo bye; exit 7"))
        spec = task_spec(state_dir, (cspec("app", busybox_image, d),), settle=1.0)
        try:
            with pytest.raises(TaskStartError, match="essential container app exited with code 7"):
                await driver.start_task(spec)
        finally:
            await driver.stop_all_now()
            driver.close()
        assert spec.log_path("app").read_text() == "bye\n"

    asyncio.run(main())


def test_cleanup_orphans_removes_only_this_state_dirs_containers(
    state_dir: Path, busybox_image: str, docker_client: Any, tmp_path: Path
) -> None:
    other_dir = (tmp_path / "other").resolve()
    user_ctr = docker_client.containers.create(
        busybox_image, ["sleep", "300"], labels={"albfargate.state-dir": str(other_dir)}
    )
    plain = docker_client.containers.create(busybox_image, ["sleep", "300"])
    try:

        async def main() -> int:
            # a "crashed" supervisor: its driver starts a task and is abandoned without stopping it
            crashed = DockerDriver(state_dir, client=docker_client)
            spec = task_spec(
                state_dir,
                (
                    cspec(
                        "app",
                        busybox_image,
                        ContainerDefinition("app", busybox_image, command=("sleep", "300")),
                    ),
                ),
            )
            await crashed.start_task(spec)
            crashed.close()
            fresh = DockerDriver(state_dir, client=connect())
            try:
                return await fresh.cleanup_orphans(state_dir)
            finally:
                fresh.close()

        assert asyncio.run(main()) == 1
        label = f"{LABEL_STATE_DIR}={state_dir}"
        assert docker_client.containers.list(all=True, filters={"label": label}) == []
        assert docker_client.networks.list(filters={"label": label}) == []
        docker_client.containers.get(user_ctr.id)  # still there
        docker_client.containers.get(plain.id)
    finally:
        user_ctr.remove(force=True)
        plain.remove(force=True)


def test_port_in_use_is_a_clear_start_error(state_dir: Path, busybox_image: str, docker_client: Any) -> None:
    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            busy = s.getsockname()[1]
            d = ContainerDefinition("web", busybox_image, command=HTTPD, port_mappings=(PortMapping(80),))
            spec = task_spec(state_dir, (cspec("web", busybox_image, d, ports=((80, busy),)),))
            try:
                with pytest.raises(
                    TaskStartError, match=f"port of the task is in use \\(127.0.0.1:{busy}\\)"
                ):
                    await driver.start_task(spec)
            finally:
                await driver.stop_all_now()
                driver.close()

    asyncio.run(main())


def test_pull_failure_names_the_image_and_the_engines_reason(
    state_dir: Path, busybox_image: str, docker_client: Any
) -> None:
    # a registry on a closed loopback port: the engine fails fast and no traffic leaves the machine
    image = "127.0.0.1:1/albfargate-test/absent:1.0"

    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client, progress=lambda line: None)
        spec = task_spec(state_dir, (cspec("app", image),))
        try:
            with pytest.raises(TaskStartError) as info:
                await driver.start_task(spec)
        finally:
            await driver.stop_all_now()
            driver.close()
        msg = str(info.value)
        assert msg.startswith(f"CannotPullContainerError: pull image {image}: ")
        assert "connection refused" in msg.lower()

    asyncio.run(main())


def test_engine_not_reachable_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(DockerUnavailable) as info:
        connect(1.0)
    msg = str(info.value)
    assert f"unix://{tmp_path}/no-engine.sock" in msg
    assert "--driver process" in msg
    assert "dockerd" in msg
