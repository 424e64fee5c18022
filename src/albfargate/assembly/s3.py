"""``AWS::S3::Bucket`` -> :class:`~albfargate.model.s3.Bucket`.

Owns: the bucket's physical name (``BucketName``, or CloudFormation's generated
``<stack>-<logicalid>-<suffix>`` in lower case, at most 63 characters, the same on every run), its
``Ref`` (the name) and its ``Fn::GetAtt`` values (``model/s3.py`` says what they resolve to locally)."""

from __future__ import annotations

import re
from typing import Any

from albfargate.model import s3

from .context import ResourceContext, physical_suffix
from .kinds import ResourceKind

BUCKET = "AWS::S3::Bucket"
_NOT_NAME = re.compile(r"[^a-z0-9-]+")


def generated_bucket_name(stack: str, logical_id: str) -> str:
    """CloudFormation's shape for a bucket without ``BucketName``: ``<stack>-<logicalid>-<suffix>``,
    lower case; each prefix at most 24 characters so that the name stays under 63."""
    parts = [
        _NOT_NAME.sub("", stack.lower())[:24].strip("-"),
        _NOT_NAME.sub("", logical_id.lower())[:24].strip("-"),
        physical_suffix(f"{stack}/{logical_id}").lower(),
    ]
    return re.sub("-{2,}", "-", "-".join(p for p in parts if p))


def bucket_name(ctx: ResourceContext) -> str:
    literal = ctx.props.str("BucketName")
    if literal is None:
        return generated_bucket_name(ctx.stack, ctx.logical_id)
    problem = s3.bucket_name_problem(literal)
    if problem is not None:
        ctx.props.error("BucketName", f"invalid bucket name {literal!r}: {problem}")
    return literal


def _ref(ctx: ResourceContext) -> str:
    return bucket_name(ctx)


def _att(ctx: ResourceContext, attribute: str) -> Any:
    name = bucket_name(ctx)
    values = {
        "Arn": s3.bucket_arn(name),
        "DomainName": s3.domain_name(name),
        "RegionalDomainName": s3.regional_domain_name(name),
        "DualStackDomainName": s3.dual_stack_domain_name(name),
        "WebsiteURL": s3.website_url(name),
    }
    return values[attribute]  # KeyError: the generic stand-in


def _convert(ctx: ResourceContext) -> list[object]:
    p = ctx.props
    versioning = p.sub("VersioningConfiguration")
    status = versioning.str("Status") if versioning is not None else None
    return [
        s3.Bucket(
            name=bucket_name(ctx),
            stack=ctx.stack,
            logical_id=ctx.logical_id,
            versioning=status == "Enabled",
            tags=p.pairs("Tags"),
        )
    ]


KINDS: dict[str, ResourceKind] = {
    BUCKET: ResourceKind(ref=_ref, get_att=_att, convert=_convert),
}
