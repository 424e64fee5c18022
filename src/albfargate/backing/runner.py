"""The part of a database runner PostgreSQL and MariaDB share: its paths and status record, its
``albfargate.json`` (engine, bootstrap user, the port it had last time), starting the server on its port
(the one it had last time, else the database's, else the engine's default; the next free one when that is
taken) with the result written back, and whether it still runs. ``postgres.py`` and ``mysql.py`` own the
rest: the binaries, the data directory's init and checks, the server's arguments and the admin set-up."""

from __future__ import annotations

import abc
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

from albfargate.model.backing import Database

from .server import (
    ServerStartError,
    ServerStatus,
    data_dir,
    log_path,
    pid_file,
    read_meta,
    start_on_free_port,
    write_meta,
)


class DatabaseRunner(abc.ABC):
    """One database's server process (the subclasses say how to start and set it up)."""

    kind = ""
    default_db_name: str | None = None  # the status's database name when the template names none
    _log_start = 0  # where this start's lines begin in the log

    def __init__(
        self,
        db: Database,
        *,
        state_dir: Path,
        host: str,
        username: str,
        password: str,
        note: Callable[[str], None],
        exclude_ports: frozenset[int] = frozenset(),
    ) -> None:
        self.db = db
        self.state_dir = state_dir
        self.host = host
        self.username = username
        self.password = password
        self.note = note
        self.exclude_ports = exclude_ports
        self.data = data_dir(state_dir, self.kind, db.local_name)
        self.meta_path = self.data / "albfargate.json"
        self.log = log_path(state_dir, db)
        self.pid_path = pid_file(state_dir, db)
        self.proc: subprocess.Popen[bytes] | None = None
        self.status = ServerStatus(
            key=db.key,
            logical_id=db.logical_id,
            identifier=db.identifier,
            engine=db.engine,
            engine_version=db.engine_version,
            username=username,
            db_name=db.db_name or self.default_db_name,
            data_dir=str(self.data),
            log_path=str(self.log),
            host=host,
        )

    def _meta(self) -> dict[str, object]:
        return read_meta(self.meta_path)

    def _save_meta(self, doc: dict[str, object]) -> None:
        write_meta(self.meta_path, doc)

    @abc.abstractmethod
    def _failed(self, what: str) -> ServerStartError:
        """The error for a start that failed (``what`` happened), with the reason from the server's log."""

    async def _listen(
        self, meta: dict[str, object], default_port: int, run: Callable[[int], Awaitable[tuple[bool, bool]]]
    ) -> int:
        """Start the server through ``run(port)`` (``backing.server.start_on_free_port``) and record where
        it listens: the status's port and pid, and the port in ``albfargate.json`` for the next start."""
        last = meta.get("port")
        preferred = int(last) if isinstance(last, int) else (self.db.port or default_port)
        port = await start_on_free_port(
            what=f"database {self.db.logical_id}",
            host=self.host,
            preferred=preferred,
            exclude=self.exclude_ports,
            status=self.status,
            note=self.note,
            run=run,
            failed=self._failed,
        )
        self.status.port = port
        self.status.pid = self.proc.pid if self.proc else None
        meta["port"] = port
        self._save_meta(meta)
        return port

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
