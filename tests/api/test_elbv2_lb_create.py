"""CreateLoadBalancer / CreateListener / DeleteListener / DeleteLoadBalancer over the fake backend: what
reaches the data-plane seam, what the store keeps, and refusals from the backend (workers > 1, no ALB)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from albfargate.api.backend import BackendError
from albfargate.api.engine_backend import EngineBackend
from albfargate.model import ForwardAction, Listener, LoadBalancer, LoadBalancerType, TargetGroupTuple
from albfargate.model.ids import hex_id, lb_dns_name, load_balancer_arn
from tests.api.conftest import Endpoint
from tests.api.fakes import LB_ARN, TG_ARN, demo_model

FWD = [{"Type": "forward", "TargetGroupArn": TG_ARN}]


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_and_delete_reach_the_backend(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")
    lb = elb.create_load_balancer(Name="made-lb", Subnets=["s1", "s2"], Tags=[{"Key": "k", "Value": "v"}])[
        "LoadBalancers"
    ][0]
    arn = lb["LoadBalancerArn"]
    added: Any = endpoint.backend.last("add_load_balancer")
    assert added.arn == arn and added.name == "made-lb"
    # deterministic ids (model/ids.py): the ARN and DNS name follow from the name
    assert arn == load_balancer_arn("made-lb", hex_id("api#loadbalancer#made-lb"))
    assert lb["DNSName"] == lb_dns_name("made-lb", False, "api#loadbalancer#made-lb")
    assert elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == [{"Key": "k", "Value": "v"}]
    listener = elb.create_listener(LoadBalancerArn=arn, Port=81, Protocol="HTTP", DefaultActions=FWD)[
        "Listeners"
    ][0]
    got, rules = endpoint.backend.last("add_listener")  # type: ignore[misc]
    assert got.arn == listener["ListenerArn"] and got.port == 81 and rules == []
    assert listener["ListenerArn"].startswith(arn.replace(":loadbalancer/", ":listener/") + "/")
    rule = elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}}],
        Actions=FWD,
    )["Rules"][0]
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    assert endpoint.backend.last("remove_listener") == listener["ListenerArn"]
    with pytest.raises(ClientError) as exc:
        elb.describe_rules(RuleArns=[rule["RuleArn"]])
    assert _code(exc) == "RuleNotFound"
    second = elb.create_listener(LoadBalancerArn=arn, Port=82, Protocol="HTTP", DefaultActions=FWD)[
        "Listeners"
    ][0]
    elb.delete_load_balancer(LoadBalancerArn=arn)
    assert endpoint.backend.last("remove_load_balancer") == arn
    assert second["ListenerArn"] not in endpoint.store.listeners
    assert arn not in endpoint.store.load_balancers and arn not in endpoint.store.tags


def test_backend_refusal_leaves_the_store_unchanged(endpoint: Endpoint) -> None:
    elb = endpoint.client("elbv2")

    def refuse(*_: Any) -> None:
        raise BackendError("OperationNotPermitted", "Creating a listener is not supported with --workers 2")

    endpoint.backend.add_listener = refuse  # type: ignore[method-assign]
    endpoint.backend.add_load_balancer = refuse  # type: ignore[method-assign]
    with pytest.raises(ClientError) as exc:
        elb.create_listener(LoadBalancerArn=LB_ARN, Port=81, Protocol="HTTP", DefaultActions=FWD)
    assert _code(exc) == "OperationNotPermitted" and "--workers 2" in exc.value.response["Error"]["Message"]
    assert [x["Port"] for x in elb.describe_listeners(LoadBalancerArn=LB_ARN)["Listeners"]] == [80]
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="refused-lb", Subnets=["s1", "s2"])
    assert _code(exc) == "OperationNotPermitted"
    assert "refused-lb" not in {lb.name for lb in endpoint.store.load_balancers.values()}


@pytest.mark.parametrize(
    ("lb", "needle"),
    [(None, "no local load balancer"), (SimpleNamespace(workers=2), "--workers 2")],
)
def test_engine_backend_refuses_without_alb_or_with_workers(lb: Any, needle: str) -> None:
    model = demo_model()
    engine: Any = SimpleNamespace(lb=lb, model=model, started_at=1.0)
    backend = EngineBackend(engine)
    listener = Listener(
        LB_ARN.replace(":loadbalancer/", ":listener/") + "/9999999999999999",
        LB_ARN,
        81,
        "HTTP",
        (ForwardAction((TargetGroupTuple(TG_ARN),)),),
    )
    calls = [
        lambda: backend.add_load_balancer(model.load_balancers[0]),
        lambda: backend.add_listener(listener, ()),
        lambda: backend.remove_listener(listener.arn),
        lambda: backend.remove_load_balancer(LB_ARN),
    ]
    for call in calls:
        with pytest.raises(BackendError) as exc:
            call()
        assert exc.value.code == "OperationNotPermitted" and needle in exc.value.message
    assert engine.model is model  # nothing changed


def test_create_listener_on_a_network_load_balancer_is_refused(endpoint: Endpoint) -> None:
    lb_id = hex_id("net")
    nlb = LoadBalancer(
        load_balancer_arn("net-lb", lb_id, "net"),
        "net-lb",
        lb_id,
        "net-lb-1.elb.amazonaws.com",
        type=LoadBalancerType.NETWORK,
    )
    endpoint.call(lambda: endpoint.store.load_balancers.__setitem__(nlb.arn, nlb))
    elb = endpoint.client("elbv2")
    with pytest.raises(ClientError) as exc:
        elb.create_listener(LoadBalancerArn=nlb.arn, Port=81, Protocol="TCP", DefaultActions=FWD)
    assert _code(exc) == "OperationNotPermitted"
    assert "only application load balancers" in exc.value.response["Error"]["Message"]
    assert not [c for c, _ in endpoint.backend.calls if c == "add_listener"]
