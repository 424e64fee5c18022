"""tests/unit stays pure and quick: no aws_cdk, constructs, cdk_nag or jsii (the jsii kernel is a Node
process, and importing aws_cdk alone takes seconds). The CDK and synth tests live in tests/cdk.

A unit test module that imports one of them when it is collected, or a unit test that imports one while it
runs, fails with a line naming it. The check sees only first imports: in a run that collected tests/cdk
first (the full suite) these modules are already loaded, so `scripts/test.sh tests/unit` is the run that
keeps the folder honest."""

from __future__ import annotations

import sys
from collections.abc import Generator

import pytest

CDK_MODULES = ("aws_cdk", "constructs", "cdk_nag", "jsii")
MOVE_HINT = "tests/unit imports no CDK: move this test to tests/cdk (marker cdk)"


def cdk_modules_loaded() -> set[str]:
    return {name for name in CDK_MODULES if name in sys.modules}


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    before = cdk_modules_loaded()
    report = yield
    new = cdk_modules_loaded() - before
    if new and isinstance(collector, pytest.Module) and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"{collector.path.name} imported {', '.join(sorted(new))} when collected; {MOVE_HINT}"
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    before = cdk_modules_loaded()
    result = yield
    new = cdk_modules_loaded() - before
    if new:
        raise AssertionError(f"{item.nodeid} imported {', '.join(sorted(new))}; {MOVE_HINT}")
    return result
