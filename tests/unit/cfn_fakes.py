"""A :class:`~albfargate.cfn.live.LiveSystem` in memory for the stack engine's unit tests: it records
what the providers made, refuses what a test tells it to, and runs ECS services whose deployments
complete at once -- or fail like a tripped circuit breaker when the task definition's image says
``broken`` (ECS then rolls back to the last completed task definition), or wait until released."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from albfargate.cfn.live import DeploymentState, ServiceState, handler_message
from albfargate.cfn.providers import ResourceFailed
from albfargate.model import ids


@dataclass
class FakeService:
    model: Any
    state: ServiceState
    completed_td: str


@dataclass
class FakeSystem:
    lbs: dict[str, Any] = field(default_factory=dict)
    listeners: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    tgs: dict[str, Any] = field(default_factory=dict)
    clusters: dict[str, Any] = field(default_factory=dict)
    tds: dict[str, Any] = field(default_factory=dict)
    services: dict[str, FakeService] = field(default_factory=dict)
    targets: dict[str, Any] = field(default_factory=dict)
    policies: dict[str, Any] = field(default_factory=dict)
    buckets: dict[str, set[str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    ssm: dict[str, str] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)  # key (an ARN or name) -> message
    hold: asyncio.Event | None = None  # when set: service deployments wait for it
    calls: list[tuple[str, str]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def _check(self, op: str, key: str) -> None:
        self.calls.append((op, key))
        for part, message in self.refuse.items():
            if part in key:
                raise ResourceFailed(handler_message(message))

    # ELBv2
    async def put_load_balancer(self, lb: Any) -> None:
        self._check("put_load_balancer", lb.arn)
        self.lbs[lb.arn] = lb

    async def delete_load_balancer(self, arn: str) -> None:
        self._check("delete_load_balancer", arn)
        self.lbs.pop(arn, None)

    async def put_listener(self, listener: Any) -> None:
        self._check("put_listener", listener.arn)
        self.listeners[listener.arn] = listener

    async def delete_listener(self, arn: str) -> None:
        self._check("delete_listener", arn)
        self.listeners.pop(arn, None)

    async def put_rule(self, rule: Any) -> None:
        self.rules[rule.arn] = rule

    async def delete_rule(self, arn: str) -> None:
        self.rules.pop(arn, None)

    async def put_target_group(self, tg: Any) -> None:
        self._check("put_target_group", tg.arn)
        self.tgs[tg.arn] = tg

    async def delete_target_group(self, arn: str) -> None:
        self._check("delete_target_group", arn)
        self.tgs.pop(arn, None)

    # ECS
    async def put_cluster(self, cluster: Any) -> None:
        self.clusters[cluster.arn] = cluster

    async def delete_cluster(self, arn: str) -> None:
        self.clusters.pop(arn, None)

    async def register_task_definition(self, td: Any) -> str:
        revision = 1 + max((t.revision for t in self.tds.values() if t.family == td.family), default=0)
        arn = ids.task_definition_arn(td.family, revision)
        self.tds[arn] = replace(td, arn=arn, revision=revision)
        return arn

    async def deregister_task_definition(self, arn: str) -> None:
        self.calls.append(("deregister_task_definition", arn))
        self.tds.pop(arn, None)

    def _broken(self, td_arn: str) -> bool:
        td = self.tds.get(td_arn)
        return td is not None and any("broken" in c.image for c in td.containers)

    def _deploy(self, svc: FakeService, td_arn: str) -> None:
        dep_id = f"ecs-svc/{next(self._ids)}"
        if self.hold is not None and not self.hold.is_set():
            state, rollout = "PRIMARY", "IN_PROGRESS"
        elif self._broken(td_arn):
            state, rollout = "PRIMARY", "FAILED"
        else:
            state, rollout = "PRIMARY", "COMPLETED"
        deployment = DeploymentState(dep_id, state, rollout, td_arn)
        deployments = (deployment,)
        if rollout == "FAILED":  # the circuit breaker rolls back to the last completed one
            back = DeploymentState(f"ecs-svc/{next(self._ids)}", "PRIMARY", "COMPLETED", svc.completed_td)
            deployments = (back,)
            td_arn = svc.completed_td
        elif rollout == "COMPLETED":
            svc.completed_td = td_arn
        svc.model = replace(svc.model, task_definition_arn=td_arn)
        desired = svc.model.desired_count
        svc.state = ServiceState("ACTIVE", desired, desired if rollout != "IN_PROGRESS" else 0, deployments)

    def release(self) -> None:
        assert self.hold is not None
        self.hold.set()
        for svc in self.services.values():
            primary = svc.state.primary
            if primary is not None and primary.rollout_state == "IN_PROGRESS":
                self._deploy(svc, primary.task_definition_arn)

    async def create_service(self, service: Any) -> None:
        self._check("create_service", service.arn)
        svc = FakeService(
            service, ServiceState("ACTIVE", service.desired_count, 0), service.task_definition_arn
        )
        self.services[service.arn] = svc
        self._deploy(svc, service.task_definition_arn)

    async def update_service(self, service: Any, *, desired_count: bool = True) -> None:
        self._check("update_service", service.arn)
        svc = self.services[service.arn]
        changed = service.task_definition_arn != svc.model.task_definition_arn
        svc.model = replace(service, task_definition_arn=svc.model.task_definition_arn)
        if changed:
            self._deploy(svc, service.task_definition_arn)

    async def delete_service(self, arn: str) -> None:
        svc = self.services.get(arn)
        if svc is not None:
            svc.state = replace(svc.state, status="INACTIVE")

    def service_state(self, arn: str) -> ServiceState | None:
        svc = self.services.get(arn)
        return None if svc is None else svc.state

    # Application Auto Scaling
    async def put_scalable_target(self, target: Any) -> None:
        self.targets[target.resource_id] = target

    async def delete_scalable_target(self, target: Any) -> None:
        self.targets.pop(target.resource_id, None)

    async def put_scaling_policy(self, policy: Any) -> None:
        self.policies[policy.arn] = policy

    async def delete_scaling_policy(self, arn: str) -> None:
        self.policies.pop(arn, None)

    # S3
    async def create_bucket(self, bucket: Any) -> None:
        self._check("create_bucket", bucket.name)
        if bucket.name in self.buckets:
            raise ResourceFailed(handler_message(f"{bucket.name} already exists", "AlreadyExists"))
        self.buckets[bucket.name] = set()

    async def update_bucket(self, bucket: Any) -> None:
        self.buckets.setdefault(bucket.name, set())

    async def delete_bucket(self, name: str) -> None:
        if self.buckets.get(name):
            raise ResourceFailed(
                handler_message(
                    "The bucket you tried to delete is not empty (Service: S3, Status Code: 409, "
                    "Request ID: x)"
                )
            )
        self.buckets.pop(name, None)

    async def empty_bucket(self, name: str) -> None:
        if name in self.buckets:
            self.buckets[name].clear()

    # SSM and Secrets Manager
    async def put_parameter(self, parameter: Any) -> None:
        self.parameters[parameter.name] = parameter.value

    async def delete_parameter(self, name: str) -> None:
        self.parameters.pop(name, None)

    async def put_secret(self, spec: Any) -> None:
        self.secrets.setdefault(spec.arn, spec)

    async def delete_secret(self, arn: str) -> None:
        self.secrets.pop(arn, None)

    def ssm_parameter(self, name: str) -> str | None:
        return self.ssm.get(name)


class Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def counter_ids() -> Any:
    numbers = itertools.count(1)
    return lambda: f"00000000-0000-0000-0000-{next(numbers):012d}"
