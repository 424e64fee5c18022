"""Templates with a database for the backing integration tests: the up_support template plus an
``AWS::RDS::DBInstance`` with a generated secret (the CDK's shape) wired into the service's container."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.integration.up_support import Svc, make_template

SECRET = "DbSecret685A0FA5"


def db_template(
    path: Path,
    *,
    port: int | None = None,
    engine: str = "postgres",
    extra: dict[str, Any] | None = None,
    desired: int = 1,
    engine_version: str = "16",
    services: Sequence[Svc] | None = None,
) -> Path:
    """The first service's container (``S0``) gets ``DB_HOST``, ``DB_PORT`` and ``DB_PASSWORD``; any
    other service in ``services`` does not use the database."""
    make_template(path, services or [Svc(desired=desired)])
    t = json.loads(path.read_text())
    r = t["Resources"]
    r[SECRET] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "GenerateSecretString": {
                "ExcludeCharacters": " %+~`#$&*()|[]{}:;<>?!'/@\"\\",
                "GenerateStringKey": "password",
                "PasswordLength": 30,
                "SecretStringTemplate": '{"username":"app"}',
            }
        },
    }
    r["DbAttachment"] = {
        "Type": "AWS::SecretsManager::SecretTargetAttachment",
        "Properties": {
            "SecretId": {"Ref": SECRET},
            "TargetId": {"Ref": "Db"},
            "TargetType": "AWS::RDS::DBInstance",
        },
    }
    props: dict[str, Any] = {
        "Engine": engine,
        "EngineVersion": engine_version,
        "DBName": "app",
        "MasterUsername": "app",
        "MasterUserPassword": {
            "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": SECRET}, ":SecretString:password::}}"]]
        },
    }
    if port is not None:
        props["Port"] = str(port)
    r["Db"] = {"Type": "AWS::RDS::DBInstance", "Properties": props}
    c = r["S0TaskDef"]["Properties"]["ContainerDefinitions"][0]
    c["Environment"] = [
        {"Name": "DB_HOST", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
        {"Name": "DB_PORT", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
    ]
    c["Secrets"] = [
        {"Name": "DB_PASSWORD", "ValueFrom": {"Fn::Join": ["", [{"Ref": "DbAttachment"}, ":password::"]]}}
    ]
    r.update(extra or {})
    path.write_text(json.dumps(t, indent=1))
    return path
