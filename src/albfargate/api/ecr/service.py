"""The ECR repositories of a running system and the registry that holds their images.

Repositories are kept in ``<state_dir>/data/ecr/repositories.json`` (written on every change, temporary
file then rename), so they survive ``down``/``up`` with the images the registry keeps. The registry
process starts when the first repository exists (or, after a restart, when the endpoint starts with
some) and stops with the endpoint. A repository's URI is the registry's loopback address
(``127.0.0.1:PORT/<name>``): that is where ``docker push`` of the CDK CLI goes, since the CLI pushes to
the ``repositoryUri`` ``DescribeRepositories`` answers. :meth:`EcrService.local_image` maps the AWS form of
an image of a local repository (``000000000000.dkr.ecr.<region>.amazonaws.com/<name>:<tag>``, what a
template names) to it, for the Docker driver."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from albfargate.backing.registry import LocalRegistry, RegistryError, StoredImage
from albfargate.model import ids

#: ``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]``
ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?P<ref>[:@].+)?$"
)
NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass
class Repository:
    name: str
    created_at: float
    image_tag_mutability: str = "MUTABLE"
    scan_on_push: bool = False
    encryption_type: str = "AES256"
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:repository/{self.name}"


class EcrService:
    def __init__(self, state_dir: Path, *, clock: Callable[[], float], registry: LocalRegistry | None = None):
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.registry = registry if registry is not None else LocalRegistry(self.state_dir)
        self._file = self.state_dir / "data" / "ecr" / "repositories.json"
        self.repositories: dict[str, Repository] = {}
        with contextlib.suppress(OSError, ValueError, TypeError):
            for raw in json.loads(self._file.read_text()):
                repo = Repository(**raw)
                self.repositories[repo.name] = repo

    def _save(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps([asdict(r) for r in self.repositories.values()], indent=1))
        os.replace(tmp, self._file)

    # ---- the registry -------------------------------------------------------------------------------
    def address(self) -> str:
        """The registry's ``127.0.0.1:PORT``, starting it when it does not run (RegistryError: none)."""
        return self.registry.start()

    async def start(self) -> None:
        """At the endpoint's start: the registry runs when repositories exist (their images are there)."""
        if self.repositories:
            with contextlib.suppress(RegistryError):
                await self.registry.ready()

    async def stop(self) -> None:
        await self.registry.stop()

    def uri(self, repo: Repository) -> str:
        return f"{self.address()}/{repo.name}"

    # ---- repositories -------------------------------------------------------------------------------
    def create(self, name: str, **settings: Any) -> Repository:
        repo = Repository(name=name, created_at=self.clock(), **settings)
        self.repositories[name] = repo
        self._save()
        self.address()
        return repo

    def delete(self, name: str) -> Repository:
        repo = self.repositories.pop(name)
        self._save()
        self.registry.delete_repository(name)
        return repo

    def images(self, name: str) -> list[StoredImage]:
        return self.registry.images(name)

    def local_image(self, image: str) -> str | None:
        """The registry's name of ``image`` when it is in a local repository (module docstring)."""
        m = ECR_IMAGE.match(image)
        if m is None or m.group("account") != ids.LOCAL_ACCOUNT:
            return None
        if m.group("repository") not in self.repositories:
            return None
        try:
            address = self.address()
        except RegistryError:
            return None
        return f"{address}/{m.group('repository')}{m.group('ref') or ''}"
