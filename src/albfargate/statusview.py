"""What the run commands print about a running system, from its ``status --json`` document (pure: no I/O,
no clock; the caller passes the terminal width, the time and whether to colour).

Owns the port notes (a listener or the API endpoint not on the port it asked for), the words of the status
view (``steady``, ``deploying 1/2``, ``failed: <reason>``), short forms of ARNs and ids (the full ones stay
in ``--json``), colour, and the progress lines of ``up --detach`` (one line per change)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
