"""What the running engine reports: the ``status --json`` document (a documented contract; keys may be
added, not removed), the ``steady`` condition with one line per service saying why not, and the
``backing`` part. Read-only: every function reads the engine's store, scheduler, load balancers and
driver and writes nothing.

Split out of :mod:`albfargate.engine` (its "reading" seam); :class:`~albfargate.engine.Engine` keeps
``status()``, ``steady()`` and ``backing_status()`` as one-line delegates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from albfargate.model.targets import TargetId
from albfargate.state.store import ServiceRecord, TaskRecord, deployment_summary, task_summary

if TYPE_CHECKING:
    from albfargate.engine import Engine


def steady(engine: Engine) -> tuple[bool, list[str]]:
    """Whether every ACTIVE service is steady (one deployment, COMPLETED, running == desired, all
    healthy); otherwise one line per service saying why not."""
    why: list[str] = []
    sched = engine.scheduler
    for svc in engine.store.services.values():
        if svc.status != "ACTIVE":
            continue
        if svc.steady() and sched is not None and sched.steady.get(svc.name):
            continue
        why.append(why_not_steady(engine, svc))
    return (not why, why)


def why_not_steady(engine: Engine, svc: ServiceRecord) -> str:
    parts = [f"service {svc.name}: {svc.running_count}/{svc.desired_count} running"]
    if svc.pending_count:
        parts.append(f"{svc.pending_count} pending")
    if len(svc.deployments) != 1:
        parts.append(f"{len(svc.deployments)} deployments")
    p = svc.primary
    if p is not None and p.rollout_state != "COMPLETED":
        parts.append(f"rollout {p.rollout_state}")
    for t in engine.store.tasks_of(svc.name):
        if t.last_status == "STOPPED":
            continue
        th = target_health(engine, t)
        if th is not None and th[0] != "healthy":
            parts.append(f"task {t.task_id[:8]} target {th[0]}" + (f" ({th[1]})" if th[1] else ""))
    last_stop = max(
        (t for t in engine.store.tasks_of(svc.name) if t.last_status == "STOPPED"),
        key=lambda t: t.stopped_at or 0.0,
        default=None,
    )
    if last_stop is not None and last_stop.stop_code in ("TaskFailedToStart", "EssentialContainerExited"):
        parts.append(f"last stopped task: {last_stop.stopped_reason}")
    if engine.scheduler is not None and svc.name in engine.scheduler.last_error:
        parts.append(f"scheduler error: {engine.scheduler.last_error[svc.name]}")
    return "; ".join(parts)


def target_health(engine: Engine, t: TaskRecord) -> tuple[str, str | None] | None:
    """The state and reason of the task's first target, or None (no target, no load balancer)."""
    if not t.targets or engine.lb is None:
        return None
    b = t.targets[0]
    h = engine.lb.targets.health_of(b.target_group_arn, TargetId(b.host, b.port))
    return str(h.state), h.reason


def _load_balancers(engine: Engine) -> list[dict[str, Any]]:
    lbs = []
    for lb in engine.model.load_balancers:
        listeners = []
        if engine.lb is not None:
            for b in engine.lb.bindings():
                if b.lb_arn == lb.arn:
                    listeners.append(
                        {"port": b.port, "protocol": b.protocol, "url": b.url, "local_port": b.local_port}
                    )
        lbs.append(
            {"name": lb.name, "scheme": str(lb.scheme), "dns_name": lb.dns_name, "listeners": listeners}
        )
    return lbs


def _service(engine: Engine, svc: ServiceRecord, logs: Any, events: int) -> dict[str, Any]:
    tasks = []
    for t in sorted(engine.store.tasks_of(svc.name), key=lambda t: t.created_at):
        if t.last_status == "STOPPED":
            continue
        d = task_summary(t)
        th = target_health(engine, t)
        d["target_state"] = th[0] if th is not None else None
        d["target_reason"] = th[1] if th is not None else None
        d["log_lines_dropped"] = logs.dropped(t.task_id) if logs is not None else 0
        tasks.append(d)
    return {
        "name": svc.name,
        "arn": svc.arn,
        "cluster": svc.cluster,
        "target_groups": [lb.target_group_arn for lb in svc.model.load_balancers],
        "status": svc.status,
        "desired": svc.desired_count,
        "running": svc.running_count,
        "pending": svc.pending_count,
        "steady": bool(svc.steady() and engine.scheduler and engine.scheduler.steady.get(svc.name)),
        "deployments": [deployment_summary(d) for d in svc.deployments],
        "tasks": tasks,
        "log_lines_dropped": logs.dropped_of_service(svc.name) if logs is not None else 0,
        "events": [{"created_at": e.created_at, "message": e.message} for e in list(svc.events)[:events]],
    }


def status(engine: Engine, *, supervisor_pid: int | None = None, events: int = 10) -> dict[str, Any]:
    """The ``status --json`` document."""
    logs = getattr(engine.driver, "logs", None)  # the process driver's log pump
    services = [_service(engine, svc, logs, events) for svc in engine.store.services.values()]
    is_steady, why = steady(engine)
    return {
        "supervisor_pid": supervisor_pid,
        "api_url": engine.api_url,
        "console_url": engine.console_url,
        "state_dir": str(engine.state_dir),
        "steady": is_steady,
        "not_steady": why,
        "load_balancers": _load_balancers(engine),
        "services": services,
        "not_emulated": len(engine.model.not_emulated),
        "backing": backing_status(engine),
        "startup": dict(engine.startup),
        "notes": [*engine.notes, *(logs.warned if logs is not None else ())],
        "log_lines_dropped": logs.dropped_total() if logs is not None else 0,
        "log_write_error": logs.write_error if logs is not None else None,
        "orphans": orphans(engine),
    }


def orphans(engine: Engine) -> list[dict[str, Any]]:
    """``orphans`` of ``status --json``: processes with this state dir's marker that belong to no running
    task nor database server (what escaped a stop, or was left by an earlier run), as last looked for
    (``Engine.refresh_orphans``; the process driver also looks every few seconds)."""
    return list(getattr(engine.driver, "last_orphans", ()))


def backing_status(engine: Engine) -> dict[str, Any] | None:
    """``backing`` of ``status --json``: the databases, secrets and parameters (backing/manager.py) and the
    S3 buckets (``buckets``, in the shape of the databases' entries); None when there is none. Names and
    endpoints only, never a secret value."""
    backing = engine.backing.status() if engine.backing is not None else None
    buckets = engine.s3.status(engine.api_url) if engine.s3 is not None else []
    if not buckets:
        return backing
    out: dict[str, Any] = (
        dict(backing)
        if backing is not None
        else {
            "databases": [],
            "secrets": [],
            "parameters": [],
            "data_dir": str(engine.state_dir / "data"),
        }
    )
    out["buckets"] = buckets
    return out
