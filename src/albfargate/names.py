"""How the CLI resolves the service and task a user names, the same way in every command (``logs``,
``scale``, ``redeploy``, ``stop-task``): the exact name or ARN (for a task: its id, or the id at the end
of its ARN), else the one name that starts with what was given (case-sensitive first, then ignoring case),
else an error that lists the candidates and says what to do. Pure: the caller passes the candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from albfargate.errors import AlbfargateError

#: At most this many candidates are listed in an error.
MAX_LISTED = 12


class NameNotFound(AlbfargateError):
    """The name given matches no candidate, or more than one."""


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str  # a service name, or a task id
    arn: str = ""


def resolve(query: str, candidates: Sequence[Candidate], *, kind: str, hint: str = "") -> str:
    """The name of the one candidate ``query`` means (see the module docstring); ``kind`` ("service",
    "task") and ``hint`` (where to see them, e.g. "`albfargate status`") word the errors."""
    q = query.strip()
    if kind == "task" and q.startswith("arn:"):
        q = q.rsplit("/", 1)[-1]
    for c in candidates:
        if q in (c.name, c.arn):
            return c.name
    for fold in (False, True):
        if fold:
            matches = [c for c in candidates if c.name.lower().startswith(q.lower())]
        else:
            matches = [c for c in candidates if c.name.startswith(q)]
        if len(matches) == 1 and q:
            return matches[0].name
        if len(matches) > 1 and q:
            raise NameNotFound(f"{kind} {query!r} is ambiguous ({_listed(matches)}); give more of the name")
    see = f" ({hint})" if hint else ""
    if not candidates:
        raise NameNotFound(f"no {kind} {query!r}: there are no {kind}s{see}")
    raise NameNotFound(f"no {kind} {query!r}; the {kind}s are {_listed(candidates)}{see}")


def _listed(cands: Sequence[Candidate]) -> str:
    names = sorted(c.name for c in cands)
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more
