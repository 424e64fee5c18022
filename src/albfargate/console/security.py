"""The console's request guards and redaction (pure decisions; docs/console.md, "Security rules").

- :func:`check_host`: the DNS-rebinding guard, the AWS endpoint's own (``api.server.is_loopback_host``):
  a request whose ``Host`` is not a loopback name or address is refused, whatever it asks for.
- :func:`check_state_change`: every method other than GET/HEAD needs the per-run CSRF token in
  ``X-Albfargate-Csrf`` and an ``Origin`` equal to the console's own origin as the request reached it
  (``http://<Host>``); the token is compared in constant time.
- What is never rendered: credential headers of captured requests are masked
  (``console.views.mask_headers``, pure) and no task environment is rendered at all, so no secret value of
  one can leak."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from albfargate.api.server import is_loopback_host

CSRF_HEADER = "x-albfargate-csrf"

SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str  # host | csrf | origin
    message: str


def check_host(host: str | None) -> Refusal | None:
    """None when ``host`` is a loopback name or address (with or without a port), else a 403."""
    if is_loopback_host(host):
        return None
    return Refusal(
        403,
        "host",
        f"Host {host!r} is not a loopback name; the console serves only requests made to 127.0.0.1 or "
        "localhost (open the URL albfargate printed)",
    )


def same_origin(origin: str | None, host: str | None) -> bool:
    """``Origin`` names the console itself: ``http://`` + the request's ``Host`` (case-insensitive)."""
    if not origin or not host or origin == "null":
        return False
    return origin.rstrip("/").lower() == f"http://{host.strip().lower()}"


def check_state_change(method: str, headers: Mapping[str, str], token: str) -> Refusal | None:
    """None for GET/HEAD, or when the CSRF token and the Origin are right; else the 403 to answer. The
    token is checked first. ``headers`` has lower-cased names."""
    if method.upper() in SAFE_METHODS:
        return None
    given = headers.get(CSRF_HEADER, "")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return Refusal(
            403,
            "csrf",
            "missing or wrong X-Albfargate-Csrf token: reload the console (GET /api/session gives the token "
            "of this run)",
        )
    if not same_origin(headers.get("origin"), headers.get("host")):
        return Refusal(
            403,
            "origin",
            f"Origin {headers.get('origin')!r} is not this console's: state-changing requests are taken only "
            "from the console's own page",
        )
    return None
