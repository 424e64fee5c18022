"""How a stack's outputs open the app locally: a load balancer's DNS name in an output value
(``ServiceURL`` = ``http://<dns name>``, ``LoadBalancerDNS`` = ``<dns name>``, as the CDK's
ApplicationLoadBalancedFargateService writes them) is shown as the same name under ``.localhost`` with
the local port of the listener it means: ``http://Name-123.us-east-1.elb.localhost:8080``. A name under
``localhost`` resolves to the loopback address (RFC 6761; curl and browsers do so themselves), so the
output opens the app with ``curl "$ServiceURL"`` and in a browser. Documented in docs/deploy-local.md.

Which listener: an explicit ``:PORT`` after the name picks the listener of that template port; else
``https://`` picks the HTTPS listener (the one on 443 first), ``http://`` or a bare name the HTTP one
(on 80 first); a name whose listener is not bound (yet) is left as it is. The stored outputs (and the
exports other stacks import) keep the AWS-shaped value; this is applied when they are shown.

Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from albfargate.api.backend import LocalListener

_AWS_SUFFIXES = (".amazonaws.com.cn", ".amazonaws.com")


def local_host(dns_name: str) -> str:
    """``Name-1.us-east-1.elb.amazonaws.com`` -> ``Name-1.us-east-1.elb.localhost``."""
    lower = dns_name.lower()
    for suffix in _AWS_SUFFIXES:
        if lower.endswith(suffix):
            return dns_name[: -len(suffix)] + ".localhost"
    return dns_name + ".localhost"


def _pick(listeners: Sequence[LocalListener], scheme: str | None, port: str | None) -> LocalListener | None:
    if port is not None:
        return next((x for x in listeners if x.port == int(port)), None)
    protocol = "HTTPS" if scheme and scheme.lower().startswith("https") else "HTTP"
    default = 443 if protocol == "HTTPS" else 80
    of_protocol = sorted(
        (x for x in listeners if x.protocol == protocol), key=lambda x: (x.port != default, x.port)
    )
    return of_protocol[0] if of_protocol else None


def localize(value: str, listeners: Iterable[LocalListener]) -> str:
    """``value`` with every load balancer DNS name of ``listeners`` made local (module docstring)."""
    by_name: dict[str, list[LocalListener]] = {}
    for x in listeners:
        by_name.setdefault(x.dns_name.lower(), []).append(x)
    for name in sorted(by_name, key=len, reverse=True):
        if name not in value.lower():
            continue
        group = by_name[name]
        pattern = re.compile(
            r"(?P<scheme>https?://)?" + re.escape(name) + r"(?::(?P<port>\d{1,5}))?(?![\w.-])", re.IGNORECASE
        )

        def repl(m: re.Match[str], group: list[LocalListener] = group) -> str:
            chosen = _pick(group, m.group("scheme"), m.group("port"))
            if chosen is None:
                return m.group(0)
            host = local_host(m.group(0)[len(m.group("scheme") or "") :].split(":", 1)[0])
            return f"{m.group('scheme') or ''}{host}:{chosen.local_port}"

        value = pattern.sub(repl, value)
    return value
