"""Code snapshots of task-definition revisions for the process driver (the I/O; the rules are
:mod:`albfargate.snapshot_rules`).

A container image is immutable: a task-definition revision names code, and a rollback runs the old code.
A run setting's working directory is not: the process driver would run whatever the files are now, so a
rollback after a broken edit would run the broken files again. So each revision's containers run in a
snapshot of their working directory, taken when the revision is registered, under
``<state-dir>/snapshots/<digest>/`` (content-addressed: an unchanged folder reuses its snapshot).

Owns
- :class:`SnapshotStore`: walking, hashing and copying a folder by the rules, reusing and pruning the
  snapshot folders (blocking: called in a worker thread);
- :class:`CodeSnapshots`: which snapshots each revision runs in. Snapshots are taken in a worker thread
  (:meth:`CodeSnapshots.begin` at registration) and a launch waits for its revision's
  (:meth:`CodeSnapshots.ready`), so the event loop (and the load balancer on it) never blocks on a copy."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from albfargate import snapshot_rules as rules

log = logging.getLogger("albfargate.snapshots")

SNAPSHOTS_DIR = "snapshots"
_CHUNK = 1 << 20


class TooBig(Exception):
    """The folder is over the snapshot limits (the message says which)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One working directory of a revision: the copy it runs in, or why there is none."""

    source: Path  # the live working directory (the run setting's)
    path: Path | None  # the snapshot to run in; None: the live folder runs
    digest: str | None
    problem: str | None = None  # why there is no snapshot


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # "file" | "link" (a dependency folder, linked to the live one) | "symlink" (kept as is)
    rel: str
    path: Path


def _items(root: Path, state_dir: Path) -> Iterator[_Item]:
    """What a snapshot of ``root`` holds, by :mod:`albfargate.snapshot_rules`, in a stable order."""
    state_dir = state_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        current = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = current / d
            link = p.is_symlink()
            entry = rules.directory_entry(
                d,
                is_venv=not link and (p / "pyvenv.cfg").is_file(),
                is_state_dir=not link and p.resolve() == state_dir,
                is_symlink=link,
            )
            rel = p.relative_to(root).as_posix()
            if entry is rules.Entry.LINK:
                yield _Item("link", rel, p)
            elif entry is rules.Entry.COPY and link:
                yield _Item("symlink", rel, p)
            elif entry is rules.Entry.COPY:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = current / name
            try:
                regular = stat.S_ISREG(p.stat().st_mode)
            except OSError:  # dangling symlink, gone, no permission
                regular = False
            if rules.file_entry(name, regular=regular) is rules.Entry.COPY:
                yield _Item("file", p.relative_to(root).as_posix(), p)


def _open_regular(path: Path) -> int | None:
    """A descriptor of ``path`` if it is (still) a regular file (opened non-blocking, so a file swapped for
    a FIFO cannot block), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


class _Digest:
    """The content digest of a snapshot, fed item by item, with the size limits."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.files = 0
        self.size = 0

    def item(self, it: _Item, extra: bytes) -> None:
        self.h.update(f"{it.kind}\0{it.rel}\0".encode() + extra + b"\n")

    def count(self, size: int) -> None:
        self.files += 1
        self.size += size
        problem = rules.too_big(self.files, self.size)
        if problem is not None:
            raise TooBig(problem)

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def _file(it: _Item, d: _Digest, dest: Path | None) -> None:
    """Hash one file (and copy it to ``dest`` when given, with its times and executable bit)."""
    fd = _open_regular(it.path)
    if fd is None:
        return
    try:
        st = os.fstat(fd)
        d.count(st.st_size)
        fh = hashlib.sha256()
        out = None
        if dest is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            out = open(dest, "wb")  # noqa: SIM115 (closed below)
        try:
            while chunk := os.read(fd, _CHUNK):
                fh.update(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
        if dest is not None:  # private, as everything in the state dir; executable stays executable
            os.chmod(dest, 0o700 if st.st_mode & 0o111 else 0o600)
            os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
        d.item(it, b"%o\0" % (st.st_mode & 0o111) + fh.digest())
    finally:
        os.close(fd)


def tree_digest(root: Path, state_dir: Path, *, into: Path | None = None) -> str:
    """The digest of what a snapshot of ``root`` holds; with ``into``, also make the snapshot there.
    :class:`TooBig` when over the limits; OSError when ``root`` cannot be read."""
    if not root.is_dir():
        raise OSError(f"{root} is not a directory")
    d = _Digest()
    if into is not None:
        into.mkdir(parents=True)
    for it in _items(root, state_dir):
        dest = into / it.rel if into is not None else None
        if it.kind == "file":
            _file(it, d, dest)
            continue
        target = str(it.path.resolve()) if it.kind == "link" else os.readlink(it.path)
        d.item(it, target.encode())
        if dest is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, dest)
    return d.hexdigest()


class SnapshotStore:
    """The snapshot folders under ``<state-dir>/snapshots/`` (blocking calls: run them in a thread)."""

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir.resolve()
        self.root = self.state_dir / SNAPSHOTS_DIR
        self.clock = clock

    def existing(self) -> dict[str, float]:
        """Snapshot name -> when it was made (or last reused)."""
        out: dict[str, float] = {}
        with contextlib.suppress(FileNotFoundError):
            for e in os.scandir(self.root):
                if e.is_dir(follow_symlinks=False) and not e.name.startswith("."):
                    with contextlib.suppress(OSError):
                        out[e.name] = e.stat(follow_symlinks=False).st_mtime
        return out

    def take(self, source: Path) -> Snapshot:
        """The snapshot of ``source`` as it is now: an existing one when unchanged, else a new copy."""
        source = source.resolve()
        try:
            digest = tree_digest(source, self.state_dir)
        except TooBig as exc:
            return Snapshot(source, None, None, f"{source} has {exc}")
        except OSError as exc:
            return Snapshot(source, None, None, f"{source} cannot be read ({exc})")
        choice = rules.choose(digest, self.existing())
        if isinstance(choice, rules.Reuse):
            path = self.root / choice.name
            with contextlib.suppress(OSError):
                os.utime(path)  # reused now: not pruned within the grace period
            return Snapshot(source, path, digest)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        try:
            digest = tree_digest(source, self.state_dir, into=tmp)  # what was copied (files may move)
            path = self.root / rules.snapshot_name(digest)
            try:
                os.rename(tmp, path)
            except OSError:  # the same content was snapshotted meanwhile: keep that one
                if not path.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.utime(path)
        except TooBig as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            return Snapshot(source, None, None, f"{source} has {exc}")
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            return Snapshot(source, None, None, f"{source} could not be copied ({exc})")
        return Snapshot(source, path, digest)

    def digest(self, source: Path) -> str | None:
        """The digest ``source`` would have now; None when it cannot be snapshotted."""
        try:
            return tree_digest(source.resolve(), self.state_dir)
        except (TooBig, OSError):
            return None

    def prune(self, revisions: Mapping[str, Iterable[str]], kept: Iterable[str]) -> list[str]:
        """Delete the snapshots no kept revision uses (and leftovers of interrupted copies)."""
        gone = rules.to_prune(self.existing(), revisions, kept, now=self.clock())
        for name in gone:
            shutil.rmtree(self.root / name, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            for e in os.scandir(self.root):
                if e.name.startswith(".tmp-") and self.clock() - e.stat().st_mtime > 3600:
                    shutil.rmtree(e.path, ignore_errors=True)
        return gone


class CodeSnapshots:
    """The snapshots each task-definition revision runs in (process driver)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        on_taken: Callable[[str, dict[Path, Snapshot]], None] | None = None,
    ) -> None:
        self.store = SnapshotStore(state_dir, clock=clock)
        self.on_taken = on_taken  # (revision, its snapshots) once taken, on the loop
        self._jobs: dict[str, asyncio.Future[dict[Path, Snapshot]]] = {}
        self._done: dict[str, dict[Path, Snapshot]] = {}
        self._pruning: asyncio.Task[None] | None = None

    def begin(self, td_arn: str, sources: Sequence[Path]) -> None:
        """Snapshot ``sources`` (working directories) for revision ``td_arn`` now, in a worker thread."""
        if td_arn in self._jobs or td_arn in self._done:
            return
        unique = sorted({s.resolve() for s in sources})
        if not unique:
            self._done[td_arn] = {}
            return

        def take() -> dict[Path, Snapshot]:
            return {s: self.store.take(s) for s in unique}

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a caller outside the engine's): take them here
            self._taken(td_arn, take())
            return
        job = loop.run_in_executor(None, take)
        self._jobs[td_arn] = job

        def done(f: asyncio.Future[dict[Path, Snapshot]]) -> None:
            self._jobs.pop(td_arn, None)
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:  # a bug: run live rather than not at all
                log.error("snapshotting %s failed: %r", td_arn, exc)
                self._taken(
                    td_arn, {s: Snapshot(s, None, None, f"snapshot failed ({exc!r})") for s in unique}
                )
                return
            self._taken(td_arn, f.result())

        job.add_done_callback(done)

    def _taken(self, td_arn: str, snaps: dict[Path, Snapshot]) -> None:
        self._done[td_arn] = snaps
        if self.on_taken is not None:
            self.on_taken(td_arn, snaps)

    async def ready(self, td_arn: str) -> dict[Path, Snapshot] | None:
        """The revision's snapshots once taken (None for a revision that has none)."""
        job = self._jobs.get(td_arn)
        if job is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(job)
            await asyncio.sleep(0)  # its done callback has recorded the result
        return self._done.get(td_arn)

    def workdir(self, td_arn: str, source: Path) -> Path:
        """Where a container of ``td_arn`` whose run setting names ``source`` runs: its snapshot, else the
        live folder."""
        snap = self._done.get(td_arn, {}).get(source.resolve())
        return snap.path if snap is not None and snap.path is not None else source

    def problems(self, td_arn: str) -> list[str]:
        """Why the revision's code cannot be restored (one line per working directory not snapshotted)."""
        return [s.problem for s in self._done.get(td_arn, {}).values() if s.problem]

    async def changed(self, td_arn: str, sources: Sequence[Path]) -> bool:
        """Whether the working directories now differ from the revision's snapshots (a new revision is
        then needed to run them). A folder the revision has no snapshot of runs live: not a change."""
        taken = await self.ready(td_arn)
        if taken is None:
            return False
        pairs = [(s.resolve(), taken.get(s.resolve())) for s in sources]
        snapped = [(s, snap.digest) for s, snap in pairs if snap is not None and snap.digest is not None]
        if len(snapped) != len(pairs):
            # a folder new to this revision (a changed run setting): a new revision snapshots it
            return any(snap is None for _, snap in pairs)
        now = await asyncio.to_thread(lambda: [self.store.digest(s) for s, _ in snapped])
        return any(d != old for d, (_, old) in zip(now, snapped, strict=True))

    def revisions(self) -> dict[str, list[str]]:
        """Task-definition ARN -> the snapshot names it runs in (for pruning)."""
        return {
            arn: [s.path.name for s in snaps.values() if s.path is not None]
            for arn, snaps in self._done.items()
        }

    def pending(self) -> bool:
        return bool(self._jobs)

    def prune_soon(self, kept: frozenset[str]) -> None:
        """Delete, in a worker thread, the snapshots no kept revision uses (once the pending ones are taken,
        so that a snapshot being made is not taken for an unused one)."""
        if self._pruning is not None and not self._pruning.done():
            return
        revisions = self.revisions()

        async def run() -> None:
            if self.pending():
                return
            try:
                gone = await asyncio.to_thread(self.store.prune, revisions, kept)
            except Exception:
                log.exception("pruning code snapshots failed")
                return
            if gone:
                log.info("pruned %d code snapshot(s): %s", len(gone), ", ".join(gone))

        self._pruning = asyncio.get_running_loop().create_task(run())

    async def close(self) -> None:
        for job in list(self._jobs.values()):
            with contextlib.suppress(Exception):
                await asyncio.shield(job)
        if self._pruning is not None:
            with contextlib.suppress(Exception):
                await self._pruning
