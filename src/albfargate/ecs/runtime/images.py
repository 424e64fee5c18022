"""Images for the Docker driver: pull registry images that are absent (progress shown), build the image
assets of a cloud assembly (tagged by asset hash, never rebuilt while that tag exists), and the tiny
``pause`` image that holds each task's network namespace.

Owns
- :func:`asset_tag` (``albfargate-asset:<asset hash>``): the local name of a built asset;
- :class:`ImageResolver`: one ``resolve`` per container image (registry pull or asset build), serialized per
  image so two tasks starting together pull/build once; failures are :class:`TaskStartError` with the
  ``stoppedReason`` ECS would show (``CannotPullContainerError: ...``) carrying the image name and the
  engine's reason, or the last lines of the build log;
- :func:`pause_binary` / :meth:`ImageResolver.pause_image`: a 129-byte static ELF that blocks in ``pause()``
  forever, built ``FROM scratch`` locally, so no registry is needed for it (x86-64 and arm64).

Blocking Docker SDK calls run on the driver's thread pool (``run``); nothing here touches containers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import struct
import sys
import tarfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors

from albfargate.ecs.runtime.base import TaskStartError
from albfargate.model.ecs import ImageAsset

log = logging.getLogger("albfargate.docker")

T = TypeVar("T")
Runner = Callable[..., Awaitable[Any]]

ASSET_REPOSITORY = "albfargate-asset"
PAUSE_IMAGE = "albfargate/pause:1"
#: How many lines of a failed build's log the error repeats.
BUILD_LOG_TAIL = 15
#: Pull progress is reported at most this often per layer state (the engine streams many more).
PROGRESS_EVERY_SECONDS = 1.0


def asset_tag(asset: ImageAsset) -> str:
    """``albfargate-asset:<asset hash>``: an unchanged asset (same hash) is never rebuilt."""
    return f"{ASSET_REPOSITORY}:{asset.asset_hash.lower()[:128]}"


def split_reference(ref: str) -> tuple[str, str | None]:
    """(repository, tag or digest) of an image reference; ``nginx`` -> (``nginx``, ``latest``);
    ``repo@sha256:..`` -> (``repo@sha256:..``, None) (pulled by digest)."""
    if "@" in ref:
        return ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


# ---- the pause image ------------------------------------------------------------------------------------

_CODE = {
    # mov eax, 34 (pause); syscall; jmp back to mov
    "x86_64": (62, bytes.fromhex("b8220000000f05ebf7")),
    # mov x0..x3, #0; mov x8, #73 (ppoll, blocks forever with no fds and no timeout); svc #0; b back
    "aarch64": (
        183,
        b"".join(
            struct.pack("<I", w)
            for w in (0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD2800928, 0xD4000001, 0x17FFFFFA)
        ),
    ),
}


def pause_binary(arch: str) -> bytes:
    """A minimal static ELF64 executable that sleeps forever (signals aside: as PID 1 it ignores SIGTERM,
    so the driver removes it with SIGKILL). ``arch`` is the engine's ``Architecture`` (``x86_64``,
    ``aarch64``/``arm64``)."""
    key = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    if key not in _CODE:
        raise TaskStartError(f"CannotStartContainerError: no pause binary for engine architecture {arch}")
    machine, code = _CODE[key]
    base = 0x400000
    header_size = 64 + 56
    total = header_size + len(code)
    ehdr = (
        b"\x7fELF\x02\x01\x01\x00"
        + b"\x00" * 8
        + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, base + header_size, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    )
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
    return ehdr + phdr + code


def _tar(files: dict[str, tuple[bytes, int]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


async def in_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a long blocking call (a pull, a build) on a daemon thread: a Ctrl-C during a pull of minutes
    must not keep the process alive until the pull ends, as a thread-pool worker would at exit."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def done(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is gone (the process is shutting down)
            loop.call_soon_threadsafe(done, *outcome)

    threading.Thread(target=work, name="albfargate-image", daemon=True).start()
    return await fut


def _to_stderr(line: str) -> None:
    """Default progress: one line on stderr (the terminal of ``up``, or ``supervisor.log`` when detached)."""
    print(f"albfargate: {line}", file=sys.stderr, flush=True)


# ---- resolver -------------------------------------------------------------------------------------------


class ImageResolver:
    """Makes sure an image is present before a container is created from it."""

    def __init__(
        self,
        client: docker.DockerClient,
        run: Runner,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.run = run
        self.progress = progress or _to_stderr
        self._locks: dict[str, asyncio.Lock] = {}
        self._ready: set[str] = set()
        #: maps an image reference to the local registry's name for it (an image of a local ECR
        #: repository: ``api.ecr.service.EcrService.local_image``), or None to keep it
        self.local_image: Callable[[str], str | None] = lambda image: None
        self.builds = 0  # asset builds done by this resolver (tests and bench read it)
        self.pulls = 0

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def resolve(self, image: str, asset: ImageAsset | None) -> str:
        """The local image reference to run for a container: the asset's tag (built when absent) or
        ``image`` (pulled when absent)."""
        if asset is None:
            image = self.local_image(image) or image
        ref = asset_tag(asset) if asset is not None else image
        if ref in self._ready:
            return ref
        async with self._lock(ref):
            if ref in self._ready:
                return ref
            if not await self.run(self._present, ref):
                if asset is not None:
                    await in_daemon_thread(self._build_asset, asset, ref)
                else:
                    await in_daemon_thread(self._pull, image)
            self._ready.add(ref)
        return ref

    async def pause_image(self) -> str:
        ref = PAUSE_IMAGE
        if ref in self._ready:
            return ref
        async with self._lock(ref):
            if ref not in self._ready:
                if not await self.run(self._present, ref):
                    await self.run(self._build_pause)
                self._ready.add(ref)
        return ref

    # blocking parts (run on the driver's thread pool) --------------------------------------------------
    def _present(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            if exc.status_code == 404:
                return False
            raise
        return True

    def _pull(self, image: str) -> None:
        repo, tag = split_reference(image)
        self.progress(f"pulling image {image} ...")
        last: dict[str, tuple[str, float]] = {}
        import time

        try:
            for ev in self.client.api.pull(repo, tag=tag, stream=True, decode=True):
                if "error" in ev:
                    raise TaskStartError(
                        f"CannotPullContainerError: pull image {image}: {ev.get('error') or ev}"
                    )
                status = str(ev.get("status", ""))
                layer = str(ev.get("id", ""))
                now = time.monotonic()
                prev = last.get(layer)
                if prev is not None and prev[0] == status and now - prev[1] < PROGRESS_EVERY_SECONDS:
                    continue
                last[layer] = (status, now)
                detail = ev.get("progress") or ""
                self.progress(f"  {image}: {layer + ': ' if layer else ''}{status} {detail}".rstrip())
        except docker.errors.APIError as exc:
            reason = exc.explanation or str(exc)
            raise TaskStartError(f"CannotPullContainerError: pull image {image}: {reason}") from None
        except docker.errors.DockerException as exc:
            raise TaskStartError(f"CannotPullContainerError: pull image {image}: {exc}") from None
        if not self._present(image if "@" in image else f"{repo}:{tag}"):
            raise TaskStartError(f"CannotPullContainerError: pull image {image}: not present after the pull")
        self.pulls += 1
        self.progress(f"pulled image {image}")

    def _build_asset(self, asset: ImageAsset, ref: str) -> None:
        directory = Path(asset.directory)
        if not directory.is_dir():
            raise TaskStartError(
                f"CannotPullContainerError: image asset {asset.asset_hash}: build context {directory} "
                f"does not exist"
            )
        self.progress(f"building image asset {asset.asset_hash[:12]} from {directory} as {ref} ...")
        lines: list[str] = []
        try:
            stream = self.client.api.build(
                path=str(directory),
                tag=ref,
                dockerfile=asset.dockerfile,
                buildargs=dict(asset.build_args) or None,
                target=asset.target,
                platform=asset.platform,
                rm=True,
                forcerm=True,
                decode=True,
                labels={"albfargate.asset-hash": asset.asset_hash},
            )
            error: str | None = None
            for ev in stream:
                if "stream" in ev:
                    text = str(ev["stream"])
                    for line in text.splitlines():
                        if line.strip():
                            lines.append(line.rstrip())
                            if line.startswith("Step "):
                                self.progress(f"  {line.rstrip()}")
                if "error" in ev:
                    error = str(ev.get("error") or ev.get("errorDetail"))
                    lines.append(error.rstrip())
        except docker.errors.APIError as exc:
            error = exc.explanation or str(exc)
            lines.append(error)
        if error is not None or not self._present(ref):
            tail = "\n".join(lines[-BUILD_LOG_TAIL:]) or "(no build output)"
            raise TaskStartError(
                f"CannotPullContainerError: build of image asset {asset.asset_hash[:12]} "
                f"({directory}) failed:\n{tail}"
            )
        self.builds += 1
        self.progress(f"built image asset {asset.asset_hash[:12]} as {ref}")

    def _build_pause(self) -> None:
        arch = str(self.client.info().get("Architecture", "x86_64"))
        ctx = _tar(
            {
                "Dockerfile": (b'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n', 0o644),
                "pause": (pause_binary(arch), 0o755),
            }
        )
        try:
            self.client.images.build(
                fileobj=ctx,
                custom_context=True,
                tag=PAUSE_IMAGE,
                rm=True,
                labels={"albfargate.role": "pause"},
            )
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise TaskStartError(
                f"CannotStartContainerError: building the pause image failed: {exc}"
            ) from None
