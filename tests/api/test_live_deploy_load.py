"""``UpdateService --force-new-deployment`` under steady load fails zero requests: a bounded load
generator keeps requesting through the local ALB while boto3 rolls the service and waits for
services-stable; every request must succeed, and the tasks serving at the end must be new ones."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import Live, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

MAX_SECONDS = 90.0  # the load stops after this whatever happens
CONNECTIONS = 4


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_engine(tmp_path / "state") as lv:
        yield lv


class Load:
    """``CONNECTIONS`` keep-alive clients requesting ``/`` until stopped (or MAX_SECONDS)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.tasks: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CONNECTIONS)]

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        deadline = time.time() + MAX_SECONDS
        while not self.stop.is_set() and time.time() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(*self.addr, timeout=10)
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read()
                with self.lock:
                    if r.status == 200:
                        self.ok += 1
                        self.tasks.append(json.loads(body)["task"])
                    else:
                        self.failures.append(f"HTTP {r.status}")
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(repr(exc))
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)


def test_force_new_deployment_under_load_fails_zero_requests(live: Live) -> None:
    ecs = live.client("ecs")
    waiter = ecs.get_waiter("services_stable")
    waiter.wait(cluster="live", services=["web"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
    live.client("elbv2").get_waiter("target_in_service").wait(
        TargetGroupArn="arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-tg/" + _tg_id(),
        WaiterConfig={"Delay": 0.5, "MaxAttempts": 60},
    )
    old = set(ecs.list_tasks(cluster="live", serviceName="web")["taskArns"])
    with Load(live.lb_url) as load:
        time.sleep(2)
        before_deploy = load.ok
        out = ecs.update_service(cluster="live", service="web", forceNewDeployment=True)
        assert [d["status"] for d in out["service"]["deployments"]][:1] == ["PRIMARY"]
        waiter.wait(cluster="live", services=["web"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 150})
        new = set(ecs.list_tasks(cluster="live", serviceName="web")["taskArns"])
        time.sleep(2)
    print(f"load: {load.ok} requests ok, {len(load.failures)} failed")
    assert load.failures == [], load.failures[:5]
    assert before_deploy > 0 and load.ok > before_deploy + 50, load.ok
    assert new.isdisjoint(old) and len(new) == 2
    new_ids = {a.rsplit("/", 1)[1] for a in new}
    assert set(load.tasks[-20:]) <= new_ids  # the last requests were served by the new tasks


def _tg_id() -> str:
    from albfargate.model.ids import hex_id

    return hex_id("web-tg")
