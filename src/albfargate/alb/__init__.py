"""The local Application Load Balancer: pure cores (rules, balancing, health, desync, responses) and
the asyncio shell (listeners, proxying, health checks, access logs, metrics).

Importing this package switches on the mypyc-compiled hot path when a build matching the current sources
exists and ``ALBFARGATE_COMPILED`` is not ``0`` (see :mod:`albfargate._compiled`)."""

from albfargate import _compiled

_compiled.activate_for(__path__)


def compiled() -> bool:
    """True when the compiled hot-path modules are the ones imported (False: pure Python)."""
    return _compiled.active() is not None
