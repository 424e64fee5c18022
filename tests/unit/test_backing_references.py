"""Dynamic references, endpoint references and ECS ValueFrom forms (backing/references.py)."""

from __future__ import annotations

import pytest

from albfargate.backing.references import (
    BadReference,
    EndpointRef,
    ParameterRef,
    SecretRef,
    Unresolved,
    json_field,
    parameter_name,
    parse_dynamic,
    parse_value_from,
    references_in,
    substitute,
)
from albfargate.model.backing import endpoint_reference

ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:MySecret-AbCdEf"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("resolve:secretsmanager:MySecret", SecretRef("MySecret")),
        ("resolve:secretsmanager:MySecret:SecretString", SecretRef("MySecret")),
        ("resolve:secretsmanager:MySecret:SecretString:password", SecretRef("MySecret", "password")),
        ("resolve:secretsmanager:MySecret:SecretString:password::", SecretRef("MySecret", "password")),
        (
            "resolve:secretsmanager:MySecret:SecretString:password:AWSPREVIOUS",
            SecretRef("MySecret", "password", "AWSPREVIOUS"),
        ),
        (
            "resolve:secretsmanager:MySecret:SecretString::AWSPENDING:",
            SecretRef("MySecret", None, "AWSPENDING"),
        ),
        (
            "resolve:secretsmanager:MySecret:SecretString:::0123-abcd",
            SecretRef("MySecret", None, None, "0123-abcd"),
        ),
        (f"resolve:secretsmanager:{ARN}", SecretRef(ARN)),
        (f"resolve:secretsmanager:{ARN}:SecretString:password::", SecretRef(ARN, "password")),
        (
            f"resolve:secretsmanager:{ARN}:SecretString:username:AWSCURRENT:v1",
            SecretRef(ARN, "username", "AWSCURRENT", "v1"),
        ),
        ("resolve:ssm:MyParam", ParameterRef("MyParam", None, "ssm")),
        ("resolve:ssm:/app/db/host", ParameterRef("/app/db/host", None, "ssm")),
        ("resolve:ssm:/app/db/host:3", ParameterRef("/app/db/host", 3, "ssm")),
        ("resolve:ssm-secure:/app/token:2", ParameterRef("/app/token", 2, "ssm-secure")),
        ("resolve:ssm-secure:/app/token", ParameterRef("/app/token", None, "ssm-secure")),
        (
            "resolve:ssm:arn:aws:ssm:us-east-1:000000000000:parameter/app/x",
            ParameterRef("arn:aws:ssm:us-east-1:000000000000:parameter/app/x", None, "ssm"),
        ),
        (
            "resolve:ssm:arn:aws:ssm:us-east-1:000000000000:parameter/app/x:4",
            ParameterRef("arn:aws:ssm:us-east-1:000000000000:parameter/app/x", 4, "ssm"),
        ),
        ("albfargate:endpoint:Stack/Db:Endpoint.Port", EndpointRef("Stack/Db", "Endpoint.Port")),
    ],
)
def test_parse_dynamic(body: str, expected: object) -> None:
    assert parse_dynamic(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "resolve:secretsmanager:",
        "resolve:secretsmanager:X:SecretBinary",
        "resolve:secretsmanager:X:SecretString:a:b:c:d",
        "resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:0:notsecret:x",
        "resolve:ssm:",
        "resolve:kms:x",
    ],
)
def test_bad_dynamic_references(body: str) -> None:
    with pytest.raises(BadReference):
        parse_dynamic(body)


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        (ARN, SecretRef(ARN)),
        (f"{ARN}:password::", SecretRef(ARN, "password")),
        (f"{ARN}:password", SecretRef(ARN, "password")),
        (f"{ARN}:password:AWSPREVIOUS:", SecretRef(ARN, "password", "AWSPREVIOUS")),
        (f"{ARN}::AWSCURRENT:", SecretRef(ARN, None, "AWSCURRENT")),
        (f"{ARN}:::v-1", SecretRef(ARN, None, None, "v-1")),
        (f"{ARN}:k:AWSCURRENT:v-1", SecretRef(ARN, "k", "AWSCURRENT", "v-1")),
        (
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:partial",
            SecretRef("arn:aws:secretsmanager:us-east-1:000000000000:secret:partial"),
        ),
        (
            "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host",
            ParameterRef("arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"),
        ),
        ("/app/db/host", ParameterRef("/app/db/host")),
        ("plain-name", ParameterRef("plain-name")),
    ],
)
def test_parse_value_from(value_from: str, expected: object) -> None:
    assert parse_value_from(value_from) == expected


@pytest.mark.parametrize(
    "value_from",
    ["", f"{ARN}:a:b:c:d", "arn:aws:s3:::bucket/key", "arn:aws:secretsmanager:us-east-1:0:secret:"],
)
def test_bad_value_from(value_from: str) -> None:
    with pytest.raises(BadReference):
        parse_value_from(value_from)


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:ssm:us-east-1:0:parameter/CFN-Title-1", "CFN-Title-1"),
        ("arn:aws:ssm:us-east-1:0:parameter/app/db/host", "/app/db/host"),
        ("arn:aws:ssm:us-east-1:0:parameter//app/x", "/app/x"),
        ("plain", "plain"),
    ],
)
def test_parameter_name(arn: str, name: str) -> None:
    assert parameter_name(arn) == name


def test_substitute_replaces_every_reference_inside_text() -> None:
    port = endpoint_reference("S/Db", "Endpoint.Port")
    host = endpoint_reference("S/Db", "Endpoint.Address")
    text = f"postgres://u:{{{{resolve:secretsmanager:Sec:SecretString:password}}}}@{host}:{port}/db"
    values = {
        SecretRef("Sec", "password"): "pw",
        EndpointRef("S/Db", "Endpoint.Port"): "5433",
        EndpointRef("S/Db", "Endpoint.Address"): "127.0.0.1",
    }
    assert substitute(text, values.__getitem__) == "postgres://u:pw@127.0.0.1:5433/db"
    assert len(references_in(text)) == 3


def test_substitute_passes_unresolved_on() -> None:
    def fail(ref: object) -> str:
        raise Unresolved("database Db is not running")

    with pytest.raises(Unresolved, match="not running"):
        substitute(endpoint_reference("S/Db", "Endpoint.Port"), fail)


def test_text_without_references_is_returned_as_is() -> None:
    assert substitute("{{not a reference}}", lambda r: "x") == "{{not a reference}}"


@pytest.mark.parametrize(
    ("secret", "key", "value"),
    [
        ('{"password":"p"}', "password", "p"),
        ('{"port":5432}', "port", "5432"),
        ('{"a":{"b":1}}', "a", '{"b": 1}'),
    ],
)
def test_json_field(secret: str, key: str, value: str) -> None:
    assert json_field(secret, key, what="s") == value


@pytest.mark.parametrize(
    ("secret", "message"), [("plain", "not JSON"), ('{"x":1}', "did not contain json key")]
)
def test_json_field_errors(secret: str, message: str) -> None:
    with pytest.raises(Unresolved, match=message):
        json_field(secret, "password", what="secret s")
