"""The template cache of initialised data directories (``backing/templates.py``) with a fake init: made
once then copied, keyed by build and recipe, ``off`` initialises directly, a failing init leaves neither
a template nor a data directory, a race's loser drops its own, an unwritable cache falls back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from albfargate.backing import templates
from albfargate.backing.templates import COMPLETE, ENV, cache_root, materialise, template_key


class FakeInit:
    def __init__(self) -> None:
        self.calls: list[Path] = []

    async def __call__(self, target: Path) -> None:
        self.calls.append(target)
        target.mkdir(parents=True)
        (target / "PG_VERSION").write_text("18\n")
        (target / "base").mkdir()
        (target / "base" / "1").write_bytes(b"x" * 100)


def test_made_once_then_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))
    init = FakeInit()
    key = template_key("postgres", "18", "/x/postgres", "18 1 2")
    assert asyncio.run(materialise(key, tmp_path / "a", init)) == "made"
    assert asyncio.run(materialise(key, tmp_path / "b", init)) == "copied"
    assert len(init.calls) == 1 and init.calls[0].parent.parent == tmp_path / "cache"
    for d in ("a", "b"):
        assert (tmp_path / d / "PG_VERSION").read_text() == "18\n"
        assert (tmp_path / d / "base" / "1").stat().st_size == 100
    assert (tmp_path / "cache" / key / COMPLETE).is_file()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [key]  # no work directory left


def test_keys_differ_by_build_and_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    a = template_key("mariadb", "10.11.19", "/usr/sbin/mariadbd", "MariaDB 10.11.19 1 2")
    assert a.startswith("mariadb-10.11.19-")
    assert a != template_key("mariadb", "10.11.19", "/usr/sbin/mariadbd", "MariaDB 10.11.19 1 3")
    assert a != template_key("mariadb", "10.11.19", "/opt/mariadbd", "MariaDB 10.11.19 1 2")
    monkeypatch.setattr(templates, "RECIPE", "2")
    assert a != template_key("mariadb", "10.11.19", "/usr/sbin/mariadbd", "MariaDB 10.11.19 1 2")


def test_off_initialises_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "off")
    assert cache_root() is None
    init = FakeInit()
    assert asyncio.run(materialise("k", tmp_path / "a", init)) == "direct"
    assert init.calls == [tmp_path / "a"]


def test_default_root_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "albfargate" / "db-templates"


def test_a_failing_init_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))

    async def broken(target: Path) -> None:
        target.mkdir(parents=True)
        (target / "half").write_text("x")
        raise RuntimeError("initdb failed")

    with pytest.raises(RuntimeError, match="initdb failed"):
        asyncio.run(materialise("k", tmp_path / "a", broken))
    assert not (tmp_path / "a").exists() and list((tmp_path / "cache").iterdir()) == []


def test_the_loser_of_a_race_drops_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV, str(cache))

    async def racing(target: Path) -> None:  # another run completes the template meanwhile
        await FakeInit()(target)
        other = cache / "k"
        await FakeInit()(other / "data")
        (other / "data" / "winner").write_text("1")
        (other / COMPLETE).write_text("k\n")

    assert asyncio.run(materialise("k", tmp_path / "a", racing)) == "copied"
    assert (tmp_path / "a" / "winner").is_file()
    assert [p.name for p in cache.iterdir()] == ["k"]


def test_an_incomplete_template_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV, str(cache))
    (cache / "k" / "data").mkdir(parents=True)  # left by a run killed mid-rename: no COMPLETE
    assert asyncio.run(materialise("k", tmp_path / "a", FakeInit())) == "made"
    assert (tmp_path / "a" / "PG_VERSION").is_file() and (cache / "k" / COMPLETE).is_file()


def test_an_unwritable_cache_falls_back_to_a_direct_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(ENV, str(blocker / "cache"))
    init = FakeInit()
    assert asyncio.run(materialise("k", tmp_path / "a", init)) == "direct"
    assert init.calls == [tmp_path / "a"]
