"""S3 vocabulary: a bucket of the template (``AWS::S3::Bucket``) and the values its ``Ref`` and
``Fn::GetAtt`` resolve to locally.

Names follow CloudFormation: ``BucketName`` is the template's or, when absent, a generated
``<stack>-<logicalid>-<suffix>`` in lower case (at most 63 characters, as CloudFormation makes it; the
suffix is derived from the stack and logical id, so it is the same on every run). The attributes point at
the local endpoint's virtual-hosted names under ``.localhost`` (RFC 6761 reserves it for loopback):

- ``Arn``: ``arn:aws:s3:::<name>`` (as AWS);
- ``DomainName``: ``<name>.s3.localhost`` (AWS: ``<name>.s3.amazonaws.com``);
- ``RegionalDomainName``: ``<name>.s3.<region>.localhost`` (AWS: ``<name>.s3.<region>.amazonaws.com``);
- ``DualStackDomainName``: ``<name>.s3.dualstack.<region>.localhost``;
- ``WebsiteURL``: ``http://<name>.s3-website-<region>.localhost`` (website hosting is not served).

The port is not part of a domain name: requests go to the AWS endpoint's port (``status`` ``api_url``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from albfargate.model.ids import LOCAL_REGION, PARTITION

#: The domain the local endpoint serves virtual-hosted requests under.
LOCAL_DOMAIN = "localhost"
#: S3 bucket names: 3-63 characters, lower-case letters, digits, dots and hyphens, starting and ending
#: with a letter or digit (AWS's general-purpose bucket rules).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid bucket name (AWS's rules), or None."""
    if not BUCKET_NAME.match(name):
        return (
            "bucket names are 3-63 characters of lower-case letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "bucket names cannot contain two adjacent periods or a period next to a hyphen"
    if _IPV4.match(name):
        return "bucket names cannot be formatted as an IP address"
    if name.startswith("xn--") or name.startswith("sthree-") or name.endswith("-s3alias"):
        return "bucket names cannot start with xn-- or sthree- or end with -s3alias"
    return None


def bucket_arn(name: str) -> str:
    return f"arn:{PARTITION}:s3:::{name}"


def domain_name(name: str) -> str:
    return f"{name}.s3.{LOCAL_DOMAIN}"


def regional_domain_name(name: str, region: str = LOCAL_REGION) -> str:
    return f"{name}.s3.{region}.{LOCAL_DOMAIN}"


def dual_stack_domain_name(name: str, region: str = LOCAL_REGION) -> str:
    return f"{name}.s3.dualstack.{region}.{LOCAL_DOMAIN}"


def website_url(name: str, region: str = LOCAL_REGION) -> str:
    return f"http://{name}.s3-website-{region}.{LOCAL_DOMAIN}"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One ``AWS::S3::Bucket``: created on the local endpoint at ``up`` when absent (an existing bucket
    of that name, with its objects, is kept)."""

    name: str
    stack: str = ""
    logical_id: str = ""
    versioning: bool = False  # VersioningConfiguration.Status == Enabled
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def arn(self) -> str:
        return bucket_arn(self.name)

    @property
    def domain_name(self) -> str:
        return domain_name(self.name)

    @property
    def regional_domain_name(self) -> str:
        return regional_domain_name(self.name)
