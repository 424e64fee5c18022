"""Service event messages with AWS's exact texts (spec §7.5–§7.8) and the duplicate-suppression rule of
``Service.events`` (§7.7: the same message is suppressed until its cause is resolved or 6 h pass).

Every function returns one message string; ids are passed as they appear in the API (task ids are the 32
hex digits, deployment ids ``ecs-svc/<19 digits>``, target groups by ARN). Deployment ``rolloutStateReason``
texts live here too.

Pure: no time; :class:`EventDeduper` is told ``now``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: ``Service.events`` keeps the newest 100 (spec §7.7).
MAX_SERVICE_EVENTS = 100
#: A suppressed duplicate is emitted again after this long even if its cause persists (spec §7.7).
DUPLICATE_WINDOW_SECONDS = 6 * 3600.0


def _tasks(task_ids: Sequence[str]) -> str:
    return " ".join(f"(task {t})" for t in task_ids)


# --- tasks, targets, draining (§7.6, §7.7) -----------------------------------------------------------


def tasks_started(service: str, task_ids: Sequence[str]) -> str:
    return f"(service {service}) has started {len(task_ids)} tasks: {_tasks(task_ids)}."


def tasks_stopped(service: str, task_ids: Sequence[str]) -> str:
    return f"(service {service}) has stopped {len(task_ids)} running tasks: {_tasks(task_ids)}."


def targets_registered(service: str, count: int, target_group_arn: str) -> str:
    """No trailing period (observed)."""
    return f"(service {service}) registered {count} targets in (target-group {target_group_arn})"


def targets_deregistered(service: str, count: int, target_group_arn: str) -> str:
    """No trailing period (observed)."""
    return f"(service {service}) deregistered {count} targets in (target-group {target_group_arn})"


def draining_begun(service: str, deployment_id: str, count: int) -> str:
    return f"(service {service}, taskSet {deployment_id}) has begun draining connections on {count} tasks."


# --- health (§6.5, §7.6) -------------------------------------------------------------------------------


def container_health_failed(service: str, task_id: str) -> str:
    return f"(service {service}) (task {task_id}) failed container health checks."


def target_unhealthy(service: str, task_id: str, port: int, target_group_arn: str, reason: str) -> str:
    """``reason`` is the target's ``TargetHealth.Description``, e.g. ``Request timed out``."""
    return (
        f"(service {service}) (task {task_id}) (port {port}) is unhealthy in "
        f"(target-group {target_group_arn}) due to (reason {reason})."
    )


# --- deployments (§7.5) --------------------------------------------------------------------------------


def deployment_completed(service: str, deployment_id: str) -> str:
    return f"(service {service}) (deployment {deployment_id}) deployment completed."


def deployment_failed(service: str, deployment_id: str) -> str:
    return f"(service {service}) (deployment {deployment_id}) deployment failed: tasks failed to start."


def rolling_back(service: str, previous_deployment_id: str) -> str:
    return f"(service {service}) rolling back to deployment {previous_deployment_id}."


def rollback_failed(service: str, deployment_id: str, previous_deployment_id: str) -> str:
    """Local (not an AWS text): the rollback deployment failed as well, so there is no second rollback."""
    return (
        f"(service {service}) (deployment {deployment_id}) rollback to deployment {previous_deployment_id} "
        f"failed: its tasks failed too. The service is not rolled back again; deploy a fix."
    )


def steady_state(service: str) -> str:
    return f"(service {service}) has reached a steady state."


def unable_to_stop_or_start(service: str) -> str:
    return (
        f"(service {service}) was unable to stop or start tasks during a deployment because of the service "
        "deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
    )


def unable_to_start_consistently(service: str) -> str:
    return f"(service {service}) is unable to consistently start tasks successfully."


def unable_to_place(service: str, reason: str) -> str:
    return f"(service {service}) was unable to place a task. Reason: {reason.rstrip('.')}."


def throttled(service: str) -> str:
    return f"(service {service}) operations are being throttled. Will try again later."


# rolloutStateReason texts (observed, §7.5)


def rollout_in_progress_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} in progress."


def rollout_completed_reason(deployment_id: str) -> str:
    return f"ECS deployment {deployment_id} completed."


CIRCUIT_BREAKER_FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."


def rollback_reason(previous_deployment_id: str) -> str:
    return f"ECS deployment circuit breaker: rolling back to deploymentId {previous_deployment_id}."


# --- duplicate suppression (§7.7) ----------------------------------------------------------------------


@dataclass(slots=True)
class EventDeduper:
    """Suppresses repeats of *condition* messages (steady state, unable to stop or start, unhealthy...).

    Each reconcile pass calls :meth:`filter` with every condition message that holds now. A message is
    emitted when it first appears, then suppressed while it keeps appearing, until it has been absent
    from one pass (its cause resolved) or ``window`` seconds have passed since it was last emitted.
    One-off action messages (``has started``, ``registered``...) must not go through here: two identical
    texts there are two real events."""

    window: float = DUPLICATE_WINDOW_SECONDS
    _last_emitted: dict[str, float] = field(default_factory=dict)

    def filter(self, conditions: Iterable[str], now: float) -> list[str]:
        current: list[str] = []
        seen: set[str] = set()
        for message in conditions:
            if message not in seen:
                seen.add(message)
                current.append(message)
        for gone in [m for m in self._last_emitted if m not in seen]:
            del self._last_emitted[gone]
        out: list[str] = []
        for message in current:
            last = self._last_emitted.get(message)
            if last is None or now - last >= self.window:
                self._last_emitted[message] = now
                out.append(message)
        return out

    def resolve(self, message: str) -> None:
        """Forget ``message`` so that its next occurrence is emitted (cause resolved out of band)."""
        self._last_emitted.pop(message, None)

    @property
    def active(self) -> frozenset[str]:
        return frozenset(self._last_emitted)
