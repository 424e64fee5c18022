"""STS on the local endpoint: GetCallerIdentity (the local account's root), AssumeRole of a role a
deployed stack has (the CDK bootstrap roles), refused with AccessDenied for a role no stack has, AWS's
validation errors; every response checked against botocore's shapes, and boto3's STS client parses them."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from albfargate.api.cloudformation.service import CloudFormationApi
from albfargate.api.context import Context
from albfargate.api.server import Dispatcher, Pending
from albfargate.api.store import ConfigStore
from albfargate.cfn.stacks import StackEngine
from albfargate.model import SystemModel
from tests.api.conftest import Endpoint
from tests.api.fakes import FakeBackend
from tests.api.test_wire_shapes import _check_xml
from tests.cfn_templates import body
from tests.unit.cfn_fakes import Clock, FakeSystem, counter_ids

botocore_session = pytest.importorskip("botocore.session")
ClientError = pytest.importorskip("botocore.exceptions").ClientError
_MODEL = botocore_session.get_session().get_service_model("sts")
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ROLE = "cdk-hnb659fds-deploy-role-000000000000-us-east-1"
ROLE_ARN = f"arn:aws:iam::000000000000:role/{ROLE}"
HEADERS = {
    "host": "localhost",
    "content-type": "application/x-www-form-urlencoded",
    "authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/sts/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def _dispatcher() -> tuple[Dispatcher, StackEngine]:
    ctx = Context(FakeBackend(SystemModel()), ConfigStore(SystemModel()), clock=lambda: 1_700_000_000.0)
    engine = StackEngine(FakeSystem(), clock=Clock(), new_id=counter_ids())
    ctx.cloudformation = CloudFormationApi(engine, None)  # type: ignore[arg-type]
    return Dispatcher(ctx), engine


async def call(d: Dispatcher, action: str, **params: Any) -> tuple[int, ET.Element]:
    form = urlencode([("Action", action), ("Version", "2011-06-15"), *params.items()]).encode()
    r = d.handle("POST", "/", dict(HEADERS), form)
    if isinstance(r, Pending):
        r = await r.response()
    return r.status, ET.fromstring(r.body)


def check_ok(action: str, status: int, root: ET.Element) -> ET.Element:
    assert status == 200, ET.tostring(root)
    assert root.tag == f"{NS}{action}Response"
    result = root.find(f"{NS}{action}Result")
    assert result is not None
    _check_xml(_MODEL.operation_model(action).output_shape, result, action)
    return result


def error_of(status: int, root: ET.Element) -> tuple[int, str, str]:
    return status, root.findtext(f"{NS}Error/{NS}Code") or "", root.findtext(f"{NS}Error/{NS}Message") or ""


def role_stack() -> str:
    return body(
        {"Resources": {"Deploy": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": ROLE, "X": "y"}}}}
    )


def test_sts_operations_and_their_shapes() -> None:
    d, engine = _dispatcher()

    async def go() -> None:
        who = check_ok("GetCallerIdentity", *await call(d, "GetCallerIdentity"))
        assert who.findtext(f"{NS}Account") == "000000000000"
        assert who.findtext(f"{NS}Arn") == "arn:aws:iam::000000000000:root"

        # before the role exists (not bootstrapped): refused as AWS refuses a role that is not there
        status, code, message = error_of(
            *await call(d, "AssumeRole", RoleArn=ROLE_ARN, RoleSessionName="aws-cdk-u")
        )
        assert (status, code) == (403, "AccessDenied")
        assert message == (
            f"User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on "
            f"resource: {ROLE_ARN}"
        )
        cfn = {**HEADERS, "authorization": HEADERS["authorization"].replace("/sts/", "/cloudformation/")}
        form = urlencode(
            {
                "Action": "CreateStack",
                "Version": "2010-05-15",
                "StackName": "CDKToolkit",
                "TemplateBody": role_stack(),
                "Capabilities.member.1": "CAPABILITY_NAMED_IAM",
            }
        ).encode()
        r = d.handle("POST", "/", cfn, form)
        r = await r.response() if isinstance(r, Pending) else r
        assert r.status == 200, r.body
        await engine.idle()

        got = check_ok(
            "AssumeRole",
            *await call(
                d, "AssumeRole", RoleArn=ROLE_ARN, RoleSessionName="aws-cdk-u", DurationSeconds="900"
            ),
        )
        assert got.findtext(f"{NS}AssumedRoleUser/{NS}Arn") == (
            f"arn:aws:sts::000000000000:assumed-role/{ROLE}/aws-cdk-u"
        )
        key = got.findtext(f"{NS}Credentials/{NS}AccessKeyId") or ""
        assert key.startswith("ASIA") and len(key) == 20
        expiration = got.findtext(f"{NS}Credentials/{NS}Expiration") or ""
        assert datetime.fromisoformat(expiration) == datetime.fromtimestamp(1_700_000_900, UTC)

        for params, fragment in [
            ({"RoleArn": ROLE_ARN}, "at 'roleSessionName' failed to satisfy constraint: Member must not be"),
            ({"RoleArn": ROLE_ARN, "RoleSessionName": "a b"}, "regular expression pattern"),
            ({"RoleArn": ROLE_ARN, "RoleSessionName": "ab", "DurationSeconds": "60"}, "greater than or"),
            ({"RoleArn": "nope", "RoleSessionName": "ab"}, "nope is invalid"),
        ]:
            status, code, message = error_of(*await call(d, "AssumeRole", **params))
            assert (status, code) == (400, "ValidationError") and fragment in message, message
        other = ROLE_ARN.replace("000000000000:", "123456789012:")
        status, code, _ = error_of(*await call(d, "AssumeRole", RoleArn=other, RoleSessionName="ab"))
        assert (status, code) == (403, "AccessDenied")
        check_ok("GetSessionToken", *await call(d, "GetSessionToken"))
        key_info = await call(d, "GetAccessKeyInfo", AccessKeyId="AKIAEXAMPLE12345")
        info = check_ok("GetAccessKeyInfo", *key_info)
        assert info.findtext(f"{NS}Account") == "000000000000"

    asyncio.run(go())


def test_boto3_sts_client_against_the_endpoint(endpoint: Endpoint) -> None:
    sts = endpoint.client("sts")
    who = sts.get_caller_identity()
    assert (who["Account"], who["UserId"]) == ("000000000000", "000000000000")
    with pytest.raises(ClientError) as e:  # this endpoint has no CloudFormation: no role exists
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="session")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
