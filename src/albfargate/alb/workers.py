"""Multi-process mode of the local ALB, the main process's side: worker processes that share the
listeners' ports (SO_REUSEPORT) and a replica of the target state, for machines with more cores.

The main process stays the authority: it owns the target registry the ECS side drives, the health
checker, the deregistration delays and the API changes. Every change of a target group is sent to the
workers as a full snapshot of that group (:meth:`LiveTargets.snapshot` / ``apply_snapshot``); rule,
target-group and attribute changes are forwarded as they are. Workers send their metric counters back
as deltas every ``worker.METRICS_INTERVAL`` seconds, so ``RequestCount`` / ``RequestCountPerTarget`` seen
by the autoscaler cover every process. Each process appends its own access-log lines to the same file.

Messages are pickled tuples over one ``multiprocessing`` pipe per worker. What a worker process runs is
:mod:`albfargate.alb.worker` (its entry point), which builds its replica with the factory given here: this
module and that one never import the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from albfargate.alb.metrics import Metrics
from albfargate.alb.targets import LiveTargets
from albfargate.alb.worker import ReplicaConfig, ReplicaFactory, worker_main
from albfargate.errors import RuntimeStartError

READY_TIMEOUT = 30.0


class WorkerPool:
    """The main process's side: starts the workers, keeps them in step, collects their metrics.

    ``config`` is what every worker gets (its ``ports`` are filled in by :meth:`start`); ``factory`` makes
    a worker's replica runtime in the worker process; ``targets`` and ``metrics`` are the main process's
    (the authority the workers follow, and where their metric deltas are added)."""

    def __init__(
        self,
        count: int,
        config: ReplicaConfig,
        factory: ReplicaFactory,
        *,
        targets: LiveTargets,
        metrics: Metrics,
    ) -> None:
        self.count = count
        self.config = config
        self.factory = factory
        self.targets = targets
        self.metrics = metrics
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._conns: list[Connection] = []
        self._dirty: set[str] = set()
        self._flush_scheduled = False
        # the web console's sample of the workers' exchanges (alb/tap.py): who gets the batches
        self.on_exchanges: Callable[[list[tuple[Any, ...]]], None] | None = None
        # (target group arn, target key) -> requests the workers served (RequestCountPerTarget's deltas)
        self.target_requests: dict[tuple[str, str], int] = {}

    async def start(self, ports: dict[str, int]) -> None:
        """``ports``: listener arn -> the local port the workers share with this process."""
        ctx = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        config = replace(self.config, ports=dict(ports))
        for i in range(self.count):
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=worker_main,
                args=(self.factory, config, child, i),
                name=f"albfargate-alb-worker-{i}",
                daemon=True,
            )
            p.start()
            child.close()
            self._procs.append(p)
            self._conns.append(parent)
        try:
            for conn in self._conns:
                ok = await loop.run_in_executor(None, conn.poll, READY_TIMEOUT)
                msg = conn.recv() if ok else None
                if not (isinstance(msg, tuple) and msg[0] == "ready"):
                    detail = msg[1] if isinstance(msg, tuple) and msg[0] == "error" else "no answer"
                    raise RuntimeStartError(f"load balancer worker could not start: {detail}")
        except BaseException:
            await self.stop(0.1)
            raise
        for conn in self._conns:
            loop.add_reader(conn.fileno(), self._on_message, conn)
        self.targets.on_change(self._changed)
        for tg in config.model.target_groups:
            self._changed(tg.arn)

    # ------------------------------------------------------------------ main -> workers
    def _changed(self, tg_arn: str) -> None:
        self._dirty.add(tg_arn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, set()
        for arn in dirty:
            with contextlib.suppress(KeyError):
                self.broadcast(("targets", arn, self.targets.snapshot(arn)))

    def broadcast(self, msg: tuple[Any, ...]) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send(msg)

    # ------------------------------------------------------------------ workers -> main
    def _on_message(self, conn: Connection) -> None:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(conn.fileno())
            return
        if msg[0] == "metrics":
            self._add_metrics(msg[1], msg[2])
        elif msg[0] == "exchanges" and self.on_exchanges is not None:
            self.on_exchanges(msg[1])

    def watch_exchanges(self, callback: Callable[[list[tuple[Any, ...]]], None] | None) -> None:
        """Ask the workers for a sample of their exchanges (``callback(records)`` per batch:
        :class:`albfargate.alb.worker.Sample`), or (None) to stop taking one."""
        self.on_exchanges = callback
        self.broadcast(("capture", callback is not None))

    def _add_metrics(self, lbs: dict[str, dict[str, int]], tgs: dict[str, dict[str, Any]]) -> None:
        m = self.metrics
        for arn, delta in lbs.items():
            c = m.lbs.get(arn)
            if c is not None:
                for k, v in delta.items():
                    setattr(c, k, getattr(c, k) + v)
        for arn, tg_delta in tgs.items():
            tc = m.tgs.get(arn)
            if tc is None:
                continue
            for name, value in tg_delta.items():
                if name == "per_target":
                    tr = self.target_requests
                    for key, n in value.items():
                        tc.per_target[key] = tc.per_target.get(key, 0) + n
                        tr[(arn, key)] = tr.get((arn, key), 0) + n
                else:
                    setattr(tc, name, getattr(tc, name) + value)
            self.targets.add_requests(arn, int(tg_delta.get("requests", 0)))

    async def stop(self, grace: float) -> None:
        loop = asyncio.get_running_loop()
        for conn in self._conns:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
        self.broadcast(("stop", grace))
        for p in self._procs:
            await loop.run_in_executor(None, p.join, grace + 3.0)
            if p.is_alive():
                p.kill()
                await loop.run_in_executor(None, p.join, 2.0)
        for conn in self._conns:
            conn.close()
        self._procs.clear()
        self._conns.clear()

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]
