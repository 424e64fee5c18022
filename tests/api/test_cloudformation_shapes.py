"""Every raw CloudFormation response uses only the field names and types of botocore's own model
(``cloudformation`` 2010-05-15): read from the bytes the sans-I/O :class:`Dispatcher` writes (boto3
would silently drop unknown fields). The stack engine runs over the unit tests' fake system."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import pytest

from albfargate.api.cloudformation.service import CloudFormationApi
from albfargate.api.context import Context
from albfargate.api.server import Dispatcher, Pending
from albfargate.api.store import ConfigStore
from albfargate.cfn.stacks import StackEngine
from albfargate.model import SystemModel
from tests.api.fakes import FakeBackend
from tests.api.test_wire_shapes import _check_xml
from tests.cfn_templates import body, tg_template
from tests.unit.cfn_fakes import Clock, FakeSystem, counter_ids

botocore_session = pytest.importorskip("botocore.session")
_MODEL = botocore_session.get_session().get_service_model("cloudformation")
NS = "{http://cloudformation.amazonaws.com/doc/2010-05-15/}"


def _form(action: str, params: dict[str, Any]) -> bytes:
    flat: list[tuple[str, str]] = [("Action", action), ("Version", "2010-05-15")]

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{prefix}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value, 1):
                add(f"{prefix}.member.{i}", v)
        elif isinstance(value, bool):
            flat.append((prefix, "true" if value else "false"))
        else:
            flat.append((prefix, str(value)))

    for k, v in params.items():
        add(k, v)
    return urlencode(flat).encode()


HEADERS = {
    "host": "localhost",
    "content-type": "application/x-www-form-urlencoded",
    "authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/cloudformation/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


async def call(d: Dispatcher, action: str, **params: Any) -> tuple[int, ET.Element]:
    r = d.handle("POST", "/", dict(HEADERS), _form(action, params))
    if isinstance(r, Pending):
        r = await r.response()
    return r.status, ET.fromstring(r.body)


def check_ok(action: str, status: int, root: ET.Element) -> ET.Element:
    assert status == 200, ET.tostring(root)
    assert root.tag == f"{NS}{action}Response"
    result = root.find(f"{NS}{action}Result")
    shape = _MODEL.operation_model(action).output_shape
    if shape is not None and result is not None:
        _check_xml(shape, result, action)
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId") is not None
    return result if result is not None else root


def test_responses_match_botocore_shapes() -> None:
    system = FakeSystem()
    ctx = Context(FakeBackend(SystemModel()), ConfigStore(SystemModel()))
    engine = StackEngine(system, clock=Clock(), new_id=counter_ids())
    ctx.cloudformation = CloudFormationApi(engine, None)  # type: ignore[arg-type]
    d = Dispatcher(ctx)
    consumer = {
        "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Fn::ImportValue": "slice-tg"}}}}
    }

    async def go() -> None:
        tpl = body(tg_template())
        check_ok(
            "CreateStack",
            *await call(
                d, "CreateStack", StackName="Slice", TemplateBody=tpl, Tags=[{"Key": "team", "Value": "a"}]
            ),
        )
        await engine.idle()
        check_ok(
            "CreateStack", *await call(d, "CreateStack", StackName="Consumer", TemplateBody=body(consumer))
        )
        await engine.idle()
        for action, params in [
            ("DescribeStacks", {"StackName": "Slice"}),
            ("DescribeStacks", {}),
            ("ListStacks", {"StackStatusFilter": ["CREATE_COMPLETE"]}),
            ("DescribeStackEvents", {"StackName": "Slice"}),
            ("DescribeStackResources", {"StackName": "Slice"}),
            ("DescribeStackResource", {"StackName": "Slice", "LogicalResourceId": "TG"}),
            ("ListStackResources", {"StackName": "Slice"}),
            ("GetTemplate", {"StackName": "Slice"}),
            ("GetTemplateSummary", {"StackName": "Slice"}),
            ("GetTemplateSummary", {"TemplateBody": tpl}),
            ("ValidateTemplate", {"TemplateBody": tpl}),
            ("ListExports", {}),
            ("ListImports", {"ExportName": "slice-tg"}),
            ("UpdateTerminationProtection", {"StackName": "Slice", "EnableTerminationProtection": False}),
            ("DescribeEvents", {"StackName": "Slice"}),
            ("GetStackPolicy", {"StackName": "Slice"}),
        ]:
            check_ok(action, *await call(d, action, **params))
        result = check_ok(
            "CreateChangeSet",
            *await call(
                d,
                "CreateChangeSet",
                StackName="Slice",
                ChangeSetName="c1",
                TemplateBody=body(tg_template(port=81, health_path="/h")),
            ),
        )
        assert result.findtext(f"{NS}Id", "").startswith("arn:aws:cloudformation:")
        for include in (True, False):
            described = check_ok(
                "DescribeChangeSet",
                *await call(
                    d,
                    "DescribeChangeSet",
                    StackName="Slice",
                    ChangeSetName="c1",
                    IncludePropertyValues=include,
                ),
            )
            change = described.find(f"{NS}Changes/{NS}member/{NS}ResourceChange")
            assert change is not None and change.findtext(f"{NS}Replacement") == "True"
        check_ok("ListChangeSets", *await call(d, "ListChangeSets", StackName="Slice"))
        check_ok(
            "ExecuteChangeSet", *await call(d, "ExecuteChangeSet", StackName="Slice", ChangeSetName="c1")
        )
        await engine.idle()
        check_ok("DeleteChangeSet", *await call(d, "DeleteChangeSet", StackName="Slice", ChangeSetName="c1"))
        check_ok(
            "UpdateStack",
            *await call(
                d,
                "UpdateStack",
                StackName="Slice",
                UsePreviousTemplate=True,
                Tags=[{"Key": "team", "Value": "b"}],
            ),
        )
        await engine.idle()
        check_ok("DeleteStack", *await call(d, "DeleteStack", StackName="Consumer"))
        await engine.idle()

        status, root = await call(d, "DescribeStacks", StackName="Nope")
        assert status == 400
        assert root.tag == f"{NS}ErrorResponse"
        assert root.findtext(f"{NS}Error/{NS}Code") == "ValidationError"
        assert root.findtext(f"{NS}Error/{NS}Message") == "Stack with id Nope does not exist"
        status, root = await call(d, "DescribeChangeSet", StackName="Slice", ChangeSetName="gone")
        assert (status, root.findtext(f"{NS}Error/{NS}Code")) == (404, "ChangeSetNotFound")

    asyncio.run(go())
