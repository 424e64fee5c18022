"""The requests timeline (pure; docs/console.md, ``GET /api/requests``): recent exchanges as entries,
their filters, and where each came in (listener) and which rule matched it.

An entry is made from the :class:`~albfargate.alb.exchange.Exchange` record the ALB builds for its access
log anyway; the record is only kept (a reference in a bounded deque, :class:`Timeline`) and turned into a
dict when someone reads it, so a request costs the console one append. A request's body start (what
arrived with its head, at most 64 KiB: ``alb.tap``) is kept for replay only, never shown, and the bodies
held are bounded (:data:`BODY_BUDGET`, the oldest let go first). Captured heads (``head_in``,
``head_out``: the request as received and as forwarded) are parsed into header pairs on reading, with
credential values masked (``console.views.mask_headers``)."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from albfargate.alb.exchange import Exchange
from albfargate.alb.tap import BODY_LIMIT, body_of
from albfargate.console.views import mask_headers

TIMELINE_SIZE = 2000  # entries kept
BODY_BUDGET = 16 * 1024 * 1024  # bytes of request bodies the timeline holds at most (the newest kept)
MAX_LIMIT = 500  # entries one read returns


@dataclass(frozen=True, slots=True)
class ListenerKey:
    """What identifies a listener among the exchanges: its load balancer's full name and scheme, and the
    local and template ports (an exchange's Host names one of them)."""

    lb_full_name: str
    lb_arn: str
    lb_name: str
    scheme: str  # http | https
    local_port: int
    port: int
    listener_arn: str


def listener_of(ex: Exchange, host_port: int | None, listeners: Iterable[ListenerKey]) -> ListenerKey | None:
    """The listener an exchange came in on: the one of its load balancer and scheme; among several, the one
    whose local (or template) port the request's Host names, else the first."""
    kind = "https" if ex.kind in ("https", "wss") else "http"
    candidates = [k for k in listeners if k.lb_full_name == ex.lb_name and k.scheme == kind]
    if len(candidates) > 1 and host_port is not None:
        for k in candidates:
            if host_port in (k.local_port, k.port):
                return k
    return candidates[0] if candidates else None


def split_request_line(line: str) -> tuple[str | None, str | None, str | None, str]:
    """``GET http://host:port/path?q HTTP/1.1`` (the access log's request field) -> (method, host,
    path, query); ``- - -`` (nothing parsed) -> (None, None, None, "")."""
    parts = line.split(" ")
    if len(parts) < 3 or parts[0] == "-":
        return None, None, None, ""
    method, url = parts[0], " ".join(parts[1:-1])
    u = urlsplit(url)
    return method, u.netloc or None, u.path or "/", u.query


def host_port(host: str | None) -> int | None:
    if not host:
        return None
    tail = host.rsplit("]", 1)[-1] if host.startswith("[") else host
    _, sep, port = tail.rpartition(":")
    return int(port) if sep and port.isdigit() else None


def headers_of(head: bytes | None) -> list[tuple[str, str]] | None:
    """The header pairs of a request head (request line and blank line dropped), as received."""
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")[1:]
    out = []
    for line in lines:
        if not line:
            break
        name, sep, value = line.partition(":")
        if sep:
            out.append((name, value.strip()))
    return out


@dataclass(slots=True)
class Recorded:
    """One exchange in the timeline: its id, the record, and what the console resolved when it took it."""

    id: int
    ex: Exchange
    listener: ListenerKey | None
    rule_arn: str | None
    head_in: bytes | None = None
    head_out: bytes | None = None
    body: bytes | None = None  # the bytes read with the head (alb.tap: the body's start), None: none
    body_dropped: bool = False  # the timeline let go of the body (BODY_BUDGET)


def body_info(r: Recorded) -> dict[str, Any] | None:
    """What the timeline says of a request's body (never its content: it may hold credentials, rule 5):
    its declared length (None: chunked), the bytes kept and whether it is whole (replay sends only a
    whole body). None: the request had no body (or its head was not kept)."""
    got = body_of(r.head_in, None if r.body_dropped else r.body)
    if got is None:
        return None
    payload, length, whole = got
    if whole and len(payload) > BODY_LIMIT:  # a chunked body's start cut at the limit
        whole = False
    why = None
    if r.body_dropped:
        why = "the timeline no longer keeps this body (it keeps the newest bodies, 16 MiB at most)"
    elif not whole:
        why = (
            f"only the first {len(payload)} bytes of the body were captured (bodies are kept up to "
            f"{BODY_LIMIT // 1024} KiB, and only what arrived with the head)"
        )
    return {"length": length, "captured": len(payload), "whole": whole and not r.body_dropped, "why": why}


def entry(r: Recorded, *, with_headers: bool = True) -> dict[str, Any]:
    ex = r.ex
    method, host, path, query = split_request_line(ex.request_line)
    duration = max(0.0, ex.sent_at - ex.received_at) if ex.sent_at else None
    alb_made = ex.target_status is None
    status = ex.elb_status
    out: dict[str, Any] = {
        "id": r.id,
        "time": ex.received_at,
        "method": method,
        "path": path,
        "query": query,
        "host": host,
        "load_balancer": r.listener.lb_name if r.listener else ex.lb_name,
        "listener_arn": r.listener.listener_arn if r.listener else None,
        "client": f"{ex.client[0]}:{ex.client[1]}",
        "rule_priority": ex.matched_rule_priority,
        "rule_arn": r.rule_arn,
        "actions": list(ex.actions_executed),
        "target_group_arn": ex.target_group_arn,
        "target": ex.target,
        "status": status,
        "elb_status": ex.elb_status,
        "target_status": ex.target_status,
        "alb_made": alb_made,
        "duration": duration,
        "target_processing_time": ex.target_processing,
        "received_bytes": ex.received_bytes,
        "sent_bytes": ex.sent_bytes,
        "error_reason": ex.error_reason,
        "redirect_url": ex.redirect_url,
        "trace_id": ex.trace_id,
    }
    if with_headers:
        hin, hout = headers_of(r.head_in), headers_of(r.head_out)
        out["headers_in"] = None if hin is None else mask_headers(hin)
        out["headers_out"] = None if hout is None else mask_headers(hout)
        out["body"] = body_info(r)
    return out


def _status_matches(want: str, status: int | None) -> bool:
    if status is None:
        return False
    want = want.lower()
    if len(want) == 3 and want.endswith("xx") and want[0].isdigit():
        return status // 100 == int(want[0])
    return want.isdigit() and status == int(want)


def matcher(query: Mapping[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The filters of ``GET /api/requests`` (ANDed) as one predicate over entries; ValueError names a
    bad one."""
    status = query.get("status")
    alb_made = query.get("alb_made")
    if alb_made not in (None, "true", "false"):
        raise ValueError("alb_made: true or false")
    path, host, method = query.get("path"), query.get("host"), query.get("method")
    target, rule = query.get("target"), query.get("rule")
    if rule is not None and not rule.lstrip("-").isdigit():
        raise ValueError("rule: a rule priority (0: the default rule)")

    def ok(e: dict[str, Any]) -> bool:
        if status is not None and not _status_matches(status, e["status"]):
            return False
        if alb_made is not None and e["alb_made"] != (alb_made == "true"):
            return False
        if path is not None and path not in (e["path"] or ""):
            return False
        if host is not None and host.lower() not in (e["host"] or "").lower():
            return False
        if method is not None and method.upper() != (e["method"] or ""):
            return False
        if target is not None and target != e["target"]:
            return False
        return not (rule is not None and e["rule_priority"] != int(rule))

    return ok


class Timeline:
    """The newest :data:`TIMELINE_SIZE` recorded exchanges."""

    def __init__(self, size: int = TIMELINE_SIZE, body_budget: int = BODY_BUDGET) -> None:
        self.items: deque[Recorded] = deque(maxlen=size)
        self.next_id = 1
        self.body_budget = body_budget
        self.body_bytes = 0  # bytes of the bodies held
        self._with_body: deque[Recorded] = deque()  # the entries holding one, oldest first

    def add(
        self, ex: Exchange, listener: ListenerKey | None, rule_arn: str | None, **heads: bytes | None
    ) -> Recorded:
        body = heads.get("body") or None
        r = Recorded(self.next_id, ex, listener, rule_arn, heads.get("head_in"), heads.get("head_out"), body)
        self.next_id += 1
        if len(self.items) == self.items.maxlen and self.items[0].body is not None:
            self._let_go(self.items[0], dropped=False)
        self.items.append(r)
        if body is not None:
            self._with_body.append(r)
            self.body_bytes += len(body)
            while self.body_bytes > self.body_budget and self._with_body:
                self._let_go(self._with_body[0], dropped=True)
        return r

    def _let_go(self, r: Recorded, *, dropped: bool) -> None:
        if r.body is None:
            return
        self.body_bytes -= len(r.body)
        r.body = None
        r.body_dropped = dropped
        if self._with_body and self._with_body[0] is r:
            self._with_body.popleft()
        else:
            with contextlib.suppress(ValueError):
                self._with_body.remove(r)

    def get(self, entry_id: int) -> Recorded | None:
        for r in reversed(self.items):
            if r.id == entry_id:
                return r
            if r.id < entry_id:
                return None
        return None

    def query(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """Newest first, filtered (:func:`matcher`), at most ``limit`` (default and cap :data:`MAX_LIMIT`)."""
        ok = matcher(query)
        limit_text = query.get("limit", str(MAX_LIMIT))
        if not limit_text.isdigit():
            raise ValueError("limit: a number")
        limit = min(MAX_LIMIT, int(limit_text))
        since = query.get("since")
        if since is not None and not since.isdigit():
            raise ValueError("since: an entry id")
        out = []
        for r in reversed(self.items):
            if since is not None and r.id <= int(since):
                break
            e = entry(r)
            if ok(e):
                out.append(e)
                if len(out) >= limit:
                    break
        return out
