"""Code snapshots of task-definition revisions (issue 12 item 6): the pure rules (what is copied, linked or
left out, reuse by digest, which revisions are kept, pruning with a fake clock) and the store on a small
folder in tmp_path (copy, reuse, change, limits, prune)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from albfargate import snapshot_rules as rules
from albfargate.snapshot_rules import Copy, Entry, Reuse
from albfargate.snapshots import SnapshotStore, tree_digest


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the rules (pure) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "venv", "state", "link", "entry"),
    [
        ("src", False, False, False, Entry.COPY),
        (".git", False, False, False, Entry.LEAVE_OUT),
        ("__pycache__", False, False, False, Entry.LEAVE_OUT),
        (".albfargate", False, False, False, Entry.LEAVE_OUT),
        ("my-state", False, True, False, Entry.LEAVE_OUT),  # the state dir, whatever its name
        ("cdk.out", False, False, False, Entry.LEAVE_OUT),
        (".pytest_cache", False, False, False, Entry.LEAVE_OUT),
        ("node_modules", False, False, False, Entry.LINK),
        (".venv", False, False, False, Entry.LINK),
        ("env", True, False, False, Entry.LINK),  # any folder holding pyvenv.cfg
        ("shared", False, False, True, Entry.COPY),  # a symlinked folder: kept as the symlink
        ("node_modules", False, False, True, Entry.COPY),
    ],
)
def test_directory_entries(name: str, venv: bool, state: bool, link: bool, entry: Entry) -> None:
    assert rules.directory_entry(name, is_venv=venv, is_state_dir=state, is_symlink=link) is entry


@pytest.mark.parametrize(
    ("name", "regular", "entry"),
    [
        ("server.py", True, Entry.COPY),
        ("server.pyc", True, Entry.LEAVE_OUT),
        (".server.py.swp", True, Entry.LEAVE_OUT),
        ("notes~", True, Entry.LEAVE_OUT),
        ("fifo", False, Entry.LEAVE_OUT),
    ],
)
def test_file_entries(name: str, regular: bool, entry: Entry) -> None:
    assert rules.file_entry(name, regular=regular) is entry


def test_limits() -> None:
    assert rules.too_big(rules.MAX_FILES, rules.MAX_BYTES) is None
    assert rules.too_big(rules.MAX_FILES + 1, 0) == f"more than {rules.MAX_FILES} files"
    assert rules.too_big(1, rules.MAX_BYTES + 1) == "more than 256 MB"


def test_choose_reuses_an_unchanged_folder() -> None:
    digest = "ab" * 32
    assert rules.choose(digest, ["x", rules.snapshot_name(digest)]) == Reuse(digest[: rules.NAME_LENGTH])
    assert rules.choose(digest, ["x"]) == Copy()


def test_kept_revisions() -> None:
    kept = rules.kept_revisions(
        deployments=["fam:3"],
        live_tasks=["fam:2"],
        last_completed=["fam:1", None],
        registered=[("fam", 1, "fam:1"), ("fam", 4, "fam:4"), ("fam", 2, "fam:2"), ("other", 1, "other:1")],
    )
    # deployed, running, a rollback's target, and the newest of each family (it may be deployed next)
    assert kept == {"fam:1", "fam:2", "fam:3", "fam:4", "other:1"}
    assert rules.kept_revisions(deployments=[], live_tasks=[], last_completed=[], registered=[]) == set()


def test_prune_keeps_what_kept_revisions_use_and_young_snapshots() -> None:
    existing = {"aaa": 0.0, "bbb": 0.0, "ccc": 0.0, "young": 990.0}
    revisions = {"fam:1": ["aaa"], "fam:2": ["bbb"], "fam:3": ["aaa"]}  # :3 reuses :1's (same code)
    assert rules.to_prune(existing, revisions, ["fam:3"], now=1000.0) == ["bbb", "ccc"]
    # a fake clock: the young one goes once the grace period is over
    later = 990.0 + rules.PRUNE_GRACE_SECONDS
    assert rules.to_prune(existing, revisions, ["fam:3"], now=later) == ["bbb", "ccc", "young"]
    assert rules.to_prune(existing, revisions, ["fam:1", "fam:2"], now=later) == ["ccc", "young"]


# --- the store (a small folder in tmp_path) -------------------------------------------------------------


def app(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "app"
    (work / "pkg").mkdir(parents=True)
    (work / "server.py").write_text("print('v1')\n")
    (work / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(work / "run.sh", 0o755)
    (work / "pkg" / "mod.py").write_text("X = 1\n")
    (work / "__pycache__").mkdir()
    (work / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"\0")
    (work / ".git").mkdir()
    (work / ".git" / "HEAD").write_text("ref\n")
    (work / "node_modules" / "dep").mkdir(parents=True)
    (work / "node_modules" / "dep" / "index.js").write_text("x\n")
    (work / "env").mkdir()
    (work / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    os.mkfifo(work / "pipe")
    os.symlink("pkg/mod.py", work / "alias.py")
    os.symlink("missing", work / "dangling")
    state = work / ".albfargate"  # the state dir inside the working directory, as by default
    state.mkdir()
    (state / "supervisor.json").write_text("{}")
    return work, state


def test_take_copies_links_and_leaves_out_by_the_rules(tmp_path: Path) -> None:
    work, state = app(tmp_path)
    snap = SnapshotStore(state).take(work)
    assert snap.problem is None and snap.path is not None and snap.digest is not None
    p = snap.path
    assert p.parent == state / "snapshots" and p.name == rules.snapshot_name(snap.digest)
    assert (p / "server.py").read_text() == "print('v1')\n" and (p / "pkg" / "mod.py").is_file()
    # executable stays executable; private, as all of the state dir
    assert (os.stat(p / "run.sh").st_mode & 0o777, os.stat(p / "server.py").st_mode & 0o777) == (0o700, 0o600)
    assert (p / "alias.py").read_text() == "X = 1\n" and not (p / "alias.py").is_symlink()
    assert (p / "node_modules").is_symlink() and (p / "node_modules").resolve() == work / "node_modules"
    assert (p / "env").is_symlink()
    for gone in ("__pycache__", ".git", ".albfargate", "pipe", "dangling"):
        assert not (p / gone).exists() and not (p / gone).is_symlink(), gone


def test_an_unchanged_folder_reuses_its_snapshot_and_a_change_makes_a_new_one(tmp_path: Path) -> None:
    work, state = app(tmp_path)
    store = SnapshotStore(state)
    first = store.take(work)
    (work / "__pycache__" / "other.pyc").write_bytes(b"1")  # left out: no change
    again = store.take(work)
    assert again.path == first.path and again.digest == first.digest
    assert len(store.existing()) == 1
    (work / "server.py").write_text("print('v2')\n")
    changed = store.take(work)
    assert changed.digest != first.digest and changed.path != first.path
    assert first.path is not None and (first.path / "server.py").read_text() == "print('v1')\n"  # as made
    assert store.digest(work) == changed.digest == tree_digest(work, state)
    os.chmod(work / "server.py", 0o755)  # the executable bit is part of the code
    assert store.digest(work) != changed.digest


def test_a_folder_over_the_limits_is_not_snapshotted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, state = app(tmp_path)
    monkeypatch.setattr(rules, "MAX_FILES", 2)
    snap = SnapshotStore(state).take(work)
    assert snap.path is None and snap.digest is None
    assert snap.problem == f"{work} has more than 2 files"
    assert not (state / "snapshots").exists() or not list((state / "snapshots").iterdir())  # no leftover
    missing = SnapshotStore(state).take(tmp_path / "nope")
    assert missing.path is None and missing.problem is not None and "cannot be read" in missing.problem


def test_prune_deletes_unused_snapshots_after_the_grace_period(tmp_path: Path) -> None:
    work, state = app(tmp_path)
    clock = Clock(0.0)
    store = SnapshotStore(state, clock=clock)
    v1 = store.take(work)
    (work / "server.py").write_text("print('v2')\n")
    v2 = store.take(work)
    assert v1.path is not None and v2.path is not None
    revisions = {"fam:1": [v1.path.name], "fam:2": [v2.path.name]}
    clock.now = os.stat(v1.path).st_mtime + 1.0  # young: kept whatever
    assert store.prune(revisions, ["fam:2"]) == []
    clock.now += rules.PRUNE_GRACE_SECONDS
    assert store.prune(revisions, ["fam:2"]) == [v1.path.name]
    assert not v1.path.exists() and v2.path.is_dir()
