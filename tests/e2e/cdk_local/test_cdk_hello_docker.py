"""``examples/hello`` with the stock npm ``aws-cdk`` CLI and the Docker driver (issue 16): its image asset
is built by the CLI (``docker build`` of ``service/``), pushed with ``docker push`` to the local registry
behind the ECR endpoint (the CDK bootstrap's repository), and run by the Docker driver from there; the
``ServiceURL`` output answers with curl; a code change (``service/server.py``) is a new image, pushed and
rolled out with no failed request under light load; ``cdk destroy`` stops the containers.

The hello Dockerfile starts ``FROM public.ecr.aws/docker/library/python:3.12-slim``; no image can be pulled
here, so an image of that name is built first from this machine's Python (``python_image.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.cfn_live import Load
from tests.e2e.cdk_local.conftest import asset_hashes, containers_of, remove_asset_images
from tests.e2e.cdk_local.python_image import ensure_python_base
from tests.e2e.cdk_local.support import (
    albfargate,
    cdk_cli,
    copy_example,
    curl,
    outputs,
    run_cdk,
    system_env,
)
from tests.integration.up_support import assert_nothing_left, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cdkcli,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(1200),
]


def test_cdk_deploy_of_hello_builds_pushes_and_runs_its_image_with_the_docker_driver(
    tmp_path: Path, docker_client: object
) -> None:
    ensure_python_base(docker_client)
    cdk = cdk_cli()
    app = copy_example("hello", tmp_path)
    state = tmp_path / ".albfargate"
    hashes: set[str] = set()
    up = albfargate("up", "--empty", "--detach", "--driver", "docker", "--api-port", "0", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        env = system_env(app, docker_config=tmp_path / "docker-config")
        boot = run_cdk(cdk, "bootstrap", cwd=app, env=env)
        assert boot.returncode == 0, boot.output

        first = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert first.returncode == 0, first.output
        hashes |= asset_hashes(app)
        status = json.loads(albfargate("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
        found = outputs(first.output, "HelloStack")
        url = next(v for v in found.values() if v.startswith("http://") and ".elb.localhost:" in v)
        code, body = curl(url)
        assert code == 200, body
        assert "Hello from task" in body
        (svc,) = status["services"]
        assert svc["running"] == 2 and svc["steady"], svc
        assert len(containers_of(docker_client, state)) >= 2  # the tasks are containers

        server = app / "service" / "server.py"
        source = server.read_text().replace(" from task {name}</h1>", " from task {name} (v2)</h1>")
        server.write_text(source)
        local = "http://127.0.0.1:" + url.rsplit(":", 1)[1]
        with Load(local + "/health", interval=0.1) as load:
            second = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert second.returncode == 0, second.output
        hashes |= asset_hashes(app)
        assert load.failed == [] and load.ok > 20, (load.ok, load.failed[:5])
        status = json.loads(albfargate("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
        (svc,) = status["services"]
        assert [d["task_definition"].rsplit(":", 1)[1] for d in svc["deployments"]] == ["2"], svc
        code, body = curl(url)
        assert code == 200 and "(v2)</h1>" in body, body  # the new image runs

        gone = run_cdk(cdk, "destroy", "--all", "--force", cwd=app, env=env)
        assert gone.returncode == 0, gone.output
        wait_for(lambda: containers_of(docker_client, state) == [], 30, "no container of the stack left")
    finally:
        down = albfargate("down", "--state-dir", str(state), cwd=tmp_path)
        remove_asset_images(docker_client, hashes | asset_hashes(app))
        assert down.returncode == 0, down.stdout + down.stderr
    assert_nothing_left(state)
    assert containers_of(docker_client, state) == []
