"""The local container registry behind the ECR endpoint: Debian's ``docker-registry`` (the CNCF
distribution registry, ``github.com/distribution/distribution``), run on 127.0.0.1 when the first
repository exists, so ``docker push`` of the CDK CLI's image assets and ``docker pull`` of the Docker
driver reach it on loopback (the Docker engine allows plain HTTP to 127.0.0.0/8 registries).

- Storage: ``<state_dir>/data/registry/`` (the registry's filesystem driver; kept across ``down``/``up``,
  deleted by ``down --volumes``); config and log: ``<state_dir>/registry/config.yml``,
  ``<state_dir>/logs/registry.log``. The port is kept in ``<state_dir>/registry/port`` and used again
  when it is free, so image URIs stay the same across restarts.
- The process runs in its own process group with the state-dir marker and a pid file under
  ``<state_dir>/pids/`` (as the database servers: ``backing/server.py``), so what a crashed supervisor
  left is killed by the next ``up``/``down``, and it dies with its parent.
- Which images a repository has is read from the storage's layout (``repositories/<name>/_manifests/
  tags/<tag>/current/link`` names the manifest's digest; ``blobs/sha256/<xx>/<hex>/data`` holds it).

The binary is ``$ALBFARGATE_REGISTRY`` or ``docker-registry`` (or ``registry``) on PATH."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from albfargate.backing.server import next_free_port, spawn_server, stop_server, wait_listening

REGISTRY_ENV = "ALBFARGATE_REGISTRY"
DEFAULT_PORT = 5050
START_TIMEOUT = 20.0


class RegistryError(Exception):
    """The local registry cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class StoredImage:
    repository: str
    tag: str
    digest: str
    media_type: str | None
    size: int
    pushed_at: float


def registry_binary() -> str | None:
    given = os.environ.get(REGISTRY_ENV)
    if given:
        return shutil.which(given) or (given if Path(given).is_file() else None)
    return shutil.which("docker-registry") or shutil.which("registry")


def config_text(root: Path, host: str, port: int) -> str:
    """The registry's configuration: the filesystem storage under ``root``, loopback only, deletes
    allowed (DeleteRepository, BatchDeleteImage), no notifications, reports or proxying."""
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {json.dumps(str(root))}\n"
        "  delete:\n    enabled: true\n"
        f'http:\n  addr: "{host}:{port}"\n'
    )


class LocalRegistry:
    """One registry process for a state directory (started on demand; ``stop`` ends it)."""

    def __init__(self, state_dir: Path, *, host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.root = self.state_dir / "data" / "registry"
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready: asyncio.Event | None = None
        self.error: str | None = None

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "pids" / "registry.pid"

    @property
    def address(self) -> str | None:
        """``127.0.0.1:PORT`` once started (what image URIs and ``docker login`` name)."""
        return f"{self.host}:{self.port}" if self.port is not None else None

    def _port_file(self) -> Path:
        return self.state_dir / "registry" / "port"

    def start(self) -> str:
        """Start the process if it is not running (returns at once; :meth:`ready` waits for it);
        returns the address. Raises :class:`RegistryError` when there is no registry binary."""
        if self._proc is not None and self._proc.poll() is None and self.address is not None:
            return self.address
        binary = registry_binary()
        if binary is None:
            self.error = (
                "no container registry to serve ECR: install Debian's docker-registry (apt-get install "
                f"docker-registry) or set {REGISTRY_ENV} to a distribution registry binary"
            )
            raise RegistryError(self.error)
        preferred = DEFAULT_PORT
        with contextlib.suppress(OSError, ValueError):
            preferred = int(self._port_file().read_text().strip())
        port = next_free_port(self.host, preferred)
        conf_dir = self._port_file().parent
        conf_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        conf = conf_dir / "config.yml"
        conf.write_text(config_text(self.root, self.host, port))
        self._port_file().write_text(f"{port}\n")
        log_file = self.state_dir / "logs" / "registry.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with log_file.open("ab") as log:
            self._proc = spawn_server(
                [binary, "serve", str(conf)],
                state_dir=self.state_dir,
                log=log,
                pid_path=self.pid_path,
                env=env,
            )
        self.port = port
        self._ready = None
        return f"{self.host}:{port}"

    async def ready(self, timeout: float = START_TIMEOUT) -> str:
        """Start it if needed and wait until it accepts connections; the address."""
        address = self.start()
        proc, port = self._proc, self.port
        assert proc is not None and port is not None
        if not await wait_listening(proc, self.host, port, timeout=timeout):
            log_file = self.state_dir / "logs" / "registry.log"
            self.error = f"the local registry did not start on {address} (see {log_file})"
            raise RegistryError(self.error)
        return address

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await stop_server(proc, self.pid_path, first=signal.SIGTERM, grace=5.0)

    # ---- what is stored -----------------------------------------------------------------------------
    def _repo_dir(self, repository: str) -> Path:
        return self.root / "docker" / "registry" / "v2" / "repositories" / repository

    def _blob(self, digest: str) -> Path | None:
        algo, _, hexdigest = digest.partition(":")
        if not hexdigest or "/" in hexdigest or "." in hexdigest:
            return None
        return self.root / "docker" / "registry" / "v2" / "blobs" / algo / hexdigest[:2] / hexdigest / "data"

    def images(self, repository: str) -> list[StoredImage]:
        """Every tagged image of ``repository`` in the storage (none for an unknown one)."""
        tags = self._repo_dir(repository) / "_manifests" / "tags"
        out: list[StoredImage] = []
        if not tags.is_dir():
            return out
        for tag_dir in sorted(tags.iterdir()):
            link = tag_dir / "current" / "link"
            try:
                digest = link.read_text().strip()
                pushed = link.stat().st_mtime
            except OSError:
                continue
            media_type, size = None, 0
            blob = self._blob(digest)
            if blob is not None:
                try:
                    manifest = json.loads(blob.read_bytes())
                    media_type = manifest.get("mediaType")
                    size = sum(int(x.get("size", 0)) for x in manifest.get("layers", []))
                except (OSError, ValueError, TypeError, AttributeError):
                    pass
            out.append(StoredImage(repository, tag_dir.name, digest, media_type, size, pushed))
        return out

    def delete_repository(self, repository: str) -> None:
        """Forget a repository's manifests and tags (its blobs stay until a garbage collection)."""
        shutil.rmtree(self._repo_dir(repository), ignore_errors=True)
