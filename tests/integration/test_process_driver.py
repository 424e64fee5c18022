"""The process driver with real processes: start/stop with SIGTERM and SIGKILL, essential exits,
dependsOn, container health checks, process groups and orphan cleanup. Every test ends by checking that no
process it started is left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from albfargate.ecs.runtime.base import (
    ContainerHealthStatus,
    ContainerSpec,
    ContainerStatus,
    TaskSpec,
    TaskStartError,
)
from albfargate.ecs.runtime.process import ProcessDriver, free_port, group_members, kill_orphans
from albfargate.model.ecs import ContainerDependency, ContainerHealthCheck, DependencyCondition

pytestmark = pytest.mark.integration

PY = sys.executable


def standin(name: str, port: int, **kw: object) -> ContainerSpec:
    argv = (PY, "-m", "albfargate.ecs.standin", "--service", "svc", "--task", "t1", "--container", name)
    return ContainerSpec(name=name, image="img", argv=(*argv, "--port", str(port)), ports=((80, port),), **kw)  # type: ignore[arg-type]


def spec(tmp: Path, *containers: ContainerSpec, settle: float = 0.3) -> TaskSpec:
    return TaskSpec(
        task_id="0123456789abcdef0123456789abcdef",
        task_arn="arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef0123456789abcdef",
        cluster="c",
        family="fam",
        revision=1,
        containers=containers,
        log_dir=tmp / "logs",
        service="svc",
        settle_seconds=settle,
    )


def get(port: int, path: str = "/") -> tuple[int, dict[str, object]]:
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_standin_serves_and_stops_with_sigterm(tmp_path: Path) -> None:
    port = free_port()

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, standin("web", port)))
        pid = t.containers["web"].pid
        assert pid is not None and alive(pid)
        status, doc = await asyncio.to_thread(get, port, "/hello?x=1")
        assert status == 200
        assert doc["service"] == "svc" and doc["container"] == "web" and doc["path"] == "/hello"
        assert doc["query"] == "x=1" and doc["body_length"] == 0
        status, _ = await asyncio.to_thread(get, port, "/?status=503")
        assert status == 503
        assert (tmp_path / "pids" / f"{t.task_id}-web.pid").exists()
        await d.stop_task(t, "test")
        assert t.containers["web"].status is ContainerStatus.STOPPED
        assert t.containers["web"].exit_code == 0  # the stand-in exits cleanly on SIGTERM
        assert not alive(pid)
        assert not (tmp_path / "pids" / f"{t.task_id}-web.pid").exists()
        assert "listening on" in (tmp_path / "logs" / f"{t.task_id}-web.log").read_text()

    run(go())


def test_sigterm_ignored_gets_sigkill_after_stop_timeout(tmp_path: Path) -> None:
    code = (
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    c = ContainerSpec(name="stubborn", image="i", argv=(PY, "-c", code), stop_timeout=1.0)

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, c))
        pid = t.containers["stubborn"].pid
        assert pid is not None
        t0 = time.monotonic()
        await d.stop_task(t, "test")
        took = time.monotonic() - t0
        assert 0.9 <= took < 5
        assert t.containers["stubborn"].exit_code == 137
        assert not alive(pid)

    run(go())


def test_sigterm_exit_code_143_and_children_of_the_group_die(tmp_path: Path) -> None:
    # a shell that starts a background child: SIGTERM goes to the whole group
    c = ContainerSpec(name="sh", image="i", argv=("/bin/sh", "-c", "sleep 60 & sleep 60; wait"))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, c))
        pid = t.containers["sh"].pid
        assert pid is not None
        await asyncio.sleep(0.2)
        members = group_members(pid)
        assert len(members) >= 2
        await d.stop_task(t, "test")
        assert t.containers["sh"].exit_code == 143
        await asyncio.sleep(0.1)
        assert not [m for m in members if alive(m)]

    run(go())


def test_essential_container_exiting_at_start_fails_the_task(tmp_path: Path) -> None:
    port = free_port()
    bad = ContainerSpec(name="bad", image="i", argv=(PY, "-c", "import sys; sys.exit(3)"))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        with pytest.raises(TaskStartError, match="essential container bad exited with code 3"):
            await d.start_task(spec(tmp_path, standin("web", port), bad, settle=0.5))
        # nothing of the task is left: the stand-in was killed too
        assert not list((tmp_path / "pids").glob("*.pid"))

    run(go())
    assert_port_free(port)


def test_missing_executable_is_a_start_error(tmp_path: Path) -> None:
    c = ContainerSpec(name="x", image="i", argv=("/nonexistent/binary",))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        with pytest.raises(TaskStartError, match=r"CannotStartContainerError: container x: .*nonexistent"):
            await d.start_task(spec(tmp_path, c))

    run(go())


def test_essential_exit_later_is_reported_to_observers(tmp_path: Path) -> None:
    c = ContainerSpec(name="brief", image="i", argv=(PY, "-c", "import time; time.sleep(0.6)"))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, c))
        seen = asyncio.Event()
        t.subscribe(lambda task: seen.set() if task.essential_exited() else None)
        await asyncio.wait_for(seen.wait(), 5)
        assert t.essential_exited() is not None
        assert t.containers["brief"].exit_code == 0

    run(go())


def test_depends_on_success_then_start(tmp_path: Path) -> None:
    marker = tmp_path / "init-done"
    port = free_port()
    init = ContainerSpec(
        name="init",
        image="i",
        essential=False,
        argv=(PY, "-c", f"import time; time.sleep(0.3); open({str(marker)!r}, 'w').write('x')"),
    )
    web = standin("web", port, depends_on=(ContainerDependency("init", DependencyCondition.SUCCESS),))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, web, init))
        assert marker.exists()
        assert t.containers["init"].exit_code == 0
        assert t.containers["web"].status is ContainerStatus.RUNNING
        init_stop = t.containers["init"].stopped_at
        web_start = t.containers["web"].started_at
        assert init_stop is not None and web_start is not None and web_start >= init_stop
        await d.stop_task(t, "test")

    run(go())


def test_depends_on_success_failing_stops_the_task(tmp_path: Path) -> None:
    port = free_port()
    init = ContainerSpec(name="init", image="i", essential=False, argv=(PY, "-c", "raise SystemExit(2)"))
    web = standin("web", port, depends_on=(ContainerDependency("init", DependencyCondition.SUCCESS),))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        with pytest.raises(TaskStartError, match="can no longer reach SUCCESS"):
            await d.start_task(spec(tmp_path, web, init))

    run(go())
    assert_port_free(port)


def test_health_check_becomes_healthy_and_unhealthy(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    flag.write_text("1")
    check = ContainerHealthCheck(
        command=("CMD-SHELL", f"test -f {flag}"),
        interval_seconds=1,
        timeout_seconds=2,
        retries=2,
        start_period_seconds=5,
    )
    c = ContainerSpec(
        name="app", image="i", argv=(PY, "-c", "import time; time.sleep(60)"), health_check=check
    )

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, c))
        assert t.health() is ContainerHealthStatus.UNKNOWN
        deadline = time.monotonic() + 5
        while t.health() is not ContainerHealthStatus.HEALTHY:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        flag.unlink()
        deadline = time.monotonic() + 6
        while t.health() is not ContainerHealthStatus.UNHEALTHY:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await d.stop_task(t, "test")

    run(go())


def test_environment_reaches_the_process(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    code = (
        "import json,os; json.dump({k: os.environ.get(k) for k in "
        f"('GREETING','ALBFARGATE_TASK_ID','ALBFARGATE_STATE_DIR')}}, open({str(out)!r},'w'))"
    )
    c = ContainerSpec(name="e", image="i", essential=False, argv=(PY, "-c", code), env=(("GREETING", "hi"),))
    keep = ContainerSpec(name="k", image="i", argv=(PY, "-c", "import time; time.sleep(30)"))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, keep, c))
        await asyncio.sleep(0.3)
        env = json.loads(out.read_text())
        assert env == {
            "GREETING": "hi",
            "ALBFARGATE_TASK_ID": t.task_id,
            "ALBFARGATE_STATE_DIR": str(tmp_path.resolve()),
        }
        await d.stop_task(t, "test")

    run(go())


def test_orphans_of_a_dead_supervisor_are_killed(tmp_path: Path) -> None:
    port = free_port()

    async def start_and_abandon() -> list[int]:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, standin("web", port)))
        return t.pids()

    pids = run(start_and_abandon())  # the loop ends; the process stays (as after a SIGKILLed supervisor)
    assert all(alive(p) for p in pids)
    assert kill_orphans(tmp_path) == 1
    deadline = time.monotonic() + 3
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for p in pids:  # reap if it was our child
        with contextlib.suppress(ChildProcessError):
            os.waitpid(p, os.WNOHANG)
    assert not list((tmp_path / "pids").glob("*.pid"))


def test_orphan_cleanup_spares_foreign_processes(tmp_path: Path) -> None:
    # a pid file pointing at a process without our marker (pid reuse) must not be killed
    (tmp_path / "pids").mkdir()
    import subprocess

    p = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        (tmp_path / "pids" / "x-web.pid").write_text(f"{p.pid}\n")
        assert kill_orphans(tmp_path) == 0
        assert p.poll() is None
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def assert_port_free(port: int) -> None:
    import socket

    deadline = time.monotonic() + 3
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return
        assert time.monotonic() < deadline, f"something still listens on {port}"
        time.sleep(0.05)


def test_depends_on_healthy(tmp_path: Path) -> None:
    port = free_port()
    check = ContainerHealthCheck(command=("CMD", "true"), interval_seconds=1, start_period_seconds=5)
    db = ContainerSpec(
        name="db", image="i", argv=(PY, "-c", "import time; time.sleep(60)"), health_check=check
    )
    web = standin("web", port, depends_on=(ContainerDependency("db", DependencyCondition.HEALTHY),))

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t = await d.start_task(spec(tmp_path, web, db))
        assert t.containers["db"].health is ContainerHealthStatus.HEALTHY
        started = t.containers["web"].started_at
        assert started is not None and started >= (t.containers["db"].started_at or 0) + 0.5
        await d.stop_task(t, "test")
        # reverse order: web (the dependent) stopped before db
        assert (t.containers["web"].stopped_at or 0) <= (t.containers["db"].stopped_at or 0)

    run(go())


def test_depends_on_healthy_without_a_check_fails_at_once(tmp_path: Path) -> None:
    db = ContainerSpec(name="db", image="i", argv=(PY, "-c", "import time; time.sleep(60)"))
    web = ContainerSpec(
        name="web",
        image="i",
        argv=(PY, "-c", "import time; time.sleep(60)"),
        depends_on=(ContainerDependency("db", DependencyCondition.HEALTHY),),
    )

    async def go() -> None:
        d = ProcessDriver(tmp_path)
        t0 = time.monotonic()
        with pytest.raises(TaskStartError, match="db has no health check"):
            await d.start_task(spec(tmp_path, web, db))
        assert time.monotonic() - t0 < 2
        assert not list((tmp_path / "pids").glob("*.pid"))

    run(go())
