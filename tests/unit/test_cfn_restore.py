"""``up`` runs the stacks recorded in the state directory again (cfn/restore.py through
commands/up.py's build_config): their live resources join the model the app gives, a task definition
keeps its registered revision, a stack named like one of the app's is left out with a note."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from albfargate.cfn.persist import StackStore
from albfargate.cfn.restore import state_root, with_deployed_stacks
from albfargate.cfn.stacks import DeployRequest, StackEngine
from albfargate.cli import build_parser
from albfargate.commands.up import build_config
from albfargate.model import SystemModel
from tests.cfn_templates import body, service_template, tg_template
from tests.unit.cfn_fakes import Clock, FakeSystem, counter_ids


def deploy(state_dir: Path, name: str, template: dict, *, updates: int = 0) -> None:  # type: ignore[type-arg]
    async def go() -> None:
        engine = StackEngine(
            FakeSystem(), store=StackStore(state_root(state_dir)), clock=Clock(), new_id=counter_ids()
        )
        engine.create_stack(name, DeployRequest(template_body=body(template)))
        await engine.idle()
        for n in range(updates):
            engine.update_stack(name, DeployRequest(template_body=body(service_template(env=str(n + 2)))))
            await engine.idle()
        await engine.close()

    asyncio.run(go())


def test_the_recorded_stacks_join_the_model_with_their_revisions(tmp_path: Path) -> None:
    deploy(tmp_path, "Web", service_template(), updates=2)
    model, notes = with_deployed_stacks(SystemModel(), tmp_path)
    assert notes == [] and model.stacks == ("Web",)
    (td,) = model.task_definitions
    assert (td.family, td.revision) == ("cfnweb", 3)
    assert model.services[0].task_definition_arn == td.arn
    assert [lb.name for lb in model.load_balancers] and len(model.listeners) == 1
    assert [c.name for c in model.clusters] == ["cfn"]


def test_up_brings_the_recorded_stacks_back(tmp_path: Path) -> None:
    state = tmp_path / "state"
    deploy(state, "Slice", tg_template())
    app_template = tmp_path / "app.json"
    app_template.write_text(json.dumps(service_template()))
    args = build_parser().parse_args(["up", "--template", str(app_template), "--state-dir", str(state)])
    config = build_config(args)
    assert config.model.stacks == ("app", "Slice")
    assert len(config.model.target_groups) == 2


def test_a_recorded_stack_named_like_the_apps_is_left_out(tmp_path: Path) -> None:
    deploy(tmp_path, "app", tg_template())
    app = SystemModel(stacks=("app",))
    model, notes = with_deployed_stacks(app, tmp_path)
    assert model == app
    assert notes == ["CloudFormation stack app is not run: the app has a stack of the same name"]


def test_an_item_hook_changes_what_is_deployed_and_what_up_brings_back(tmp_path: Path) -> None:
    import dataclasses

    from albfargate.cfn import providers
    from albfargate.model import TaskDefinition

    def local_image(item: object, resource: dict) -> object:  # type: ignore[type-arg]
        if isinstance(item, TaskDefinition):
            c = item.containers[0]
            return dataclasses.replace(
                item, containers=(dataclasses.replace(c, image="127.0.0.1:5000/web:1"),)
            )
        return item

    providers.register_item_hook(local_image)
    try:
        system = FakeSystem()

        async def go() -> None:
            engine = StackEngine(
                system, store=StackStore(state_root(tmp_path)), clock=Clock(), new_id=counter_ids()
            )
            engine.create_stack("Web", DeployRequest(template_body=body(service_template())))
            await engine.idle()
            await engine.close()

        asyncio.run(go())
        assert [td.containers[0].image for td in system.tds.values()] == ["127.0.0.1:5000/web:1"]
        model, _ = with_deployed_stacks(SystemModel(), tmp_path)
        assert [td.containers[0].image for td in model.task_definitions] == ["127.0.0.1:5000/web:1"]
    finally:
        providers.unregister_item_hook(local_image)
    model, _ = with_deployed_stacks(SystemModel(), tmp_path)
    assert [td.containers[0].image for td in model.task_definitions] == ["example/web:1"]


def test_the_record_is_crash_safe_and_an_unreadable_one_is_kept_aside(tmp_path: Path) -> None:
    deploy(tmp_path, "Slice", tg_template())
    stacks_dir = state_root(tmp_path) / "stacks"
    (record,) = stacks_dir.glob("*.json")
    # a crash in the middle of a write leaves the temporary file, never a torn record
    (stacks_dir / (record.stem + ".json.tmp")).write_text('{"format": "albfargate.cloudform')
    store = StackStore(state_root(tmp_path))
    assert [s.name for s in store.load()] == ["Slice"] and store.warnings == []
    (stacks_dir / "broken.json").write_text("{not json")
    store = StackStore(state_root(tmp_path))
    assert [s.name for s in store.load()] == ["Slice"]
    assert len(store.warnings) == 1 and "cannot be read" in store.warnings[0]
    assert (stacks_dir / "broken.json.unreadable").read_text() == "{not json"
    model, notes = with_deployed_stacks(SystemModel(), tmp_path)
    assert model.stacks == ("Slice",) and notes == []
