"""The backing resources of one running system, as the engine drives them.

Start order (:meth:`BackingManager.start`, before the load balancers and the services): (1) the local
stores of secrets and parameters are opened; (2) every secret the template makes is generated (or
resolved) once and kept; (3) parameters whose values need no database are kept; (4) every database server
starts, each on 127.0.0.1 (its template port, else the next free one, printed); one that fails prints one
line with the reason and its log and the rest goes on; (5) ``SecretTargetAttachment`` fields are added
to the attached secrets and what waited for a database endpoint is resolved. :meth:`stop` stops the
servers last, after the tasks.

:meth:`resolve_text` and :meth:`task_secret` are what tasks (and outputs) see: every reference replaced,
or :class:`~albfargate.backing.references.Unresolved` with the reason, so a placeholder never reaches a
task. Secret values are never printed, logged or put in ``status``."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from albfargate.model.backing import Database, EngineFamily, Parameter, SecretSpec, SecretTargetAttachment
from albfargate.model.system import SystemModel

from . import endpoints
from .passwords import PasswordError, generated_secret_string
from .references import (
    BadReference,
    EndpointRef,
    ParameterRef,
    Reference,
    SecretRef,
    Unresolved,
    json_field,
    parameter_name,
    parse_value_from,
    references_in,
    substitute,
)
from .server import ServerStartError, ServerStatus
from .store import NotFound, ParameterStore, SecretStore


class Runner(Protocol):
    status: ServerStatus

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def running(self) -> bool: ...


def slot(db: Database) -> str:
    """The key of a database's runner and status: ``stack/logical id``, and its data name when it has
    one (a CloudFormation replacement runs beside the database it replaces until the cleanup)."""
    return f"{db.key}@{db.data_name}" if db.data_name else db.key


def _default_user(db: Database) -> str:
    return "postgres" if db.family is EngineFamily.POSTGRES else "admin"


class BackingManager:
    def __init__(
        self,
        model: SystemModel,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        note: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        secrets: SecretStore | None = None,
        parameters: ParameterStore | None = None,
    ) -> None:
        self.model = model
        self.state_dir = state_dir
        self.host = host
        self.note = note or (lambda line: print(f"albfargate: {line}", flush=True))
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        # the stores the AWS endpoint already serves, when it opened them first (an app without backing
        # resources, whose first database comes from a CloudFormation stack)
        self.secrets = secrets or SecretStore(
            state_dir / "data" / "secretsmanager" / "secrets.json", clock=clock, rng=self.rng
        )
        self.parameters = parameters or ParameterStore(
            state_dir / "data" / "ssm" / "parameters.json", clock=clock
        )
        #: databases started at run time (CloudFormation stacks'), by slot (see :func:`slot`)
        self.added: dict[str, Database] = {}
        self.runners: dict[str, Runner] = {}
        self._done: set[str] = set()  # logical ids of the secrets and parameters made in this run
        self.statuses: dict[str, ServerStatus] = {}
        self.unsupported = [
            n for n in model.not_emulated if n.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
        ]

    # ---- start -----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.unsupported:
            names = ", ".join(f"{n.logical_id} ({n.reason.split(' is ')[0]})" for n in self.unsupported)
            self.note(f"warning: not emulated: {names}; tasks that use them will not start")
        pending: list[SecretSpec | Parameter] = [*self.model.secrets, *self.model.parameters]
        pending = self._settle(pending, final=False)  # what needs no database endpoint
        await asyncio.gather(*(self._start_database(db) for db in self.model.databases))
        self._attach()
        self._settle(pending, final=True)

    def _settle(self, pending: list[SecretSpec | Parameter], *, final: bool) -> list[SecretSpec | Parameter]:
        """Keep every secret and parameter whose references resolve, in as many passes as one needing
        another takes; returns what is still unresolved (warned about when ``final``)."""
        while pending:
            left: list[SecretSpec | Parameter] = []
            errors: dict[str, str] = {}
            for item in pending:
                waits_for = self._waits_for(item)
                if waits_for:
                    left.append(item)
                    errors[item.logical_id] = f"{waits_for} was not made"
                    continue
                try:
                    if isinstance(item, SecretSpec):
                        self._ensure_secret(item)
                    else:
                        self._ensure_parameter(item)
                    self._done.add(item.logical_id)
                except Unresolved as exc:
                    left.append(item)
                    errors[item.logical_id] = str(exc)
            if len(left) == len(pending):
                if final:
                    for item in left:
                        kind = "secret" if isinstance(item, SecretSpec) else "parameter"
                        self.note(f"warning: {kind} {item.logical_id}: {errors[item.logical_id]}")
                return left
            pending = left
        return []

    def _waits_for(self, item: SecretSpec | Parameter) -> str | None:
        """A secret or parameter of the template that ``item``'s value names and that this run has not
        made yet (so nothing is resolved against last run's value)."""
        text = item.secret_string if isinstance(item, SecretSpec) else item.value
        for ref in references_in(text or ""):
            if isinstance(ref, SecretRef):
                for spec in self.model.secrets:
                    names = (spec.arn, spec.name, spec.arn.rsplit("-", 1)[0])
                    if ref.secret_id in names and spec.logical_id not in self._done:
                        return f"secret {spec.logical_id}"
            elif isinstance(ref, ParameterRef):
                name = parameter_name(ref.name)
                for p in self.model.parameters:
                    if name in (p.name, p.name.lstrip("/")) and p.logical_id not in self._done:
                        return f"parameter {p.logical_id}"
        return None

    def _ensure_secret(self, spec: SecretSpec) -> None:
        literal = spec.generate is None
        if spec.generate is not None:
            options = spec.generate

            def make() -> str | None:
                try:
                    return generated_secret_string(options, self.rng)
                except PasswordError as exc:
                    raise Unresolved(str(exc)) from None

        elif spec.secret_string is not None:
            text = spec.secret_string

            def make() -> str | None:
                return self.resolve_text(text)

        else:

            def make() -> str | None:
                return None

        self.secrets.ensure(
            arn=spec.arn,
            name=spec.name,
            template_key=spec.key,
            make_value=make,
            literal=literal,
            description=spec.description,
            kms_key_id=spec.kms_key_id,
            tags=spec.tags,
            owning_service=spec.owning_service,
        )

    def _ensure_parameter(self, p: Parameter) -> None:
        value = self.resolve_text(p.value)
        self.parameters.ensure(
            p.name,
            value,
            type=p.type,
            template_key=f"{p.stack}/{p.logical_id}",
            description=p.description,
            tier=p.tier,
            data_type=p.data_type,
            allowed_pattern=p.allowed_pattern,
        )

    def _credentials(self, db: Database) -> tuple[str, str]:
        username = self.resolve_text(db.master_username) if db.master_username else None
        if db.master_password is not None:
            password = self.resolve_text(db.master_password)
        elif db.manage_master_password and db.managed_secret_arn:
            value = self.secrets.get(db.managed_secret_arn).current_value() or ""
            password = json_field(value, "password", what=f"the managed secret of {db.logical_id}")
            if username is None:
                username = json_field(value, "username", what=f"the managed secret of {db.logical_id}")
        else:
            raise Unresolved(
                f"database {db.logical_id} has no MasterUserPassword and no ManageMasterUserPassword"
            )
        return username or _default_user(db), password

    def _make_runner(self, db: Database, username: str, password: str) -> Runner:
        taken = frozenset(s.port for s in self.statuses.values() if s.port is not None)
        if db.family is EngineFamily.POSTGRES:
            from .postgres import PostgresRunner

            return PostgresRunner(
                db,
                state_dir=self.state_dir,
                host=self.host,
                username=username,
                password=password,
                note=self.note,
                exclude_ports=taken,
            )
        from .mysql import MysqlRunner

        return MysqlRunner(
            db,
            state_dir=self.state_dir,
            host=self.host,
            username=username,
            password=password,
            note=self.note,
            exclude_ports=taken,
        )

    async def _start_database(self, db: Database) -> None:
        key = slot(db)
        status = ServerStatus(
            key=key,
            logical_id=db.logical_id,
            identifier=db.identifier,
            engine=db.engine,
            engine_version=db.engine_version,
            db_name=db.db_name,
            host=self.host,
        )
        self.statuses[key] = status
        try:
            username, password = self._credentials(db)
        except (Unresolved, NotFound) as exc:
            status.state, status.reason = "failed", str(exc)
            self.note(f"database {db.logical_id} does not start: {exc}")
            return
        runner = self._make_runner(db, username, password)
        runner.status.key = key
        self.runners[key] = runner
        self.statuses[key] = runner.status
        try:
            await runner.start()
        except ServerStartError as exc:
            runner.status.state = "not available" if getattr(exc, "not_available", False) else "failed"
            runner.status.reason = str(exc)
            self.note(str(exc))
            await runner.stop()
            runner.status.state = "not available" if getattr(exc, "not_available", False) else "failed"

    def _attach(self) -> None:
        for att in self.model.secret_attachments:
            try:
                self.attach(att)
            except Unresolved as exc:
                self.note(f"warning: secret attachment {att.logical_id}: {exc}")

    def _database(self, key: str) -> Database | None:
        """The database a key names (``stack/logical id``, identifier or ARN): a run-time one (the newest
        of a replacement first), else the model's."""
        for db in reversed(list(self.added.values())):
            if key in (db.key, db.identifier, db.arn, slot(db)):
                return db
        return self.model.database(key)

    def attach(self, att: SecretTargetAttachment) -> bool:
        """Add the attached database's host, port, engine, dbname and identifier to the secret's current
        version, as RDS does; False when there is nothing to do yet (the database is not running, the
        secret has no value). Unresolved when the secret is not JSON."""
        db = self._database(att.target_key)
        rec = self.secrets.find(att.secret_arn)
        if db is None or rec is None:
            return False
        status = self.statuses.get(slot(db))
        current = rec.current_value()
        if status is None or status.state != "running" or current is None:
            return False
        value = endpoints.attach(current, endpoints.attachment_fields(db, self._endpoint(slot(db))))
        if value != current:
            version = rec.version()
            version.value = value  # the attachment completes the template's version, as RDS does
            self.secrets.save()
        return True

    # ---- databases made at run time (CloudFormation) -----------------------------------------------
    async def add_database(self, db: Database) -> ServerStatus:
        """Start a database that is not in the model (a CloudFormation stack's), as :meth:`start` starts
        the model's: its master user and ``DBName`` set from the (resolved) template values, on its
        template port or the next free one. Returns its status (``running``, or ``failed`` / ``not
        available`` with the reason; nothing of it is left running then)."""
        key = slot(db)
        old = self.runners.get(key)
        if old is not None:
            await old.stop()
        self.added[key] = db
        await self._start_database(db)
        return self.statuses[key]

    def endpoint_of(self, db: Database) -> endpoints.Endpoint:
        return self._endpoint(slot(db))

    async def remove_database(self, db: Database, *, data: str = "delete") -> Path | None:
        """Stop a run-time database (fast shutdown) and forget it. ``data``: ``delete`` removes its data
        directory, ``snapshot`` moves it to ``<state>/data/snapshots/<kind>/<name>-<time>`` (the final
        snapshot RDS keeps; returned), ``keep`` leaves it. Its log is kept."""
        key = slot(db)
        runner = self.runners.pop(key, None)
        if runner is not None:
            await runner.stop()
        self.statuses.pop(key, None)
        self.added.pop(key, None)
        kind = "postgres" if db.family is EngineFamily.POSTGRES else "mysql"
        where = self.state_dir / "data" / kind / db.local_name
        if data == "keep" or not where.exists():
            return None
        if data == "snapshot":
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
            target = self.state_dir / "data" / "snapshots" / kind / f"{db.local_name}-final-{stamp}"
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(where.rename, target)
            return target
        await asyncio.to_thread(shutil.rmtree, where, True)
        return None

    # ---- resolution ------------------------------------------------------------------------------
    def _endpoint(self, key: str) -> endpoints.Endpoint:
        status = self.statuses.get(key)
        if status is None:  # a run-time database is found by its stack/logical id too
            db = self._database(key)
            if db is not None and slot(db) in self.statuses:
                key = slot(db)
                status = self.statuses[key]
        if status is None:
            return endpoints.Endpoint(None, None, "not emulated", self._unsupported_reason(key))
        running = status.state == "running" and (key not in self.runners or self.runners[key].running())
        return endpoints.Endpoint(
            status.host if running else None,
            status.port if running else None,
            status.state if running or status.state != "running" else "stopped",
            status.reason,
        )

    def _unsupported_reason(self, key: str) -> str | None:
        stack, _, logical_id = key.partition("/")
        for n in self.unsupported:
            if n.stack == stack and n.logical_id == logical_id:
                return n.reason
        return None

    def _secret_text(self, ref: SecretRef) -> str:
        rec = self.secrets.find(ref.secret_id)
        if rec is None:
            raise Unresolved(f"secret {ref.secret_id} does not exist")
        try:
            version = rec.version(version_id=ref.version_id, stage=ref.version_stage)
        except NotFound as exc:
            raise Unresolved(f"secret {rec.name}: {exc}") from None
        if version.value is None:
            raise Unresolved(f"secret {rec.name} has no SecretString")
        if ref.json_key:
            return json_field(version.value, ref.json_key, what=f"secret {rec.name}")
        return version.value

    def _parameter_text(self, ref: ParameterRef) -> str:
        rec = self.parameters.find(ref.name)
        if rec is None:
            if ref.service == "ssm-secure":  # made outside the template, as on AWS
                raise Unresolved(
                    f"parameter {ref.name} does not exist locally: put it on the local endpoint (`eval "
                    f'"$(albfargate env)"; aws ssm put-parameter --type SecureString --name {ref.name} '
                    f"--value ...`) and run `albfargate up` again"
                )
            raise Unresolved(f"parameter {ref.name} does not exist")
        if ref.service == "ssm" and rec.type == "SecureString":
            raise Unresolved(
                f"parameter {rec.name} is a SecureString: {{{{resolve:ssm:...}}}} cannot read it (as in "
                f"CloudFormation); use {{{{resolve:ssm-secure:{ref.name}}}}}"
            )
        try:
            return rec.at_version(ref.version)[0]
        except NotFound as exc:
            raise Unresolved(str(exc)) from None

    def resolve(self, ref: Reference) -> str:
        if isinstance(ref, EndpointRef):
            name = ref.key.rpartition("/")[2]
            return endpoints.attribute_value(name, self._endpoint(ref.key), ref.attribute)
        if isinstance(ref, SecretRef):
            return self._secret_text(ref)
        return self._parameter_text(ref)

    def resolve_text(self, text: str) -> str:
        try:
            return substitute(text, self.resolve)
        except BadReference as exc:
            raise Unresolved(str(exc)) from None

    def task_secret(self, value_from: str) -> str:
        """The value of a task ``Secrets`` entry (ECS's ValueFrom forms)."""
        try:
            ref = parse_value_from(value_from)
        except BadReference as exc:
            raise Unresolved(str(exc)) from None
        if isinstance(ref, SecretRef):
            return self._secret_text(ref)
        return self._parameter_text(ref)

    # ---- reading / stopping ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The ``backing`` part of ``status --json`` (names and endpoints; never a secret value)."""
        dbs = [s.to_json() for s in self.statuses.values()]
        for n in self.unsupported:
            dbs.append({"logical_id": n.logical_id, "state": "not emulated", "reason": n.reason})
        return {
            "databases": dbs,
            "secrets": [
                {"name": r.name, "arn": r.arn, "versions": len(r.versions)}
                for r in self.secrets.secrets.values()
            ],
            "parameters": [
                {"name": p.name, "type": p.type, "version": p.version}
                for p in self.parameters.parameters.values()
            ],
            "data_dir": str(self.state_dir / "data"),
        }

    def log_of(self, name: str) -> Path | None:
        for s in self.statuses.values():
            if name in (s.logical_id, s.identifier) and s.log_path:
                return Path(s.log_path)
        return None

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.runners.values()), return_exceptions=True)
