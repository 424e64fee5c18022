"""``albfargate up`` end to end on a template with stand-ins: scale up and down, a SIGKILLed task is
replaced while traffic continues, stop-task, the errors a user can hit, Ctrl-C of a foreground ``up``, and
SIGKILL of the supervisor followed by ``up``. Every test ends with no process of its state dir left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.integration.up_support import (
    PY,
    Svc,
    assert_nothing_left,
    cli,
    detached,
    free_port,
    get,
    make_template,
    processes_of,
    service,
    status,
    up_detached,
    wait_for,
)

pytestmark = pytest.mark.integration


def _lb_url(st: dict) -> str:  # type: ignore[type-arg]
    return str(st["load_balancers"][0]["listeners"][0]["url"])


def test_scale_up_and_down_and_stop_task(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    port = free_port()
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={port}") as st:
        assert _lb_url(st) == f"http://127.0.0.1:{port}/"
        code, body = get(_lb_url(st))
        assert code == 200 and json.loads(body)["service"] == "web"

        cli("scale", "web", "3", "--state-dir", str(state))
        st = wait_for(
            lambda: (s := status(state))["steady"] and service(s, "web")["running"] == 3 and s,
            30,
            "3 running",
        )
        tasks = {t["id"] for t in service(st, "web")["tasks"]}
        assert len(tasks) == 3
        seen = {json.loads(get(_lb_url(st))[1])["task"] for _ in range(12)}
        assert seen == tasks  # round robin reaches all three

        cli("scale", "web", "1", "--state-dir", str(state))
        st = wait_for(
            lambda: (s := status(state))["steady"] and len(service(s, "web")["tasks"]) == 1 and s,
            30,
            "scaled in to 1",
        )
        msgs = [e["message"] for e in service(st, "web")["events"]]
        assert any("has stopped 2 running tasks" in m for m in msgs), msgs

        victim = service(st, "web")["tasks"][0]["id"]
        out = cli("stop-task", victim, "--state-dir", str(state)).stdout
        assert victim in out
        st = wait_for(
            lambda: (
                (s := status(state))["steady"]
                # the service is steady as soon as the replacement is healthy (the scheduler watches
                # target health), while the stopped task may still be listed as stopping: wait for it to go
                and (ids := [t["id"] for t in service(s, "web")["tasks"]])
                and victim not in ids
                and s
            ),
            30,
            "a replacement of the stopped task",
        )
        assert victim not in {t["id"] for t in service(st, "web")["tasks"]}
        assert get(_lb_url(st))[0] == 200


def test_sigkilled_task_is_replaced_and_traffic_continues(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        url = _lb_url(st)
        results: list[int] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    results.append(get(url, timeout=3)[0])
                except OSError:
                    results.append(0)
                time.sleep(0.02)

        th = threading.Thread(target=load)
        th.start()
        try:
            time.sleep(0.5)
            task = service(st, "web")["tasks"][0]
            pids = [
                p
                for p in processes_of(state)
                if task["id"].encode() in Path(f"/proc/{p}/environ").read_bytes()
            ]
            assert pids
            for p in pids:
                os.kill(p, signal.SIGKILL)
            st2 = wait_for(
                lambda: (
                    (s := status(state))["steady"]
                    and task["id"] not in {t["id"] for t in service(s, "web")["tasks"]}
                    and s
                ),
                30,
                "the killed task replaced",
            )
            n_before = len(results)
            time.sleep(1.0)
        finally:
            stop.set()
            th.join()
        after = results[n_before:]
        assert after and all(c == 200 for c in after), after
        assert results.count(200) / len(results) > 0.9
        stopped_events = [e["message"] for e in service(st2, "web")["events"]]
        assert any("has started 1 tasks" in m for m in stopped_events)


def test_missing_run_setting_is_one_clear_line(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", container="app", image="example/app:1")])
    state = tmp_path / "state"
    # --driver process: with `auto` a Docker engine (when one answers) would run the image instead
    p = up_detached(state, "--template", str(tpl), "--driver", "process", cli_timeout=60)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "container app (image example/app:1) of service web has no local run setting" in lines[0]
    # what to do next: the file to write, and the stand-in
    assert f"add a [containers.app] command to {tmp_path.resolve() / 'albfargate.toml'}" in lines[0]
    assert "--stand-in app" in lines[0] and "--driver docker" in lines[0]
    assert processes_of(state) == []


def test_port_in_use_is_an_error_and_nothing_is_left(tmp_path: Path) -> None:
    import socket

    tpl = make_template(tmp_path / "t.json", [Svc(name="web")])
    state = tmp_path / "state"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        p = up_detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={taken}", timeout=30)
    assert p.returncode != 0
    assert str(taken) in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert_nothing_left(state)


def test_bad_template_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = up_detached(tmp_path / "s", "--template", str(bad), "--stand-in", "*")
    assert p.returncode != 0 and p.stderr.startswith("albfargate: error:"), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_second_up_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}") as st:
        p = up_detached(state, "--template", str(tpl), "--stand-in", "*")
        assert p.returncode == 1
        assert (
            f"a supervisor is already running for {state.resolve()} (pid {st['supervisor_pid']})" in p.stderr
        )
        assert status(state)["supervisor_pid"] == st["supervisor_pid"]


def test_ctrl_c_of_a_foreground_up_stops_everything(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    port = free_port()
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "albfargate.cli",
            "up",
            "--template",
            str(tpl),
            "--stand-in",
            "*",
            "--port",
            f"80={port}",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "every service is steady" in line:
                break
        else:
            raise AssertionError("".join(lines))
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        assert len(processes_of(state)) >= 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130  # 128 + SIGINT, as docs/cli.md says
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_nothing_left(state)
    assert not (state / "supervisor.pid").exists()
    assert list((state / "pids").glob("*.pid")) == []


def test_sigkill_of_the_supervisor_then_up_cleans_up(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2)])
    state = tmp_path / "state"
    args = ("--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}")
    cli("up", *args, "--detach", "--state-dir", str(state))
    st = status(state)
    sup = st["supervisor_pid"]
    orphans = [p for p in processes_of(state) if p != sup]
    assert len(orphans) == 2
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: sup not in processes_of(state), 10, "the supervisor gone")
    assert all(p in processes_of(state) for p in orphans)  # its tasks survived it
    with detached(state, *args) as st2:
        assert st2["supervisor_pid"] != sup
        left = set(processes_of(state))
        assert not (left & set(orphans)), "the new supervisor killed the orphans of the old one"
        assert service(st2, "web")["running"] == 2


def test_logs_of_a_service_and_its_access_log(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="alpha", desired=1), Svc(name="beta", desired=1)])
    state = tmp_path / "state"
    p0, p1 = free_port(), free_port()
    with detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={p0}", "--port", f"81={p1}"
    ):
        assert get(f"http://127.0.0.1:{p0}/from-alpha")[0] == 200
        assert get(f"http://127.0.0.1:{p1}/from-beta")[0] == 200
        out = cli("logs", "alpha", "--state-dir", str(state)).stdout
        assert "stand-in app of task" in out and out.startswith("[")

        def access(name: str) -> str:
            # the access log is written asynchronously: absent at first
            return cli("logs", name, "--access", "--state-dir", str(state), check=False).stdout

        text = wait_for(lambda: "from-alpha" in (a := access("alpha")) and a, 10, "the access log line")
        assert "from-beta" not in text
        assert "from-beta" in wait_for(lambda: access("beta"), 10, "beta's access log")
        bad = cli("logs", "nope", "--state-dir", str(state), check=False)
        assert bad.returncode == 1 and "no service 'nope'; the services are alpha, beta" in bad.stderr
