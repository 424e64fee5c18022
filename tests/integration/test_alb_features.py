"""More ALB features over real sockets: weighted target groups with AWSALBTG stickiness, app_cookie
stickiness, 464 for HTTP2/gRPC target groups, HTTPS target groups and HTTPS health checks, routing
changes applied on the next request, desync modes, the port rule."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import tempfile
from pathlib import Path

import pytest

from albfargate.alb import tls
from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.errors import RuntimeStartError
from albfargate.model import (
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    HealthCheck,
    LoadBalancerAttributes,
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
    request,
    running,
    target_group,
    wait_for,
)

pytestmark = pytest.mark.integration


def cookie(headers: list[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k == "Set-Cookie" and v.startswith(name + "="):
            return v.split(";")[0]
    return None


def test_weighted_target_groups_with_group_stickiness() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga, tgb = target_group("tga"), target_group("tgb")
        fwd = ForwardAction(
            (TargetGroupTuple(tga.arn, 1), TargetGroupTuple(tgb.arn, 1)),
            stickiness_enabled=True,
            stickiness_duration_seconds=60,
        )
        try:
            async with running(model([tga, tgb], default=(fwd,))) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tgb.arn, b.target)
                await healthy(rt, tga.arn)
                await healthy(rt, tgb.arn)
                port = port_of(rt)
                seen = {(await get(port, "/w")).body for _ in range(30)}
                assert seen == {b"a /w", b"b /w"}  # both groups get traffic by weight
                r = await get(port, "/w")
                tg_cookie = cookie(r.headers, "AWSALBTG")
                assert tg_cookie is not None and cookie(r.headers, "AWSALBTGCORS") is not None
                for _ in range(8):
                    assert (await get(port, "/w", headers=f"Cookie: {tg_cookie}\r\n")).body == r.body
                # a forged cookie is ignored (routed by weight) and logged as invalid
                r2 = await get(port, "/w", headers="Cookie: AWSALBTG=forged\r\n")
                assert r2.status == 200
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_app_cookie_stickiness() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        attrs = TargetGroupAttributes(
            stickiness_enabled=True,
            stickiness_type="app_cookie",
            app_cookie_name="APPC",
            deregistration_delay_seconds=1,
        )
        tga = target_group("tga", attributes=attrs)
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tga.arn, b.target)
                await healthy(rt, tga.arn, 2)
                port = port_of(rt)
                r = await get(port, "/plain")
                assert cookie(r.headers, "AWSALBAPP-0") is None  # the target set no app cookie
                r = await get(port, "/setcookie")
                alb_cookie = cookie(r.headers, "AWSALBAPP-0")
                assert alb_cookie is not None and cookie(r.headers, "APPC") == "APPC=1"
                for _ in range(8):
                    r2 = await get(port, "/setcookie", headers=f"Cookie: APPC=1; {alb_cookie}\r\n")
                    assert r2.body == r.body
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_http2_target_group_gets_464() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        from dataclasses import replace

        grpc = replace(tga, protocol_version="GRPC")
        try:
            async with running(model([grpc])) as rt:
                rt.targets.register(grpc.arn, a.target)
                await healthy(rt, grpc.arn)
                assert (await get(port_of(rt), "/")).status == 464
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_https_target_group_and_health_check() -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as d:
            cert, key = tls.listener_cert(Path(d), "upstream", [])
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(cert, key)
            a = await Upstream("tls").start(sctx)
            from dataclasses import replace

            tga = replace(target_group("tga"), protocol="HTTPS")
            tga = replace(tga, health_check=replace(tga.health_check, protocol="HTTPS"))
            try:
                async with running(model([tga])) as rt:
                    rt.targets.register(tga.arn, a.target)
                    await healthy(rt, tga.arn)
                    assert a.health_checks
                    r = await get(port_of(rt), "/secure")
                    assert (r.status, r.body) == (200, b"tls /secure")
            finally:
                await a.stop()

    asyncio.run(scenario())


def test_rule_changes_apply_on_the_next_request() -> None:
    async def scenario() -> None:
        async with one_healthy_target() as (rt, tga, a):
            port = port_of(rt)
            rd, wr = await asyncio.open_connection("127.0.0.1", port)
            from .alb_support import read_response

            wr.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            assert (await read_response(rd)).body == b"a /x"
            rt.set_rules(
                LISTENER_ARN,
                [
                    Rule(
                        arn=LISTENER_ARN + "/r1",
                        listener_arn=LISTENER_ARN,
                        priority=1,
                        conditions=(Condition(ConditionField.PATH_PATTERN, ("/x",)),),
                        actions=(FixedResponseAction("200", "text/plain", "changed"),),
                    )
                ],
            )
            wr.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")  # same keep-alive connection
            assert (await read_response(rd)).body == b"changed"
            wr.close()
            rt.set_default_actions(LISTENER_ARN, [FixedResponseAction("503", None, None)])
            assert (await get(port, "/other")).status == 503
            # the group is no longer used by any rule: its targets report unused / NotInUse
            assert rt.targets.health_of(tga.arn, a.target).reason == "Target.NotInUse"

    asyncio.run(scenario())


def test_desync_modes() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        ambiguous = "GET /headers HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"
        severe = "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000,1000\r\n\r\n"
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                await healthy(rt, tga.arn)
                port = port_of(rt)
                r = await request(port, severe)
                assert r.status == 400 and r.header("Connection") == "close"
                r = await request(port, ambiguous)
                assert r.status == 200 and r.header("Connection") == "close"  # forwarded, then closed
                lb_arn = rt.bindings()[0].lb_arn
                rt.update_load_balancer_attributes(
                    lb_arn, LoadBalancerAttributes(desync_mitigation_mode="strictest")
                )
                assert (await request(port, ambiguous)).status == 400
                text = rt.metrics.prometheus_text()
                assert (
                    'albfargate_lb_desync_non_compliant_total{load_balancer="app/test/0123456789abcdef"} 3'
                    in text
                )
                # monitor: a Severe request is not blocked by the classifier; an unknown
                # Transfer-Encoding is then refused by the shell with 501
                rt.update_load_balancer_attributes(
                    lb_arn, LoadBalancerAttributes(desync_mitigation_mode="monitor")
                )
                r = await request(port, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n")
                assert r.status == 501
                assert (await request(port, ambiguous)).status == 200
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_port_rule_and_taken_override() -> None:
    async def scenario() -> None:
        tga = target_group("tga")
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        try:
            with tempfile.TemporaryDirectory() as d:
                rt = LoadBalancerRuntime(model([tga]), state_dir=Path(d), port_overrides={80: taken})
                with pytest.raises(RuntimeStartError, match=f"override port {taken}"):
                    await rt.start()
                assert rt.bindings() == []
                # template port = a taken port >= 1024: served on the next free one
                rt2 = LoadBalancerRuntime(model([tga], port=taken), state_dir=Path(d))
                await rt2.start()
                try:
                    b = rt2.bindings()[0]
                    assert b.port == taken and b.local_port > taken
                    assert b.url == f"http://127.0.0.1:{b.local_port}/"
                finally:
                    await rt2.stop(grace=0.1)
        finally:
            blocker.close()

    asyncio.run(scenario())


def test_health_check_timeout_reason() -> None:
    async def scenario() -> None:
        hang = socket.socket()  # accepts (backlog) but never answers
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        from albfargate.model.targets import TargetId

        tga = target_group(
            "tga",
            hc=HealthCheck(interval_seconds=1, timeout_seconds=1, healthy_threshold=2, unhealthy_threshold=2),
        )
        try:
            m = model([tga], attributes=LoadBalancerAttributes(idle_timeout_seconds=1))
            async with running(m) as rt:
                tid = TargetId("127.0.0.1", hang.getsockname()[1])
                rt.targets.register(tga.arn, tid)
                await wait_for(lambda: rt.targets.health_of(tga.arn, tid).state is TargetState.UNHEALTHY, 6)
                assert rt.targets.health_of(tga.arn, tid).reason == "Target.Timeout"
                # fail-open to the only (unhealthy) target, which never answers: 504 at the idle timeout
                assert (await get(port_of(rt), "/")).status == 504
        finally:
            hang.close()

    asyncio.run(scenario())


def test_alb_made_errors_keep_the_connection_alive() -> None:
    async def scenario() -> None:
        from .alb_support import read_response

        a = await Upstream("a").start()
        tga, empty = target_group("tga"), target_group("empty")
        rules = [
            Rule(
                arn=LISTENER_ARN + "/r1",
                listener_arn=LISTENER_ARN,
                priority=1,
                conditions=(Condition(ConditionField.PATH_PATTERN, ("/none",)),),
                actions=(ForwardAction((TargetGroupTuple(empty.arn),)),),
            )
        ]
        try:
            async with running(model([tga, empty], rules=rules)) as rt:
                rt.targets.register(tga.arn, a.target)
                await healthy(rt, tga.arn)
                rd, wr = await asyncio.open_connection("127.0.0.1", port_of(rt))
                for raw, status in [
                    (b"GET /none HTTP/1.1\r\nHost: h\r\n\r\n", 503),
                    (b"GET /reset-head HTTP/1.1\r\nHost: h\r\n\r\n", 502),
                    (b"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", 405),
                    (b"HEAD /none HTTP/1.1\r\nHost: h\r\n\r\n", 503),
                    (b"GET /fine HTTP/1.1\r\nHost: h\r\n\r\n", 200),
                ]:
                    wr.write(raw)
                    r = await asyncio.wait_for(read_response(rd, raw.split(b" ")[0].decode()), 5)
                    assert r.status == status
                    if status != 200:
                        assert r.header("Connection") == "keep-alive" and r.header("Server") == "awselb/2.0"
                # a request with a body the ALB does not read: answered, then the connection closes
                wr.write(b"POST /none HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
                r = await asyncio.wait_for(read_response(rd), 5)
                assert (r.status, r.header("Connection")) == (503, "close")
                assert await asyncio.wait_for(rd.read(), 2) == b""
                wr.close()
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_metrics_endpoint() -> None:
    async def scenario() -> None:
        import json
        import urllib.parse

        async with one_healthy_target() as (rt, _tga, _a):
            for _ in range(3):
                assert (await get(port_of(rt), "/m")).status == 200
            url = await rt.serve_metrics()
            mport = urllib.parse.urlsplit(url).port
            assert mport is not None
            r = await request(mport, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n")
            assert r.status == 200 and r.header(
                "Content-Type",
            ).startswith("text/plain")  # type: ignore[union-attr]
            text = r.body.decode()
            assert (
                'albfargate_tg_request_count_total{target_group="targetgroup/tga/00000000000000tg"} 3' in text
            )
            assert (
                'albfargate_tg_healthy_host_count{target_group="targetgroup/tga/00000000000000tg"} 1' in text
            )
            r = await request(mport, "GET /metrics.json HTTP/1.1\r\nHost: m\r\n\r\n")
            snap = json.loads(r.body)
            tg = snap["targetgroup/tga/00000000000000tg"]
            assert tg["RequestCount"] == 3 and tg["RequestCountPerTarget"] == 3.0
            assert tg["HTTPCode_Target_2XX_Count"] == 3 and tg["HealthyHostCount"] == 1
            assert snap["app/test/0123456789abcdef"]["RequestCount"] == 3

    asyncio.run(scenario())


def test_target_connect_timeout_is_504() -> None:
    async def scenario() -> None:
        from albfargate.model.targets import TargetId

        # a listener whose accept queue is full: SYNs are dropped, connects hang
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(5):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        tga = target_group("tga")
        try:
            async with running(model([tga]), connect_timeout=0.5) as rt:
                rt.targets.register(tga.arn, TargetId("127.0.0.1", port))
                await wait_for(
                    lambda: (
                        rt.targets.health_of(tga.arn, TargetId("127.0.0.1", port)).state
                        is TargetState.UNHEALTHY
                    ),
                    8,
                )
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                r = await get(port_of(rt), "/")  # fail-open to the only target
                assert r.status == 504
                assert 0.4 < loop.time() - t0 < 3.0
        finally:
            for s in fillers:
                s.close()
            full.close()

    asyncio.run(scenario())


def test_client_keep_alive_duration_closes_after_the_response() -> None:
    async def scenario() -> None:
        from .alb_support import read_response

        attrs = LoadBalancerAttributes(client_keep_alive_seconds=1)
        async with one_healthy_target(attributes=attrs) as (rt, _tga, _a):
            rd, wr = await asyncio.open_connection("127.0.0.1", port_of(rt))
            wr.write(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
            r = await asyncio.wait_for(read_response(rd), 5)
            assert r.status == 200 and r.header("Connection") is None  # HTTP/1.1 keep-alive
            await asyncio.sleep(1.1)
            wr.write(b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
            r = await asyncio.wait_for(read_response(rd), 5)
            assert (r.status, r.body, r.header("Connection")) == (200, b"a /2", "close")
            assert await asyncio.wait_for(rd.read(), 2) == b""
            wr.close()

    asyncio.run(scenario())
