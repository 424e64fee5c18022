"""The web console's server against ``albfargate up examples/hello --driver process`` (real sockets, the
real supervisor): the URL is printed and in ``status --json``; the topology shows the listener, its rule
and two healthy targets owned by the two tasks; a ``stop-task`` through the console is pushed on the event
stream (the target drains, the task stops, a new task's target turns healthy); an action without the CSRF
token or with a foreign Origin is refused; a foreign Host gets 403; requests appear in the timeline with
traffic series, and one can be replayed."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.integration.console_support import Console, EventReader
from tests.integration.up_support import detached, free_port, get, status, up_detached, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.synth]

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"


def raw(console: Console, head: bytes) -> bytes:
    with socket.create_connection((console.host, console.port), timeout=10) as s:
        s.sendall(head)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_console_on_hello(tmp_path: Path) -> None:
    if not (HELLO / "cdk.json").is_file():
        pytest.skip("examples/hello is not there")
    state = tmp_path / "state"
    port = free_port()
    args = ("--driver", "process", "--port", f"80={port}", "--api-port", "0", "--console-port", "0")
    with detached(state, str(HELLO), *args, timeout=180) as st:
        url = st["console_url"]
        assert url and url.startswith("http://127.0.0.1:") and url.endswith("/")
        console = Console(url)

        # -- the topology: one listener (default rule forwarding to the group), two healthy targets
        topo = console.get("/api/topology")
        (lb,) = topo["load_balancers"]
        (listener,) = lb["listeners"]
        assert listener["local_port"] == port
        assert [r["is_default"] for r in listener["rules"]] == [True]
        assert listener["rules"][0]["actions"][0]["type"] == "forward"
        (tg,) = topo["target_groups"]
        assert tg["health_check"]["path"] == "/health"
        assert [t["state"] for t in tg["targets"]] == ["healthy", "healthy"]
        (svc,) = topo["services"]
        assert tg["services"] == [svc["name"]]
        assert {t["task_id"] for t in tg["targets"]} == {t["id"] for t in svc["tasks"]}
        assert all(t["target_state"] == "healthy" for t in svc["tasks"])

        # -- the guards
        token = console.token()
        victim = svc["tasks"][0]["id"]
        assert console.act("stop-task", {"task_id": victim})[0] == 403  # no token
        status_code, doc = console.act("stop-task", {"task_id": victim}, token="0" * 32)
        assert (status_code, doc["code"]) == (403, "csrf")
        status_code, doc = console.act(
            "stop-task", {"task_id": victim}, token=token, origin="http://evil.example"
        )
        assert (status_code, doc["code"]) == (403, "origin")
        status_code, doc = console.act("stop-task", {"task_id": victim}, token=token, origin=None)
        assert (status_code, doc["code"]) == (403, "origin")
        for path in ("/api/topology", "/", "/api/session"):
            status_code, _, body = console.request(
                "GET", path, headers={"Host": f"evil.example:{console.port}"}
            )
            assert status_code == 403 and json.loads(body)["code"] == "host"
        # a rebinding page cannot read the token either, and nothing changed
        assert len(console.get("/api/topology")["services"][0]["tasks"]) == 2
        assert (
            b"403"
            in raw(
                console, b"GET /api/session HTTP/1.1\r\nHost: attacker.test\r\nConnection: close\r\n\r\n"
            ).split(b"\r\n")[0]
        )
        # the static front end, and no path out of its folder
        status_code, headers, body = console.request("GET", "/")
        assert status_code == 200 and headers["content-type"].startswith("text/html") and b"console" in body
        assert (
            b" 404 "
            in raw(
                console, b"GET /../../pyproject.toml HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )[:40]
        )

        # -- traffic: requests in the timeline, with their series
        stream = EventReader(console, "/api/events?requests=1")
        try:
            stream.wait(lambda n, d: n == "hello", 10, "hello")
            for _ in range(6):
                assert get(f"http://127.0.0.1:{port}/")[0] == 200
            assert get(f"http://127.0.0.1:{port}/nope")[0] == 404
            stream.wait(lambda n, d: n == "request" and d["path"] == "/nope", 10, "the /nope request")
            reqs = console.get("/api/requests")["requests"]
            assert reqs[0]["path"] == "/nope" and reqs[0]["status"] == 404 and reqs[0]["alb_made"] is False
            assert {r["target"] for r in reqs if r["path"] == "/"} == {
                f"{t['id']}:{t['port']}" for t in tg["targets"]
            }
            assert [r["path"] for r in console.get("/api/requests?status=4xx")["requests"]] == ["/nope"]
            metrics = console.get(f"/api/metrics?scope=target_group&id={tg['arn']}")
            (series,) = metrics["series"]
            sampled = [p for p in series["points"] if p["sampled"]]
            assert sum(p["sampled"] for p in sampled) == 7
            assert sum(p["target_2xx"] for p in series["points"]) == 6
            assert sum(p["target_4xx"] for p in series["points"]) == 1
            assert all(p["p50"] is not None and p["p99"] >= p["p50"] for p in sampled)
            status_code, doc = console.act("replay", {"request_id": reqs[0]["id"]}, token=token)
            assert (status_code, doc["status"]) == (200, 404)

            # -- stop a task from the console: pushed, not polled
            status_code, doc = console.act("stop-task", {"task_id": victim}, token=token)
            assert status_code == 200 and doc["task"].endswith(victim)
            seen: dict[str, bool] = {}

            def follow(name: str, d: dict) -> bool:
                if name == "targets":
                    states = {t["task_id"]: t["state"] for t in d["targets"]}
                    if states.get(victim) == "draining":
                        seen["draining"] = True
                    healthy_new = [k for k, v in states.items() if v == "healthy" and k != victim]
                    if len(healthy_new) == 2 and seen.get("draining"):
                        seen["replaced"] = True  # the replacement is healthy (the other task still is)
                if name == "task" and d["task"]["id"] == victim and d["task"]["last_status"] == "STOPPED":
                    seen["stopped"] = True
                return len(seen) == 3

            stream.wait(follow, 120, "draining, then STOPPED and a healthy replacement")
        finally:
            stream.close()
        detail = console.get(f"/api/services/{svc['name']}")
        assert any(t["id"] == victim and t["stop_code"] == "UserInitiated" for t in detail["all_tasks"])
        assert any(
            "has stopped 1 running tasks" in e["message"] or victim in e["message"] for e in detail["events"]
        )
        assert detail["scaling"] is not None and detail["scaling"]["target"]["max"] == 4


def test_console_port_taken_is_an_error_and_no_console_leaves_it_out(tmp_path: Path) -> None:
    if not (HELLO / "cdk.json").is_file():
        pytest.skip("examples/hello is not there")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        state = tmp_path / "taken"
        p = up_detached(
            state,
            str(HELLO),
            "--driver",
            "process",
            "--port",
            f"80={free_port()}",
            "--console-port",
            str(taken),
            timeout=60,
            cli_timeout=300,
        )
        assert p.returncode == 1, p.stdout + p.stderr
        assert f"--console-port {taken}: the port is not available" in p.stderr
    state = tmp_path / "none"
    args = ("--driver", "process", "--port", f"80={free_port()}", "--api-port", "0", "--no-console")
    with detached(state, str(HELLO), *args, timeout=180) as st:
        assert st["console_url"] is None
        wait_for(lambda: status(state)["steady"], 30, "steady")
