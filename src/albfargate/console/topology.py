"""The console's read side: the running system as the documents of docs/console.md (``/api/topology``,
``/api/services/{name}``, the objects of the event stream), read from the engine's live state — the ECS
store (``state.store``), the load balancers' runtime (bindings, live rules, the target registry) and the
backing resources' status. No I/O and no clock of its own; nothing here changes anything. No task
environment is rendered (so no secret value can be), and backing resources are shown by name only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from albfargate.console.views import rule_views, target_group_view, target_view
from albfargate.state.store import DeploymentRecord, ServiceRecord, TaskRecord, deployment_summary

if TYPE_CHECKING:
    from albfargate.engine import Engine


def task_view(t: TaskRecord, target: tuple[str, str | None] | None) -> dict[str, Any]:
    return {
        "id": t.task_id,
        "arn": t.task_arn,
        "service": t.service_name,
        "last_status": t.last_status,
        "desired_status": t.desired_status,
        "health": t.health_status,
        "deployment": t.deployment_id,
        "task_definition": t.task_definition_arn,
        "target": t.target_address(),
        "target_state": target[0] if target else None,
        "target_reason": target[1] if target else None,
        "created_at": t.created_at,
        "started_at": t.started_at,
        "stopping_at": t.stopping_at,
        "stopped_at": t.stopped_at,
        "stop_code": t.stop_code,
        "stopped_reason": t.stopped_reason,
        "containers": [
            {
                "name": c.name,
                "last_status": c.last_status,
                "health": c.health_status,
                "exit_code": c.exit_code,
                "reason": c.reason,
                "stand_in": c.stand_in,
            }
            for c in t.containers
        ],
    }


def deployment_view(d: DeploymentRecord) -> dict[str, Any]:
    return {
        **deployment_summary(d),
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


class Reader:
    """Builds the console's documents from ``engine`` on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- load balancers --------------------------------------------------------------------------
    def _tg_names(self) -> dict[str, str]:
        lb = self.engine.lb
        names = {tg.arn: tg.name for tg in self.engine.model.target_groups}
        if lb is not None:
            names.update({g.tg.arn: g.tg.name for g in lb.targets.groups()})
        return names

    def listener_rules(self, listener_arn: str) -> list[dict[str, Any]]:
        lb = self.engine.lb
        live = lb.listener_rules(listener_arn) if lb is not None else None
        if live is None:
            return []
        return rule_views(live[0], live[1], self._tg_names())

    def load_balancers(self) -> list[dict[str, Any]]:
        rt = self.engine.lb
        if rt is None:
            return []
        out = []
        bindings = rt.bindings()
        for lb in rt.load_balancers():
            listeners = [
                {
                    "arn": b.listener_arn,
                    "protocol": b.protocol,
                    "port": b.port,
                    "local_port": b.local_port,
                    "url": b.url,
                    "rules": self.listener_rules(b.listener_arn),
                }
                for b in bindings
                if b.lb_arn == lb.arn
            ]
            out.append(
                {
                    "arn": lb.arn,
                    "name": lb.name,
                    "full_name": lb.full_name,
                    "dns_name": lb.dns_name,
                    "scheme": str(lb.scheme),
                    "listeners": listeners,
                }
            )
        return out

    def _task_of_target(self) -> dict[tuple[str, str, int], str]:
        out = {}
        for t in self.engine.store.tasks.values():
            for b in t.targets:
                if t.last_status != "STOPPED" or b.registered:
                    out[(b.target_group_arn, b.host, b.port)] = t.task_id
        return out

    def targets(
        self, tg_arn: str, owners: dict[tuple[str, str, int], str] | None = None
    ) -> list[dict[str, Any]]:
        rt = self.engine.lb
        if rt is None:
            return []
        owners = self._task_of_target() if owners is None else owners
        g = rt.targets.group_map.get(tg_arn)
        if g is None:
            return []
        return [
            target_view(
                t.tid.id,
                t.tid.port,
                t.health,
                outstanding=t.outstanding,
                requests=t.requests,
                task_id=owners.get((tg_arn, t.tid.id, t.tid.port)),
            )
            for t in g.targets.values()
        ]

    def target_groups(self) -> list[dict[str, Any]]:
        rt = self.engine.lb
        services: dict[str, list[str]] = {}
        for svc in self.engine.store.services.values():
            for ref in svc.model.load_balancers:
                services.setdefault(ref.target_group_arn, []).append(svc.name)
        owners = self._task_of_target()
        out = []
        groups = rt.targets.groups() if rt is not None else []
        for g in groups:
            view = target_group_view(g.tg, in_use=g.in_use, services=services.get(g.tg.arn, []))
            view["targets"] = self.targets(g.tg.arn, owners)
            out.append(view)
        return out

    # ---- services ---------------------------------------------------------------------------------
    def _target_health(self, t: TaskRecord) -> tuple[str, str | None] | None:
        from albfargate.model.targets import TargetId

        rt = self.engine.lb
        if not t.targets or rt is None:
            return None
        b = t.targets[0]
        h = rt.targets.health_of(b.target_group_arn, TargetId(b.host, b.port))
        return str(h.state), h.reason

    def task(self, t: TaskRecord) -> dict[str, Any]:
        return task_view(t, self._target_health(t))

    def service(self, svc: ServiceRecord, *, detail: bool = False) -> dict[str, Any]:
        store = self.engine.store
        sched = self.engine.scheduler
        tasks = sorted(store.tasks_of(svc.name), key=lambda t: t.created_at)
        out: dict[str, Any] = {
            "name": svc.name,
            "arn": svc.arn,
            "cluster": svc.cluster,
            "status": svc.status,
            "desired": svc.desired_count,
            "running": svc.running_count,
            "pending": svc.pending_count,
            "steady": bool(svc.steady() and sched is not None and sched.steady.get(svc.name)),
            "target_groups": [ref.target_group_arn for ref in svc.model.load_balancers],
            "task_definition": svc.task_definition_arn,
            "uses": self.uses(svc),
            "tasks": [self.task(t) for t in tasks if t.last_status != "STOPPED"],
            "deployments": [deployment_view(d) for d in _deployment_order(svc.deployments)],
        }
        if detail:
            out["events"] = [
                {"id": e.id, "created_at": e.created_at, "message": e.message} for e in svc.events
            ]
            out["all_tasks"] = [self.task(t) for t in reversed(tasks)]
            out["scaling"] = self.scaling(svc)
        return out

    def services(self) -> list[dict[str, Any]]:
        return [self.service(s) for s in self.engine.store.services.values()]

    def scaling(self, svc: ServiceRecord) -> dict[str, Any] | None:
        model = self.engine.model
        rid = f"service/{svc.cluster}/{svc.name}"
        target = next((t for t in model.scalable_targets if t.resource_id == rid), None)
        if target is None:
            return None
        policies = [p for p in model.scaling_policies if p.resource_id == rid]
        scaler = self.engine.autoscaler
        activities = [a for a in getattr(scaler, "activities", ()) if a.resource_id == rid]
        return {
            "target": {"resource_id": rid, "min": target.min_capacity, "max": target.max_capacity},
            "policies": [
                {
                    "name": p.name,
                    "metric": str(p.metric) if p.metric is not None else "custom",
                    "target_value": p.target_value,
                    "scale_in_cooldown": p.scale_in_cooldown_seconds,
                    "scale_out_cooldown": p.scale_out_cooldown_seconds,
                    "disable_scale_in": p.disable_scale_in,
                }
                for p in policies
            ],
            "activities": [
                {
                    "description": a.description,
                    "cause": a.cause,
                    "time": a.start_time,
                    "status": a.status_code,
                }
                for a in reversed(activities[-50:])
            ],
        }

    def uses(self, svc: ServiceRecord) -> list[dict[str, str]]:
        """The backing resources the service's task definition refers to, by name (docs/console.md)."""
        from albfargate.backing.references import (
            BadReference,
            EndpointRef,
            ParameterRef,
            SecretRef,
            parameter_name,
            parse_value_from,
            references_in,
        )

        model = self.engine.model
        td = self.engine.store.task_definitions.get(svc.task_definition_arn)
        if td is None:
            return []
        found: list[dict[str, str]] = []

        def add(kind: str, name: str) -> None:
            item = {"kind": kind, "name": name}
            if item not in found:
                found.append(item)

        def secret(ref: SecretRef) -> None:
            for s in model.secrets:
                if ref.secret_id in (s.arn, s.name) or s.arn.startswith(ref.secret_id):
                    add("secret", s.name)
                    for db in model.databases:
                        if (
                            s.name in (db.master_password or "")
                            or s.arn in (db.master_password or "")
                            or (db.managed_secret_arn == s.arn)
                        ):
                            add("database", db.logical_id)

        for c in td.containers:
            for sec in c.secrets:
                try:
                    ref = parse_value_from(sec.value_from)
                except BadReference:
                    continue
                if isinstance(ref, SecretRef):
                    secret(ref)
                elif isinstance(ref, ParameterRef):
                    pname = parameter_name(ref.name)
                    if any(p.name == pname for p in model.parameters):
                        add("parameter", pname)
            for _, value in c.environment:
                try:
                    refs = references_in(value)
                except BadReference:
                    refs = []
                for r in refs:
                    if isinstance(r, EndpointRef):
                        add("database", r.key.rsplit("/", 1)[-1])
                    elif isinstance(r, SecretRef):
                        secret(r)
                    elif isinstance(r, ParameterRef):
                        add("parameter", parameter_name(r.name))
                for b in model.buckets:
                    if b.name and b.name in value:
                        add("bucket", b.name)
        return found

    # ---- the whole picture ----------------------------------------------------------------------
    def backing(self) -> dict[str, Any] | None:
        return self.engine.backing_status()

    def topology(self, version: int) -> dict[str, Any]:
        return {
            "version": version,
            "load_balancers": self.load_balancers(),
            "target_groups": self.target_groups(),
            "services": self.services(),
            "backing": self.backing(),
        }


def _deployment_order(deployments: Iterable[DeploymentRecord]) -> list[DeploymentRecord]:
    """PRIMARY first, then the others newest first."""
    ds = list(deployments)
    return sorted(ds, key=lambda d: (d.status != "PRIMARY", -d.created_at))
