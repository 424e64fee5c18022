"""The web console's front end as files (docs/console.md, "The front end"): everything the page loads is a
file of the package, nothing is fetched from elsewhere (no CDN), no script is inline (the
Content-Security-Policy forbids it), and every module import resolves. The page's behaviour is tested in
real Chromium (tests/browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from albfargate.console.http import content_type_of
from albfargate.console.server import STATIC_DIR

SVG_NS = "http://www.w3.org/2000/svg"


class Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.handlers += [k for k in a if k.startswith("on")]
        if tag == "script":
            self._in_script = True
            if a.get("src"):
                self.refs.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.refs.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_the_page_loads_only_files_of_the_package() -> None:
    page = Refs()
    page.feed((STATIC_DIR / "index.html").read_text())
    assert page.inline_scripts == 0 and page.handlers == []
    assert sorted(page.refs) == ["console.css", "favicon.svg", "js/app.js"]
    for ref in page.refs:
        assert (STATIC_DIR / ref).is_file(), ref
        assert content_type_of(ref) != "application/octet-stream", ref


def test_every_module_import_resolves_and_nothing_comes_from_the_network() -> None:
    js = sorted((STATIC_DIR / "js").glob("*.js"))
    assert {p.name for p in js} >= {"app.js", "api.js", "dom.js", "topology.js", "charts.js"}
    for path in js:
        text = path.read_text()
        assert text.startswith("// "), f"{path.name}: starts with a comment saying what it owns"
        for target in re.findall(r"""^import .* from "(.+?)";$""", text, re.M):
            assert target.startswith("./") and (path.parent / target).is_file(), (path.name, target)
        assert "innerHTML" not in text and "eval(" not in text, path.name
    for path in STATIC_DIR.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".css", ".svg"):
            urls = set(re.findall(r"https?://[^\s\"'`)]+", path.read_text())) - {SVG_NS}
            assert not urls, (path.name, urls)


def test_the_static_files_ship_in_the_wheel() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"console/static/**/*"' in pyproject
