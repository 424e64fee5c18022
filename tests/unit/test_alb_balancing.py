"""Target selection (spec §3.4, §3.6-§3.8): candidate set with fail-open, algorithms with a seeded
Random and a fake clock, slow start, weighted target groups, sticky cookies."""

from __future__ import annotations

import random
from collections import Counter
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb.balancing import (
    COOKIE_LIFETIME_SECONDS,
    Balancer,
    TargetView,
    app_cookie_headers,
    app_cookie_value,
    choose_target_group,
    cookie_value,
    decode_sticky,
    encode_sticky,
    enters_slow_start,
    find_target,
    routable,
    set_cookie_headers,
    slow_start_weight,
)
from albfargate.model.elbv2 import TargetGroupAttributes, TargetGroupTuple
from albfargate.model.targets import TargetState

S = TargetState


def tv(
    key: str,
    state: TargetState = S.HEALTHY,
    outstanding: int = 0,
    slow_start_from: float | None = None,
) -> TargetView:
    return TargetView(key, state, outstanding, 0.0 if state is S.HEALTHY else None, slow_start_from)


def ta(count: int = 1, pct: int | None = None) -> TargetGroupAttributes:
    return TargetGroupAttributes(unhealthy_routing_min_count=count, unhealthy_routing_min_percentage=pct)


def keys(ts: list[TargetView]) -> list[str]:
    return [t.key for t in ts]


# ------------------------------------------------------------------ candidate set
ROUTABLE_CASES: list[tuple[str, list[TargetView], TargetGroupAttributes, list[str]]] = [
    ("no targets -> 503", [], ta(), []),
    ("healthy only", [tv("a"), tv("b", S.UNHEALTHY)], ta(), ["a"]),
    ("all unhealthy -> fail open", [tv("a", S.UNHEALTHY), tv("b", S.UNHEALTHY)], ta(), ["a", "b"]),
    ("only initial -> 503", [tv("a", S.INITIAL), tv("b", S.INITIAL)], ta(), []),
    ("only draining -> 503", [tv("a", S.DRAINING)], ta(), []),
    (
        "initial/draining/unused -> 503",
        [tv("a", S.INITIAL), tv("b", S.DRAINING), tv("c", S.UNUSED)],
        ta(),
        [],
    ),
    ("draining never, even failing open", [tv("a", S.UNHEALTHY), tv("b", S.DRAINING)], ta(), ["a"]),
    ("initial not in fail-open set", [tv("a", S.UNHEALTHY), tv("b", S.INITIAL)], ta(), ["a"]),
    (
        "min count 2 breached",
        [tv("a"), tv("b", S.UNHEALTHY), tv("c", S.UNHEALTHY)],
        ta(count=2),
        ["a", "b", "c"],
    ),
    ("min count 2 met", [tv("a"), tv("b"), tv("c", S.UNHEALTHY)], ta(count=2), ["a", "b"]),
    ("min count 0 treated as 1", [tv("a", S.UNHEALTHY)], ta(count=0), ["a"]),
    (
        "percentage 50 breached",
        [tv("a"), tv("b", S.UNHEALTHY), tv("c", S.UNHEALTHY)],
        ta(pct=50),
        ["a", "b", "c"],
    ),
    (
        "percentage 50 met",
        [tv("a"), tv("b"), tv("c", S.UNHEALTHY), tv("d", S.UNHEALTHY)],
        ta(pct=50),
        ["a", "b"],
    ),
    (
        "count met but percentage breached",
        [tv("a"), tv("b", S.UNHEALTHY), tv("c", S.UNHEALTHY), tv("d", S.UNHEALTHY)],
        ta(count=1, pct=30),
        ["a", "b", "c", "d"],
    ),
]


@pytest.mark.parametrize(
    ("name", "targets", "attrs", "expected"), ROUTABLE_CASES, ids=[c[0] for c in ROUTABLE_CASES]
)
def test_routable(
    name: str, targets: list[TargetView], attrs: TargetGroupAttributes, expected: list[str]
) -> None:
    assert keys(routable(targets, attrs)) == expected


# ------------------------------------------------------------------ algorithms
def picks(balancer: Balancer, candidates: list[TargetView], n: int, now: float = 100.0) -> list[str]:
    return [balancer.choose(candidates, now).key for _ in range(n)]


def test_round_robin_rotates_in_order() -> None:
    b = Balancer(TargetGroupAttributes(), random.Random(1))
    assert picks(b, [tv("a"), tv("b"), tv("c")], 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_follows_changes_of_the_candidate_set() -> None:
    b = Balancer(TargetGroupAttributes(), random.Random(1))
    abc = [tv("a"), tv("b"), tv("c")]
    first = picks(b, abc, 3)
    assert sorted(first) == ["a", "b", "c"]
    ac = [tv("a"), tv("c")]
    assert Counter(picks(b, ac, 10)) == Counter({"a": 5, "c": 5})
    assert Counter(picks(b, abc, 30)) == Counter({"a": 10, "b": 10, "c": 10})


def test_single_candidate_and_empty() -> None:
    b = Balancer(TargetGroupAttributes(), random.Random(1))
    assert picks(b, [tv("x")], 3) == ["x", "x", "x"]
    with pytest.raises(ValueError):
        b.choose([], 0.0)


LOR = TargetGroupAttributes(algorithm="least_outstanding_requests")
LOR_CASES = [
    ([tv("a", outstanding=3), tv("b", outstanding=1), tv("c", outstanding=2)], {"b"}),
    ([tv("a", outstanding=0), tv("b", outstanding=5)], {"a"}),
    ([tv("a", outstanding=2), tv("b", outstanding=2), tv("c", outstanding=9)], {"a", "b"}),
]


@pytest.mark.parametrize(("candidates", "allowed"), LOR_CASES)
def test_least_outstanding_requests(candidates: list[TargetView], allowed: set[str]) -> None:
    b = Balancer(LOR, random.Random(1))
    got = picks(b, candidates, 6)
    assert set(got) == allowed  # ties are rotated, not always the first


def test_least_outstanding_ignores_slow_start() -> None:
    attrs = TargetGroupAttributes(algorithm="least_outstanding_requests", slow_start_seconds=60)
    b = Balancer(attrs, random.Random(1))
    cands = [tv("old", outstanding=4), tv("new", outstanding=0, slow_start_from=99.0)]
    assert picks(b, cands, 3, now=100.0) == ["new", "new", "new"]


def test_weighted_random_is_seeded_and_roughly_uniform() -> None:
    attrs = TargetGroupAttributes(algorithm="weighted_random")
    cands = [tv("a"), tv("b"), tv("c"), tv("d")]
    first = picks(Balancer(attrs, random.Random(42)), cands, 4000)
    again = picks(Balancer(attrs, random.Random(42)), cands, 4000)
    assert first == again  # deterministic with a seeded Random
    counts = Counter(first)
    assert set(counts) == {"a", "b", "c", "d"}
    assert all(850 < n < 1150 for n in counts.values()), counts
    assert first[:8] != ["a", "b", "c", "d", "a", "b", "c", "d"]  # not a rotation


# ------------------------------------------------------------------ slow start
SLOW = 100  # seconds


@pytest.mark.parametrize(
    ("start", "now", "weight"),
    [
        (None, 50.0, 1.0),
        (0.0, 0.0, 0.0),
        (0.0, 25.0, 0.25),
        (0.0, 50.0, 0.5),
        (0.0, 99.0, 0.99),
        (0.0, 100.0, 1.0),
        (0.0, 500.0, 1.0),
    ],
)
def test_slow_start_weight_is_linear(start: float | None, now: float, weight: float) -> None:
    assert slow_start_weight(tv("n", slow_start_from=start), SLOW, now) == pytest.approx(weight)


@pytest.mark.parametrize("algorithm", ["round_robin", "weighted_random"])
@pytest.mark.parametrize(("elapsed", "share"), [(10.0, 0.1 / 1.1), (50.0, 0.5 / 1.5), (150.0, 0.5)])
def test_slow_start_share_ramps(algorithm: str, elapsed: float, share: float) -> None:
    attrs = TargetGroupAttributes(algorithm=algorithm, slow_start_seconds=SLOW)
    b = Balancer(attrs, random.Random(7))
    cands = [tv("old"), tv("new", slow_start_from=1000.0)]
    n = 3000
    got = Counter(picks(b, cands, n, now=1000.0 + elapsed))
    assert got["new"] / n == pytest.approx(share, abs=0.03)


def test_slow_start_round_robin_starts_at_zero() -> None:
    attrs = TargetGroupAttributes(slow_start_seconds=SLOW)
    b = Balancer(attrs, random.Random(7))
    cands = [tv("old"), tv("new", slow_start_from=1000.0)]
    assert set(picks(b, cands, 50, now=1000.0)) == {"old"}


ENTER_CASES = [
    ("another healthy target", [tv("a"), tv("n", S.INITIAL)], SLOW, True),
    ("alone in the group", [tv("n", S.INITIAL)], SLOW, False),
    ("others only unhealthy", [tv("a", S.UNHEALTHY), tv("n", S.INITIAL)], SLOW, False),
    ("others all in slow start", [tv("a", slow_start_from=990.0), tv("n", S.INITIAL)], SLOW, False),
    ("other slow start finished", [tv("a", slow_start_from=800.0), tv("n", S.INITIAL)], SLOW, True),
    ("feature off", [tv("a"), tv("n", S.INITIAL)], 0, False),
]


@pytest.mark.parametrize(
    ("name", "targets", "duration", "expected"), ENTER_CASES, ids=[c[0] for c in ENTER_CASES]
)
def test_enters_slow_start(name: str, targets: list[TargetView], duration: int, expected: bool) -> None:
    attrs = TargetGroupAttributes(slow_start_seconds=duration)
    assert enters_slow_start("n", targets, attrs, now=1000.0) is expected


# ------------------------------------------------------------------ weighted target groups
def test_target_group_weights_split_traffic() -> None:
    rng = random.Random(3)
    tuples = [TargetGroupTuple("tg/a", 10), TargetGroupTuple("tg/b", 20)]
    got = Counter(choose_target_group(tuples, rng) for _ in range(6000))
    assert got["tg/a"] / 6000 == pytest.approx(1 / 3, abs=0.03)
    assert got["tg/b"] / 6000 == pytest.approx(2 / 3, abs=0.03)


TG_CASES: list[tuple[list[TargetGroupTuple], set[str | None]]] = [
    ([TargetGroupTuple("tg/a", 0), TargetGroupTuple("tg/b", 5)], {"tg/b"}),  # weight 0 = no traffic
    ([TargetGroupTuple("tg/a", 0), TargetGroupTuple("tg/b", 0)], {None}),  # all zero -> 503
    ([TargetGroupTuple("tg/only", 0)], {"tg/only"}),  # a single group is the group
    ([TargetGroupTuple("tg/only", 1)], {"tg/only"}),
    ([TargetGroupTuple("a", 999), TargetGroupTuple("b", 999), TargetGroupTuple("c", 999)], {"a", "b", "c"}),
]


@pytest.mark.parametrize(("tuples", "allowed"), TG_CASES)
def test_choose_target_group(tuples: list[TargetGroupTuple], allowed: set[str | None]) -> None:
    rng = random.Random(11)
    assert {choose_target_group(tuples, rng) for _ in range(300)} == allowed


# ------------------------------------------------------------------ sticky cookies
KEY = b"k" * 32
NOW = 1_700_000_000.0


def test_sticky_roundtrip_and_charset() -> None:
    value = encode_sticky(KEY, "127.0.0.1:8081", NOW)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "127.0.0.1" not in value  # opaque
    assert decode_sticky(KEY, value, NOW + 10, 86400) == "127.0.0.1:8081"


def _flip(value: str, i: int) -> str:
    c = value[i]
    return value[:i] + ("A" if c != "A" else "B") + value[i + 1 :]


TG_ARN = "arn:aws:elasticloadbalancing:r:1:targetgroup/x/y"
VALID = encode_sticky(KEY, "127.0.0.1:8081", NOW)
STICKY_CASES = [
    ("valid", VALID, KEY, NOW + 1, 60, "127.0.0.1:8081"),
    ("at the duration edge", VALID, KEY, NOW + 60, 60, "127.0.0.1:8081"),
    ("expired", VALID, KEY, NOW + 61, 60, None),
    ("tampered payload", _flip(VALID, 14), KEY, NOW + 1, 60, None),
    ("tampered mac", _flip(VALID, len(VALID) - 2), KEY, NOW + 1, 60, None),
    ("other key", VALID, b"other-key", NOW + 1, 60, None),
    ("garbage", "not a cookie!", KEY, NOW, 60, None),
    ("empty", "", KEY, NOW, 60, None),
    ("truncated", VALID[:10], KEY, NOW, 60, None),
    ("url-encoded", VALID.replace("_", "%5F") + "%3D", KEY, NOW, 60, None),
    ("issued far in the future", encode_sticky(KEY, "t:1", NOW + 3600), KEY, NOW, 60, None),
    ("tg arn", encode_sticky(KEY, TG_ARN, NOW), KEY, NOW, 5, TG_ARN),
]


@pytest.mark.parametrize(
    ("name", "value", "key", "now", "duration", "expected"), STICKY_CASES, ids=[c[0] for c in STICKY_CASES]
)
def test_decode_sticky(
    name: str, value: str, key: bytes, now: float, duration: int, expected: str | None
) -> None:
    assert decode_sticky(key, value, now, duration) == expected


def test_unknown_sticky_target_falls_back_to_the_balancer() -> None:
    cands = [tv("a"), tv("b")]
    assert find_target(cands, "b") == cands[1]
    assert find_target(cands, "gone:1") is None  # deregistered / unknown target
    assert find_target(cands, None) is None
    assert find_target(routable([tv("a"), tv("b", S.DRAINING)], TargetGroupAttributes()), "b") is None


@pytest.mark.parametrize("name", ["AWSALB", "AWSALBTG"])
def test_set_cookie_headers(name: str) -> None:
    headers = set_cookie_headers(name, "VALUE", NOW)
    assert [h[0] for h in headers] == ["Set-Cookie", "Set-Cookie"]
    main, cors = headers[0][1], headers[1][1]
    assert main.startswith(f"{name}=VALUE; Expires=")
    assert main.endswith("; Path=/")
    assert "SameSite" not in main and "Max-Age" not in main
    assert cors.startswith(f"{name}CORS=VALUE; Expires=")
    assert cors.endswith("; Path=/; SameSite=None; Secure")
    expires = main.split("Expires=")[1].split(";")[0]
    assert expires.endswith(" GMT") and len(expires) == 29  # RFC 1123: "Tue, 21 Nov 2023 22:13:20 GMT"
    assert parsedate_to_datetime(expires).timestamp() == NOW + COOKIE_LIFETIME_SECONDS == NOW + 7 * 86400


def test_app_cookie_shards() -> None:
    headers = app_cookie_headers("TOKEN", NOW)
    assert [h[1].split(";")[0] for h in headers] == [
        "AWSALBAPP-0=TOKEN",
        "AWSALBAPP-1=_remove_",
        "AWSALBAPP-2=_remove_",
        "AWSALBAPP-3=_remove_",
    ]
    big = "x" * 5000
    parts = [h[1].split(";")[0].split("=", 1)[1] for h in app_cookie_headers(big, NOW)]
    assert "".join(p for p in parts if p != "_remove_") == big
    cookie = "; ".join(f"AWSALBAPP-{i}={p}" for i, p in enumerate(parts))
    assert app_cookie_value([("Cookie", cookie)]) == big
    with pytest.raises(ValueError):
        app_cookie_headers("x" * (16 * 1024 + 1), NOW)


COOKIE_CASES: list[tuple[list[tuple[str, str]], str, str | None]] = [
    ([("Cookie", "AWSALB=abc; other=1")], "AWSALB", "abc"),
    ([("cookie", "x=1;AWSALB=abc")], "AWSALB", "abc"),
    ([("Cookie", "AWSALBCORS=zzz")], "AWSALB", None),  # the CORS twin is a different name
    ([("Cookie", "a=1"), ("Cookie", "AWSALBTG=t")], "AWSALBTG", "t"),
    ([("Cookie", "AWSALB=first"), ("Cookie", "AWSALB=second")], "AWSALB", "first"),
    ([("X-Cookie", "AWSALB=abc")], "AWSALB", None),
    ([], "AWSALB", None),
]


@pytest.mark.parametrize(("headers", "name", "expected"), COOKIE_CASES)
def test_cookie_value(headers: list[tuple[str, str]], name: str, expected: str | None) -> None:
    assert cookie_value(headers, name) == expected


# ------------------------------------------------------------------ properties
@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200), st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
)
def test_decode_sticky_never_raises(value: str, now: float) -> None:
    assert decode_sticky(KEY, value, now, 86400) is None  # random text is never a valid token


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=300), st.binary(min_size=1, max_size=64), st.integers(0, 2**33))
def test_sticky_roundtrip_property(target_key: str, key: bytes, now: int) -> None:
    value = encode_sticky(key, target_key, float(now))
    assert decode_sticky(key, value, float(now) + 1, 10) == target_key
    assert decode_sticky(key + b"x", value, float(now) + 1, 10) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(list(TargetState)), max_size=8),
    st.integers(0, 5),
    st.one_of(st.none(), st.integers(1, 100)),
)
def test_routable_property(states: list[TargetState], count: int, pct: int | None) -> None:
    targets = [tv(f"t{i}", s) for i, s in enumerate(states)]
    got = routable(targets, ta(count, pct))
    assert all(t.state in (S.HEALTHY, S.UNHEALTHY) for t in got)
    healthy = [t for t in targets if t.state is S.HEALTHY]
    if healthy and got and all(t.state is S.HEALTHY for t in got):
        assert got == healthy
    if not any(t.state in (S.HEALTHY, S.UNHEALTHY) for t in targets):
        assert got == []
