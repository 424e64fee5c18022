"""The cloud assembly manifest: stacks, dependency order, nested (stage) assemblies, asset manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import load_assembly
from albfargate.assembly.manifest import read_assembly
from albfargate.errors import AssemblyError

REPO = "cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}"


def _stack(template: str, deps: list[str] | None = None, stack_name: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"templateFile": template}
    if stack_name:
        props["stackName"] = stack_name
    return {"type": "aws:cloudformation:stack", "properties": props, "dependencies": deps or []}


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_stacks_in_dependency_order_with_nested_assembly(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    _write(
        out / "manifest.json",
        {
            "version": "36.0.0",
            "artifacts": {
                "App": _stack("App.template.json", ["Network", "App.assets"]),
                "App.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App.assets.json"}},
                "Network": _stack("Network.template.json"),
                "Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Stage"}},
                "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
            },
        },
    )
    _write(
        out / "assembly-Stage" / "manifest.json",
        {"artifacts": {"StageApp": _stack("StageApp.template.json", [], stack_name="Stage-App")}},
    )
    _write(
        out / "App.assets.json",
        {
            "version": "36.0.0",
            "files": {},
            "dockerImages": {
                "abc123": {
                    "source": {
                        "directory": "asset.abc123",
                        "dockerFile": "Dockerfile.prod",
                        "dockerBuildArgs": {"A": "1", "B": "two"},
                        "dockerBuildTarget": "runtime",
                        "platform": "linux/arm64",
                    },
                    "destinations": {
                        "current_account-current_region": {
                            "repositoryName": REPO,
                            "imageTag": "abc123",
                        }
                    },
                }
            },
        },
    )
    assembly = read_assembly(out)
    assert [s.stack_name for s in assembly.stacks] == ["Network", "App", "Stage-App"]
    assert assembly.stacks[2].template_path == (out / "assembly-Stage" / "StageApp.template.json").resolve()
    (asset,) = assembly.assets
    assert asset.asset_hash == "abc123"
    assert asset.directory == str((out / "asset.abc123").resolve())
    assert Path(asset.directory).is_absolute()
    assert asset.dockerfile == "Dockerfile.prod"
    assert asset.build_args == (("A", "1"), ("B", "two"))
    assert asset.target == "runtime"
    assert asset.platform == "linux/arm64"
    assert asset.image_tag == "abc123"
    assert asset.repository_name == "cdk-hnb659fds-container-assets-000000000000-us-east-1"


def test_image_asset_linked_from_container(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    image = {
        "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/"
        "cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}:abc123"
    }
    _write(out / "manifest.json", {"artifacts": {"S": _stack("S.template.json")}})
    _write(
        out / "S.template.json",
        {
            "Resources": {
                "TD": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {
                        "ContainerDefinitions": [
                            {"Name": "web", "Image": image},
                            {"Name": "side", "Image": "public.ecr.aws/nginx/nginx:1"},
                        ]
                    },
                }
            }
        },
    )
    _write(
        out / "S.assets.json",  # no asset-manifest artifact: picked up by name
        {
            "dockerImages": {
                "abc123": {
                    "source": {"directory": "asset.abc123"},
                    "destinations": {
                        "d": {
                            "repositoryName": REPO,
                            "imageTag": "abc123",
                        }
                    },
                }
            }
        },
    )
    model = load_assembly(out)
    web, side = model.task_definitions[0].containers
    assert web.image == (
        "000000000000.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-000000000000-us-east-1:abc123"
    )
    assert web.image_asset is not None and web.image_asset.asset_hash == "abc123"
    assert side.image_asset is None
    assert model.assets == (web.image_asset,)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("none", "manifest.json is missing"),
        ("badjson", "invalid JSON"),
        ("notemplate", "manifest names no templateFile"),
        ("cycle", "circular stack dependencies"),
        ("missing-template", "cannot read template"),
    ],
)
def test_manifest_errors(tmp_path: Path, setup: str, message: str) -> None:
    out = tmp_path / "cdk.out"
    out.mkdir()
    if setup == "badjson":
        (out / "manifest.json").write_text("{")
    elif setup == "notemplate":
        _write(out / "manifest.json", {"artifacts": {"S": {"type": "aws:cloudformation:stack"}}})
    elif setup == "cycle":
        _write(
            out / "manifest.json",
            {"artifacts": {"A": _stack("A.json", ["B"]), "B": _stack("B.json", ["A"])}},
        )
    elif setup == "missing-template":
        _write(out / "manifest.json", {"artifacts": {"A": _stack("A.json")}})
    with pytest.raises(AssemblyError, match=message):
        load_assembly(out)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match="not a directory"):
        load_assembly(tmp_path / "nope")
