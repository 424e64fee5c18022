"""``examples/hello`` deployed with the stock ``cdk deploy`` runs with the process driver, from the run
setting the construct records in the template (its ``albfargate.toml``, written into the task definition's
Metadata because the app is synthesized against the local endpoint): no ``--stand-in``, no Docker
container for the tasks; the ``ServiceURL`` answers with the app's own page. The CLI still builds and
pushes the image asset (as it does for AWS), so this needs a Docker engine too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cdk_local.conftest import asset_hashes, containers_of, remove_asset_images
from tests.e2e.cdk_local.python_image import ensure_python_base
from tests.e2e.cdk_local.support import albfargate, cdk_cli, copy_example, curl, outputs, run_cdk, system_env
from tests.integration.up_support import assert_nothing_left

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cdkcli,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]


def test_cdk_deploy_of_hello_runs_its_tasks_from_the_template_s_run_setting(
    tmp_path: Path,
    docker_client: object,
) -> None:
    ensure_python_base(docker_client)
    cdk = cdk_cli()
    app = copy_example("hello", tmp_path)
    state = tmp_path / ".albfargate"
    hashes: set[str] = set()
    up = albfargate("up", "--empty", "--detach", "--api-port", "0", cwd=tmp_path)  # no --stand-in
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        env = system_env(app, docker_config=tmp_path / "docker-config")
        boot = run_cdk(cdk, "bootstrap", cwd=app, env=env)
        assert boot.returncode == 0, boot.output
        deploy = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
        assert deploy.returncode == 0, deploy.output
        hashes |= asset_hashes(app)
        url = next(v for v in outputs(deploy.output, "HelloStack").values() if ".elb.localhost:" in v)
        code, body = curl(url)
        assert code == 200 and "Hello from task" in body, body  # the app's own server.py
        status = json.loads(albfargate("status", "--json", "--state-dir", str(state), cwd=tmp_path).stdout)
        (svc,) = status["services"]
        assert svc["running"] == 2 and svc["steady"], svc
        assert containers_of(docker_client, state) == []  # processes, not containers
        gone = run_cdk(cdk, "destroy", "--all", "--force", cwd=app, env=env)
        assert gone.returncode == 0, gone.output
    finally:
        down = albfargate("down", "--state-dir", str(state), cwd=tmp_path)
        remove_asset_images(docker_client, hashes | asset_hashes(app))
        assert down.returncode == 0, down.stdout + down.stderr
    assert_nothing_left(state)
