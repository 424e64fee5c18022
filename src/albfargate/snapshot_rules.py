"""The rules of code snapshots (pure): which entries of a run setting's working directory a task-definition
revision's snapshot copies, links or leaves out, when a snapshot is reused, and which snapshots are
pruned. The I/O (walking, hashing, copying, deleting) is :mod:`albfargate.snapshots`.

A revision must mean the code it was made from, as an image does: the process driver runs a revision's
containers in a copy of their working directory taken when the revision was registered, so a rollback
runs the old code. The rule (docs/run-settings.md, "Code snapshots"):

- **copied**: every regular file (a symlink to a regular file is copied as the file it points to),
  keeping its times and whether it is executable (modes are the owner's only: 0600 or 0700, as
  everything in the private state directory); symlinks to directories are kept as symlinks;
- **linked** (a symlink to the live folder, not copied): dependency folders the code needs but that are
  not the code, ``node_modules`` and virtual environments (``.venv``, ``venv``, or any folder holding a
  ``pyvenv.cfg``) -- big, and installed rather than edited;
- **left out**: the state directory (wherever it is, and any folder named ``.albfargate``), version control
  (``.git``, ``.hg``, ``.svn``), caches (``__pycache__``, ``.mypy_cache``, ``.ruff_cache``,
  ``.pytest_cache``, ``.hypothesis``, ``.tox``, ``.nox``), ``cdk.out``, compiled or editor files
  (``*.pyc``, ``*.pyo``, ``*.swp``, ``*~``) and anything that is not a regular file (FIFOs, sockets,
  devices, dangling links);
- **too big**: more than :data:`MAX_FILES` files or :data:`MAX_BYTES` bytes copied gives no snapshot;
  the revision then runs the live folder (with a warning) and cannot be restored by a rollback.

Snapshots are content-addressed (the digest of what is copied), so an unchanged folder reuses the one
it has. A snapshot is pruned when no kept revision names it; a revision is kept while a deployment, a
live task or a service's last completed deployment uses it, or while it is the newest of its family
(it may be deployed next). A snapshot younger than :data:`PRUNE_GRACE_SECONDS` is never pruned (its
revision may still be being registered)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

#: Snapshots larger than this are not taken (the revision runs its live folder, with a warning).
MAX_FILES = 20_000
MAX_BYTES = 256 * 1024 * 1024
#: A snapshot this young is never pruned.
PRUNE_GRACE_SECONDS = 60.0
#: Characters of the hex digest in a snapshot's folder name.
NAME_LENGTH = 24

STATE_DIR_NAME = ".albfargate"
LEFT_OUT_DIRS = frozenset(
    {
        STATE_DIR_NAME,
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        "cdk.out",
    }
)
LINKED_DIRS = frozenset({"node_modules", ".venv", "venv"})
LEFT_OUT_SUFFIXES = (".pyc", ".pyo", ".swp", "~")


class Entry(StrEnum):
    COPY = "copy"
    LINK = "link"
    LEAVE_OUT = "leave-out"


def directory_entry(name: str, *, is_venv: bool, is_state_dir: bool, is_symlink: bool = False) -> Entry:
    """What a snapshot does with a folder named ``name`` (``is_venv``: it holds a ``pyvenv.cfg``;
    ``is_state_dir``: it is the state directory, whatever its name). A symlinked folder is kept as the
    symlink it is (COPY), never descended into."""
    if is_state_dir or name in LEFT_OUT_DIRS:
        return Entry.LEAVE_OUT
    if is_symlink:
        return Entry.COPY
    if is_venv or name in LINKED_DIRS:
        return Entry.LINK
    return Entry.COPY


def file_entry(name: str, *, regular: bool) -> Entry:
    """What a snapshot does with a file named ``name`` (``regular``: a regular file, or a symlink to
    one)."""
    if not regular or name.endswith(LEFT_OUT_SUFFIXES):
        return Entry.LEAVE_OUT
    return Entry.COPY


def too_big(files: int, size: int) -> str | None:
    """Why a working directory is not snapshotted (None when it may be)."""
    if files > MAX_FILES:
        return f"more than {MAX_FILES} files"
    if size > MAX_BYTES:
        return f"more than {MAX_BYTES // (1024 * 1024)} MB"
    return None


def snapshot_name(digest: str) -> str:
    """The folder name of the snapshot of content ``digest`` (hex)."""
    return digest[:NAME_LENGTH]


@dataclass(frozen=True, slots=True)
class Reuse:
    """Take this existing snapshot."""

    name: str


@dataclass(frozen=True, slots=True)
class Copy:
    """Copy the folder into a new snapshot."""


def choose(digest: str, existing: Iterable[str]) -> Reuse | Copy:
    """Reuse the snapshot of an unchanged folder (same digest), else copy it."""
    name = snapshot_name(digest)
    return Reuse(name) if name in set(existing) else Copy()


def kept_revisions(
    *,
    deployments: Iterable[str],
    live_tasks: Iterable[str],
    last_completed: Iterable[str | None],
    registered: Iterable[tuple[str, int, str]],
) -> frozenset[str]:
    """The task-definition ARNs whose snapshots stay: those a deployment, a live task or a last completed
    deployment (a rollback's target) uses, and the newest revision of each family (``registered``:
    ``(family, revision, arn)``), which may be deployed next."""
    kept = set(deployments) | set(live_tasks) | {a for a in last_completed if a is not None}
    newest: dict[str, tuple[int, str]] = {}
    for family, revision, arn in registered:
        if family not in newest or revision > newest[family][0]:
            newest[family] = (revision, arn)
    kept |= {arn for _, arn in newest.values()}
    return frozenset(kept)


def to_prune(
    existing: Mapping[str, float],
    revisions: Mapping[str, Iterable[str]],
    kept: Iterable[str],
    *,
    now: float,
) -> list[str]:
    """The snapshot folders to delete. ``existing``: folder name -> when it was made; ``revisions``:
    task-definition ARN -> the snapshot names it uses; ``kept``: :func:`kept_revisions`. A folder no kept
    revision names goes, unless it is younger than :data:`PRUNE_GRACE_SECONDS`."""
    keep_arns = set(kept)
    used = {name for arn, names in revisions.items() if arn in keep_arns for name in names}
    return sorted(
        name for name, made in existing.items() if name not in used and now - made >= PRUNE_GRACE_SECONDS
    )
