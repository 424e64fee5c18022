"""Support for the ALB integration tests: a scriptable upstream HTTP server on 127.0.0.1, a hand-built
SystemModel, a raw HTTP/1.1 client, and a runtime context manager that always stops what it started."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.model import (
    Action,
    ForwardAction,
    HealthCheck,
    Listener,
    LoadBalancer,
    LoadBalancerAttributes,
    Rule,
    SystemModel,
    TargetGroup,
    TargetGroupAttributes,
    TargetGroupTuple,
)
from albfargate.model.targets import TargetId, TargetState

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/test/0123456789abcdef"
LISTENER_ARN = LB_ARN.replace("loadbalancer/", "listener/") + "/1111111111111111"


def tg_arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{name}/00000000000000{name[:2]}"


FAST_HC = HealthCheck(interval_seconds=1, timeout_seconds=1, healthy_threshold=2, unhealthy_threshold=2)


def target_group(
    name: str, *, hc: HealthCheck = FAST_HC, attributes: TargetGroupAttributes | None = None
) -> TargetGroup:
    return TargetGroup(
        arn=tg_arn(name),
        name=name,
        tg_id="00000000000000" + name[:2],
        port=80,
        health_check=hc,
        attributes=attributes or TargetGroupAttributes(deregistration_delay_seconds=1),
    )


def model(
    groups: Sequence[TargetGroup],
    *,
    rules: Sequence[Rule] = (),
    default: Sequence[Action] | None = None,
    attributes: LoadBalancerAttributes | None = None,
    protocol: str = "HTTP",
    port: int = 80,
    extra_listeners: Sequence[Listener] = (),
) -> SystemModel:
    lb = LoadBalancer(
        arn=LB_ARN,
        name="test",
        lb_id="0123456789abcdef",
        dns_name="test-1.us-east-1.elb.amazonaws.com",
        attributes=attributes or LoadBalancerAttributes(),
    )
    if default is None:
        default = (ForwardAction((TargetGroupTuple(groups[0].arn),)),)
    listener = Listener(
        arn=LISTENER_ARN,
        load_balancer_arn=LB_ARN,
        port=port,
        protocol=protocol,
        default_actions=tuple(default),
    )
    return SystemModel(
        load_balancers=(lb,),
        listeners=(listener, *extra_listeners),
        rules=tuple(rules),
        target_groups=tuple(groups),
    )


# ---------------------------------------------------------------------------------- upstream server
@dataclass
class Upstream:
    """A scriptable HTTP/1.1 target. Paths: /health (status ``health_status``), /slow?s=<sec>,
    /hang, /reset-head, /reset-body, /malformed, /big?n=<bytes> (chunked), /echo (body back),
    /drop-once (the first time: the connection closes without an answer),
    /headers (request head back), /ws (101 + echo), anything else: 200 "<name> <path>"."""

    name: str
    health_status: int = 200
    server: asyncio.AbstractServer | None = None
    port: int = 0
    requests: list[str] = field(default_factory=list)
    health_checks: list[bytes] = field(default_factory=list)
    conns: set[asyncio.StreamWriter] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    # every request but health checks as it arrived: (head bytes, body bytes, id of its connection)
    seen: list[tuple[bytes, bytes, int]] = field(default_factory=list)

    async def start(self, ssl_context: object = None) -> Upstream:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)  # type: ignore[arg-type]
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def target(self) -> TargetId:
        return TargetId("127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in list(self.conns):
                w.transport.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def _reset(self, w: asyncio.StreamWriter) -> None:
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.transport.abort()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.conns.add(w)
        try:
            while True:
                try:
                    head = await r.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                _method, target, _ = lines[0].split(" ", 2)
                hdrs = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        hdrs[k.strip().lower()] = v.strip()
                body = b""
                if target.startswith("/count"):  # count a (large) body without keeping it
                    n = 0
                    if hdrs.get("transfer-encoding", "").lower() == "chunked":
                        while True:
                            size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                            if size == 0:
                                await r.readuntil(b"\r\n")
                                break
                            left = size + 2
                            while left:
                                chunk = await r.read(min(left, 1 << 20))
                                if not chunk:
                                    return
                                left -= len(chunk)
                            n += size
                    else:
                        left = int(hdrs.get("content-length", "0"))
                        n = left
                        while left:
                            chunk = await r.read(min(left, 1 << 20))
                            if not chunk:
                                return
                            left -= len(chunk)
                    out = str(n).encode()
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
                    await w.drain()
                    continue
                if hdrs.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
                        if size == 0:
                            await r.readuntil(b"\r\n")
                            break
                        body += await r.readexactly(size)
                        await r.readexactly(2)
                elif "content-length" in hdrs:
                    body = await r.readexactly(int(hdrs["content-length"]))
                path, _, query = target.partition("?")
                if "ELB-HealthChecker" in hdrs.get("user-agent", ""):
                    self.health_checks.append(head)
                    code = self.health_status
                    w.write(f"HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
                    await w.drain()
                    w.close()
                    return
                self.requests.append(path)
                self.seen.append((head, body, id(w)))
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if path == "/slow":
                    await asyncio.sleep(float(params.get("s", "1")))
                elif path == "/hang":
                    await asyncio.sleep(3600)
                elif path == "/reset-head":
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Le")
                    await w.drain()
                    self._reset(w)
                    return
                elif path == "/reset-body":
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                    await w.drain()
                    await asyncio.sleep(0.05)
                    self._reset(w)
                    return
                elif path == "/drop-once" and path not in self.dropped:
                    self.dropped.add(path)  # close without answering, once (the keep-alive race)
                    w.close()
                    return
                elif path == "/bighead":
                    w.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"h" * 40000 + b"\r\nContent-Length: 0\r\n\r\n")
                    await w.drain()
                    continue
                elif path == "/malformed":
                    w.write(b"NOT HTTP AT ALL\r\n\r\n")
                    await w.drain()
                    w.close()
                    return
                elif path == "/big":
                    n = int(params.get("n", "1000000"))
                    w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"x" * 65536
                    while n > 0:
                        c = chunk[: min(n, len(chunk))]
                        w.write(b"%x\r\n" % len(c) + c + b"\r\n")
                        n -= len(c)
                        await w.drain()
                    w.write(b"0\r\n\r\n")
                    await w.drain()
                    continue
                elif path == "/ws" and hdrs.get("upgrade", "").lower() == "websocket":
                    w.write(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
                    )
                    await w.drain()
                    while True:
                        data = await r.read(65536)
                        if not data:
                            break
                        w.write(data)
                        await w.drain()
                    w.close()
                    return
                if path == "/setcookie":
                    out = self.name.encode()
                    w.write(
                        b"HTTP/1.1 200 OK\r\nSet-Cookie: APPC=1\r\nContent-Length: %d\r\n\r\n" % len(out)
                        + out
                    )
                    await w.drain()
                    continue
                if path == "/echo":
                    out = body
                elif path == "/headers":
                    out = head
                else:
                    out = f"{self.name} {path}".encode()
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
                await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.conns.discard(w)
            w.close()


# ------------------------------------------------------------------------------------------ client
@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


async def read_response(r: asyncio.StreamReader, method: str = "GET") -> Response:
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    h = {k.lower(): v for k, v in hdrs}
    body = b""
    if method == "HEAD" or status in (101, 204, 304):
        pass
    elif h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await r.readuntil(b"\r\n")
                break
            body += await r.readexactly(size)
            await r.readexactly(2)
    elif "content-length" in h:
        body = await r.readexactly(int(h["content-length"]))
    else:
        body = await r.read()
    return Response(status, hdrs, body)


async def request(port: int, raw: bytes | str, *, timeout: float = 10.0) -> Response:
    """One request on a fresh connection."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(raw)
        method = raw.split(b" ", 1)[0].decode()
        return await asyncio.wait_for(read_response(r, method), timeout)
    finally:
        w.transport.abort()


async def get(port: int, path: str = "/", *, headers: str = "", timeout: float = 10.0) -> Response:
    return await request(port, f"GET {path} HTTP/1.1\r\nHost: example.com\r\n{headers}\r\n", timeout=timeout)


# ----------------------------------------------------------------------------------------- runtime
@contextlib.asynccontextmanager
async def running(m: SystemModel, **kw: object) -> AsyncIterator[LoadBalancerRuntime]:
    with tempfile.TemporaryDirectory() as d:
        overrides = kw.pop("port_overrides", None) or {lst.port: 0 for lst in m.listeners}
        rt = LoadBalancerRuntime(m, state_dir=Path(d), port_overrides=overrides, **kw)  # type: ignore[arg-type]
        await rt.start()
        try:
            yield rt
        finally:
            await rt.stop(grace=1.0)


async def wait_for(pred: object, timeout: float = 10.0, interval: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


async def healthy(rt: LoadBalancerRuntime, arn: str, n: int = 1) -> None:
    """Wait until at least ``n`` targets of the group ``arn`` are healthy."""
    await wait_for(lambda: sum(h.state is TargetState.HEALTHY for _, h in rt.targets.describe(arn)) >= n)


@contextlib.asynccontextmanager
async def one_healthy_target(
    **model_kwargs: Any,
) -> AsyncIterator[tuple[LoadBalancerRuntime, TargetGroup, Upstream]]:
    """The common set-up: upstream "a" registered in target group "tga", the only group of
    ``model([tga], **model_kwargs)``, a running load balancer, and the target healthy. Yields
    ``(runtime, target group, upstream)``; stops the runtime and the upstream on the way out."""
    a = await Upstream("a").start()
    tga = target_group("tga")
    try:
        async with running(model([tga], **model_kwargs)) as rt:
            rt.targets.register(tga.arn, a.target)
            await healthy(rt, tga.arn)
            yield rt, tga, a
    finally:
        await a.stop()


def port_of(rt: LoadBalancerRuntime, index: int = 0) -> int:
    return rt.bindings()[index].local_port
