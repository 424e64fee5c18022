"""The run commands find the state directory as git finds .git (issue 12, item 19): --state-dir, the app
given, the current directory and its parents, else the one running system at most two levels below."""

from __future__ import annotations

from pathlib import Path

import pytest

from albfargate import statedir, supervisor
from albfargate.statedir import StateNotFound, find, state_dir_of


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for app in ("examples/hello", "examples/classic", "other"):
        (tmp_path / app).mkdir(parents=True)
        (tmp_path / app / "cdk.json").write_text("{}")
    (tmp_path / "examples" / "hello" / "service").mkdir()
    return tmp_path


def running(monkeypatch: pytest.MonkeyPatch, *state_dirs: Path) -> None:
    """Pretend a supervisor runs for each of ``state_dirs`` (their pid files name a live pid)."""
    live = {d.resolve() for d in state_dirs}
    for d in state_dirs:
        d.mkdir(parents=True, exist_ok=True)
        (d / "supervisor.pid").write_text("1\n")
    monkeypatch.setattr(supervisor, "running_pid", lambda d: 1 if d.resolve() in live else None)


def test_state_dir_given_wins(tree: Path) -> None:
    assert find(state_dir=tree / "s", app=tree / "other", cwd=tree) == (tree / "s").resolve()


def test_the_app_given(tree: Path) -> None:
    assert find(app=tree / "examples" / "hello", cwd=tree) == tree / "examples" / "hello" / ".albfargate"


def test_state_dir_of_an_assembly_or_a_template(tree: Path) -> None:
    out = tree / "other" / "cdk.out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    assert state_dir_of(out) == tree / "other" / ".albfargate"
    (tree / "t.json").write_text("{}")
    assert state_dir_of(tree / "t.json") == tree / ".albfargate"


def test_an_app_that_does_not_exist(tree: Path) -> None:
    with pytest.raises(StateNotFound, match="no such app directory"):
        find(app=tree / "nope", cwd=tree)


def test_the_current_directory_and_its_parents(tree: Path) -> None:
    hello = tree / "examples" / "hello"
    (hello / ".albfargate").mkdir()
    assert find(cwd=hello) == hello / ".albfargate"
    assert find(cwd=hello / "service") == hello / ".albfargate"  # as git finds .git


def test_from_the_parent_of_an_app_the_one_running_system_below(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running(monkeypatch, tree / "examples" / "hello" / ".albfargate")
    (tree / "other" / ".albfargate").mkdir()  # state of a system that does not run: not chosen
    assert find(cwd=tree / "examples") == tree / "examples" / "hello" / ".albfargate"
    assert find(cwd=tree) == tree / "examples" / "hello" / ".albfargate"  # two levels down


def test_several_running_below_is_an_error_that_lists_them(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running(monkeypatch, tree / "examples" / "hello" / ".albfargate", tree / "other" / ".albfargate")
    with pytest.raises(StateNotFound) as e:
        find(cwd=tree, command="status")
    assert "several systems run below" in str(e.value)
    assert "examples/hello, other" in str(e.value) and "`albfargate status APP_DIR`" in str(e.value)


def test_nothing_found_says_what_to_give(tree: Path) -> None:
    with pytest.raises(StateNotFound) as e:
        find(cwd=tree, command="scale")
    assert "`albfargate scale APP_DIR` (or --app APP_DIR / --state-dir DIR)" in str(e.value)
    assert "`albfargate up APP_DIR`" in str(e.value)


def test_the_search_below_is_bounded(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tree / "a" / "b" / "c"
    deep.mkdir(parents=True)
    running(monkeypatch, deep / ".albfargate", tree / "node_modules" / "x" / ".albfargate")
    assert statedir.SEARCH_DEPTH == 2
    with pytest.raises(StateNotFound):
        find(cwd=tree)
