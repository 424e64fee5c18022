"""Service event texts (spec §7.5–§7.8), byte-exact, and duplicate suppression (§7.7)."""

from __future__ import annotations

import pytest

from albfargate.ecs import events
from albfargate.ecs.events import EventDeduper

S = "web"
TID = "0123456789abcdef0123456789abcdef"
TID2 = "fedcba9876543210fedcba9876543210"
DEP = "ecs-svc/1234567890123456789"
PREV = "ecs-svc/9876543210987654321"
TG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-tg/0123456789abcdef"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (events.tasks_started(S, [TID]), f"(service web) has started 1 tasks: (task {TID})."),
        (
            events.tasks_started(S, [TID, TID2]),
            f"(service web) has started 2 tasks: (task {TID}) (task {TID2}).",
        ),
        (events.tasks_stopped(S, [TID]), f"(service web) has stopped 1 running tasks: (task {TID})."),
        (events.targets_registered(S, 1, TG), f"(service web) registered 1 targets in (target-group {TG})"),
        (
            events.targets_deregistered(S, 2, TG),
            f"(service web) deregistered 2 targets in (target-group {TG})",
        ),
        (
            events.draining_begun(S, DEP, 1),
            f"(service web, taskSet {DEP}) has begun draining connections on 1 tasks.",
        ),
        (events.deployment_completed(S, DEP), f"(service web) (deployment {DEP}) deployment completed."),
        (events.steady_state(S), "(service web) has reached a steady state."),
        (
            events.container_health_failed(S, TID),
            f"(service web) (task {TID}) failed container health checks.",
        ),
        (
            events.target_unhealthy(S, TID, 8080, TG, "Health checks failed with these codes: [404]"),
            f"(service web) (task {TID}) (port 8080) is unhealthy in (target-group {TG}) due to "
            "(reason Health checks failed with these codes: [404]).",
        ),
        (
            events.target_unhealthy(S, TID, 80, TG, "Request timed out"),
            f"(service web) (task {TID}) (port 80) is unhealthy in (target-group {TG}) due to "
            "(reason Request timed out).",
        ),
        (
            events.deployment_failed(S, DEP),
            f"(service web) (deployment {DEP}) deployment failed: tasks failed to start.",
        ),
        (events.rolling_back(S, PREV), f"(service web) rolling back to deployment {PREV}."),
        (
            events.unable_to_start_consistently(S),
            "(service web) is unable to consistently start tasks successfully.",
        ),
        (
            events.unable_to_place(S, "ResourceInitializationError: unable to pull secrets"),
            "(service web) was unable to place a task. "
            "Reason: ResourceInitializationError: unable to pull secrets.",
        ),
        (
            events.unable_to_place(
                S, "You've reached the limit on the number of tasks you can run concurrently."
            ),
            "(service web) was unable to place a task. "
            "Reason: You've reached the limit on the number of tasks you can run concurrently.",
        ),
        (events.throttled(S), "(service web) operations are being throttled. Will try again later."),
        (
            events.unable_to_stop_or_start(S),
            "(service web) was unable to stop or start tasks during a deployment because of the service "
            "deployment configuration. "
            "Update the minimumHealthyPercent or maximumPercent value and try again.",
        ),
        (events.rollout_in_progress_reason(DEP), f"ECS deployment {DEP} in progress."),
        (events.rollout_completed_reason(DEP), f"ECS deployment {DEP} completed."),
        (events.CIRCUIT_BREAKER_FAILED_REASON, "ECS deployment circuit breaker: tasks failed to start."),
        (
            events.rollback_reason(PREV),
            f"ECS deployment circuit breaker: rolling back to deploymentId {PREV}.",
        ),
    ],
)
def test_message_texts(message: str, expected: str) -> None:
    assert message == expected


def test_registration_messages_have_no_trailing_period() -> None:
    assert not events.targets_registered(S, 1, TG).endswith(".")
    assert not events.targets_deregistered(S, 1, TG).endswith(".")


def test_limits() -> None:
    assert events.MAX_SERVICE_EVENTS == 100
    assert events.DUPLICATE_WINDOW_SECONDS == 6 * 3600


STEADY = events.steady_state(S)
STUCK = events.unable_to_stop_or_start(S)


def test_dedupe_suppresses_while_cause_persists() -> None:
    d = EventDeduper()
    assert d.filter([STEADY], now=0.0) == [STEADY]
    assert d.filter([STEADY], now=15.0) == []
    assert d.filter([STEADY, STEADY], now=30.0) == []
    assert d.active == frozenset({STEADY})


def test_dedupe_reemits_after_cause_resolved() -> None:
    d = EventDeduper()
    d.filter([STEADY], now=0.0)
    assert d.filter([], now=10.0) == []  # no longer steady: resolved
    assert d.filter([STEADY], now=20.0) == [STEADY]


def test_dedupe_reemits_after_six_hours() -> None:
    d = EventDeduper()
    d.filter([STEADY], now=0.0)
    assert d.filter([STEADY], now=6 * 3600 - 1.0) == []
    assert d.filter([STEADY], now=6 * 3600.0) == [STEADY]
    assert d.filter([STEADY], now=6 * 3600 + 100.0) == []
    assert d.filter([STEADY], now=12 * 3600.0) == [STEADY]


def test_dedupe_independent_messages_and_order() -> None:
    d = EventDeduper()
    assert d.filter([STUCK, STEADY, STUCK], now=0.0) == [STUCK, STEADY]
    assert d.filter([STUCK], now=1.0) == []  # STEADY resolved, STUCK persists
    assert d.filter([STEADY, STUCK], now=2.0) == [STEADY]


def test_dedupe_resolve_out_of_band_and_window() -> None:
    d = EventDeduper(window=10.0)
    d.filter([STUCK], now=0.0)
    d.resolve(STUCK)
    assert d.filter([STUCK], now=1.0) == [STUCK]
    assert d.filter([STUCK], now=11.0) == [STUCK]
    d.resolve("never seen")  # harmless
