"""Both examples load from their synthesized assemblies; the ``describe`` tree of examples/classic is
covered by a snapshot (tests/cdk/snapshots/describe-classic.txt; ALBFARGATE_UPDATE_SNAPSHOTS=1
rewrites it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from albfargate.assembly import load_assembly
from albfargate.cli import main
from albfargate.describe import render_tree
from albfargate.model import PredefinedMetric

pytestmark = [pytest.mark.cdk, pytest.mark.synth]

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).parent / "snapshots" / "describe-classic.txt"


def test_classic_describe_snapshot(
    synthesized_example: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cdk_out = synthesized_example("classic")
    assert main(["describe", "--assembly", str(cdk_out)]) == 0
    out = capsys.readouterr().out
    assert out == render_tree(load_assembly(cdk_out))
    out = out.replace(str(ROOT), "<root>")
    if os.environ.get("ALBFARGATE_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(out)
    assert out == SNAPSHOT.read_text(), (
        f"describe output changed; ALBFARGATE_UPDATE_SNAPSHOTS=1 rewrites {SNAPSHOT}"
    )


def test_classic_model(synthesized_example: Callable[[str], Path]) -> None:
    model = load_assembly(synthesized_example("classic"))
    assert (len(model.load_balancers), len(model.listeners), len(model.target_groups)) == (1, 1, 1)
    (service,) = model.services
    assert service.desired_count == 2
    (listener,) = model.listeners
    assert (listener.port, listener.protocol) == (80, "HTTP")
    assert any(n.type.startswith("Custom::") for n in model.not_emulated)


def test_hello_model(synthesized_example: Callable[[str], Path]) -> None:
    cdk_out = synthesized_example("hello")
    model = load_assembly(cdk_out)
    (service,) = model.services
    td = model.task_definition(service.task_definition_arn)
    assert td is not None
    (web,) = td.containers
    assert web.image_asset is not None
    assert Path(web.image_asset.directory).parent == cdk_out.resolve()
    assert (Path(web.image_asset.directory) / "Dockerfile").is_file()
    resource_id = f"service/{service.cluster_name}/{service.name}"
    assert model.scalable_target(resource_id) is not None
    metrics = {p.metric for p in model.policies_of(resource_id)}
    assert PredefinedMetric.CPU in metrics
