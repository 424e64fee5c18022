"""The supervisor's control channel answers loopback requests only (issue 12, item 1): a request with the
right token but a ``Host`` that is not a loopback name (a browser page tricked by DNS rebinding) is refused
before the token is even looked at, with the same guard as the AWS-compatible API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from albfargate.supervisor import ControlServer

TOKEN = "t0ken"


class FakeEngine:
    def status(self, **kw: Any) -> dict[str, Any]:
        return {"services": []}

    def steady(self) -> tuple[bool, list[str]]:
        return True, []


def dispatch(host: str | None, token: str = TOKEN) -> tuple[int, Any]:
    server = ControlServer(FakeEngine(), lambda: None, TOKEN)  # type: ignore[arg-type]
    headers = {"x-albfargate-token": token}
    if host is not None:
        headers["host"] = host
    return asyncio.run(server._dispatch("GET", "/steady", headers, b""))


@pytest.mark.parametrize(
    "host", ["127.0.0.1:4000", "localhost:4000", "LOCALHOST", "[::1]:4000", "127.8.9.10", "app.localhost"]
)
def test_loopback_hosts_with_the_token_are_served(host: str) -> None:
    assert dispatch(host) == (200, {"steady": True, "why": []})


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:4000", "10.0.0.5:4000", "localhost.evil.com", "", None]
)
def test_other_hosts_are_refused_even_with_the_token(host: str | None) -> None:
    status, doc = dispatch(host)
    assert status == 403
    assert "loopback" in doc["error"]


def test_a_wrong_token_is_still_refused() -> None:
    assert dispatch("127.0.0.1:4000", token="nope")[0] == 403
