"""Shared test fixtures: where the third-party corpora are, and whether a missing corpus is fatal."""

from __future__ import annotations

import os
from collections.abc import Callable
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


# --- CDK: Node 22 for jsii, and one synth per example per session (added by the foundation issue) ---------

_LOCAL_NODE = ROOT / ".tools" / "node_modules" / "node" / "bin" / "node"
if _LOCAL_NODE.is_file() and not os.environ.get("JSII_NODE"):
    # in-process aws_cdk (construct tests) starts its jsii kernel with this Node, not an EOL system one
    os.environ["JSII_NODE"] = str(_LOCAL_NODE)

EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def synthesized_example() -> Callable[[str], Path]:
    """``synthesized_example("hello") -> Path`` of its cdk.out, synthesized at most once per session
    (and not at all when the synth cache is current)."""
    from albfargate.synth import synth_app

    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            done[name] = synth_app(EXAMPLES / name)
        return done[name]

    return get
