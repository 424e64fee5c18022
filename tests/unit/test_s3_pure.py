"""Pure S3 parts: request routing on the shared endpoint (S3 or not, virtual-hosted buckets, the path-style
rewrite, what a mutating request may have changed), bucket names and attributes from the template, and the
task-role credentials document and its expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from albfargate.assembly import model_from_templates
from albfargate.assembly.s3 import generated_bucket_name
from albfargate.backing.s3_requests import Scope, is_s3_request, mutation_scope, path_style, virtual_bucket
from albfargate.ecs.metadata import credentials_document, new_credentials
from albfargate.errors import AssemblyError
from albfargate.model.s3 import bucket_name_problem


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("photos.localhost:4566", "photos"),
        ("photos.s3.localhost:4566", "photos"),
        ("photos.s3.us-east-1.localhost", "photos"),
        ("photos.s3.dualstack.eu-west-1.localhost:1", "photos"),
        ("my.dotted.bucket.s3.localhost:4566", "my.dotted.bucket"),
        ("my.dotted.bucket.localhost", "my.dotted.bucket"),
        ("PHOTOS.LOCALHOST.:4566", "photos"),
        ("localhost:4566", None),
        ("s3.localhost:4566", None),
        ("s3.us-east-1.localhost", None),
        ("127.0.0.1:4566", None),
        ("[::1]:4566", None),
        ("photos.example.com", None),
        (None, None),
    ],
)
def test_virtual_bucket(host: str | None, bucket: str | None) -> None:
    assert virtual_bucket(host) == bucket


@pytest.mark.parametrize(
    ("signed", "method", "target", "headers", "s3"),
    [
        ("s3", "GET", "/", {"host": "127.0.0.1"}, True),  # ListBuckets
        ("s3", "PUT", "/b/k", {"host": "127.0.0.1"}, True),
        (
            "ecs",
            "POST",
            "/",
            {"host": "127.0.0.1", "x-amz-target": "AmazonEC2ContainerServiceV20141113.X"},
            False,
        ),
        ("elasticloadbalancing", "POST", "/", {"host": "127.0.0.1"}, False),
        (None, "GET", "/", {"host": "127.0.0.1"}, False),  # the endpoint's health check
        (None, "GET", "/health", {"host": "127.0.0.1"}, False),
        (None, "GET", "/b/k", {"host": "127.0.0.1"}, True),  # an anonymous GET
        (None, "GET", "/", {"host": "b.localhost"}, True),  # anonymous ListObjects, virtual-hosted
        (None, "GET", "/?Action=DescribeLoadBalancers&Version=2015-12-01", {"host": "localhost"}, False),
        (
            None,
            "POST",
            "/",
            {"host": "localhost", "content-type": "application/x-www-form-urlencoded"},
            False,
        ),
        (None, "POST", "/", {"host": "localhost", "x-amz-target": "AnyScaleFrontendService.X"}, False),
    ],
)
def test_is_s3_request(
    signed: str | None, method: str, target: str, headers: dict[str, str], s3: bool
) -> None:
    assert is_s3_request(signed, method, target, headers) is s3


@pytest.mark.parametrize(
    ("host", "target", "out"),
    [
        ("b.localhost:1", "/", "/b"),
        ("b.localhost:1", "/?list-type=2", "/b?list-type=2"),
        ("b.s3.localhost", "/a/b.txt?tagging", "/b/a/b.txt?tagging"),
        ("127.0.0.1:1", "/b/k", "/b/k"),
        ("localhost", "/", "/"),
    ],
)
def test_path_style(host: str, target: str, out: str) -> None:
    assert path_style(host, target) == out


@pytest.mark.parametrize(
    ("method", "target", "scope"),
    [
        ("GET", "/b/k", None),
        ("HEAD", "/b", None),
        ("PUT", "/", None),
        ("PUT", "/b", Scope("b")),  # CreateBucket
        ("PUT", "/b?versioning", Scope("b")),
        ("DELETE", "/b", Scope("b")),
        ("POST", "/b?delete", Scope("b", objects=True)),  # DeleteObjects
        ("POST", "/b", Scope("b", objects=True)),  # a browser-form upload
        ("PUT", "/b/dir/k%20x", Scope("b", key="dir/k x")),
        ("DELETE", "/b/k", Scope("b", key="k")),
        ("POST", "/b/k?uploadId=1", Scope("b", key="k")),  # CompleteMultipartUpload
    ],
)
def test_mutation_scope(method: str, target: str, scope: Scope | None) -> None:
    assert mutation_scope(method, target) == scope


def test_generated_bucket_names_are_cloudformation_shaped_and_stable() -> None:
    name = generated_bucket_name("WebWithDb", "UploadsBucket5C5F1B8A")
    assert name == generated_bucket_name("WebWithDb", "UploadsBucket5C5F1B8A")
    assert name.startswith("webwithdb-uploadsbucket5c5f1b8a-")
    assert bucket_name_problem(name) is None
    long = generated_bucket_name("S" * 200, "L" * 200)
    assert len(long) <= 63 and bucket_name_problem(long) is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("my-bucket", True),
        ("a.b.c", True),
        ("ab", False),
        ("Upper", False),
        ("a..b", False),
        ("192.168.1.1", False),
        ("xn--abc", False),
        ("-abc", False),
        ("a" * 64, False),
    ],
)
def test_bucket_name_rules(name: str, ok: bool) -> None:
    assert (bucket_name_problem(name) is None) is ok


def test_ref_and_get_att_of_a_bucket() -> None:
    template = {
        "Resources": {
            "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "photos"}},
            "T": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "ContainerDefinitions": [
                        {
                            "Name": "app",
                            "Image": "x",
                            "Environment": [
                                {"Name": n, "Value": v}
                                for n, v in (
                                    ("REF", {"Ref": "B"}),
                                    ("ARN", {"Fn::GetAtt": ["B", "Arn"]}),
                                    ("DOMAIN", {"Fn::GetAtt": ["B", "DomainName"]}),
                                    ("REGIONAL", {"Fn::GetAtt": ["B", "RegionalDomainName"]}),
                                    ("DUAL", {"Fn::GetAtt": ["B", "DualStackDomainName"]}),
                                    ("WEBSITE", {"Fn::GetAtt": ["B", "WebsiteURL"]}),
                                )
                            ],
                        }
                    ]
                },
            },
        }
    }
    model = model_from_templates([("S", template)])
    assert [b.name for b in model.buckets] == ["photos"]
    env = dict(model.task_definitions[0].containers[0].environment)
    assert env == {
        "REF": "photos",
        "ARN": "arn:aws:s3:::photos",
        "DOMAIN": "photos.s3.localhost",
        "REGIONAL": "photos.s3.us-east-1.localhost",
        "DUAL": "photos.s3.dualstack.us-east-1.localhost",
        "WEBSITE": "http://photos.s3-website-us-east-1.localhost",
    }


def test_versioning_and_tags_of_a_bucket() -> None:
    template = {
        "Resources": {
            "B": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "Tags": [{"Key": "team", "Value": "a"}],
                },
            }
        }
    }
    [bucket] = model_from_templates([("Stack", template)]).buckets
    assert bucket.versioning and bucket.tags == (("team", "a"),)
    assert bucket.name == generated_bucket_name("Stack", "B")


def test_an_invalid_bucket_name_names_the_resource() -> None:
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "Bad_Name"}}}}
    with pytest.raises(
        AssemblyError, match=r"resource B, property Properties.BucketName: invalid bucket name"
    ):
        model_from_templates([("S", template)])


def test_credentials_document_expires_ahead_and_a_refetch_moves_the_expiry() -> None:
    creds = new_credentials("task1")
    t0 = 1_800_000_000.0
    first = credentials_document(creds, role_arn="arn:aws:iam::000000000000:role/r", now=t0)
    assert set(first) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}
    assert first["AccessKeyId"].startswith("ASIA") and len(first["AccessKeyId"]) == 20
    expiry = datetime.strptime(first["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert expiry == t0 + 6 * 3600
    later = credentials_document(
        creds, role_arn=None, now=t0 + 5.9 * 3600
    )  # botocore refetches ~15 min before
    assert later["Expiration"] > first["Expiration"] and "RoleArn" not in later
    assert later["AccessKeyId"] == first["AccessKeyId"]
    assert creds.token not in repr(creds) and creds.secret_access_key not in repr(creds)
    assert new_credentials("task1").token != creds.token


def test_describe_lists_buckets() -> None:
    from albfargate.describe import render_tree, to_json

    template = {
        "Resources": {
            "Photos": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": "photos", "VersioningConfiguration": {"Status": "Enabled"}},
            }
        }
    }
    model = model_from_templates([("S", template)])
    assert "S3 buckets (on the local AWS endpoint):\n  photos  S/Photos, versioned\n" in render_tree(model)
    assert to_json(model)["buckets"] == [
        {"name": "photos", "stack": "S", "logical_id": "Photos", "versioning": True, "tags": []}
    ]
