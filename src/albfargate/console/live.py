"""Pushes the control plane's changes to the console's event streams (docs/console.md, the ``service``,
``task``, ``targets``, ``rules`` and ``resync`` events).

It subscribes to the change notifications the system already has — the ECS store
(:meth:`Store.subscribe <albfargate.state.store.Store.subscribe>`), the target registry
(:meth:`LiveTargets.on_change <albfargate.alb.targets.LiveTargets.on_change>`) and the load balancers'
configuration (:meth:`LoadBalancerRuntime.on_change <albfargate.alb.runtime.LoadBalancerRuntime.on_change>`,
reached through :meth:`Engine.on_load_balancers <albfargate.engine.Engine.on_load_balancers>`) — and
never polls. Notifications are coalesced per object within one event-loop turn: a burst of changes to a
task is one ``task`` event carrying its state after the burst."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from albfargate.console.hub import Hub
from albfargate.console.topology import Reader

if TYPE_CHECKING:
    from albfargate.engine import Engine

log = logging.getLogger(__name__)


class Live:
    def __init__(self, engine: Engine, hub: Hub, reader: Reader) -> None:
        self.engine = engine
        self.hub = hub
        self.reader = reader
        self.pending: dict[tuple[str, str], None] = {}
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._services: set[str] = set()
        self._ready = False  # start() has run: a runtime attached later is a change of structure
        self.on_runtime: list[Callable[[Any], None]] = []  # told when the load balancers' runtime appears

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._services = set(self.engine.store.services)
        self._unsubscribe.append(self.engine.store.subscribe(self._on_store))
        self.engine.on_load_balancers(self._attach)
        self._ready = True

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self.pending.clear()

    def _attach(self, rt: Any) -> None:
        self._unsubscribe.append(rt.targets.on_change(lambda arn: self._mark("targets", arn)))
        self._unsubscribe.append(rt.on_change(self._on_lb))
        for cb in self.on_runtime:
            cb(rt)
        if self._ready:  # started after the console: the structure changed
            self._mark("resync", "load balancers started")

    # ---- notifications (called synchronously by the writers) -----------------------------------
    def _on_store(self, kind: str, key: str) -> None:
        if kind == "service":
            if key not in self._services:
                self._services.add(key)
                self._mark("resync", f"service {key} created")
            self._mark("service", key)
        elif kind == "task":
            self._mark("task", key)
            t = self.engine.store.tasks.get(key)
            if t is not None and t.service_name is not None:
                self._mark("service", t.service_name)  # its counts were recounted with the task

    def _on_lb(self, kind: str, arn: str) -> None:
        if kind == "rules":
            self._mark("rules", arn)
        else:
            self._mark("resync", f"{kind.replace('_', ' ')} changed")

    def _mark(self, kind: str, key: str) -> None:
        if self.hub.closed:
            return
        self.pending[(kind, key)] = None
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    # ---- events ----------------------------------------------------------------------------------
    def _flush(self) -> None:
        self._scheduled = False
        pending, self.pending = self.pending, {}
        resync = [key for kind, key in pending if kind == "resync"]
        if resync:
            self.hub.publish("resync", {"version": self.hub.version + 1, "why": "; ".join(resync)})
        for kind, key in pending:
            try:
                self._publish(kind, key)
            except Exception:  # a reader's bug must not stop the stream (nor the writer that notified)
                log.exception("console: the %s event of %s failed", kind, key)

    def _publish(self, kind: str, key: str) -> None:
        r = self.reader
        if kind == "service":
            svc = self.engine.store.services.get(key)
            if svc is not None:
                doc = r.service(svc)
                newest = svc.events[0] if svc.events else None
                doc["event"] = (
                    None
                    if newest is None
                    else {"id": newest.id, "created_at": newest.created_at, "message": newest.message}
                )
                self.hub.publish("service", doc)
        elif kind == "task":
            t = self.engine.store.tasks.get(key)
            if t is not None:
                self.hub.publish("task", {"service": t.service_name, "task": r.task(t)})
        elif kind == "targets":
            self.hub.publish("targets", {"target_group_arn": key, "targets": r.targets(key)})
        elif kind == "rules":
            self.hub.publish("rules", {"listener_arn": key, "rules": r.listener_rules(key)})
