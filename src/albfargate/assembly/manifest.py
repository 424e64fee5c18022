"""The cloud assembly manifest (``cdk.out/manifest.json``): which stacks there are, where their templates
are, in which order they deploy (dependencies), nested assemblies of CDK stages, and the Docker image
assets of the asset manifests (``*.assets.json``).

Owns: reading the manifest and asset files into :class:`StackArtifact` and :class:`ImageAsset` values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from albfargate.errors import AssemblyError
from albfargate.model import ImageAsset, ids

STACK_TYPE = "aws:cloudformation:stack"
NESTED_TYPE = "cdk:cloud-assembly"
ASSET_MANIFEST_TYPE = "cdk:asset-manifest"


@dataclass(frozen=True, slots=True)
class StackArtifact:
    artifact_id: str  # unique inside the assembly (and its nested assemblies)
    stack_name: str  # the CloudFormation stack name
    display_name: str
    template_path: Path
    dependencies: tuple[str, ...] = ()  # artifact ids


@dataclass(frozen=True, slots=True)
class Assembly:
    stacks: tuple[StackArtifact, ...]  # in deployment order (dependencies first)
    assets: tuple[ImageAsset, ...]


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssemblyError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise AssemblyError(f"{what} {path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AssemblyError(f"{what} {path}: the top level must be an object")
    return data


def _local(text: str) -> str:
    """Replace the CDK placeholders of asset destinations with the local account and region."""
    return (
        text.replace("${AWS::AccountId}", ids.LOCAL_ACCOUNT)
        .replace("${AWS::Region}", ids.LOCAL_REGION)
        .replace("${AWS::Partition}", ids.PARTITION)
        .replace("${AWS::URLSuffix}", ids.URL_SUFFIX)
    )


def read_asset_manifest(path: Path) -> list[ImageAsset]:
    """The Docker image assets of one ``*.assets.json``; build contexts made absolute relative to the
    folder holding the file."""
    data = _read_json(path, "asset manifest")
    images = data.get("dockerImages") or {}
    if not isinstance(images, dict):
        raise AssemblyError(f"asset manifest {path}: dockerImages must be an object")
    out: list[ImageAsset] = []
    for asset_hash, entry in images.items():
        if not isinstance(entry, dict):
            raise AssemblyError(f"asset manifest {path}: dockerImages.{asset_hash} must be an object")
        source = entry.get("source") or {}
        directory = source.get("directory")
        directory_abs = str((path.parent / directory).resolve()) if isinstance(directory, str) else ""
        build_args = source.get("dockerBuildArgs") or {}
        destinations = entry.get("destinations") or {}
        first: dict[str, Any] = next(iter(destinations.values()), {}) if destinations else {}
        out.append(
            ImageAsset(
                asset_hash=str(asset_hash),
                directory=directory_abs,
                dockerfile=source.get("dockerFile"),
                build_args=tuple((str(k), str(v)) for k, v in build_args.items()),
                target=source.get("dockerBuildTarget"),
                platform=source.get("platform"),
                image_tag=_local(str(first.get("imageTag", asset_hash))),
                repository_name=_local(str(first.get("repositoryName", ""))),
            )
        )
    return out


def _order(stacks: list[StackArtifact]) -> list[StackArtifact]:
    """Dependencies first; otherwise manifest order (stable). Dependencies on non-stack artifacts
    (asset manifests) are ignored; a cycle is an error."""
    by_id = {s.artifact_id: s for s in stacks}
    done: set[str] = set()
    visiting: set[str] = set()
    out: list[StackArtifact] = []

    def visit(s: StackArtifact) -> None:
        if s.artifact_id in done:
            return
        if s.artifact_id in visiting:
            raise AssemblyError(f"stack {s.stack_name}: circular stack dependencies")
        visiting.add(s.artifact_id)
        for dep in s.dependencies:
            if dep in by_id:
                visit(by_id[dep])
        visiting.discard(s.artifact_id)
        done.add(s.artifact_id)
        out.append(s)

    for s in stacks:
        visit(s)
    return out


def read_assembly(cdk_out: Path) -> Assembly:
    """Every stack of the assembly at ``cdk_out`` (nested stage assemblies included) and every
    Docker image asset."""
    if not cdk_out.is_dir():
        raise AssemblyError(f"no cloud assembly at {cdk_out}: not a directory")
    stacks: list[StackArtifact] = []
    assets: list[ImageAsset] = []
    _collect(cdk_out, stacks, assets, seen=set())
    unique: dict[str, ImageAsset] = {}
    for a in assets:
        unique.setdefault(a.asset_hash, a)
    return Assembly(stacks=tuple(_order(stacks)), assets=tuple(unique.values()))


def _collect(directory: Path, stacks: list[StackArtifact], assets: list[ImageAsset], seen: set[Path]) -> None:
    directory = directory.resolve()
    if directory in seen:
        return
    seen.add(directory)
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"no cloud assembly at {directory}: manifest.json is missing")
    manifest = _read_json(manifest_path, "cloud assembly manifest")
    artifacts = manifest.get("artifacts") or {}
    if not isinstance(artifacts, dict):
        raise AssemblyError(f"cloud assembly manifest {manifest_path}: artifacts must be an object")
    saw_asset_manifest = False
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
        kind = artifact.get("type")
        props = artifact.get("properties") or {}
        if kind == STACK_TYPE:
            template = props.get("templateFile")
            if not isinstance(template, str):
                raise AssemblyError(f"stack {artifact_id}: manifest names no templateFile")
            stacks.append(
                StackArtifact(
                    artifact_id=str(artifact_id),
                    stack_name=str(props.get("stackName") or artifact_id),
                    display_name=str(artifact.get("displayName") or artifact_id),
                    template_path=directory / template,
                    dependencies=tuple(str(d) for d in artifact.get("dependencies") or ()),
                )
            )
        elif kind == NESTED_TYPE:
            nested = props.get("directoryName")
            if isinstance(nested, str):
                _collect(directory / nested, stacks, assets, seen)
        elif kind == ASSET_MANIFEST_TYPE:
            file = props.get("file")
            if isinstance(file, str):
                saw_asset_manifest = True
                assets.extend(read_asset_manifest(directory / file))
    if not saw_asset_manifest:  # older assemblies: pick the asset files up by name
        for path in sorted(directory.glob("*.assets.json")):
            assets.extend(read_asset_manifest(path))
