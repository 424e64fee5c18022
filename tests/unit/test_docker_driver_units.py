"""The Docker driver's pure parts, without an engine: image references, asset tags, the pause binary's ELF
shape, cpu units as NanoCpus, names, and the create options built from a container definition."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("docker")

from albfargate.ecs.runtime.base import ContainerSpec, TaskStartError
from albfargate.ecs.runtime.docker import (
    LABEL_CONTAINER,
    LABEL_ROLE,
    LABEL_STATE_DIR,
    LABEL_TASK,
    DockerDriver,
    container_name,
    nano_cpus,
    network_name,
)
from albfargate.ecs.runtime.images import asset_tag, pause_binary, split_reference
from albfargate.model.ecs import ContainerDefinition, ImageAsset


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("nginx", ("nginx", "latest")),
        ("nginx:1.27", ("nginx", "1.27")),
        ("public.ecr.aws/nginx/nginx:stable", ("public.ecr.aws/nginx/nginx", "stable")),
        ("localhost:5000/app", ("localhost:5000/app", "latest")),
        ("localhost:5000/app:v2", ("localhost:5000/app", "v2")),
        ("repo@sha256:" + "a" * 64, ("repo@sha256:" + "a" * 64, None)),
    ],
)
def test_split_reference(ref: str, expected: tuple[str, str | None]) -> None:
    assert split_reference(ref) == expected


def test_asset_tag_is_the_asset_hash() -> None:
    a = ImageAsset(asset_hash="ABC123" + "0" * 58, directory="/x")
    assert asset_tag(a) == "albfargate-asset:abc123" + "0" * 58


@pytest.mark.parametrize(
    ("arch", "machine"), [("x86_64", 62), ("amd64", 62), ("aarch64", 183), ("arm64", 183)]
)
def test_pause_binary_is_a_static_elf64_executable(arch: str, machine: int) -> None:
    elf = pause_binary(arch)
    assert elf[:4] == b"\x7fELF" and elf[4] == 2 and elf[5] == 1  # 64-bit little endian
    e_type, e_machine, _, e_entry, e_phoff = struct.unpack_from("<HHIQQ", elf, 16)
    assert (e_type, e_machine, e_phoff) == (2, machine, 64)
    p_type, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz = struct.unpack_from("<IIQQQQQ", elf, 64)
    assert (p_type, p_flags, p_offset) == (1, 5, 0)  # PT_LOAD, R+X, the whole file
    assert p_filesz == p_memsz == len(elf)
    assert p_vaddr <= e_entry < p_vaddr + len(elf)
    assert len(elf) < 200


def test_pause_binary_for_an_unknown_architecture_is_a_start_error() -> None:
    with pytest.raises(TaskStartError, match="no pause binary for engine architecture s390x"):
        pause_binary("s390x")


@pytest.mark.parametrize(
    ("units", "nanos"), [(0, None), (256, 250_000_000), (1024, 1_000_000_000), (4096, 4 * 10**9)]
)
def test_nano_cpus(units: int, nanos: int | None) -> None:
    assert nano_cpus(units) == nanos


def test_names() -> None:
    assert container_name("abc", "web") == "albfargate-abc-web"
    a, b = network_name(Path("/tmp/a")), network_name(Path("/tmp/b"))
    assert a.startswith("albfargate-") and a != b and len(a) == len("albfargate-") + 12


class _NoClient:
    """create_options never talks to the engine."""


def test_create_options_from_the_definition(tmp_path: Path) -> None:
    d = ContainerDefinition(
        name="app",
        image="example/app:1",
        command=("serve", "--port", "80"),
        entry_point=("/entry",),
        working_directory="/srv",
        user="1000:1000",
        cpu=512,
        memory=256,
        memory_reservation=128,
        docker_labels=(("team", "web"), (LABEL_TASK, "spoofed")),
        readonly_root_filesystem=True,
        ulimits=(("nofile", 1024, 4096),),
    )
    spec = ContainerSpec(name="app", image=d.image, argv=(), env=(("A", "1"), ("TOKEN", "x")), definition=d)
    driver = DockerDriver(tmp_path, client=_NoClient())  # type: ignore[arg-type]
    try:
        opts = driver.create_options(spec, "example/app:1", "pauseid", "t1")
    finally:
        driver._pool.shutdown()
    assert opts["name"] == "albfargate-t1-app"
    assert opts["command"] == ["serve", "--port", "80"]
    assert opts["entrypoint"] == ["/entry"]
    assert opts["environment"] == {"A": "1", "TOKEN": "x"}
    assert opts["working_dir"] == "/srv"
    assert opts["user"] == "1000:1000"
    assert opts["nano_cpus"] == 500_000_000
    assert opts["mem_limit"] == "256m" and opts["mem_reservation"] == "128m"
    assert opts["read_only"] is True
    assert [(u.name, u.soft, u.hard) for u in opts["ulimits"]] == [("nofile", 1024, 4096)]
    assert opts["network_mode"] == "container:pauseid"
    assert opts["healthcheck"] == {"test": ["NONE"]}
    labels = opts["labels"]
    assert labels["team"] == "web"
    assert labels[LABEL_TASK] == "t1"  # ours win over the definition's
    assert labels[LABEL_STATE_DIR] == str(tmp_path.resolve())
    assert labels[LABEL_CONTAINER] == "app" and labels[LABEL_ROLE] == "container"


def test_create_options_without_settings_leave_the_images_defaults(tmp_path: Path) -> None:
    d = ContainerDefinition(name="web", image="nginx")
    spec = ContainerSpec(name="web", image="nginx", argv=(), definition=d)
    driver = DockerDriver(tmp_path, client=_NoClient())  # type: ignore[arg-type]
    try:
        opts = driver.create_options(spec, "nginx", "p", "t")
    finally:
        driver._pool.shutdown()
    for key in (
        "command",
        "entrypoint",
        "working_dir",
        "user",
        "nano_cpus",
        "mem_limit",
        "read_only",
        "ulimits",
    ):
        assert key not in opts
