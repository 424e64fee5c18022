"""The AWS endpoint's engine adapter (``api.engine_backend.EngineBackend``) over its seam
(``api.ports.EngineCommands``): it runs against a small fake host -- no engine, no load balancer, no
sockets -- and the module imports no engine at run time (issue 14, item 4)."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from albfargate.api.backend import Health, LocalListener, Target
from albfargate.api.engine_backend import EngineBackend
from albfargate.api.ports import EngineCommands, TargetTable
from albfargate.ecs.autoscaler import Activity
from albfargate.model import SystemModel, TargetGroup
from albfargate.model.autoscaling import ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import Service, TaskDefinition
from albfargate.model.elbv2 import Action, Listener, LoadBalancer, LoadBalancerAttributes, Rule
from albfargate.model.targets import TargetHealth, TargetId, TargetState
from albfargate.state.store import ServiceRecord, TaskRecord

TG = TargetGroup(arn="arn:tg/web", name="web", tg_id="abc123")
LB = LoadBalancer(arn="arn:lb/app", name="app", lb_id="0123456789abcdef", dns_name="app.local")


@dataclass
class Registry:
    targets: dict[str, dict[TargetId, TargetHealth]] = field(default_factory=lambda: {TG.arn: {}})

    def _group(self, arn: str) -> dict[TargetId, TargetHealth]:
        return self.targets[arn]  # KeyError for an unknown group, as LiveTargets

    def register(self, target_group_arn: str, target: TargetId) -> None:
        self._group(target_group_arn)[target] = TargetHealth(
            TargetState.INITIAL, "Elb.RegistrationInProgress", None
        )

    def deregister(self, target_group_arn: str, target: TargetId) -> None:
        self._group(target_group_arn).pop(target, None)

    def describe(self, target_group_arn: str) -> Sequence[tuple[TargetId, TargetHealth]]:
        return list(self._group(target_group_arn).items())

    def health_of(self, target_group_arn: str, target: TargetId) -> TargetHealth:
        return self._group(target_group_arn)[target]


@dataclass(frozen=True)
class Bound:
    lb_arn: str
    protocol: str
    port: int
    local_port: int


@dataclass
class Balancers:
    targets: TargetTable = field(default_factory=Registry)
    workers: int = 1
    changed: list[str] = field(default_factory=list)

    def bindings(self) -> Sequence[Bound]:
        return [Bound(LB.arn, "HTTP", 80, 8080)]

    def set_rules(self, listener_arn: str, rules: Iterable[Rule]) -> None:
        self.changed.append(f"rules {listener_arn}")

    def set_default_actions(self, listener_arn: str, actions: Iterable[Action]) -> None:
        self.changed.append(f"defaults {listener_arn}")

    def update_target_group(self, tg: TargetGroup) -> None:
        self.changed.append(f"group {tg.arn}")

    def update_load_balancer_attributes(self, lb_arn: str, attributes: LoadBalancerAttributes) -> None:
        self.changed.append(f"attributes {lb_arn}")

    async def add_load_balancer(self, lb: LoadBalancer) -> None: ...
    async def add_listener(self, listener: Listener, rules: Iterable[Rule]) -> object: ...
    async def remove_listener(self, listener_arn: str) -> None: ...
    async def remove_load_balancer(self, lb_arn: str) -> None: ...


@dataclass
class Store:
    services: Mapping[str, ServiceRecord] = field(default_factory=dict)
    tasks: Mapping[str, TaskRecord] = field(default_factory=dict)
    task_definitions: Mapping[str, TaskDefinition] = field(default_factory=dict)

    def service(self, name_or_arn: str) -> ServiceRecord | None:
        return None

    def task(self, id_or_arn: str) -> TaskRecord | None:
        return None

    def revisions(self, family: str) -> Mapping[int, TaskDefinition]:
        return {}


@dataclass
class Scheduler:
    """Only whether it runs: the adapter never writes the scheduler."""


@dataclass
class Scaling:
    activities: Sequence[Activity] = ()


@dataclass
class Host:
    model: SystemModel = field(default_factory=lambda: SystemModel(target_groups=(TG,), load_balancers=(LB,)))
    store: Store = field(default_factory=Store)
    started_at: float | None = 100.0
    lb: Balancers | None = field(default_factory=Balancers)
    scheduler: Scheduler | None = field(default_factory=Scheduler)
    autoscaler: Scaling | None = None
    groups_updated: list[TargetGroup] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def register_task_definition(self, td: TaskDefinition) -> TaskDefinition:
        return td

    def update_target_group(self, tg: TargetGroup) -> None:
        self.groups_updated.append(tg)

    def update_service(
        self,
        service: str,
        *,
        task_definition: str | None = None,
        desired_count: int | None = None,
        force_new_deployment: bool = False,
        model: Service | None = None,
    ) -> object:
        return None

    def create_service(self, svc: Service) -> object:
        return None

    def delete_service(self, service: str, *, force: bool = False) -> object:
        return None

    def stop_task(self, task_id: str, reason: str | None = None) -> object:
        raise KeyError(task_id)

    def run_task(
        self, task_definition: str, *, count: int = 1, cluster: str = "default", started_by: str | None = None
    ) -> Sequence[TaskRecord]:
        return []

    async def ensure_load_balancers(self) -> None: ...

    def add_load_balancer_config(self, lb: LoadBalancer) -> None:
        self.commands.append(f"lb {lb.arn}")

    def put_listener_config(self, listener: Listener) -> None:
        self.commands.append(f"listener {listener.arn}")

    def remove_listener_config(self, listener_arn: str) -> None:
        self.commands.append(f"-listener {listener_arn}")

    def remove_load_balancer_config(self, lb_arn: str) -> None:
        self.commands.append(f"-lb {lb_arn}")

    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None:
        self.commands.append(f"scaling {len(targets)} {len(policies)}")


def backend(host: Host) -> EngineBackend:
    seam: EngineCommands = host  # mypy would refuse a host that is not one
    return EngineBackend(seam)


def test_targets_go_through_the_registry_of_the_seam() -> None:
    host = Host()
    b = backend(host)
    b.register_target(TG.arn, Target("127.0.0.1", 9001))
    assert b.describe_targets(TG.arn) == [
        (Target("127.0.0.1", 9001), Health("initial", "Elb.RegistrationInProgress", None))
    ]
    assert b.describe_targets("arn:tg/unknown") == []
    b.deregister_target(TG.arn, Target("127.0.0.1", 9001))
    assert b.health_of(TG.arn, Target("127.0.0.1", 9001)).reason == "Target.NotRegistered"


def test_without_load_balancers_targets_are_refused_and_nothing_is_listed() -> None:
    host = Host(lb=None)
    b = backend(host)
    assert b.describe_targets(TG.arn) == [] and b.local_listeners() == []
    assert b.health_of(TG.arn, Target("127.0.0.1", 1)).state == "unused"


def test_configuration_changes_are_one_engine_command_then_the_runtime() -> None:
    host = Host()
    b = backend(host)
    changed = replace(TG, port=81)
    b.update_target_group(changed)
    assert host.groups_updated == [changed] and host.model.target_groups == (TG,)  # the host's to change
    b.set_rules("arn:listener/1", ())
    assert host.lb is not None and host.lb.changed == [f"group {TG.arn}", "rules arn:listener/1"]
    assert b.local_listeners() == [LocalListener("app.local", "HTTP", 80, 8080)]


def test_scaling_activities_are_read_from_the_autoscaler() -> None:
    host = Host(autoscaler=Scaling([Activity("service/c/web", "Setting desired count to 3.", "alarm", 5.0)]))
    [activity] = backend(host).scaling_activities()
    assert (activity.resource_id, activity.description, activity.start_time, activity.end_time) == (
        "service/c/web",
        "Setting desired count to 3.",
        5.0,
        5.0,
    )
    assert backend(Host()).scaling_activities() == []


def test_the_adapter_imports_no_engine_at_run_time() -> None:
    path = Path(__file__).resolve().parents[2] / "src" / "albfargate" / "api" / "engine_backend.py"
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for inner in ast.walk(block)
    }
    runtime = [
        n.module
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and id(n) not in typing_only and n.module is not None
    ]
    assert runtime and not [m for m in runtime if m == "albfargate.engine" or m.startswith("albfargate.alb")]


def test_configuration_made_through_the_api_is_one_engine_command_each() -> None:
    host = Host()
    b = backend(host)
    model = host.model
    b.set_scaling([ScalableTarget("service/c/web", 1, 2)], [])

    async def unbind() -> None:  # the runtime's changes land in call order, on the loop
        b.remove_listener("arn:listener/1")
        b.remove_load_balancer(LB.arn)
        await b.settle()

    asyncio.run(unbind())
    assert host.commands == ["scaling 1 0", "-listener arn:listener/1", f"-lb {LB.arn}"]
    assert host.model is model  # the adapter replaced nothing itself


def test_the_adapter_assigns_no_engine_attribute_but_what_start_api_wires() -> None:
    """Every change is an engine command: the only attributes of the engine the module assigns are the
    endpoint's URL and ECR service, which :func:`start_api` sets (``ApiHost``)."""
    path = Path(__file__).resolve().parents[2] / "src" / "albfargate" / "api" / "engine_backend.py"
    assigned = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        for t in targets:
            while isinstance(t, (ast.Subscript, ast.Attribute)) and not (
                isinstance(t, ast.Attribute)
                and isinstance(t.value, (ast.Name, ast.Attribute))
                and ast.unparse(t.value) in ("engine", "self.engine")
            ):
                t = t.value
            if isinstance(t, ast.Attribute) and ast.unparse(t.value) in ("engine", "self.engine"):
                assigned.append(t.attr)
    assert sorted(assigned) == ["api_url", "ecr"]
