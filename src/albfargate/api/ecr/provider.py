"""``AWS::ECR::Repository`` as a live CloudFormation resource (``cfn.providers.register``): a repository
of the local ECR (``Context.ecr``), so the CDK bootstrap's ``ContainerAssetsRepository`` is where
``cdk deploy`` pushes image assets. ``RepositoryName`` is the physical id; ``Fn::GetAtt`` ``Arn`` and
``RepositoryUri`` are AWS-shaped (``000000000000.dkr.ecr.<region>.amazonaws.com/<name>``: the Docker
driver runs such an image from the local registry). A repository that still has images is not deleted
unless ``EmptyOnDelete`` is true, as on AWS."""

from __future__ import annotations

from typing import Any

from albfargate.api.ecr.service import EcrService
from albfargate.backing.registry import RegistryError
from albfargate.cfn.live import handler_message
from albfargate.cfn.providers import ProviderResult, ResourceFailed, ResourceRequest
from albfargate.model import ids

TYPE = "AWS::ECR::Repository"


def _ecr(request: ResourceRequest) -> EcrService:
    ctx = getattr(request.system, "ctx", None)
    ecr = getattr(ctx, "ecr", None)
    if not isinstance(ecr, EcrService):
        raise ResourceFailed(handler_message("ECR is not served by this system", "ServiceInternalError"))
    return ecr


def _attributes(name: str) -> dict[str, Any]:
    return {
        "Arn": f"arn:aws:ecr:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:repository/{name}",
        "RepositoryUri": f"{ids.LOCAL_ACCOUNT}.dkr.ecr.{ids.LOCAL_REGION}.{ids.URL_SUFFIX}/{name}",
    }


def _settings(props: Any) -> dict[str, Any]:
    scanning = props.get("ImageScanningConfiguration") or {}
    encryption = props.get("EncryptionConfiguration") or {}
    return {
        "image_tag_mutability": str(props.get("ImageTagMutability") or "MUTABLE"),
        "scan_on_push": str(scanning.get("ScanOnPush", "false")).lower() == "true",
        "encryption_type": str(encryption.get("EncryptionType") or "AES256"),
        "tags": [{"Key": t.get("Key"), "Value": t.get("Value")} for t in props.get("Tags") or []],
    }


class RepositoryProvider:
    live = True

    async def create(self, request: ResourceRequest) -> ProviderResult:
        ecr = _ecr(request)
        name = request.physical_id
        if name in ecr.repositories:
            raise ResourceFailed(
                handler_message(
                    f"Resource of type '{TYPE}' with identifier '{name}' already exists.", "AlreadyExists"
                )
            )
        try:
            ecr.create(name, **_settings(request.properties))
            await ecr.registry.ready()
        except RegistryError as exc:
            ecr.repositories.pop(name, None)
            raise ResourceFailed(handler_message(str(exc), "ServiceInternalError")) from None
        return ProviderResult(name, _attributes(name))

    async def update(self, request: ResourceRequest) -> ProviderResult:
        ecr = _ecr(request)
        name = request.physical_id
        repo = ecr.repositories.get(name)
        if repo is None:
            return await self.create(request)
        for key, value in _settings(request.properties).items():
            setattr(repo, key, value)
        ecr._save()
        return ProviderResult(name, _attributes(name))

    async def delete(self, request: ResourceRequest) -> None:
        ecr = _ecr(request)
        record = request.previous
        name = record.physical_id if record is not None and record.physical_id else request.physical_id
        if name not in ecr.repositories:
            return
        empty_on_delete = str(request.properties.get("EmptyOnDelete", "false")).lower() == "true"
        if ecr.images(name) and not empty_on_delete:
            raise ResourceFailed(
                handler_message(
                    f"The repository with name '{name}' in registry with id '{ids.LOCAL_ACCOUNT}' cannot be "
                    "deleted because it still contains images (Service: Ecr, Status Code: 400)",
                    "GeneralServiceException",
                )
            )
        ecr.delete(name)
