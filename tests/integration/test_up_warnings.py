"""``up`` checks its input before it starts, through the real command (issue 12): one summary line of
what is not emulated and a clear warning for an empty template (item 15); a ``--port`` override for a
listener the app does not have is an error (item 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .up_support import Svc, down_after, free_port, make_template, up_detached

pytestmark = pytest.mark.integration


def test_up_prints_one_summary_of_what_is_not_emulated(tmp_path: Path) -> None:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    template = json.loads(tpl.read_text())
    template["Resources"]["Queue1"] = {"Type": "AWS::SQS::Queue"}
    template["Resources"]["Queue2"] = {"Type": "AWS::SQS::Queue"}
    template["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic"}
    tpl.write_text(json.dumps(template))
    state = tmp_path / "state"
    with down_after(state):
        p = up_detached(
            state, "--template", str(tpl), "--stand-in", "*", "--port", f"80={free_port()}", timeout=60
        )
        assert p.returncode == 0, p.stderr
        warnings = [line for line in p.stderr.splitlines() if line.startswith("albfargate: warning:")]
        assert warnings == [
            "albfargate: warning: 3 resources not emulated: AWS::SQS::Queue x2, AWS::SNS::Topic "
            "(`albfargate describe` lists them)"
        ]


def test_up_warns_about_an_empty_template(tmp_path: Path) -> None:
    tpl = tmp_path / "empty.json"
    tpl.write_text(json.dumps({"Resources": {}}))
    state = tmp_path / "state"
    with down_after(state):
        p = up_detached(state, "--template", str(tpl), timeout=60)
        assert "albfargate: warning: the template has no resources: nothing to run" in p.stderr.splitlines()


def test_up_refuses_a_port_override_for_a_listener_the_app_does_not_have(tmp_path: Path) -> None:
    """Issue 12, item 11: `--port 81=9000` was ignored silently; now one line names the listener ports."""
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=1)])
    state = tmp_path / "state"
    with down_after(state):
        p = up_detached(state, "--template", str(tpl), "--stand-in", "*", "--port", "81=9000", timeout=30)
        assert p.returncode == 2
        assert p.stderr.strip().splitlines() == [
            "albfargate: error: --port 81=9000: the app has no listener on port 81; its listeners are on 80"
        ]
        assert not (state / "supervisor.json").exists()
