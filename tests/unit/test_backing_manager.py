"""The backing manager with a fake database runner: secrets generated once and kept, attachments, every
ValueFrom form, references resolved or refused (no placeholder), status without secret values."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import model_from_templates
from albfargate.backing.manager import BackingManager
from albfargate.backing.references import Unresolved
from albfargate.backing.server import ServerStartError, ServerStatus
from albfargate.model.backing import Database, endpoint_reference

from .test_assembly_backing import _template


class FakeRunner:
    def __init__(self, db: Database, username: str, password: str, *, fail: str | None = None) -> None:
        self.db, self.username, self.password, self.fail = db, username, password, fail
        self.status = ServerStatus(
            key=db.key,
            logical_id=db.logical_id,
            identifier=db.identifier,
            engine=db.engine,
            engine_version=db.engine_version,
            db_name=db.db_name,
            username=username,
        )
        self.stopped = False

    async def start(self) -> None:
        if self.fail:
            raise ServerStartError(self.fail)
        self.status.state, self.status.port = "running", 15432

    async def stop(self) -> None:
        self.stopped = True

    def running(self) -> bool:
        return self.status.state == "running" and not self.stopped


def _manager(
    tmp_path: Path, template: dict[str, Any] | None = None, *, seed: int = 1, fail: str | None = None
) -> tuple[BackingManager, list[str], dict[str, FakeRunner]]:
    model = model_from_templates([("S", template or _template())])
    notes: list[str] = []
    m = BackingManager(model, tmp_path, note=notes.append, clock=lambda: 1000.0, rng=random.Random(seed))
    runners: dict[str, FakeRunner] = {}

    def make(db: Database, username: str, password: str) -> FakeRunner:
        runners[db.key] = FakeRunner(db, username, password, fail=fail)
        return runners[db.key]

    m._make_runner = make  # type: ignore[method-assign]
    asyncio.run(m.start())
    return m, notes, runners


def test_generated_secret_feeds_the_database_and_the_attachment(tmp_path: Path) -> None:
    m, notes, runners = _manager(tmp_path)
    runner = runners["S/Db"]
    secret = m.model.secrets[0]
    doc = json.loads(m.secrets.get(secret.arn).current_value() or "")
    assert runner.username == "notes" and runner.password == doc["password"] and len(doc["password"]) == 30
    assert doc == {
        "username": "notes",
        "password": doc["password"],
        "host": "127.0.0.1",
        "port": 15432,
        "engine": "postgres",
        "dbname": "notes",
        "dbInstanceIdentifier": m.model.databases[0].identifier,
    }
    assert m.resolve_text(endpoint_reference("S/Db", "Endpoint.Port")) == "15432"
    assert m.task_secret(secret.arn + ":password::") == doc["password"]
    assert m.task_secret(m.model.parameters[0].arn) == "My notes"
    assert notes == []


def test_secrets_are_generated_once_and_forgotten_with_the_data_directory(tmp_path: Path) -> None:
    m1, _, _ = _manager(tmp_path, seed=1)
    arn = m1.model.secrets[0].arn
    first = m1.task_secret(arn + ":password::")
    m2, _, r2 = _manager(tmp_path, seed=2)  # a restart / redeploy: other randomness, same secret
    assert m2.task_secret(arn + ":password::") == first and r2["S/Db"].password == first
    shutil.rmtree(tmp_path / "data")  # what `down --volumes` deletes
    m3, _, _ = _manager(tmp_path, seed=2)
    assert m3.task_secret(arn + ":password::") != first
    assert (tmp_path / "data" / "secretsmanager" / "secrets.json").stat().st_mode & 0o077 == 0


def test_every_value_from_form(tmp_path: Path) -> None:
    m, _, _ = _manager(tmp_path)
    arn = m.model.secrets[0].arn
    whole = m.task_secret(arn)
    assert json.loads(whole)["username"] == "notes"
    first_pw = json.loads(whole)["password"]
    _rec, v2 = m.secrets.put_value(arn, json.dumps({"username": "notes", "password": "new"}))
    assert m.task_secret(f"{arn}:password::") == "new"
    assert m.task_secret(f"{arn}:password:AWSPREVIOUS:") == first_pw
    assert m.task_secret(f"{arn}:password::{v2.version_id}") == "new"
    assert m.task_secret(f"{arn}:password:AWSCURRENT:{v2.version_id}") == "new"
    assert m.task_secret(arn.rsplit("-", 1)[0] + ":username::") == "notes"  # a partial ARN
    p = m.model.parameters[0]
    assert m.task_secret(p.name) == m.task_secret(p.arn) == "My notes"
    for bad, message in [
        (f"{arn}:nokey::", "did not contain json key nokey"),
        (f"{arn}:password:AWSPENDING:", "staging label: AWSPENDING"),
        (f"{arn}:password::no-such-version", "VersionId: no-such-version"),
        ("arn:aws:secretsmanager:us-east-1:000000000000:secret:nope-AbCdEf", "does not exist"),
        ("/no/such/parameter", "parameter /no/such/parameter does not exist"),
    ]:
        with pytest.raises(Unresolved, match=message):
            m.task_secret(bad)


def test_a_failed_database_refuses_its_endpoint_with_the_reason(tmp_path: Path) -> None:
    m, notes, _ = _manager(tmp_path, fail="database Db: initdb failed: disk full (log: /x.log)")
    assert notes == ["database Db: initdb failed: disk full (log: /x.log)"]
    with pytest.raises(Unresolved, match=r"database Db is not running \(failed\).*disk full"):
        m.resolve_text("h=" + endpoint_reference("S/Db", "Endpoint.Address"))
    (db,) = m.status()["databases"]
    assert db["state"] == "failed" and "disk full" in db["reason"]


def test_unsupported_engine_gives_one_warning_and_an_unresolvable_endpoint(tmp_path: Path) -> None:
    t = _template()
    t["Resources"]["Mssql"] = {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "sqlserver-ex"}}
    t["Resources"]["Oracle"] = {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "oracle-se2"}}
    m, notes, runners = _manager(tmp_path, t)
    warnings = [n for n in notes if "not emulated" in n]
    assert len(warnings) == 1 and "Mssql" in warnings[0] and "Oracle" in warnings[0]
    assert runners["S/Db"].running()
    with pytest.raises(Unresolved, match="sqlserver-ex is not emulated"):
        m.resolve_text(endpoint_reference("S/Mssql", "Endpoint.Address"))
    states = {d["logical_id"]: d["state"] for d in m.status()["databases"]}
    assert states == {"Db": "running", "Mssql": "not emulated", "Oracle": "not emulated"}


def test_status_never_holds_a_secret_value(tmp_path: Path) -> None:
    m, _, runners = _manager(tmp_path)
    text = json.dumps(m.status())
    assert runners["S/Db"].password not in text
    assert "****" in m.status()["databases"][0]["url"]


def test_a_parameter_that_names_an_endpoint_gets_the_local_value(tmp_path: Path) -> None:
    t = _template()
    t["Resources"]["HostParam"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": "/app/db/host",
            "Type": "String",
            "Value": {
                "Fn::Join": [
                    ":",
                    [{"Fn::GetAtt": ["Db", "Endpoint.Address"]}, {"Fn::GetAtt": ["Db", "Endpoint.Port"]}],
                ]
            },
        },
    }
    m, _, _ = _manager(tmp_path, t)
    assert m.task_secret("/app/db/host") == "127.0.0.1:15432"
    assert m.resolve_text("{{resolve:ssm:/app/db/host:1}}") == "127.0.0.1:15432"


def test_literal_secret_with_a_dynamic_reference_and_a_template_change_is_a_new_version(
    tmp_path: Path,
) -> None:
    t = _template()
    t["Resources"]["Conn"] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {"Name": "conn", "SecretString": "user={{resolve:ssm:CFN-Title-X}}"},
    }
    t["Resources"]["Title"]["Properties"]["Name"] = "CFN-Title-X"
    m, _, _ = _manager(tmp_path, t)
    assert m.task_secret("arn:aws:secretsmanager:us-east-1:000000000000:secret:conn") == "user=My notes"
    t["Resources"]["Title"]["Properties"]["Value"] = "Renamed"
    m2, _, _ = _manager(tmp_path, t)
    rec = m2.secrets.get("conn")
    assert rec.current_value() == "user=Renamed" and len(rec.versions) == 2
    assert m2.parameters.find("CFN-Title-X").version == 2  # type: ignore[union-attr]


def test_secure_string_parameters_resolve_with_ssm_secure_and_value_from_only(tmp_path: Path) -> None:
    from albfargate.backing.store import ParameterStore

    # a SecureString is made outside the template (PutParameter on the local endpoint), as on AWS
    store = ParameterStore(tmp_path / "data" / "ssm" / "parameters.json", clock=lambda: 1.0)
    store.put("/app/dbpass", "s3cret-Pw", type="SecureString")
    store.save()
    t = _template()
    t["Resources"]["Db"]["Properties"]["MasterUserPassword"] = "{{resolve:ssm-secure:/app/dbpass}}"
    m, notes, runners = _manager(tmp_path, t)
    assert runners["S/Db"].password == "s3cret-Pw" and runners["S/Db"].running()
    assert m.resolve_text("x={{resolve:ssm-secure:/app/dbpass:1}}") == "x=s3cret-Pw"
    arn = m.parameters.find("/app/dbpass").arn  # type: ignore[union-attr]
    assert m.task_secret("/app/dbpass") == m.task_secret(arn) == "s3cret-Pw"  # ECS reads any type
    with pytest.raises(Unresolved, match=r"is a SecureString: .*use \{\{resolve:ssm-secure:/app/dbpass\}\}"):
        m.resolve_text("{{resolve:ssm:/app/dbpass}}")
    assert "s3cret-Pw" not in json.dumps(m.status()) + " ".join(notes)


def test_a_missing_ssm_secure_parameter_says_how_to_make_it(tmp_path: Path) -> None:
    t = _template()
    t["Resources"]["Db"]["Properties"]["MasterUserPassword"] = "{{resolve:ssm-secure:/app/nope}}"
    m, notes, runners = _manager(tmp_path, t)
    assert "S/Db" not in runners  # never started
    [line] = [n for n in notes if "database Db" in n]
    assert "does not start: parameter /app/nope does not exist locally" in line
    assert "aws ssm put-parameter --type SecureString --name /app/nope" in line
    (db,) = m.status()["databases"]
    assert db["state"] == "failed"
    with pytest.raises(Unresolved, match=r"database Db is not running \(failed\)"):
        m.resolve_text(endpoint_reference("S/Db", "Endpoint.Address"))
