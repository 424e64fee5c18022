"""Large bodies stream through the load balancer without being held whole: the LB runs in its own
process (bench/alb.py --serve-alb) and its resident memory is read while 200 MB go down and 200 MB go
up through it, chunked."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .alb_support import Upstream, read_response

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIZE = 200 * 1024 * 1024


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def test_large_bodies_stream_in_bounded_memory() -> None:
    async def scenario() -> None:
        up = await Upstream("a").start()
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "alb.py"),
                "--serve-alb",
                str(port),
                str(up.port),
                str(up.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
            assert line.strip() == b"ready"
            for _ in range(100):  # the first health check makes the target healthy
                rd, wr = await asyncio.open_connection("127.0.0.1", port)
                wr.write(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                status = (await read_response(rd)).status
                wr.close()
                if status == 200:
                    break
                await asyncio.sleep(0.05)
            base = _rss_mb(proc.pid)
            peak = base

            rd, wr = await asyncio.open_connection("127.0.0.1", port)
            # download: 200 MB, chunked, read slowly at first so the LB must apply back-pressure
            wr.write(b"GET /big?n=%d HTTP/1.1\r\nHost: h\r\n\r\n" % SIZE)
            head = await rd.readuntil(b"\r\n\r\n")
            assert b"200 OK" in head
            await asyncio.sleep(0.5)
            peak = max(peak, _rss_mb(proc.pid))
            got = 0
            while True:
                size_line = await rd.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    await rd.readuntil(b"\r\n")
                    break
                left = size + 2
                while left:
                    chunk = await rd.read(min(left, 1 << 20))
                    left -= len(chunk)
                got += size
                if got % (16 << 20) < size:
                    peak = max(peak, _rss_mb(proc.pid))
            assert got == SIZE
            # upload: 200 MB, chunked, on the same connection
            wr.write(b"POST /count HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"y" * (1 << 20)
            for i in range(SIZE // len(piece)):
                wr.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                await wr.drain()
                if i % 16 == 0:
                    peak = max(peak, _rss_mb(proc.pid))
            wr.write(b"0\r\n\r\n")
            r = await asyncio.wait_for(read_response(rd), 30)
            assert (r.status, r.body) == (200, str(SIZE).encode())
            wr.close()
            print(f"LB RSS while streaming: base {base:.1f} MB, peak {peak:.1f} MB")
            assert peak - base < 40, f"LB memory grew {peak - base:.1f} MB while streaming 2 x 200 MB"
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            await up.stop()

    asyncio.run(scenario())
