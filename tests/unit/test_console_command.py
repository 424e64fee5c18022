"""``albfargate console`` (commands/console.py): opens the URL in the browser, or prints it when there is
no browser (a server, CI, SSH without a display); ``--print`` only prints."""

from __future__ import annotations

import webbrowser

import pytest

from albfargate.commands import console

URL = "http://127.0.0.1:4590/"


def test_opens_the_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: opened.append(url) or True)
    assert console.open_url(URL) == f"albfargate: opened the console in the browser: {URL}"
    assert opened == [URL]


def test_prints_the_url_without_a_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: False)
    assert console.open_url(URL) == f"albfargate: no browser to open; the console is {URL}"

    def broken(url: str, new: int = 0) -> bool:
        raise webbrowser.Error("no runnable browser")

    monkeypatch.setattr(webbrowser, "open", broken)
    assert URL in console.open_url(URL)


def test_print_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: pytest.fail("no browser with --print"))
    assert console.open_url(URL, browse=False) == URL
