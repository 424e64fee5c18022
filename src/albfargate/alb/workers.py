"""Multi-process mode of the local ALB: worker processes that share the listeners' ports
(SO_REUSEPORT) and a replica of the target state, for machines with more cores.

The main process stays the authority: it owns the target registry the ECS side drives, the health
checker, the deregistration delays and the API changes. Every change of a target group is sent to the
workers as a full snapshot of that group (:meth:`LiveTargets.snapshot` / ``apply_snapshot``); rule,
target-group and attribute changes are forwarded as they are. Workers send their metric counters back
as deltas every ``METRICS_INTERVAL`` seconds, so ``RequestCount`` / ``RequestCountPerTarget`` seen by the
autoscaler cover every process. Each process appends its own access-log lines to the same file.

Messages are pickled tuples over one ``multiprocessing`` pipe per worker. A worker stops when told to,
or when its pipe closes (the main process is gone): no orphan survives its parent."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Mapping
from dataclasses import fields
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from albfargate.alb.metrics import LbCounters, TgCounters
from albfargate.errors import RuntimeStartError
from albfargate.model import SystemModel

if TYPE_CHECKING:
    from albfargate.alb.runtime import LoadBalancerRuntime

METRICS_INTERVAL = 0.5
READY_TIMEOUT = 30.0

_LB_FIELDS = [f.name for f in fields(LbCounters) if f.name not in ("name", "active_connections")]
_TG_FIELDS = [f.name for f in fields(TgCounters) if f.name not in ("name", "lb_name", "per_target")]


class WorkerPool:
    """The main process's side: starts the workers, keeps them in step, collects their metrics."""

    def __init__(self, rt: LoadBalancerRuntime, count: int) -> None:
        self.rt = rt
        self.count = count
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self._conns: list[Connection] = []
        self._dirty: set[str] = set()
        self._flush_scheduled = False

    async def start(self, ports: Mapping[str, int]) -> None:
        """``ports``: listener arn -> the local port the workers share with this process."""
        ctx = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        rt = self.rt
        for i in range(self.count):
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=worker_main,
                args=(
                    rt.model,
                    str(rt.state_dir),
                    dict(ports),
                    rt.host,
                    rt._access_logs,
                    rt.ctx.connect_timeout,
                    child,
                    i,
                ),
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
        rt.targets.on_change(self._changed)
        for tg in rt.model.target_groups:
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
                self.broadcast(("targets", arn, self.rt.targets.snapshot(arn)))

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

    def _add_metrics(self, lbs: dict[str, dict[str, int]], tgs: dict[str, dict[str, Any]]) -> None:
        m = self.rt.metrics
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
                    for key, n in value.items():
                        tc.per_target[key] = tc.per_target.get(key, 0) + n
                else:
                    setattr(tc, name, getattr(tc, name) + value)
            g = self.rt.targets._groups.get(arn)
            if g is not None:
                g.requests += int(tg_delta.get("requests", 0))

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


# ---------------------------------------------------------------------------------- worker process
def worker_main(
    model: SystemModel,
    state_dir: str,
    ports: dict[str, int],
    host: str,
    access_logs: bool,
    connect_timeout: float,
    conn: Connection,
    index: int,
) -> None:
    """Entry point of one worker process."""
    try:
        import uvloop

        uvloop.run(_worker(model, Path(state_dir), ports, host, access_logs, connect_timeout, conn))
    except ImportError:
        asyncio.run(_worker(model, Path(state_dir), ports, host, access_logs, connect_timeout, conn))


async def _worker(
    model: SystemModel,
    state_dir: Path,
    ports: dict[str, int],
    host: str,
    access_logs: bool,
    connect_timeout: float,
    conn: Connection,
) -> None:
    from albfargate.alb.runtime import LoadBalancerRuntime, tune_gc

    rt = LoadBalancerRuntime(
        model,
        state_dir=state_dir,
        host=host,
        connect_timeout=connect_timeout,
        access_logs=access_logs,
        _replica=True,
        _listener_ports=ports,
    )
    try:
        await rt.start()
    except Exception as e:
        conn.send(("error", f"{e} (pid {os.getpid()})"))
        return
    tune_gc()
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
        elif kind == "stop":
            grace[0] = float(msg[1])
            loop.remove_reader(conn.fileno())
            stop.set()

    loop.add_reader(conn.fileno(), on_message)
    conn.send(("ready", os.getpid()))
    sent_lb: dict[str, dict[str, int]] = {}
    sent_tg: dict[str, dict[str, Any]] = {}

    def send_metrics() -> None:
        lbs: dict[str, dict[str, int]] = {}
        for arn, c in rt.metrics.lbs.items():
            prev = sent_lb.setdefault(arn, dict.fromkeys(_LB_FIELDS, 0))
            d = {k: getattr(c, k) - prev[k] for k in _LB_FIELDS if getattr(c, k) != prev[k]}
            if d:
                lbs[arn] = d
                for k in d:
                    prev[k] = getattr(c, k)
        tgs: dict[str, dict[str, Any]] = {}
        for arn, tc in rt.metrics.tgs.items():
            prev_tg = sent_tg.setdefault(arn, {**dict.fromkeys(_TG_FIELDS, 0), "per_target": {}})
            d2: dict[str, Any] = {
                k: getattr(tc, k) - prev_tg[k] for k in _TG_FIELDS if getattr(tc, k) != prev_tg[k]
            }
            pt = {k: v - prev_tg["per_target"].get(k, 0) for k, v in tc.per_target.items()}
            pt = {k: v for k, v in pt.items() if v}
            if pt:
                d2["per_target"] = pt
            if d2:
                tgs[arn] = d2
                for k in _TG_FIELDS:
                    prev_tg[k] = getattr(tc, k)
                prev_tg["per_target"] = dict(tc.per_target)
        if lbs or tgs:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("metrics", lbs, tgs))

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
