"""``AWS::ECR::Repository`` and ``EmptyOnDelete`` through CloudFormation, with an image really pushed
to the local registry (``docker push`` of a busybox image built here, nothing pulled): the stack's
delete fails as on AWS while the repository holds images and ``EmptyOnDelete`` is not true; after an
update sets it, the delete succeeds and the repository and its image are gone from the registry."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.api.cfn_live import FAST, cfn_engine, events_of

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.timeout(240)]


def repo_template(name: str, empty_on_delete: bool | None) -> dict[str, Any]:
    props: dict[str, Any] = {"RepositoryName": name}
    if empty_on_delete is not None:
        props["EmptyOnDelete"] = empty_on_delete
    return {
        "Resources": {"Repo": {"Type": "AWS::ECR::Repository", "Properties": props}},
        "Outputs": {"Uri": {"Value": {"Fn::GetAtt": ["Repo", "RepositoryUri"]}}},
    }


def _tags(address: str, name: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{address}/v2/{name}/tags/list", timeout=5) as r:
            return len(json.loads(r.read()).get("tags") or [])
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return -1
        raise


def _deploy_with_image(
    live: Any, docker_client: Any, image: str, stack: str, repo: str, empty: bool | None
) -> tuple[str, str]:
    """The stack's repository with ``image`` pushed to it as ``v1``; (stack id, registry address)."""
    cfn, ecr = live.client("cloudformation"), live.client("ecr")
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(repo_template(repo, empty)))[
        "StackId"
    ]
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=FAST)
    uri = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryUri"]
    address = uri.split("/", 1)[0]
    assert address.startswith("127.0.0.1:"), uri  # the local registry
    docker_client.images.get(image).tag(uri, tag="v1")
    try:
        for line in docker_client.images.push(uri, tag="v1", stream=True, decode=True):
            assert "error" not in line, line
    finally:
        docker_client.images.remove(f"{uri}:v1", noprune=True)
    assert [i["imageTag"] for i in ecr.list_images(repositoryName=repo)["imageIds"]] == ["v1"]
    assert _tags(address, repo) == 1
    return stack_id, address


def test_a_repository_with_an_image_is_deleted_only_with_empty_on_delete(
    tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    with cfn_engine(tmp_path / "state") as live:
        cfn, ecr = live.client("cloudformation"), live.client("ecr")
        kept_id, address = _deploy_with_image(live, docker_client, busybox_image, "Kept", "kept-images", None)
        cfn.delete_stack(StackName="Kept")
        with pytest.raises(Exception, match="DELETE_FAILED"):
            cfn.get_waiter("stack_delete_complete").wait(StackName="Kept", WaiterConfig=FAST)
        failed = [r for lid, s, r in events_of(cfn, kept_id) if lid == "Repo" and s == "DELETE_FAILED"]
        assert failed and "cannot be deleted because it still contains images" in (failed[0] or "")
        assert _tags(address, "kept-images") == 1  # nothing was removed

        _deploy_with_image(live, docker_client, busybox_image, "Emptied", "emptied-images", True)
        cfn.delete_stack(StackName="Emptied")
        cfn.get_waiter("stack_delete_complete").wait(StackName="Emptied", WaiterConfig=FAST)
        with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
            ecr.describe_repositories(repositoryNames=["emptied-images"])
        assert _tags(address, "emptied-images") == -1
        assert _tags(address, "kept-images") == 1

        # the failed stack goes with its repository retained, which is then removed with force
        cfn.delete_stack(StackName="Kept", RetainResources=["Repo"])
        cfn.get_waiter("stack_delete_complete").wait(StackName="Kept", WaiterConfig=FAST)
        ecr.delete_repository(repositoryName="kept-images", force=True)
