"""A real MySQL or MariaDB server per database resource (engines ``mysql``, ``mariadb``, ``aurora-mysql``).

Uses the server installed on the machine (Debian's ``mariadb-server``: ``mariadbd``/``mysqld`` and
``mariadb-install-db``/``mysql_install_db``). When none is there, the database is *not available*: one
line says what to install, the rest of the app runs, and ``status`` shows it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from albfargate.model.backing import Database

from .server import ServerStartError, ServerStatus, data_dir, log_path


class NotAvailable(ServerStartError):
    not_available = True


def find_server() -> tuple[str, str] | None:
    """(server binary, install-db binary) of a local MariaDB/MySQL, or None."""
    for server, install in (("mariadbd", "mariadb-install-db"), ("mysqld", "mysql_install_db")):
        s = shutil.which(server) or (f"/usr/sbin/{server}" if Path(f"/usr/sbin/{server}").is_file() else None)
        i = shutil.which(install) or (
            f"/usr/bin/{install}" if Path(f"/usr/bin/{install}").is_file() else None
        )
        if s and i:
            return s, i
    return None


class MysqlRunner:
    kind = "mysql"

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
        self.data = data_dir(state_dir, "mysql", db.logical_id)
        self.log = log_path(state_dir, db)
        self.status = ServerStatus(
            key=db.key,
            logical_id=db.logical_id,
            identifier=db.identifier,
            engine=db.engine,
            engine_version=db.engine_version,
            username=username,
            db_name=db.db_name,
            data_dir=str(self.data),
            log_path=str(self.log),
            host=host,
        )

    async def start(self) -> None:
        if find_server() is None:
            raise NotAvailable(
                f"database {self.db.logical_id} ({self.db.engine}) is not running: "
                f"no MySQL or MariaDB server "
                f"is installed; install one (`apt-get install mariadb-server`) and run `albfargate up` again"
            )
        raise NotAvailable(f"database {self.db.logical_id}: MySQL is not implemented yet")

    def running(self) -> bool:
        return False

    async def stop(self) -> None:
        return None
