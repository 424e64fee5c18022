"""``LoadBalancerRuntime``: the running local ALB of a :class:`~albfargate.model.SystemModel` — binds
every HTTP/HTTPS listener of every application load balancer, owns the target registry, the health
checker, the access-log writer and the metrics, and applies API changes (rules, target groups,
attributes) so that the next request sees them.

Port rule (DESIGN conventions): template port P is served on P if P >= 1024 else P + 8000; a taken port
moves to the next free one; an override wins, and an override that is taken is an error. Everything
binds ``host`` (127.0.0.1).

Shutdown order (:meth:`stop`): stop accepting, close idle client connections, let in-flight requests
finish for ``STOP_GRACE`` seconds then cut them, stop the health checker and drain timers, close
upstream pools, flush the access logs."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from albfargate.alb import compiled, proxy
from albfargate.alb.accesslog_writer import AccessLogWriter
from albfargate.alb.checker import HealthChecker
from albfargate.alb.connection import ProxyContext
from albfargate.alb.dispatch import ListenerState, Routing
from albfargate.alb.exchange import Exchange, exchange_line
from albfargate.alb.metrics import Metrics, TgCounters
from albfargate.alb.rules import CompiledRules
from albfargate.alb.targets import LiveTargets
from albfargate.alb.upstream import CONNECT_TIMEOUT
from albfargate.alb.worker import ReplicaConfig
from albfargate.alb.workers import WorkerPool
from albfargate.errors import RuntimeStartError
from albfargate.model import (
    ForwardAction,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    LoadBalancerType,
    Rule,
    SystemModel,
    TargetGroup,
)
from albfargate.model.elbv2 import Action
from albfargate.model.targets import TargetId
from albfargate.net.http import Response
from albfargate.net.server import HttpServer, Limits, Request

PORT_SEARCH = 100  # how many ports after a taken one are tried

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListenerBinding:
    lb_arn: str
    lb_name: str
    listener_arn: str
    protocol: str  # HTTP | HTTPS
    port: int  # the template's port
    local_port: int
    url: str


@dataclass(slots=True)
class _Bound:
    state: ListenerState
    server: asyncio.AbstractServer
    binding: ListenerBinding
    rules: tuple[Rule, ...] = ()
    default_actions: tuple[Action, ...] = field(default_factory=tuple)


def tune_gc() -> None:
    """For a process that serves the load balancer (the supervisor, an LB worker, the benchmark), once
    what it loads at start is loaded: collect, then freeze what is left into the permanent generation
    (full collections stop walking the model, the CDK-free assembly data, the code) and run
    generation-0 collections every 10,000 allocations instead of 700 (every request allocates a few
    dozen objects that die young)."""
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, g1, g2)


GC_GEN0_THRESHOLD = 10_000


def local_port_for(template_port: int) -> int:
    return template_port if template_port >= 1024 else template_port + 8000


def _forward_groups(actions: Iterable[Action]) -> list[str]:
    return [t.target_group_arn for a in actions if isinstance(a, ForwardAction) for t in a.target_groups]


class LoadBalancerRuntime:
    def __init__(
        self,
        model: SystemModel,
        *,
        state_dir: Path,
        port_overrides: Mapping[int, int] | None = None,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.monotonic,
        connect_timeout: float = CONNECT_TIMEOUT,
        access_logs: bool = True,
        rng: random.Random | None = None,
        workers: int = 1,
        _replica: bool = False,
        _listener_ports: Mapping[str, int] | None = None,
    ) -> None:
        self.model = model
        self.state_dir = Path(state_dir)
        self.port_overrides = dict(port_overrides or {})
        self.host = host
        self.clock = clock
        self._rng = rng or random.Random()
        self.targets = LiveTargets(model.target_groups, clock=clock, rng=self._rng)
        self.metrics = Metrics(host_counts=self._host_counts)
        self._tg_counters: dict[str, TgCounters] = {}
        for tg in model.target_groups:
            self._tg_counters[tg.arn] = self.metrics.add_target_group(tg.arn, tg.full_name)
        self._local_ports: dict[tuple[str, int], int] = {}
        self._access_logs = access_logs
        self._writer: AccessLogWriter | None = None
        self.ctx = ProxyContext(
            routing=Routing(
                registry=self.targets,
                local_ports=self._local_ports,
                sticky_key=os.urandom(32),
                rng=self._rng,
            ),
            metrics=self.metrics,
            tg_counters=self._tg_counters,
            connect_timeout=connect_timeout,
        )
        self._bound: dict[str, _Bound] = {}
        self._lb_attrs: dict[str, LoadBalancerAttributes] = {
            lb.arn: lb.attributes for lb in model.load_balancers
        }
        self.checker = HealthChecker(self.targets)
        self.targets.subscribe(self._on_target_event)
        self._started = False
        self._metrics_server: HttpServer | None = None
        # workers > 1: this process plus workers-1 worker processes share the ports (alb/workers.py);
        # _replica: this runtime is such a worker (no health checks, targets from the main process)
        self.workers = max(1, workers)
        self._replica = _replica
        self._listener_ports = dict(_listener_ports or {})
        self._cut = False  # cut(): a forced shutdown ends the grace of stop()
        self._pool: WorkerPool | None = None
        self._lbs: dict[str, LoadBalancer] = {}  # load balancers added at run time
        self._changed: list[Callable[[str, str], None]] = []  # on_change subscribers

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        _log.debug("albfargate ALB: %s hot path", "compiled (mypyc)" if compiled() else "pure Python")
        servers: list[asyncio.AbstractServer] = []
        try:
            for lb in self.model.load_balancers:
                if lb.type is not LoadBalancerType.APPLICATION:
                    continue
                self.metrics.add_load_balancer(lb.arn, lb.full_name)
                for listener in self.model.listeners_of(lb.arn):
                    if listener.protocol.upper() not in ("HTTP", "HTTPS"):
                        continue
                    bound = await self._bind_listener(lb, listener, self.model.rules_of(listener.arn))
                    servers.append(bound.server)
        except RuntimeStartError:
            await self._close_servers(servers)
            raise
        except Exception as e:
            await self._close_servers(servers)
            raise RuntimeStartError(f"load balancer could not start: {e}") from e
        if self._access_logs:
            self._writer = AccessLogWriter(self.state_dir, _access_log_formatter())
            self._writer.start()
            writer = self._writer
            self.ctx.sink = writer.queue.add_exchange
        if self._replica:
            self._started = True
            return
        if self.workers > 1:
            config = ReplicaConfig(
                model=self.model,
                state_dir=self.state_dir,
                ports={},
                host=self.host,
                access_logs=self._access_logs,
                connect_timeout=self.ctx.connect_timeout,
            )
            pool = WorkerPool(
                self.workers - 1, config, start_replica, targets=self.targets, metrics=self.metrics
            )
            try:
                await pool.start({arn: b.binding.local_port for arn, b in self._bound.items()})
            except BaseException:
                await self._close_servers([b.server for b in self._bound.values()])
                self._bound.clear()
                if self._writer is not None:
                    await self._writer.close()
                raise
            self._pool = pool
        self._refresh_in_use()
        for tg in self.model.target_groups:
            for tid, static_port in tg.static_targets:
                tport = static_port if static_port is not None else tg.port
                if tport is not None:
                    self.targets.register(tg.arn, TargetId(tid, tport))
        self.checker.start()
        self._started = True

    async def _bind_listener(self, lb: LoadBalancer, listener: Listener, rules: Iterable[Rule]) -> _Bound:
        """Bind one HTTP/HTTPS listener of ``lb`` (the port rule above) and record it in ``_bound``."""
        proto = listener.protocol.upper()
        counters = self.metrics.add_load_balancer(lb.arn, lb.full_name)
        rules = tuple(rules)
        state = ListenerState(
            listener=listener,
            lb=lb,
            counters=counters,
            scheme=proto.lower(),
            local_port=0,
            rules=CompiledRules(rules, listener.default_actions),
            attributes=self._lb_attrs.get(lb.arn, lb.attributes),
        )
        ssl_ctx = None
        if proto == "HTTPS":
            from albfargate.alb import tls

            ssl_ctx = tls.server_context(self.state_dir, f"{lb.name}-{listener.port}", [lb.dns_name])
        server, port = await self._bind(state, listener, ssl_ctx, lb.arn)
        state.local_port = port
        self._local_ports[(proto, listener.port)] = port
        binding = ListenerBinding(
            lb_arn=lb.arn,
            lb_name=lb.name,
            listener_arn=listener.arn,
            protocol=proto,
            port=listener.port,
            local_port=port,
            url=f"{proto.lower()}://{self._url_host()}:{port}/",
        )
        bound = _Bound(state, server, binding, rules, listener.default_actions)
        self._bound[listener.arn] = bound
        return bound

    # ------------------------------------------------------------------ listeners added/removed at run time
    def _refuse_with_workers(self, what: str) -> None:
        if self.workers > 1 or self._replica:
            raise RuntimeError(
                f"{what} is not supported with --workers {self.workers}: the worker processes bind "
                "their listeners at start; run with one worker to add or remove listeners"
            )

    async def add_load_balancer(self, lb: LoadBalancer) -> None:
        """Know ``lb`` (metrics, attributes); its listeners come with :meth:`add_listener`."""
        self._refuse_with_workers("Adding a load balancer")
        if lb.type is not LoadBalancerType.APPLICATION:
            raise ValueError(f"load balancer {lb.name}: only application load balancers run locally")
        self._lb_attrs[lb.arn] = lb.attributes
        self._lbs[lb.arn] = lb
        self.metrics.add_load_balancer(lb.arn, lb.full_name)
        self._notify("load_balancer", lb.arn)

    async def add_listener(self, listener: Listener, rules: Iterable[Rule] = ()) -> ListenerBinding:
        """Bind ``listener`` now (same port rule as :meth:`start`); target groups it forwards to become
        in use and the checker probes them. Raises RuntimeStartError when no port is free."""
        self._refuse_with_workers("Adding a listener")
        if not self._started or self.ctx.stopping:
            raise RuntimeError("the load balancer is not running (start() first; stop() has begun)")
        proto = listener.protocol.upper()
        if proto not in ("HTTP", "HTTPS"):
            raise ValueError(f"listener {listener.arn}: protocol {listener.protocol} is not served locally")
        if listener.arn in self._bound:
            await self.remove_listener(listener.arn)
        lb = self._lbs.get(listener.load_balancer_arn) or self.model.load_balancer(listener.load_balancer_arn)
        if lb is None:
            raise KeyError(f"load balancer {listener.load_balancer_arn} is not known")
        bound = await self._bind_listener(lb, listener, rules)
        self._refresh_in_use()
        self._notify("listener", listener.arn)
        return bound.binding

    async def remove_listener(self, listener_arn: str, grace: float = proxy.STOP_GRACE) -> None:
        """Stop accepting on the listener at once; idle connections close, in-flight requests get
        ``grace`` seconds (as in :meth:`stop`); target groups no longer used become unused."""
        self._refuse_with_workers("Removing a listener")
        b = self._bound.pop(listener_arn, None)
        if b is None:
            return
        b.server.close()
        key = (b.binding.protocol, b.binding.port)
        if self._local_ports.get(key) == b.binding.local_port and not any(
            (x.binding.protocol, x.binding.port) == key for x in self._bound.values()
        ):
            del self._local_ports[key]
        self._refresh_in_use()
        self._notify("listener", listener_arn)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while b.state.connections and loop.time() < deadline:
            for c in list(b.state.connections):
                c.shutdown()
            await asyncio.sleep(0.02)
        for c in list(b.state.connections):
            c.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(b.server.wait_closed(), 1.0)

    async def remove_load_balancer(self, lb_arn: str, grace: float = proxy.STOP_GRACE) -> None:
        """Remove every listener of the load balancer (:meth:`remove_listener`) and forget it."""
        self._refuse_with_workers("Removing a load balancer")
        arns = [arn for arn, b in self._bound.items() if b.binding.lb_arn == lb_arn]
        await asyncio.gather(*(self.remove_listener(a, grace) for a in arns))
        self._lbs.pop(lb_arn, None)
        self._notify("load_balancer", lb_arn)

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    async def _bind(
        self, state: ListenerState, listener: Listener, ssl_ctx: Any, lb_arn: str = ""
    ) -> tuple[asyncio.AbstractServer, int]:
        shared = self.workers > 1 or self._replica  # SO_REUSEPORT: the port is shared with workers
        override = self._listener_ports.get(listener.arn)
        if override is None:
            override = self.port_overrides.get(listener.port)
        if override is not None:
            try:
                if shared and not self._replica and override != 0:
                    _probe_free(self.host, override)
                server = await proxy.start_listener(
                    self.ctx, state, self.host, override, ssl_ctx, reuse_port=shared
                )
                # override 0: an ephemeral port (tests); report the real one
                return server, int(server.sockets[0].getsockname()[1])
            except OSError as e:
                raise RuntimeStartError(
                    f"listener port {listener.port}: override port {override} on {self.host} "
                    f"is not available ({e.strerror or e})"
                ) from e
        port = local_port_for(listener.port)
        taken = {b.binding.local_port for b in self._bound.values()}
        last: OSError | None = None
        for candidate in range(port, min(65536, port + PORT_SEARCH)):
            if candidate in taken:
                continue
            try:
                if shared:
                    _probe_free(self.host, candidate)  # reuse_port alone would share a taken port
                server = await proxy.start_listener(
                    self.ctx, state, self.host, candidate, ssl_ctx, reuse_port=shared
                )
                return server, candidate
            except OSError as e:
                last = e
                if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                    break
        raise RuntimeStartError(
            f"listener port {listener.port}: no free local port from {port} on {self.host} ({last})"
        )

    @staticmethod
    async def _close_servers(servers: list[asyncio.AbstractServer]) -> None:
        for s in servers:
            s.close()
        for s in servers:
            with contextlib.suppress(Exception):
                await s.wait_closed()

    def cut(self) -> None:
        """End the grace of a :meth:`stop` that is running: in-flight requests are cut now (a forced
        shutdown)."""
        self._cut = True

    async def stop(self, grace: float = proxy.STOP_GRACE) -> None:
        """Stop accepting, close idle connections, let in-flight requests finish (``grace``), cut
        the rest, stop health checks and drain timers, close pools, flush access logs."""
        self.ctx.stopping = True
        for b in self._bound.values():
            b.server.close()
        conns = [c for b in self._bound.values() for c in list(b.state.connections)]
        for c in conns:
            c.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (
            loop.time() < deadline
            and not self._cut
            and any(b.state.connections for b in self._bound.values())
        ):
            for c in [c for b in self._bound.values() for c in list(b.state.connections)]:
                c.shutdown()
            await asyncio.sleep(0.02)
        if self._pool is not None:
            await self._pool.stop(0.0 if self._cut else max(0.0, deadline - loop.time()))
            self._pool = None
        for b in self._bound.values():
            for c in list(b.state.connections):
                c.abort()
        for b in self._bound.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(b.server.wait_closed(), 1.0)
        if self._metrics_server is not None:
            await self._metrics_server.stop()
            self._metrics_server = None
        await self.checker.stop()
        self.targets.close()
        self.ctx.pools.close()
        if self._writer is not None:
            await self._writer.close()
        self._started = False

    # ------------------------------------------------------------------ metrics endpoint
    async def serve_metrics(self, port: int = 0) -> str:
        """Serve ``GET /metrics`` (Prometheus text) and ``GET /metrics.json`` (CloudWatch-named
        snapshot) on ``host:port`` (0 = any free port) until :meth:`stop`; returns the URL."""
        import json

        async def respond(request: Request) -> Response:
            path = request.head.path
            if request.method != "GET":
                status, ctype, body = 405, "text/plain", b"GET only\n"
            elif path == "/metrics":
                status, ctype = 200, "text/plain; version=0.0.4; charset=utf-8"
                body = self.metrics.prometheus_text().encode()
            elif path == "/metrics.json":
                status, ctype = 200, "application/json"
                body = json.dumps(self.metrics.snapshot(), indent=1).encode()
            else:
                status, ctype, body = 404, "text/plain", b"see /metrics\n"
            return Response(status, (("Content-Type", ctype),), body)

        # one request per connection (the control endpoints' server: albfargate.net); a malformed one is
        # closed unanswered
        limits = Limits(max_head=64 * 1024, max_body=64 * 1024, idle_timeout=10.0, keep_alive=False)
        server = HttpServer(respond, limits)
        real = await server.start(self.host, port)
        self._metrics_server = server
        return f"http://{self._url_host()}:{real}/metrics"

    # ------------------------------------------------------------------ change notifications
    def on_change(self, callback: Callable[[str, str], None]) -> Callable[[], None]:
        """``callback(kind, arn)`` after a configuration change made at run time (the API, CloudFormation):
        ``rules`` (a listener's rules or default actions; arn = the listener), ``listener`` (bound or
        removed), ``target_group`` (added or changed), ``load_balancer`` (added or removed). Target
        membership and health are :meth:`LiveTargets.on_change`'s. Returns the unsubscribe function."""
        self._changed.append(callback)

        def unsubscribe() -> None:
            if callback in self._changed:
                self._changed.remove(callback)

        return unsubscribe

    def _notify(self, kind: str, arn: str) -> None:
        for cb in list(self._changed):
            try:
                cb(kind, arn)
            except Exception:  # a reader's failure is never the change's
                _log.exception("a configuration-change subscriber failed")

    # ------------------------------------------------------------------ reading
    def load_balancers(self) -> list[LoadBalancer]:
        """Every application load balancer served: the model's and those added at run time."""
        out = [lb for lb in self.model.load_balancers if lb.type is LoadBalancerType.APPLICATION]
        known = {lb.arn for lb in out}
        out.extend(lb for arn, lb in self._lbs.items() if arn not in known)
        return out

    def listener_rules(self, listener_arn: str) -> tuple[tuple[Rule, ...], tuple[Action, ...]] | None:
        """A bound listener's live rules and default actions (what its requests are evaluated against)."""
        b = self._bound.get(listener_arn)
        return None if b is None else (b.rules, b.default_actions)

    def listener(self, listener_arn: str) -> Listener | None:
        b = self._bound.get(listener_arn)
        return None if b is None else b.state.listener

    def bindings(self) -> list[ListenerBinding]:
        return [b.binding for b in self._bound.values()]

    def listener_urls(self) -> list[str]:
        return [b.binding.url for b in self._bound.values()]

    def flush_access_logs(self) -> None:
        """Write queued access-log lines now (otherwise written every 20 ms: ``FLUSH_INTERVAL``)."""
        if self._writer is not None:
            self._writer.flush()

    def access_log_path(self, lb_arn: str) -> Path | None:
        lb = self.model.load_balancer(lb_arn)
        if lb is None or self._writer is None:
            return None
        return self._writer.path_for(lb.full_name)

    def _host_counts(self, tg_arn: str) -> tuple[int, int]:
        try:
            return self.targets.counts(tg_arn)
        except KeyError:
            return (0, 0)

    # ------------------------------------------------------------------ changes from the API
    def set_rules(self, listener_arn: str, rules: Iterable[Rule]) -> None:
        b = self._bound.get(listener_arn)
        if b is None:
            return
        b.rules = tuple(rules)
        b.state.set_rules(b.rules, b.default_actions)
        self._refresh_in_use()
        self._broadcast(("rules", listener_arn, b.rules, b.default_actions))
        self._notify("rules", listener_arn)

    def set_default_actions(self, listener_arn: str, actions: Iterable[Action]) -> None:
        b = self._bound.get(listener_arn)
        if b is None:
            return
        b.default_actions = tuple(actions)
        b.state.set_rules(b.rules, b.default_actions)
        self._refresh_in_use()
        self._broadcast(("rules", listener_arn, b.rules, b.default_actions))
        self._notify("rules", listener_arn)

    def update_rules(
        self, listener_arn: str, rules: Iterable[Rule], default_actions: Iterable[Action]
    ) -> None:
        b = self._bound.get(listener_arn)
        if b is None:
            return
        b.rules, b.default_actions = tuple(rules), tuple(default_actions)
        b.state.set_rules(b.rules, b.default_actions)
        self._refresh_in_use()
        self._broadcast(("rules", listener_arn, b.rules, b.default_actions))
        self._notify("rules", listener_arn)

    def update_target_group(self, tg: TargetGroup) -> None:
        self.targets.update_target_group(tg)
        if tg.arn not in self._tg_counters:
            self._tg_counters[tg.arn] = self.metrics.add_target_group(tg.arn, tg.full_name)
        self._refresh_in_use()
        self._broadcast(("tg", tg))
        self._notify("target_group", tg.arn)

    def update_load_balancer_attributes(self, lb_arn: str, attrs: LoadBalancerAttributes) -> None:
        self._lb_attrs[lb_arn] = attrs
        for b in self._bound.values():
            if b.state.lb.arn == lb_arn:
                b.state.attributes = attrs
        self._broadcast(("attrs", lb_arn, attrs))

    def _broadcast(self, msg: tuple[Any, ...]) -> None:
        if self._pool is not None:
            self._pool.broadcast(msg)

    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes (empty with one process)."""
        return [] if self._pool is None else list(self._pool.pids())

    def watch_worker_exchanges(self, callback: Callable[[list[tuple[Any, ...]]], None] | None) -> None:
        """``workers`` > 1: have the worker processes sample their exchanges for the web console and send
        them to ``callback`` in batches (``alb.worker.Sample``); None stops it. One process: a no-op (the
        console taps this process's proxy context itself)."""
        if self._pool is not None:
            self._pool.watch_exchanges(callback)

    def worker_target_requests(self) -> dict[tuple[str, str], int]:
        """(target group arn, target key) -> the requests the worker processes served (empty with one)."""
        return {} if self._pool is None else self._pool.target_requests

    def _refresh_in_use(self) -> None:
        if self._replica:
            return  # a replica's health comes from the main process
        used: set[str] = set()
        for b in self._bound.values():
            used.update(_forward_groups(b.default_actions))
            for r in b.rules:
                used.update(_forward_groups(r.actions))
        self.targets.set_in_use(used)

    def _on_target_event(self, arn: str, t: Any, event: str) -> None:
        if event == "leave":
            self.ctx.pools.drop_target(t)


def _probe_free(host: str, port: int) -> None:
    """OSError(EADDRINUSE) when ``port`` is bound by anyone (checked without SO_REUSEPORT)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


def _access_log_formatter() -> Callable[[Exchange], str]:
    """Exchange -> one access-log line: :func:`exchange_line`."""
    return exchange_line


async def start_replica(config: ReplicaConfig) -> LoadBalancerRuntime:
    """The runtime factory of a worker process (``workers=N``, :mod:`albfargate.alb.worker`): a replica
    that serves the main process's listeners on the same ports (``SO_REUSEPORT``), takes its target
    state from the main process and checks no health; started, with its start-up heap frozen."""
    rt = LoadBalancerRuntime(
        config.model,
        state_dir=config.state_dir,
        host=config.host,
        connect_timeout=config.connect_timeout,
        access_logs=config.access_logs,
        _replica=True,
        _listener_ports=config.ports,
    )
    await rt.start()
    tune_gc()
    return rt
