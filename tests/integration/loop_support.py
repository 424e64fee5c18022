"""The event loops a shell's test runs on: the standard asyncio loop and uvloop (the one `up` uses when it
is installed), as pytest params for ``parametrize``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


def event_loops() -> list[Any]:
    out: list[Any] = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the dev extras
        return out
    out.append(pytest.param(uvloop.new_event_loop, id="uvloop"))
    return out
