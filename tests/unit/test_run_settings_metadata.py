"""The run setting a deployed template carries (the construct's ``albfargate:run-settings`` Metadata on the
task definition): read into the model by the built-in item hook, round-tripped through JSON, preferred by
the process driver over the app's own file, and counted as a run setting (no --stand-in needed)."""

from __future__ import annotations

import json
from pathlib import Path

from albfargate.cfn.hooks import apply_item_hooks
from albfargate.engine import container_run_setting, missing_run_settings
from albfargate.model import ContainerDefinition, Service, SystemModel, TaskDefinition
from albfargate.model.ecs import RUN_SETTINGS_METADATA
from albfargate.runsettings import ContainerRunSetting, RunSettings, from_template, to_template

TD_ARN = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
SETTING = {
    "command": ["python3", "server.py"],
    "workdir": "/srv/app/service",
    "env": {"A": "1"},
    "port_env": "PORT",
}


def td(*containers: ContainerDefinition) -> TaskDefinition:
    return TaskDefinition(TD_ARN, "web", 1, containers)


def test_the_hook_reads_the_metadata_into_the_containers() -> None:
    item = td(ContainerDefinition("web", "img"), ContainerDefinition("sidecar", "img2"))
    resource = {"Type": "AWS::ECS::TaskDefinition", "Metadata": {RUN_SETTINGS_METADATA: {"web": SETTING}}}
    out = apply_item_hooks(item, resource)
    assert isinstance(out, TaskDefinition)
    web, sidecar = out.containers
    assert json.loads(web.run_setting or "") == SETTING and sidecar.run_setting is None
    # nothing to read: the item as it was
    assert apply_item_hooks(item, {"Type": "AWS::ECS::TaskDefinition"}) is item
    assert apply_item_hooks(item, {"Metadata": {RUN_SETTINGS_METADATA: "nonsense"}}) is item


def test_round_trip_through_the_template() -> None:
    setting = ContainerRunSetting("web", ("python3", "server.py"), Path("/srv/app/service"), port_env=None)
    back = from_template("web", json.dumps(to_template(setting)))
    assert back == setting
    shell = ContainerRunSetting("web", "exec python3 -m http.server", Path("/srv/html"))
    assert from_template("web", json.dumps(to_template(shell))) == shell


def test_the_template_s_setting_comes_first_and_counts() -> None:
    c = ContainerDefinition("web", "img", run_setting=json.dumps(SETTING))
    app = RunSettings(app_dir=Path("/elsewhere"))
    chosen = container_run_setting(c, app)
    assert (
        chosen is not None and chosen.workdir == Path("/srv/app/service") and dict(chosen.env) == {"A": "1"}
    )
    assert container_run_setting(ContainerDefinition("web", "img"), app) is None
    svc = Service(
        arn="arn:aws:ecs:us-east-1:000000000000:service/c/web",
        name="web",
        cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/c",
        cluster_name="c",
        task_definition_arn=TD_ARN,
    )
    assert missing_run_settings(SystemModel(services=(svc,), task_definitions=(td(c),)), None, ()) == []
    bare = SystemModel(services=(svc,), task_definitions=(td(ContainerDefinition("web", "img")),))
    assert len(missing_run_settings(bare, None, ())) == 1
