"""API test fixtures: the endpoint served from a background thread over a backend, and boto3 clients
pointed at it with dummy credentials."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from albfargate.api.server import ApiServer
from albfargate.api.store import ConfigStore
from tests.api.fakes import FakeBackend, demo_model

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402


def api_client(url: str, service: str, **kwargs: Any) -> Any:
    """A boto3 client for ``service`` at a local endpoint: dummy credentials, no retries (a test sees
    the first answer)."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
        **kwargs,
    )


@dataclass
class Endpoint:
    url: str
    backend: FakeBackend
    store: ConfigStore
    loop: asyncio.AbstractEventLoop

    def client(self, service: str, **kwargs: Any) -> Any:
        return api_client(self.url, service, **kwargs)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop thread (where the backend lives) and return its result."""
        done: Any = asyncio.run_coroutine_threadsafe(_wrap(fn), self.loop)
        return done.result(5)


async def _wrap(fn: Callable[[], Any]) -> Any:
    return fn()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    model = demo_model()
    backend = FakeBackend(model)
    store = ConfigStore(model)
    server = ApiServer(backend, store, port=0)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        url.append(loop.run_until_complete(server.start()))
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=run, name="api-test-server", daemon=True)
    thread.start()
    assert started.wait(5)
    try:
        yield Endpoint(url[0], backend, store, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        assert not thread.is_alive()
