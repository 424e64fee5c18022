"""Fixtures of the stock-CDK-CLI tests: a Docker engine for the image-asset cases (skipped with the reason,
or failed when ALBFARGATE_REQUIRE_DOCKER=1, as the Docker driver tests do)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def docker_client() -> object:
    from tests.integration.docker.conftest import unavailable

    try:
        from albfargate.ecs.runtime.docker import DockerUnavailable, connect
    except ImportError:
        unavailable("the docker SDK is not installed")
    try:
        return connect(3.0)
    except DockerUnavailable as exc:
        unavailable(str(exc))
    raise AssertionError("unreachable")


def containers_of(client: object, state: Path) -> list[str]:
    label = f"albfargate.state-dir={state.resolve()}"
    return [c.name for c in client.containers.list(all=True, filters={"label": label})]  # type: ignore[attr-defined]
