"""An in-memory backend for API tests: a tiny ECS + target registry that moves one step forward each
time it is read, so waiters see real transitions (initial -> healthy, two deployments -> one)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from albfargate.api.backend import (
    BackendError,
    ContainerRecord,
    DeploymentRecord,
    EventRecord,
    Health,
    ScalingActivity,
    ServiceRecord,
    ServiceUpdate,
    Target,
    TaskDefinitionRecord,
    TaskRecord,
)
from albfargate.model import (
    Action,
    Cluster,
    ContainerDefinition,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    PortMapping,
    Rule,
    ScalableTarget,
    Service,
    ServiceLoadBalancer,
    SystemModel,
    TargetGroup,
    TargetGroupTuple,
    TargetTrackingPolicy,
    TaskDefinition,
)
from albfargate.model.autoscaling import PredefinedMetric
from albfargate.model.elbv2 import Condition, ConditionField, LoadBalancerAttributes
from albfargate.model.ids import (
    cluster_arn,
    container_arn,
    deployment_id,
    hex_id,
    listener_arn,
    load_balancer_arn,
    rule_arn,
    service_arn,
    target_group_arn,
    task_arn,
    task_definition_arn,
)

LB_ID = hex_id("demo-lb")
LB_ARN = load_balancer_arn("demo-lb", LB_ID)
LISTENER_ID = hex_id("listener-80")
LISTENER_ARN = listener_arn("demo-lb", LB_ID, LISTENER_ID)
TG_ID, TG2_ID = hex_id("web-tg"), hex_id("api-tg")
TG_ARN, TG2_ARN = target_group_arn("web-tg", TG_ID), target_group_arn("api-tg", TG2_ID)
RULE_ARN = rule_arn("demo-lb", LB_ID, LISTENER_ID, hex_id("rule-10"))
TD_ARN = task_definition_arn("web", 1)
CLUSTER_ARN = cluster_arn("demo")
SERVICE_ARN = service_arn("demo", "web")


def demo_model() -> SystemModel:
    web = ContainerDefinition(name="web", image="nginx:latest", port_mappings=(PortMapping(8080),), cpu=256)
    td = TaskDefinition(TD_ARN, "web", 1, (web,), cpu=256, memory=512, requires_compatibilities=("FARGATE",))
    lb = LoadBalancer(LB_ARN, "demo-lb", LB_ID, "demo-lb-1234567890.us-east-1.elb.amazonaws.com")
    fwd = ForwardAction((TargetGroupTuple(TG_ARN),))
    listener = Listener(LISTENER_ARN, LB_ARN, 80, "HTTP", (fwd,))
    rule = Rule(
        RULE_ARN,
        LISTENER_ARN,
        10,
        (Condition(ConditionField.PATH_PATTERN, values=("/api/*",)),),
        (ForwardAction((TargetGroupTuple(TG2_ARN),)),),
    )
    hc = HealthCheck(interval_seconds=10, healthy_threshold=2)
    tgs = (
        TargetGroup(TG_ARN, "web-tg", TG_ID, port=8080, target_type="ip", health_check=hc),
        TargetGroup(TG2_ARN, "api-tg", TG2_ID, port=8080, target_type="ip"),
    )
    service = Service(
        SERVICE_ARN,
        "web",
        CLUSTER_ARN,
        "demo",
        TD_ARN,
        desired_count=2,
        load_balancers=(ServiceLoadBalancer(TG_ARN, "web", 8080),),
        health_check_grace_period_seconds=60,
        subnets=("subnet-1",),
    )
    target = ScalableTarget("service/demo/web", 1, 4)
    policy = TargetTrackingPolicy(
        "cpu50",
        "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1:resource/ecs/service/demo/web:policyName/cpu50",
        "service/demo/web",
        PredefinedMetric.CPU,
        50.0,
    )
    return SystemModel(
        stacks=("Demo",),
        load_balancers=(lb,),
        listeners=(listener,),
        rules=(rule,),
        target_groups=tgs,
        clusters=(Cluster(CLUSTER_ARN, "demo"),),
        task_definitions=(td,),
        services=(service,),
        scalable_targets=(target,),
        scaling_policies=(policy,),
    )


@dataclass
class _Svc:
    service: Service
    status: str
    created_at: float
    deployments: list[DeploymentRecord]
    events: list[EventRecord] = field(default_factory=list)


class FakeBackend:
    """Implements :class:`albfargate.api.backend.Backend` in memory; records data-plane calls."""

    def __init__(self, model: SystemModel) -> None:
        self.now = time.time()
        self._clusters = list(model.clusters)
        self._tds = [TaskDefinitionRecord(td, "ACTIVE", self.now) for td in model.task_definitions]
        self._services: dict[str, _Svc] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._targets: dict[str, dict[Target, Health]] = {tg.arn: {} for tg in model.target_groups}
        self._ports = itertools.count(20000)
        self._seq = itertools.count(1)
        self.calls: list[tuple[str, object]] = []
        self.activities: list[ScalingActivity] = []
        for s in model.services:
            dep = self._deployment(s, s.task_definition_arn, "PRIMARY")
            self._services[s.arn] = _Svc(s, "ACTIVE", self.now, [dep])
            for _ in range(s.desired_count):
                self._start(s, dep.id, healthy=True)
        self._settle_all()

    # --- helpers
    def _deployment(self, s: Service, td: str, status: str) -> DeploymentRecord:
        n = next(self._seq)
        return DeploymentRecord(
            deployment_id(f"{s.arn}#{n}"), status, td, s.desired_count, self.now, self.now
        )

    def _event(self, svc: _Svc, message: str) -> None:
        svc.events.insert(0, EventRecord(str(uuid.uuid4()), time.time(), message))

    def _start(self, s: Service, dep_id: str, *, healthy: bool = False, td: str | None = None) -> TaskRecord:
        tid = uuid.uuid4().hex
        arn = task_arn(s.cluster_name, tid)
        port = next(self._ports)
        td_arn = (
            td or next(d.task_definition_arn for d in self._services[s.arn].deployments if d.id == dep_id)
            if s.arn in self._services
            else s.task_definition_arn
        )
        task = TaskRecord(
            arn=arn,
            task_id=tid,
            cluster_arn=s.cluster_arn,
            task_definition_arn=td_arn,
            last_status="RUNNING",
            desired_status="RUNNING",
            created_at=time.time(),
            started_at=time.time(),
            containers=(
                ContainerRecord(
                    "web",
                    "nginx:latest",
                    container_arn(s.cluster_name, tid, "c"),
                    "RUNNING",
                    ports=((8080, port),),
                ),
            ),
            group=f"service:{s.name}",
            started_by=dep_id,
            cpu="256",
            memory="512",
        )
        self._tasks[arn] = task
        for lb in s.load_balancers:
            self._targets[lb.target_group_arn][Target("127.0.0.1", port)] = (
                Health("healthy")
                if healthy
                else Health("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
            )
        return task

    def _stop(self, task: TaskRecord, reason: str, code: str) -> None:
        now = time.time()
        self._tasks[task.arn] = replace(
            task,
            desired_status="STOPPED",
            last_status="STOPPED",
            stopping_at=now,
            stopped_at=now,
            execution_stopped_at=now,
            stop_code=code,
            stopped_reason=reason,
            version=task.version + 1,
            containers=tuple(replace(c, last_status="STOPPED", exit_code=143) for c in task.containers),
        )
        port = task.containers[0].ports[0][1]
        for targets in self._targets.values():
            t = Target("127.0.0.1", port)
            if t in targets:
                targets[t] = Health(
                    "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
                )

    def _active(self, svc: _Svc) -> list[TaskRecord]:
        return [
            t
            for t in self._tasks.values()
            if t.group == f"service:{svc.service.name}"
            and t.desired_status == "RUNNING"
            and t.cluster_arn == svc.service.cluster_arn
        ]

    def _settle(self, svc: _Svc) -> None:
        """One reconcile step: scale the primary deployment, retire old deployments."""
        if svc.status != "ACTIVE":
            for t in self._active(svc):
                self._stop(t, "Service deleted", "ServiceSchedulerInitiated")
            svc.status = "INACTIVE" if svc.status == "DRAINING" else svc.status
            return
        primary = svc.deployments[0]
        active = self._active(svc)
        mine = [t for t in active if t.started_by == primary.id]
        old = [t for t in active if t.started_by != primary.id]
        want = svc.service.desired_count
        if len(mine) < want:
            for _ in range(want - len(mine)):
                self._start(svc.service, primary.id, healthy=True, td=primary.task_definition_arn)
            self._event(svc, f"(service {svc.service.name}) has started {want - len(mine)} tasks.")
        elif len(mine) > want:
            for t in mine[want:]:
                self._stop(
                    t, f"Scaling activity initiated by (deployment {primary.id})", "ServiceSchedulerInitiated"
                )
        elif old:
            for t in old:
                self._stop(
                    t, f"Scaling activity initiated by (deployment {primary.id})", "ServiceSchedulerInitiated"
                )
        else:
            if len(svc.deployments) > 1 or primary.rollout_state != "COMPLETED":
                svc.deployments = [
                    replace(
                        primary,
                        rollout_state="COMPLETED",
                        rollout_state_reason=f"ECS deployment {primary.id} completed.",
                    )
                ]
                self._event(svc, f"(service {svc.service.name}) has reached a steady state.")
        running = [t for t in self._active(svc) if t.started_by == svc.deployments[0].id]
        svc.deployments[0] = replace(svc.deployments[0], desired_count=want, running_count=len(running))

    def _settle_all(self) -> None:
        for svc in self._services.values():
            for _ in range(4):
                self._settle(svc)

    # --- ECS reads
    def clusters(self) -> Sequence[Cluster]:
        return list(self._clusters)

    def task_definitions(self) -> Sequence[TaskDefinitionRecord]:
        return list(self._tds)

    def latest_revision(self, family: str) -> int:
        return max((x.definition.revision for x in self._tds if x.definition.family == family), default=0)

    def services(self) -> Sequence[ServiceRecord]:
        out = []
        for svc in self._services.values():
            self._settle(svc)
            active = self._active(svc)
            out.append(
                ServiceRecord(
                    svc.service,
                    svc.status,
                    svc.created_at,
                    running_count=len(active),
                    pending_count=0,
                    deployments=tuple(svc.deployments),
                    events=tuple(svc.events),
                )
            )
        return out

    def tasks(self) -> Sequence[TaskRecord]:
        out = list(self._tasks.values())
        self.advance_tasks()  # the next read sees one lifecycle step later
        return out

    # --- ECS reads by key: scans here, so a read advances the fake as the full reads do
    def service(self, cluster_arn: str, ref: str) -> ServiceRecord | None:
        return next(
            (
                s
                for s in self.services()
                if s.service.cluster_arn == cluster_arn and ref in (s.service.name, s.service.arn)
            ),
            None,
        )

    def task(self, cluster_arn: str, ref: str) -> TaskRecord | None:
        wanted = ref.rsplit("/", 1)[-1]
        return next(
            (
                t
                for t in self.tasks()
                if t.cluster_arn == cluster_arn and (t.task_id == wanted or t.arn == ref)
            ),
            None,
        )

    def task_definition(self, ref: str) -> TaskDefinitionRecord | None:
        records = self.task_definitions()
        if ref.startswith("arn:"):
            return next((r for r in records if r.definition.arn == ref), None)
        family, _, rev = ref.partition(":")
        if rev:
            if not rev.isdigit():
                return None
            return next(
                (r for r in records if r.definition.family == family and r.definition.revision == int(rev)),
                None,
            )
        active = [r for r in records if r.definition.family == family and r.status == "ACTIVE"]
        return max(active, key=lambda r: r.definition.revision, default=None)

    # --- ECS writes
    def create_cluster(self, cluster: Cluster) -> None:
        self._clusters.append(cluster)

    def delete_cluster(self, cluster_arn: str) -> None:
        self._clusters = [c for c in self._clusters if c.arn != cluster_arn]

    def register_task_definition(self, definition: TaskDefinition) -> None:
        self.calls.append(("register_task_definition", definition.arn))
        self._tds.append(TaskDefinitionRecord(definition, "ACTIVE", time.time()))

    def deregister_task_definition(self, arn: str) -> None:
        self._tds = [
            replace(x, status="INACTIVE", deregistered_at=time.time()) if x.definition.arn == arn else x
            for x in self._tds
        ]

    def update_service(self, service_arn: str, update: ServiceUpdate) -> None:
        self.calls.append(("update_service", update))
        svc = self._services[service_arn]
        s = svc.service
        if update.desired_count is not None:
            s = replace(s, desired_count=update.desired_count)
        s = update.apply(s)
        new_td = update.task_definition_arn and update.task_definition_arn != s.task_definition_arn
        if new_td:
            s = replace(s, task_definition_arn=update.task_definition_arn or s.task_definition_arn)
        svc.service = s
        if new_td or update.force_new_deployment:
            old = [replace(d, status="ACTIVE") for d in svc.deployments]
            svc.deployments = [self._deployment(s, s.task_definition_arn, "PRIMARY"), *old]
        svc.deployments[0] = replace(svc.deployments[0], desired_count=s.desired_count)

    def create_service(self, service: Service) -> None:
        self.calls.append(("create_service", service.arn))
        dep = self._deployment(service, service.task_definition_arn, "PRIMARY")
        self._services[service.arn] = _Svc(service, "ACTIVE", time.time(), [dep])

    def delete_service(self, service_arn: str, *, force: bool) -> None:
        svc = self._services[service_arn]
        svc.status = "DRAINING"
        svc.service = replace(svc.service, desired_count=0)

    def stop_task(self, task_arn: str, reason: str) -> None:
        task = self._tasks[task_arn]
        self._tasks[task_arn] = replace(
            task,
            desired_status="STOPPED",
            stop_code="UserInitiated",
            stopped_reason=reason,
            stopping_at=time.time(),
            version=task.version + 1,
        )

    def run_task(
        self,
        cluster_arn: str,
        task_definition_arn: str,
        *,
        count: int,
        started_by: str | None,
        group: str | None,
    ) -> list[str]:
        arns = []
        for _ in range(count):
            tid = uuid.uuid4().hex
            arn = task_arn(cluster_arn.rsplit("/", 1)[-1], tid)
            self._tasks[arn] = TaskRecord(
                arn,
                tid,
                cluster_arn,
                task_definition_arn,
                "PROVISIONING",
                "RUNNING",
                time.time(),
                group=group,
                started_by=started_by,
            )
            arns.append(arn)
        return arns

    def advance_tasks(self) -> None:
        """Move standalone tasks one lifecycle step (PROVISIONING -> RUNNING; stop -> STOPPED)."""
        for arn, t in list(self._tasks.items()):
            if t.desired_status == "RUNNING" and t.last_status != "RUNNING":
                self._tasks[arn] = replace(
                    t, last_status="RUNNING", started_at=time.time(), version=t.version + 1
                )
            elif t.desired_status == "STOPPED" and t.last_status != "STOPPED":
                now = time.time()
                self._tasks[arn] = replace(
                    t, last_status="STOPPED", stopped_at=now, execution_stopped_at=now, version=t.version + 1
                )

    # --- ELBv2 data plane
    def describe_targets(self, target_group_arn: str) -> list[tuple[Target, Health]]:
        targets = self._targets.setdefault(target_group_arn, {})
        out = list(targets.items())
        for t, h in out:  # one step per read: initial -> healthy, draining -> gone
            if h.state == "initial":
                targets[t] = Health("healthy")
            elif h.state == "draining":
                del targets[t]
        return out

    def health_of(self, target_group_arn: str, target: Target) -> Health:
        h = self._targets.get(target_group_arn, {}).get(target)
        return h or Health("unused", "Target.NotRegistered", "Target is not registered to the target group")

    def register_target(self, target_group_arn: str, target: Target) -> None:
        self.calls.append(("register_target", (target_group_arn, target)))
        self._targets.setdefault(target_group_arn, {})[target] = Health(
            "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
        )

    def deregister_target(self, target_group_arn: str, target: Target) -> None:
        self.calls.append(("deregister_target", (target_group_arn, target)))
        self._targets[target_group_arn][target] = Health(
            "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"
        )

    def set_rules(self, listener_arn: str, rules: Sequence[Rule]) -> None:
        self.calls.append(("set_rules", (listener_arn, list(rules))))

    def set_default_actions(self, listener_arn: str, actions: Sequence[Action]) -> None:
        self.calls.append(("set_default_actions", (listener_arn, list(actions))))

    def update_target_group(self, target_group: TargetGroup) -> None:
        self.calls.append(("update_target_group", target_group))

    def update_load_balancer_attributes(self, lb_arn: str, attributes: LoadBalancerAttributes) -> None:
        self.calls.append(("update_load_balancer_attributes", (lb_arn, attributes)))

    def add_load_balancer(self, lb: Any) -> None:
        self.calls.append(("add_load_balancer", lb))

    def add_listener(self, listener: Any, rules: Sequence[Any]) -> None:
        self.calls.append(("add_listener", (listener, list(rules))))

    def remove_listener(self, listener_arn: str) -> None:
        self.calls.append(("remove_listener", listener_arn))

    def remove_load_balancer(self, lb_arn: str) -> None:
        self.calls.append(("remove_load_balancer", lb_arn))

    def local_listeners(self) -> list[Any]:
        return list(getattr(self, "bound", []))

    # --- AAS
    def set_scaling(
        self, targets: Sequence[ScalableTarget], policies: Sequence[TargetTrackingPolicy]
    ) -> None:
        self.calls.append(("set_scaling", (list(targets), list(policies))))

    def scaling_activities(self) -> Sequence[ScalingActivity]:
        return list(self.activities)

    def last(self, name: str) -> object:
        return next(arg for call, arg in reversed(self.calls) if call == name)


_ = BackendError
