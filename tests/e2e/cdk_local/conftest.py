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


def asset_hashes(app: Path) -> set[str]:
    """The image asset hashes of the app's last synth (``cdk.out/*.assets.json``)."""
    import json

    found: set[str] = set()
    for manifest in (app / "cdk.out").glob("*.assets.json"):
        found.update(json.loads(manifest.read_text()).get("dockerImages", {}))
    return found


def remove_asset_images(client: object, hashes: set[str]) -> None:
    """Untag what the CLI left in the engine for these assets (``cdkasset-<hash>`` and the pushed
    ``127.0.0.1:PORT/<repo>:<hash>``); an image a container still uses is left."""
    import contextlib

    import docker.errors

    for image in client.images.list():  # type: ignore[attr-defined]
        for tag in image.tags:
            name, _, version = tag.rpartition(":")
            if version in hashes or any(name == f"cdkasset-{h}" for h in hashes):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag, noprune=False)  # type: ignore[attr-defined]
