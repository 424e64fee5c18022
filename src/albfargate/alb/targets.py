"""The live target registry of every target group: which targets are registered, their health (state
machine in :mod:`albfargate.alb.health`), draining with the deregistration delay (spec §3.5), in-flight
request counts, slow-start starts (§3.6) and the per-group request counter behind
``RequestCountPerTarget``.

It is the interface the ECS scheduler drives (``register`` / ``deregister``, contract in
docs/contracts.md) and the data the proxy reads on every request (``pick``). It owns timers (the
deregistration delay) through the running event loop, but performs no network I/O itself: cutting an
in-flight request is a callback the proxy registered with :meth:`LiveTargets.begin`."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from albfargate.alb import balancing, health
from albfargate.model import TargetGroup
from albfargate.model.targets import TargetHealth, TargetState
from albfargate.model.targets import TargetId as TargetId  # re-exported while callers move to model.targets

NOT_REGISTERED: Final = health.not_registered()
NOT_IN_USE: Final = health.not_in_use()


@dataclass(slots=True, eq=False)
class Target:
    """One registered target of one group (mutable; owned by the registry, read by the proxy)."""

    tid: TargetId
    key: str  # "host:port", the balancing / stickiness key
    health: TargetHealth
    outstanding: int = 0
    healthy_since: float | None = None
    slow_start_from: float | None = None
    requests: int = 0
    # cut callbacks of in-flight requests (called when the deregistration delay runs out)
    inflight: set[Callable[[], None]] = field(default_factory=set)
    drain_timer: asyncio.TimerHandle | None = None
    gone: bool = False  # left the group (drained): pooled connections must not be reused
    tls: bool = False  # the group's protocol is HTTPS (certificates not validated, spec §3.1)

    @property
    def routable_state(self) -> bool:
        return self.health.state in (TargetState.HEALTHY, TargetState.UNHEALTHY)

    def end(self, cut: Callable[[], None]) -> None:
        """A request dispatched with :meth:`Group.route` (or ``LiveTargets.begin``) is over."""
        self.outstanding -= 1
        self.inflight.discard(cut)

    def view(self) -> balancing.TargetView:
        return balancing.TargetView(
            key=self.key,
            state=self.health.state,
            outstanding=self.outstanding,
            healthy_since=self.healthy_since,
            slow_start_from=self.slow_start_from,
        )


@dataclass(slots=True, eq=False)
class Group:
    """One target group's live state (owned by the registry). The proxy routes a request with one call,
    :meth:`route` (choose and count it), and ends it with :meth:`Target.end`."""

    tg: TargetGroup
    clock: Callable[[], float]  # the registry's clock, read only when the choice needs the time
    targets: dict[TargetId, Target] = field(default_factory=dict)
    in_use: bool = False
    requests: int = 0
    balancer: balancing.Balancer | None = None
    # candidate set and key index, rebuilt only after a membership/health change (hot path); not used
    # for least_outstanding_requests, whose choice needs the live in-flight counts
    cache: tuple[list[balancing.TargetView], dict[str, Target]] | None = None

    def pick(self, sticky_key: str | None = None, now: float | None = None) -> Target | None:
        """The target for the next request, or None (→ 503). ``sticky_key`` wins when it names a target of
        the candidate set (stickiness overrides the algorithm, §3.7/§3.8). ``now`` (the registry's clock)
        is read here when not given and only when the choice depends on it (slow-start weights)."""
        if not self.targets:
            return None
        cache = self.cache
        if cache is None:
            by_key = {t.key: t for t in self.targets.values()}
            views = [t.view() for t in self.targets.values()]
            candidates = balancing.routable(views, self.tg.attributes)
            if self.tg.attributes.algorithm != "least_outstanding_requests":
                self.cache = (candidates, by_key)
        else:
            candidates, by_key = cache
        if not candidates:
            return None
        if sticky_key is not None:
            for c in candidates:
                if c.key == sticky_key:
                    return by_key[c.key]
        if now is None:
            # the balancer reads the time only for slow-start weights among several candidates
            slow = len(candidates) > 1 and self.tg.attributes.slow_start_seconds > 0
            now = self.clock() if slow else 0.0
        assert self.balancer is not None
        chosen = self.balancer.choose(candidates, now)
        return by_key.get(chosen.key)

    def route(self, sticky_key: str | None, cut: Callable[[], None]) -> Target | None:
        """Choose the target of a request (:meth:`pick`) and count it in flight there (``cut`` is called if
        the target's deregistration delay runs out first): the proxy's one call per request; the request
        ends with :meth:`Target.end`."""
        t = self.pick(sticky_key)
        if t is not None:
            t.outstanding += 1
            t.requests += 1
            t.inflight.add(cut)
            self.requests += 1
        return t


Listener = Callable[[str, Target, str], None]  # (target group arn, target, event) event: register|leave


class LiveTargets:
    """The registry implementation. ``clock`` is monotonic seconds (slow start, health timestamps);
    the deregistration delay runs on the event loop (``loop.call_later``)."""

    def __init__(
        self,
        target_groups: Iterable[TargetGroup],
        *,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._groups: dict[str, Group] = {}
        self._listeners: list[Listener] = []
        self._changed: list[Callable[[str], None]] = []
        for tg in target_groups:
            self._add_group(tg)

    # ---------------------------------------------------------------- configuration
    def _add_group(self, tg: TargetGroup) -> Group:
        g = Group(tg=tg, clock=self._clock, balancer=balancing.Balancer(tg.attributes, self._rng))
        self._groups[tg.arn] = g
        return g

    def _group(self, arn: str) -> Group:
        g = self._groups.get(arn)
        if g is None:
            raise KeyError(f"unknown target group {arn}")
        return g

    def has_group(self, arn: str) -> bool:
        return arn in self._groups

    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def in_use(self, arn: str) -> bool:
        """Whether some listener rule of a running load balancer forwards to the group now (its targets are
        health-checked); False for an unknown group."""
        g = self._groups.get(arn)
        return g is not None and g.in_use

    @property
    def group_map(self) -> Mapping[str, Group]:
        """Every group by ARN, live (the registry's own table, read-only: groups are added, never replaced
        or removed, so the proxy may keep it and look a group up without calling the registry)."""
        return self._groups

    def target_group(self, arn: str) -> TargetGroup | None:
        g = self._groups.get(arn)
        return None if g is None else g.tg

    def update_target_group(self, tg: TargetGroup) -> None:
        """New settings (health check, attributes) apply from the next request / check."""
        g = self._groups.get(tg.arn)
        if g is None:
            self._add_group(tg)
            return
        if g.tg.attributes != tg.attributes:
            g.balancer = balancing.Balancer(tg.attributes, self._rng)
        g.tg = tg
        g.cache = None

    def set_in_use(self, arns: Iterable[str]) -> None:
        """Target groups used by some listener rule are health-checked; the others report
        ``unused / Target.NotInUse`` (spec §3.2)."""
        used = set(arns)
        for arn, g in self._groups.items():
            was = g.in_use
            g.in_use = arn in used
            g.cache = None
            if was == g.in_use:
                continue
            for t in g.targets.values():
                if t.health.state is TargetState.DRAINING:
                    continue
                if g.in_use:
                    t.health = health.registered()
                    self._emit(arn, t, "register")
                else:
                    t.health = NOT_IN_USE
                    t.healthy_since = t.slow_start_from = None
            self._notify(arn)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, arn: str, t: Target, event: str) -> None:
        for cb in self._listeners:
            cb(arn, t, event)

    def on_change(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """``callback(target_group_arn)`` after any change of a group's targets or their health state or
        reason (worker processes are kept in step with it; the console follows it). Returns the
        unsubscribe function."""
        self._changed.append(callback)

        def unsubscribe() -> None:
            if callback in self._changed:
                self._changed.remove(callback)

        return unsubscribe

    def _notify(self, arn: str) -> None:
        for cb in list(self._changed):
            cb(arn)

    def snapshot(
        self, target_group_arn: str
    ) -> list[tuple[str, int, TargetHealth, float | None, float | None]]:
        """A group's targets as plain values: (id, port, health, healthy_since, slow_start_from)."""
        g = self._group(target_group_arn)
        return [
            (t.tid.id, t.tid.port, t.health, t.healthy_since, t.slow_start_from) for t in g.targets.values()
        ]

    def apply_snapshot(
        self, target_group_arn: str, items: list[tuple[str, int, TargetHealth, float | None, float | None]]
    ) -> None:
        """Make a replica's group match the authoritative one (worker processes): new targets appear,
        health is copied, targets gone from the snapshot leave at once (their in-flight requests are
        cut: the authority's deregistration delay has run out)."""
        g = self._group(target_group_arn)
        seen: set[TargetId] = set()
        for tid_id, port, h, since, slow in items:
            tid = TargetId(tid_id, port)
            seen.add(tid)
            t = g.targets.get(tid)
            if t is None:
                t = Target(
                    tid=tid,
                    key=f"{tid_id}:{port}",
                    health=h,
                    tls=(g.tg.protocol or "HTTP").upper() == "HTTPS",
                )
                g.targets[tid] = t
            t.health, t.healthy_since, t.slow_start_from = h, since, slow
        for tid, t in list(g.targets.items()):
            if tid not in seen:
                self._leave(g, t)
        g.cache = None

    # ---------------------------------------------------------------- the ECS-facing contract
    def register(self, target_group_arn: str, target: TargetId) -> None:
        """Enters ``initial``; the health checker probes it at once. Registering a draining target
        again cancels its drain and starts it afresh."""
        g = self._group(target_group_arn)
        t = g.targets.get(target)
        if t is not None:
            if t.health.state is not TargetState.DRAINING:
                return
            if t.drain_timer is not None:
                t.drain_timer.cancel()
            del g.targets[target]
        t = Target(
            tid=target,
            key=f"{target.id}:{target.port}",
            health=health.registered() if g.in_use else NOT_IN_USE,
            tls=(g.tg.protocol or "HTTP").upper() == "HTTPS",
        )
        g.targets[target] = t
        g.cache = None
        if g.in_use:
            self._emit(target_group_arn, t, "register")
        self._notify(target_group_arn)

    def deregister(self, target_group_arn: str, target: TargetId) -> None:
        """Draining at once (no new request); in-flight requests finish or are cut with 502 when
        ``deregistration_delay`` elapses, then the target leaves. Unknown targets: no-op (§3.1)."""
        g = self._group(target_group_arn)
        t = g.targets.get(target)
        if t is None or t.health.state is TargetState.DRAINING:
            return
        try:
            t.health = health.on_deregister(t.health)
        except health.IllegalTransition:
            t.health = TargetHealth(
                TargetState.DRAINING,
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        t.healthy_since = t.slow_start_from = None
        g.cache = None
        self._notify(target_group_arn)
        delay = g.tg.attributes.deregistration_delay_seconds
        if delay <= 0:
            self._leave(g, t)
            return
        loop = asyncio.get_running_loop()
        t.drain_timer = loop.call_later(delay, self._leave, g, t)

    def _leave(self, g: Group, t: Target) -> None:
        t.drain_timer = None
        for cut in list(t.inflight):
            cut()
        t.inflight.clear()
        t.gone = True
        if g.targets.get(t.tid) is t:
            del g.targets[t.tid]
        g.cache = None
        self._emit(g.tg.arn, t, "leave")
        self._notify(g.tg.arn)

    def describe(self, target_group_arn: str) -> list[tuple[TargetId, TargetHealth]]:
        g = self._group(target_group_arn)
        return [(t.tid, t.health) for t in g.targets.values()]

    def health_of(self, target_group_arn: str, target: TargetId) -> TargetHealth:
        g = self._groups.get(target_group_arn)
        t = None if g is None else g.targets.get(target)
        return NOT_REGISTERED if t is None else t.health

    def request_count(self, target_group_arn: str) -> int:
        return self._group(target_group_arn).requests

    def add_requests(self, target_group_arn: str, count: int) -> None:
        """Count ``count`` requests a worker process served for the group (``workers=N``: the main
        process's counter behind ``RequestCountPerTarget`` covers every process). Unknown groups: no-op."""
        g = self._groups.get(target_group_arn)
        if g is not None:
            g.requests += count

    # ---------------------------------------------------------------- for the health checker
    def target(self, target_group_arn: str, target: TargetId) -> Target | None:
        g = self._groups.get(target_group_arn)
        return None if g is None else g.targets.get(target)

    def set_health(self, target_group_arn: str, t: Target, new: TargetHealth) -> None:
        """Record a health-check outcome; starts slow start when a target becomes healthy while
        another healthy target not in slow start exists (§3.6)."""
        g = self._groups.get(target_group_arn)
        if g is None or g.targets.get(t.tid) is not t or t.health.state is TargetState.DRAINING:
            return
        old, old_reason = t.health.state, t.health.reason
        t.health = new
        g.cache = None
        if new.state is TargetState.HEALTHY and old is not TargetState.HEALTHY:
            now = self._clock()
            t.healthy_since = now
            t.slow_start_from = None
            others = [o.view() for o in g.targets.values() if o is not t]
            if balancing.enters_slow_start(t.key, others, g.tg.attributes, now):
                t.slow_start_from = now
        elif new.state is not TargetState.HEALTHY:
            t.healthy_since = t.slow_start_from = None
        if new.state is not old or new.reason != old_reason:  # a reason code is part of what readers show
            self._notify(target_group_arn)

    def counts(self, target_group_arn: str) -> tuple[int, int]:
        """(healthy, unhealthy) host counts of a group."""
        h = u = 0
        for t in self._group(target_group_arn).targets.values():
            if t.health.state is TargetState.HEALTHY:
                h += 1
            elif t.health.state is TargetState.UNHEALTHY:
                u += 1
        return h, u

    # ---------------------------------------------------------------- for the proxy (hot path)
    def now(self) -> float:
        """The registry's clock (slow start and health timestamps use it)."""
        return self._clock()

    def pick(self, target_group_arn: str, now: float, sticky_key: str | None = None) -> Target | None:
        """The target for the next request of a group, or None (→ 503): :meth:`Group.pick`."""
        g = self._groups.get(target_group_arn)
        return None if g is None else g.pick(sticky_key, now)

    def begin(self, target_group_arn: str, t: Target, cut: Callable[[], None]) -> None:
        """A request is dispatched to ``t``; ``cut`` is called if the drain delay runs out first."""
        t.outstanding += 1
        t.requests += 1
        t.inflight.add(cut)
        g = self._groups.get(target_group_arn)
        if g is not None:
            g.requests += 1

    def end(self, t: Target, cut: Callable[[], None]) -> None:
        t.end(cut)

    def close(self) -> None:
        """Cancel drain timers (runtime shutdown)."""
        for g in self._groups.values():
            for t in g.targets.values():
                if t.drain_timer is not None:
                    t.drain_timer.cancel()
                    t.drain_timer = None
