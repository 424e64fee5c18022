"""What the run commands print about a running system, from its ``status --json`` document (pure: no I/O,
no clock; the caller passes the terminal width, the time and whether to colour).

Owns the port notes (a listener or the API endpoint not on the port it asked for), the words of the status
view (``steady``, ``deploying 1/2``, ``failed: <reason>``), short forms of ARNs and ids (the full ones stay
in ``--json``), colour, and the progress lines of ``up --detach`` (one line per change)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# ---- port notes --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenerPort:
    lb: str
    protocol: str
    port: int  # the template's listener port
    wanted: int  # the local port the port rule (or an override) asked for
    local_port: int  # where it is served
    url: str


def port_notes(
    listeners: Iterable[ListenerPort],
    *,
    api_wanted: int | None = None,
    api_url: str | None = None,
    env_command: str = "albfargate env",
) -> list[str]:
    """One note per listener, and for the API endpoint, that is not served on the port it asked for."""
    out = []
    for lst in listeners:
        if lst.local_port != lst.wanted and lst.wanted != 0:
            out.append(
                f"port {lst.wanted} is taken: listener {lst.protocol}:{lst.port} of {lst.lb} is served on "
                f"{lst.local_port} instead ({lst.url})"
            )
    if api_wanted and api_url and not api_url.rstrip("/").endswith(f":{api_wanted}"):
        out.append(
            f"port {api_wanted} is taken (another albfargate or emulator?): the AWS API endpoint is "
            f'{api_url} instead; point your shell at it with: eval "$({env_command})"'
        )
    return out


# ---- progress of `up --detach` -------------------------------------------------------------------------


def _healthy(svc: Mapping[str, Any]) -> int:
    return sum(1 for t in svc.get("tasks", ()) if t.get("target_state") == "healthy")


def _has_targets(svc: Mapping[str, Any]) -> bool:
    return bool(svc.get("target_groups"))


def _primary(svc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((d for d in svc.get("deployments", ()) if d.get("status") == "PRIMARY"), None)


def service_progress(svc: Mapping[str, Any]) -> str:
    """One line about where a service's rollout is: tasks started, healthy targets, rollout state."""
    desired = svc.get("desired", 0)
    parts = [f"tasks {svc.get('running', 0)}/{desired} running"]
    if svc.get("pending"):
        parts[-1] += f" ({svc['pending']} pending)"
    if _has_targets(svc):
        parts.append(f"targets {_healthy(svc)}/{desired} healthy")
    p = _primary(svc)
    if p is not None:
        parts.append(f"rollout {p.get('rollout_state', '?')}")
    if len(svc.get("deployments", ())) > 1:
        parts.append(f"{len(svc['deployments'])} deployments")
    if svc.get("steady"):
        parts.append("steady")
    return f"service {svc.get('name')}: " + ", ".join(parts)


def progress(previous: Mapping[str, str], status: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The progress line of every service, and the ones that changed since ``previous`` (one line per
    change, so a log without a terminal stays short)."""
    current = {str(s.get("name")): service_progress(s) for s in status.get("services", ())}
    changed = [line for name, line in current.items() if previous.get(name) != line]
    return current, changed


def failed_rollouts(status: Mapping[str, Any]) -> list[str]:
    """One line per ACTIVE service whose primary deployment FAILED (the circuit breaker gave up and there
    is nothing to roll back to): the rollout will not become steady, so waiting longer is pointless."""
    why = {line.split(":", 1)[0]: line for line in status.get("not_steady", ())}
    out = []
    for svc in status.get("services", ()):
        p = _primary(svc)
        if svc.get("status") == "ACTIVE" and p is not None and p.get("rollout_state") == "FAILED":
            reason = p.get("rollout_state_reason") or "no reason given"
            detail = why.get(f"service {svc.get('name')}")
            out.append(
                f"the rollout of service {svc.get('name')} FAILED: {reason}"
                + (f" ({detail.split(': ', 1)[1]})" if detail and ": " in detail else "")
            )
    return out


# ---- the status view -----------------------------------------------------------------------------------

#: Tones of the status words and their ANSI colours (used only when stdout is a terminal).
GOOD, WARN, BAD, DIM, HEAD = "good", "warn", "bad", "dim", "head"
_ANSI = {GOOD: "32", WARN: "33", BAD: "31", DIM: "2", HEAD: "1"}
TARGET_TONES = {"healthy": GOOD, "initial": WARN, "draining": WARN, "unhealthy": BAD, "unused": DIM}

_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:[^\s),;\"']+")
_TASK_ID = re.compile(r"\b[0-9a-f]{32}\b")
SHORT_ID = 8  # a task id is shown by its first 8 characters (stop-task and logs take that prefix)


def should_colour(isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour only into a terminal, never into a pipe or file; ``NO_COLOR`` (any value) and
    ``TERM=dumb`` turn it off (https://no-color.org)."""
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def short_arn(arn: str) -> str:
    """A readable short form of an AWS ARN: the name of a target group / load balancer / service /
    cluster, ``family:revision`` of a task definition, the short id of a task."""
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
    parts = resource.split("/")
    kind = parts[0]
    if kind == "targetgroup" and len(parts) >= 2:
        return parts[1]
    if kind == "loadbalancer" and len(parts) >= 3:
        return parts[2]
    if kind == "listener" and len(parts) >= 5:
        return f"{parts[2]}/{parts[4][:SHORT_ID]}"
    if kind == "task" and len(parts) >= 2:
        return parts[-1][:SHORT_ID]
    return parts[-1]


def short_text(text: str) -> str:
    """``text`` with every ARN in its short form and every task id shortened (for the text view; the
    full ones are in ``--json``)."""
    text = _ARN.sub(lambda m: short_arn(m.group(0)), text)
    return _TASK_ID.sub(lambda m: m.group(0)[:SHORT_ID], text)


def service_state(svc: Mapping[str, Any]) -> tuple[str, str]:
    """The word a user reads right for a service, and its tone: ``steady``, ``deploying 1/2`` (healthy
    tasks of the new deployment / desired), ``scaling 1/3``, ``waiting 1/2 healthy``, ``failed: <reason>``,
    ``draining``."""
    status = str(svc.get("status", "ACTIVE"))
    if status != "ACTIVE":
        return status.lower(), WARN
    desired = int(svc.get("desired", 0))
    p = _primary(svc)
    if p is not None and p.get("rollout_state") == "FAILED":
        return f"failed: {p.get('rollout_state_reason') or 'rollout failed'}", BAD
    if svc.get("steady"):
        return "steady", GOOD
    tasks = list(svc.get("tasks", ()))
    counts_healthy = _has_targets(svc)

    def healthy(t: Mapping[str, Any]) -> bool:
        if counts_healthy:
            return t.get("target_state") == "healthy"
        return t.get("last_status") == "RUNNING" and t.get("health") != "UNHEALTHY"

    if p is not None and (p.get("rollout_state") == "IN_PROGRESS" or len(svc.get("deployments", ())) > 1):
        new = sum(1 for t in tasks if t.get("deployment") == p.get("id") and healthy(t))
        return f"deploying {new}/{desired}", WARN
    running = int(svc.get("running", 0))
    if running != desired:
        return f"scaling {running}/{desired}", WARN
    return f"waiting {sum(1 for t in tasks if healthy(t))}/{desired} healthy", WARN


Segment = tuple[str, str | None]  # (text, tone)


def render_view(
    status: Mapping[str, Any],
    *,
    width: int | None = None,
    colour: bool = False,
    stamp: Callable[[float], str] | None = None,
    events: int = 5,
) -> str:
    """The live view / ``status`` text: listeners, services with their state word and counts, deployments,
    tasks with their target health, recent events. ``width``: cut lines to the terminal (None: never);
    ``colour``: ANSI colours; ``stamp``: how an event time is shown (default local ``HH:MM:SS``)."""
    fmt = stamp or (lambda t: datetime.fromtimestamp(t).strftime("%H:%M:%S"))
    lines: list[list[Segment]] = [[("LOAD BALANCERS", HEAD)]]
    for lb in status.get("load_balancers", ()):
        lines.append([(f"  {lb['name']} ({lb['scheme']})", None)])
        for lst in lb.get("listeners", ()):
            lines.append([(f"    {lst['protocol']}:{lst['port']:<5} {lst['url']}", None)])
    lines.append([("SERVICES", HEAD)])
    for svc in status.get("services", ()):
        word, tone = service_state(svc)
        healthy = _healthy(svc)
        counts = f"  desired {svc['desired']}  running {svc['running']}  pending {svc['pending']}"
        row: list[Segment] = [
            (f"  {svc['name']}  ", None),
            (word, tone),
            (counts + (f"  healthy {healthy}" if _has_targets(svc) else ""), None),
        ]
        if svc.get("log_lines_dropped"):
            row.append((f"  log lines dropped {svc['log_lines_dropped']}", WARN))
        lines.append(row)
        for d in svc.get("deployments", ()):
            td = short_arn(str(d["task_definition"]))
            d_tone = {"COMPLETED": GOOD, "FAILED": BAD}.get(str(d["rollout_state"]), WARN)
            lines.append(
                [
                    (f"    deployment {d['id']} {d['status']} ", None),
                    (str(d["rollout_state"]), d_tone),
                    (f" {td}", None),
                ]
            )
        for t in svc.get("tasks", ()):
            head = f"    task {str(t['id'])[:SHORT_ID]} {t['last_status']:<12} health {t['health']:<9} "
            row = [(head, None)]
            if t.get("target"):
                row.append((f"{t['target']} ", None))
                state = t.get("target_state") or ""
                row.append((state, TARGET_TONES.get(state)))
                if t.get("target_reason"):
                    row.append((f" ({t['target_reason']})", None))
            if t.get("log_lines_dropped"):
                row.append((f" log lines dropped {t['log_lines_dropped']}", WARN))
            lines.append(row)
        for ev in list(svc.get("events", ()))[:events]:
            lines.append([(f"    {fmt(float(ev['created_at']))} {short_text(str(ev['message']))}", DIM)])
    lines.extend(
        [(line, HEAD if line == "BACKING" else None)] for line in render_backing(status.get("backing"))
    )
    for note in status.get("notes", ()):
        lines.append([("note: ", WARN), (str(note), None)])
    lines.extend(render_logs_and_orphans(status))
    if status.get("not_steady"):
        lines.append([("NOT STEADY", WARN)])
        lines.extend([(f"  {short_text(str(line))}", None)] for line in status["not_steady"])
    if status.get("api_url"):
        lines.append([(f"AWS API  {status['api_url']}", None)])
    return "\n".join(_render_line(segs, width, colour) for segs in lines)


def render_logs_and_orphans(status: Mapping[str, Any]) -> list[list[Segment]]:
    """Task output that could not be written (``log_lines_dropped``, ``log_write_error``) and the orphan
    processes of the state dir (``orphans``), with what to do about them."""
    out: list[list[Segment]] = []
    dropped = int(status.get("log_lines_dropped") or 0)
    error = status.get("log_write_error")
    if dropped or error:
        why = f"task output cannot be written ({error})" if error else "task output was lost"
        out.append([("LOGS  ", WARN), (f"{why}: {dropped} line{'s' if dropped != 1 else ''} dropped", None)])
    found = list(status.get("orphans") or ())
    if found:
        out.append([("ORPHANS", BAD), ("  processes of this state dir that belong to no running task", None)])
        for o in found:
            owner = f" task {str(o['task_id'])[:SHORT_ID]}" if o.get("task_id") else ""
            owner += f" container {o['container']}" if o.get("container") else ""
            out.append([(f"  pid {o['pid']}{owner}: {o.get('command') or '?'}", None)])
        out.append([("  `albfargate down` kills them (or kill PID)", DIM)])
    return out


def render_backing(backing: Mapping[str, Any] | None) -> list[str]:
    """The BACKING part of the view: each database with its engine, versions, URL (password hidden),
    data directory and state; each S3 bucket with its state, URL, data directory and size; the secrets
    and parameters by name (never a value)."""
    if not backing:
        return []
    out = ["BACKING"]
    for db in backing.get("databases", []):
        if db.get("state") == "not emulated":
            out.append(f"  database {db['logical_id']}  not emulated: {db.get('reason')}")
            continue
        version = f"{db.get('engine_version') or '-'} (local {db.get('local_version') or '-'})"
        out.append(f"  database {db['logical_id']}  {db['engine']} {version}  {db['state']}")
        if db.get("url"):
            out.append(f"    {db['url']}")
        out.append(f"    data {db.get('data_dir')}  log {db.get('log')}")
        if db.get("reason") and db["state"] != "running":
            out.append(f"    {db['reason']}")
    for b in backing.get("buckets", []):
        label = b.get("logical_id") or "(made through the API)"
        out.append(
            f"  bucket {label}  s3 {b['name']}  {b['state']}  {b['objects']} objects, {b['bytes']} bytes"
        )
        if b.get("url"):
            out.append(f"    {b['url']}")
        out.append(f"    data {b.get('data_dir')}")
    secrets = backing.get("secrets", [])
    params = backing.get("parameters", [])
    if secrets:
        out.append(f"  secrets: {', '.join(s['name'] for s in secrets)}")
    if params:
        out.append(f"  parameters: {', '.join(p['name'] for p in params)}")
    return out


def _render_line(segments: Sequence[Segment], width: int | None, colour: bool) -> str:
    out = []
    room = width if width is not None and width > 1 else None
    for text, tone in segments:
        if room is not None:
            if room <= 0:
                break
            if len(text) > room:
                text = text[: room - 1] + "…"
            room -= len(text)
        out.append(f"\x1b[{_ANSI[tone]}m{text}\x1b[0m" if colour and tone and text else text)
    return "".join(out).rstrip() if not colour else "".join(out)
