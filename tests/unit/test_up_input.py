"""Bad input to `up` caught before anything starts (issue 12): `--port` for a listener the app does not
have (item 11), and the warnings `up` prints about the template (item 15: nothing to run, one summary of
what is not emulated)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from albfargate.assembly import model_from_templates
from albfargate.cli import main
from albfargate.commands.up import check_port_overrides
from albfargate.describe import up_warnings
from albfargate.errors import UsageError
from tests.unit.test_describe import res, template


def test_port_override_for_a_missing_listener_is_one_clear_error() -> None:
    check_port_overrides({80: 9000}, [80, 443])  # a listener the app has: fine
    with pytest.raises(UsageError) as exc:
        check_port_overrides({80: 9000, 81: 9001}, [443, 80, 80])
    assert (
        str(exc.value) == "--port 81=9001: the app has no listener on port 81; its listeners are on 80, 443"
    )
    with pytest.raises(UsageError) as exc:
        check_port_overrides({81: 9000}, [])
    assert str(exc.value) == "--port 81=9000: the app has no listener on port 81; it has no listeners"


def test_up_refuses_the_port_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.template.json"
    path.write_text(json.dumps(template()))
    state = tmp_path / "state"
    code = main(
        ["up", "--template", str(path), "--port", "81=9000", "--stand-in", "*", "--state-dir", str(state)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "albfargate: error: --port 81=9000: the app has no listener on port 81; its listeners are on 80, 9000"
    ]
    assert not state.exists()  # nothing started, nothing written


def _model(resources: dict[str, Any]) -> Any:
    return model_from_templates([("S", {"Resources": resources})])


def test_warnings_for_an_empty_template_and_one_that_serves_nothing() -> None:
    assert up_warnings(_model({})) == ["the template has no resources: nothing to run"]
    assert up_warnings(_model({"Q": res("AWS::SQS::Queue")})) == [
        "the template has no load balancer and no ECS service: nothing will be served "
        "(`albfargate describe` shows what it has)",
        "1 resource not emulated: AWS::SQS::Queue (`albfargate describe` lists them)",
    ]


def test_not_emulated_summary_is_one_line_grouped_by_type() -> None:
    model = model_from_templates([("Shop", template())])
    lines = up_warnings(model)
    assert len(lines) == 1  # the shop serves: only the summary
    (line,) = lines
    counts: dict[str, int] = {}
    for n in model.not_emulated:
        counts[n.type] = counts.get(n.type, 0) + 1
    assert line.startswith(f"{len(model.not_emulated)} resources not emulated: ")
    for rtype, count in counts.items():
        assert (f"{rtype} x{count}" if count > 1 else rtype) in line
    many = {f"R{i}": res(f"AWS::Thing{i % 9}::Kind") for i in range(20)}
    (summary,) = up_warnings(_model(many))[1:]
    assert summary == (
        "20 resources not emulated: AWS::Thing0::Kind x3, AWS::Thing1::Kind x3, AWS::Thing2::Kind x2, "
        "AWS::Thing3::Kind x2, AWS::Thing4::Kind x2, AWS::Thing5::Kind x2 and 3 more types "
        "(`albfargate describe` lists them)"
    )
