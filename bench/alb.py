"""Benchmark of the local ALB against nginx and HAProxy as reverse proxies (issue 4).

Same two upstream servers for all three (two single-worker nginx instances answering a 13-byte body),
each proxy on one core (``taskset``), keep-alive to the upstreams, ``wrk`` on the other core with a
fixed duration and connection count. Access logs are compared like for like: the albfargate LB writes
its access log (its default) and so does nginx (its default too: one ``combined`` line per request,
written as it goes); with ``--no-access-logs`` neither does. HAProxy logs only to syslog and is run
without. Prints rps, p50 and p99 for each proxy, the resident memory of the albfargate load balancer
holding 1,000 open keep-alive client connections, and as the last line ``alb/nginx rps ratio:
<number>``.

With ``--console`` a fourth row, ``alb+console``, is a second albfargate LB process that also serves the
web console (docs/console.md) with one client streaming its events (``/api/events?requests=1``) for the
whole run: the load balancer with a console open, beside the one without.

Usage: ``.venv/bin/python bench/alb.py [--duration 10] [--connections 50] [--console] [--only-alb]``
(``--only-alb``: the albfargate rows only, for more rounds of the console's figures in less time).
Installs nginx, haproxy and wrk with apt-get when they are missing. The machine may be shared: numbers vary
run to run.

Internal: ``bench/alb.py --serve-alb PORT UP1 UP2 [--console-port P]`` runs one albfargate LB process
(used by the bench)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROXY_CPU = "0"
LOAD_CPU = "1"
UPSTREAM_BASE = 19100
PROXY_PORTS = {"nginx": 19201, "haproxy": 19202, "albfargate": 19203}
CONSOLE_ALB_PORT = 19204
CONSOLE_PORT = 19205


# ------------------------------------------------------------------------------------ serve mode
def bench_model(health_interval: int = 5) -> Any:
    """The benchmarked system: one load balancer, one HTTP listener on port 80 forwarding to one target
    group ``bench`` (no deregistration delay). Returns ``(model, target group)``."""
    from albfargate.model import (
        ForwardAction,
        HealthCheck,
        Listener,
        LoadBalancer,
        SystemModel,
        TargetGroup,
        TargetGroupAttributes,
        TargetGroupTuple,
    )

    tg = TargetGroup(
        arn="arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench/0000000000000001",
        name="bench",
        tg_id="0000000000000001",
        port=80,
        health_check=HealthCheck(interval_seconds=health_interval, healthy_threshold=2),
        attributes=TargetGroupAttributes(deregistration_delay_seconds=0),
    )
    lb = LoadBalancer(
        arn="arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/bench/0000000000000002",
        name="bench",
        lb_id="0000000000000002",
        dns_name="bench.local",
    )
    listener = Listener(
        arn=lb.arn.replace("loadbalancer/", "listener/") + "/3",
        load_balancer_arn=lb.arn,
        port=80,
        protocol="HTTP",
        default_actions=(ForwardAction((TargetGroupTuple(tg.arn),)),),
    )
    model = SystemModel(load_balancers=(lb,), listeners=(listener,), target_groups=(tg,))
    return model, tg


class _BenchEngine:
    """What the console reads of an engine, for a load balancer run alone (no ECS services)."""

    def __init__(self, rt: Any, model: Any, state: Path) -> None:
        from albfargate.state.store import Store

        self.lb, self.model, self.state_dir = rt, model, state
        self.store = Store(time.time)
        self.api_url = None
        self.scheduler = self.autoscaler = None
        self._stopping = False

    def on_load_balancers(self, callback: Any) -> None:
        callback(self.lb)

    def backing_status(self) -> None:
        return None


def serve_alb(
    port: int, upstreams: list[int], access_logs: bool, workers: int = 1, console_port: int | None = None
) -> None:
    from albfargate.alb import compiled
    from albfargate.alb.runtime import LoadBalancerRuntime, tune_gc
    from albfargate.model.targets import TargetId

    model, tg = bench_model()

    async def main() -> None:
        state = Path(tempfile.mkdtemp(prefix="albbench-"))
        rt = LoadBalancerRuntime(
            model, state_dir=state, port_overrides={80: port}, access_logs=access_logs, workers=workers
        )
        await rt.start()
        for p in upstreams:
            rt.targets.register(tg.arn, TargetId("127.0.0.1", p))
        console = None
        if console_port is not None:  # as the supervisor serves it beside the load balancers
            from albfargate.console.server import ConsoleServer

            console = ConsoleServer(_BenchEngine(rt, model, state), port=console_port, port_search=False)
            await console.start()
        tune_gc()  # as the supervisor does once it is up
        diag_path = os.environ.get("ALBBENCH_DIAG")
        diag = _Diagnostics.start(f"{diag_path}.{port}" if diag_path else None)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if diag is not None:
            loop.add_signal_handler(signal.SIGUSR1, diag.write)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        print("ready", flush=True)
        print(f"hot-path {'compiled' if compiled() else 'pure'}", flush=True)  # the bench reads it
        await stop.wait()
        if console is not None:
            await console.stop()
        await rt.stop(grace=0.5)
        shutil.rmtree(state, ignore_errors=True)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


class _Diagnostics:
    """``ALBBENCH_DIAG=<file>`` (serve mode): what may lengthen the LB's latency tail, written to the
    file when the LB stops: every garbage collection (wall time, generation, duration) and every time a
    1 ms timer on the LB's loop fired more than 0.5 ms late (a stall of the loop delays every connection
    ready in it), one ``gc``/``lag`` line each, times in ms; the bench prints a summary per wrk run."""

    def __init__(self, path: str) -> None:
        import gc

        self.path = path
        self.events: list[str] = []
        self._t0 = 0.0
        gc.callbacks.append(self._on_gc)
        from albfargate.alb.accesslog_writer import AccessLogWriter

        append = AccessLogWriter._append_to
        events = self.events

        def timed_append(writer: AccessLogWriter, path: Path, data: bytearray) -> None:
            t = time.perf_counter()
            append(writer, path, data)
            events.append(f"write {time.time():.6f} {len(data)} {(time.perf_counter() - t) * 1e3:.3f}")

        AccessLogWriter._append_to = timed_append  # type: ignore[method-assign]
        self._loop = asyncio.get_running_loop()
        self._due = time.perf_counter() + 0.001
        self._cpu = time.process_time()
        self._loop.call_later(0.001, self._tick)

    @classmethod
    def start(cls, path: str | None) -> _Diagnostics | None:
        return cls(path) if path else None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            d = (time.perf_counter() - self._t0) * 1e3
            self.events.append(f"gc {time.time():.6f} {info['generation']} {d:.3f}")

    def _tick(self) -> None:
        now = time.perf_counter()
        cpu = time.process_time()
        late = now - self._due
        if late > 0.0005:  # with the CPU time this process had since the last tick (own work or not)
            self.events.append(f"lag {time.time():.6f} {(cpu - self._cpu) * 1e3:.3f} {late * 1e3:.3f}")
        self._due = now + 0.001
        self._cpu = cpu
        self._loop.call_later(0.001, self._tick)

    def write(self) -> None:
        Path(self.path).write_text("".join(e + "\n" for e in self.events))


def diagnostics_summary(path: Path, t0: float, t1: float) -> str:
    """What ``_Diagnostics`` saw between the wall times t0 and t1 (one wrk run), one line."""
    gcs: list[float] = []
    lags: list[float] = []
    writes: list[float] = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            kind, t, *rest = line.split()
            if t0 <= float(t) <= t1:
                {"gc": gcs, "lag": lags, "write": writes}[kind].append(float(rest[-1]))
    lags.sort()
    writes.sort()
    worst = ", ".join(f"{x:.1f}" for x in lags[-5:])
    return (
        f"gc {len(gcs)} ({sum(gcs):.1f} ms); loop late > 0.5 ms {len(lags)} times "
        f"({sum(lags):.0f} ms; > 2 ms {sum(1 for x in lags if x > 2)}), worst {worst}; "
        f"access-log writes {len(writes)} ({sum(writes):.0f} ms; > 1 ms {sum(1 for x in writes if x > 1)}, "
        f"worst {writes[-1] if writes else 0:.1f} ms)"
    )


# ------------------------------------------------------------------------------------ helpers
def ensure_tools() -> None:
    missing = [t for t in ("nginx", "haproxy", "wrk", "taskset") if shutil.which(t) is None]
    if not missing:
        return
    print(f"installing {missing} with apt-get", flush=True)
    subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "nginx", "haproxy", "wrk", "util-linux"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def nginx_conf(tmp: Path, name: str, body: str) -> Path:
    d = tmp / name
    (d / "logs").mkdir(parents=True, exist_ok=True)
    conf = d / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  {body}
}}
"""
    )
    return conf


def start(cmd: list[str], cpu: str, procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(["taskset", "-c", cpu, *cmd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(p)
    return p


def run_wrk(port: int, duration: int, connections: int) -> tuple[float, float, float, int]:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CPU,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        if m is None:
            return float("nan")
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  warning: {errors.group(1)} non-2xx responses", flush=True)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, pct("50"), pct("99"), total


def hot_path_of(p: subprocess.Popen[bytes]) -> str:
    """What the ``--serve-alb`` process said it runs (the line after "ready"): "compiled" (mypyc,
    docs/alb.md) or "pure"."""
    assert p.stdout is not None
    for _ in range(20):
        words = p.stdout.readline().decode(errors="replace").split()
        if not words and p.poll() is not None:
            break
        if words[:1] == ["hot-path"]:
            return words[1] if len(words) > 1 else "unknown"
    return "unknown"


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_seconds(pids: list[int]) -> float:
    """user+system CPU time of processes (their own; /proc/<pid>/stat fields 14 and 15)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def rss_with_idle_connections(pid: int, port: int, n: int) -> float:
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            socks.append(s)
        for s in socks:
            s.settimeout(5)
            s.recv(65536)  # the response; the connection stays open (keep-alive)
        time.sleep(0.5)
        status = Path(f"/proc/{pid}/status").read_text()
        kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
        return kb / 1024
    finally:
        for s in socks:
            s.close()


class _ConsoleStream:
    """A client of the console's event stream, reading (and counting) everything it is sent, in a thread
    on the load CPU's side: a browser tab left open on the console."""

    def __init__(self, port: int) -> None:
        import threading

        self.events = 0
        self.bytes = 0
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET /api/events?requests=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.sock.recv(65536):
                self.bytes += len(data)
                self.events += data.count(b"\n\n")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _median_ratio(
    a: list[tuple[float, float, float, float]], b: list[tuple[float, float, float, float]]
) -> float:
    """The median of the per-round rps ratios a/b (each round runs both back to back)."""
    ratios = sorted(x[0] / y[0] for x, y in zip(a, b, strict=True) if y[0])
    return ratios[len(ratios) // 2] if ratios else float("nan")


# ---------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--no-access-logs", action="store_true", help="run the albfargate LB without access logs")
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="also measure the multi-process mode with this many processes (default 2; 0: skip)",
    )
    ap.add_argument(
        "--console", action="store_true", help="also measure an albfargate LB with a web console streaming"
    )
    ap.add_argument("--console-port", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--only-alb",
        action="store_true",
        help="measure the albfargate LB (and alb+console) only: no nginx or HAProxy rows",
    )
    ap.add_argument("--serve-alb", nargs="+", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_alb:
        serve_alb(
            args.serve_alb[0],
            args.serve_alb[1:],
            access_logs=not args.no_access_logs,
            workers=args.workers or 1,
            console_port=args.console_port,
        )
        return 0
    if args.workers is None:
        args.workers = 2
    ensure_tools()
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="albbench-"))
    try:
        ups = [UPSTREAM_BASE, UPSTREAM_BASE + 1]
        for i, port in enumerate(ups):
            conf = nginx_conf(
                tmp,
                f"up{i}",
                f"server {{ listen 127.0.0.1:{port} reuseport; keepalive_timeout 600s; "
                f'location / {{ return 200 "hello world!\\n"; }} }}',
            )
            start(["nginx", "-c", str(conf), "-g", "daemon off;"], LOAD_CPU, procs)
        for port in ups:
            wait_port(port)
        servers = " ".join(f"server 127.0.0.1:{p};" for p in ups)
        # like for like: nginx writes its access log (as its default configuration does) when the
        # albfargate LB writes its own; --no-access-logs runs both without
        nlog = "off" if args.no_access_logs else str(tmp / "proxy" / "logs" / "access.log")
        nconf = nginx_conf(
            tmp,
            "proxy",
            f"upstream backends {{ {servers} keepalive 128; }} "
            f"server {{ listen 127.0.0.1:{PROXY_PORTS['nginx']}; keepalive_timeout 600s; access_log {nlog}; "
            "location / { "
            "proxy_pass http://backends; proxy_http_version 1.1; "
            'proxy_set_header Connection ""; proxy_buffering on; } }',
        )
        start(["nginx", "-c", str(nconf), "-g", "daemon off;"], PROXY_CPU, procs)
        hcfg = tmp / "haproxy.cfg"
        hcfg.write_text(
            "global\n  nbthread 1\n  maxconn 8000\n"
            "defaults\n  mode http\n  timeout connect 10s\n  timeout client 60s\n  timeout server 60s\n"
            "  option http-keep-alive\n  http-reuse always\n"
            f"frontend fe\n  bind 127.0.0.1:{PROXY_PORTS['haproxy']}\n  default_backend be\n"
            "backend be\n  balance roundrobin\n"
            + "".join(f"  server s{i} 127.0.0.1:{p}\n" for i, p in enumerate(ups))
        )
        start(["haproxy", "-f", str(hcfg), "-db"], PROXY_CPU, procs)
        alb_cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--serve-alb",
            str(PROXY_PORTS["albfargate"]),
            *map(str, ups),
        ]
        if args.no_access_logs:
            alb_cmd.append("--no-access-logs")
        alb = start([*alb_cmd, "--workers", "1"], PROXY_CPU, procs)
        ports = dict(PROXY_PORTS)
        if args.only_alb:  # nginx and HAProxy stay up (idle), unmeasured
            ports = {"albfargate": PROXY_PORTS["albfargate"]}
        stream = None
        if args.console:
            ccmd = [*alb_cmd, "--workers", "1", "--console-port", str(CONSOLE_PORT)]
            ccmd[ccmd.index(str(PROXY_PORTS["albfargate"]))] = str(CONSOLE_ALB_PORT)
            calb = start(ccmd, PROXY_CPU, procs)
            ports["alb+console"] = CONSOLE_ALB_PORT
        for port in ports.values():
            wait_port(port, 20)
        if args.console:
            wait_port(CONSOLE_PORT, 20)
            stream = _ConsoleStream(CONSOLE_PORT)
        hot_path = hot_path_of(alb)
        switch = os.environ.get("ALBFARGATE_COMPILED", "unset")
        print(f"albfargate hot path: {hot_path} (ALBFARGATE_COMPILED {switch})", flush=True)
        time.sleep(1.0)  # the LB's first health checks
        rss_fresh = rss_with_idle_connections(alb.pid, PROXY_PORTS["albfargate"], 1000)
        pids = {
            "nginx": [procs[2].pid, *_children(procs[2].pid)],
            "haproxy": [procs[3].pid, *_children(procs[3].pid)],
            "albfargate": [alb.pid, *_children(alb.pid)],
        }
        if args.console:
            pids["alb+console"] = [calb.pid, *_children(calb.pid)]
        for port in ports.values():
            run_wrk(port, 2, args.connections)  # warm-up
        # interleaved rounds, best of each: the machine may be shared, and a burst of someone else's
        # work should not land on one proxy only
        rounds: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in ports}
        windows: list[tuple[str, int, float, float]] = []  # (name, port, start, end) for ALBBENCH_DIAG
        for r in range(args.rounds):
            for name, port in ports.items():
                cpu0 = _cpu_seconds(pids[name])
                w0 = time.time()
                rps, p50, p99, total = run_wrk(port, args.duration, args.connections)
                windows.append((f"round {r + 1} {name}", port, w0, time.time()))
                us = (_cpu_seconds(pids[name]) - cpu0) / max(1, total) * 1e6
                rounds[name].append((rps, p50, p99, us))
                print(
                    f"  round {r + 1} {name:<11} rps {rps:>9.0f}  p50 {p50:>6.2f} ms  p99 {p99:>7.2f} ms"
                    f"  cpu {us:>5.1f} us/req",
                    flush=True,
                )
        best = {n: max(v, key=lambda x: x[0]) for n, v in rounds.items()}
        print(
            f"best of {args.rounds} rounds of {args.duration} s, {args.connections} connections "
            f"(albfargate {hot_path}; access logs: "
            f"{'none' if args.no_access_logs else 'albfargate and nginx, HAProxy none'}):"
        )
        for name, (rps, p50, p99, us) in best.items():
            print(
                f"{name:<11} rps {rps:>10.0f}   p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms"
                f"   cpu {us:>5.1f} us/request",
                flush=True,
            )
        if stream is not None:
            print(
                f"console stream during the run: {stream.events} events, {stream.bytes / 1e6:.1f} MB "
                f"(alb+console/albfargate rps ratio {best['alb+console'][0] / best['albfargate'][0]:.2f}, "
                f"p99 ratio {best['alb+console'][2] / best['albfargate'][2]:.2f}, cpu per request ratio "
                f"{best['alb+console'][3] / best['albfargate'][3]:.2f}; median of the rounds' rps ratios "
                f"{_median_ratio(rounds['alb+console'], rounds['albfargate']):.2f})",
                flush=True,
            )
            stream.close()
        rss_after = rss_with_idle_connections(alb.pid, PROXY_PORTS["albfargate"], 1000)
        if args.workers > 1:
            wport = PROXY_PORTS["albfargate"] + 10
            wcmd = [*alb_cmd, "--workers", str(args.workers)]
            wcmd[wcmd.index(str(PROXY_PORTS["albfargate"]))] = str(wport)
            start(wcmd, f"{PROXY_CPU},{LOAD_CPU}", procs)
            wait_port(wport, 30)
            time.sleep(1.5)
            run_wrk(wport, 2, args.connections)
            rps, p50, p99, _ = run_wrk(wport, args.duration, args.connections)
            print(
                f"albfargate with {args.workers} processes (CPUs {PROXY_CPU},{LOAD_CPU}, shared with wrk): "
                f"rps {rps:.0f}   p50 {p50:.2f} ms   p99 {p99:.2f} ms",
                flush=True,
            )
        print(
            f"albfargate RSS with 1000 keep-alive client connections: {rss_fresh:.1f} MB fresh, "
            f"{rss_after:.1f} MB after the load",
            flush=True,
        )
        diag_path = os.environ.get("ALBBENCH_DIAG")
        if diag_path:
            alb_pids = {PROXY_PORTS["albfargate"]: alb.pid}
            if args.console:
                alb_pids[CONSOLE_ALB_PORT] = calb.pid
            for pid in alb_pids.values():
                os.kill(pid, signal.SIGUSR1)
            time.sleep(0.5)
            for label, port, w0, w1 in windows:
                if port in alb_pids:
                    print(f"diag {label}: {diagnostics_summary(Path(f'{diag_path}.{port}'), w0, w1)}")
        if "nginx" in best:
            cpu_ratio = best["albfargate"][3] / best["nginx"][3]
            print(f"alb/nginx cpu per request ratio: {cpu_ratio:.2f}", flush=True)
            print(f"alb/nginx p99 ratio: {best['albfargate'][2] / best['nginx'][2]:.2f}", flush=True)
            print(f"alb/nginx rps ratio: {best['albfargate'][0] / best['nginx'][0]:.2f}", flush=True)
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
