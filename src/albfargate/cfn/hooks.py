"""Item hooks: another module's say in the model objects a deployed stack's resources become, applied
when a stack is deployed and when ``up`` brings it back (``cfn.evaluate.evaluate`` calls them). For
example an image URI of the template mapped to a local registry, or a run setting read from the
resource's ``Metadata``. Registered through ``albfargate.cfn.providers.register_item_hook``.

Pure: the registry holds callables; what a hook does is its own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from albfargate.model.ecs import RUN_SETTINGS_METADATA, TaskDefinition

#: (item, the resource's raw template entry) -> item: applied to every model object the assembly makes
#: of a stack's resource, when it is deployed and when ``up`` brings it back (e.g. an image URI of the
#: template mapped to the local registry, a run setting read from the resource's Metadata)
ItemHook = Callable[[object, Mapping[str, Any]], object]
_HOOKS: list[ItemHook] = []


def register_item_hook(hook: ItemHook) -> None:
    if hook not in _HOOKS:
        _HOOKS.append(hook)


def unregister_item_hook(hook: ItemHook) -> None:
    if hook in _HOOKS:
        _HOOKS.remove(hook)


def run_settings_from_metadata(item: object, resource: Mapping[str, Any]) -> object:
    """The built-in hook: a task definition's containers get the local run settings its resource's
    ``Metadata`` carries (``model.ecs.RUN_SETTINGS_METADATA``), so the process driver runs a deployed app
    as ``up`` runs it from its own run setting file."""
    if not isinstance(item, TaskDefinition):
        return item
    metadata = resource.get("Metadata")
    settings = metadata.get(RUN_SETTINGS_METADATA) if isinstance(metadata, Mapping) else None
    if not isinstance(settings, Mapping):
        return item
    containers = tuple(
        dataclasses.replace(c, run_setting=json.dumps(settings[c.name], sort_keys=True))
        if isinstance(settings.get(c.name), Mapping)
        else c
        for c in item.containers
    )
    return dataclasses.replace(item, containers=containers)


def apply_item_hooks(item: object, resource: Mapping[str, Any]) -> object:
    item = run_settings_from_metadata(item, resource)
    for hook in _HOOKS:
        item = hook(item, resource)
    return item
