"""Resource type -> converter. A converter knows a type's ``Ref`` value, its ``Fn::GetAtt`` values and how
it becomes model values. Every other type is listed as not emulated and gets deterministic stand-in
physical ids and attributes (``vpc-…``, ``sg-…``, ARN-shaped strings) so templates still resolve.

Owns: the table (merged from the converter modules' ``KINDS``, imported at the top: the converters import
only :mod:`.kinds`, never this module), the generic stand-ins for types that are not emulated."""

from __future__ import annotations

from typing import Any

from albfargate.model import NotEmulated, ids

from . import autoscaling, ecs, elbv2, rds, s3, secrets
from .context import ResourceContext, generated_name
from .kinds import ResourceKind

_TABLE: dict[str, ResourceKind] = {
    kind: converter
    for module in (elbv2, ecs, autoscaling, rds, secrets, s3)
    for kind, converter in module.KINDS.items()
}


def table() -> dict[str, ResourceKind]:
    """Every emulated resource type and its converter."""
    return _TABLE


def emulated_types() -> tuple[str, ...]:
    return tuple(sorted(table()))


def ref(ctx: ResourceContext) -> Any:
    kind = table().get(ctx.type)
    return kind.ref(ctx) if kind else generic_ref(ctx)


def get_att(ctx: ResourceContext, attribute: str) -> Any:
    kind = table().get(ctx.type)
    if kind is not None:
        try:
            return kind.get_att(ctx, attribute)
        except KeyError:
            pass
    return generic_att(ctx, attribute)


def convert(ctx: ResourceContext, rtype: str) -> list[object]:
    kind = table().get(rtype)
    if kind is None:
        return [NotEmulated(stack=ctx.stack, logical_id=ctx.logical_id, type=rtype, reason=reason_for(rtype))]
    ctx.resolve_all()
    return kind.convert(ctx)


def reason_for(rtype: str) -> str:
    if rtype.startswith("Custom::") or rtype == "AWS::CloudFormation::CustomResource":
        return "custom resource: not emulated"
    return "not emulated"


# ---- stand-ins for types that are not emulated --------------------------------------------------

# EC2-style ids: prefix + 17 hex digits.
_EC2_PREFIX = {
    "AWS::EC2::VPC": "vpc",
    "AWS::EC2::Subnet": "subnet",
    "AWS::EC2::SecurityGroup": "sg",
    "AWS::EC2::InternetGateway": "igw",
    "AWS::EC2::RouteTable": "rtb",
    "AWS::EC2::NatGateway": "nat",
    "AWS::EC2::Instance": "i",
    "AWS::EC2::NetworkInterface": "eni",
    "AWS::EC2::VPCEndpoint": "vpce",
    "AWS::EC2::SecurityGroupIngress": "sgr",
    "AWS::EC2::SecurityGroupEgress": "sgr",
    "AWS::EC2::EgressOnlyInternetGateway": "eigw",
    "AWS::EC2::NetworkAcl": "acl",
    "AWS::EC2::LaunchTemplate": "lt",
    "AWS::EC2::TransitGateway": "tgw",
}

# Types whose Ref is an ARN (others: a name or id).
_ARN_REF = {
    "AWS::CertificateManager::Certificate": lambda c: (
        f"arn:aws:acm:{ids.LOCAL_REGION}:{ids.LOCAL_ACCOUNT}:certificate/{_uuid(c.seed)}"
    ),
    "AWS::SNS::Topic": lambda c: _arn(c, "sns", _name(c)),
    "AWS::IAM::ManagedPolicy": lambda c: f"arn:aws:iam::{ids.LOCAL_ACCOUNT}:policy/{_name(c)}",
    "AWS::ServiceDiscovery::Service": lambda c: _arn(c, "servicediscovery", f"service/srv-{_hex(c, 16)}"),
    "AWS::ECS::CapacityProvider": lambda c: _name(c),
}

# Types whose Ref is the name given in a property, when it is given (CloudFormation's physical id is that
# name: the CDK bootstrap's roles and repository are named so that the CLI finds them).
_NAME_PROPERTY = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
}

# Attributes that are lists.
_LIST_ATTRIBUTES = {"Ipv6CidrBlocks", "CidrBlockAssociations", "SecurityGroups", "SubnetIds", "DnsEntries"}


def _hex(ctx: ResourceContext, n: int) -> str:
    return ids.hex_id(ctx.seed, n)


def _uuid(seed: str) -> str:
    h = ids.hex_id(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _name(ctx: ResourceContext) -> str:
    return generated_name(ctx.stack, ctx.logical_id, max_len=64, prefix_len=24)


def _arn(ctx: ResourceContext, service: str, resource: str, *, regional: bool = True) -> str:
    region = ids.LOCAL_REGION if regional else ""
    return f"arn:{ids.PARTITION}:{service}:{region}:{ids.LOCAL_ACCOUNT}:{resource}"


def generic_ref(ctx: ResourceContext) -> Any:
    """A deterministic physical id for a resource that is not emulated."""
    prefix = _EC2_PREFIX.get(ctx.type)
    if prefix:
        return f"{prefix}-{_hex(ctx, 17)}"
    if ctx.type == "AWS::EC2::EIP":
        n = int(_hex(ctx, 4), 16)
        return f"198.51.100.{n % 254 + 1}"
    make = _ARN_REF.get(ctx.type)
    if make is not None:
        return make(ctx)
    name_property = _NAME_PROPERTY.get(ctx.type)
    if name_property is not None:
        given = ctx.props.raw(name_property)
        if isinstance(given, str) and given:
            return given
    if ctx.type in ("AWS::S3::Bucket", "AWS::ECR::Repository"):
        return _name(ctx).lower()
    if ctx.type == "AWS::SQS::Queue":
        return f"https://sqs.{ids.LOCAL_REGION}.{ids.URL_SUFFIX}/{ids.LOCAL_ACCOUNT}/{_name(ctx)}"
    return _name(ctx)


def generic_arn(ctx: ResourceContext) -> str:
    """An ARN-shaped string for a resource that is not emulated."""
    parts = ctx.type.split("::")
    service = parts[1].lower() if len(parts) > 1 else "custom"
    kind = parts[2].lower() if len(parts) > 2 else "resource"
    physical = generic_ref(ctx)
    if isinstance(physical, str) and physical.startswith("arn:"):
        return physical
    if service == "iam":
        return f"arn:{ids.PARTITION}:iam::{ids.LOCAL_ACCOUNT}:{kind}/{physical}"
    if ctx.type == "AWS::Lambda::Function":
        return _arn(ctx, "lambda", f"function:{physical}")
    if ctx.type == "AWS::Logs::LogGroup":
        return _arn(ctx, "logs", f"log-group:{physical}:*")
    if ctx.type == "AWS::S3::Bucket":
        return f"arn:{ids.PARTITION}:s3:::{physical}"
    if ctx.type.startswith("Custom::") or ctx.type == "AWS::CloudFormation::CustomResource":
        return _arn(ctx, "cloudformation", f"custom/{physical}")
    return _arn(ctx, service, f"{kind}/{physical}")


def generic_att(ctx: ResourceContext, attribute: str) -> Any:
    """A stand-in value of ``Fn::GetAtt`` for a resource that is not emulated (or an attribute an
    emulated converter does not know)."""
    if attribute == "Arn" or attribute.endswith("Arn"):
        return generic_arn(ctx)
    if ctx.type == "AWS::EC2::SecurityGroup" and attribute in ("GroupId", "Id"):
        return generic_ref(ctx)
    if ctx.type == "AWS::EC2::VPC":
        if attribute == "CidrBlock":
            literal = ctx.raw_properties.get("CidrBlock")
            return literal if isinstance(literal, str) else "10.0.0.0/16"
        if attribute == "DefaultSecurityGroup":
            return f"sg-{ids.hex_id(ctx.seed + '#default-sg', 17)}"
        if attribute == "Ipv6CidrBlocks":
            return [f"2600:1f18:{_hex(ctx, 4)}:{_hex(ctx, 2)}00::/56"]
        if attribute == "CidrBlockAssociations":
            return [f"vpc-cidr-assoc-{_hex(ctx, 17)}"]
        if attribute == "DefaultNetworkAcl":
            return f"acl-{_hex(ctx, 17)}"
        if attribute == "VpcId":
            return generic_ref(ctx)
    if ctx.type == "AWS::EC2::Subnet":
        if attribute == "AvailabilityZone":
            literal = ctx.raw_properties.get("AvailabilityZone")
            return literal if isinstance(literal, str) else f"{ids.LOCAL_REGION}a"
        if attribute == "SubnetId":
            return generic_ref(ctx)
        if attribute == "Ipv6CidrBlocks":
            return []
    if ctx.type == "AWS::EC2::EIP" and attribute == "AllocationId":
        return f"eipalloc-{_hex(ctx, 17)}"
    if attribute in _LIST_ATTRIBUTES:
        return []
    if attribute.endswith("Id") or attribute in ("Name", "Id"):
        return generic_ref(ctx)
    literal = ctx.raw_properties.get(attribute)
    if isinstance(literal, str | int | float) and not isinstance(literal, bool):
        return literal
    return f"{generic_ref(ctx)}.{attribute}"
