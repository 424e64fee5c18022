"""RDS, Secrets Manager and SSM resources -> the model (assembly/rds.py, assembly/secrets.py), with the
shapes the CDK synthesizes (rds.DatabaseInstance + Credentials.from_generated_secret, an Aurora
Serverless v2 cluster with a writer, ecs.Secret.from_secrets_manager(secret, "password"),
ssm.StringParameter)."""

from __future__ import annotations

from typing import Any

import pytest

from albfargate.assembly import model_from_templates
from albfargate.errors import AssemblyError
from albfargate.model.backing import endpoint_reference

SECRET = "DbSecret685A0FA5"
GENERATE = {
    "ExcludeCharacters": " %+~`#$&*()|[]{}:;<>?!'/@\"\\",
    "GenerateStringKey": "password",
    "PasswordLength": 30,
    "SecretStringTemplate": '{"username":"notes"}',
}


def _template(**extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {
        SECRET: {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": GENERATE}},
        "DbSecretAttachment": {
            "Type": "AWS::SecretsManager::SecretTargetAttachment",
            "Properties": {
                "SecretId": {"Ref": SECRET},
                "TargetId": {"Ref": "Db"},
                "TargetType": "AWS::RDS::DBInstance",
            },
        },
        "Db": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "Engine": "postgres",
                "EngineVersion": "16.3",
                "DBName": "notes",
                "DBInstanceClass": "db.t4g.micro",
                "MasterUsername": "notes",
                "MasterUserPassword": {
                    "Fn::Join": [
                        "",
                        ["{{resolve:secretsmanager:", {"Ref": SECRET}, ":SecretString:password::}}"],
                    ]
                },
            },
        },
        "Title": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "My notes"}},
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "ContainerDefinitions": [
                    {
                        "Name": "web",
                        "Image": "x",
                        "Environment": [
                            {"Name": "DB_HOST", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
                            {"Name": "DB_PORT", "Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
                            {
                                "Name": "URL",
                                "Value": {
                                    "Fn::Join": [
                                        "",
                                        ["pg://", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}, "/x"],
                                    ]
                                },
                            },
                        ],
                        "Secrets": [
                            {
                                "Name": "DB_PASSWORD",
                                "ValueFrom": {
                                    "Fn::Join": ["", [{"Ref": "DbSecretAttachment"}, ":password::"]]
                                },
                            },
                            {
                                "Name": "TITLE",
                                "ValueFrom": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":ssm:",
                                            {"Ref": "AWS::Region"},
                                            ":",
                                            {"Ref": "AWS::AccountId"},
                                            ":parameter/",
                                            {"Ref": "Title"},
                                        ],
                                    ]
                                },
                            },
                        ],
                    }
                ]
            },
        },
    }
    resources.update(extra)
    return {"Resources": resources}


def test_database_instance_with_a_generated_secret() -> None:
    m = model_from_templates([("S", _template())])
    (db,) = m.databases
    (secret,) = m.secrets
    assert db.engine == "postgres" and db.engine_version == "16.3" and db.db_name == "notes"
    assert db.kind == "instance" and db.port == 5432 and db.master_username == "notes"
    assert db.identifier == db.identifier.lower() and db.arn.endswith(f":db:{db.identifier}")
    assert db.master_password == f"{{{{resolve:secretsmanager:{secret.arn}:SecretString:password::}}}}"
    assert secret.generate is not None and secret.generate.password_length == 30
    assert secret.generate.generate_string_key == "password"
    assert secret.arn.startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:DbSecret685A0FA5-")
    assert len(secret.arn.rsplit("-", 1)[1]) == 6
    (att,) = m.secret_attachments
    assert att.secret_arn == secret.arn and att.target_key == "S/Db"


def test_endpoints_are_references_never_placeholders_and_value_from_is_the_secret_arn() -> None:
    m = model_from_templates([("S", _template())])
    c = m.task_definitions[0].containers[0]
    env = dict(c.environment)
    assert env["DB_HOST"] == endpoint_reference("S/Db", "Endpoint.Address")
    assert env["DB_PORT"] == endpoint_reference("S/Db", "Endpoint.Port")
    assert env["URL"] == "pg://" + endpoint_reference("S/Db", "Endpoint.Address") + "/x"
    secrets = {s.name: s.value_from for s in c.secrets}
    assert secrets["DB_PASSWORD"] == m.secrets[0].arn + ":password::"
    (param,) = m.parameters
    assert secrets["TITLE"] == param.arn
    assert param.name.startswith("CFN-Title-") and param.value == "My notes" and param.type == "String"


def test_aurora_serverless_v2_cluster_is_one_server_and_its_members_belong_to_it() -> None:
    cluster = {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {
            "Engine": "aurora-postgresql",
            "EngineVersion": "15.4",
            "DatabaseName": "app",
            "MasterUsername": "postgres",
            "MasterUserPassword": "literal-pw",
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4},
            "Port": 5433,
        },
    }
    writer = {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "DBClusterIdentifier": {"Ref": "Cluster"},
            "Engine": "aurora-postgresql",
            "DBInstanceClass": "db.serverless",
        },
    }
    env = {"Fn::GetAtt": ["Writer", "Endpoint.Address"]}
    t = {
        "Resources": {
            "Cluster": cluster,
            "Writer": writer,
            "Reader": dict(writer),
            "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": env}},
            "Q": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Value": {"Fn::GetAtt": ["Cluster", "ReadEndpoint.Address"]},
                },
            },
        }
    }
    m = model_from_templates([("S", t)])
    (db,) = m.databases
    assert db.kind == "cluster" and db.members == ("Writer", "Reader") and db.serverless_v2 == (0.5, 4.0)
    assert db.port == 5433 and db.db_name == "app" and db.arn.endswith(f":cluster:{db.identifier}")
    values = {p.logical_id: p.value for p in m.parameters}
    assert values["P"] == endpoint_reference("S/Cluster", "Endpoint.Address")
    assert values["Q"] == endpoint_reference("S/Cluster", "ReadEndpoint.Address")


def test_manage_master_user_password_adds_the_rds_managed_secret() -> None:
    t = {
        "Resources": {
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "mysql",
                    "MasterUsername": "admin",
                    "ManageMasterUserPassword": True,
                },
            },
            "P": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Value": {"Fn::GetAtt": ["Db", "MasterUserSecret.SecretArn"]},
                },
            },
        }
    }
    m = model_from_templates([("S", t)])
    (db,) = m.databases
    (secret,) = m.secrets
    assert db.manage_master_password and db.managed_secret_arn == secret.arn
    assert secret.name.startswith("rds!db-") and secret.owning_service == "rds"
    assert secret.generate is not None and secret.generate.secret_string_template == '{"username": "admin"}'
    assert m.parameters[0].value == secret.arn
    assert db.port == 3306


@pytest.mark.parametrize("engine", ["sqlserver-ex", "oracle-ee", "db2-se"])
def test_unsupported_engines_are_listed_as_not_emulated(engine: str) -> None:
    t = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": engine}}}}
    m = model_from_templates([("S", t)])
    assert m.databases == ()
    (ne,) = m.not_emulated
    assert ne.logical_id == "Db" and f"engine {engine} is not emulated" in ne.reason


def test_secret_string_literal_and_its_options() -> None:
    t = {
        "Resources": {
            "A": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"Name": "app/token", "SecretString": "s3cr3t"},
            },
            "B": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "PasswordLength": 12,
                        "ExcludeCharacters": "abc",
                        "ExcludeLowercase": True,
                        "ExcludeUppercase": "true",
                        "ExcludeNumbers": False,
                        "ExcludePunctuation": True,
                        "IncludeSpace": True,
                        "RequireEachIncludedType": False,
                    }
                },
            },
        }
    }
    m = model_from_templates([("S", t)])
    a, b = m.secrets
    assert a.name == "app/token" and a.secret_string == "s3cr3t" and a.generate is None
    g = b.generate
    assert g is not None and (g.password_length, g.exclude_characters) == (12, "abc")
    assert g.exclude_lowercase and g.exclude_uppercase and not g.exclude_numbers and g.exclude_punctuation
    assert g.include_space and not g.require_each_included_type


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"SecretString": "x", "GenerateSecretString": {}}, "not both"),
        ({"GenerateSecretString": {"GenerateStringKey": "password"}}, "go together"),
        ({"GenerateSecretString": {"SecretStringTemplate": "[1]", "GenerateStringKey": "k"}}, "JSON object"),
        ({"GenerateSecretString": {"PasswordLength": 5000}}, "between 1 and 4096"),
    ],
)
def test_bad_secrets_are_reported_with_their_path(props: dict[str, Any], message: str) -> None:
    t = {"Resources": {"S1": {"Type": "AWS::SecretsManager::Secret", "Properties": props}}}
    with pytest.raises(AssemblyError, match=message):
        model_from_templates([("S", t)])


def test_dynamic_ssm_reference_survives_into_the_model() -> None:
    t = {
        "Resources": {
            "Db": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "postgres",
                    "MasterUsername": "{{resolve:ssm:/app/dbuser}}",
                    "MasterUserPassword": "{{resolve:ssm-secure:/app/dbpass:3}}",
                },
            }
        }
    }
    (db,) = model_from_templates([("S", t)]).databases
    assert db.master_username == "{{resolve:ssm:/app/dbuser}}"
    assert db.master_password == "{{resolve:ssm-secure:/app/dbpass:3}}"
