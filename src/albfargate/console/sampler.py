"""Samples the load balancer for the console's charts and requests timeline (docs/console.md,
``/api/metrics``, ``/api/requests``): the I/O shell around ``console.metrics`` and ``console.timeline``.

Once per interval (1 s) it reads the counters the ALB keeps anyway (``alb.metrics.Metrics``, the
registry's per-target counts) and takes the exchanges collected since the last interval, then adds a
point to every series and the exchanges to the timeline, and publishes the ``metrics`` (and ``request``)
events.

Exchanges are collected by a tap on the proxy's exchange sink and capture hook
(:class:`albfargate.alb.tap.Tap`, installed only while a console stream is open): the first
:data:`RING_SIZE` exchanges of each interval with their heads (``headers_in`` / ``headers_out``) and body
start (replay), the rest only counted. With no stream open the original sink is put back and the capture
hook is None: the request path is what it was, plus one attribute test. With ``workers`` > 1 each worker
process runs the same tap while the console watches and sends its sample over the worker pipe every
``worker.METRICS_INTERVAL`` (0.5 s, :meth:`Sampler.from_workers`): those exchanges join the next interval
(at most :data:`REMOTE_SIZE` waiting, the oldest dropped first and counted), and the workers' per-target
counts are added to the registry's (``LoadBalancerRuntime.worker_target_requests``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from albfargate.alb.tap import RING_SIZE, Taken, Tap, exchange_of
from albfargate.console.hub import Hub
from albfargate.console.metrics import (
    INTERVAL_SECONDS,
    LbReading,
    MetricsHistory,
    Observed,
    Reading,
    TgReading,
)
from albfargate.console.timeline import (
    ListenerKey,
    Timeline,
    entry,
    host_port,
    listener_of,
    split_request_line,
)

log = logging.getLogger(__name__)

CHUNK = 128  # exchanges handled between two yields to the event loop (no long pause for the requests)
REQUEST_EVENTS_PER_TICK = 50  # `request` events one interval pushes at most (the newest)
REMOTE_SIZE = RING_SIZE  # exchanges from worker processes waiting for the next interval at most


class Sampler:
    def __init__(
        self,
        engine: Any,
        hub: Hub,
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.hub = hub
        self.interval = interval
        self.clock = clock
        self.history = MetricsHistory(interval=interval)
        self.timeline = Timeline()
        self.ring: deque[Taken] = deque(maxlen=RING_SIZE)
        self.tap: Tap | None = None
        # exchanges the worker processes sent (workers > 1), oldest dropped first when full
        self.remote: deque[Taken] = deque(maxlen=REMOTE_SIZE)
        self.remote_dropped = 0  # worker exchanges dropped here (the sampler fell behind), since start
        self.watching = False
        self._sampled_this_interval = False
        self._task: asyncio.Task[None] | None = None

    # ---- the tap -----------------------------------------------------------------------------------
    def set_watching(self, clients: int) -> None:
        """The hub's first stream opened (1) or its last one closed (0)."""
        self.watching = clients > 0
        if self.watching:
            self._sampled_this_interval = True
            self._install()
        else:
            self._remove()

    def _install(self) -> None:
        rt = self.engine.lb
        if rt is None or self.tap is not None:
            return
        self.tap = Tap(rt.ctx, self.ring)
        watch = getattr(rt, "watch_worker_exchanges", None)
        if watch is not None:
            watch(self.from_workers)

    def _remove(self) -> None:
        if self.tap is None:
            return
        self.tap.remove()
        self.tap = None
        rt = self.engine.lb
        watch = getattr(rt, "watch_worker_exchanges", None)
        if watch is not None:
            watch(None)

    def from_workers(self, records: list[tuple[Any, ...]]) -> None:
        """A batch from a worker process (``alb.worker.Sample``): exchanges as plain values with their
        heads and body start."""
        remote = self.remote
        for values, head_in, head_out, body in records:
            if len(remote) == remote.maxlen:
                self.remote_dropped += 1
            remote.append((exchange_of(values), head_in, head_out, body))

    def runtime_started(self, rt: Any) -> None:
        """The load balancers' runtime appeared (or was there when the console started): its counters now
        are the series' baseline, so the first interval counts what was served before its first tick."""
        self.history.baseline(self.reading(rt, self._listener_keys(rt)))
        if self.watching:
            self._install()

    # ---- the loop ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="console sampler")

    async def stop(self) -> None:
        self._remove()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += self.interval
            try:
                await self.tick()
            except Exception:
                log.exception("console: a metrics sample failed")

    def _listener_keys(self, rt: Any) -> list[ListenerKey]:
        names = {lb.arn: lb for lb in rt.load_balancers()}
        out = []
        for b in rt.bindings():
            lb = names.get(b.lb_arn)
            if lb is None:
                continue
            out.append(
                ListenerKey(
                    lb.full_name, lb.arn, lb.name, b.protocol.lower(), b.local_port, b.port, b.listener_arn
                )
            )
        return out

    def reading(self, rt: Any, keys: list[ListenerKey]) -> Reading:
        m = rt.metrics
        lbs = {
            arn: LbReading(
                c.requests,
                c.elb_3xx,
                c.elb_4xx,
                c.elb_5xx,
                c.target_2xx,
                c.target_3xx,
                c.target_4xx,
                c.target_5xx,
            )
            for arn, c in m.lbs.items()
        }
        tgs = {
            arn: TgReading(c.requests, c.target_2xx, c.target_3xx, c.target_4xx, c.target_5xx)
            for arn, c in m.tgs.items()
        }
        targets = {(g.tg.arn, t.key): t.requests for g in rt.targets.groups() for t in g.targets.values()}
        remote = getattr(rt, "worker_target_requests", None)  # workers > 1: what the workers served
        if remote is not None:
            for k, n in remote().items():
                if k in targets:
                    targets[k] += n
        labels: dict[str, str] = {k.lb_arn: k.lb_name for k in keys}
        labels.update({k.listener_arn: f"{k.lb_name} {k.scheme.upper()}:{k.port}" for k in keys})
        for g in rt.targets.groups():
            labels[g.tg.arn] = g.tg.name
            for t in g.targets.values():
                labels[f"{g.tg.arn}|{t.key}"] = t.key
        return Reading(lbs, tgs, targets, {k.listener_arn: k.lb_arn for k in keys}, labels)

    async def tick(self) -> None:
        """One interval: the exchanges taken since the last one (in chunks, yielding to the event loop
        between them, so requests in flight are not held up), then a point for every series."""
        rt = self.engine.lb
        if rt is None:
            return
        now = self.clock()
        keys = self._listener_keys(rt)
        if self.tap is not None:
            taken = self.tap.take()
        else:
            taken = list(self.ring)
            self.ring.clear()
        if self.remote:  # a worker's batch is up to worker.METRICS_INTERVAL old: in time order
            taken.extend(self.remote)
            self.remote.clear()
            taken.sort(key=lambda t: t[0].received_at)
        sampling = self._sampled_this_interval or self.watching
        self._sampled_this_interval = self.watching
        rule_arns: dict[tuple[str, int], str] = {}
        for k in keys:
            live = rt.listener_rules(k.listener_arn)
            if live is not None:
                rule_arns.update({(k.listener_arn, r.priority): r.arn for r in live[0]})
        by_lb: dict[tuple[str, str], list[ListenerKey]] = {}
        for k in keys:
            by_lb.setdefault((k.lb_full_name, k.scheme), []).append(k)
        observed: list[Observed] = []
        recorded = []
        add = self.timeline.add
        for start in range(0, len(taken), CHUNK):
            if start:
                await asyncio.sleep(0)
            for ex, head_in, head_out, body in taken[start : start + CHUNK]:
                candidates = by_lb.get((ex.lb_name, "https" if ex.kind in ("https", "wss") else "http"))
                if not candidates:
                    key = None
                elif len(candidates) == 1:
                    key = candidates[0]
                else:  # several listeners of one load balancer and scheme: the Host's port says which
                    key = listener_of(ex, host_port(split_request_line(ex.request_line)[1]), candidates)
                listener_arn = key.listener_arn if key is not None else None
                prio = ex.matched_rule_priority
                rule_arn = rule_arns.get((listener_arn, prio)) if listener_arn and prio else None
                recorded.append(add(ex, key, rule_arn, head_in=head_in, head_out=head_out, body=body))
                observed.append(
                    Observed(
                        key.lb_arn if key is not None else None,
                        listener_arn,
                        ex.target_group_arn,
                        ex.target,
                        ex.elb_status,
                        ex.target_status,
                        ex.target_processing,
                    )
                )
        points = self.history.step(now, self.reading(rt, keys), observed, sampling=sampling)
        if self.hub.streams:
            self.hub.publish("metrics", {"t": now, "points": points}, keep=False)
            for r in recorded[-REQUEST_EVENTS_PER_TICK:]:
                self.hub.publish("request", entry(r, with_headers=False), requests_only=True, keep=False)
