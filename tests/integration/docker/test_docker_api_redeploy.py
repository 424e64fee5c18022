"""Issue 12 item 5 on the Docker driver (the report: 10 of 40 requests got 503 there): a service made
through the API behind a listener made through the API is force-redeployed under light load with no
failed request, and the deployment completes promptly. The image is busybox httpd on 8080, built here
FROM scratch (no registry); the scenario is ``tests/integration/test_up_api_redeploy.py``'s."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_up_api_redeploy import (
    cluster_only_template,
    force_redeploy_under_light_load,
    make_service,
)
from tests.integration.up_support import detached

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(300)]

TAG = "albfargate-test/httpd8080:latest"


@pytest.fixture(scope="module")
def httpd_image(docker_client: Any, busybox_image: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {busybox_image}\nRUN echo ok > /www/index.html\nEXPOSE 8080\n"
            'CMD ["/bin/sh", "-c", "trap \'exit 0\' TERM; httpd -f -p 8080 -h /www & wait $!"]\n'
        )
        docker_client.images.build(path=tmp, tag=TAG, rm=True)
    yield TAG
    docker_client.images.remove(TAG, force=True)


def test_forced_redeploy_of_an_api_made_service_on_docker_fails_no_request(
    tmp_path: Path, httpd_image: str, state_dir: Path
) -> None:
    tpl = cluster_only_template(tmp_path / "cluster.json")
    args = ("--template", str(tpl), "--driver", "docker", "--api-port", "0")
    with detached(state_dir, *args, timeout=60) as st:
        assert st["api_url"], "the AWS-compatible endpoint is not running"
        force_redeploy_under_light_load(make_service(st, image=httpd_image, by_rule=True))
