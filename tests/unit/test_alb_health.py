"""Target health state machine (spec §3.2/§3.3): every row of the table, illegal transitions, matcher."""

from __future__ import annotations

import pytest

from albfargate.alb.health import (
    TRANSITIONS,
    CheckResult,
    Event,
    IllegalTransition,
    TargetHealth,
    TargetState,
    check_result,
    checks_disabled,
    internal_error,
    matcher_accepts,
    not_in_use,
    not_registered,
    on_check,
    on_check_started,
    on_deregister,
    on_drained,
    registered,
    transition,
)
from albfargate.model.elbv2 import HealthCheck

S = TargetState
HC = HealthCheck()  # healthy_threshold 5, unhealthy_threshold 2
OK = CheckResult(True, None, None)
MISMATCH = check_result(HC, status=404, timed_out=False)
TIMEOUT = check_result(HC, status=None, timed_out=True)
REFUSED = check_result(HC, status=None, timed_out=False)

INITIAL = registered()
INITIAL_CHECKING = TargetHealth(S.INITIAL, "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTHY = TargetHealth(S.HEALTHY, None, None, successes=3)
UNHEALTHY = TargetHealth(
    S.UNHEALTHY, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]", failures=4
)
DRAINING = TargetHealth(S.DRAINING, "Target.DeregistrationInProgress", "Target deregistration is in progress")
UNUSED = not_in_use()
UNAVAILABLE = TargetHealth(S.UNAVAILABLE, "Target.HealthCheckDisabled", "Health checks are disabled")


# ------------------------------------------------------------------ check classification
MISMATCH_404 = "Health checks failed with these codes: [404]"
MISMATCH_500 = "Health checks failed with these codes: [500]"
CHECK_CASES = [
    ("200", 200, False, CheckResult(True, None, None)),
    ("200", 404, False, CheckResult(False, "Target.ResponseCodeMismatch", MISMATCH_404)),
    ("200", 500, False, CheckResult(False, "Target.ResponseCodeMismatch", MISMATCH_500)),
    ("200-299", 204, False, CheckResult(True, None, None)),
    ("200", None, True, CheckResult(False, "Target.Timeout", "Request timed out")),
    ("200", 200, True, CheckResult(False, "Target.Timeout", "Request timed out")),  # late answer = timeout
    ("200", None, False, CheckResult(False, "Target.FailedHealthChecks", "Health checks failed")),
]  # fmt: skip


@pytest.mark.parametrize(("matcher", "status", "timed_out", "expected"), CHECK_CASES)
def test_check_result(matcher: str, status: int | None, timed_out: bool, expected: CheckResult) -> None:
    hc = HealthCheck(matcher_http_code=matcher)
    assert check_result(hc, status=status, timed_out=timed_out) == expected


def test_check_result_default_matcher_when_none_or_malformed() -> None:
    assert check_result(HealthCheck(matcher_http_code=None), status=200, timed_out=False).ok
    assert check_result(HealthCheck(matcher_http_code="abc"), status=200, timed_out=False).ok
    assert not check_result(HealthCheck(matcher_http_code="abc"), status=204, timed_out=False).ok


MATCHER_CASES = [
    ("200", 200, True),
    ("200", 201, False),
    ("200,202", 202, True),
    ("200,202", 201, False),
    ("200-299", 200, True),
    ("200-299", 299, True),
    ("200-299", 300, False),
    ("200-299", 199, False),
    ("200, 302", 302, True),
    ("200,300-399", 301, True),
    ("200,300-399", 404, False),
]


@pytest.mark.parametrize(("matcher", "status", "expected"), MATCHER_CASES)
def test_matcher_accepts(matcher: str, status: int, expected: bool) -> None:
    assert matcher_accepts(matcher, status) is expected


@pytest.mark.parametrize("bad", ["", "abc", "200-", ","])
def test_matcher_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        matcher_accepts(bad, 200)


# ------------------------------------------------------------------ every row of the table
# (start, event, result, expected)
TABLE_CASES: list[tuple[str, TargetHealth, Event, CheckResult | None, TargetHealth]] = [
    ("initial started", INITIAL, Event.CHECK_STARTED, None, INITIAL_CHECKING),
    (
        "initial one success -> healthy",
        INITIAL,
        Event.CHECK_OK,
        OK,
        TargetHealth(S.HEALTHY, None, None, 1, 0),
    ),
    (
        "initial first failure stays initial",
        INITIAL_CHECKING,
        Event.CHECK_FAILED,
        TIMEOUT,
        TargetHealth(S.INITIAL, "Elb.InitialHealthChecking", "Initial health checks in progress", 0, 1),
    ),
    (
        "initial 2nd failure -> unhealthy",
        TargetHealth(S.INITIAL, "Elb.InitialHealthChecking", "Initial health checks in progress", 0, 1),
        Event.CHECK_FAILED,
        TIMEOUT,
        TargetHealth(S.UNHEALTHY, "Target.Timeout", "Request timed out", 0, 2),
    ),
    ("initial deregister", INITIAL, Event.DEREGISTER, None, DRAINING),
    ("healthy started", HEALTHY, Event.CHECK_STARTED, None, HEALTHY),
    ("healthy success", HEALTHY, Event.CHECK_OK, OK, TargetHealth(S.HEALTHY, None, None, 4, 0)),
    ("healthy 1 failure", HEALTHY, Event.CHECK_FAILED, MISMATCH, TargetHealth(S.HEALTHY, None, None, 0, 1)),
    (
        "healthy 2 failures -> unhealthy",
        TargetHealth(S.HEALTHY, None, None, 0, 1),
        Event.CHECK_FAILED,
        MISMATCH,
        TargetHealth(
            S.UNHEALTHY, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]", 0, 2
        ),
    ),
    ("healthy deregister", HEALTHY, Event.DEREGISTER, None, DRAINING),
    ("unhealthy started", UNHEALTHY, Event.CHECK_STARTED, None, UNHEALTHY),
    (
        "unhealthy 1 success stays unhealthy",
        UNHEALTHY,
        Event.CHECK_OK,
        OK,
        TargetHealth(
            S.UNHEALTHY, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]", 1, 0
        ),
    ),
    (
        "unhealthy 5th success -> healthy",
        TargetHealth(S.UNHEALTHY, "Target.Timeout", "Request timed out", 4, 0),
        Event.CHECK_OK,
        OK,
        TargetHealth(S.HEALTHY, None, None, 5, 0),
    ),
    (
        "unhealthy failure updates reason, resets successes",
        TargetHealth(S.UNHEALTHY, "Target.Timeout", "Request timed out", 3, 0),
        Event.CHECK_FAILED,
        REFUSED,
        TargetHealth(S.UNHEALTHY, "Target.FailedHealthChecks", "Health checks failed", 0, 1),
    ),
    ("unhealthy deregister", UNHEALTHY, Event.DEREGISTER, None, DRAINING),
    ("draining ignores start", DRAINING, Event.CHECK_STARTED, None, DRAINING),
    ("draining ignores success", DRAINING, Event.CHECK_OK, OK, DRAINING),
    ("draining ignores failure", DRAINING, Event.CHECK_FAILED, TIMEOUT, DRAINING),
    (
        "draining over",
        DRAINING,
        Event.DRAINED,
        None,
        TargetHealth(S.UNUSED, "Target.NotRegistered", "Target is not registered to the target group"),
    ),
    ("unused deregister", UNUSED, Event.DEREGISTER, None, DRAINING),
    ("unavailable deregister", UNAVAILABLE, Event.DEREGISTER, None, DRAINING),
]


@pytest.mark.parametrize(
    ("name", "start", "event", "result", "expected"), TABLE_CASES, ids=[c[0] for c in TABLE_CASES]
)
def test_table_row(
    name: str, start: TargetHealth, event: Event, result: CheckResult | None, expected: TargetHealth
) -> None:
    assert transition(start, event, result, HC) == expected


def test_table_cases_cover_every_row() -> None:
    covered = {(c[1].state, c[2]) for c in TABLE_CASES}
    assert covered == set(TRANSITIONS)


ILLEGAL = [(s, e) for s in TargetState for e in Event if (s, e) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_illegal_transitions(state: TargetState, event: Event) -> None:
    h = TargetHealth(state, None, None)
    with pytest.raises(IllegalTransition) as info:
        transition(h, event, OK, HC)
    assert info.value.state is state and info.value.event is event


def test_illegal_examples_named() -> None:
    assert (S.DRAINING, Event.DEREGISTER) in ILLEGAL
    assert (S.UNUSED, Event.CHECK_OK) in ILLEGAL
    assert (S.HEALTHY, Event.DRAINED) in ILLEGAL
    with pytest.raises(IllegalTransition):
        on_deregister(DRAINING)
    with pytest.raises(IllegalTransition):
        on_check(not_registered(), OK, HC)


# ------------------------------------------------------------------ helpers and whole runs
def test_reason_texts() -> None:
    assert checks_disabled() == UNAVAILABLE
    assert registered() == TargetHealth(
        S.INITIAL, "Elb.RegistrationInProgress", "Target registration is in progress"
    )
    assert on_check_started(registered()) == INITIAL_CHECKING
    assert on_deregister(HEALTHY) == DRAINING
    assert on_drained(DRAINING) == not_registered()
    assert not_registered() == TargetHealth(
        S.UNUSED, "Target.NotRegistered", "Target is not registered to the target group"
    )
    assert internal_error() == CheckResult(
        False, "Elb.InternalError", "Health checks failed due to an internal error"
    )


def run(results: list[CheckResult], hc: HealthCheck = HC) -> list[TargetState]:
    h = on_check_started(registered())
    states = []
    for r in results:
        h = on_check(h, r, hc)
        states.append(h.state)
    return states


RUN_CASES = [
    ([OK], [S.HEALTHY]),
    ([TIMEOUT, OK], [S.INITIAL, S.HEALTHY]),
    ([TIMEOUT, TIMEOUT], [S.INITIAL, S.UNHEALTHY]),
    ([OK, MISMATCH, OK, MISMATCH, MISMATCH], [S.HEALTHY, S.HEALTHY, S.HEALTHY, S.HEALTHY, S.UNHEALTHY]),
    (
        [OK, MISMATCH, MISMATCH, OK, OK, OK, OK, OK],
        [S.HEALTHY, S.HEALTHY, S.UNHEALTHY, S.UNHEALTHY, S.UNHEALTHY, S.UNHEALTHY, S.UNHEALTHY, S.HEALTHY],
    ),
    (  # a failure in the middle of the recovery restarts the count
        [TIMEOUT, TIMEOUT, OK, OK, OK, OK, REFUSED, OK, OK, OK, OK, OK],
        [S.INITIAL, S.UNHEALTHY] + [S.UNHEALTHY] * 5 + [S.UNHEALTHY] * 4 + [S.HEALTHY],
    ),
]


@pytest.mark.parametrize(("results", "states"), RUN_CASES)
def test_runs(results: list[CheckResult], states: list[TargetState]) -> None:
    assert run(results) == states


def test_thresholds_from_health_check() -> None:
    hc = HealthCheck(healthy_threshold=2, unhealthy_threshold=3)
    assert run([MISMATCH, MISMATCH, MISMATCH, OK, OK], hc) == [
        S.INITIAL,
        S.INITIAL,
        S.UNHEALTHY,
        S.UNHEALTHY,
        S.HEALTHY,
    ]
