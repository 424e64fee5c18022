"""Benchmark of ``albfargate up --detach``: time from the command to every service steady.

1. examples/hello with the process driver (the synth cache is warmed first, so this is the cached case);
   goal: under 3 s.
2. 50 stand-in services × 2 tasks (one application LB per service, from a generated template); goal:
   steady within 30 s with the supervisor's resident memory under 200 MB.
3. examples/notes (a PostgreSQL database, a generated secret, an SSM parameter): cold ``up`` (no data
   directory) without a template (initdb included) and with the template cached (a copy,
   ``backing/templates.py``), and warm ``up`` (data there) to steady, the resident memory of the database
   server's processes, and where the time went (``status --json`` ``startup`` and the databases'
   ``timings``); goals: warm < 4 s, cold < 10 s, < 150 MB more RSS than without a database.
4. The Docker driver: a two-task service from a locally built image (``bench/up_docker.py``); skipped
   without an engine or with ``--skip-docker``.

Prints one line per case; the state directories live in a temporary folder and everything is stopped with
``albfargate down`` at the end. Run: ``.venv/bin/python bench/up.py [--services N] [--runs R]``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.up_support import Svc, make_template, processes_of  # noqa: E402

PY = sys.executable


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "albfargate.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared interpreter/library pages split among the processes using them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed_up(state: Path, *args: str, timeout: float = 120) -> tuple[float, dict[str, object]]:
    t0, wall0 = time.monotonic(), time.time()
    p = cli("up", *args, "--detach", "--state-dir", str(state), "--timeout", str(timeout))
    took = time.monotonic() - t0
    if p.returncode != 0:
        cli("down", "--state-dir", str(state))
        raise SystemExit(f"up failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    st = json.loads(cli("status", "--json", "--state-dir", str(state)).stdout)
    st["_bench_wall0"] = wall0
    return took, st


def phases(st: dict[str, Any], took: float) -> str:
    """Where the time of ``up`` went: to the engine's start (the CLI, synth cache check, the supervisor
    process), the engine's start phases (status ``startup``; the databases' own init/server/setup
    steps), the first task's start, and the rest to steady (health checks, the CLI noticing)."""
    startup = st.get("startup") or {}
    began = startup.get("began_at")
    if not began:
        return ""
    wall0 = float(st["_bench_wall0"])
    parts = [f"to engine start {began - wall0:.2f}"]
    prev = 0.0
    for key in ("backing_s", "metadata_s3_s", "api_s", "load_balancers_s", "scheduler_s"):
        if key in startup:
            parts.append(f"{key[:-2]} {startup[key] - prev:.2f}")
            prev = startup[key]
    for d in (st.get("backing") or {}).get("databases", []):
        t = d.get("timings") or {}
        if t:
            parts.append(f"[{d['logical_id']}: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()) + "]")
    started = [
        t["started_at"] for svc in st.get("services", []) for t in svc.get("tasks", []) if t.get("started_at")
    ]
    if started:
        first = min(started) - began
        parts.append(f"first task started {first - prev:.2f}")
        parts.append(f"then steady {wall0 + took - (began + first):.2f}")
    return "; ".join(parts)


def down(state: Path) -> float:
    t0 = time.monotonic()
    cli("down", "--state-dir", str(state))
    took = time.monotonic() - t0
    left = processes_of(state)
    if left:
        print(f"  WARNING: {len(left)} processes left for {state}")
    return took


def bench_hello(tmp: Path, runs: int) -> None:
    hello = ROOT / "examples" / "hello"
    subprocess.run([PY, "-m", "albfargate.cli", "synth", str(hello)], capture_output=True, check=False)
    times = []
    for i in range(runs):
        state = tmp / f"hello-{i}"
        took, st = timed_up(state, str(hello), "--driver", "process", "--port", "80=18980")
        sup = int(st["supervisor_pid"])  # type: ignore[call-overload]
        mem = rss_mb(sup)
        d = down(state)
        times.append(took)
        print(
            f"hello run {i + 1}: up --detach -> steady {took:.2f} s "
            f"(supervisor RSS {mem:.0f} MB), down {d:.2f} s"
        )
    print(f"hello: best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s (goal < 3 s)")


def _group_rss_mb(pid: int) -> float:
    """RSS of a server and every process of its group (PostgreSQL's backends and workers)."""
    from albfargate.ecs.runtime.process import group_usage

    return group_usage(pid)[1] / 1024 / 1024


def bench_notes(tmp: Path, runs: int) -> None:
    notes = ROOT / "examples" / "notes"
    subprocess.run([PY, "-m", "albfargate.cli", "synth", str(notes)], capture_output=True, check=False)
    # a fresh template cache: the first cold up makes the template (initdb), the second copies it
    os.environ["ALBFARGATE_DB_TEMPLATES"] = str(tmp / "db-templates")
    cases = [("cold, no template", tmp / "notes-0"), ("cold, template cached", tmp / "notes")]
    cases += [("warm", tmp / "notes")] * max(1, runs - 1)
    for kind, state in cases:
        took, st = timed_up(state, str(notes), "--driver", "process", "--port", "80=18981")
        backing = st.get("backing") or {}
        dbs = backing.get("databases", []) if isinstance(backing, dict) else []
        db_rss = sum(_group_rss_mb(int(d["pid"])) for d in dbs if d.get("pid"))
        sup = rss_mb(int(st["supervisor_pid"]))  # type: ignore[call-overload]
        d = down(state)
        goal = "< 10 s" if kind.startswith("cold") else "< 4 s"
        print(
            f"notes {kind}: up --detach -> steady {took:.2f} s (goal {goal}); database server RSS "
            f"{db_rss:.0f} MB (goal < 150 MB), supervisor RSS {sup:.0f} MB; down {d:.2f} s"
        )
        print(f"  phases (s): {phases(st, took)}")


def bench_many(tmp: Path, n: int) -> None:
    services = [Svc(name=f"svc{i:02d}", desired=2, container_port=8080, dereg_delay=1) for i in range(n)]
    tpl = make_template(tmp / "many.json", services, listener_port=20000)
    state = tmp / "many"
    took, st = timed_up(state, "--template", str(tpl), "--stand-in", "*", timeout=180)
    sup = int(st["supervisor_pid"])  # type: ignore[call-overload]
    mem = rss_mb(sup)
    tasks = [p for p in processes_of(state) if p != sup]
    task_mem = sum(rss_mb(p) for p in tasks)
    task_pss = sum(pss_mb(p) for p in tasks)
    d = down(state)
    print(
        f"{n} stand-in services x 2 tasks: up --detach -> steady {took:.2f} s (goal <= 30 s); supervisor RSS "
        f"{mem:.0f} MB (goal < 200 MB); {len(tasks)} task processes: RSS sum {task_mem:.0f} MB, "
        f"PSS sum {task_pss:.0f} MB; down {d:.2f} s"
    )


# ---- 3. the Docker driver (measured by bench/up_docker.py, owned by the Docker driver) ------------------
def bench_docker(runs: int) -> None:
    try:
        from albfargate.ecs.runtime.docker import engine_available
    except ImportError:
        print("docker: skipped (the docker package is not installed)")
        return
    if not engine_available():
        print("docker: skipped (no Docker engine answers)")
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from up_docker import docker_time_to_steady

    r = docker_time_to_steady(max(2, runs))
    print(
        f"docker, 2 tasks, local image: cold {r['cold_s']:.2f} s (pause image built), warm median "
        f"{r['warm_median_s']:.2f} s (best {r['warm_best_s']:.2f} s); down median {r['down_median_s']:.2f} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-hello", action="store_true")
    ap.add_argument("--skip-docker", action="store_true")
    ap.add_argument("--skip-many", action="store_true")
    ap.add_argument("--skip-notes", action="store_true")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores (shared with other work: figures are indicative)")
    with tempfile.TemporaryDirectory(prefix="albfargate-bench-") as d:
        tmp = Path(d)
        if not args.skip_hello:
            bench_hello(tmp, args.runs)
        if not args.skip_notes:
            bench_notes(tmp, max(2, args.runs))
        if not args.skip_many:
            bench_many(tmp, args.services)
    if not args.skip_docker:
        bench_docker(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
