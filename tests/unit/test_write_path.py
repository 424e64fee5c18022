"""One write path (issue 14): an API call is one engine command, which is one scheduler command, which is
one store change, one store notification, one enqueue and one change notification; the API adapter
never writes the store; and reads go by key (one record projected, not a snapshot of every service, task
or task definition). Pure: a fake clock, no event loop, no sockets, no processes started."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from albfargate.api.backend import ServiceUpdate
from albfargate.api.engine_backend import EngineBackend
from albfargate.ecs.runtime.base import TaskSpec
from albfargate.ecs.scheduler import Scheduler
from albfargate.engine import Engine, EngineConfig
from albfargate.model import ContainerDefinition, Service, TaskDefinition
from albfargate.model.ecs import DeploymentConfiguration
from albfargate.model.system import SystemModel
from albfargate.state.store import DeploymentRecord, ServiceRecord, Store

C = (ContainerDefinition(name="app", image="i"),)
TD1 = TaskDefinition(
    arn="arn:aws:ecs:us-east-1:0:task-definition/web:1", family="web", revision=1, containers=C
)
TD2 = replace(TD1, arn="arn:aws:ecs:us-east-1:0:task-definition/web:2", revision=2)
SVC = Service(
    arn="arn:aws:ecs:us-east-1:0:service/c/web",
    name="web",
    cluster_arn="arn:aws:ecs:us-east-1:0:cluster/c",
    cluster_name="c",
    task_definition_arn=TD1.arn,
    desired_count=1,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NoDriver:
    name = "none"

    async def start_task(self, spec: TaskSpec) -> Any:  # never called: nothing is reconciled here
        raise AssertionError("no task is started by a command")

    async def stop_task(self, task: Any, reason: str) -> None:
        raise AssertionError("no task is stopped by a command")

    async def cleanup_orphans(self, state_dir: Path) -> int:
        return 0


def _store(clock: Clock) -> Store:
    store = Store(clock)
    store.register_task_definition(TD1)
    store.register_task_definition(TD2)
    rec = ServiceRecord(
        name="web",
        arn=SVC.arn,
        cluster="c",
        cluster_arn=SVC.cluster_arn,
        model=SVC,
        task_definition_arn=TD1.arn,
        desired_count=1,
        created_at=clock(),
    )
    rec.deployments.append(DeploymentRecord("d1", "PRIMARY", TD1.arn, 1, 0.0, 0.0))
    store.add_service(rec)
    return store


class Counts:
    """What a command did: store notifications, queue puts (the scheduler dedups keys), change calls."""

    def __init__(self, store: Store, sched: Scheduler) -> None:
        self.notified: list[tuple[str, str]] = []
        self.changed = 0
        store.subscribe(lambda kind, key: self.notified.append((kind, key)))
        self.sched = sched

    def on_change(self) -> None:
        self.changed += 1

    @property
    def queued(self) -> int:
        return self.sched._queue.qsize()


def _scheduler(store: Store, clock: Clock) -> tuple[Scheduler, Counts]:
    sched = Scheduler(
        store,
        NoDriver(),  # type: ignore[arg-type]
        build_spec=lambda td, tid, svc: None,  # type: ignore[arg-type,return-value]
        targets=None,
        target_groups={},
        clock=clock,
    )
    counts = Counts(store, sched)
    sched.on_change = counts.on_change
    return sched, counts


def test_update_service_is_one_store_change() -> None:
    clock = Clock()
    store = _store(clock)
    sched, counts = _scheduler(store, clock)
    svc = store.service("web")
    assert svc is not None
    version = svc.version
    model = replace(SVC, health_check_grace_period_seconds=30)
    clock.now = 1010.0
    dep = sched.update_service("web", model=model, desired_count=3, task_definition_arn=TD2.arn)
    assert counts.notified == [("service", "web")]
    assert (counts.queued, counts.changed, svc.version) == (1, 1, version + 1)
    assert dep is not None and svc.deployments[0] is dep and svc.model is model
    assert [(d.status, d.task_definition_arn, d.desired_count) for d in svc.deployments] == [
        ("PRIMARY", TD2.arn, 3),
        ("ACTIVE", TD1.arn, 3),  # the old primary was scaled with the service, then demoted
    ]
    assert svc.deployments[1].updated_at == 1010.0 and svc.task_definition_arn == TD2.arn


@pytest.mark.parametrize(
    ("kwargs", "deployments"),
    [
        ({"desired_count": 2}, 1),
        ({"force_new_deployment": True}, 2),
        ({"task_definition_arn": TD1.arn}, 1),  # the running revision: no new deployment
        ({"task_definition_arn": TD1.arn, "force_new_deployment": True}, 2),
        ({"task_definition_arn": TD2.arn, "force_new_deployment": True}, 2),  # one, not two
    ],
)
def test_each_command_notifies_once(kwargs: dict[str, Any], deployments: int) -> None:
    clock = Clock()
    store = _store(clock)
    sched, counts = _scheduler(store, clock)
    sched.update_service("web", **kwargs)
    svc = store.service("web")
    assert svc is not None and len(svc.deployments) == deployments
    changed = deployments == 2 or "desired_count" in kwargs
    assert (len(counts.notified), counts.queued, counts.changed) == ((1, 1, 1) if changed else (0, 0, 0))


def test_delete_service_and_the_thin_commands_notify_once() -> None:
    clock = Clock()
    store = _store(clock)
    sched, counts = _scheduler(store, clock)
    sched.set_desired_count("web", 0)
    sched.new_deployment("web")
    sched.delete_service("web")
    assert counts.notified == [("service", "web")] * 3
    assert counts.changed == 3 and counts.queued == 1  # one key, queued once
    svc = store.service("web")
    assert svc is not None and (svc.status, svc.desired_count) == ("DRAINING", 0)


def _engine(tmp_path: Path, clock: Clock) -> tuple[Engine, Counts]:
    model = SystemModel(task_definitions=(TD1, TD2), services=(SVC,))
    engine = Engine(EngineConfig(model=model, state_dir=tmp_path, stand_in=("*",)), clock=clock)
    engine.store = _store(clock)
    engine.scheduler, counts = _scheduler(engine.store, clock)
    return engine, counts


def test_an_api_update_service_is_one_engine_command_and_one_store_change(tmp_path: Path) -> None:
    clock = Clock()
    engine, counts = _engine(tmp_path, clock)
    backend = EngineBackend(engine)
    cfg = DeploymentConfiguration(maximum_percent=150, minimum_healthy_percent=50)
    update = ServiceUpdate(
        desired_count=4,
        task_definition_arn="web:2",
        deployment_configuration=cfg,
        health_check_grace_period_seconds=60,
    )
    backend.update_service(SVC.arn, update)
    assert counts.notified == [("service", "web")]
    assert (counts.queued, counts.changed) == (1, 1)
    svc = engine.store.service("web")
    assert svc is not None
    assert svc.model.deployment_configuration == cfg and svc.model.health_check_grace_period_seconds == 60
    assert (svc.desired_count, svc.task_definition_arn, len(svc.deployments)) == (4, TD2.arn, 2)


def test_the_adapter_never_writes_the_store(tmp_path: Path) -> None:
    """The adapter hands the new definition to the engine's command; it changes no record itself."""
    clock = Clock()
    engine, _ = _engine(tmp_path, clock)
    calls: list[dict[str, Any]] = []
    engine.update_service = lambda name, **kw: calls.append({"name": name, **kw})  # type: ignore[method-assign,assignment,return-value]
    svc = engine.store.service("web")
    assert svc is not None
    before = (svc.version, svc.model, svc.desired_count)
    notified: list[tuple[str, str]] = []
    engine.store.subscribe(lambda kind, key: notified.append((kind, key)))
    EngineBackend(engine).update_service("web", ServiceUpdate(health_check_grace_period_seconds=90))
    assert notified == [] and (svc.version, svc.model, svc.desired_count) == before
    assert len(calls) == 1 and calls[0]["name"] == "web"
    assert calls[0]["model"] == replace(SVC, health_check_grace_period_seconds=90)
    EngineBackend(engine).update_service("web", ServiceUpdate(desired_count=2))
    assert calls[1]["model"] is None and calls[1]["desired_count"] == 2  # the definition did not change


def test_a_failed_check_changes_nothing(tmp_path: Path) -> None:
    """Everything is checked before the one change: an unknown task definition leaves the count as it was."""
    clock = Clock()
    engine, counts = _engine(tmp_path, clock)
    with pytest.raises(KeyError):
        engine.update_service("web", desired_count=5, task_definition="nope:1")
    with pytest.raises(ValueError, match=">= 0"):
        engine.update_service("web", desired_count=-1)
    svc = engine.store.service("web")
    assert svc is not None and svc.desired_count == 1 and counts.notified == []


def test_reads_by_key_project_one_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    engine, _ = _engine(tmp_path, clock)
    backend = EngineBackend(engine)
    for i in range(2, 6):  # more services the reads must not project
        other = replace(SVC, name=f"s{i}", arn=f"{SVC.arn}{i}")
        rec = ServiceRecord(f"s{i}", other.arn, "c", SVC.cluster_arn, other, TD1.arn, 1, clock())
        engine.store.add_service(rec)
    built: list[str] = []
    project = EngineBackend._service
    monkeypatch.setattr(EngineBackend, "_service", staticmethod(lambda s: built.append(s.name) or project(s)))
    monkeypatch.setattr(EngineBackend, "services", lambda self: pytest.fail("a full read"))
    monkeypatch.setattr(EngineBackend, "task_definitions", lambda self: pytest.fail("a full read"))
    monkeypatch.setattr(EngineBackend, "tasks", lambda self: pytest.fail("a full read"))
    got = backend.service(SVC.cluster_arn, SVC.arn)
    assert got is not None and got.service.name == "web" and built == ["web"]
    assert backend.service(SVC.cluster_arn, "s3") is not None and built == ["web", "s3"]
    assert backend.service("arn:aws:ecs:us-east-1:0:cluster/other", "web") is None
    assert backend.task(SVC.cluster_arn, "0" * 32) is None
    td = backend.task_definition("web")
    assert td is not None and td.definition.revision == 2  # the newest ACTIVE revision
    backend.deregister_task_definition(TD2.arn)
    td = backend.task_definition("web")
    assert td is not None and td.definition.revision == 1
    td = backend.task_definition("web:2")
    assert td is not None and td.status == "INACTIVE"
    assert backend.task_definition(TD1.arn) is not None and backend.task_definition("web:x") is None
    assert backend.task_definition("arn:aws:ecs:us-east-1:0:task-definition/web:9") is None


def test_the_store_indexes_task_definitions_by_family() -> None:
    store = _store(Clock())
    assert dict(store.revisions("web")) == {1: TD1, 2: TD2} and store.revisions("nope") == {}
    assert store.next_revision("web") == 3 and store.task_definition("web") is TD2
    assert store.task_definition("web:1") is TD1 and store.task_definition("web:01") is None


def test_update_target_group_is_one_engine_command(tmp_path: Path) -> None:
    """ModifyTargetGroup(Attributes): the adapter calls the engine's command once and writes neither the
    model nor the scheduler's groups itself; the command changes both, and no store record."""
    from albfargate.model.elbv2 import TargetGroup

    tg = TargetGroup(arn="arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/web/1", name="web", tg_id="1")
    clock = Clock()
    engine, counts = _engine(tmp_path, clock)
    engine.model = replace(engine.model, target_groups=(tg,))
    assert engine.scheduler is not None
    engine.scheduler.target_groups[tg.arn] = tg
    changed = replace(tg, port=81)
    calls: list[TargetGroup] = []
    real = engine.update_target_group
    engine.update_target_group = calls.append  # type: ignore[method-assign,assignment]
    model = engine.model
    EngineBackend(engine).update_target_group(changed)
    assert calls == [changed] and engine.model is model and engine.scheduler.target_groups[tg.arn] is tg
    real(changed)
    assert engine.model.target_groups == (changed,) and engine.scheduler.target_groups[tg.arn] is changed
    assert counts.notified == [] and (counts.queued, counts.changed) == (0, 0)


def test_ensure_backing_makes_the_manager_once_over_the_given_stores(tmp_path: Path) -> None:
    from albfargate.backing.store import ParameterStore, SecretStore

    clock = Clock()
    engine, _ = _engine(tmp_path, clock)
    secrets = SecretStore(tmp_path / "s.json", clock=clock)
    parameters = ParameterStore(tmp_path / "p.json", clock=clock)
    assert engine.backing is None
    made = engine.ensure_backing(secrets, parameters)
    assert engine.backing is made and made.secrets is secrets and made.parameters is parameters
    assert made.clock is clock  # the engine's clock, not the wall clock
    other = SecretStore(tmp_path / "o.json", clock=clock)
    assert engine.ensure_backing(other, parameters) is made and made.secrets is secrets


def test_configuration_commands_replace_the_model_once(tmp_path: Path) -> None:
    from albfargate.model.autoscaling import ScalableTarget
    from albfargate.model.elbv2 import Listener, LoadBalancer, Rule

    clock = Clock()
    engine, counts = _engine(tmp_path, clock)
    lb = LoadBalancer(arn="arn:lb/a", name="a", lb_id="1", dns_name="a.local")
    listener = Listener(arn="arn:l/1", load_balancer_arn=lb.arn, port=80, protocol="HTTP", default_actions=())
    other = replace(listener, arn="arn:l/2", port=81)
    rule = Rule(arn="arn:r/1", listener_arn=listener.arn, priority=1, conditions=(), actions=())
    engine.add_load_balancer_config(lb)
    engine.add_load_balancer_config(lb)  # known: unchanged
    engine.put_listener_config(listener)
    engine.put_listener_config(other)
    engine.put_listener_config(replace(listener, port=8080))  # replaces, keeps one
    engine.model = replace(engine.model, rules=(rule,))
    assert engine.model.load_balancers == (lb,) and [x.port for x in engine.model.listeners] == [81, 8080]
    engine.remove_listener_config(listener.arn)
    assert [x.arn for x in engine.model.listeners] == [other.arn] and engine.model.rules == ()
    engine.remove_load_balancer_config(lb.arn)
    assert (engine.model.load_balancers, engine.model.listeners) == ((), ())
    started: list[str] = []
    engine.start_autoscaler = lambda: started.append("autoscaler")  # type: ignore[method-assign]
    engine.set_scaling([ScalableTarget("service/c/web", 1, 3)], [])
    assert engine.model.scalable_targets == (ScalableTarget("service/c/web", 1, 3),) and started == [
        "autoscaler"
    ]
    engine.set_scaling([], [])
    assert engine.model.scalable_targets == () and started == ["autoscaler"]
    assert counts.notified == []  # configuration, not the live store
