"""The shape of one resource type's converter, :class:`ResourceKind`: its ``Ref`` value, its
``Fn::GetAtt`` values and how it becomes model values. Each converter module (``elbv2``, ``ecs``,
``autoscaling``, ``rds``, ``secrets``, ``s3``) exports a ``KINDS`` table of them; :mod:`.registry` merges
those tables. Defined here, below both, so that converters never import the registry (no import circle:
the layers contract in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import ResourceContext

__all__ = ["ResourceKind"]


@dataclass(frozen=True, slots=True)
class ResourceKind:
    ref: Callable[[ResourceContext], Any]
    get_att: Callable[[ResourceContext, str], Any]  # KeyError: fall back to the generic stand-in
    convert: Callable[[ResourceContext], list[object]]
