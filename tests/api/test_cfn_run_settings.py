"""A deployed template that carries a run setting (the construct's ``albfargate:run-settings`` task
definition Metadata, written when the app is synthesized against a local endpoint) runs with the process
driver and no --stand-in: the service's tasks are the app's own command, answering through the local ALB;
the setting comes back with the stack after a restart. A template without one and no stand-in fails the
service, which rolls the stack back with the reason."""

from __future__ import annotations

import copy
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from albfargate.model.ecs import RUN_SETTINGS_METADATA
from tests.api.cfn_live import FAST, cfn_engine
from tests.cfn_templates import body, service_template
from tests.integration.up_support import get, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def with_run_setting(site: Path) -> dict[str, Any]:
    template = copy.deepcopy(service_template(desired=1))
    template["Resources"]["TaskDef"]["Metadata"] = {
        RUN_SETTINGS_METADATA: {
            "web": {
                "command": 'exec python3 -m http.server --bind 127.0.0.1 "$PORT"',
                "workdir": str(site),
                "env": {},
                "port_env": "PORT",
            }
        }
    }
    return template


def test_the_template_s_run_setting_runs_the_app_with_the_process_driver(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<h1>from the run setting</h1>\n")
    with cfn_engine(tmp_path / "state", stand_in=()) as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Site", TemplateBody=body(with_run_setting(site)))
        cfn.get_waiter("stack_create_complete").wait(StackName="Site", WaiterConfig=FAST)
        with urllib.request.urlopen(live.lb_url + "/", timeout=5) as r:
            assert r.read() == b"<h1>from the run setting</h1>\n"
    with cfn_engine(tmp_path / "state", stand_in=()) as live:  # brought back from the record
        # the task starts again and its target must pass its health checks first (503 until then)
        page = wait_for(lambda: get(live.lb_url + "/")[1] if get(live.lb_url + "/")[0] == 200 else None, 60,
                        "the restarted task to answer")  # fmt: skip
        assert b"from the run setting" in page
        live.client("cloudformation").delete_stack(StackName="Site")
        live.client("cloudformation").get_waiter("stack_delete_complete").wait(
            StackName="Site", WaiterConfig=FAST
        )


def test_without_a_run_setting_or_stand_in_the_create_rolls_back(tmp_path: Path) -> None:
    template = service_template(desired=1)
    with cfn_engine(tmp_path / "state", stand_in=()) as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Bare", TemplateBody=json.dumps(template))
        with pytest.raises(Exception, match=r"ROLLBACK_COMPLETE|failed"):
            cfn.get_waiter("stack_create_complete").wait(StackName="Bare", WaiterConfig=FAST)
        events = cfn.describe_stack_events(StackName="Bare")["StackEvents"]
        reasons = [e.get("ResourceStatusReason") or "" for e in events if e["LogicalResourceId"] == "Service"]
        assert any("run setting" in r or "Circuit Breaker" in r for r in reasons), reasons
