"""The live ECS store: counts per service and per deployment, change notifications, lookups by name/ARN,
task-definition revisions, the services-stable condition, event retention and pruning (fake clock)."""

from __future__ import annotations

import pytest

from albfargate.ecs.tasks import (
    DesiredStatus,
    IllegalTransition,
    LastStatus,
    StopCode,
    TaskEvent,
    TaskLifecycle,
)
from albfargate.model.ecs import ContainerDefinition, Service, TaskDefinition
from albfargate.state.store import (
    MAX_SERVICE_EVENTS,
    STOPPED_TASK_RETENTION_SECONDS,
    DeploymentRecord,
    ServiceRecord,
    Store,
    TargetBinding,
    TaskRecord,
    task_summary,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _svc(store: Store, name: str = "web", desired: int = 2) -> ServiceRecord:
    model = Service(
        arn=f"arn:svc/{name}", name=name, cluster_arn="arn:c", cluster_name="c", task_definition_arn="td:1"
    )
    rec = ServiceRecord(
        name=name,
        arn=model.arn,
        cluster="c",
        cluster_arn="arn:c",
        model=model,
        task_definition_arn="td:1",
        desired_count=desired,
        created_at=store.clock(),
    )
    rec.deployments.append(DeploymentRecord("d1", "PRIMARY", "td:1", desired, 0.0, 0.0))
    return store.add_service(rec)


def _task(
    store: Store,
    tid: str,
    *,
    status: str = "RUNNING",
    desired: str = "RUNNING",
    dep: str = "d1",
    service: str | None = "web",
) -> TaskRecord:
    t = TaskRecord(
        task_id=tid,
        task_arn=f"arn:task/{tid}",
        cluster_arn="arn:c",
        cluster="c",
        task_definition_arn="td:1",
        service_name=service,
        deployment_id=dep,
        life=TaskLifecycle(
            created_at=store.clock(), last_status=LastStatus(status), desired_status=DesiredStatus(desired)
        ),
    )
    return store.add_task(t)


@pytest.mark.parametrize(
    ("statuses", "running", "pending"),
    [
        ([], 0, 0),
        ([("RUNNING", "RUNNING")], 1, 0),
        ([("PROVISIONING", "RUNNING"), ("PENDING", "RUNNING"), ("ACTIVATING", "RUNNING")], 0, 3),
        # a task being stopped still counts as running until it leaves RUNNING (describe-services shape)
        ([("RUNNING", "STOPPED"), ("DEACTIVATING", "STOPPED"), ("STOPPED", "STOPPED")], 1, 0),
        ([("RUNNING", "RUNNING"), ("PENDING", "RUNNING"), ("STOPPING", "STOPPED")], 1, 1),
    ],
)
def test_counts(statuses: list[tuple[str, str]], running: int, pending: int) -> None:
    store = Store(Clock())
    svc = _svc(store)
    for i, (last, desired) in enumerate(statuses):
        _task(store, f"t{i}", status=last, desired=desired)
    assert (svc.running_count, svc.pending_count) == (running, pending)
    d = svc.deployments[0]
    assert (d.running_count, d.pending_count) == (running, pending)


def test_counts_per_deployment_and_notifications() -> None:
    store = Store(Clock())
    seen: list[tuple[str, str]] = []
    unsubscribe = store.subscribe(lambda kind, key: seen.append((kind, key)))
    svc = _svc(store)
    svc.deployments.insert(0, DeploymentRecord("d2", "PRIMARY", "td:2", 2, 0.0, 0.0))
    svc.deployments[1].status = "ACTIVE"
    _task(store, "a", dep="d1")
    t = _task(store, "b", dep="d2", status="PENDING")
    assert ("service", "web") in seen and ("task", "a") in seen
    t.move(TaskEvent.STARTED, now=1.0)
    t.move(TaskEvent.ACTIVATED, now=2.0)
    store.task_changed(t)
    assert t.version == 3 and t.last_status == "RUNNING" and t.started_at == 2.0
    by = {d.id: (d.running_count, d.pending_count) for d in svc.deployments}
    assert by == {"d1": (1, 0), "d2": (1, 0)}
    unsubscribe()
    n = len(seen)
    store.touch_service(svc)
    assert len(seen) == n


def test_steady_is_the_services_stable_condition() -> None:
    store = Store(Clock())
    svc = _svc(store, desired=1)
    assert not svc.steady()
    _task(store, "a")
    assert svc.steady()
    svc.deployments.append(DeploymentRecord("d0", "ACTIVE", "td:0", 1, 0.0, 0.0))
    assert not svc.steady()  # exactly one deployment (§7.9)
    svc.deployments.pop()
    svc.status = "DRAINING"
    assert not svc.steady()


def test_lookups_by_name_arn_id() -> None:
    store = Store(Clock())
    svc = _svc(store)
    assert store.service("web") is svc and store.service("arn:svc/web") is svc and store.service("x") is None
    t = _task(store, "0123")
    assert store.task("0123") is t and store.task("arn:aws:ecs:r:a:task/c/0123") is t


def test_task_definition_revisions() -> None:
    store = Store(Clock())
    c = (ContainerDefinition(name="app", image="i"),)
    assert store.next_revision("fam") == 1
    store.register_task_definition(TaskDefinition(arn="arn:td/fam:1", family="fam", revision=1, containers=c))
    store.register_task_definition(TaskDefinition(arn="arn:td/fam:2", family="fam", revision=2, containers=c))
    assert store.next_revision("fam") == 3
    assert store.task_definition("fam").revision == 2  # type: ignore[union-attr]
    assert store.task_definition("fam:1").revision == 1  # type: ignore[union-attr]
    assert store.task_definition("arn:aws:ecs:r:a:task-definition/fam:2").revision == 2  # type: ignore[union-attr]
    assert store.task_definition("other") is None


def test_events_newest_first_and_bounded() -> None:
    clock = Clock()
    store = Store(clock)
    svc = _svc(store)
    for i in range(MAX_SERVICE_EVENTS + 5):
        clock.now += 1
        store.add_event(svc, f"m{i}")
    assert len(svc.events) == MAX_SERVICE_EVENTS
    assert svc.events[0].message == f"m{MAX_SERVICE_EVENTS + 4}"
    assert svc.events[0].created_at > svc.events[1].created_at


def test_prune_keeps_stopped_tasks_an_hour() -> None:
    clock = Clock()
    store = Store(clock)
    _svc(store)
    t = _task(store, "old", status="DEPROVISIONING", desired="STOPPED")
    t.move(TaskEvent.DEPROVISIONED, now=clock.now)
    _task(store, "live")
    assert store.prune(clock.now + STOPPED_TASK_RETENTION_SECONDS) == 0
    assert store.prune(clock.now + STOPPED_TASK_RETENTION_SECONDS + 1) == 1
    assert store.task("old") is None and store.task("live") is not None


def test_task_summary_names_the_target() -> None:
    store = Store(Clock())
    _svc(store)
    t = _task(store, "a")
    assert task_summary(t)["target"] is None
    t.targets.append(TargetBinding("tg", "app", 8080, "127.0.0.1", 40001))
    s = task_summary(t)
    assert s["target"] == "127.0.0.1:40001" and s["id"] == "a" and s["last_status"] == "RUNNING"
    assert t.active
    t.move(TaskEvent.STOP_REQUESTED, now=1.0)
    assert not t.active and t.desired_status == "STOPPED" and t.last_status == "DEACTIVATING"


def test_the_record_owns_its_lifecycle_and_an_illegal_event_raises() -> None:
    """Only the table of ecs/tasks.py moves a task: its status fields cannot be set beside it, and an
    event the table does not allow raises the typed error and leaves the record as it was."""
    store = Store(Clock())
    _svc(store)
    t = _task(store, "a", status="PROVISIONING")
    before = t.life
    with pytest.raises(IllegalTransition) as err:
        t.move(TaskEvent.DRAINED, now=5.0)
    assert (err.value.status, err.value.event) == (LastStatus.PROVISIONING, TaskEvent.DRAINED)
    assert t.life is before and t.last_status == "PROVISIONING" and t.version == 1
    with pytest.raises(AttributeError):
        t.last_status = "RUNNING"  # type: ignore[misc]
    t.move(TaskEvent.PROVISIONED, now=5.0)
    assert (t.last_status, t.version, t.pull_started_at, t.connectivity_at) == ("PENDING", 2, 5.0, 5.0)
    t.request_stop(StopCode.UserInitiated, "bye")  # during the launch: the status is the launch's
    assert (t.last_status, t.desired_status, t.stop_code, t.stopped_reason) == (
        "PENDING",
        "STOPPED",
        "UserInitiated",
        "bye",
    )
    with pytest.raises(IllegalTransition):
        t.move(TaskEvent.ACTIVATED, now=6.0)
