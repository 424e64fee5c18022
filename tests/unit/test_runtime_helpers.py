"""Pure helpers of the local Fargate runtime: the stand-in's responses, dependsOn start order, exit codes,
stand-in matching, missing run settings, `--port` parsing, the status view, and the
task metadata documents. Tables of cases; no sockets, no processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from albfargate.commands.up import parse_port_overrides, render_view
from albfargate.ecs import metadata
from albfargate.ecs.runtime.base import ContainerSpec, TaskStartError
from albfargate.ecs.runtime.process import exit_code_of, start_order
from albfargate.ecs.standin import MAX_SLEEP_SECONDS, Identity, build_response
from albfargate.ecs.tasks import LastStatus, TaskLifecycle
from albfargate.engine import missing_run_settings, stand_in_matches
from albfargate.errors import UsageError
from albfargate.model import (
    ContainerDefinition,
    ContainerDependency,
    ForwardAction,
    Listener,
    LoadBalancer,
    Service,
    SystemModel,
    TargetGroupTuple,
    TaskDefinition,
)
from albfargate.model.elbv2 import LoadBalancerType
from albfargate.runsettings import parse_run_settings
from albfargate.state.store import ContainerRecord, Store, TaskRecord

ID = Identity("svc", "t1", "web")


def _parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    ("target", "status", "delay"),
    [
        ("/", 200, 0.0),
        ("/x?status=503", 503, 0.0),
        ("/x?status=99", 200, 0.0),  # out of range: ignored
        ("/x?status=abc", 200, 0.0),
        ("/x?sleep=0.25", 200, 0.25),
        ("/x?sleep=-3", 200, 0.0),
        (f"/x?sleep={MAX_SLEEP_SECONDS * 10}", 200, MAX_SLEEP_SECONDS),
        ("/x?status=404&sleep=1", 404, 1.0),
    ],
)
def test_standin_status_and_sleep(target: str, status: int, delay: float) -> None:
    data, d = build_response(ID, "GET", target, [], 0, True)
    assert _parse(data)[0] == status
    assert d == delay


def test_standin_body_names_everything() -> None:
    data, _ = build_response(ID, "POST", "/a/b?q=1&r=2", [("X-Foo", "Bar"), ("Host", "h")], 11, False)
    status, headers, body = _parse(data)
    assert status == 200
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    doc = json.loads(body)
    assert doc == {
        "service": "svc",
        "task": "t1",
        "container": "web",
        "method": "POST",
        "path": "/a/b",
        "query": "q=1&r=2",
        "headers": {"x-foo": "Bar", "host": "h"},
        "body_length": 11,
    }


@pytest.mark.parametrize(
    ("method", "target"), [("HEAD", "/"), ("GET", "/?status=204"), ("GET", "/?status=304")]
)
def test_standin_bodiless(method: str, target: str) -> None:
    data, _ = build_response(ID, method, target, [], 0, True)
    assert _parse(data)[2] == b""


def _c(name: str, *deps: str) -> ContainerSpec:
    return ContainerSpec(
        name=name, image="i", argv=("x",), depends_on=tuple(ContainerDependency(d) for d in deps)
    )


@pytest.mark.parametrize(
    ("containers", "order"),
    [
        ([_c("a"), _c("b")], ["a", "b"]),
        ([_c("app", "init"), _c("init")], ["init", "app"]),
        ([_c("a", "b", "c"), _c("b", "c"), _c("c")], ["c", "b", "a"]),
        ([_c("a", "ghost")], ["a"]),  # unknown dependency ignored
    ],
)
def test_start_order(containers: list[ContainerSpec], order: list[str]) -> None:
    assert [c.name for c in start_order(tuple(containers))] == order


def test_start_order_cycle() -> None:
    with pytest.raises(TaskStartError, match="dependsOn cycle"):
        start_order((_c("a", "b"), _c("b", "a")))


@pytest.mark.parametrize(("rc", "code"), [(0, 0), (3, 3), (-15, 143), (-9, 137)])
def test_exit_codes(rc: int, code: int) -> None:
    assert exit_code_of(rc) == code


@pytest.mark.parametrize(
    ("patterns", "image", "name", "match"),
    [
        (["*"], "any/thing:1", "web", True),
        ([], "any/thing:1", "web", False),
        (["amazon/*"], "amazon/amazon-ecs-sample", "web", True),
        (["amazon/*"], "nginx", "web", False),
        (["web"], "nginx", "web", True),  # by container name
        (["side*", "x"], "nginx", "sidecar", True),
    ],
)
def test_stand_in_matches(patterns: list[str], image: str, name: str, match: bool) -> None:
    assert stand_in_matches(patterns, ContainerDefinition(name=name, image=image)) is match


def _model() -> SystemModel:
    td = TaskDefinition(
        arn="td:1",
        family="f",
        revision=1,
        containers=(
            ContainerDefinition(name="app", image="repo/app"),
            ContainerDefinition(name="log", image="fl"),
        ),
    )
    svc = Service(arn="s", name="web", cluster_arn="c", cluster_name="c", task_definition_arn="td:1")
    lb_app = LoadBalancer(arn="lb1", name="a", lb_id="1", dns_name="d")
    lb_net = LoadBalancer(arn="lb2", name="n", lb_id="2", dns_name="d", type=LoadBalancerType.NETWORK)
    fwd = (ForwardAction(target_groups=(TargetGroupTuple("tg-a"),)),)
    return SystemModel(
        load_balancers=(lb_app, lb_net),
        listeners=(
            Listener(arn="l1", load_balancer_arn="lb1", port=80, protocol="HTTP", default_actions=fwd),
            Listener(
                arn="l2",
                load_balancer_arn="lb2",
                port=80,
                protocol="TCP",
                default_actions=(ForwardAction(target_groups=(TargetGroupTuple("tg-n"),)),),
            ),
        ),
        task_definitions=(td,),
        services=(svc,),
    )


def test_missing_run_settings_names_each_container(tmp_path: Path) -> None:
    m = _model()
    lines = missing_run_settings(m, None, ())
    assert len(lines) == 2 and lines[0].startswith("container app (image repo/app) of service web")
    settings = parse_run_settings(
        {"containers": {"app": {"command": ["true"]}}}, app_dir=tmp_path, source=tmp_path / "albfargate.toml"
    )
    lines = missing_run_settings(m, settings, ())
    assert len(lines) == 1 and "container log" in lines[0] and "albfargate.toml" in lines[0]
    assert missing_run_settings(m, settings, ("fl",)) == []
    assert missing_run_settings(m, None, ("*",)) == []


def test_a_missing_run_setting_says_what_to_write_and_suggests_the_stand_in(tmp_path: Path) -> None:
    m = _model()
    empty = parse_run_settings({}, app_dir=tmp_path, source=None)  # no albfargate.toml yet
    (line, _) = missing_run_settings(m, empty, ())
    assert f"add a [containers.app] command to {tmp_path / 'albfargate.toml'}" in line
    assert "--stand-in app (all: --stand-in '*')" in line and "--driver docker" in line
    in_cdk_json = parse_run_settings({}, app_dir=tmp_path, source=tmp_path / "cdk.json")
    (line, _) = missing_run_settings(m, in_cdk_json, ())
    assert f'add containers.app.command to the "albfargate" context of {tmp_path / "cdk.json"}' in line


@pytest.mark.parametrize(
    ("values", "out"), [([], {}), (["80=8080"], {80: 8080}), (["80=1", "443=2"], {80: 1, 443: 2})]
)
def test_port_overrides(values: list[str], out: dict[int, int]) -> None:
    assert parse_port_overrides(values) == out


@pytest.mark.parametrize("bad", ["80", "80:8080", "x=1", "80=0", "70000=1"])
def test_port_overrides_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--port"):
        parse_port_overrides([bad])


def test_render_view() -> None:
    status = {
        "load_balancers": [
            {
                "name": "lb",
                "scheme": "internet-facing",
                "listeners": [{"port": 80, "protocol": "HTTP", "url": "u"}],
            }
        ],
        "services": [
            {
                "name": "web",
                "desired": 2,
                "running": 1,
                "pending": 1,
                "steady": False,
                "status": "ACTIVE",
                "target_groups": ["arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/tg/1"],
                "deployments": [
                    {
                        "id": "ecs-svc/1",
                        "status": "PRIMARY",
                        "rollout_state": "IN_PROGRESS",
                        "task_definition": "a/f:1",
                    }
                ],
                "tasks": [
                    {
                        "id": "t",
                        "last_status": "RUNNING",
                        "health": "UNKNOWN",
                        "target": "127.0.0.1:1",
                        "target_state": "healthy",
                        "target_reason": None,
                        "deployment": "ecs-svc/1",
                    }
                ],
                "events": [{"created_at": 0.0, "message": "(service web) has started 1 tasks: (task t)."}],
            }
        ],
    }
    text = render_view(status)
    assert "HTTP:80    u" in text
    assert "web  deploying 1/2  desired 2  running 1  pending 1  healthy 1" in text  # not "ACTIVE"
    assert "deployment ecs-svc/1 PRIMARY IN_PROGRESS f:1" in text
    assert "127.0.0.1:1 healthy" in text and "has started 1 tasks" in text
    assert "NOT STEADY" not in text
    status["not_steady"] = ["service web: 1/2 running"]
    status["api_url"] = "http://127.0.0.1:4566"
    text = render_view(status)
    assert text.endswith("NOT STEADY\n  service web: 1/2 running\nAWS API  http://127.0.0.1:4566")


def test_metadata_documents() -> None:
    store = Store(lambda: 1700000000.0)
    td = TaskDefinition(
        arn="td:3",
        family="fam",
        revision=3,
        cpu=256,
        memory=512,
        containers=(ContainerDefinition(name="web", image="img", cpu=128, memory=256),),
    )
    store.register_task_definition(td)
    t = TaskRecord(
        task_id="abc",
        task_arn="arn:task/c/abc",
        cluster_arn="arn:c",
        cluster="c",
        task_definition_arn="td:3",
        service_name="web",
        deployment_id="d",
        life=TaskLifecycle(created_at=1700000000.0, last_status=LastStatus.RUNNING),
    )
    t.containers.append(
        ContainerRecord(name="web", container_arn="arn:container", image="img", ports=((80, 4000),))
    )
    store.add_task(t)
    code, doc = metadata.resolve(store, "/v4/abc/web")
    assert code == 200
    assert doc["Name"] == "web" and doc["Limits"] == {"CPU": 128, "Memory": 256}
    assert doc["Networks"][0]["IPv4Addresses"] == ["127.0.0.1"]
    assert doc["Ports"] == [{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 4000, "HostIp": "127.0.0.1"}]
    code, task = metadata.resolve(store, "/v4/abc/web/task")
    assert code == 200
    assert task["TaskARN"] == "arn:task/c/abc" and task["Family"] == "fam" and task["Revision"] == "3"
    assert task["Limits"] == {"CPU": 0.25, "Memory": 512} and task["ServiceName"] == "web"
    assert task["LaunchType"] == "FARGATE" and task["Containers"][0]["DockerId"] == "abc-web"
    assert metadata.resolve(store, "/v4/nope/web")[0] == 404
    assert metadata.resolve(store, "/v4/abc/other")[0] == 404
    assert metadata.resolve(store, "/v3/abc/web")[0] == 404
