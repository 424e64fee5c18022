"""ECR operations: ``CreateRepository``, ``DescribeRepositories``, ``DeleteRepository``,
``GetAuthorizationToken``, ``DescribeImages``, ``ListImages``, ``BatchGetImage`` (digests only),
``TagResource``/``UntagResource``/``ListTagsForResource``, ``PutLifecyclePolicy``/``SetRepositoryPolicy``
(accepted, not enforced). Errors use ECR's codes and messages (``RepositoryNotFoundException``,
``RepositoryAlreadyExistsException``, ``RepositoryNotEmptyException``, ``ImageNotFoundException``,
``InvalidParameterException``); the service is ``Context.ecr``
(:class:`~albfargate.api.ecr.service.EcrService`).

``GetAuthorizationToken`` gives the registry's loopback address as ``proxyEndpoint`` and a token for user
``AWS`` (the local registry asks for none, so ``docker login`` succeeds with it)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from albfargate.api.context import Context, Handler, Params, Result
from albfargate.api.ecr.service import NAME, EcrService, Repository
from albfargate.api.errors import ApiError
from albfargate.backing.registry import RegistryError, StoredImage
from albfargate.model import ids

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
TOKEN_HOURS = 12


def _ecr(ctx: Context) -> EcrService:
    ecr = getattr(ctx, "ecr", None)
    if ecr is None:
        raise ApiError(
            "ServerException", "ECR is not served by this endpoint (no running system)", status=500
        )
    assert isinstance(ecr, EcrService)
    return ecr


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def _registry_down(exc: RegistryError) -> ApiError:
    return ApiError("ServerException", str(exc), status=500, sender=False)


def _name(params: Params, key: str = "repositoryName") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"1 validation error detected: Value null at '{key}' failed to satisfy constraint: "
                       "Member must not be null")  # fmt: skip
    if len(value) < 2 or len(value) > 256 or NAME.match(value) is None:
        raise _invalid(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular "
            "expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''"
        )
    return value


def _not_found(name: str) -> ApiError:
    return ApiError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{ids.LOCAL_ACCOUNT}'",
    )


def _repo(ecr: EcrService, name: str) -> Repository:
    repo = ecr.repositories.get(name)
    if repo is None:
        raise _not_found(name)
    return repo


def repository_view(ecr: EcrService, repo: Repository) -> dict[str, Any]:
    try:
        uri = ecr.uri(repo)
    except RegistryError as exc:
        raise _registry_down(exc) from None
    return {
        "repositoryArn": repo.arn,
        "registryId": ids.LOCAL_ACCOUNT,
        "repositoryName": repo.name,
        "repositoryUri": uri,
        "createdAt": repo.created_at,
        "imageTagMutability": repo.image_tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
        "encryptionConfiguration": {"encryptionType": repo.encryption_type},
    }


def create_repository(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    name = _name(params)
    if name in ecr.repositories:
        raise ApiError(
            "RepositoryAlreadyExistsException",
            f"The repository with name '{name}' already exists in the registry with id '{ids.LOCAL_ACCOUNT}'",
        )
    mutability = params.get("imageTagMutability") or "MUTABLE"
    if mutability not in ("MUTABLE", "IMMUTABLE"):
        raise _invalid(
            f"Invalid parameter at 'imageTagMutability' failed to satisfy constraint: {mutability}"
        )
    scanning = params.get("imageScanningConfiguration") or {}
    encryption = params.get("encryptionConfiguration") or {}
    try:
        repo = ecr.create(
            name,
            image_tag_mutability=str(mutability),
            scan_on_push=bool(scanning.get("scanOnPush", False)) if isinstance(scanning, dict) else False,
            encryption_type=str(encryption.get("encryptionType", "AES256"))
            if isinstance(encryption, dict)
            else "AES256",
            tags=[t for t in params.get("tags") or [] if isinstance(t, dict)],
        )
    except RegistryError as exc:
        raise _registry_down(exc) from None
    return {"repository": repository_view(ecr, repo)}


def describe_repositories(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    names = params.get("repositoryNames")
    if names:
        repos = [_repo(ecr, str(n)) for n in names]
    else:
        repos = sorted(ecr.repositories.values(), key=lambda r: r.created_at)
    return {"repositories": [repository_view(ecr, r) for r in repos]}


def delete_repository(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    name = _name(params)
    repo = _repo(ecr, name)
    if ecr.images(name) and not params.get("force"):
        raise ApiError(
            "RepositoryNotEmptyException",
            f"The repository with name '{name}' in registry with id '{ids.LOCAL_ACCOUNT}' cannot be deleted "
            "because it still contains images",
        )
    view = repository_view(ecr, repo)
    ecr.delete(name)
    return {"repository": view}


def get_authorization_token(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    try:
        address = ecr.address()
    except RegistryError as exc:
        raise _registry_down(exc) from None
    now = ctx.clock()
    secret = hashlib.sha256(f"albfargate-ecr|{address}|{now}".encode()).hexdigest()
    return {
        "authorizationData": [
            {
                "authorizationToken": base64.b64encode(f"AWS:{secret}".encode()).decode(),
                "expiresAt": now + TOKEN_HOURS * 3600,
                "proxyEndpoint": f"http://{address}",
            }
        ]
    }


def _image_view(image: StoredImage, tags: list[str]) -> dict[str, Any]:
    return {
        "registryId": ids.LOCAL_ACCOUNT,
        "repositoryName": image.repository,
        "imageDigest": image.digest,
        "imageTags": tags,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
    }


def _wanted(ecr: EcrService, name: str, params: Params) -> tuple[list[StoredImage], list[dict[str, Any]]]:
    """The images ``imageIds`` names (all when none), and the ids that name nothing."""
    images = ecr.images(name)
    wanted = params.get("imageIds")
    if not wanted:
        return images, []
    found: list[StoredImage] = []
    missing = []
    for image_id in wanted:
        if not isinstance(image_id, dict):
            raise _invalid("imageIds: every image id is an object with imageTag or imageDigest")
        tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
        match = [
            i for i in images if (tag is None or i.tag == tag) and (digest is None or i.digest == digest)
        ]
        if match:
            found.extend(m for m in match if m not in found)
        else:
            missing.append(image_id)
    return found, missing


def describe_images(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    name = _name(params)
    _repo(ecr, name)
    found, missing = _wanted(ecr, name, params)
    if missing:
        first = missing[0]
        raise ApiError(
            "ImageNotFoundException",
            f"The image with imageId {{imageDigest:'{first.get('imageDigest') or 'null'}', imageTag:"
            f"'{first.get('imageTag') or 'null'}'}} does not exist within the repository with name '{name}' "
            f"in the registry with id '{ids.LOCAL_ACCOUNT}'",
        )
    by_digest: dict[str, list[StoredImage]] = {}
    for image in ecr.images(name):
        by_digest.setdefault(image.digest, []).append(image)
    seen: set[str] = set()
    details = []
    for image in found:
        if image.digest in seen:
            continue
        seen.add(image.digest)
        details.append(_image_view(image, sorted(i.tag for i in by_digest[image.digest])))
    return {"imageDetails": details}


def list_images(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    name = _name(params)
    _repo(ecr, name)
    return {"imageIds": [{"imageDigest": i.digest, "imageTag": i.tag} for i in ecr.images(name)]}


def batch_get_image(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    name = _name(params)
    _repo(ecr, name)
    found, missing = _wanted(ecr, name, params)
    return {
        "images": [
            {
                "registryId": ids.LOCAL_ACCOUNT,
                "repositoryName": name,
                "imageId": {"imageDigest": i.digest, "imageTag": i.tag},
                "imageManifestMediaType": i.media_type,
            }
            for i in found
        ],
        "failures": [
            {"imageId": m, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}
            for m in missing
        ],
    }


def _by_arn(ecr: EcrService, params: Params) -> Repository:
    arn = params.get("resourceArn")
    name = str(arn).split(":repository/", 1)[-1] if isinstance(arn, str) else ""
    return _repo(ecr, name)


def tag_resource(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    repo = _by_arn(ecr, params)
    new = {t["Key"]: t for t in params.get("tags") or [] if isinstance(t, dict) and "Key" in t}
    repo.tags = [t for t in repo.tags if t.get("Key") not in new] + list(new.values())
    ecr._save()
    return {}


def untag_resource(ctx: Context, params: Params) -> Result:
    ecr = _ecr(ctx)
    repo = _by_arn(ecr, params)
    gone = set(params.get("tagKeys") or [])
    repo.tags = [t for t in repo.tags if t.get("Key") not in gone]
    ecr._save()
    return {}


def list_tags_for_resource(ctx: Context, params: Params) -> Result:
    return {"tags": list(_by_arn(_ecr(ctx), params).tags)}


def _accepted_policy(key: str) -> Handler:
    def handler(ctx: Context, params: Params) -> Result:
        name = _name(params)
        _repo(_ecr(ctx), name)
        return {"registryId": ids.LOCAL_ACCOUNT, "repositoryName": name, key: params.get(key)}

    return handler


OPERATIONS: dict[str, Handler] = {
    "CreateRepository": create_repository,
    "DescribeRepositories": describe_repositories,
    "DeleteRepository": delete_repository,
    "GetAuthorizationToken": get_authorization_token,
    "DescribeImages": describe_images,
    "ListImages": list_images,
    "BatchGetImage": batch_get_image,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "PutLifecyclePolicy": _accepted_policy("lifecyclePolicyText"),
    "SetRepositoryPolicy": _accepted_policy("policyText"),
}
