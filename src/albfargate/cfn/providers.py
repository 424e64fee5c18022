"""Resource providers: what creating, updating and deleting a resource of one type does.

A *live* provider makes the resource run in the local system through the engine's public commands
(:class:`albfargate.cfn.live.LiveSystem`, the same commands the AWS API uses); every other type gets
:class:`InertProvider`: a record with the physical id and attributes the assembly gives it, listed as
not emulated. The registry is the seam other modules use to make a type live
(``register("AWS::ECR::Repository", provider)``); docs/contracts.md holds the contract.

The stack engine calls a provider once per resource step, in dependency order, and waits for it: a
provider returns when the resource is usable (an ECS service: when its deployment is steady) and raises
:class:`ResourceFailed` with the reason the event shows. Replacement is the engine's decision (a new
resource is created with ``create``, the old one deleted with ``delete`` in the cleanup phase); ``update``
is an in-place update (``request.previous`` is what it was)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from albfargate.cfn.hooks import apply_item_hooks, register_item_hook, unregister_item_hook
from albfargate.cfn.model import ResourceRecord

__all__ = [
    "INERT",
    "InertProvider",
    "Provider",
    "ProviderResult",
    "ResourceFailed",
    "ResourceRequest",
    "apply_item_hooks",
    "is_live",
    "live_types",
    "provider_for",
    "register",
    "register_item_hook",
    "unregister",
    "unregister_item_hook",
]


@dataclass(frozen=True)
class ResourceRequest:
    """One resource step. ``properties``: the resolved properties (intrinsics evaluated, ``AWS::NoValue``
    left out); ``template``: the resource's raw entry (``Type``, ``Properties``, ``Metadata``, ...);
    ``physical_id``: the id the assembly gives it (its ``Ref`` value); ``items``: the model objects the
    assembly's converter made of it (empty for a type it does not convert); ``attribute``: the
    assembly's ``Fn::GetAtt`` value of an attribute; ``system``: the running system
    (:class:`albfargate.cfn.live.LiveSystem`); ``previous``: the record before an update or a delete."""

    stack_name: str
    stack_id: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    template: Mapping[str, Any]
    physical_id: str
    items: tuple[object, ...] = ()
    attribute: Callable[[str], Any] = field(default=lambda name: None)
    system: Any = None
    previous: ResourceRecord | None = None
    #: a provider that waits (an ECS service) calls it once the physical id exists: the engine then
    #: writes the "Resource creation Initiated" event before the wait, as CloudFormation does
    initiated: Callable[[str], None] = field(default=lambda physical_id: None)


@dataclass(frozen=True)
class ProviderResult:
    """What a provider made: the physical id (``Ref``) and any ``Fn::GetAtt`` values that differ from
    the assembly's (a task definition's registered revision, say)."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


class ResourceFailed(Exception):
    """The resource could not be created, updated or deleted; the message is the event's
    ``ResourceStatusReason``."""


class Provider(Protocol):
    #: True when the resource runs in the local system; False for a record only (not emulated).
    live: bool

    async def create(self, request: ResourceRequest) -> ProviderResult: ...

    async def update(self, request: ResourceRequest) -> ProviderResult: ...

    async def delete(self, request: ResourceRequest) -> None: ...


class InertProvider:
    """A record only: the assembly's physical id and attributes; nothing runs."""

    live = False

    async def create(self, request: ResourceRequest) -> ProviderResult:
        return ProviderResult(request.physical_id)

    async def update(self, request: ResourceRequest) -> ProviderResult:
        return ProviderResult(request.physical_id)

    async def delete(self, request: ResourceRequest) -> None:
        return None


INERT = InertProvider()

_REGISTERED: dict[str, Provider] = {}
_DEFAULTS: dict[str, Provider] | None = None


def _defaults() -> dict[str, Provider]:
    global _DEFAULTS
    if _DEFAULTS is None:
        from albfargate.cfn.live import PROVIDERS

        _DEFAULTS = dict(PROVIDERS)
    return _DEFAULTS


def register(resource_type: str, provider: Provider) -> None:
    """Make ``resource_type`` use ``provider`` (it replaces the built-in one, if any)."""
    _REGISTERED[resource_type] = provider


def unregister(resource_type: str) -> None:
    """Go back to the built-in provider of ``resource_type`` (or the inert record)."""
    _REGISTERED.pop(resource_type, None)


def provider_for(resource_type: str) -> Provider:
    """The provider of a type: a registered one, else the built-in live one, else the inert record."""
    found = _REGISTERED.get(resource_type)
    if found is not None:
        return found
    return _defaults().get(resource_type, INERT)


def live_types() -> tuple[str, ...]:
    """Every type that runs live (built in or registered), sorted."""
    types = {t for t, p in _defaults().items() if p.live} | {t for t, p in _REGISTERED.items() if p.live}
    return tuple(sorted(types))


def is_live(resource_type: str) -> bool:
    return provider_for(resource_type).live


def snapshot() -> Mapping[str, Provider]:
    """The registered providers (tests restore them with :func:`restore`)."""
    return dict(_REGISTERED)


def restore(registered: Mapping[str, Provider]) -> None:
    _REGISTERED.clear()
    _REGISTERED.update(registered)
