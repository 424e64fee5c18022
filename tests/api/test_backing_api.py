"""Secrets Manager and SSM Parameter Store through boto3 against the local endpoint, with AWS's error
codes; every raw response checked against botocore's shapes."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albfargate.api.context import Context
from albfargate.api.secretsmanager.handlers import TARGET_PREFIX as SM_PREFIX
from albfargate.api.server import ApiServer, Dispatcher
from albfargate.api.ssm.handlers import TARGET_PREFIX as SSM_PREFIX
from albfargate.api.store import ConfigStore
from albfargate.backing.store import ParameterStore, SecretStore
from tests.api.conftest import api_client
from tests.api.fakes import FakeBackend, demo_model
from tests.api.test_wire_shapes import _check_json

botocore_session = pytest.importorskip("botocore.session")
ClientError = pytest.importorskip("botocore.exceptions").ClientError
_SESSION = botocore_session.get_session()


@pytest.fixture
def stores(tmp_path: Path) -> tuple[SecretStore, ParameterStore]:
    secrets = SecretStore(tmp_path / "secrets.json", clock=lambda: 1_700_000_000.0, rng=random.Random(1))
    secrets.ensure(
        arn="arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf",
        name="db",
        template_key="S/Db",
        make_value=lambda: '{"username":"u","password":"p1"}',
        literal=False,
        description="the db",
        tags=(("team", "web"),),
    )
    params = ParameterStore(tmp_path / "params.json", clock=lambda: 1_700_000_000.0)
    params.put("/app/db/host", "127.0.0.1", type="String")
    params.put("/app/db/port", "5432", type="String")
    params.put("/app/flags/beta", "on", type="String")
    params.put("plain", "v", type="String")
    return secrets, params


@pytest.fixture
def url(stores: tuple[SecretStore, ParameterStore]) -> Iterator[str]:
    model = demo_model()
    server = ApiServer(
        FakeBackend(model), ConfigStore(model), port=0, secrets=stores[0], parameters=stores[1]
    )
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, str] = {}

    async def main() -> None:
        box["url"] = await server.start()
        started.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(main()), loop.run_forever()), daemon=True
    )
    thread.start()
    started.wait(5)
    yield box["url"]
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _code(exc: Any) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_get_secret_value_and_describe(url: str) -> None:
    sm = api_client(url, "secretsmanager")
    for secret_id in (
        "db",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:db",
    ):
        r = sm.get_secret_value(SecretId=secret_id)
        assert json.loads(r["SecretString"])["password"] == "p1" and r["VersionStages"] == ["AWSCURRENT"]
    d = sm.describe_secret(SecretId="db")
    assert (
        d["Name"] == "db" and d["Description"] == "the db" and d["Tags"] == [{"Key": "team", "Value": "web"}]
    )
    assert list(d["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="nope")
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="db", VersionStage="AWSPENDING")
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        sm.describe_secret(SecretId="nope")
    assert _code(e) == "ResourceNotFoundException"


def test_put_secret_value_moves_the_stages(url: str) -> None:
    sm = api_client(url, "secretsmanager")
    first = sm.get_secret_value(SecretId="db")["VersionId"]
    r = sm.put_secret_value(SecretId="db", SecretString="two", ClientRequestToken="a" * 32)
    assert r["VersionId"] == "a" * 32 and r["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId="db")["SecretString"] == "two"
    prev = sm.get_secret_value(SecretId="db", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == first and json.loads(prev["SecretString"])["password"] == "p1"
    assert sm.get_secret_value(SecretId="db", VersionId=first)["VersionStages"] == ["AWSPREVIOUS"]
    # the same token with the same value is idempotent; with another value it is refused
    assert (
        sm.put_secret_value(SecretId="db", SecretString="two", ClientRequestToken="a" * 32)["VersionId"]
        == "a" * 32
    )
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId="db", SecretString="three", ClientRequestToken="a" * 32)
    assert _code(e) == "ResourceExistsException"
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId="missing", SecretString="x")
    assert _code(e) == "ResourceNotFoundException"


def test_create_and_list_secrets(url: str) -> None:
    sm = api_client(url, "secretsmanager")
    r = sm.create_secret(Name="app/api-key", SecretString="k", Tags=[{"Key": "env", "Value": "dev"}])
    assert r["ARN"].startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/api-key-")
    assert sm.get_secret_value(SecretId=r["ARN"])["SecretString"] == "k"
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="app/api-key", SecretString="again")
    assert _code(e) == "ResourceExistsException"
    names = [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert sorted(names) == ["app/api-key", "db"]
    only = sm.list_secrets(Filters=[{"Key": "name", "Values": ["app/"]}])["SecretList"]
    assert [s["Name"] for s in only] == ["app/api-key"]
    assert [
        s["Name"] for s in sm.list_secrets(Filters=[{"Key": "tag-key", "Values": ["team"]}])["SecretList"]
    ] == ["db"]
    paged = sm.list_secrets(MaxResults=1)
    assert len(paged["SecretList"]) == 1 and "NextToken" in paged
    assert len(sm.list_secrets(MaxResults=1, NextToken=paged["NextToken"])["SecretList"]) == 1
    pages = sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1})
    assert sum(len(p["SecretList"]) for p in pages) == 2


def test_ssm_get_parameter_forms(url: str, stores: tuple[SecretStore, ParameterStore]) -> None:
    ssm = api_client(url, "ssm")
    p = ssm.get_parameter(Name="/app/db/host")["Parameter"]
    assert (p["Name"], p["Value"], p["Type"], p["Version"]) == ("/app/db/host", "127.0.0.1", "String", 1)
    assert p["ARN"] == "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"
    assert ssm.get_parameter(Name=p["ARN"])["Parameter"]["Value"] == "127.0.0.1"
    ssm.put_parameter(Name="/app/db/host", Value="localhost", Overwrite=True)
    assert ssm.get_parameter(Name="/app/db/host")["Parameter"]["Version"] == 2
    old = ssm.get_parameter(Name="/app/db/host:1")["Parameter"]
    assert old["Value"] == "127.0.0.1" and old["Selector"] == ":1"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/nope")
    assert _code(e) == "ParameterNotFound"
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name="/app/db/host:9")
    assert _code(e) == "ParameterVersionNotFound"
    r = ssm.get_parameters(Names=["/app/db/port", "/missing", "plain"])
    assert [x["Name"] for x in r["Parameters"]] == ["/app/db/port", "plain"] and r["InvalidParameters"] == [
        "/missing"
    ]


def test_ssm_get_parameters_by_path(url: str) -> None:
    ssm = api_client(url, "ssm")
    names = lambda **kw: sorted(p["Name"] for p in ssm.get_parameters_by_path(**kw)["Parameters"])  # noqa: E731
    assert names(Path="/app") == []
    assert names(Path="/app/db") == ["/app/db/host", "/app/db/port"]
    assert names(Path="/app", Recursive=True) == ["/app/db/host", "/app/db/port", "/app/flags/beta"]
    first = ssm.get_parameters_by_path(Path="/app", Recursive=True, MaxResults=2)
    assert len(first["Parameters"]) == 2 and "NextToken" in first
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/app", Recursive=True, PaginationConfig={"PageSize": 1}
    )
    assert sum(len(p["Parameters"]) for p in pages) == 3
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path="app")
    assert _code(e) == "ValidationException"


def test_ssm_put_parameter_rules(url: str) -> None:
    ssm = api_client(url, "ssm")
    r = ssm.put_parameter(Name="/new/p", Value="1", Type="String")
    assert (r["Version"], r["Tier"]) == (1, "Standard")
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/new/p", Value="2", Type="String")
    assert _code(e) == "ParameterAlreadyExists"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/new/q", Value="2")
    assert _code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/aws/reserved", Value="2", Type="String")
    assert _code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/new/r", Value="abc", Type="String", AllowedPattern="^[0-9]+$")
    assert _code(e) == "ParameterPatternMismatchException"
    assert ssm.put_parameter(Name="/new/s", Value="x", Type="SecureString")["Version"] == 1
    assert ssm.get_parameter(Name="/new/s", WithDecryption=True)["Parameter"]["Value"] == "x"


def _shape_check(dispatcher: Dispatcher, service: str, prefix: str, op: str, params: dict[str, Any]) -> None:
    headers = {"host": "127.0.0.1", "x-amz-target": prefix + op, "content-type": "application/x-amz-json-1.1"}
    r = dispatcher.handle("POST", "/", headers, json.dumps(params).encode())
    assert r.status == 200, r.body
    shape = _SESSION.get_service_model(service).operation_model(op).output_shape
    _check_json(shape, json.loads(r.body), op)


def test_raw_responses_follow_botocore_shapes(stores: tuple[SecretStore, ParameterStore]) -> None:
    model = demo_model()
    d = Dispatcher(Context(FakeBackend(model), ConfigStore(model), secrets=stores[0], parameters=stores[1]))
    for op, params in [
        ("GetSecretValue", {"SecretId": "db"}),
        ("DescribeSecret", {"SecretId": "db"}),
        ("ListSecrets", {}),
        ("PutSecretValue", {"SecretId": "db", "SecretString": "x"}),
        ("CreateSecret", {"Name": "n", "SecretString": "v"}),
    ]:
        _shape_check(d, "secretsmanager", SM_PREFIX, op, params)
    for op, params in [
        ("GetParameter", {"Name": "/app/db/host"}),
        ("GetParameters", {"Names": ["/app/db/host", "/x"]}),
        ("GetParametersByPath", {"Path": "/app", "Recursive": True}),
        ("PutParameter", {"Name": "/z", "Value": "1", "Type": "String"}),
    ]:
        _shape_check(d, "ssm", SSM_PREFIX, op, params)
