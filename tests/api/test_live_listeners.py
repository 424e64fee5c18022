"""CreateLoadBalancer / CreateListener / DeleteListener / DeleteLoadBalancer / ModifyListener (port)
through boto3 change the running local ALB: the new listener's local URL appears in ``status`` (the
``status --json`` document) and serves the service's tasks; a deleted listener's port refuses."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.live import LB_ARN, TG_ARN, Live, free_port, live_engine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
FWD = [{"Type": "forward", "TargetGroupArn": TG_ARN}]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_engine(tmp_path / "state") as lv:
        yield lv


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status_listeners(live: Live, lb_name: str) -> list[dict[str, Any]]:
    doc = live.call(lambda: live.engine.status())
    json.dumps(doc)  # the status --json document stays serialisable
    for lb in doc.get("load_balancers", []):
        if lb["name"] == lb_name:
            return list(lb["listeners"])
    return []


def wait_listener(live: Live, lb_name: str, port: int, present: bool = True) -> dict[str, Any] | None:
    deadline = time.time() + 10
    while time.time() < deadline:
        found = [x for x in status_listeners(live, lb_name) if x["port"] == port]
        if found and present:
            return found[0]
        if not found and not present:
            return None
        time.sleep(0.05)
    raise AssertionError(f"listener {lb_name}:{port} present={present} not reached")


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def refuses(port: int) -> bool:
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.05)
    return False


def test_status_document_key(live: Live) -> None:
    doc = live.call(lambda: live.engine.status())
    assert "load_balancers" in doc and doc["load_balancers"][0]["name"] == "live-lb"


def test_create_lb_and_listener_serve_then_delete_refuses(live: Live) -> None:
    ecs, elb = live.client("ecs"), live.client("elbv2")
    live.wait_serving("web")
    lb = elb.create_load_balancer(Name="extra-lb", Subnets=["subnet-1", "subnet-2"], Type="application")[
        "LoadBalancers"
    ][0]
    assert lb["State"] == {"Code": "active"} and lb["Type"] == "application"
    assert lb["LoadBalancerArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/extra-lb/"
    )
    assert lb["DNSName"].startswith("extra-lb-") and lb["DNSName"].endswith(".us-east-1.elb.amazonaws.com")
    again = elb.create_load_balancer(Name="extra-lb", Subnets=["subnet-1", "subnet-2"])["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == lb["LoadBalancerArn"]  # identical settings: idempotent
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="extra-lb", Subnets=["subnet-1"], Scheme="internal")
    assert _code(exc) == "DuplicateLoadBalancerName"
    names = [x["LoadBalancerName"] for x in elb.describe_load_balancers()["LoadBalancers"]]
    assert names == ["live-lb", "extra-lb"]

    template = free_port()  # >= 1024: served on that port locally
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=template, Protocol="HTTP", DefaultActions=FWD
    )["Listeners"][0]
    assert listener["Port"] == template and listener["Protocol"] == "HTTP"
    assert listener["DefaultActions"][0]["TargetGroupArn"] == TG_ARN
    same = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Port=template, Protocol="HTTP", DefaultActions=FWD
    )["Listeners"][0]
    assert same["ListenerArn"] == listener["ListenerArn"]
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Port=template,
            Protocol="HTTP",
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )
    assert _code(exc) == "DuplicateListener"

    bound = wait_listener(live, "extra-lb", template)
    assert bound is not None and bound["local_port"] == template
    assert bound["url"] == f"http://127.0.0.1:{template}/"
    arns = {a.rsplit("/", 1)[1] for a in ecs.list_tasks(cluster="live", serviceName="web")["taskArns"]}
    status, body = fetch(bound["url"])
    assert status == 200 and json.loads(body)["task"] in arns
    described = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert [x["ListenerArn"] for x in described] == [listener["ListenerArn"]]
    assert live.get("/")[0] == 200  # the template's listener is untouched

    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    assert refuses(template)
    wait_listener(live, "extra-lb", template, present=False)
    assert elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"] == []
    with pytest.raises(ClientError) as exc:
        elb.delete_listener(ListenerArn=listener["ListenerArn"])
    assert _code(exc) == "ListenerNotFound"

    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])  # a missing one succeeds
    names = [x["LoadBalancerName"] for x in elb.describe_load_balancers()["LoadBalancers"]]
    assert names == ["live-lb"]
    assert live.get("/")[0] == 200


def test_delete_load_balancer_takes_its_listeners_and_respects_protection(live: Live) -> None:
    elb = live.client("elbv2")
    live.wait_serving("web")
    arn = elb.create_load_balancer(Name="gone-lb", Subnets=["s1", "s2"])["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    port = free_port()
    listener = elb.create_listener(LoadBalancerArn=arn, Port=port, Protocol="HTTP", DefaultActions=FWD)[
        "Listeners"
    ][0]
    elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=3,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/teapot"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418"}}],
    )
    bound = wait_listener(live, "gone-lb", port)
    assert bound is not None
    assert fetch(bound["url"] + "teapot")[0] == 418  # the new listener's rule routes
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as exc:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert _code(exc) == "OperationNotPermitted"
    assert fetch(bound["url"])[0] == 200  # still serving
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert refuses(port)
    with pytest.raises(ClientError) as exc:
        elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])
    assert _code(exc) == "ListenerNotFound"
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(LoadBalancerArns=[arn])
    assert _code(exc) == "LoadBalancerNotFound"
    assert status_listeners(live, "gone-lb") == []


def test_create_refusals(live: Live) -> None:
    elb = live.client("elbv2")
    for bad in ("-lead", "trail-", "internal-x", "a" * 33, "under_score"):
        with pytest.raises(ClientError) as exc:
            elb.create_load_balancer(Name=bad, Subnets=["s1", "s2"])
        assert _code(exc) == "ValidationError", bad
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="net-lb", Subnets=["s1", "s2"], Type="network")
    assert _code(exc) == "OperationNotPermitted"
    assert "application" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        elb.create_listener(LoadBalancerArn=LB_ARN, Port=8443, Protocol="HTTPS", DefaultActions=FWD)
    assert _code(exc) == "ValidationError"  # HTTPS needs a certificate
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=LB_ARN,
            Port=8443,
            Protocol="HTTPS",
            Certificates=[{"CertificateArn": "not-a-cert"}],
            DefaultActions=FWD,
        )
    assert _code(exc) == "CertificateNotFound"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(LoadBalancerArn=LB_ARN, Port=9000, Protocol="TCP", DefaultActions=FWD)
    assert _code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=LB_ARN,
            Port=9000,
            Protocol="HTTP",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": TG_ARN.replace("web-tg", "nope-tg")}],
        )
    assert _code(exc) == "TargetGroupNotFound"
    assert len(elb.describe_listeners(LoadBalancerArn=LB_ARN)["Listeners"]) == 1


def test_modify_listener_port_rebinds(live: Live) -> None:
    elb = live.client("elbv2")
    live.wait_serving("web")
    arn = elb.create_load_balancer(Name="move-lb", Subnets=["s1", "s2"])["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    first, second = free_port(), free_port()
    while second == first:
        second = free_port()
    listener = elb.create_listener(LoadBalancerArn=arn, Port=first, Protocol="HTTP", DefaultActions=FWD)[
        "Listeners"
    ][0]
    wait_listener(live, "move-lb", first)
    out = elb.modify_listener(ListenerArn=listener["ListenerArn"], Port=second)["Listeners"][0]
    assert out["Port"] == second and out["ListenerArn"] == listener["ListenerArn"]
    bound = wait_listener(live, "move-lb", second)
    assert bound is not None and fetch(bound["url"])[0] == 200
    assert refuses(first)
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert refuses(second)
