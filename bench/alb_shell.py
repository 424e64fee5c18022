"""The local ALB shell's own Python time per request, without sockets (issue 4, performance).

A real ``LoadBalancerRuntime`` (one listener forwarding to one healthy target) serves a keep-alive client
whose transport, like the pooled target connection's, is a fake that only records writes: each request is
``GET /`` handed to the client protocol, each answer a 13-byte response handed to the target protocol, so
what is timed is exactly the per-request work of the shell (framing, desync classification, parsing,
routing, forwarded headers, response head, pools, metrics, the access-log line) and none of the kernel's.
Prints µs per request and whether the compiled hot path ran (``docs/alb.md``, "Compiled hot path").

Usage: ``.venv/bin/python bench/alb_shell.py [--requests 100000] [--no-access-logs]``;
``ALBFARGATE_COMPILED=0`` for the pure-Python path."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from alb import bench_model  # bench/alb.py: this folder is on sys.path when the script runs

import albfargate.alb
from albfargate.alb.connection import ClientConnection
from albfargate.alb.runtime import LoadBalancerRuntime
from albfargate.alb.stream import Stream, held_writes
from albfargate.alb.upstream import Upstream
from albfargate.model.targets import TargetHealth, TargetId, TargetState

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 17:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nhello world!\n"
)


class FakeTransport:
    """Records what is written; never pushes back."""

    def __init__(self, peer: tuple[str, int]) -> None:
        self.out: list[bytes] = []
        self.peer = peer

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def writelines(self, data: list[bytes]) -> None:
        self.out.append(b"".join(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer}.get(name, default)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True


async def measure(requests: int, access_logs: bool) -> float:
    model, tg = bench_model(health_interval=300)  # no health check during the measurement
    listener = model.listeners[0]
    with tempfile.TemporaryDirectory() as state:
        rt = LoadBalancerRuntime(
            model, state_dir=Path(state), port_overrides={80: 0}, access_logs=access_logs
        )
        await rt.start()
        try:
            tid = TargetId("127.0.0.1", 9)
            rt.targets.register(tg.arn, tid)
            target = rt.targets.target(tg.arn, tid)
            assert target is not None
            rt.targets.set_health(tg.arn, target, TargetHealth(TargetState.HEALTHY, None, None))
            upstream = Stream()
            upstream.connection_made(FakeTransport(("127.0.0.1", 9)))  # type: ignore[arg-type]
            rt.ctx.pools.release(Upstream(target, upstream), asyncio.get_running_loop().time())
            ls = rt._bound[listener.arn].state  # the listener's live state (private: a bench of internals)
            client_transport = FakeTransport(("127.0.0.1", 50000))
            client = Stream(lambda s: ClientConnection(rt.ctx, ls, s).start())
            client.connection_made(client_transport)  # type: ignore[arg-type]

            held = held_writes(asyncio.get_running_loop())

            def run(n: int) -> None:
                # the event loop would release the held writes when its iteration ends; here once per
                # request (the loop batches many requests per iteration: this counts the release fully)
                for _ in range(n):
                    client.data_received(REQUEST)
                    upstream.data_received(RESPONSE)
                    held.release()

            run(1000)  # warm-up; and a check that every request was answered through the target
            if len(client_transport.out) != 1000 or not client_transport.out[-1].endswith(b"hello world!\n"):
                raise SystemExit("alb_shell: the requests were not forwarded as expected")
            t0 = time.perf_counter()
            run(requests)
            elapsed = time.perf_counter() - t0
            if len(client_transport.out) != 1000 + requests:
                raise SystemExit("alb_shell: not every request was answered")
            return elapsed / requests * 1e6
        finally:
            await rt.stop(grace=0.1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--no-access-logs", action="store_true")
    args = ap.parse_args()
    us = asyncio.run(measure(args.requests, not args.no_access_logs))
    mode = "compiled" if albfargate.alb.compiled() else "pure"
    logs = "without" if args.no_access_logs else "with"
    print(f"albfargate ALB shell ({mode}, {logs} access logs): {us:.2f} us of Python per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
