"""``redeploy`` under steady load fails zero requests: a bounded load generator sends at least 200
requests/s for 20 s through the local load balancer while a rolling deployment replaces both tasks
(start new, wait healthy, deregister + drain old, then SIGTERM)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest

from tests.integration.up_support import (
    Svc,
    cli,
    detached,
    free_port,
    make_template,
    service,
    status,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATE = 250  # requests/s, spread over the workers
DURATION = 20.0
WORKERS = 5


def load(port: int, stop_at: float, results: list[tuple[int, str]], lock: threading.Lock) -> None:
    per_worker = RATE / WORKERS
    conn: http.client.HTTPConnection | None = None
    n = 0
    start = time.monotonic()
    while time.monotonic() < stop_at:
        due = start + n / per_worker
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        n += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/load")
            resp = conn.getresponse()
            body = resp.read()
            task = json.loads(body)["task"] if resp.status == 200 else ""
            item = (resp.status, task)
            if resp.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            item = (0, repr(exc))
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            results.append(item)
    if conn is not None:
        conn.close()


def test_redeploy_under_load_fails_zero_requests(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2, dereg_delay=2)])
    state = tmp_path / "state"
    port = free_port()
    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={port}") as st:
        before = {t["id"] for t in service(st, "web")["tasks"]}
        results: list[tuple[int, str]] = []
        lock = threading.Lock()
        t0 = time.monotonic()
        stop_at = t0 + DURATION
        threads = [threading.Thread(target=load, args=(port, stop_at, results, lock)) for _ in range(WORKERS)]
        for th in threads:
            th.start()
        try:
            time.sleep(3)
            cli("redeploy", "web", "--state-dir", str(state))
            done = wait_for(
                lambda: (
                    (s := status(state))["steady"]
                    and not ({t["id"] for t in service(s, "web")["tasks"]} & before)
                    and s
                ),
                DURATION - 4,
                "the new deployment steady with only new tasks",
                interval=0.5,
            )
        finally:
            for th in threads:
                th.join()
        elapsed = time.monotonic() - t0
        failures = [r for r in results if r[0] != 200]
        rate = len(results) / elapsed
        served_by = {task for code, task in results if code == 200}
        after = {t["id"] for t in service(done, "web")["tasks"]}
        print(f"requests {len(results)} in {elapsed:.1f} s = {rate:.0f}/s; failures {len(failures)}")
        assert not failures, failures[:10]
        assert rate >= 200
        assert before <= served_by and after <= served_by  # traffic moved from the old to the new tasks
        msgs = [e["message"] for e in service(done, "web")["events"]]
        assert any("deployment completed" in m for m in msgs)
        assert any("has begun draining connections on 1 tasks" in m for m in msgs)
