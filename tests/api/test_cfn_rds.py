"""RDS through CloudFormation is live: a stack with the CDK's credentials shape (a generated
``AWS::SecretsManager::Secret``, an ``AWS::RDS::DBInstance`` whose master user and password are
``{{resolve:secretsmanager:...}}`` references to it, an ``AWS::SecretsManager::SecretTargetAttachment``)
deployed with boto3 runs a real database server: the create completes once it accepts connections, the
outputs (``Fn::GetAtt Endpoint.Address / Endpoint.Port``) are its local address, the attached secret
carries host, port, engine and dbname, and its credentials open the database. The database and its
data come back after a restart; deleting the stack stops the server and removes (``DeletionPolicy:
Delete``) or snapshots (the default) its data; a database that cannot start rolls the stack back."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.api.cfn_live import FAST, cfn_engine, events_of
from tests.cfn_templates import body

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "DbSecret685A0FA5"


def _postgres_available() -> bool:
    from albfargate.backing.postgres import candidates

    return bool(candidates())


def _mariadb_available() -> bool:
    from albfargate.backing.mysql import find_server

    return find_server() is not None


def rds_template(*, engine: str = "postgres", deletion_policy: str | None = "Delete") -> dict[str, Any]:
    resolve = {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": SECRET}, ":SecretString:"]]}
    db: dict[str, Any] = {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": engine,
            "EngineVersion": "16" if engine == "postgres" else "8.0.35",
            "DBInstanceClass": "db.t3.micro",
            "AllocatedStorage": "20",
            "DBName": "app",
            "MasterUsername": {"Fn::Join": ["", [*resolve["Fn::Join"][1], "username::}}"]]},
            "MasterUserPassword": {"Fn::Join": ["", [*resolve["Fn::Join"][1], "password::}}"]]},
        },
    }
    if deletion_policy is not None:
        db["DeletionPolicy"] = db["UpdateReplacePolicy"] = deletion_policy
    return {
        "Resources": {
            SECRET: {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "ExcludeCharacters": " %+~`#$&*()|[]{}:;<>?!'/@\"\\",
                        "GenerateStringKey": "password",
                        "PasswordLength": 30,
                        "SecretStringTemplate": '{"username":"app"}',
                    }
                },
            },
            "Db": db,
            "DbAttachment": {
                "Type": "AWS::SecretsManager::SecretTargetAttachment",
                "Properties": {
                    "SecretId": {"Ref": SECRET},
                    "TargetId": {"Ref": "Db"},
                    "TargetType": "AWS::RDS::DBInstance",
                },
            },
        },
        "Outputs": {
            "Address": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
            "Port": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
            "SecretArn": {"Value": {"Ref": "DbAttachment"}},
        },
    }


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs") or []
    return {o["OutputKey"]: o["OutputValue"] for o in found}


def _secret(live: Any, arn: str) -> dict[str, Any]:
    value = live.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    doc: dict[str, Any] = json.loads(value)
    return doc


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _db_status(live: Any) -> dict[str, Any]:
    statuses = [s.to_json() for s in live.engine.backing.statuses.values()]
    assert len(statuses) == 1, statuses
    return statuses[0]


@pytest.mark.skipif(not _postgres_available(), reason="no PostgreSQL (pip install 'albfargate[backing]')")
def test_a_postgres_instance_deployed_with_cloudformation_runs_survives_a_restart_and_goes(
    tmp_path: Path,
) -> None:
    pg8000 = pytest.importorskip("pg8000.native")
    state = tmp_path / "state"
    with cfn_engine(state) as live:
        cfn = live.client("cloudformation")
        stack_id = cfn.create_stack(StackName="Data", TemplateBody=body(rds_template()))["StackId"]
        cfn.get_waiter("stack_create_complete").wait(StackName="Data", WaiterConfig=FAST)
        out = _outputs(cfn, "Data")
        assert out["Address"] == "127.0.0.1"
        secret = _secret(live, out["SecretArn"])
        # what the attachment adds, as Secrets Manager does for RDS
        assert secret["host"] == "127.0.0.1" and secret["port"] == int(out["Port"])
        assert secret["engine"] == "postgres" and secret["dbname"] == "app"
        identifier = cfn.describe_stack_resource(StackName="Data", LogicalResourceId="Db")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
        assert secret["dbInstanceIdentifier"] == identifier
        conn = pg8000.Connection(
            secret["username"], password=secret["password"], host=secret["host"], port=secret["port"],
            database=secret["dbname"],
        )  # fmt: skip
        conn.run("CREATE TABLE notes (body text)")
        conn.run("INSERT INTO notes VALUES ('kept')")
        conn.close()
        status = _db_status(live)
        assert status["state"] == "running" and status["data_dir"].endswith(f"/postgres/{identifier}")
        resources = {
            r["LogicalResourceId"]: r["ResourceStatus"]
            for r in cfn.describe_stack_resources(StackName="Data")["StackResources"]
        }
        assert resources == dict.fromkeys((SECRET, "Db", "DbAttachment"), "CREATE_COMPLETE")
    # nothing of it runs once the system is down (cfn_engine checks its children too)
    assert not _listening(int(out["Port"])) and not _alive(int(status["pid"]))

    with cfn_engine(state) as live:  # brought back from the record, data and all
        cfn = live.client("cloudformation")
        again = _db_status(live)
        assert again["state"] == "running", again
        secret = _secret(live, out["SecretArn"])
        conn = pg8000.Connection(
            secret["username"], password=secret["password"], host="127.0.0.1", port=secret["port"],
            database="app",
        )  # fmt: skip
        assert conn.run("SELECT body FROM notes") == [["kept"]]
        conn.close()
        cfn.delete_stack(StackName="Data")
        cfn.get_waiter("stack_delete_complete").wait(StackName="Data", WaiterConfig=FAST)
        assert not _alive(int(again["pid"])), "the database server still runs after the delete"
        assert not _listening(int(again["port"]))
        assert not Path(again["data_dir"]).exists(), "DeletionPolicy Delete keeps no data"
        assert live.engine.backing.statuses == {}
        kinds = [(lid, s) for lid, s, _ in events_of(cfn, stack_id) if lid == "Db"]
        assert kinds[-2:] == [("Db", "DELETE_IN_PROGRESS"), ("Db", "DELETE_COMPLETE")]


@pytest.mark.skipif(not _mariadb_available(), reason="no MariaDB server (apt-get install mariadb-server)")
def test_a_mysql_instance_runs_on_mariadb_and_its_delete_keeps_a_final_snapshot(tmp_path: Path) -> None:
    pymysql = pytest.importorskip("pymysql")
    with cfn_engine(tmp_path / "state") as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(
            StackName="My", TemplateBody=body(rds_template(engine="mysql", deletion_policy=None))
        )
        cfn.get_waiter("stack_create_complete").wait(StackName="My", WaiterConfig=FAST)
        out = _outputs(cfn, "My")
        secret = _secret(live, out["SecretArn"])
        assert secret["engine"] == "mysql" and secret["port"] == int(out["Port"])
        conn = pymysql.connect(
            host=secret["host"], port=secret["port"], user=secret["username"], password=secret["password"],
            database=secret["dbname"],
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()
        status = _db_status(live)
        cfn.delete_stack(StackName="My")
        cfn.get_waiter("stack_delete_complete").wait(StackName="My", WaiterConfig=FAST)
        assert not _alive(int(status["pid"])) and not _listening(int(out["Port"]))
        assert not Path(status["data_dir"]).exists()
        # CloudFormation's default DeletionPolicy of a DB instance is Snapshot: the data is kept aside
        snapshots = list((tmp_path / "state" / "data" / "snapshots" / "mysql").iterdir())
        assert len(snapshots) == 1 and snapshots[0].name.startswith(Path(status["data_dir"]).name + "-final-")
        assert (snapshots[0] / "datadir" / "mysql").is_dir()


def test_a_database_that_cannot_start_rolls_the_stack_back_with_the_reason(tmp_path: Path) -> None:
    template = rds_template()
    props = template["Resources"]["Db"]["Properties"]
    props["MasterUserPassword"] = "{{resolve:secretsmanager:no-such-secret:SecretString:password::}}"
    with cfn_engine(tmp_path / "state") as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Broken", TemplateBody=body(template))
        with pytest.raises(Exception, match=r"ROLLBACK_COMPLETE|failed"):
            cfn.get_waiter("stack_create_complete").wait(StackName="Broken", WaiterConfig=FAST)
        failed = [r for lid, s, r in events_of(cfn, "Broken") if lid == "Db" and s == "CREATE_FAILED"]
        assert failed and "no-such-secret does not exist" in (failed[0] or ""), failed
        assert cfn.describe_stacks(StackName="Broken")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
        assert live.engine.backing is None or live.engine.backing.statuses == {}
    assert not any(p.name.startswith("backing-") for p in (tmp_path / "state" / "pids").glob("*"))
