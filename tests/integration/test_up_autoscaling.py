"""Autoscaling on ALBRequestCountPerTarget with ``--fast-scaling`` (1-second periods): load through the
load balancer scales the service out; when the load stops it scales back in to the minimum."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.up_support import Svc, detached, free_port, make_template, service, status, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_request_count_scales_out_under_load_and_back_in(tmp_path: Path) -> None:
    svc = Svc(
        name="web",
        desired=1,
        autoscaling={"min": 1, "max": 3, "requests_per_target": 600, "cooldown": 60},
    )
    tpl = make_template(tmp_path / "t.json", [svc])
    state = tmp_path / "state"
    port = free_port()
    stop = threading.Event()
    sent = [0]

    def load() -> None:  # ~40 requests/s = 2,400 per minute on one target: 4× the target value
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        while not stop.is_set():
            conn.request("GET", "/")
            conn.getresponse().read()
            sent[0] += 1
            time.sleep(0.025)
        conn.close()

    with detached(state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={port}", "--fast-scaling"):
        th = threading.Thread(target=load)
        th.start()
        try:
            st = wait_for(
                lambda: (s := status(state)) and service(s, "web")["desired"] == 3 and s,
                30,
                "scale-out to the maximum",
                interval=0.5,
            )
        finally:
            stop.set()
            th.join()
        # AlarmHigh needs 3 periods (1 s each) above 600 requests per target per minute, 10 per second:
        # fewer than 30 requests could not have scaled it out (at ~35/s it gets there after about 100)
        assert sent[0] > 3 * 600 / 60
        wait_for(
            lambda: (s := status(state))["steady"] and service(s, "web")["running"] == 3, 30, "3 running"
        )
        st = wait_for(
            lambda: (s := status(state)) and service(s, "web")["desired"] == 1 and s["steady"] and s,
            90,
            "scale-in back to the minimum",
            interval=1.0,
        )
        assert service(st, "web")["running"] == 1


BURN = """
import os, runpy, sys, threading, time
def burn():  # about half a CPU: twice the 256 units (0.25 vCPU) the task definition reserves
    while True:
        t = time.time()
        while time.time() - t < 0.05:
            pass
        time.sleep(0.05)
threading.Thread(target=burn, daemon=True).start()
sys.argv = ["standin", "--port", os.environ["PORT"]]
runpy.run_module("albfargate.ecs.standin", run_name="__main__")
"""


def test_cpu_measured_from_the_task_processes_scales_out(tmp_path: Path) -> None:
    svc = Svc(
        name="web",
        desired=1,
        autoscaling={"min": 1, "max": 2, "metric": "ECSServiceAverageCPUUtilization", "target": 50},
    )
    tpl = make_template(tmp_path / "t.json", [svc])
    (tmp_path / "albfargate.toml").write_text(
        f"[containers.app]\ncommand = {json.dumps([sys.executable, '-c', BURN])}\n"
    )
    state = tmp_path / "state"
    with detached(
        state, "--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", "--fast-scaling"
    ):
        wait_for(lambda: service(status(state), "web")["desired"] == 2, 30, "scale-out on CPU", interval=0.5)
