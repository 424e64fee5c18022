"""The real examples through synth: a synthesized assembly, and a cached re-synth under 1 s."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from albfargate.synth import synth

pytestmark = [pytest.mark.cdk, pytest.mark.synth]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["classic", "hello"])
def test_cached_resynth_under_one_second(synthesized_example: Callable[[str], Path], name: str) -> None:
    outdir = synthesized_example(name)
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == 1
    started = time.perf_counter()
    result = synth(EXAMPLES / name)
    elapsed = time.perf_counter() - started
    assert result.cached
    assert result.outdir == outdir
    assert elapsed < 1.0, f"cached synth of {name} took {elapsed:.2f} s"


def test_hello_template_has_path_and_asset_metadata(synthesized_example: Callable[[str], Path]) -> None:
    outdir = synthesized_example("hello")
    template = json.loads((outdir / "HelloStack.template.json").read_text())
    services = [r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::Service"]
    assert services and "aws:cdk:path" in services[0]["Metadata"]
    assets = json.loads((outdir / "HelloStack.assets.json").read_text())
    assert assets["dockerImages"], "the service image is a Docker image asset"
