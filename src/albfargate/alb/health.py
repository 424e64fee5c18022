"""Target health (pure): the state machine of spec §3.2/§3.3 as a ``(state, event) -> handler`` table.

Owns the health states, their reason codes and description texts, the classification of one health-check
outcome (:func:`check_result`, with the ``Matcher.HttpCode`` forms ``"200"``, ``"200,202"``,
``"200-299"``) and the transitions:

* registration -> ``initial`` / ``Elb.RegistrationInProgress``; the first probe ->
  ``Elb.InitialHealthChecking``;
* ``initial`` -> ``healthy`` after **one** success; ``UnhealthyThresholdCount`` consecutive failures ->
  ``unhealthy`` (from ``initial`` too, *inferred*);
* ``unhealthy`` -> ``healthy`` after ``HealthyThresholdCount`` consecutive successes;
* deregistration -> ``draining`` / ``Target.DeregistrationInProgress``, which ignores check results; when
  the delay is over -> ``unused`` / ``Target.NotRegistered``.

A pair missing from :data:`TRANSITIONS` raises :class:`IllegalTransition`. The checker (I/O) runs the
probes and feeds the results in; nothing here knows about sockets or clocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from albfargate.model.elbv2 import HealthCheck
from albfargate.model.targets import TargetHealth, TargetState

__all__ = [
    "TRANSITIONS",
    "CheckResult",
    "Event",
    "IllegalTransition",
    "TargetHealth",
    "TargetState",
    "check_result",
    "checks_disabled",
    "internal_error",
    "matcher_accepts",
    "not_in_use",
    "not_registered",
    "on_check",
    "on_check_started",
    "on_deregister",
    "on_drained",
    "registered",
    "transition",
]


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    reason: str | None  # Target.ResponseCodeMismatch | Target.Timeout | Target.FailedHealthChecks
    description: str | None


class IllegalTransition(Exception):
    """An event that the current state does not accept (e.g. a check result for an unused target)."""

    def __init__(self, state: TargetState, event: Event) -> None:
        super().__init__(f"target health: event {event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


class Event(StrEnum):
    CHECK_STARTED = "check_started"  # the first probe is under way
    CHECK_OK = "check_ok"
    CHECK_FAILED = "check_failed"
    DEREGISTER = "deregister"
    DRAINED = "drained"  # deregistration delay over: the target leaves the group


# ----------------------------------------------------------------------------------------------------
# Reasons and descriptions (spec §3.3, exact texts)

REGISTRATION_IN_PROGRESS = ("Elb.RegistrationInProgress", "Target registration is in progress")
INITIAL_HEALTH_CHECKING = ("Elb.InitialHealthChecking", "Initial health checks in progress")
DEREGISTRATION_IN_PROGRESS = ("Target.DeregistrationInProgress", "Target deregistration is in progress")
NOT_REGISTERED = ("Target.NotRegistered", "Target is not registered to the target group")
NOT_IN_USE = (
    "Target.NotInUse",
    "Target group is not configured to receive traffic from the load balancer",
)
TIMEOUT = ("Target.Timeout", "Request timed out")
FAILED = ("Target.FailedHealthChecks", "Health checks failed")
HEALTH_CHECK_DISABLED = ("Target.HealthCheckDisabled", "Health checks are disabled")
INTERNAL_ERROR = ("Elb.InternalError", "Health checks failed due to an internal error")
RESPONSE_CODE_MISMATCH = "Target.ResponseCodeMismatch"


def registered() -> TargetHealth:
    """A target just registered: ``initial`` / ``Elb.RegistrationInProgress``."""
    return TargetHealth(TargetState.INITIAL, *REGISTRATION_IN_PROGRESS)


def not_registered() -> TargetHealth:
    """What DescribeTargetHealth reports for a target that isn't registered."""
    return TargetHealth(TargetState.UNUSED, *NOT_REGISTERED)


def not_in_use() -> TargetHealth:
    """A registered target of a group no listener rule uses (no health checks run)."""
    return TargetHealth(TargetState.UNUSED, *NOT_IN_USE)


def checks_disabled() -> TargetHealth:
    """A target of a group whose health checks are disabled: ``unavailable`` /
    ``Target.HealthCheckDisabled`` (only lambda groups may disable them on AWS)."""
    return TargetHealth(TargetState.UNAVAILABLE, *HEALTH_CHECK_DISABLED)


def internal_error() -> CheckResult:
    """A probe that failed for a reason on the load balancer's side."""
    return CheckResult(False, *INTERNAL_ERROR)


# ----------------------------------------------------------------------------------------------------
# One check's outcome


@lru_cache(maxsize=256)
def _matcher(matcher: str) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for part in matcher.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            low = int(lo.strip())
            high = int(hi.strip()) if sep else low
        except ValueError as exc:
            raise ValueError(f"invalid health-check matcher {matcher!r}") from exc
        ranges.append((low, high))
    if not ranges:
        raise ValueError(f"invalid health-check matcher {matcher!r}")
    return tuple(ranges)


def matcher_accepts(matcher: str, status: int) -> bool:
    """``"200"``, ``"200,202"``, ``"200-299"`` (and mixes such as ``"200,300-399"``)."""
    return any(lo <= status <= hi for lo, hi in _matcher(matcher))


def check_result(health_check: HealthCheck, *, status: int | None, timed_out: bool) -> CheckResult:
    """Classify one probe: ``status`` is the HTTP status received (None when the connection failed or the
    response was malformed); ``timed_out`` when no response came within ``timeout_seconds``."""
    if timed_out:
        return CheckResult(False, *TIMEOUT)
    if status is None:
        return CheckResult(False, *FAILED)
    try:
        accepted = matcher_accepts(health_check.matcher_http_code or "200", status)
    except ValueError:  # a malformed matcher (the API rejects these) falls back to the default "200"
        accepted = status == 200
    if accepted:
        return CheckResult(True, None, None)
    return CheckResult(False, RESPONSE_CODE_MISMATCH, f"Health checks failed with these codes: [{status}]")


# ----------------------------------------------------------------------------------------------------
# The table

Handler = Callable[[TargetHealth, CheckResult | None, HealthCheck | None], TargetHealth]


def _healthy(h: TargetHealth, successes: int) -> TargetHealth:
    return TargetHealth(TargetState.HEALTHY, None, None, successes=successes, failures=0)


def _failed(h: TargetHealth, r: CheckResult, failures: int) -> TargetHealth:
    return TargetHealth(TargetState.UNHEALTHY, r.reason, r.description, successes=0, failures=failures)


def _need(r: CheckResult | None, hc: HealthCheck | None) -> tuple[CheckResult, HealthCheck]:
    if r is None or hc is None:
        raise TypeError("a check event needs the result and the health check")
    return r, hc


def _initial_check_started(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return replace(h, reason=INITIAL_HEALTH_CHECKING[0], description=INITIAL_HEALTH_CHECKING[1])


def _unchanged(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return h


def _initial_ok(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return _healthy(h, 1)  # one success is enough after registration (doc)


def _initial_failed(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    result, check = _need(r, hc)
    failures = h.failures + 1
    if failures >= check.unhealthy_threshold:
        return _failed(h, result, failures)
    return TargetHealth(TargetState.INITIAL, *INITIAL_HEALTH_CHECKING, successes=0, failures=failures)


def _healthy_ok(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return _healthy(h, h.successes + 1)


def _healthy_failed(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    result, check = _need(r, hc)
    failures = h.failures + 1
    if failures >= check.unhealthy_threshold:
        return _failed(h, result, failures)
    return TargetHealth(TargetState.HEALTHY, None, None, successes=0, failures=failures)


def _unhealthy_ok(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    _, check = _need(r, hc)
    successes = h.successes + 1
    if successes >= check.healthy_threshold:
        return _healthy(h, successes)
    # still unhealthy; AWS keeps reporting the last failure's reason until the target recovers
    return replace(h, successes=successes, failures=0)


def _unhealthy_failed(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    result, _ = _need(r, hc)
    return _failed(h, result, h.failures + 1)


def _to_draining(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return TargetHealth(TargetState.DRAINING, *DEREGISTRATION_IN_PROGRESS)


def _to_not_registered(h: TargetHealth, r: CheckResult | None, hc: HealthCheck | None) -> TargetHealth:
    return not_registered()


S, E = TargetState, Event
TRANSITIONS: dict[tuple[TargetState, Event], Handler] = {
    (S.INITIAL, E.CHECK_STARTED): _initial_check_started,
    (S.INITIAL, E.CHECK_OK): _initial_ok,
    (S.INITIAL, E.CHECK_FAILED): _initial_failed,
    (S.INITIAL, E.DEREGISTER): _to_draining,
    (S.HEALTHY, E.CHECK_STARTED): _unchanged,
    (S.HEALTHY, E.CHECK_OK): _healthy_ok,
    (S.HEALTHY, E.CHECK_FAILED): _healthy_failed,
    (S.HEALTHY, E.DEREGISTER): _to_draining,
    (S.UNHEALTHY, E.CHECK_STARTED): _unchanged,
    (S.UNHEALTHY, E.CHECK_OK): _unhealthy_ok,
    (S.UNHEALTHY, E.CHECK_FAILED): _unhealthy_failed,
    (S.UNHEALTHY, E.DEREGISTER): _to_draining,
    # draining ignores health checks; it ends when the delay is over
    (S.DRAINING, E.CHECK_STARTED): _unchanged,
    (S.DRAINING, E.CHECK_OK): _unchanged,
    (S.DRAINING, E.CHECK_FAILED): _unchanged,
    (S.DRAINING, E.DRAINED): _to_not_registered,
    # unused (group not in use) and unavailable (checks disabled) targets are not probed
    (S.UNUSED, E.DEREGISTER): _to_draining,
    (S.UNAVAILABLE, E.DEREGISTER): _to_draining,
}
del S, E


def transition(
    h: TargetHealth,
    event: Event,
    result: CheckResult | None = None,
    health_check: HealthCheck | None = None,
) -> TargetHealth:
    """Apply ``event`` to ``h`` through :data:`TRANSITIONS`; IllegalTransition when not in the table."""
    handler = TRANSITIONS.get((h.state, event))
    if handler is None:
        raise IllegalTransition(h.state, event)
    return handler(h, result, health_check)


def on_check_started(h: TargetHealth) -> TargetHealth:
    """The first probe of a just-registered target is under way (``Elb.InitialHealthChecking``)."""
    return transition(h, Event.CHECK_STARTED)


def on_check(h: TargetHealth, result: CheckResult, health_check: HealthCheck) -> TargetHealth:
    """Feed one probe result."""
    return transition(h, Event.CHECK_OK if result.ok else Event.CHECK_FAILED, result, health_check)


def on_deregister(h: TargetHealth) -> TargetHealth:
    """DeregisterTargets: ``draining`` / ``Target.DeregistrationInProgress``."""
    return transition(h, Event.DEREGISTER)


def on_drained(h: TargetHealth) -> TargetHealth:
    """The deregistration delay is over: the target leaves (``unused`` / ``Target.NotRegistered``)."""
    return transition(h, Event.DRAINED)
