"""What the run commands print about a running system, from its ``status --json`` document (pure: no I/O,
no clock; the caller passes the terminal width, the time and whether to colour).

Owns the port notes (a listener or the API endpoint not on the port it asked for), the words of the status
view (``steady``, ``deploying 1/2``, ``failed: <reason>``), short forms of ARNs and ids (the full ones stay
in ``--json``), colour, and the progress lines of ``up --detach`` (one line per change)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
