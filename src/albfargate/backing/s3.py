"""The local S3 endpoint: the S3 REST protocol of ``moto`` (its S3 backend, in-process) behind the shared
AWS endpoint, with every acknowledged change written to :class:`~albfargate.backing.s3_store.S3Store`
first.

Owns
- importing ``moto`` lazily (about a second): at :meth:`S3Service.start` when the template has buckets or
  the data directory has some, else on the first S3 request, so ``up`` of an app without buckets pays
  nothing;
- restoring the persisted buckets and objects into moto at start, and creating the template's buckets
  that do not exist yet (an existing bucket of that name keeps its objects);
- handling one request (:meth:`S3Service.handle`): the request is rewritten to path style
  (``s3_requests.path_style``), handed to moto's S3 responses as a prepared request, and, when it
  succeeded and may have changed something (``s3_requests.mutation_scope``), the changed bucket or
  objects are written to the store *before* the answer is returned: an acknowledged ``PUT`` survives a
  SIGKILLed supervisor. A change that cannot be written is answered ``500 InternalError``;
- one worker thread for everything that touches moto or the store (moto is not thread-safe; large bodies
  must not stall the event loop).

What is kept: buckets (region, creation date, versioning status, tags, policy) and the current version of
every object (bytes, ETag, Last-Modified, Content-Type and the other system metadata, ``x-amz-meta-*``,
tags, storage class, encryption settings, checksum, website redirect, a public-read ACL). Not kept:
noncurrent versions and delete markers of versioned buckets, multipart uploads in progress, other bucket
configuration (CORS, lifecycle, notifications, website, logging, ...)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import importlib.util
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from albfargate.backing.s3_requests import Scope, mutation_scope, path_style
from albfargate.backing.s3_store import BucketRecord, ObjectRecord, S3Store
from albfargate.model.ids import LOCAL_ACCOUNT, LOCAL_REGION
from albfargate.model.s3 import Bucket, bucket_name_problem

log = logging.getLogger("albfargate.s3")

#: The largest single PUT S3 accepts (5 GiB); bigger objects go in multipart uploads.
MAX_OBJECT_BODY = 5 * 1024**3

XML = "application/xml"


def available() -> bool:
    """Whether the S3 library is installed (the ``s3`` extra)."""
    return importlib.util.find_spec("moto") is not None


def data_dir(state_dir: Path) -> Path:
    return state_dir / "data" / "s3"


@dataclass(slots=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_reply(status: int, code: str, message: str, resource: str = "") -> Reply:
    """An S3 error document (``<Error><Code>...``)."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    return Reply(status, [("Content-Type", XML), ("x-amz-request-id", request_id)], body)


def _forget_instances() -> None:
    """moto remembers every model object it ever made (for its dashboard): drop those references so a
    long run does not grow with every request (the live buckets and objects are not affected)."""
    from moto.core.model_instances import reset_model_data

    reset_model_data()


# (etag, last_modified, size, metadata, tags, storage class, extra): a change of any means "write it"
_Fingerprint = tuple[str, str, int, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str, str]


class S3Service:
    """The S3 side of the AWS endpoint for one state directory."""

    def __init__(
        self,
        state_dir: Path,
        buckets: Sequence[Bucket] = (),
        *,
        region: str = LOCAL_REGION,
        account: str = LOCAL_ACCOUNT,
    ) -> None:
        self.root = data_dir(state_dir)
        self.store = S3Store(self.root)
        self.template_buckets = tuple(buckets)
        self.region = region
        self.account = account
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="albfargate-s3")
        self._opened = False
        self._backend: Any = None
        # what is on disk, per bucket: key -> (fingerprint, data file name); touched by the worker only
        self._index: dict[str, dict[str, tuple[_Fingerprint, str]]] = {}
        self._bucket_records: dict[str, BucketRecord] = {}
        self.summary: dict[str, tuple[int, int]] = {}  # bucket -> (objects, bytes), replaced whole

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    # ---- start / stop -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store and restore it now when there is anything to serve (raises
        :class:`~albfargate.backing.s3_store.S3DataError` for a corrupt data directory)."""
        if self.template_buckets or (self.root / "buckets").is_dir():
            await self._run(self._open)

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown, True)

    def _open(self) -> None:
        if self._opened:
            return
        from moto.s3.models import s3_backends

        self.store.open()
        self._backend = s3_backends[self.account]["aws"]
        self._backend.reset()  # one S3 service per process: nothing of an earlier one stays
        restored = 0
        for record, objects in self.store.load():
            self._restore_bucket(record, objects)
            restored += len(objects)
        for bucket in self.template_buckets:
            if bucket.name not in self._backend.buckets:
                self._create_template_bucket(bucket)
        self._opened = True
        self._refresh_summary()
        if restored:
            log.info("S3: restored %d objects in %d buckets from %s", restored, len(self._index), self.root)

    def _create_template_bucket(self, bucket: Bucket) -> None:
        b = self._backend
        b.create_bucket(bucket.name, self.region)
        if bucket.versioning:
            b.put_bucket_versioning(bucket.name, "Enabled")
        if bucket.tags:
            b.put_bucket_tagging(bucket.name, dict(bucket.tags))
        self._index.setdefault(bucket.name, {})
        self._sync_bucket(bucket.name)

    def _restore_bucket(self, record: BucketRecord, objects: list[ObjectRecord]) -> None:
        from moto.s3.models import get_canned_acl

        b = self._backend
        fb = b.create_bucket(record.name, record.region)
        with contextlib.suppress(ValueError):
            fb.creation_date = datetime.datetime.fromisoformat(record.created)
        if record.versioning:
            b.put_bucket_versioning(record.name, record.versioning)
        if record.tags:
            b.put_bucket_tagging(record.name, dict(record.tags))
        if record.policy:
            fb.policy = record.policy.encode()
        self._bucket_records[record.name] = record
        index = self._index.setdefault(record.name, {})
        for obj in objects:
            extra = obj.extra
            key = b.put_object(
                record.name,
                obj.key,
                b"",
                storage=obj.storage_class,
                encryption=extra.get("encryption"),
                kms_key_id=extra.get("kms_key_id"),
                bucket_key_enabled=extra.get("bucket_key_enabled"),
                checksum_value=extra.get("checksum_value"),
                disable_notification=True,
            )
            with key.lock, open(self.store.data_path(record.name, obj), "rb") as f:
                buf = key._value_buffer
                buf.seek(0)
                buf.truncate()
                while chunk := f.read(1024 * 1024):
                    buf.write(chunk)
                key.contentsize = obj.size
            key._etag = obj.etag
            with contextlib.suppress(ValueError):
                key.last_modified = datetime.datetime.fromisoformat(obj.last_modified)
            for name in list(key.metadata):
                del key.metadata[name]
            key.set_metadata(dict(obj.metadata))
            if extra.get("checksum_algorithm"):
                key.checksum_algorithm = extra["checksum_algorithm"]
            if extra.get("website_redirect_location"):
                key.website_redirect_location = extra["website_redirect_location"]
            if extra.get("public_read"):
                key.set_acl(get_canned_acl("public-read"))
            if obj.tags:
                b.put_object_tagging(key, dict(obj.tags))
            index[obj.key] = (self._fingerprint(record.name, key), obj.data)

    # ---- requests -----------------------------------------------------------------------------------
    async def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """One S3 request (``headers`` with lower-case names; ``target`` as received)."""
        return await self._run(self._handle, method, target, headers, body)  # type: ignore[no-any-return]

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            self._open()
        except Exception as exc:
            log.error("S3: cannot open %s: %s", self.root, exc)
            return error_reply(503, "ServiceUnavailable", f"the local S3 data could not be opened: {exc}")
        from moto.core.exceptions import HTTPException
        from moto.core.request import Request
        from moto.s3.responses import S3Response

        path_target = path_style(headers.get("host"), target)
        forwarded = {k: v for k, v in headers.items() if k not in ("x-moto-account-id", "host")}
        forwarded["host"] = "localhost"  # path style for moto; the account is always the local one
        forwarded["x-moto-account-id"] = self.account
        request = Request.from_primitives(method, f"http://localhost{path_target}", forwarded, body)
        path = path_target.split("?", 1)[0].lstrip("/")
        if method == "PUT" and "?" not in path_target and path and "/" not in path.rstrip("/"):
            name = unquote(path.rstrip("/"))  # CreateBucket: moto checks only the length
            problem = bucket_name_problem(name)
            if problem is not None:
                return error_reply(
                    400, "InvalidBucketName", f"The specified bucket is not valid: {problem}", name
                )
        dispatch = S3Response.key_dispatch if "/" in path.rstrip("/") else S3Response.bucket_dispatch
        try:
            status, out_headers, out_body = dispatch(request, request.raw_url, request.headers)
        except HTTPException as exc:
            status, out_headers, out_body = exc.code, dict(exc.get_headers()), exc.get_body()
        except NotImplementedError as exc:
            return error_reply(501, "NotImplemented", f"not supported by the local S3 endpoint: {exc}")
        except Exception:
            # the path only: a presigned URL's query carries a session token
            log.exception("S3: internal error handling %s %s", method, target.split("?", 1)[0])
            return error_reply(500, "InternalError", "We encountered an internal error. Please try again.")
        status = int(status)
        scope = mutation_scope(method, path_target) if status < 300 else None
        if scope is not None:
            try:
                self._persist(scope)
            except OSError as exc:
                log.error("S3: could not save %s %s: %s", method, target.split("?", 1)[0], exc)
                return error_reply(
                    500, "InternalError", f"the change could not be saved to {self.root}: {exc}"
                )
        _forget_instances()
        if isinstance(out_body, str):
            out_body = out_body.encode()
        pairs = [(str(k), str(v)) for k, v in dict(out_headers or {}).items()]
        return Reply(status, pairs, bytes(out_body or b""))

    # ---- persistence ----------------------------------------------------------------------------------
    def _persist(self, scope: Scope) -> None:
        if scope.bucket is None:
            return
        if scope.key is not None:
            self._sync_object(scope.bucket, scope.key)
        elif scope.objects:
            self._sync_objects(scope.bucket)
        else:
            self._sync_bucket(scope.bucket)
        self._refresh_summary()

    def _sync_bucket(self, name: str) -> None:
        fb = self._backend.buckets.get(name)
        if fb is None:
            if name in self._index or name in self._bucket_records:
                self.store.delete_bucket(name)
                self._index.pop(name, None)
                self._bucket_records.pop(name, None)
            return
        tags = self._backend.get_bucket_tagging(name).get("Tags", [])
        policy = fb.policy.decode() if isinstance(fb.policy, bytes) else fb.policy
        created = fb.creation_date.isoformat() if fb.creation_date else ""
        record = BucketRecord(
            name=name,
            region=fb.region_name,
            created=created,
            versioning=fb.versioning_status,
            tags={t["Key"]: t["Value"] for t in tags},
            policy=policy,
        )
        if self._bucket_records.get(name) != record:
            self.store.put_bucket(record)
            self._bucket_records[name] = record
        self._index.setdefault(name, {})

    def _sync_objects(self, bucket: str) -> None:
        fb = self._backend.buckets.get(bucket)
        if fb is None:
            self._sync_bucket(bucket)
            return
        names = set(dict(fb.keys))
        for name in names | set(self._index.get(bucket, {})):
            self._sync_object(bucket, name)

    def _current(self, bucket: str, key: str) -> Any:
        from moto.s3.models import FakeDeleteMarker

        fb = self._backend.buckets.get(bucket)
        if fb is None:
            return None
        current = fb.keys.get(key)
        return None if current is None or isinstance(current, FakeDeleteMarker) else current

    def _fingerprint(self, bucket: str, key: Any) -> _Fingerprint:
        record = self._record(key)
        return (
            record.etag,
            record.last_modified,
            record.size,
            tuple(sorted(record.metadata.items())),
            tuple(sorted(record.tags.items())),
            record.storage_class,
            repr(sorted(record.extra.items())),
        )

    def _record(self, key: Any) -> ObjectRecord:
        tags = self._backend.get_object_tagging(key).get("Tags", [])
        extra: dict[str, Any] = {}
        for name in (
            "encryption",
            "kms_key_id",
            "bucket_key_enabled",
            "checksum_algorithm",
            "checksum_value",
            "website_redirect_location",
        ):
            value = getattr(key, name, None)
            if value is not None:
                extra[name] = value
        if key.acl is not None and getattr(key.acl, "public_read", False):
            extra["public_read"] = True
        return ObjectRecord(
            key=key.name,
            etag=key.etag.strip('"'),
            last_modified=key.last_modified.isoformat(),
            size=int(key.size),
            metadata={str(k): str(v) for k, v in dict(key.metadata).items()},
            tags={t["Key"]: t["Value"] for t in tags},
            storage_class=str(key.storage_class or "STANDARD"),
            extra=extra,
        )

    def _sync_object(self, bucket: str, name: str) -> None:
        if bucket not in self._bucket_records:
            self._sync_bucket(bucket)
            if bucket not in self._bucket_records:
                return
        index = self._index.setdefault(bucket, {})
        key = self._current(bucket, name)
        known = index.get(name)
        if key is None:
            if known is not None:
                self.store.delete_object(bucket, name)
                del index[name]
            return
        fingerprint = self._fingerprint(bucket, key)
        if known is not None and known[0] == fingerprint:
            return
        record = self._record(key)
        if known is not None and known[0][:3] == fingerprint[:3]:  # same bytes: the record only
            record.data = known[1]
            self.store.put_object_record(bucket, record)
        else:
            with key.lock:
                buf = key._value_buffer
                buf.seek(0)
                self.store.put_object(bucket, record, buf)
        index[name] = (fingerprint, record.data)

    def _refresh_summary(self) -> None:
        summary: dict[str, tuple[int, int]] = {}
        for bucket, index in self._index.items():
            summary[bucket] = (len(index), sum(fp[2] for fp, _ in index.values()))
        self.summary = summary

    # ---- reading (status) ----------------------------------------------------------------------------
    def status(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """One entry per bucket for ``status --json`` (``backing.buckets``), shaped like a database's:
        logical id, name, engine ``s3``, state, URL (path style on ``endpoint``), data directory; plus the
        ARN and how many objects and bytes it holds."""
        template = {b.name: b for b in self.template_buckets}
        out = []
        for name in sorted(set(self.summary) | set(template)):
            objects, size = self.summary.get(name, (0, 0))
            b = template.get(name)
            out.append(
                {
                    "logical_id": b.logical_id if b is not None else None,
                    "stack": b.stack if b is not None else None,
                    "name": name,
                    "engine": "s3",
                    "arn": f"arn:aws:s3:::{name}",
                    "state": "running" if name in self.summary else "not started",
                    "url": f"{endpoint}/{name}" if endpoint else None,
                    "data_dir": str(self.store.buckets_dir / name),
                    "objects": objects,
                    "bytes": size,
                }
            )
        return out
