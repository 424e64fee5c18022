"""Pure routing of S3 requests on the shared AWS endpoint (no I/O).

- :func:`is_s3_request`: whether a request on the endpoint is S3 (REST-XML) rather than ECS / ELBv2 /
  Application Auto Scaling: the SigV4 credential scope says ``s3``, or the ``Host`` names a bucket
  (virtual-hosted style), or an unsigned request is not one of the other protocols;
- :func:`virtual_bucket`: the bucket a virtual-hosted ``Host`` names: ``<bucket>.localhost``,
  ``<bucket>.s3.localhost``, ``<bucket>.s3.<region>.localhost``, ``<bucket>.s3.dualstack.<region>.localhost``
  (bucket names may contain dots);
- :func:`path_style`: the request target rewritten to path style (``/<bucket>/<key>?<query>``), which is
  the only form the S3 library is handed;
- :func:`mutation_scope`: what a successful request may have changed (one object, the objects of a
  bucket, or the bucket itself), so that the shell persists exactly that before it answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

_S3_SUFFIX = re.compile(r"^(?P<bucket>.+?)\.s3(?:\.dualstack)?(?:\.[a-z0-9-]+)?$")
_HEALTH_PATHS = ("/", "/health", "/_albfargate/health")


def host_name(host: str | None) -> str:
    """``Host`` without its port, lower case, without a trailing dot."""
    if not host:
        return ""
    host = host.strip()
    if host.startswith("["):
        return host[1 : host.find("]")].lower() if "]" in host else host[1:].lower()
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".").lower()


def virtual_bucket(host: str | None) -> str | None:
    """The bucket of a virtual-hosted request, or None for path style (``localhost``, ``s3.localhost``,
    an address)."""
    name = host_name(host)
    if not name.endswith(".localhost"):
        return None
    prefix = name[: -len(".localhost")]
    if not prefix or prefix == "s3" or prefix.startswith("s3."):
        return None
    match = _S3_SUFFIX.match(prefix)
    return match.group("bucket") if match else prefix


def is_s3_request(signed_service: str | None, method: str, target: str, headers: Mapping[str, str]) -> bool:
    """``headers`` have lower-case names. Unsigned requests are S3 unless they carry ``X-Amz-Target``
    (JSON 1.1), an ``Action`` query (ELBv2 query protocol), a form body (the query protocol as POST), or
    are the endpoint's health check (``GET /``, ``/health``)."""
    if signed_service is not None:
        return signed_service == "s3"
    if virtual_bucket(headers.get("host")) is not None:
        return True
    if "x-amz-target" in headers:
        return False
    url = urlsplit(target)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    if "Action" in query:
        return False
    if method == "POST" and "x-www-form-urlencoded" in headers.get("content-type", ""):
        return False
    return not (method in ("GET", "HEAD") and url.path in _HEALTH_PATHS and not url.query)


def path_style(host: str | None, target: str) -> str:
    """The target in path style: ``/<key>`` on ``<bucket>.localhost`` becomes ``/<bucket>/<key>``."""
    bucket = virtual_bucket(host)
    if bucket is None:
        return target
    path, sep, query = target.partition("?")
    if not path.startswith("/"):
        path = "/" + path
    rewritten = f"/{bucket}" if path == "/" else f"/{bucket}{path}"
    return rewritten + (sep + query if sep else "")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a successful mutating request may have changed: ``bucket`` None is the list of buckets
    (nothing: ``PUT /`` is not an operation); ``key`` None with ``objects`` True: every object of the
    bucket (``DeleteObjects``, a browser-form ``POST``); ``key`` None with ``objects`` False: the bucket
    itself (create, delete, configuration)."""

    bucket: str | None
    key: str | None = None
    objects: bool = False


MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE"})


def mutation_scope(method: str, path_target: str) -> Scope | None:
    """None for requests that change nothing (GET, HEAD, OPTIONS). ``path_target`` is path style."""
    if method not in MUTATING_METHODS:
        return None
    url = urlsplit(path_target)
    path = url.path.lstrip("/")
    if not path:
        return None
    bucket, sep, key = path.partition("/")
    bucket = unquote(bucket)
    if not sep or not key:
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        return Scope(bucket, objects=method == "POST" or "delete" in query)
    return Scope(bucket, key=unquote(key))
