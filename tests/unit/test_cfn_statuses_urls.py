"""The stack status table (cfn/statuses.py) and where a TemplateURL points (cfn/urls.py)."""

from __future__ import annotations

import pytest

from albfargate.cfn.model import StackStatus as S
from albfargate.cfn.statuses import IllegalTransition, cannot_update, failed_to, in_progress, next_status
from albfargate.cfn.urls import S3Location, s3_location


@pytest.mark.parametrize(
    ("status", "event", "after"),
    [
        (S.REVIEW_IN_PROGRESS, "create", S.CREATE_IN_PROGRESS),
        (S.CREATE_IN_PROGRESS, "complete", S.CREATE_COMPLETE),
        (S.CREATE_IN_PROGRESS, "fail", S.ROLLBACK_IN_PROGRESS),
        (S.CREATE_IN_PROGRESS, "fail_no_rollback", S.CREATE_FAILED),
        (S.ROLLBACK_IN_PROGRESS, "complete", S.ROLLBACK_COMPLETE),
        (S.ROLLBACK_IN_PROGRESS, "fail", S.ROLLBACK_FAILED),
        (S.CREATE_COMPLETE, "update", S.UPDATE_IN_PROGRESS),
        (S.UPDATE_ROLLBACK_COMPLETE, "update", S.UPDATE_IN_PROGRESS),
        (S.UPDATE_IN_PROGRESS, "cleanup", S.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS),
        (S.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, "complete", S.UPDATE_COMPLETE),
        (S.UPDATE_IN_PROGRESS, "complete", S.UPDATE_COMPLETE),
        (S.UPDATE_IN_PROGRESS, "fail", S.UPDATE_ROLLBACK_IN_PROGRESS),
        (S.UPDATE_ROLLBACK_IN_PROGRESS, "cleanup", S.UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS),
        (S.UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS, "complete", S.UPDATE_ROLLBACK_COMPLETE),
        (S.UPDATE_ROLLBACK_IN_PROGRESS, "fail", S.UPDATE_ROLLBACK_FAILED),
        (S.ROLLBACK_COMPLETE, "delete", S.DELETE_IN_PROGRESS),
        (S.REVIEW_IN_PROGRESS, "delete", S.DELETE_IN_PROGRESS),
        (S.DELETE_FAILED, "delete", S.DELETE_IN_PROGRESS),
        (S.DELETE_IN_PROGRESS, "complete", S.DELETE_COMPLETE),
        (S.DELETE_IN_PROGRESS, "fail", S.DELETE_FAILED),
    ],
)
def test_transitions(status: S, event: str, after: S) -> None:
    assert next_status(status, event) is after


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (S.UPDATE_IN_PROGRESS, "update"),  # a second update while one runs
        (S.ROLLBACK_COMPLETE, "update"),  # a stack whose create failed can only be deleted
        (S.UPDATE_IN_PROGRESS, "delete"),
        (S.DELETE_COMPLETE, "update"),
        (S.CREATE_COMPLETE, "complete"),
    ],
)
def test_illegal_transitions(status: S, event: str) -> None:
    with pytest.raises(IllegalTransition):
        next_status(status, event)


def test_messages_and_in_progress() -> None:
    assert cannot_update("arn:s", "UPDATE_IN_PROGRESS") == (
        "Stack:arn:s is in UPDATE_IN_PROGRESS state and can not be updated."
    )
    assert failed_to("create", ["A", "B"]) == (
        "The following resource(s) failed to create: [A, B]. Rollback requested by user."
    )
    assert in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS") and not in_progress("REVIEW_IN_PROGRESS")


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://s3.us-east-1.amazonaws.com/cdk-bucket/abc.json", S3Location("cdk-bucket", "abc.json")),
        ("https://s3.amazonaws.com/b/dir/k%20x.json", S3Location("b", "dir/k x.json")),
        ("https://s3-eu-west-1.amazonaws.com/b/k", S3Location("b", "k")),
        ("https://s3.dualstack.us-west-2.amazonaws.com/b/k", S3Location("b", "k")),
        ("https://b.s3.amazonaws.com/k", S3Location("b", "k")),
        ("https://my.bucket.s3.us-east-1.amazonaws.com/a/b", S3Location("my.bucket", "a/b")),
        ("https://b.s3-us-west-2.amazonaws.com/k?versionId=v1", S3Location("b", "k", "v1")),
        ("https://s3.cn-north-1.amazonaws.com.cn/b/k", S3Location("b", "k")),
        ("s3://b/k/t.yaml", S3Location("b", "k/t.yaml")),
        ("http://127.0.0.1:4566/b/k", S3Location("b", "k")),
        ("http://localhost:4566/b/k", S3Location("b", "k")),
        ("http://b.localhost:4566/k", S3Location("b", "k")),
    ],
)
def test_s3_url_forms(url: str, location: S3Location) -> None:
    assert s3_location(url) == location


@pytest.mark.parametrize(
    "url",
    ["https://example.com/t.json", "https://s3.amazonaws.com/only-bucket", "ftp://s3.amazonaws.com/b/k"],
)
def test_not_s3_urls(url: str) -> None:
    assert s3_location(url) is None
