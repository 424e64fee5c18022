"""Time to steady on the Docker driver: ``albfargate up --driver docker --detach`` of a two-task service
behind the local ALB, from a locally built image (busybox httpd; no registry), measured as the wall time of
the command (it returns once every service is steady), then ``down``. The first run is cold for the
driver's own ``pause`` image (removed beforehand, so it is built once); the others are warm.

This is the Docker section of the ``up`` benchmark (``bench/up.py`` belongs to the ECS runtime and may call
:func:`docker_time_to_steady`).

    .venv/bin/python bench/up_docker.py [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "albfargate-bench/web:latest"
BUSYBOX_DOCKERFILE = ROOT / "tests" / "docker_images" / "busybox" / "Dockerfile"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_image(client: object) -> None:
    """The service image: FROM scratch + the host's static busybox, httpd on 8080, leaves on SIGTERM."""
    bb = shutil.which("busybox") or "/bin/busybox"
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        shutil.copy(bb, ctx / "busybox")
        df = BUSYBOX_DOCKERFILE.read_text().replace('CMD ["/bin/sh"]', "")
        df += (
            "RUN echo bench > /www/index.html\n"
            'CMD ["/bin/sh", "-c", "trap \'exit 0\' TERM; httpd -f -p 8080 -h /www & wait $!"]\n'
        )
        (ctx / "Dockerfile").write_text(df)
        client.images.build(path=str(ctx), tag=IMAGE, rm=True)  # type: ignore[attr-defined]


def template(path: Path) -> Path:
    tg_props = {
        "Port": 8080,
        "Protocol": "HTTP",
        "TargetType": "ip",
        "HealthCheckPath": "/",
        "HealthCheckIntervalSeconds": 5,
        "HealthCheckTimeoutSeconds": 2,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 2,
        "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}],
    }
    resources = {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "bench"}},
        "LB": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "application"}},
        "TG": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": tg_props},
        "Listener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TG"}}],
                "LoadBalancerArn": {"Ref": "LB"},
                "Port": 80,
                "Protocol": "HTTP",
            },
        },
        "TaskDef": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "bench",
                "Cpu": "256",
                "Memory": "512",
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "ContainerDefinitions": [
                    {
                        "Name": "web",
                        "Image": IMAGE,
                        "PortMappings": [{"ContainerPort": 8080}],
                        "StopTimeout": 5,
                    }
                ],
            },
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "DependsOn": ["Listener"],
            "Properties": {
                "ServiceName": "web",
                "Cluster": {"Ref": "Cluster"},
                "DesiredCount": 2,
                "LaunchType": "FARGATE",
                "TaskDefinition": {"Ref": "TaskDef"},
                "LoadBalancers": [
                    {"ContainerName": "web", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "TG"}}
                ],
            },
        },
    }
    path.write_text(json.dumps({"Resources": resources}))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "albfargate.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def docker_time_to_steady(runs: int = 5) -> dict[str, float]:
    """Seconds to steady (cold pause image, warm median/best) and ``down`` median, for a two-task
    service on the Docker driver."""
    import docker
    import docker.errors

    from albfargate.ecs.runtime.images import PAUSE_IMAGE

    client = docker.from_env()
    build_image(client)
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(PAUSE_IMAGE, force=True)
    ups: list[float] = []
    downs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        tpl = template(Path(tmp) / "bench.template.json")
        for i in range(runs):
            state = Path(tmp) / f"state-{i}"
            port = _free_port()
            t0 = time.monotonic()
            r = _cli("up", "--template", str(tpl), "--driver", "docker", "--detach",
                     "--state-dir", str(state), "--port", f"80={port}")  # fmt: skip
            ups.append(time.monotonic() - t0)
            if r.returncode != 0:
                _cli("down", "--state-dir", str(state))
                raise SystemExit(f"up failed:\n{r.stdout}\n{r.stderr}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                assert resp.status == 200
            t0 = time.monotonic()
            _cli("down", "--state-dir", str(state))
            downs.append(time.monotonic() - t0)
    client.images.remove(IMAGE, force=True)
    client.close()
    warm = ups[1:] or ups
    return {
        "cold_s": ups[0],
        "warm_median_s": statistics.median(warm),
        "warm_best_s": min(warm),
        "down_median_s": statistics.median(downs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    res = docker_time_to_steady(max(2, args.runs))
    print(
        f"docker driver, 2 tasks, local image: up --detach to steady cold {res['cold_s']:.2f} s (builds the "
        f"pause image), warm median {res['warm_median_s']:.2f} s (best {res['warm_best_s']:.2f} s); "
        f"down median {res['down_median_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
