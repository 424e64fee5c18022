"""ECR on the local endpoint over a real local registry (Debian's ``docker-registry``, started on
127.0.0.1 when the first repository is made): boto3's ECR client creates, describes and deletes
repositories with ECR's error codes, ``GetAuthorizationToken`` names the registry (which answers the
registry API there), repositories survive a new service on the same state dir, the registry process stops
with the service, and every JSON response matches botocore's shapes. ``docker push`` to it is exercised by
``tests/e2e/cdk_local/test_cdk_hello_docker.py``."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albfargate.api.ecr.handlers import TARGET_PREFIX
from albfargate.api.ecr.service import EcrService
from albfargate.api.server import ApiServer
from albfargate.api.store import ConfigStore
from albfargate.backing.registry import LocalRegistry, RegistryError, registry_binary
from tests.api.conftest import api_client
from tests.api.fakes import FakeBackend, demo_model
from tests.api.test_wire_shapes import _check_json

pytestmark = [pytest.mark.integration]
botocore_session = pytest.importorskip("botocore.session")
ClientError = pytest.importorskip("botocore.exceptions").ClientError
_MODEL = botocore_session.get_session().get_service_model("ecr")


@pytest.fixture
def ecr_endpoint(tmp_path: Path) -> Iterator[tuple[str, EcrService, asyncio.AbstractEventLoop]]:
    if registry_binary() is None:
        pytest.fail("no docker-registry: apt-get install docker-registry (.ci/run installs it)")
    model = demo_model()
    server = ApiServer(FakeBackend(model), ConfigStore(model), port=0)
    ecr = EcrService(tmp_path / "state", clock=time.time)
    server.dispatcher.context.ecr = ecr
    loop = asyncio.new_event_loop()
    url: list[str] = []
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        url.append(loop.run_until_complete(server.start()))
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.run_until_complete(ecr.stop())
        loop.close()

    thread = threading.Thread(target=run, name="ecr-test-server", daemon=True)
    thread.start()
    assert started.wait(5)
    try:
        yield url[0], ecr, loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
    assert ecr.registry._proc is None


def _registry_answers(address: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/_catalog", timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_repositories_and_the_registry_through_boto3(
    ecr_endpoint: tuple[str, EcrService, asyncio.AbstractEventLoop], tmp_path: Path
) -> None:
    url, ecr_service, _ = ecr_endpoint
    ecr = api_client(url, "ecr")
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories(repositoryNames=["app"])
    assert e.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    assert e.value.response["Error"]["Message"] == (
        "The repository with name 'app' does not exist in the registry with id '000000000000'"
    )
    repo = ecr.create_repository(repositoryName="team/app")["repository"]
    address = ecr_service.registry.address
    assert address is not None and address.startswith("127.0.0.1:")
    assert repo["repositoryUri"] == f"{address}/team/app"
    assert repo["repositoryArn"] == "arn:aws:ecr:us-east-1:000000000000:repository/team/app"
    assert _registry_answers(address) == {"repositories": []}  # a real registry answers there
    with pytest.raises(ClientError) as e:
        ecr.create_repository(repositoryName="team/app")
    assert e.value.response["Error"]["Code"] == "RepositoryAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        ecr.create_repository(repositoryName="Bad_Name")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"

    (listed,) = ecr.describe_repositories()["repositories"]
    assert listed["repositoryName"] == "team/app"
    (auth,) = ecr.get_authorization_token()["authorizationData"]
    assert auth["proxyEndpoint"] == f"http://{address}"
    assert base64.b64decode(auth["authorizationToken"]).decode().startswith("AWS:")

    assert ecr.describe_images(repositoryName="team/app")["imageDetails"] == []
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName="team/app", imageIds=[{"imageTag": "v1"}])
    assert e.value.response["Error"]["Code"] == "ImageNotFoundException"
    assert ecr.list_images(repositoryName="team/app")["imageIds"] == []

    # kept on disk: a new service on the same state dir has it
    again = EcrService(tmp_path / "state", clock=time.time, registry=LocalRegistry(tmp_path / "other"))
    assert list(again.repositories) == ["team/app"]
    image = "000000000000.dkr.ecr.us-east-1.amazonaws.com/team/app:abc"
    assert ecr_service.local_image(image) == f"{address}/team/app:abc"
    assert ecr_service.local_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:abc") is None
    assert ecr_service.local_image("000000000000.dkr.ecr.us-east-1.amazonaws.com/other:abc") is None
    assert ecr_service.local_image("nginx:latest") is None

    gone = ecr.delete_repository(repositoryName="team/app")["repository"]
    assert gone["repositoryName"] == "team/app"
    assert ecr.describe_repositories()["repositories"] == []


def test_responses_match_botocore_shapes(
    ecr_endpoint: tuple[str, EcrService, asyncio.AbstractEventLoop],
) -> None:
    url, _, _ = ecr_endpoint

    def raw(op: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={
                "X-Amz-Target": TARGET_PREFIX + op,
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/ecr/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            out: dict[str, Any] = json.loads(r.read())
        _check_json(_MODEL.operation_model(op).output_shape, out, op)
        return out

    raw("CreateRepository", {"repositoryName": "shapes"})
    for op, body in [
        ("DescribeRepositories", {}),
        ("DescribeRepositories", {"repositoryNames": ["shapes"]}),
        ("GetAuthorizationToken", {}),
        ("DescribeImages", {"repositoryName": "shapes"}),
        ("ListImages", {"repositoryName": "shapes"}),
        ("BatchGetImage", {"repositoryName": "shapes", "imageIds": [{"imageTag": "x"}]}),
        ("ListTagsForResource", {"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/shapes"}),
        ("PutLifecyclePolicy", {"repositoryName": "shapes", "lifecyclePolicyText": "{}"}),
        ("DeleteRepository", {"repositoryName": "shapes"}),
    ]:
        raw(op, body)


def test_no_registry_binary_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALBFARGATE_REGISTRY", str(tmp_path / "missing"))
    with pytest.raises(RegistryError) as e:
        LocalRegistry(tmp_path).start()
    assert "apt-get install docker-registry" in str(e.value)
