"""The autoscaler's seam (``ecs.ports.ScalingHost``): it runs against a small fake host, with no engine,
no load balancer and no event loop: the store's reads, the current model, the target registry's counters
and the one write, ``update_desired_count``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from albfargate.ecs.autoscaler import Autoscaler
from albfargate.ecs.ports import ScalingHost, ServiceReader, TargetRegistry
from albfargate.model import Service, SystemModel, TargetGroup
from albfargate.model.autoscaling import PredefinedMetric, ScalableTarget, TargetTrackingPolicy
from albfargate.model.ecs import TaskDefinition
from albfargate.model.targets import TargetHealth, TargetId, TargetState
from albfargate.state.store import ServiceRecord, TaskRecord

TG = TargetGroup(arn="arn:tg/web", name="web", tg_id="abc123")
RESOURCE = "service/c/web"


@dataclass
class Reads:
    svc: ServiceRecord
    task_definitions: Mapping[str, TaskDefinition] = field(default_factory=dict)

    def service(self, name_or_arn: str) -> ServiceRecord | None:
        return self.svc if name_or_arn in (self.svc.name, self.svc.arn) else None

    def tasks_of(self, service_name: str) -> Iterable[TaskRecord]:
        return ()


@dataclass
class Counters:
    requests: int = 0
    healthy: int = 2

    def register(self, target_group_arn: str, target: TargetId) -> None:
        raise AssertionError("the autoscaler only reads the registry")

    deregister = register

    def describe(self, target_group_arn: str) -> Sequence[tuple[TargetId, TargetHealth]]:
        if target_group_arn != TG.arn:
            raise KeyError(target_group_arn)
        ok = TargetHealth(TargetState.HEALTHY, None, None)
        return [(TargetId("127.0.0.1", 9000 + i), ok) for i in range(self.healthy)]

    def health_of(self, target_group_arn: str, target: TargetId) -> TargetHealth:
        raise AssertionError("not read by the autoscaler")

    def request_count(self, target_group_arn: str) -> int:
        if target_group_arn != TG.arn:
            raise KeyError(target_group_arn)
        return self.requests


@dataclass
class Host:
    store: ServiceReader
    model: SystemModel
    targets: TargetRegistry | None
    writes: list[tuple[str, int]] = field(default_factory=list)

    def update_desired_count(self, service: str, count: int) -> None:
        self.writes.append((service, count))


def make_host(desired: int = 2, max_capacity: int = 6) -> tuple[Host, Counters]:
    svc_model = Service(
        arn="arn:svc/web", name="web", cluster_arn="arn:c", cluster_name="c", task_definition_arn="td:1"
    )
    record = ServiceRecord(
        name="web",
        arn="arn:svc/web",
        cluster="c",
        cluster_arn="arn:c",
        model=svc_model,
        task_definition_arn="td:1",
        desired_count=desired,
        created_at=0.0,
        running_count=desired,
    )
    model = SystemModel(
        target_groups=(TG,),
        scalable_targets=(ScalableTarget(RESOURCE, min_capacity=1, max_capacity=max_capacity),),
        scaling_policies=(
            TargetTrackingPolicy(
                name="rcpt",
                arn="arn:policy/rcpt",
                resource_id=RESOURCE,
                metric=PredefinedMetric.REQUEST_COUNT_PER_TARGET,
                target_value=10.0,
                resource_label=f"app/lb/1/{TG.full_name}",
            ),
        ),
    )
    counters = Counters()
    return Host(Reads(record), model, counters), counters


def test_the_engine_is_not_needed_a_fake_host_is_a_scaling_host() -> None:
    host, _ = make_host()
    typed: ScalingHost = host  # mypy checks the fake against the Protocol the engine implements
    assert Autoscaler(typed).host is host


def test_request_count_per_target_above_the_target_scales_out_through_the_host() -> None:
    host, counters = make_host()
    now = [1000.0]
    scaler = Autoscaler(host, period_seconds=60.0, clock=lambda: now[0])
    scaler._sample_baseline()
    for _ in range(3):  # three breaching periods raise the high alarm (spec §8)
        counters.requests += 600  # 300 per healthy target per minute, against a target of 10
        now[0] += 60.0
        scaler.tick()
    assert host.writes and host.writes[-1][0] == "web" and host.writes[-1][1] > 2
    assert scaler.activities and scaler.activities[-1].resource_id == RESOURCE
    assert scaler.last_metrics[RESOURCE].request_count_per_target == 300.0


def test_without_a_target_registry_request_counts_are_not_measured() -> None:
    host, _ = make_host()
    host = replace(host, targets=None)
    scaler = Autoscaler(host, period_seconds=60.0, clock=lambda: 0.0)
    scaler._sample_baseline()
    scaler.tick()
    assert scaler.last_metrics[RESOURCE].request_count_per_target is None and host.writes == []


def test_a_desired_count_outside_the_bounds_is_clamped_at_start() -> None:
    host, _ = make_host(desired=9, max_capacity=6)
    Autoscaler(host)._clamp_to_bounds()
    assert host.writes == [("web", 6)]
