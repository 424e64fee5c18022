"""A real MariaDB server per database resource (engines ``mysql``, ``mariadb``, ``aurora-mysql``).

Binaries: ``$ALBFARGATE_MYSQL_BIN`` (a directory holding ``mariadbd``, ``mariadb-install-db`` and the
``mariadb`` client) when set, else the machine's MariaDB (Debian's ``mariadb-server``: on ``PATH``, or in
``/usr/sbin`` and ``/usr/bin``). When none is there the database is *not available*: one line says what
to install, the rest of the app runs, and ``status`` shows it. Oracle's MySQL server alone is not used
(its initialisation differs); the engines ``mysql`` and ``aurora-mysql`` run on MariaDB, which says so once.

Data: ``<state_dir>/data/mysql/<logical id>/datadir`` (made by ``mariadb-install-db`` in a temporary
directory and renamed, so an interrupted init never leaves a half directory), ``albfargate.json`` beside
it (the last port, the version that made it). The install leaves one administrative account,
``root@localhost`` without a password, reachable only through the Unix socket in a private directory
(mode 0700); the TCP ``root`` accounts are dropped before the server first listens. The server listens on
127.0.0.1 only (``--skip-name-resolve``, no defaults files read). On every start the master user
(``'<user>'@'%'``, every privilege, as RDS's master user has most) gets the template's password again and
``DBName`` is created when missing. As root the server runs as ``nobody`` in a user namespace, as
PostgreSQL does (``server.unprivileged_prefix``). A directory that is not a MariaDB data directory, or one
made by a newer MariaDB, is an error and is never wiped."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .dbversions import ServerVersion, data_too_new, mysql_version_note, parse_series, parse_server_version
from .runner import DatabaseRunner
from .server import (
    ServerStartError,
    clear_previous,
    log_tail,
    run_with_input,
    socket_dir,
    spawn_server,
    stop_server,
    timed,
    unprivileged_prefix,
    wait_listening,
)
from .templates import materialise, template_key

BIN_ENV = "ALBFARGATE_MYSQL_BIN"
START_TIMEOUT = 60.0
INSTALL_HINT = "install MariaDB (`apt-get install mariadb-server`) and run `albfargate up` again"
_BIND_FAILED = re.compile(r"Bind on TCP/IP port|Address already in use|Can't start server: Bind", re.I)
_NOT_READY = re.compile(r"Can't connect to local (MySQL|MariaDB) server through socket|\(2002\)|\(2013\)")
#: server options, the same at install and at every start (small: a local development database)
SERVER_OPTIONS = (
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=16M",
    "--innodb-log-buffer-size=4M",
    "--aria-pagecache-buffer-size=8M",  # Aria holds the system tables; 128M by default
    "--key-buffer-size=8M",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--max-allowed-packet=64M",
    "--skip-log-bin",
)
# run after the system tables are made, before the server ever listens: no root account over TCP
_INSTALL_SQL = (
    "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n"
    "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n"
)


class NotAvailable(ServerStartError):
    not_available = True


@dataclass(frozen=True, slots=True)
class Binaries:
    server: str
    install_db: str
    client: str
    version: ServerVersion
    source: str  # "system" | "$ALBFARGATE_MYSQL_BIN"


def _first(names: tuple[str, ...], dirs: list[str] | None) -> str | None:
    for name in names:
        if dirs is None:
            found = shutil.which(name)
            if found:
                return found
            for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
                if os.access(f"{d}/{name}", os.X_OK):
                    return f"{d}/{name}"
        else:
            for d in dirs:
                if os.access(f"{d}/{name}", os.X_OK):
                    return f"{d}/{name}"
    return None


def find_server() -> Binaries | None:
    """The local MariaDB (server, install-db and client binaries, version), or None."""
    explicit = os.environ.get(BIN_ENV)
    dirs = [explicit] if explicit else None
    server = _first(("mariadbd", "mysqld"), dirs)
    install = _first(("mariadb-install-db", "mysql_install_db"), dirs)
    client = _first(("mariadb", "mysql"), dirs)
    if not (server and install and client):
        return None
    try:
        out = subprocess.run([server, "--version"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    version = parse_server_version(out)
    if version is None or version.flavour != "MariaDB":
        return None
    return Binaries(server, install, client, version, f"${BIN_ENV}" if explicit else "system")


def _literal(text: str) -> str:
    """A MariaDB string literal (the default sql_mode: backslash escapes on)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


def _ident(text: str) -> str:
    return "`" + text.replace("`", "``") + "`"


def admin_script(*, username: str, password: str, db_name: str | None) -> str:
    """The SQL run on every start (pure): the master user exists from any host with the template's
    password and every privilege; DBName exists."""
    account = f"{_literal(username)}@'%'"
    lines = [
        "SET SESSION sql_mode = 'STRICT_TRANS_TABLES';",
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_literal(password)};",
        f"ALTER USER {account} IDENTIFIED BY {_literal(password)};",
        f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;",
    ]
    if db_name:
        lines.append(f"CREATE DATABASE IF NOT EXISTS {_ident(db_name)};")
    return "\n".join(lines) + "\n"


class MysqlRunner(DatabaseRunner):
    kind = "mysql"

    default_db_name = None

    @property
    def datadir(self) -> Path:
        return self.data / "datadir"

    # ---- checks ----------------------------------------------------------------------------------
    def _data_version(self) -> tuple[int, int] | None:
        """(major, minor) of the MariaDB that made the data directory; None for a new one (or an
        unrecorded version). A directory that is there but is not a MariaDB one raises (never wiped)."""
        if self.datadir.is_dir():
            if not (self.datadir / "mysql").is_dir() or not (self.datadir / "ibdata1").is_file():
                raise ServerStartError(
                    f"database {self.db.logical_id}: {self.datadir} is not a MariaDB data directory (no "
                    f"mysql/ system schema or no ibdata1); it was left as it is: move it away, or delete it "
                    f"with `albfargate down --volumes`"
                )
            info = self.datadir / "mysql_upgrade_info"
            if info.is_file():
                text = info.read_text(errors="replace").strip()
                series = parse_series(text)
                if series is None:
                    raise ServerStartError(
                        f"database {self.db.logical_id}: {info} is corrupt ({text[:20]!r}); the data "
                        f"directory was left as it is"
                    )
                return series
            return None
        if self.data.is_dir():
            foreign = [p.name for p in self.data.iterdir() if p.name not in ("albfargate.json", "run")]
            if foreign and not all(n.lstrip(".").startswith("datadir.init") for n in foreign):
                raise ServerStartError(
                    f"database {self.db.logical_id}: {self.data} holds files albfargate did not make "
                    f"({', '.join(sorted(foreign)[:3])}); it was left as it is: move them away, or delete "
                    f"the directory with `albfargate down --volumes`"
                )
        return None

    # ---- start -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.status.state = "starting"
        binaries = await asyncio.to_thread(find_server)
        if binaries is None:
            raise NotAvailable(
                f"database {self.db.logical_id} ({self.db.engine}) is not running: no MariaDB server is "
                f"installed; {INSTALL_HINT}"
            )
        self.log.parent.mkdir(parents=True, exist_ok=True)
        made_by = self._data_version()
        local = binaries.version
        self.status.local_version = local.series
        self.status.server = f"{local} ({binaries.source})"
        if data_too_new(made_by, local):
            assert made_by is not None
            series = f"{made_by[0]}.{made_by[1]}"
            raise ServerStartError(
                f"database {self.db.logical_id}: its data directory {self.datadir} was made by MariaDB "
                f"{series}; this machine has {local}; install MariaDB {series} or newer (or set "
                f"${BIN_ENV}); the data was left as it is"
            )
        note = mysql_version_note(self.db.engine, self.db.engine_version, local)
        if note:
            self.note(f"database {self.db.logical_id}: {note}")
        prefix = unprivileged_prefix()
        self.data.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data, 0o700)
        meta = self._meta()
        if not self.datadir.is_dir():
            with timed(self.status, "init"):
                self.status.data_init = await self._install(binaries, prefix)
            meta = {"engine": self.db.engine, "made_by": str(local)}
            self._save_meta(meta)
        sock = socket_dir(self.data, "albfargate-my", len("/mysqld.sock"))
        sock.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(sock, 0o700)
        await clear_previous(sock / "mysqld.pid", self.state_dir, f"database {self.db.logical_id}")
        await self._listen(meta, 3306, lambda port: self._run_server(binaries, prefix, sock, port))
        with timed(self.status, "setup"):
            await self._admin(binaries, sock)
        self.status.state = "running"

    def _failed(self, what: str) -> ServerStartError:
        lines = [ln for ln in log_tail(self.log, self._log_start) if ln.strip()]
        # the last error that says why (MariaDB ends with a bare "[ERROR] Aborting")
        reason = next(
            (
                ln
                for ln in reversed(lines)
                if re.search(r"\[ERROR\]|ERROR:|Can't|error", ln) and not ln.rstrip().endswith("Aborting")
            ),
            lines[-1] if lines else what,
        )
        reason = re.sub(r"^\d{4}-\d\d-\d\d\s+\S+\s+\d+\s+", "", reason.strip())
        return ServerStartError(f"database {self.db.logical_id}: {what}: {reason} (log: {self.log})")

    async def _install(self, binaries: Binaries, prefix: tuple[str, ...]) -> str:
        """A new data directory at ``datadir``: a copy of this build's template (``backing/templates.py``),
        made by ``mariadb-install-db`` the first time. Returns how (``copied``, ``made``, ``direct``)."""
        tmp = self.data / "datadir.init"
        if tmp.exists():
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        st = Path(binaries.server).stat()
        key = template_key(
            "mariadb",
            binaries.version.series + f".{binaries.version.patch}",
            binaries.server,
            f"{binaries.version} {st.st_size} {st.st_mtime_ns} {' '.join(SERVER_OPTIONS)}",
        )
        how = await materialise(key, tmp, lambda target: self._run_install(binaries, prefix, target))
        tmp.rename(self.datadir)
        return how

    async def _run_install(self, binaries: Binaries, prefix: tuple[str, ...], target: Path) -> None:
        extra = target.parent / f".{target.name}.install.sql"
        extra.write_text(_INSTALL_SQL)
        extra.chmod(0o644)
        try:
            with self.log.open("ab") as logf:
                proc = await asyncio.create_subprocess_exec(
                    *prefix,
                    binaries.install_db,
                    "--no-defaults",
                    f"--datadir={target}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    f"--extra-file={extra}",
                    *SERVER_OPTIONS,
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                )
                rc = await proc.wait()
        finally:
            extra.unlink(missing_ok=True)
        if rc != 0 or not (target / "mysql").is_dir():
            raise self._failed(f"mariadb-install-db failed (exit {rc})")

    async def _run_server(
        self, binaries: Binaries, prefix: tuple[str, ...], sock: Path, port: int
    ) -> tuple[bool, bool]:
        """(started, failed because the port could not be bound)."""
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        argv = [
            *prefix,
            binaries.server,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--bind-address={self.host}",
            f"--port={port}",
            f"--socket={sock / 'mysqld.sock'}",
            f"--pid-file={sock / 'mysqld.pid'}",
            *SERVER_OPTIONS,
        ]
        with self.log.open("ab") as logf:
            # SIGTERM is MariaDB's normal shutdown (it ignores SIGINT)
            self.proc = spawn_server(
                argv, state_dir=self.state_dir, log=logf, pid_path=self.pid_path, death_signal=signal.SIGTERM
            )
        ok = await wait_listening(self.proc, self.host, port, timeout=START_TIMEOUT)
        if ok:
            return True, False
        await stop_server(self.proc, self.pid_path, first=signal.SIGTERM, grace=5.0)
        text = "\n".join(log_tail(self.log, self._log_start))
        return False, bool(_BIND_FAILED.search(text))

    async def _admin(self, binaries: Binaries, sock: Path) -> None:
        script = admin_script(username=self.username, password=self.password, db_name=self.db.db_name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            rc, text = await run_with_input(
                [
                    binaries.client,
                    "--no-defaults",
                    "--protocol=socket",
                    f"--socket={sock / 'mysqld.sock'}",
                    "--user=root",
                    "--batch",
                    "--connect-timeout=10",
                ],
                script.encode(),
            )
            if rc == 0:
                return
            if _NOT_READY.search(text) and loop.time() < deadline and self.running():
                await asyncio.sleep(0.1)
                continue
            message = [ln for ln in text.replace(self.password, "****").strip().splitlines() if ln.strip()]
            await self.stop()
            raise ServerStartError(
                f"database {self.db.logical_id}: setting up the master user and database failed: "
                f"{message[-1] if message else 'mariadb exit ' + str(rc)} (log: {self.log})"
            )

    # ---- running ---------------------------------------------------------------------------------
    async def stop(self) -> None:
        await stop_server(self.proc, self.pid_path, first=signal.SIGTERM, grace=15.0)
        if self.status.state == "running":
            self.status.state = "stopped"
        self.proc = None
        self.status.pid = None
