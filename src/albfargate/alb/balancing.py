"""Target selection (pure): which targets may receive a request and which one does (spec §3.4, §3.6-§3.8).

Owns:

* the candidate set with fail-open (:func:`routable`): healthy targets, or every healthy and unhealthy
  target when the healthy ones are fewer than ``minimum_healthy_targets.count`` (default 1) or
  ``.percentage``; draining targets never; only initial/draining/unused targets -> ``[]`` (503);
* the algorithms (:class:`Balancer`): round robin (smooth weighted round robin, so that slow-start
  weights apply), least outstanding requests, weighted random (uniform weights, *inferred*);
* slow start: a target's weight rises linearly, ``elapsed / duration``, to a full share;
* the weighted choice between the target groups of a forward action (:func:`choose_target_group`);
* stickiness cookies ``AWSALB`` / ``AWSALBAPP-n`` / ``AWSALBTG``: an HMAC-signed opaque token (base64url)
  carrying the target key (or target-group ARN) and its issue time (:func:`encode_sticky`,
  :func:`decode_sticky`), and the ``Set-Cookie`` headers with their ``...CORS`` twins.

Randomness comes in as a ``random.Random`` instance and time as ``now`` so tests are deterministic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Final

from albfargate.model.elbv2 import TargetGroupAttributes, TargetGroupTuple
from albfargate.model.targets import TargetState

if TYPE_CHECKING:  # only the type: the instance is injected by the shell
    import random

__all__ = [
    "APP_COOKIE_PREFIX",
    "COOKIE_LIFETIME_SECONDS",
    "LB_COOKIE",
    "TG_COOKIE",
    "Balancer",
    "TargetView",
    "app_cookie_headers",
    "app_cookie_value",
    "choose_target_group",
    "cookie_value",
    "decode_sticky",
    "encode_sticky",
    "enters_slow_start",
    "find_target",
    "in_slow_start",
    "routable",
    "set_cookie_headers",
    "slow_start_weight",
]


@dataclass(frozen=True, slots=True)
class TargetView:
    key: str  # "host:port"
    state: TargetState
    outstanding: int  # in-flight requests
    healthy_since: float | None  # when it last became healthy (slow start)
    slow_start_from: float | None  # None when not in slow start


# ----------------------------------------------------------------------------------------------------
# Candidate set (§3.4)


def routable(targets: Sequence[TargetView], attributes: TargetGroupAttributes) -> list[TargetView]:
    """The targets a new request may go to; ``[]`` means 503.

    1. H = healthy targets; 2. if |H| meets both thresholds (count, default 1, never below 1; and the
    percentage of healthy+unhealthy targets when set) route to H; 3. otherwise fail open to every
    healthy and unhealthy target (never draining, initial or unused)."""
    healthy = [t for t in targets if t.state is TargetState.HEALTHY]
    pool = [t for t in targets if t.state in (TargetState.HEALTHY, TargetState.UNHEALTHY)]
    need = max(1, attributes.unhealthy_routing_min_count)
    pct = attributes.unhealthy_routing_min_percentage
    if pct is not None and pool:
        need = max(need, math.ceil(len(pool) * pct / 100))
    if len(healthy) >= need:
        return healthy
    return pool


# ----------------------------------------------------------------------------------------------------
# Slow start (§3.6)


def in_slow_start(target: TargetView, duration: int, now: float) -> bool:
    return duration > 0 and target.slow_start_from is not None and now - target.slow_start_from < duration


def slow_start_weight(target: TargetView, duration: int, now: float) -> float:
    """1.0 outside slow start; ``elapsed / duration`` (linear ramp from 0) inside it."""
    if not in_slow_start(target, duration, now):
        return 1.0
    assert target.slow_start_from is not None
    return max(0.0, (now - target.slow_start_from) / duration)


def enters_slow_start(
    key: str, targets: Sequence[TargetView], attributes: TargetGroupAttributes, now: float
) -> bool:
    """Whether the target ``key``, becoming healthy now, enters slow start: the feature is on and another
    healthy target exists that is not itself in slow start (targets registered together into an empty
    group skip it)."""
    duration = attributes.slow_start_seconds
    if duration <= 0:
        return False
    return any(
        t.key != key and t.state is TargetState.HEALTHY and not in_slow_start(t, duration, now)
        for t in targets
    )


# ----------------------------------------------------------------------------------------------------
# Algorithms (§3.7)


class Balancer:
    """Chooses one target of a candidate set. Pure but stateful (round-robin accumulators, the
    least-outstanding tie cursor); the random source is injected."""

    __slots__ = ("_algorithm", "_attributes", "_current", "_rng", "_tie")

    def __init__(self, attributes: TargetGroupAttributes, rng: random.Random) -> None:
        self._attributes = attributes
        self._algorithm = attributes.algorithm
        self._rng = rng
        self._current: dict[str, float] = {}  # smooth weighted round robin state per target key
        self._tie = 0

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def choose(self, candidates: Sequence[TargetView], now: float) -> TargetView:
        if not candidates:
            raise ValueError("no candidate target")
        if len(candidates) == 1:
            return candidates[0]
        if self._algorithm == "least_outstanding_requests":
            return self._least_outstanding(candidates)
        weights = self._weights(candidates, now)
        if self._algorithm == "weighted_random":
            return self._weighted_random(candidates, weights)
        return self._round_robin(candidates, weights)

    def _weights(self, candidates: Sequence[TargetView], now: float) -> list[float]:
        duration = self._attributes.slow_start_seconds
        if duration <= 0:
            return [1.0] * len(candidates)
        return [slow_start_weight(t, duration, now) for t in candidates]

    def _round_robin(self, candidates: Sequence[TargetView], weights: list[float]) -> TargetView:
        """Smooth weighted round robin (nginx): with equal weights a plain rotation in candidate order;
        with slow-start weights each target's share follows its weight without bursts."""
        total = sum(weights)
        if total <= 0:
            weights = [1.0] * len(candidates)
            total = float(len(candidates))
        current = self._current
        if len(current) > 4 * len(candidates):  # forget targets that left
            keys = {t.key for t in candidates}
            for k in [k for k in current if k not in keys]:
                del current[k]
        best_i = -1
        best = -math.inf
        for i, (t, w) in enumerate(zip(candidates, weights, strict=True)):
            c = current.get(t.key, 0.0) + w
            current[t.key] = c
            if c > best:
                best, best_i = c, i
        chosen = candidates[best_i]
        current[chosen.key] -= total
        return chosen

    def _least_outstanding(self, candidates: Sequence[TargetView]) -> TargetView:
        low = min(t.outstanding for t in candidates)
        tied = [t for t in candidates if t.outstanding == low]
        self._tie = (self._tie + 1) % (1 << 30)
        return tied[self._tie % len(tied)]

    def _weighted_random(self, candidates: Sequence[TargetView], weights: list[float]) -> TargetView:
        total = sum(weights)
        if total <= 0:
            return candidates[self._rng.randrange(len(candidates))]
        x = self._rng.random() * total
        acc = 0.0
        for t, w in zip(candidates, weights, strict=True):
            acc += w
            if x < acc:
                return t
        return candidates[-1]


def find_target(candidates: Sequence[TargetView], key: str | None) -> TargetView | None:
    """The candidate a sticky cookie names, or None (missing, unknown, draining or not routable)."""
    if key is None:
        return None
    for t in candidates:
        if t.key == key:
            return t
    return None


def choose_target_group(tuples: Sequence[TargetGroupTuple], rng: random.Random) -> str | None:
    """Weighted choice of a forward action's target group (probability w_i / sum w); a single group is
    returned whatever its weight; all weights 0 -> None (503, *inferred*)."""
    if len(tuples) == 1:
        return tuples[0].target_group_arn
    total = sum(max(0, t.weight) for t in tuples)
    if total <= 0:
        return None
    x = rng.random() * total
    acc = 0
    for t in tuples:
        acc += max(0, t.weight)
        if x < acc:
            return t.target_group_arn
    return next(t.target_group_arn for t in reversed(tuples) if t.weight > 0)


# ----------------------------------------------------------------------------------------------------
# Stickiness cookies (§2.1, §3.8)

LB_COOKIE: Final = "AWSALB"
APP_COOKIE_PREFIX: Final = "AWSALBAPP-"
TG_COOKIE: Final = "AWSALBTG"
COOKIE_LIFETIME_SECONDS: Final = 7 * 24 * 3600  # the cookie's own Expires; the duration is inside the token
APP_COOKIE_SHARDS: Final = 4
_VERSION: Final = 1
_MAC_LEN: Final = 16  # truncated HMAC-SHA256: 128 bits
_HEAD: Final = struct.Struct(">BQ")  # version, issue time in milliseconds
_CLOCK_SKEW: Final = 300.0  # tokens issued "in the future" by up to this many seconds still count


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_sticky(key: bytes, target_key: str, now: float) -> str:
    """Opaque cookie value: base64url(version | issue-ms | target key | HMAC-SHA256[:16]), no padding,
    so it needs no URL-encoding."""
    body = _HEAD.pack(_VERSION, max(0, int(now * 1000))) + target_key.encode("utf-8")
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]
    return _b64e(body + mac)


def decode_sticky(key: bytes, value: str, now: float, duration: int) -> str | None:
    """The target key inside a cookie value, or None when it is malformed, tampered with, signed with
    another key, or older than ``duration`` seconds."""
    if not value or len(value) > 4096:
        return None
    try:
        raw = _b64d(value.strip())
    except (binascii.Error, ValueError):
        return None
    if len(raw) < _HEAD.size + _MAC_LEN:
        return None
    body, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
    expected = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LEN]
    if not hmac.compare_digest(mac, expected):
        return None
    version, issued_ms = _HEAD.unpack_from(body)
    if version != _VERSION:
        return None
    age = now - issued_ms / 1000.0
    if age > duration or age < -_CLOCK_SKEW:
        return None
    try:
        return body[_HEAD.size :].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _expires(now: float) -> str:
    return formatdate(now + COOKIE_LIFETIME_SECONDS, usegmt=True)


def set_cookie_headers(name: str, value: str, now: float) -> list[tuple[str, str]]:
    """``Set-Cookie`` for ``name`` and its ``nameCORS`` twin (``SameSite=None; Secure``), both with
    ``Expires`` 7 days ahead (RFC 1123) and ``Path=/``."""
    expires = _expires(now)
    return [
        ("Set-Cookie", f"{name}={value}; Expires={expires}; Path=/"),
        ("Set-Cookie", f"{name}CORS={value}; Expires={expires}; Path=/; SameSite=None; Secure"),
    ]


def app_cookie_headers(value: str, now: float) -> list[tuple[str, str]]:
    """The ``AWSALBAPP-0..3`` cookies of app_cookie stickiness: the value sharded in 4 KB parts, unused
    shards set to ``_remove_`` (*observed* AWS behaviour)."""
    chunk = 4096
    parts = [value[i : i + chunk] for i in range(0, len(value), chunk)] or [""]
    if len(parts) > APP_COOKIE_SHARDS:
        raise ValueError("app cookie stickiness value longer than 16 KB")
    expires = _expires(now)
    headers: list[tuple[str, str]] = []
    for i in range(APP_COOKIE_SHARDS):
        part = parts[i] if i < len(parts) else "_remove_"
        headers.append(("Set-Cookie", f"{APP_COOKIE_PREFIX}{i}={part}; Expires={expires}; Path=/"))
    return headers


def app_cookie_value(headers: Sequence[tuple[str, str]]) -> str | None:
    """The reassembled ``AWSALBAPP-0..3`` value of a request (None when absent)."""
    parts: list[str] = []
    for i in range(APP_COOKIE_SHARDS):
        part = cookie_value(headers, f"{APP_COOKIE_PREFIX}{i}")
        if part is None or part == "_remove_":
            break
        parts.append(part)
    return "".join(parts) if parts else None


def cookie_value(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The value of cookie ``name`` in the request's ``Cookie`` headers (first occurrence)."""
    for hname, value in headers:
        if hname.lower() != "cookie":
            continue
        for item in value.split(";"):
            k, sep, v = item.strip().partition("=")
            if sep and k == name:
                return v.strip()
    return None
