"""Browser tests of the web console (marker ``browser``): real headless Chromium (Debian's ``chromium``)
driven by Playwright's Python package against that browser (never a browser Playwright downloads), against
a real ``albfargate up``.

- Chromium is ``/usr/bin/chromium`` (or ``$ALBFARGATE_CHROMIUM``), started with the flags this closed
  network needs (no background networking, no component updates, no sync) and a fresh user-data dir.
- Without Playwright or Chromium the tests skip; ``ALBFARGATE_REQUIRE_BROWSER=1`` (set by ``.ci/run``)
  turns that into a failure.
- Every page a test opens fails the test on an uncaught script error.
- Screenshots go to ``.build/test-artifacts/console/`` (git-ignored); a few are copied into
  ``docs/console/`` by hand for ``docs/console.md``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".build" / "test-artifacts" / "console"
CHROMIUM = os.environ.get("ALBFARGATE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a rebinding attacker's name: evil.test resolves to the loopback address (the Host guard's test)
    "--host-resolver-rules=MAP evil.test 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 900}


def _unavailable(why: str) -> None:
    if os.environ.get("ALBFARGATE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser tests must run here (ALBFARGATE_REQUIRE_BROWSER=1): {why}")
    pytest.skip(why)


# Module scope, not session: Playwright's sync API keeps an asyncio loop running on the main thread while it
# is open, so every later test of the same pytest run that calls asyncio.run() would fail ("cannot be called
# from a running event loop"). Closing it at the end of each browser module gives the thread back.
@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="albfargate-chromium-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=ARGS,
                viewport=VIEWPORT,
                timeout=60_000,
            )
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One browser tab with the console open; collects uncaught errors and takes screenshots."""

    def __init__(self, ctx: Any, name: str) -> None:
        self.page = ctx.new_page()
        self.name = name
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.set_default_timeout(20_000)

    def shot(self, what: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{what}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def tab(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = Page(browser_context, request.node.name.removeprefix("test_"))
    try:
        yield page
    finally:
        errors = list(page.errors)
        page.page.close()
    assert not errors, f"uncaught script errors in the console page: {errors}"
