"""The durable copy of the local S3 endpoint's buckets and objects under ``<state_dir>/data/s3/``.

The S3 library keeps memory only; this store is what survives ``down``/``up`` and a killed supervisor.
Layout (format ``albfargate.s3/1``, in ``format.json``)::

    data/s3/format.json
    data/s3/buckets/<bucket>/bucket.json               name, region, creation date, versioning, tags, policy
    data/s3/buckets/<bucket>/objects/<h>.json          an object: key, etag, dates, metadata, tags, data file
    data/s3/buckets/<bucket>/objects/<h>.<random>.bin  its bytes (h = sha256 of the key)

Crash safety (every write is acknowledged only after it is on disk): an object's bytes go to a new
``.bin`` file that nothing references yet (fsync), then its record is written to ``<h>.json.tmp`` (fsync)
and renamed over ``<h>.json`` (the commit point; the directory is fsynced), then the previous ``.bin`` is
removed. A crash at any point leaves either the old record or the new one, plus at most an unreferenced
``.bin`` or ``.tmp`` file, which :meth:`S3Store.load` removes. A deleted object's record goes first, then
its bytes. A bucket's ``bucket.json`` is written last on create and removed first on delete.

A directory that is not in this format (no ``format.json``, another format, an unreadable record) is
reported with :class:`S3DataError` and never removed or rewritten."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from albfargate.errors import RuntimeStartError

FORMAT = "albfargate.s3/1"
#: Bytes copied per read/write when an object is written or read back (bounded memory).
COPY_CHUNK = 1024 * 1024


class S3DataError(RuntimeStartError):
    """The S3 data directory is corrupt or not albfargate's; nothing was changed in it."""


@dataclass(slots=True)
class ObjectRecord:
    """What is kept of one object besides its bytes."""

    key: str
    etag: str  # without quotes
    last_modified: str  # ISO 8601 with microseconds, UTC
    size: int
    metadata: dict[str, str] = field(default_factory=dict)  # Content-Type, x-amz-meta-*, ...
    tags: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    extra: dict[str, Any] = field(default_factory=dict)  # encryption, checksums, redirect, acl
    data: str = ""  # the .bin file name in the objects directory

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.size,
            "metadata": self.metadata,
            "tags": self.tags,
            "storage_class": self.storage_class,
            "extra": self.extra,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ObjectRecord:
        return cls(
            key=str(doc["key"]),
            etag=str(doc["etag"]),
            last_modified=str(doc["last_modified"]),
            size=int(doc["size"]),
            metadata={str(k): str(v) for k, v in dict(doc.get("metadata") or {}).items()},
            tags={str(k): str(v) for k, v in dict(doc.get("tags") or {}).items()},
            storage_class=str(doc.get("storage_class") or "STANDARD"),
            extra=dict(doc.get("extra") or {}),
            data=str(doc["data"]),
        )


@dataclass(slots=True)
class BucketRecord:
    name: str
    region: str
    created: str  # ISO 8601
    versioning: str | None = None  # Enabled | Suspended | None
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region,
            "created": self.created,
            "versioning": self.versioning,
            "tags": self.tags,
            "policy": self.policy,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BucketRecord:
        return cls(
            name=str(doc["name"]),
            region=str(doc.get("region") or "us-east-1"),
            created=str(doc["created"]),
            versioning=doc.get("versioning"),
            tags={str(k): str(v) for k, v in dict(doc.get("tags") or {}).items()},
            policy=doc.get("policy"),
        )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomically(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise S3DataError(
            f"S3 data: cannot read {path} ({exc}); the data directory is corrupt: move it away to start "
            f"with empty buckets (nothing was changed)"
        ) from None
    if not isinstance(doc, dict):
        raise S3DataError(f"S3 data: {path} is not an albfargate record; move the data directory away")
    return doc


class S3Store:
    """The files of ``root`` (``<state_dir>/data/s3``). Not thread-safe: one caller at a time (the S3
    endpoint's worker thread)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.buckets_dir = root / "buckets"

    # ---- opening ------------------------------------------------------------------------------------
    def open(self) -> None:
        """Create the layout, or check that an existing directory is ours (:class:`S3DataError`)."""
        marker = self.root / "format.json"
        if self.root.exists() and any(self.root.iterdir()):
            if not marker.is_file():
                raise S3DataError(
                    f"S3 data: {self.root} is not an albfargate S3 data directory (no format.json); "
                    f"move it away (nothing was changed)"
                )
            found = _read_json(marker).get("format")
            if found != FORMAT:
                raise S3DataError(
                    f"S3 data: {self.root} has format {found!r}, this albfargate reads {FORMAT!r}; "
                    f"move it away or use a matching albfargate (nothing was changed)"
                )
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_json_atomically(marker, {"format": FORMAT})
        self.buckets_dir.mkdir(exist_ok=True)

    # ---- reading ------------------------------------------------------------------------------------
    def load(self) -> Iterator[tuple[BucketRecord, list[ObjectRecord]]]:
        """Every bucket with its objects; removes what an interrupted write left (unreferenced ``.bin``,
        ``.tmp`` files, a bucket directory without ``bucket.json`` and without objects)."""
        if not self.buckets_dir.is_dir():
            return
        for bdir in sorted(self.buckets_dir.iterdir()):
            if not bdir.is_dir():
                continue
            objects_dir = bdir / "objects"
            meta = bdir / "bucket.json"
            if not meta.is_file():
                leftovers = list(objects_dir.glob("*.json")) if objects_dir.is_dir() else []
                if leftovers:
                    raise S3DataError(
                        f"S3 data: {bdir} has objects but no bucket.json; the data directory is corrupt: "
                        f"move it away (nothing was changed)"
                    )
                shutil.rmtree(bdir)  # an interrupted create or delete of an empty bucket
                continue
            bucket = BucketRecord.from_json(_read_json(meta))
            objects_dir.mkdir(exist_ok=True)
            records: list[ObjectRecord] = []
            referenced: set[str] = set()
            for entry in sorted(objects_dir.iterdir()):
                if entry.name.endswith(".json"):
                    try:
                        record = ObjectRecord.from_json(_read_json(entry))
                    except (KeyError, TypeError, ValueError):
                        raise S3DataError(
                            f"S3 data: {entry} is not an object record; move the data directory away "
                            f"(nothing was changed)"
                        ) from None
                    if not (objects_dir / record.data).is_file():
                        raise S3DataError(
                            f"S3 data: the bytes of object {record.key!r} of bucket {bucket.name} "
                            f"({objects_dir / record.data}) are missing; move the data directory away "
                            f"(nothing was changed)"
                        )
                    referenced.add(record.data)
                    records.append(record)
            for entry in objects_dir.iterdir():
                if entry.name.endswith(".tmp") or (
                    entry.name.endswith(".bin") and entry.name not in referenced
                ):
                    entry.unlink(missing_ok=True)
            yield bucket, records

    def data_path(self, bucket: str, record: ObjectRecord) -> Path:
        return self.buckets_dir / bucket / "objects" / record.data

    # ---- buckets ------------------------------------------------------------------------------------
    def put_bucket(self, record: BucketRecord) -> None:
        bdir = self.buckets_dir / record.name
        (bdir / "objects").mkdir(parents=True, exist_ok=True)
        _fsync_dir(self.buckets_dir)
        _write_json_atomically(bdir / "bucket.json", record.to_json())

    def delete_bucket(self, name: str) -> None:
        bdir = self.buckets_dir / name
        with contextlib.suppress(FileNotFoundError):
            (bdir / "bucket.json").unlink()
            _fsync_dir(bdir)
        shutil.rmtree(bdir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            _fsync_dir(self.buckets_dir)

    # ---- objects ------------------------------------------------------------------------------------
    def put_object(self, bucket: str, record: ObjectRecord, source: IO[bytes]) -> None:
        """Write the bytes read from ``source`` (from its current position, ``COPY_CHUNK`` at a time)
        and commit ``record``; durable when this returns."""
        objects_dir = self.buckets_dir / bucket / "objects"
        h = key_hash(record.key)
        meta = objects_dir / f"{h}.json"
        previous: str | None = None
        if meta.is_file():
            with contextlib.suppress(S3DataError, KeyError):
                previous = str(_read_json(meta)["data"])
        record.data = f"{h}.{secrets.token_hex(8)}.bin"
        with open(objects_dir / record.data, "wb") as f:
            shutil.copyfileobj(source, f, COPY_CHUNK)
            f.flush()
            os.fsync(f.fileno())
        _write_json_atomically(meta, record.to_json())
        if previous and previous != record.data:
            (objects_dir / previous).unlink(missing_ok=True)

    def put_object_record(self, bucket: str, record: ObjectRecord) -> None:
        """Rewrite only the record (tags, metadata) of an object whose bytes are unchanged."""
        meta = self.buckets_dir / bucket / "objects" / f"{key_hash(record.key)}.json"
        _write_json_atomically(meta, record.to_json())

    def delete_object(self, bucket: str, key: str) -> None:
        objects_dir = self.buckets_dir / bucket / "objects"
        meta = objects_dir / f"{key_hash(key)}.json"
        if not meta.is_file():
            return
        data: str | None = None
        with contextlib.suppress(S3DataError, KeyError):
            data = str(_read_json(meta)["data"])
        meta.unlink()
        _fsync_dir(objects_dir)
        if data:
            (objects_dir / data).unlink(missing_ok=True)
