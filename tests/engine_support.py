"""Test support: a real :class:`~albfargate.engine.Engine` (optionally with its AWS-compatible endpoint) run
on a background event loop for the length of a ``with`` block, then stopped in order (endpoint, engine:
the engine's own ordered shutdown, as on Ctrl-C). Used by the live API tests (``tests/api/live.py``) and
the Docker service tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from albfargate.api.engine_backend import start_api
from albfargate.engine import Engine, EngineConfig


@contextmanager
def engine_in_background(
    config: EngineConfig,
    *,
    api: bool = False,
    start_timeout: float = 60,
    stop_timeout: float = 90,
    name: str = "test-engine",
) -> Iterator[tuple[Engine, asyncio.AbstractEventLoop]]:
    """Start ``Engine(config)`` (and ``start_api`` on port 0 when ``api``) on a new loop in a daemon
    thread; the block gets the engine and its loop. A start that fails stops what it started and raises
    its error here; a start that takes more than ``start_timeout`` or a stop more than ``stop_timeout``
    fails the test."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def boot() -> None:
        engine = Engine(config)
        box["engine"] = engine
        if api:  # the endpoint starts before the tasks, so their environment names it (as in `up`)
            await engine.start(serve_api=lambda e: start_api(e, port=0))
            box["server"] = engine.api_server
        else:
            await engine.start()

    async def shutdown() -> None:
        if "server" in box:
            await box["server"].stop()
        if "engine" in box:
            await box["engine"].stop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # reported to the test thread
            box["error"] = exc
            with contextlib.suppress(Exception):  # the start's error is the one to report
                loop.run_until_complete(shutdown())
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(shutdown())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    assert ready.wait(start_timeout), "engine did not start"
    if "error" in box:
        thread.join(30)
        raise box["error"]
    try:
        yield box["engine"], loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(stop_timeout)
        assert not thread.is_alive(), "engine did not stop"
