"""Database versions (pure): what an ``EngineVersion`` asks for, what a local server's ``--version`` says,
and the one line ``up`` prints when the two differ.

PostgreSQL compares majors (``16.3`` -> 16). MySQL and MariaDB compare ``major.minor`` (``8.0.35`` ->
8.0, ``10.11.6`` -> 10.11; Aurora MySQL's ``8.0.mysql_aurora.3.05.2`` -> MySQL 8.0). Engines ``mysql``
and ``aurora-mysql`` run on MariaDB locally, which is MySQL-compatible but not MySQL: that is always said,
once."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MARIADB = re.compile(r"(\d+)\.(\d+)\.(\d+)-MariaDB", re.I)
_MYSQL = re.compile(r"\bVer\s+(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """A local MySQL-family server's version: ``flavour`` is ``MariaDB`` or ``MySQL``."""

    flavour: str
    major: int
    minor: int
    patch: int

    @property
    def series(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.flavour} {self.major}.{self.minor}.{self.patch}"


def parse_server_version(text: str) -> ServerVersion | None:
    """``mariadbd --version`` / ``mysqld --version`` output -> its version; None when unreadable."""
    m = _MARIADB.search(text)
    if m:
        return ServerVersion("MariaDB", int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _MYSQL.search(text)
    if m:
        return ServerVersion("MySQL", int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def parse_series(text: str | None) -> tuple[int, int] | None:
    """``10.11.6`` / ``8.0.mysql_aurora.3.05.2`` / ``10.11.6-MariaDB`` -> (major, minor)."""
    if not text:
        return None
    m = re.match(r"\s*(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 0)


def postgres_major(engine_version: str | None) -> int | None:
    """The PostgreSQL major an ``EngineVersion`` asks for (``16.3`` -> 16, ``9.6.22`` -> 9)."""
    series = parse_series(engine_version)
    return series[0] if series else None


def postgres_version_note(engine_version: str | None, local_major: int, source: str) -> str | None:
    """What to say once about a PostgreSQL database's version, or None when the majors agree (or the
    template names none)."""
    want = postgres_major(engine_version)
    if want is None or want == local_major:
        return None
    return (
        f"EngineVersion {engine_version} asks for PostgreSQL {want}; running PostgreSQL {local_major} "
        f"({source})"
    )


def mysql_version_note(engine: str, engine_version: str | None, local: ServerVersion) -> str | None:
    """What to say once about a MySQL-family database's version, or None when the local server is what
    the template asks for (same flavour and series)."""
    wanted_flavour = "MariaDB" if engine == "mariadb" else "MySQL"
    asked = parse_series(engine_version)
    if wanted_flavour == local.flavour and (asked is None or asked == (local.major, local.minor)):
        return None
    compatible = f" ({wanted_flavour}-compatible, not {wanted_flavour} itself)"
    if asked is None:
        return f"engine {engine} runs on {local} locally{compatible}"
    running = f"running {local}"
    if wanted_flavour != local.flavour:
        running += compatible
    return f"EngineVersion {engine_version} asks for {wanted_flavour} {asked[0]}.{asked[1]}; {running}"


def data_too_new(made_by: tuple[int, int] | None, local: ServerVersion) -> bool:
    """Whether a data directory made by ``made_by`` cannot be opened by ``local`` (a downgrade)."""
    return made_by is not None and made_by > (local.major, local.minor)
