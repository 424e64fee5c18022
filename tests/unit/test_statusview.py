"""The status view reads right (issue 12, item 20): a service that is not steady is never shown as
"ACTIVE" but as ``deploying 1/2``, ``scaling 1/3``, ``failed: <reason>``...; ARNs are shown short so lines
do not wrap (the full ones stay in --json); colour only into a terminal, never with NO_COLOR. Also the
progress lines of ``up --detach`` (issue 12, item 17): one line per change, and a FAILED rollout found."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from albfargate.statusview import (
    failed_rollouts,
    progress,
    render_view,
    service_progress,
    service_state,
    short_arn,
    short_text,
    should_colour,
)

TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg-web/6da1cc866712cfb3"
T1, T2 = "2b034406343148ecba039300e0eceed2", "c568435cd7e94350b63cbdbbc8b791c6"


def task(tid: str, dep: str, target_state: str | None = "healthy") -> dict[str, Any]:
    return {
        "id": tid,
        "last_status": "RUNNING",
        "desired_status": "RUNNING",
        "health": "UNKNOWN",
        "target": "127.0.0.1:40123",
        "target_state": target_state,
        "target_reason": None,
        "deployment": dep,
    }


def svc(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "web",
        "arn": "arn:aws:ecs:us-east-1:000000000000:service/test/web",
        "status": "ACTIVE",
        "target_groups": [TG],
        "desired": 2,
        "running": 2,
        "pending": 0,
        "steady": True,
        "deployments": [
            {
                "id": "ecs-svc/1",
                "status": "PRIMARY",
                "rollout_state": "COMPLETED",
                "rollout_state_reason": "ECS deployment ecs-svc/1 completed.",
                "task_definition": "arn:aws:ecs:us-east-1:000000000000:task-definition/fam-web:1",
            }
        ],
        "tasks": [task(T1, "ecs-svc/1"), task(T2, "ecs-svc/1")],
        "events": [
            {"created_at": 0.0, "message": f"(service web) registered 1 targets in (target-group {TG})"},
            {"created_at": 0.0, "message": f"(service web) has started 2 tasks: (task {T1}) (task {T2})."},
        ],
    }
    base.update(kw)
    return base


def deploying() -> dict[str, Any]:
    s = svc(steady=False)
    s["deployments"] = [
        {**s["deployments"][0], "id": "ecs-svc/2", "rollout_state": "IN_PROGRESS"},
        {**s["deployments"][0], "status": "ACTIVE"},
    ]
    s["tasks"] = [task(T1, "ecs-svc/1"), task(T2, "ecs-svc/2"), task("f" * 32, "ecs-svc/2", "initial")]
    return s


def test_service_words() -> None:
    assert service_state(svc()) == ("steady", "good")
    assert service_state(deploying()) == ("deploying 1/2", "warn")
    scaling = svc(steady=False, desired=3)
    assert service_state(scaling) == ("scaling 2/3", "warn")
    unhealthy = svc(steady=False, tasks=[task(T1, "ecs-svc/1"), task(T2, "ecs-svc/1", "unhealthy")])
    assert service_state(unhealthy) == ("waiting 1/2 healthy", "warn")
    failed = svc(steady=False)
    failed["deployments"][0].update(
        rollout_state="FAILED", rollout_state_reason="ECS deployment circuit breaker: tasks failed to start."
    )
    assert service_state(failed) == ("failed: ECS deployment circuit breaker: tasks failed to start.", "bad")
    assert service_state(svc(status="DRAINING", steady=False)) == ("draining", "warn")


def test_a_service_that_is_not_steady_is_never_shown_as_active() -> None:
    text = render_view({"load_balancers": [], "services": [deploying()]})
    assert "ACTIVE  " not in text.split("deployment")[0]
    assert "  web  deploying 1/2  desired 2  running 2  pending 0  healthy 2" in text


def test_short_arns() -> None:
    assert short_arn(TG) == "tg-web"
    assert short_arn("arn:aws:ecs:us-east-1:000000000000:task-definition/fam-web:3") == "fam-web:3"
    assert short_arn(f"arn:aws:ecs:us-east-1:000000000000:task/test/{T1}") == T1[:8]
    assert short_arn("arn:aws:ecs:us-east-1:000000000000:service/test/web") == "web"
    assert (
        short_arn(
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/lb-web/50dc6c495c0c9188"
        )
        == "lb-web"
    )
    assert (
        short_text(f"registered 1 targets in (target-group {TG})")
        == "registered 1 targets in (target-group tg-web)"
    )
    assert short_text(f"(task {T1}) (task {T2}).") == f"(task {T1[:8]}) (task {T2[:8]})."


def test_the_text_view_keeps_arns_short_and_lines_within_the_terminal() -> None:
    status = {
        "load_balancers": [{"name": "lb-web", "scheme": "internet-facing", "listeners": []}],
        "services": [svc()],
        "not_steady": [],
    }
    text = render_view(status, stamp=lambda t: "12:00:00")
    assert "arn:aws" not in text and T1 not in text and T1[:8] in text
    assert "deployment ecs-svc/1 PRIMARY COMPLETED fam-web:1" in text
    assert "12:00:00 (service web) registered 1 targets in (target-group tg-web)" in text
    narrow = render_view(status, width=40, stamp=lambda t: "12:00:00")
    assert all(len(line) <= 40 for line in narrow.splitlines()), narrow
    assert any(line.endswith("…") for line in narrow.splitlines())
    assert max(len(line) for line in render_view(status).splitlines()) > 40  # no width: full lines


def test_colour() -> None:
    status = {"load_balancers": [], "services": [svc()]}
    plain = render_view(status)
    coloured = render_view(status, colour=True)
    assert "\x1b[" not in plain
    assert "\x1b[32msteady\x1b[0m" in coloured and "\x1b[32mhealthy\x1b[0m" in coloured
    assert render_view(status, colour=True, width=200).count("\x1b[0m") == coloured.count("\x1b[0m")


@pytest.mark.parametrize(
    ("isatty", "environ", "expected"),
    [
        (True, {}, True),
        (False, {}, False),  # never into a pipe
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # no-color.org: set and not empty
        (True, {"TERM": "dumb"}, False),
    ],
)
def test_should_colour(isatty: bool, environ: dict[str, str], expected: bool) -> None:
    assert should_colour(isatty, environ) is expected


def test_progress_lines_only_on_change() -> None:
    s = deploying()
    seen, lines = progress({}, {"services": [s]})
    assert lines == [
        "service web: tasks 2/2 running, targets 2/2 healthy, rollout IN_PROGRESS, 2 deployments"
    ]
    assert progress(seen, {"services": [copy.deepcopy(s)]})[1] == []  # nothing changed: no line
    done = svc()
    seen, lines = progress(seen, {"services": [done]})
    assert lines == ["service web: tasks 2/2 running, targets 2/2 healthy, rollout COMPLETED, steady"]
    assert service_progress(svc(target_groups=[], pending=1, running=1, steady=False)) == (
        "service web: tasks 1/2 running (1 pending), rollout COMPLETED"
    )


def test_failed_rollouts() -> None:
    ok = {"services": [svc(), deploying()], "not_steady": []}
    assert failed_rollouts(ok) == []
    failed = svc(steady=False, running=0, tasks=[])
    failed["deployments"][0].update(
        rollout_state="FAILED", rollout_state_reason="ECS deployment circuit breaker: tasks failed to start."
    )
    why = "service web: 0/2 running; rollout FAILED; last stopped task: exited with code 3"
    (line,) = failed_rollouts({"services": [failed], "not_steady": [why]})
    assert line == (
        "the rollout of service web FAILED: ECS deployment circuit breaker: tasks failed to start. "
        "(0/2 running; rollout FAILED; last stopped task: exited with code 3)"
    )


def test_dropped_log_lines_and_the_write_error_are_shown() -> None:
    s = svc(log_lines_dropped=320)
    s["tasks"][0]["log_lines_dropped"] = 160
    doc = {
        "services": [s],
        "load_balancers": [],
        "log_lines_dropped": 320,
        "log_write_error": "No space left on device",
    }
    text = render_view(doc)
    assert "  web  steady  desired 2  running 2  pending 0  healthy 2  log lines dropped 320" in text
    task_line = next(ln for ln in text.splitlines() if ln.startswith(f"    task {T1[:8]}"))
    assert task_line.endswith("log lines dropped 160")
    assert "LOGS  task output cannot be written (No space left on device): 320 lines dropped" in text
    clean = render_view({"services": [svc()], "load_balancers": [], "log_lines_dropped": 0})
    assert "dropped" not in clean and "LOGS" not in clean


def test_orphans_are_listed_with_what_to_do() -> None:
    doc = {
        "services": [svc()],
        "load_balancers": [],
        "orphans": [
            {"pid": 4321, "task_id": "f" * 32, "container": "app", "command": "sleep 1000"},
            {"pid": 4400, "task_id": None, "container": None, "command": "postgres"},
        ],
    }
    lines = render_view(doc).splitlines()
    at = lines.index("ORPHANS  processes of this state dir that belong to no running task")
    assert lines[at + 1 : at + 4] == [
        "  pid 4321 task ffffffff container app: sleep 1000",
        "  pid 4400: postgres",
        "  `albfargate down` kills them (or kill PID)",
    ]
    assert "ORPHANS" not in render_view({"services": [svc()], "load_balancers": [], "orphans": []})
