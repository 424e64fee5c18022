"""Fixtures for the Docker driver tests: a reachable engine (skip with the reason, or fail when
ALBFARGATE_REQUIRE_DOCKER=1), a locally built busybox image (no registry is ever used), task specs, and
a check that no container or network with a test state dir's label survives a test."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albfargate.ecs.runtime.base import ContainerSpec, TaskSpec

IMAGES = Path(__file__).resolve().parents[2] / "docker_images"
BUSYBOX_TAG = "albfargate-test/busybox:latest"


def unavailable(reason: str) -> None:
    if os.environ.get("ALBFARGATE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"a Docker engine is required (ALBFARGATE_REQUIRE_DOCKER=1) but {reason}")
    pytest.skip(f"no Docker engine: {reason}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        import docker  # noqa: F401
    except ImportError:
        unavailable("the docker SDK is not installed")
    from albfargate.ecs.runtime.docker import DockerUnavailable, connect

    try:
        client = connect(3.0)
    except DockerUnavailable as exc:
        unavailable(str(exc))
    yield client
    client.close()


def is_static_elf(path: Path) -> bool:
    """An ELF64 executable without a PT_INTERP program header (runs in an image with nothing else)."""
    data = path.read_bytes()
    if data[:5] != b"\x7fELF\x02":
        return False
    (phoff,) = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def static_busybox() -> Path | None:
    for cand in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if cand and Path(cand).is_file() and is_static_elf(Path(cand).resolve()):
            return Path(cand)
    return None


def build_busybox(client: Any, tag: str = BUSYBOX_TAG) -> str:
    """Build ``tag`` FROM scratch with the host's static busybox (about a second)."""
    bb = static_busybox()
    if bb is None:
        unavailable("no static busybox here to build the test image (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        shutil.copy(IMAGES / "busybox" / "Dockerfile", ctx / "Dockerfile")
        shutil.copy(bb, ctx / "busybox")
        client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True)
    return tag


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> str:
    return build_busybox(docker_client)


@pytest.fixture
def state_dir(tmp_path: Path, docker_client: Any) -> Iterator[Path]:
    """A fresh state dir; after the test nothing labelled with it may remain (asserted, then removed)."""
    from albfargate.ecs.runtime.docker import LABEL_STATE_DIR, remove_orphans

    sd = (tmp_path / "state").resolve()
    sd.mkdir()
    yield sd
    label = f"{LABEL_STATE_DIR}={sd}"
    left = [c.name for c in docker_client.containers.list(all=True, filters={"label": label})]
    nets = [n.name for n in docker_client.networks.list(filters={"label": label})]
    remove_orphans(sd, docker_client)
    assert not left, f"containers left behind: {left}"
    assert not nets, f"networks left behind: {nets}"


def task_spec(
    state_dir: Path, containers: tuple[ContainerSpec, ...], *, settle: float = 0.3, service: str | None = None
) -> TaskSpec:
    task_id = uuid.uuid4().hex
    return TaskSpec(
        task_id=task_id,
        task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/default/{task_id}",
        cluster="default",
        family="fam",
        revision=1,
        containers=containers,
        log_dir=state_dir / "logs" / (service or "tasks"),
        service=service,
        settle_seconds=settle,
    )
