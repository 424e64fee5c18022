"""Listeners and load balancers added to and removed from a running ``LoadBalancerRuntime`` (the API's
CreateLoadBalancer / CreateListener / DeleteListener / DeleteLoadBalancer), with real sockets."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from albfargate.alb import tls
from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.model import ForwardAction, Listener, LoadBalancer, TargetGroupTuple
from albfargate.model.targets import TargetState

from .alb_support import Upstream, get, model, port_of, read_response, running, target_group, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

NEW_LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/new/fedcba9876543210"
NEW_LB = LoadBalancer(NEW_LB_ARN, "new", "fedcba9876543210", "new-1.us-east-1.elb.amazonaws.com")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def new_listener(port: int, tg_arn: str, suffix: str = "2222222222222222") -> Listener:
    arn = NEW_LB_ARN.replace("loadbalancer/", "listener/") + "/" + suffix
    return Listener(arn, NEW_LB_ARN, port, "HTTP", (ForwardAction((TargetGroupTuple(tg_arn),)),))


def state_of(rt: LoadBalancerRuntime, tg_arn: str) -> tuple[TargetState, str | None]:
    _t, h = rt.targets.describe(tg_arn)[0]
    return h.state, h.reason


def test_add_listener_serves_and_remove_listener_refuses() -> None:
    async def scenario() -> None:
        a, b = await Upstream("a").start(), await Upstream("b").start()
        tga, tgb = target_group("tga"), target_group("tgb")
        try:
            async with running(model([tga, tgb])) as rt:
                rt.targets.register(tga.arn, a.target)
                rt.targets.register(tgb.arn, b.target)
                assert state_of(rt, tgb.arn) == (TargetState.UNUSED, "Target.NotInUse")
                await rt.add_load_balancer(NEW_LB)
                template = free_port()  # >= 1024: served on the same port
                listener = new_listener(template, tgb.arn)
                binding = await rt.add_listener(listener)
                assert binding.local_port == template and binding.lb_arn == NEW_LB_ARN
                assert binding in rt.bindings() and binding.url in rt.listener_urls()
                assert binding.url == f"http://127.0.0.1:{template}/"
                # the checker probes the group now in use; the request reaches b
                await wait_for(lambda: state_of(rt, tgb.arn)[0] is TargetState.HEALTHY)
                assert (await get(template, "/new")).body == b"b /new"
                assert (await get(port_of(rt, 0), "/old")).body == b"a /old"  # the first listener is intact
                await rt.remove_listener(listener.arn, grace=1.0)
                assert refused(template)
                assert [x.listener_arn for x in rt.bindings()] == [rt.bindings()[0].listener_arn]
                assert binding.url not in rt.listener_urls()
                assert state_of(rt, tgb.arn) == (TargetState.UNUSED, "Target.NotInUse")
                assert (await get(port_of(rt, 0), "/still")).body == b"a /still"
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())


def test_in_flight_request_finishes_when_its_listener_goes() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                await rt.add_load_balancer(NEW_LB)
                port = free_port()
                listener = new_listener(port, tga.arn)
                await rt.add_listener(listener)
                await wait_for(lambda: state_of(rt, tga.arn)[0] is TargetState.HEALTHY)
                slow = asyncio.create_task(get(port, "/slow?s=0.5"))
                await asyncio.sleep(0.15)
                await rt.remove_listener(listener.arn, grace=3.0)
                response = await slow
                assert response.status == 200 and response.body == b"a /slow"
                assert refused(port)
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_taken_port_moves_on_and_remove_load_balancer_drops_its_listeners() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = int(holder.getsockname()[1])
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                await rt.add_load_balancer(NEW_LB)
                one = await rt.add_listener(new_listener(taken, tga.arn, "3333333333333333"))
                assert one.local_port > taken  # the next free port
                other = free_port()
                two = await rt.add_listener(new_listener(other, tga.arn, "4444444444444444"))
                await wait_for(lambda: state_of(rt, tga.arn)[0] is TargetState.HEALTHY)
                assert (await get(one.local_port, "/x")).status == 200
                assert (await get(two.local_port, "/y")).status == 200
                await rt.remove_load_balancer(NEW_LB_ARN, grace=1.0)
                assert refused(one.local_port) and refused(two.local_port)
                assert all(b.lb_arn != NEW_LB_ARN for b in rt.bindings())
                assert len(rt.bindings()) == 1
                # the first load balancer still forwards to tga: it stays in use
                assert state_of(rt, tga.arn)[0] is TargetState.HEALTHY
        finally:
            holder.close()
            await a.stop()

    asyncio.run(scenario())


def test_multi_worker_runtime_refuses_listener_changes() -> None:
    async def scenario() -> None:
        tga = target_group("tga")
        with tempfile.TemporaryDirectory() as d:
            rt = LoadBalancerRuntime(model([tga]), state_dir=Path(d), workers=2)
            with pytest.raises(RuntimeError, match="--workers 2"):
                await rt.add_listener(new_listener(free_port(), tga.arn))
            with pytest.raises(RuntimeError, match="--workers 2"):
                await rt.remove_listener(new_listener(1, tga.arn).arn)
            with pytest.raises(RuntimeError, match="--workers 2"):
                await rt.add_load_balancer(NEW_LB)
            assert rt.bindings() == []

    asyncio.run(scenario())


def test_added_https_listener_uses_the_local_ca() -> None:
    async def scenario() -> None:
        a = await Upstream("a").start()
        tga = target_group("tga")
        try:
            async with running(model([tga])) as rt:
                rt.targets.register(tga.arn, a.target)
                await rt.add_load_balancer(NEW_LB)
                port = free_port()
                listener = replace(new_listener(port, tga.arn), protocol="HTTPS")
                binding = await rt.add_listener(listener)
                assert binding.url == f"https://127.0.0.1:{port}/" and binding.protocol == "HTTPS"
                await wait_for(lambda: state_of(rt, tga.arn)[0] is TargetState.HEALTHY)
                rd, wr = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=tls.client_context(rt.state_dir), server_hostname="localhost"
                )
                wr.write(b"GET /headers HTTP/1.1\r\nHost: localhost\r\n\r\n")
                r = await asyncio.wait_for(read_response(rd), 5)
                assert r.status == 200 and b"X-Forwarded-Proto: https" in r.body
                wr.close()
                await rt.remove_listener(listener.arn, grace=1.0)
                assert refused(port)
        finally:
            await a.stop()

    asyncio.run(scenario())


def test_add_listener_after_stop_is_refused() -> None:
    async def scenario() -> None:
        tga = target_group("tga")
        async with running(model([tga])) as rt:
            await rt.add_load_balancer(NEW_LB)
        port = free_port()
        with pytest.raises(RuntimeError, match="not running"):
            await rt.add_listener(new_listener(port, tga.arn))
        assert refused(port)
        assert all(b.port != port for b in rt.bindings())

    asyncio.run(scenario())
