"""DescribeServices and DescribeTasks share one batch rule (``_describe_in_cluster``): the exact
InvalidParameterException messages for an empty and an over-long list, and a MISSING failure named by
its ARN whether the reference was an ARN or a bare name/id."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Endpoint

CASES = [
    ("describe_services", "services", "Services", 10, "s"),
    ("describe_tasks", "tasks", "Tasks", 100, ""),
]


@pytest.mark.parametrize(("op", "key", "noun", "maximum", "prefix"), CASES)
def test_empty_and_over_long_batches(
    endpoint: Endpoint, op: str, key: str, noun: str, maximum: int, prefix: str
) -> None:
    call = getattr(endpoint.client("ecs"), op)
    with pytest.raises(ClientError) as empty:
        call(cluster="demo", **{key: []})
    assert empty.value.response["Error"]["Code"] == "InvalidParameterException"
    assert empty.value.response["Error"]["Message"] == f"{noun} cannot be empty."
    refs = [f"{prefix}{i:032x}" for i in range(maximum + 1)]
    with pytest.raises(ClientError) as long:
        call(cluster="demo", **{key: refs})
    assert long.value.response["Error"]["Code"] == "InvalidParameterException"
    assert long.value.response["Error"]["Message"] == f"{noun} cannot have more than {maximum} items."
    full = call(cluster="demo", **{key: refs[:maximum]})
    assert full[key] == [] and len(full["failures"]) == maximum


@pytest.mark.parametrize(
    ("op", "key", "ref", "arn"),
    [
        ("describe_services", "services", "ghost", "arn:aws:ecs:us-east-1:000000000000:service/demo/ghost"),
        (
            "describe_services",
            "services",
            "arn:aws:ecs:us-east-1:000000000000:service/demo/other",
            "arn:aws:ecs:us-east-1:000000000000:service/demo/other",
        ),
        ("describe_tasks", "tasks", "f" * 32, "arn:aws:ecs:us-east-1:000000000000:task/demo/" + "f" * 32),
    ],
)
def test_missing_reference_is_a_failure_under_its_arn(
    endpoint: Endpoint, op: str, key: str, ref: str, arn: str
) -> None:
    out = getattr(endpoint.client("ecs"), op)(cluster="demo", **{key: [ref]})
    assert out[key] == []
    assert out["failures"] == [{"arn": arn, "reason": "MISSING"}]
