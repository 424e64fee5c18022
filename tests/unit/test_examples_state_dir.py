"""No example serves its state directory (issue 12, item 1): the classic example's static file server used
to serve the whole app directory, so ``GET /.albfargate/supervisor.json`` through the ALB returned the
supervisor's control token. Every container of every example runs (and serves) outside the default state
dir ``APP_DIR/.albfargate``; :func:`albfargate.runsettings.served_directory` recognises the file server."""

from __future__ import annotations

from pathlib import Path

import pytest

from albfargate.runsettings import ContainerRunSetting, load_run_settings, served_directory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APPS = sorted(p.parent for p in EXAMPLES.glob("*/cdk.json"))


def test_there_are_examples() -> None:
    assert {p.name for p in APPS} >= {"classic", "hello"}


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_no_container_of_an_example_serves_or_runs_in_its_state_dir(app: Path) -> None:
    settings = load_run_settings(app)
    state_dir = (app / ".albfargate").resolve()
    assert settings.containers, f"{app.name} has no run setting"
    for name, c in settings.containers.items():
        assert not state_dir.is_relative_to(c.workdir), f"{app.name}/{name} runs in {c.workdir}"
        served = served_directory(c)
        if served is not None:
            assert not state_dir.is_relative_to(served), f"{app.name}/{name} serves {served}"


def test_the_classic_example_serves_its_own_folder() -> None:
    settings = load_run_settings(EXAMPLES / "classic")
    web = settings.container("web")
    assert web is not None
    served = served_directory(web)
    assert served == (EXAMPLES / "classic" / "html").resolve()
    assert (served / "index.html").is_file()


def _setting(command: tuple[str, ...] | str, workdir: Path) -> ContainerRunSetting:
    return ContainerRunSetting(name="web", command=command, workdir=workdir)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("python3", "-m", "http.server", "8000"), "."),
        ('exec python3 -m http.server --bind 127.0.0.1 "$PORT"', "."),
        (("python", "-m", "http.server", "--directory", "public"), "public"),
        (("python3", "-m", "http.server", "-d", "/srv/www"), "/srv/www"),
        (("python3", "-m", "http.server", "--directory=out"), "out"),
        (("python2", "-m", "SimpleHTTPServer", "8000"), "."),
        (("python3", "app.py"), None),
        (("python3", "-m", "http.server.extra"), None),
        ("exec gunicorn app:app", None),
    ],
)
def test_served_directory(command: tuple[str, ...] | str, expected: str | None, tmp_path: Path) -> None:
    got = served_directory(_setting(command, tmp_path))
    assert got == (None if expected is None else (tmp_path / expected).resolve())


def test_up_warns_when_a_run_setting_serves_the_state_dir(tmp_path: Path) -> None:
    from albfargate.runsettings import RunSettings, state_dir_warnings

    served_app = _setting(("python3", "-m", "http.server"), tmp_path)
    own_folder = ContainerRunSetting(
        name="docs", command=("python3", "-m", "http.server"), workdir=tmp_path / "html"
    )
    settings = RunSettings(
        app_dir=tmp_path,
        source=tmp_path / "albfargate.toml",
        containers={"web": served_app, "docs": own_folder},
    )
    (line,) = state_dir_warnings(settings, tmp_path / ".albfargate")
    assert line.startswith(f"container web serves {tmp_path.resolve()} as files")
    assert "serve a folder of its own instead" in line and "albfargate.toml" in line
    assert state_dir_warnings(settings, tmp_path.parent / f"{tmp_path.name}-state") == []
