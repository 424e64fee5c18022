"""The console's port (real sockets): 4590 taken -> the next free port, with a note for `up` to print and
``console_url`` set; an explicit ``--console-port`` that is taken is an error; it binds loopback only."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from albfargate import supervisor
from albfargate.console import server as console_server
from albfargate.errors import RuntimeStartError
from albfargate.model.system import SystemModel
from albfargate.state.store import Store

pytestmark = [pytest.mark.integration]


class StubEngine:
    """What the console needs of an engine, with no load balancer and no service."""

    def __init__(self, state: Path) -> None:
        self.store = Store(time.time)
        self.model = SystemModel()
        self.lb = None
        self.scheduler = self.autoscaler = None
        self.api_url = None
        self.state_dir = state
        self.notes: list[str] = []
        self.console_url: str | None = None
        self._stopping = False

    def on_load_balancers(self, callback: Any) -> None:
        pass

    def backing_status(self) -> None:
        return None


def held_port() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_a_taken_default_port_moves_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with held_port() as held:
        taken = held.getsockname()[1]
        monkeypatch.setattr(console_server, "DEFAULT_PORT", taken)
        engine = StubEngine(tmp_path)

        async def run() -> None:
            server = await supervisor._start_console(engine, None)  # type: ignore[arg-type]
            try:
                assert server.port > taken
                assert engine.console_url == f"http://127.0.0.1:{server.port}/"
                assert engine.notes == [f"port {taken} is taken: the console is {engine.console_url} instead"]
                sock = server._http.sockname
                assert sock is not None and sock[0] == "127.0.0.1"
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(b"GET /api/topology HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                answer = await reader.read()
                writer.close()
                assert answer.startswith(b"HTTP/1.1 200 ") and b'"services":[]' in answer
            finally:
                await server.stop()

        asyncio.run(run())


def test_an_explicit_port_that_is_taken_is_an_error(tmp_path: Path) -> None:
    with held_port() as held:
        taken = held.getsockname()[1]
        with pytest.raises(RuntimeStartError, match=f"--console-port {taken}: the port is not available"):
            asyncio.run(supervisor._start_console(StubEngine(tmp_path), taken))  # type: ignore[arg-type]
        with pytest.raises(RuntimeStartError, match=f"--console-port {taken}: the port is not available"):
            supervisor.check_console_port(taken)


def test_the_console_refuses_a_non_loopback_bind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        console_server.ConsoleServer(StubEngine(tmp_path), host="0.0.0.0")
