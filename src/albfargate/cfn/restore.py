"""The stacks recorded in a state directory, as a model ``up`` runs again: every live resource of every
deployed stack read from its recorded template, parameters and physical ids (a task definition keeps its
registered revision), so after a restart the system runs what CloudFormation deployed and a second
deploy updates it rather than creating it again. A stack caught in the middle of an update comes back as
it was before the update (the stack engine then finishes the rollback: ``StackEngine.recover``).

Pure apart from reading the state directory."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from albfargate.assembly import model_from_items
from albfargate.cfn.evaluate import EvaluationError, RecordingExports, StackContext, evaluate
from albfargate.cfn.model import ResourceStatus, StackRecord
from albfargate.cfn.persist import StackStore
from albfargate.cfn.statuses import deployed_of
from albfargate.model import SystemModel, TaskDefinition
from albfargate.model.backing import Database


def state_root(state_dir: Path) -> Path:
    return Path(state_dir) / "cloudformation"


def _recorded(item: object, physical_id: str) -> object:
    if isinstance(item, Database):  # its data is named by its identifier, as when it was made
        return dataclasses.replace(item, data_name=physical_id)
    if isinstance(item, TaskDefinition):
        revision = physical_id.rsplit(":", 1)[-1]
        return dataclasses.replace(item, arn=physical_id, revision=int(revision) if revision.isdigit() else 1)
    return item


def stacks_model(stacks: Iterable[StackRecord], *, skip: Iterable[str] = ()) -> tuple[SystemModel, list[str]]:
    """The model of what ``stacks`` run (see the module docstring) and one note per stack left out."""
    skipped = set(skip)
    stacks = list(stacks)
    exports: dict[str, Any] = {}
    for stack in stacks:
        deployed = deployed_of(stack)
        for o in deployed.outputs if deployed is not None else ():
            if o.export_name:
                exports[o.export_name] = o.value
    items: list[object] = []
    names: list[str] = []
    notes: list[str] = []
    for stack in stacks:
        deployed = deployed_of(stack)
        if deployed is None or not deployed.resources:
            continue
        if stack.name in skipped:
            notes.append(
                f"CloudFormation stack {stack.name} is not run: the app has a stack of the same name"
            )
            continue
        ctx = StackContext(
            stack.name,
            stack.stack_id,
            deployed.template,
            deployed.parameters,
            records=deployed.resources,
            exports=RecordingExports(exports),
        )
        names.append(stack.name)
        for logical_id, record in deployed.resources.items():
            if not record.live or record.physical_id is None:
                continue
            if record.status in (ResourceStatus.DELETE_COMPLETE, ResourceStatus.CREATE_FAILED):
                continue
            try:
                evaluated = evaluate(ctx, logical_id)
            except EvaluationError as exc:
                notes.append(f"CloudFormation stack {stack.name}, resource {logical_id} is not run: {exc}")
                continue
            items.extend(_recorded(i, record.physical_id) for i in evaluated.items)
    return model_from_items(items, stacks=names), notes


def merged(model: SystemModel, extra: SystemModel) -> SystemModel:
    """``model`` with everything of ``extra`` added (tuples concatenated, field by field)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(SystemModel):
        values[f.name] = tuple(getattr(model, f.name)) + tuple(getattr(extra, f.name))
    seen: set[str] = set()
    clusters = []
    for c in values["clusters"]:  # a cluster named by services of both (``default``) is one cluster
        if c.arn not in seen:
            seen.add(c.arn)
            clusters.append(c)
    values["clusters"] = tuple(clusters)
    return SystemModel(**values)


def with_deployed_stacks(model: SystemModel, state_dir: Path) -> tuple[SystemModel, list[str]]:
    """``model`` (what ``up`` read from the app, or nothing) plus the CloudFormation stacks recorded in
    ``state_dir``; a recorded stack whose name the app also has is left out (noted)."""
    store = StackStore(state_root(state_dir))
    recorded, notes = stacks_model(store.load(), skip=model.stacks)
    if not recorded.stacks:
        return model, [*store.warnings, *notes]
    return merged(model, recorded), [*store.warnings, *notes]
