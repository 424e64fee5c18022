"""The URL output of a stack deployed through CloudFormation (boto3, no CDK CLI) opens the app in a
browser: ``DescribeStacks`` shows the load balancer's name under ``.localhost`` with the local listener
port (``http://<name>.us-east-1.elb.localhost:<port>``, docs/deploy-local.md), real headless Chromium
resolves that name to the loopback address itself (no resolver rule, no /etc/hosts entry) and shows the
app's answer through the local ALB, the same answer ``curl`` gets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.cfn_live import FAST, cfn_engine
from tests.browser.conftest import Page
from tests.cfn_templates import body, service_template
from tests.integration.up_support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(180)]


def curl(url: str) -> tuple[int, str]:
    curl_bin = shutil.which("curl")
    if curl_bin is None:
        pytest.skip("no curl")
    out = subprocess.run(
        [curl_bin, "-sS", "-m", "10", "-w", "\n%{http_code}", url],
        capture_output=True,
        text=True,
        check=False,
    )
    text, _, code = out.stdout.rpartition("\n")
    return int(code or 0), text


def test_the_service_url_output_opens_the_app_in_chromium(tmp_path: Path, tab: Page) -> None:
    with cfn_engine(tmp_path / "state") as live:
        cfn = live.client("cloudformation")
        cfn.create_stack(StackName="Browsed", TemplateBody=body(service_template(desired=1)))
        cfn.get_waiter("stack_create_complete").wait(StackName="Browsed", WaiterConfig=FAST)
        outputs: dict[str, Any] = {
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName="Browsed")["Stacks"][0]["Outputs"]
        }
        url = outputs["URL"]
        port = live.lb_url.rsplit(":", 1)[1]
        assert re.fullmatch(rf"http://[A-Za-z0-9-]+\.us-east-1\.elb\.localhost:{port}", url), url
        _, answer = wait_for(lambda: (c := curl(url + "/"))[0] == 200 and c, 30, "curl of the output URL")
        response = tab.page.goto(url + "/")
        assert response is not None and response.status == 200
        shown = json.loads(tab.page.inner_text("body"))
        tab.shot("service-url")
        # the page is the app's answer (the stand-in echoes the request), as curl got it; the Host is the
        # output's name, as on AWS it is the load balancer's (the browser writes it in lower case)
        by_curl = json.loads(answer)
        host = url.removeprefix("http://").rsplit(":", 1)[0].lower()
        assert shown["service"] == by_curl["service"] == "web"
        assert shown["headers"]["host"].lower() == by_curl["headers"]["host"].lower() == host
        cfn.delete_stack(StackName="Browsed")
        cfn.get_waiter("stack_delete_complete").wait(StackName="Browsed", WaiterConfig=FAST)
