"""Item hooks: another module's say in the model objects a deployed stack's resources become, applied
when a stack is deployed and when ``up`` brings it back (``cfn.evaluate.evaluate`` calls them). For
example an image URI of the template mapped to a local registry, or a run setting read from the
resource's ``Metadata``. Registered through ``albfargate.cfn.providers.register_item_hook``.

Pure: the registry holds callables; what a hook does is its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


def apply_item_hooks(item: object, resource: Mapping[str, Any]) -> object:
    for hook in _HOOKS:
        item = hook(item, resource)
    return item
