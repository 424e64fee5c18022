"""Traffic series for the console's charts (pure; docs/console.md, ``GET /api/metrics``): one point per
series per interval for the last 15 minutes, for every load balancer, listener, target group and target.

Inputs, once per interval (the shell, ``console/sampler.py``, reads them; nothing here touches a request):

- a :class:`Reading` of the counters the ALB keeps anyway (``alb.metrics.Metrics`` per load balancer
  and target group, the registry's per-target request counts): exact counts, turned into per-interval
  deltas here;
- the :class:`Observed` exchanges of the interval, copied at exchange end while a console client is
  connected (``sampling``): the target response times behind p50/p99, and the status split of listeners
  and targets, which the ALB does not count apart.

A point's ``sampled`` says how many exchanges it was computed from; fields only a sample gives are None
for an interval without sampling."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

WINDOW_SECONDS = 900  # the last 15 minutes
INTERVAL_SECONDS = 1.0

STATUS_FIELDS = ("target_2xx", "target_3xx", "target_4xx", "target_5xx", "elb_3xx", "elb_4xx", "elb_5xx")


@dataclass(frozen=True, slots=True)
class LbReading:
    requests: int
    elb_3xx: int
    elb_4xx: int
    elb_5xx: int
    target_2xx: int
    target_3xx: int
    target_4xx: int
    target_5xx: int


@dataclass(frozen=True, slots=True)
class TgReading:
    requests: int
    target_2xx: int
    target_3xx: int
    target_4xx: int
    target_5xx: int


@dataclass(frozen=True, slots=True)
class Reading:
    """The ALB's counters at one instant (they only grow). ``targets`` is keyed ``(tg arn, "host:port")``;
    ``listeners`` maps each listener ARN to its load balancer's ARN."""

    lbs: Mapping[str, LbReading]
    tgs: Mapping[str, TgReading]
    targets: Mapping[tuple[str, str], int]
    listeners: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)  # series id -> label


class Observed(NamedTuple):
    """One exchange as the charts need it (a named tuple: thousands are made per interval)."""

    lb_arn: str | None
    listener_arn: str | None
    tg_arn: str | None
    target: str | None  # "host:port"
    elb_status: int | None
    target_status: int | None
    target_time: float  # seconds; < 0 when no target answered


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of an ascending sequence; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


_TARGET_FIELDS = {2: "target_2xx", 3: "target_3xx", 4: "target_4xx", 5: "target_5xx"}
_ELB_FIELDS = {3: "elb_3xx", 4: "elb_4xx", 5: "elb_5xx"}


def status_field(ob: Observed) -> str | None:
    """Which count an exchange adds to: ``target_NXX`` when a target answered, ``elb_NXX`` when the ALB
    made the answer (2XX ALB answers, e.g. a fixed response 200, are counted by no CloudWatch metric)."""
    if ob.target_status is not None:
        return _TARGET_FIELDS.get(ob.target_status // 100)
    if ob.elb_status is not None:
        return _ELB_FIELDS.get(ob.elb_status // 100)
    return None


class _Acc:
    __slots__ = ("counts", "n", "times")

    def __init__(self) -> None:
        self.n = 0
        self.times: list[float] = []
        self.counts = dict.fromkeys(STATUS_FIELDS, 0)

    def add(self, time: float | None, f: str | None) -> None:
        self.n += 1
        if time is not None:
            self.times.append(time)
        if f is not None:
            self.counts[f] += 1


def _delta(new: int, old: int | None) -> int:
    if old is None or new < old:  # a counter that is new (or was reset): count from zero
        return new if old is None else 0
    return new - old


class MetricsHistory:
    """The series and their points; :meth:`step` adds one point to every series."""

    def __init__(self, *, interval: float = INTERVAL_SECONDS, window: float = WINDOW_SECONDS) -> None:
        self.interval = interval
        self.window = window
        self.size = max(1, int(window / interval))
        self.series: dict[str, deque[dict[str, Any]]] = {}
        self.scopes: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._last: Reading | None = None

    def _point(self, sid: str, scope: str, point: dict[str, Any]) -> None:
        s = self.series.get(sid)
        if s is None:
            s = self.series[sid] = deque(maxlen=self.size)
            self.scopes[sid] = scope
        s.append(point)

    def baseline(self, reading: Reading) -> None:
        """The counters when the load balancers' runtime appeared (``Sampler.runtime_started``): the first
        interval's deltas count from here, so requests made before the first :meth:`step` are counted in
        it. Without a baseline the first reading is one (the counters' past is not a spike)."""
        self._last = reading
        self.labels.update(reading.labels)

    def step(
        self, now: float, reading: Reading, observed: Iterable[Observed], *, sampling: bool
    ) -> list[dict[str, Any]]:
        """One interval ends at ``now``: a point for every series (the ones the reading names, and any
        already known), returned as ``{"scope", "id", **point}`` for the event stream."""
        last = self._last if self._last is not None else reading  # no baseline: the first reading is one
        self._last = reading
        self.labels.update(reading.labels)
        accs: dict[str, _Acc] = {}

        def acc(sid: str | None) -> _Acc | None:
            if sid is None:
                return None
            a = accs.get(sid)
            if a is None:
                a = accs[sid] = _Acc()
            return a

        for ob in observed:  # each exchange is read once, then counted in its (up to) four series
            f = status_field(ob)
            t = ob.target_time if ob.target_time >= 0 and ob.target_status is not None else None
            for sid in (
                ob.lb_arn,
                ob.listener_arn,
                ob.tg_arn,
                f"{ob.tg_arn}|{ob.target}" if ob.tg_arn and ob.target else None,
            ):
                a = acc(sid)
                if a is not None:
                    a.add(t, f)
        out: list[dict[str, Any]] = []
        per_lb_listeners: dict[str, list[str]] = {}
        for lst, lb_arn in reading.listeners.items():
            per_lb_listeners.setdefault(lb_arn, []).append(lst)

        def emit(sid: str, scope: str, point: dict[str, Any]) -> None:
            a = accs.get(sid)
            times = sorted(a.times) if a is not None else []
            point["p50"] = percentile(times, 50) if sampling else None
            point["p99"] = percentile(times, 99) if sampling else None
            point["sampled"] = a.n if a is not None else 0
            point["t"] = now
            self._point(sid, scope, point)
            out.append({"scope": scope, "id": sid, **point})

        for arn, lb in reading.lbs.items():
            old = last.lbs.get(arn) if last is not None else None
            counts = {f: _delta(getattr(lb, f), getattr(old, f) if old else None) for f in STATUS_FIELDS}
            requests = _delta(lb.requests, old.requests if old else None)
            emit(arn, "load_balancer", {"rps": requests / self.interval, **counts})
            for lst in per_lb_listeners.get(arn, ()):
                if len(per_lb_listeners[arn]) == 1:  # the load balancer's only listener: exact counts
                    emit(lst, "listener", {"rps": requests / self.interval, **counts})
                else:
                    emit(lst, "listener", self._sampled_counts(accs.get(lst), sampling))
        for arn, tg in reading.tgs.items():
            old_tg = last.tgs.get(arn) if last is not None else None
            tcounts: dict[str, Any] = {
                f: _delta(getattr(tg, f), getattr(old_tg, f) if old_tg else None) for f in STATUS_FIELDS[:4]
            }
            tcounts.update(elb_3xx=0, elb_4xx=0, elb_5xx=0)
            requests = _delta(tg.requests, old_tg.requests if old_tg else None)
            emit(arn, "target_group", {"rps": requests / self.interval, **tcounts})
        for (tg_arn, key), n in reading.targets.items():
            sid = f"{tg_arn}|{key}"
            old_n = last.targets.get((tg_arn, key)) if last is not None else None
            point = self._sampled_counts(accs.get(sid), sampling)
            point["rps"] = _delta(n, old_n) / self.interval
            point.update(elb_3xx=0, elb_4xx=0, elb_5xx=0)
            emit(sid, "target", point)
        self._age_out(now)
        return out

    def _sampled_counts(self, a: _Acc | None, sampling: bool) -> dict[str, Any]:
        if not sampling:
            return {"rps": None, **dict.fromkeys(STATUS_FIELDS)}
        counts = a.counts if a is not None else dict.fromkeys(STATUS_FIELDS, 0)
        return {"rps": (a.n if a is not None else 0) / self.interval, **counts}

    def _age_out(self, now: float) -> None:
        """A series whose newest point is older than the window is dropped (a target that left)."""
        for sid in [s for s, pts in self.series.items() if pts and now - pts[-1]["t"] > self.window]:
            del self.series[sid]
            self.scopes.pop(sid, None)

    def document(
        self, now: float, *, scope: str | None = None, sid: str | None = None, since: float | None = None
    ) -> dict[str, Any]:
        """``GET /api/metrics``: every series (or the one asked for), points after ``since``."""
        series = []
        for key, pts in self.series.items():
            if scope is not None and self.scopes.get(key) != scope:
                continue
            if sid is not None and key != sid:
                continue
            points = [p for p in pts if since is None or p["t"] > since]
            series.append(
                {
                    "scope": self.scopes.get(key),
                    "id": key,
                    "label": self.labels.get(key, key),
                    "points": points,
                }
            )
        return {
            "interval_seconds": self.interval,
            "window_seconds": self.window,
            "now": now,
            "series": series,
        }
