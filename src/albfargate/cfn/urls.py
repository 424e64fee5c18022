"""Where a ``TemplateURL`` points: every S3 URL form resolves to (bucket, key, version) of the local S3.

The CDK CLI hands CloudFormation ``https://s3.<region>.amazonaws.com/<bucket>/<key>`` (and ignores
``AWS_ENDPOINT_URL_S3`` for it, by design): such a URL names an object, and the object is in the local S3.
Accepted: path style (``s3.amazonaws.com``, ``s3.<region>.amazonaws.com``, ``s3-<region>.amazonaws.com``,
``s3.dualstack.<region>.amazonaws.com``, ``s3-external-1.amazonaws.com``, the ``.amazonaws.com.cn``
partition), virtual-hosted style (``<bucket>.s3[.<region>|-<region>|.dualstack.<region>].amazonaws.com``),
``s3://<bucket>/<key>``, and the local endpoint itself (a loopback host, path style, or
``<bucket>.localhost``). ``versionId`` in the query selects a version.

Pure."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str
    version_id: str | None = None


_AWS_SUFFIX = r"amazonaws\.com(?:\.cn)?"
_PATH_HOST = re.compile(
    rf"s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.{_AWS_SUFFIX}|s3-external-1\.{_AWS_SUFFIX}", re.IGNORECASE
)
_VIRTUAL_HOST = re.compile(
    rf"(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.{_AWS_SUFFIX}", re.IGNORECASE
)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def s3_location(url: str) -> S3Location | None:
    """The object a template URL names, or None when it is not an S3 URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    versions = parse_qs(parts.query).get("versionId")
    version = versions[0] if versions else None
    path = unquote(parts.path)
    if scheme == "s3":
        key = path.lstrip("/")
        return S3Location(host, key, version) if host and key else None
    if scheme not in ("http", "https") or not host:
        return None
    virtual = _VIRTUAL_HOST.fullmatch(host)
    if virtual is not None:
        key = path.lstrip("/")
        return S3Location(virtual.group("bucket"), key, version) if key else None
    if host.endswith(".localhost"):
        bucket = host[: -len(".localhost")].split(".s3", 1)[0]
        key = path.lstrip("/")
        return S3Location(bucket, key, version) if bucket and key else None
    if _PATH_HOST.fullmatch(host) or _loopback(host):
        bucket, _, key = path.lstrip("/").partition("/")
        return S3Location(bucket, key, version) if bucket and key else None
    return None
