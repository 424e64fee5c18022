"""Image assets of a cloud assembly on the Docker driver: built from the asset manifest (directory,
Dockerfile, build args, target) and tagged by asset hash; a second start reuses the image (no rebuild);
a failing build reports the last lines of the build log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from albfargate.assembly import load_assembly
from albfargate.ecs.runtime.base import TaskStartError
from albfargate.ecs.runtime.docker import DockerDriver
from albfargate.ecs.runtime.images import asset_tag
from albfargate.model.ecs import ImageAsset

from .conftest import IMAGES
from .test_docker_service import docker_engine

pytestmark = [pytest.mark.integration, pytest.mark.docker]

REPO = "cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}"


def write_assembly(out: Path, asset_hash: str, base_image: str) -> Path:
    """A minimal cdk.out: one stack (cluster, task definition whose image is the asset, service) and its
    asset manifest, as ``cdk synth`` writes them for ``ContainerImage.fromAsset``."""
    out.mkdir(parents=True)
    ctx = out / f"asset.{asset_hash}"
    shutil.copytree(IMAGES / "webapp", ctx)
    (ctx / "Dockerfile").rename(ctx / "App.Dockerfile")
    image = {
        "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/" + REPO + ":" + asset_hash
    }
    template = {
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster"},
            "TaskDef": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "assetapp",
                    "Cpu": "256",
                    "Memory": "512",
                    "NetworkMode": "awsvpc",
                    "RequiresCompatibilities": ["FARGATE"],
                    "ContainerDefinitions": [
                        {
                            "Name": "web",
                            "Image": image,
                            "Essential": True,
                            "PortMappings": [{"ContainerPort": 8000, "Protocol": "tcp"}],
                            "Environment": [{"Name": "APP_PORT", "Value": "8000"}],
                            "StopTimeout": 2,
                            "HealthCheck": {
                                "Command": ["CMD-SHELL", "wget -q -O /dev/null http://localhost:8000/"],
                                "Interval": 5,
                                "Timeout": 2,
                                "Retries": 2,
                                "StartPeriod": 10,
                            },
                        }
                    ],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "TaskDefinition": {"Ref": "TaskDef"},
                    "DesiredCount": 1,
                    "LaunchType": "FARGATE",
                },
            },
        }
    }
    (out / "App.template.json").write_text(json.dumps(template))
    assets = {
        "version": "35.0.0",
        "files": {},
        "dockerImages": {
            asset_hash: {
                "source": {
                    "directory": f"asset.{asset_hash}",
                    "dockerFile": "App.Dockerfile",
                    "dockerBuildArgs": {"BASE": base_image, "GREETING": "hi"},
                    "dockerBuildTarget": "base",
                },
                "destinations": {
                    "current_account-current_region": {"repositoryName": REPO, "imageTag": asset_hash}
                },
            }
        },
    }
    (out / "App.assets.json").write_text(json.dumps(assets))
    manifest = {
        "version": "35.0.0",
        "artifacts": {
            "App.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App.assets.json"}},
            "App": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "App.template.json"},
                "dependencies": ["App.assets"],
            },
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def fetch(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_asset_is_built_once_and_reused(
    state_dir: Path, busybox_image: str, docker_client: Any, tmp_path: Path
) -> None:
    asset_hash = uuid.uuid4().hex + uuid.uuid4().hex  # a fresh asset: the first start must build it
    model = load_assembly(write_assembly(tmp_path / "cdk.out", asset_hash, busybox_image))
    c = model.task_definitions[0].containers[0]
    assert c.image_asset is not None and c.image_asset.target == "base"
    tag = asset_tag(c.image_asset)
    try:
        builds = []
        for _ in range(2):
            with docker_engine(state_dir, model) as r:
                r.wait_steady()
                builds.append(r.engine.driver.images.builds)  # type: ignore[attr-defined]
                task = next(iter(r.call(lambda: list(r.engine.store.tasks_of(model.services[0].name)))))
                port = task.containers[0].ports[0][1]
                deadline = time.monotonic() + 10
                while fetch(port, "/")[0] != 200 and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert fetch(port, "/") == (200, b"hi from the asset\n")  # the build arg
                assert fetch(port, "/stage.txt")[0] == 404  # built to target "base", not "release"
        assert builds == [1, 0]
        img = docker_client.images.get(tag)
        assert img.labels["albfargate.asset-hash"] == asset_hash
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag, force=True)


def test_failed_build_reports_the_last_lines_of_the_build_log(
    state_dir: Path, busybox_image: str, docker_client: Any, tmp_path: Path
) -> None:
    ctx = tmp_path / "broken"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo about-to-fail && echo the-reason-is-here >&2 && exit 42\n"
    )
    asset = ImageAsset(asset_hash=uuid.uuid4().hex, directory=str(ctx))

    async def main() -> None:
        driver = DockerDriver(state_dir, client=docker_client, progress=lambda line: None)
        try:
            with pytest.raises(TaskStartError) as info:
                await driver.images.resolve("ignored", asset)
        finally:
            driver.close()
        msg = str(info.value)
        assert msg.startswith(f"CannotPullContainerError: build of image asset {asset.asset_hash[:12]} ")
        assert "the-reason-is-here" in msg
        assert "returned a non-zero code: 42" in msg

    asyncio.run(main())
