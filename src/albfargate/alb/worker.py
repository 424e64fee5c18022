"""The entry point of one worker process of the local ALB (multi-process mode, :mod:`albfargate.alb.workers`):
starts a replica runtime through the factory the main process handed over, applies what the main process
sends (target snapshots, rule, target-group and attribute changes) and sends its metric counters back as
deltas every ``METRICS_INTERVAL`` seconds, until it is told to stop or its pipe closes (the main process
is gone: no orphan survives its parent).

The replica is made by a factory (``runtime.start_replica``, passed in by the main process, picklable as
a module-level function), so this module never imports the runtime: the runtime imports the pool
(:mod:`~albfargate.alb.workers`), the pool starts this entry point, and nothing imports back."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from albfargate.alb.metrics import LbCounters, Metrics, TgCounters
from albfargate.alb.tap import RING_SIZE, Taken, Tap, exchange_values
from albfargate.alb.targets import LiveTargets
from albfargate.model import LoadBalancerAttributes, SystemModel, TargetGroup

METRICS_INTERVAL = 0.5

LB_FIELDS = [f.name for f in fields(LbCounters) if f.name not in ("name", "active_connections")]
TG_FIELDS = [f.name for f in fields(TgCounters) if f.name not in ("name", "lb_name", "per_target")]


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """What a worker process needs to serve the listeners of the main process (pickled to it)."""

    model: SystemModel
    state_dir: Path
    ports: dict[str, int]  # listener arn -> the local port shared with the main process
    host: str
    access_logs: bool
    connect_timeout: float


class Replica(Protocol):
    """What the worker drives of the runtime the factory made (a ``LoadBalancerRuntime`` replica)."""

    @property
    def targets(self) -> LiveTargets: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def ctx(self) -> Any: ...
    def update_rules(self, listener_arn: str, rules: Any, default_actions: Any) -> None: ...
    def update_target_group(self, tg: TargetGroup) -> None: ...
    def update_load_balancer_attributes(self, lb_arn: str, attrs: LoadBalancerAttributes) -> None: ...
    async def stop(self, grace: float = ...) -> None: ...


ReplicaFactory = Callable[[ReplicaConfig], Awaitable[Replica]]


def worker_main(factory: ReplicaFactory, config: ReplicaConfig, conn: Connection, index: int) -> None:
    """Entry point of one worker process (the target of ``multiprocessing``'s spawn)."""
    try:
        import uvloop

        uvloop.run(_worker(factory, config, conn))
    except ImportError:
        asyncio.run(_worker(factory, config, conn))


async def _worker(factory: ReplicaFactory, config: ReplicaConfig, conn: Connection) -> None:
    try:
        rt = await factory(config)
    except Exception as e:
        conn.send(("error", f"{e} (pid {os.getpid()})"))
        return
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    grace = [1.0]

    def on_message() -> None:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            stop.set()  # the main process is gone
            return
        kind = msg[0]
        if kind == "targets":
            with contextlib.suppress(KeyError):
                rt.targets.apply_snapshot(msg[1], msg[2])
        elif kind == "rules":
            rt.update_rules(msg[1], msg[2], msg[3])
        elif kind == "tg":
            rt.update_target_group(msg[1])
        elif kind == "attrs":
            rt.update_load_balancer_attributes(msg[1], msg[2])
        elif kind == "capture":
            sample.watch(bool(msg[1]))
        elif kind == "stop":
            grace[0] = float(msg[1])
            loop.remove_reader(conn.fileno())
            stop.set()

    sample = Sample(rt.ctx)
    loop.add_reader(conn.fileno(), on_message)
    conn.send(("ready", os.getpid()))
    deltas = MetricDeltas(rt.metrics)

    def send_metrics() -> None:
        lbs, tgs = deltas.take()
        if lbs or tgs:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("metrics", lbs, tgs))
        batch = sample.take()
        if batch is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("exchanges", batch))

    async def metrics_loop() -> None:
        while True:
            await asyncio.sleep(METRICS_INTERVAL)
            send_metrics()

    task = loop.create_task(metrics_loop())
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await rt.stop(grace=grace[0])
    send_metrics()
    sample.watch(False)


class Sample:
    """The worker's side of the console's sample (:mod:`albfargate.alb.tap`): a tap on the replica's proxy
    context while the main process asks for one (``("capture", True)``, sent while a console stream is
    open); :meth:`take` is the batch sent with the metrics, every ``METRICS_INTERVAL``: the first
    :data:`BATCH` exchanges of the interval as plain values, with heads and body start (the rest are not
    seen: the tap steps aside once its sample is full)."""

    BATCH = RING_SIZE // 2  # per METRICS_INTERVAL (0.5 s): the main process's 512 a second

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.ring: deque[Taken] = deque(maxlen=self.BATCH)
        self.tap: Tap | None = None

    def watch(self, on: bool) -> None:
        if on and self.tap is None:
            self.tap = Tap(self.ctx, self.ring)
        elif not on and self.tap is not None:
            self.tap.remove()
            self.tap = None
            self.ring.clear()

    def take(self) -> list[tuple[Any, ...]] | None:
        if self.tap is None:
            return None
        taken = self.tap.take()
        if not taken:
            return None
        return [(exchange_values(ex), hin, hout, body) for ex, hin, hout, body in taken]


class MetricDeltas:
    """The counters of a worker's metrics that changed since the last :meth:`take`, as plain dicts."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._sent_lb: dict[str, dict[str, int]] = {}
        self._sent_tg: dict[str, dict[str, Any]] = {}

    def take(self) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
        lbs: dict[str, dict[str, int]] = {}
        for arn, c in self.metrics.lbs.items():
            prev = self._sent_lb.setdefault(arn, dict.fromkeys(LB_FIELDS, 0))
            d = {k: getattr(c, k) - prev[k] for k in LB_FIELDS if getattr(c, k) != prev[k]}
            if d:
                lbs[arn] = d
                for k in d:
                    prev[k] = getattr(c, k)
        tgs: dict[str, dict[str, Any]] = {}
        for arn, tc in self.metrics.tgs.items():
            prev_tg = self._sent_tg.setdefault(arn, {**dict.fromkeys(TG_FIELDS, 0), "per_target": {}})
            d2: dict[str, Any] = {
                k: getattr(tc, k) - prev_tg[k] for k in TG_FIELDS if getattr(tc, k) != prev_tg[k]
            }
            pt = {k: v - prev_tg["per_target"].get(k, 0) for k, v in tc.per_target.items()}
            pt = {k: v for k, v in pt.items() if v}
            if pt:
                d2["per_target"] = pt
            if d2:
                tgs[arn] = d2
                for k in TG_FIELDS:
                    prev_tg[k] = getattr(tc, k)
                prev_tg["per_target"] = dict(tc.per_target)
        return lbs, tgs
