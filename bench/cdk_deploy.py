"""Benchmark of the stock ``cdk deploy`` into the local system (issue 16, docs/deploy-local.md): the time
from the ``cdk deploy --all --require-approval never`` command to the ``ServiceURL`` output answering with
curl, for both examples.

1. examples/classic into ``albfargate up --empty --stand-in '*'`` (process driver, stand-in tasks);
2. examples/hello into ``albfargate up --empty --driver docker`` (the CLI builds the image asset and pushes
   it to the local registry; the Docker driver runs it); skipped without a Docker engine or with
   ``--skip-docker``.

Each case: a fresh state dir and copy of the example in a temporary folder, ``cdk bootstrap`` (timed
apart), then ``cdk deploy`` (includes the CLI's synth of the app, asset publishing and the stack's
create until every service is steady), then one curl of the printed URL; ``cdk destroy`` and
``albfargate down`` after (the classic app's target group keeps ELB's default 300 s deregistration
delay, so its destroy waits that long for the tasks to drain, as on AWS). The URL is known only once
the Outputs print, so "to the URL answering" is the deploy's wall time plus that first request. Figures
depend on the machine's load: report them with it.
Run: ``.venv/bin/python bench/cdk_deploy.py [--skip-docker]``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.cdk_local.support import (  # noqa: E402
    albfargate,
    cdk_cli,
    copy_example,
    curl,
    outputs,
    run_cdk,
    system_env,
)

CASES = {
    "classic": ("ClassicStack", ("--stand-in", "*")),
    "hello": ("HelloStack", ("--driver", "docker")),
}


def one(name: str) -> dict[str, float]:
    stack, up_args = CASES[name]
    cdk = cdk_cli()
    with tempfile.TemporaryDirectory(prefix=f"albfargate-bench-cdk-{name}-") as tmp:
        root = Path(tmp)
        app = copy_example(name, root)
        state = root / ".albfargate"
        try:
            up = albfargate("up", "--empty", "--detach", "--api-port", "0", *up_args, cwd=root)
            if up.returncode != 0:
                raise SystemExit(f"up --empty failed:\n{up.stdout}{up.stderr}")
            env = system_env(app, docker_config=root / "docker-config")
            boot = run_cdk(cdk, "bootstrap", cwd=app, env=env)
            if boot.returncode != 0:
                raise SystemExit(f"cdk bootstrap failed:\n{boot.output[-2000:]}")
            started = time.monotonic()
            deploy = run_cdk(cdk, "deploy", "--all", "--require-approval", "never", cwd=app, env=env)
            if deploy.returncode != 0:
                raise SystemExit(f"cdk deploy failed:\n{deploy.output[-2000:]}")
            url = next(v for v in outputs(deploy.output, stack).values() if v.startswith("http://"))
            code, body = curl(url)
            answered = time.monotonic() - started
            if code != 200:
                raise SystemExit(f"{url} answered {code}: {body[:200]}")
            destroy = run_cdk(cdk, "destroy", "--all", "--force", cwd=app, env=env)
            return {
                "bootstrap": boot.seconds,
                "deploy": deploy.seconds,
                "url": answered,
                "destroy": destroy.seconds,
            }
        finally:
            albfargate("down", "--state-dir", str(state), cwd=root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-docker", action="store_true", help="only the classic example")
    args = parser.parse_args()
    names = ["classic"] if args.skip_docker else ["classic", "hello"]
    if "hello" in names:
        try:
            from tests.e2e.cdk_local.python_image import ensure_python_base

            from albfargate.ecs.runtime.docker import connect

            ensure_python_base(connect(3.0))
        except Exception as exc:  # no engine: the Docker case is skipped, and says so
            print(f"hello: skipped (no Docker engine: {exc})")
            names.remove("hello")
    print(f"{'example':<8} {'bootstrap':>10} {'deploy':>8} {'to URL answering':>17} {'destroy':>8}")
    for name in names:
        r = one(name)
        line = f"{name:<8} {r['bootstrap']:>9.1f}s {r['deploy']:>7.1f}s {r['url']:>16.1f}s"
        print(f"{line} {r['destroy']:>7.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
