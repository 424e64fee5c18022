"""Health-driven replacement and secrets, end to end through ``albfargate up``: a task whose target fails
the load balancer's health checks is reported and replaced (§7.6); a container failing its container
health check is stopped and replaced (§6.5); secrets reach the process from the local secrets file and
their values appear nowhere else."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.up_support import (
    Svc,
    cli,
    detached,
    down_after,
    free_port,
    make_template,
    service,
    status,
    up_detached,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STANDIN = f'["{sys.executable}", "-m", "albfargate.ecs.standin", "--container", "app"]'


def test_target_failing_elb_health_checks_is_replaced(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, hc_path="/health?status=503")])
    state = tmp_path / "state"
    p = up_detached(
        state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=3
    )
    with down_after(state):
        assert p.returncode == 1  # never steady: every target fails its health checks
        assert "not steady" in p.stderr
        first = None

        def replaced() -> bool:
            nonlocal first
            st = status(state)
            msgs = [e["message"] for e in service(st, "web")["events"]]
            if first is None and service(st, "web")["tasks"]:
                first = service(st, "web")["tasks"][0]["id"]
            return any(
                f"(task {first}) (port 8080) is unhealthy in (target-group" in m for m in msgs
            ) and any("has stopped 1 running tasks" in m for m in msgs)

        wait_for(
            replaced, 60, "the unhealthy target reported and its task stopped", interval=0.5, state=state
        )
        st = status(state)
        msgs = [e["message"] for e in service(st, "web")["events"]]
        unhealthy = next(m for m in msgs if "is unhealthy in" in m)
        assert "due to (reason " in unhealthy and unhealthy.endswith(".")


def test_container_failing_its_health_check_is_replaced(tmp_path: Path) -> None:
    hc = {"Command": ["CMD-SHELL", "exit 1"], "Interval": 5, "Timeout": 2, "Retries": 1, "StartPeriod": 0}
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, health_check=hc)])
    (tmp_path / "albfargate.toml").write_text(f"[containers.app]\ncommand = {STANDIN}\n")
    state = tmp_path / "state"
    p = up_detached(
        state, "--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", timeout=3
    )
    with down_after(state):
        assert p.returncode == 1, p.stderr

        def failed() -> str | None:
            st = status(state)
            return next(
                (
                    m
                    for m in (e["message"] for e in service(st, "web")["events"])
                    if "failed container health checks" in m
                ),
                None,
            )

        # the first check is due 5 s after the start (Interval), so this is slack for a loaded machine
        msg = wait_for(failed, 60, "the container health check failure event", interval=0.5, state=state)
        assert msg.startswith("(service web) (task ") and msg.endswith(") failed container health checks.")


def test_secrets_reach_the_process_and_nowhere_else(tmp_path: Path) -> None:
    value = "s3cr3t-value-4242"
    arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, secrets=[("DB_PASSWORD", arn)])])
    out = tmp_path / "env.json"
    code = (
        "import json,os,runpy,sys; "
        f"json.dump({{'DB_PASSWORD': os.environ.get('DB_PASSWORD')}}, open({str(out)!r}, 'w')); "
        "sys.argv=['standin','--port',os.environ['PORT']]; "
        "runpy.run_module('albfargate.ecs.standin', run_name='__main__')"
    )
    (tmp_path / "albfargate.toml").write_text(
        f"[containers.app]\ncommand = {json.dumps([sys.executable, '-c', code])}\n"
        '[secrets]\nfile = "secrets.local.toml"\n'
    )
    (tmp_path / "secrets.local.toml").write_text(f'"{arn}" = "{value}"\n')
    state = tmp_path / "state"
    with detached(state, "--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}") as st:
        assert json.loads(out.read_text()) == {"DB_PASSWORD": value}
        text = json.dumps(st) + cli("status", "--state-dir", str(state)).stdout
        text += cli("logs", "web", "--state-dir", str(state)).stdout
        text += (state / "supervisor.log").read_text()
        assert value not in text


def test_missing_secret_fails_the_task_without_a_value(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:missing-1"
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1, secrets=[("TOKEN", arn)])])
    (tmp_path / "albfargate.toml").write_text(f"[containers.app]\ncommand = {STANDIN}\n")
    state = tmp_path / "state"
    p = up_detached(
        state, "--template", str(tpl), "--driver", "process", "--port", f"80={free_port()}", timeout=3
    )
    with down_after(state):
        assert p.returncode == 1
        assert "ResourceInitializationError: unable to retrieve secret TOKEN" in p.stderr, p.stderr
