"""Helpers of the ``albfargate up`` integration tests: a small CloudFormation template writer, a runner of
the real CLI (``python -m albfargate.cli``), and the check that nothing a test started is left running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Svc:
    name: str = "web"
    desired: int = 2
    container: str = "app"
    image: str = "example/app:latest"
    container_port: int = 8080
    min_percent: int = 100
    max_percent: int = 200
    circuit_breaker: bool = False
    rollback: bool = False
    grace: int = 0
    dereg_delay: int = 1
    hc_interval: int = 5
    hc_path: str = "/"
    autoscaling: dict[str, Any] | None = None  # {"min":, "max":, "requests_per_target":, "cooldown":}
    extra_env: dict[str, str] = field(default_factory=dict)
    health_check: dict[str, Any] | None = None  # the container's HealthCheck property as in CloudFormation
    secrets: list[tuple[str, str]] = field(default_factory=list)  # (Name, ValueFrom)
    stop_timeout: int = 5  # the container's StopTimeout (SIGTERM -> SIGKILL)


def make_template(path: Path, services: Sequence[Svc], *, listener_port: int = 80) -> Path:
    """One application LB per service, listener ``listener_port`` → TG → the service's container."""
    r: dict[str, Any] = {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "test"}}}
    for i, s in enumerate(services):
        p = f"S{i}"
        r[f"{p}LB"] = {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Type": "application", "Scheme": "internet-facing", "Name": f"lb-{s.name}"},
        }
        r[f"{p}TG"] = {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Name": f"tg-{s.name}",
                "Port": s.container_port,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "HealthCheckPath": s.hc_path,
                "HealthCheckIntervalSeconds": s.hc_interval,
                "HealthCheckTimeoutSeconds": 2,
                "HealthyThresholdCount": 2,
                "UnhealthyThresholdCount": 2,
                "TargetGroupAttributes": [
                    {"Key": "deregistration_delay.timeout_seconds", "Value": str(s.dereg_delay)}
                ],
            },
        }
        r[f"{p}Listener"] = {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": f"{p}TG"}}],
                "LoadBalancerArn": {"Ref": f"{p}LB"},
                "Port": listener_port + i,
                "Protocol": "HTTP",
            },
        }
        r[f"{p}TaskDef"] = {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": f"fam-{s.name}",
                "Cpu": "256",
                "Memory": "512",
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "ContainerDefinitions": [
                    {
                        "Name": s.container,
                        "Image": s.image,
                        "Essential": True,
                        "PortMappings": [{"ContainerPort": s.container_port, "Protocol": "tcp"}],
                        "StopTimeout": s.stop_timeout,
                        "Environment": [{"Name": k, "Value": v} for k, v in s.extra_env.items()],
                        **({"HealthCheck": s.health_check} if s.health_check else {}),
                        **(
                            {"Secrets": [{"Name": n, "ValueFrom": v} for n, v in s.secrets]}
                            if s.secrets
                            else {}
                        ),
                    }
                ],
            },
        }
        r[f"{p}Service"] = {
            "Type": "AWS::ECS::Service",
            "DependsOn": [f"{p}Listener"],
            "Properties": {
                "ServiceName": s.name,
                "Cluster": {"Ref": "Cluster"},
                "DesiredCount": s.desired,
                "LaunchType": "FARGATE",
                "TaskDefinition": {"Ref": f"{p}TaskDef"},
                "HealthCheckGracePeriodSeconds": s.grace,
                "DeploymentConfiguration": {
                    "MaximumPercent": s.max_percent,
                    "MinimumHealthyPercent": s.min_percent,
                    "DeploymentCircuitBreaker": {"Enable": s.circuit_breaker, "Rollback": s.rollback},
                },
                "LoadBalancers": [
                    {
                        "ContainerName": s.container,
                        "ContainerPort": s.container_port,
                        "TargetGroupArn": {"Ref": f"{p}TG"},
                    }
                ],
            },
        }
        if s.autoscaling is not None:
            a = s.autoscaling
            r[f"{p}Scalable"] = {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {
                    "ServiceNamespace": "ecs",
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "ResourceId": f"service/test/{s.name}",
                    "MinCapacity": a["min"],
                    "MaxCapacity": a["max"],
                },
            }
            r[f"{p}Policy"] = {
                "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
                "Properties": {
                    "PolicyName": f"{s.name}-requests",
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": {"Ref": f"{p}Scalable"},
                    "TargetTrackingScalingPolicyConfiguration": {
                        "PredefinedMetricSpecification": (
                            {"PredefinedMetricType": a["metric"]}
                            if "metric" in a
                            else {
                                "PredefinedMetricType": "ALBRequestCountPerTarget",
                                "ResourceLabel": {
                                    "Fn::Join": [
                                        "/",
                                        [
                                            {"Fn::GetAtt": [f"{p}LB", "LoadBalancerFullName"]},
                                            {"Fn::GetAtt": [f"{p}TG", "TargetGroupFullName"]},
                                        ],
                                    ]
                                },
                            }
                        ),
                        "TargetValue": a.get("target", a.get("requests_per_target")),
                        "ScaleInCooldown": a.get("cooldown", 60),
                        "ScaleOutCooldown": a.get("cooldown", 60),
                    },
                },
            }
    path.write_text(json.dumps({"Resources": r}, indent=1))
    return path


def cli(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [PY, "-m", "albfargate.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and p.returncode != 0:
        raise AssertionError(f"albfargate {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def status(state_dir: Path) -> dict[str, Any]:
    return json.loads(cli("status", "--json", "--state-dir", str(state_dir)).stdout)


def service(st: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in st["services"] if s["name"] == name)


def wait_for(pred: Any, timeout: float, what: str, interval: float = 0.2, state: Path | None = None) -> Any:
    """Poll ``pred`` until it returns something truthy. With ``state`` (a state dir), a timeout also shows
    the supervisor's last log lines, so a failure seen once in CI says what the system was doing."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    detail = ""
    if state is not None:
        try:
            lines = (state / "supervisor.log").read_text(errors="replace").splitlines()[-40:]
            detail = "\nsupervisor.log (last lines):\n" + "\n".join(lines)
        except OSError as exc:
            detail = f"\n(no supervisor.log: {exc})"
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r}){detail}")


def get(url: str, timeout: float = 5, context: Any = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def processes_of(state_dir: Path) -> list[int]:
    """Live pids carrying this state dir's marker (task processes) or running its supervisor."""
    state_dir = state_dir.resolve()
    markers = (
        f"ALBFARGATE_STATE_DIR={state_dir}".encode(),
        f"ALBFARGATE_SUPERVISOR_OF={state_dir}".encode(),
    )
    out = []
    for e in os.scandir("/proc"):
        if not e.name.isdigit() or int(e.name) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{e.name}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{e.name}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue
        if any(m in env for m in markers):
            out.append(int(e.name))
    return out


def assert_nothing_left(state_dir: Path, timeout: float = 10) -> None:
    wait_for(lambda: not processes_of(state_dir), timeout, f"no process of {state_dir} left")


def up_detached(
    state_dir: Path, *up_args: str, timeout: float | None = None, cli_timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``albfargate up <up_args> --detach --state-dir <state_dir> [--timeout <timeout>]``, whatever its
    outcome (the caller asserts on the return code); ``cli_timeout`` bounds the command itself."""
    args = ["up", *up_args, "--detach", "--state-dir", str(state_dir)]
    if timeout is not None:
        args += ["--timeout", str(timeout)]
    return cli(*args, check=False, timeout=cli_timeout)


@contextmanager
def down_after(state_dir: Path, *, down_timeout: float = 120) -> Iterator[None]:
    """After the block, whatever happened in it: ``down`` and the no-stray-process check."""
    try:
        yield
    finally:
        cli("down", "--state-dir", str(state_dir), check=False, timeout=down_timeout)
        assert_nothing_left(state_dir)


@contextmanager
def detached(state_dir: Path, *up_args: str, timeout: float = 60) -> Iterator[dict[str, Any]]:
    """``up --detach`` for the block; ``down`` and the no-stray-process check afterwards."""
    # the command may synthesize first (a cold CDK synth can take a minute or two on a busy machine)
    p = up_detached(state_dir, *up_args, timeout=timeout, cli_timeout=timeout + 240)
    with down_after(state_dir, down_timeout=200):
        if p.returncode != 0:
            raise AssertionError(f"up --detach failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        yield status(state_dir)
