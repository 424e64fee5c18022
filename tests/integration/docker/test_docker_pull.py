"""Pulling a registry image that is absent, with progress shown, from a tiny registry (Docker Registry HTTP
API v2, read-only) served on 127.0.0.1 by the test itself: no traffic leaves the machine, and the engine
treats 127.0.0.0/8 registries as insecure (plain HTTP) by default. The pulled image then runs a task."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from albfargate.ecs.runtime.base import ContainerSpec
from albfargate.ecs.runtime.docker import DockerDriver
from albfargate.ecs.runtime.process import free_port
from albfargate.model.ecs import ContainerDefinition, PortMapping

from .conftest import static_busybox, task_spec, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.docker]

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_layer(busybox: Path) -> bytes:
    """An uncompressed layer tar: /bin/busybox, /bin/sh and /bin/httpd links, /www/index.html."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        data = busybox.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in ("sh", "httpd", "sleep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        page = b"pulled-from-the-loopback-registry\n"
        info = tarfile.TarInfo("www/index.html")
        info.size = len(page)
        tar.addfile(info, io.BytesIO(page))
    return buf.getvalue()


class Registry:
    """Serves one image (``name:tag``) read-only."""

    def __init__(self, name: str, tag: str, layer_tar: bytes) -> None:
        layer_gz = gzip.compress(layer_tar, mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["httpd", "-f", "-p", "80", "-h", "/www"], "Env": ["PATH=/bin"]},
                "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
            }
        ).encode()
        self.blobs = {_digest(config): config, _digest(layer_gz): layer_gz}
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_V2,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config),
                    "digest": _digest(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(layer_gz),
                        "digest": _digest(layer_gz),
                    }
                ],
            }
        ).encode()
        self.name, self.tag = name, tag
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                registry.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path == "/v2/":
                    return self._send(200, b"{}", "application/json")
                prefix = f"/v2/{registry.name}/"
                if path in (
                    prefix + f"manifests/{registry.tag}",
                    prefix + f"manifests/{_digest(registry.manifest)}",
                ):
                    return self._send(
                        200,
                        registry.manifest,
                        MANIFEST_V2,
                        {"Docker-Content-Digest": _digest(registry.manifest)},
                    )
                if path.startswith(prefix + "blobs/"):
                    blob = registry.blobs.get(path.rsplit("/", 1)[1])
                    if blob is not None:
                        return self._send(200, blob, "application/octet-stream")
                return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json")

            do_HEAD = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Registry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def registry(docker_client: Any) -> Iterator[Registry]:
    bb = static_busybox()
    if bb is None:
        unavailable("no static busybox here to build the registry's image")
    arch = str(docker_client.info().get("Architecture"))
    if arch not in ("x86_64", "amd64"):
        pytest.skip(f"the test registry serves an amd64 image; the engine is {arch}")
    with Registry("albfargate-test/pulled", "1.0", busybox_layer(bb)) as reg:
        yield reg


def test_absent_image_is_pulled_with_progress_then_runs(
    registry: Registry, state_dir: Path, docker_client: Any
) -> None:
    image = f"127.0.0.1:{registry.port}/albfargate-test/pulled:1.0"
    lines: list[str] = []

    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client, progress=lines.append)
        lp = free_port()
        d = ContainerDefinition("web", image, port_mappings=(PortMapping(80),), stop_timeout_seconds=1)
        spec = task_spec(
            state_dir, (ContainerSpec("web", image, (), ports=((80, lp),), definition=d, stop_timeout=1.0),)
        )
        task = await driver.start_task(spec)
        try:
            deadline = time.monotonic() + 10
            body = b""
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{lp}/", timeout=2) as r:
                        body = r.read()
                        break
                except OSError:
                    await asyncio.sleep(0.1)
            assert body == b"pulled-from-the-loopback-registry\n"
            # a second task does not pull again
            before = driver.images.pulls
            task2 = await driver.start_task(
                task_spec(state_dir, (ContainerSpec("web", image, (), definition=d, stop_timeout=1.0),))
            )
            assert driver.images.pulls == before == 1
            await driver.stop_task(task2, "test over")
        finally:
            await driver.stop_task(task, "test over")
            await driver.stop_all_now()
            driver.close()

    try:
        asyncio.run(main())
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(image, force=True)
    assert lines[0] == f"pulling image {image} ..."
    assert any("Download complete" in line or "Pull complete" in line for line in lines), lines
    assert lines[-1] == f"pulled image {image}"
    assert any(p.startswith("/v2/albfargate-test/pulled/blobs/") for p in registry.requests)
