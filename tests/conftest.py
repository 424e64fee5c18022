"""Shared test fixtures: where the third-party corpora are, and whether a missing corpus is fatal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"


def require_corpora() -> Path:
    """The corpora folder; skips the test where it is absent, fails instead when
    ALBFARGATE_REQUIRE_CORPORA=1 (set by .ci/run)."""
    if CORPORA.is_dir():
        return CORPORA
    if os.environ.get("ALBFARGATE_REQUIRE_CORPORA") == "1":
        pytest.fail(f"../shared/corpora is required in CI but missing at {CORPORA}")
    pytest.skip(f"../shared/corpora not present at {CORPORA} (only in the project's workspace)")


@pytest.fixture
def corpora() -> Path:
    return require_corpora()
