"""The local ALB over real sockets: routing by rules to real upstreams, ALB-made responses, forwarded
headers, keep-alive/pipelining, chunked bodies both ways, streaming, WebSocket, HTTPS over the local CA,
health turning unhealthy and back, access logs and metrics."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from albfargate.alb import tls
from albfargate.model import (
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    HealthCheck,
    RedirectAction,
    Rule,
    TargetGroupAttributes,
    TargetGroupTuple,
)
from albfargate.model.targets import TargetState

from .alb_support import (
    LISTENER_ARN,
    Upstream,
    get,
    healthy,
    model,
    one_healthy_target,
    port_of,
    read_response,
    request,
    running,
    target_group,
    wait_for,
)

pytestmark = pytest.mark.integration


def rule(priority: int, cond: Condition, action: object) -> Rule:
    return Rule(
        arn=f"{LISTENER_ARN}/rule{priority}",
        listener_arn=LISTENER_ARN,
        priority=priority,
        conditions=(cond,),
        actions=(action,),  # type: ignore[arg-type]
    )


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_rules_route_to_the_right_upstreams() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga, tgb = target_group("tga"), target_group("tgb")
        rules = [
            rule(
                10,
                Condition(ConditionField.PATH_PATTERN, ("/api/*",)),
                ForwardAction((TargetGroupTuple(tgb.arn),)),
            ),
            rule(
                20,
                Condition(ConditionField.HOST_HEADER, ("*.example.org",)),
                FixedResponseAction("418", "text/plain", "teapot"),
            ),
            rule(
                30,
                Condition(ConditionField.PATH_PATTERN, ("/old",)),
                RedirectAction(status_code="HTTP_302", path="/new"),
            ),
        ]
        m = model([tga, tgb], rules=rules)
        try:
            async with running(m) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tgb.arn, b.target)
                await healthy(rt, tga.arn)
                await healthy(rt, tgb.arn)
                port = port_of(rt)
                r = await get(port, "/api/x?q=1")
                assert (r.status, r.body) == (200, b"b /api/x")
                r = await get(port, "/api")  # whole-field match: /api/* does not match /api
                assert (r.status, r.body) == (200, b"a /api")
                r = await request(port, "GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
                assert (r.status, r.body, r.header("Server")) == (418, b"teapot", "awselb/2.0")
                r = await get(port, "/old?x=1")
                assert r.status == 302
                assert r.header("Location") == f"http://example.com:{port}/new?x=1"
                assert r.header("Server") == "awselb/2.0"
                # metrics and request counters moved
                assert rt.targets.request_count(tgb.arn) == 1
                text = rt.metrics.prometheus_text()
                assert (
                    'albfargate_lb_httpcode_elb_3xx_total{load_balancer="app/test/0123456789abcdef"} 1'
                    in text
                )
                assert "albfargate_tg_healthy_host_count" in text
                # one access-log line per request, in the ALB format
                rt.flush_access_logs()
                log = rt.access_log_path(rt.bindings()[0].lb_arn)
                assert log is not None and log.name == "test.0123456789abcdef.log"
                lines = log.read_text().splitlines()
                assert len(lines) == 4
                f = lines[0].split(" ")
                assert f[0] == "http" and f[2] == "app/test/0123456789abcdef"
                assert f[4] == f"127.0.0.1:{b.port}" and f[8] == "200" and f[9] == "200"
                assert '"GET http://example.com:80/api/x?q=1 HTTP/1.1"' in lines[0]  # listener port
                assert tgb.arn in lines[0] and '"forward"' in lines[0]
                assert " 10 " in lines[0]  # matched_rule_priority
                assert '"redirect"' in lines[3] and f'"http://example.com:{port}/new?x=1"' in lines[3]
                assert '"fixed-response"' in lines[2]
        finally:
            await a.stop()
            await b.stop()

    run(scenario())


def test_alb_made_error_codes() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga, empty = target_group("tga"), target_group("empty")
        rules = [
            rule(
                5,
                Condition(ConditionField.PATH_PATTERN, ("/none",)),
                ForwardAction((TargetGroupTuple(empty.arn),)),
            )
        ]
        m = model([tga, empty], rules=rules)
        try:
            async with running(m, connect_timeout=0.5) as rt:
                rt.update_load_balancer_attributes(
                    rt.bindings()[0].lb_arn,
                    rt.model.load_balancers[0].attributes.__class__(idle_timeout_seconds=1),
                )
                rt.targets.register(tga.arn, a.target)
                await healthy(rt, tga.arn)
                port = port_of(rt)
                assert (await get(port, "/none")).status == 503
                assert len((await get(port, "/none")).body) == 162
                assert (await request(port, "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n")).status == 405
                r = await request(port, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
                assert r.status in (400, 501)  # desync classifier may block (Severe) before 501
                assert (await request(port, "GARBAGE\r\n\r\n")).status == 400
                assert (await get(port, "/" + "a" * 9000)).status == 414
                assert (await get(port, "/", headers="X-Big: " + "b" * 17000 + "\r\n")).status == 400
                lines = "".join(f"X-H{i}: " + "v" * 1000 + "\r\n" for i in range(70))  # 70 KB of 1 KB lines
                assert (await get(port, "/", headers=lines)).status == 400
                many = ", ".join(f"10.0.0.{i}" for i in range(31))
                assert (await get(port, "/", headers=f"X-Forwarded-For: {many}\r\n")).status == 463
                assert (await get(port, "/reset-head")).status == 502
                assert (await get(port, "/malformed")).status == 502
                assert (await get(port, "/bighead")).status == 502  # response head > 32 KiB
                r = await get(port, "/hang")  # no response within the idle timeout (1 s)
                assert r.status == 504
                # an incomplete request gets 408 at the idle timeout
                rd, wr = await asyncio.open_connection("127.0.0.1", port)
                wr.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
                r = await asyncio.wait_for(read_response(rd), 5)
                assert r.status == 408
                wr.close()
                # a target that refuses connections: 502
                await a.stop()
                assert (await get(port, "/")).status == 502
                text = rt.metrics.prometheus_text()
                assert (
                    'albfargate_lb_httpcode_elb_5xx_total{load_balancer="app/test/0123456789abcdef"} 0'
                    not in text
                )
        finally:
            await a.stop()

    run(scenario())


def test_forwarded_headers_keepalive_pipelining_and_bodies() -> None:
    async def scenario() -> None:
        async with one_healthy_target(port=8080) as (rt, _tga, a):
            port = port_of(rt)
            r = await get(port, "/headers", headers="X-Forwarded-For: 10.1.1.1\r\n")
            sent = r.body.decode()
            assert "X-Forwarded-For: 10.1.1.1, 127.0.0.1" in sent
            assert "X-Forwarded-Proto: http" in sent
            assert "X-Forwarded-Port: 8080" in sent
            assert "X-Amzn-Trace-Id: Root=1-" in sent
            assert "Host: example.com:8080" in sent
            # keep-alive with three pipelined requests on one connection
            rd, wr = await asyncio.open_connection("127.0.0.1", port)
            wr.write(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(3)))
            bodies = [(await read_response(rd)).body for _ in range(3)]
            assert bodies == [b"a /p0", b"a /p1", b"a /p2"]
            # chunked upload echoed, content-length upload echoed, on the same connection
            wr.write(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )
            assert (await read_response(rd)).body == b"hello world"
            payload = b"z" * 3_000_000
            wr.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(payload))
            wr.write(payload)
            r = await read_response(rd)
            assert r.body == payload
            # a large chunked download streams through
            wr.write(b"GET /big?n=5000000 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = await read_response(rd)
            assert len(r.body) == 5_000_000
            wr.close()
            # target keep-alive connections are reused
            assert len(a.conns) <= 3

    run(scenario())


def test_websocket_echo_through() -> None:
    async def scenario() -> None:
        async with one_healthy_target() as (rt, _tga, _a):
            rd, wr = await asyncio.open_connection("127.0.0.1", port_of(rt))
            wr.write(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            r = await asyncio.wait_for(read_response(rd), 5)
            assert r.status == 101
            for msg in (b"\x81\x05hello", b"\x81\x03abc" * 100):
                wr.write(msg)
                got = await asyncio.wait_for(rd.readexactly(len(msg)), 5)
                assert got == msg
            wr.close()

    run(scenario())


def test_target_turns_unhealthy_and_back() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        hc = HealthCheck(
            path="/health", interval_seconds=1, timeout_seconds=1, healthy_threshold=2, unhealthy_threshold=2
        )
        tga = target_group("tga", hc=hc)
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tga.arn, b.target)
                assert rt.targets.health_of(tga.arn, a.target).state is TargetState.INITIAL
                await healthy(rt, tga.arn, 2)
                hc_head = a.health_checks[0].decode()
                assert hc_head.startswith("GET /health HTTP/1.1\r\n")
                assert f"Host: 127.0.0.1:{a.port}" in hc_head
                assert "User-Agent: ELB-HealthChecker/2.0" in hc_head
                a.health_status = 500
                await wait_for(
                    lambda: rt.targets.health_of(tga.arn, a.target).state is TargetState.UNHEALTHY, 8
                )
                h = rt.targets.health_of(tga.arn, a.target)
                assert h.reason == "Target.ResponseCodeMismatch"
                port = port_of(rt)
                bodies = {(await get(port, "/x")).body for _ in range(6)}
                assert bodies == {b"b /x"}  # only the healthy target gets requests
                a.health_status = 200
                await wait_for(
                    lambda: rt.targets.health_of(tga.arn, a.target).state is TargetState.HEALTHY, 8
                )
                bodies = {(await get(port, "/x")).body for _ in range(6)}
                assert bodies == {b"a /x", b"b /x"}
                # an unused target group: registered targets report unused/Target.NotInUse
        finally:
            await a.stop()
            await b.stop()

    run(scenario())


def test_unused_target_group_is_not_checked() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga, other = target_group("tga"), target_group("other")
        try:
            async with running(model([tga, other])) as rt:
                rt.targets.register(other.arn, a.target)
                await asyncio.sleep(0.3)
                h = rt.targets.health_of(other.arn, a.target)
                assert (h.state, h.reason) == (TargetState.UNUSED, "Target.NotInUse")
                assert a.health_checks == []
        finally:
            await a.stop()

    run(scenario())


def test_lb_cookie_stickiness() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga = target_group("tga", attributes=TargetGroupAttributes(stickiness_enabled=True))
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tga.arn, b.target)
                await healthy(rt, tga.arn, 2)
                port = port_of(rt)
                r = await get(port, "/s")
                cookie = next(v for k, v in r.headers if k == "Set-Cookie" and v.startswith("AWSALB="))
                value = cookie.split(";")[0]
                first = r.body
                for _ in range(5):
                    r = await get(port, "/s", headers=f"Cookie: {value}\r\n")
                    assert r.body == first
        finally:
            await a.stop()
            await b.stop()

    run(scenario())


def test_https_listener_over_the_local_ca() -> None:
    async def scenario() -> None:
        async with one_healthy_target(protocol="HTTPS", port=443) as (rt, _tga, _a):
            ctx = tls.client_context(rt.state_dir)
            assert (rt.state_dir / "tls" / "ca.pem").exists()
            rd, wr = await asyncio.open_connection(
                "127.0.0.1", port_of(rt), ssl=ctx, server_hostname="localhost"
            )
            wr.write(b"GET /headers HTTP/1.1\r\nHost: localhost\r\n\r\n")
            r = await asyncio.wait_for(read_response(rd), 5)
            assert r.status == 200
            assert b"X-Forwarded-Proto: https" in r.body
            assert b"X-Forwarded-Port: 443" in r.body
            rt.flush_access_logs()
            log = rt.access_log_path(rt.bindings()[0].lb_arn)
            assert log is not None
            line = log.read_text().splitlines()[0]
            assert line.startswith("https ") and " TLSv1.3 " in line
            assert ' "localhost" ' in line  # domain_name: the SNI name
            wr.close()
            # an untrusting client fails the handshake
            with pytest.raises(ssl.SSLError):
                await asyncio.open_connection(
                    "127.0.0.1",
                    port_of(rt),
                    ssl=ssl.create_default_context(),
                    server_hostname="localhost",
                )

    run(scenario())
