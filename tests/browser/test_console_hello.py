"""The web console in headless Chromium against one ``albfargate up examples/hello --driver process``
(shared by the module; the tests run in file order and each starts by waiting for the system to be steady
again):

- the topology shows the listener, its rule, and two healthy targets (colour and the text label);
- stop-task from the page (confirmed): the target goes draining (reason code on focus), is replaced, and
  all is green again;
- the actions are refused without the CSRF token or with a foreign Origin, and a rebinding page (a
  foreign Host) gets nothing;
- keyboard navigation and the layout at 1280 px;
- the requests timeline, traffic charts and log tails with live updates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Page
from tests.integration.console_support import Console
from tests.integration.up_support import detached, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.synth]

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"

TARGETS = "svg.topology g.target"


class Hello:
    def __init__(self, st: dict[str, Any], port: int) -> None:
        self.url: str = st["console_url"]
        self.console = Console(self.url)
        self.port = port

    def topology(self) -> dict[str, Any]:
        return self.console.get("/api/topology")  # type: ignore[no-any-return]

    def steady(self) -> bool:
        topo = self.topology()
        (tg,) = topo["target_groups"]
        (svc,) = topo["services"]
        return (
            [t["state"] for t in tg["targets"]] == ["healthy", "healthy"]
            and len(svc["tasks"]) == 2
            and len(svc["deployments"]) == 1
        )

    def wait_steady(self, timeout: float = 120) -> None:
        wait_for(self.steady, timeout, "two healthy targets and two tasks", interval=0.5)


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hello]:
    if not (HELLO / "cdk.json").is_file():
        pytest.skip("examples/hello is not there")
    state = tmp_path_factory.mktemp("hello") / "state"
    port = free_port()
    args = ("--driver", "process", "--port", f"80={port}", "--api-port", "0", "--console-port", "0")
    with detached(state, str(HELLO), *args, timeout=180) as st:
        yield Hello(st, port)


def open_console(tab: Page, hello: Hello, page: str = "topology") -> Any:
    p = tab.page
    p.goto(f"{hello.url}#{page}")
    p.wait_for_selector("#conn[data-state=live]")
    return p


def target_states(p: Any) -> list[tuple[str, str, str]]:
    """(state attribute, the state label as written, the task id) of every target in the picture."""
    return p.eval_on_selector_all(  # type: ignore[no-any-return]
        TARGETS,
        "els => els.map(e => [e.dataset.state, e.querySelector('text.state').textContent, e.dataset.task])",
    )


def test_topology_shows_two_healthy_targets(tab: Page, hello: Hello) -> None:
    hello.wait_steady()
    p = open_console(tab, hello)
    p.wait_for_function(f"document.querySelectorAll('{TARGETS}').length === 2")
    topo = hello.topology()
    (tg,) = topo["target_groups"]
    (svc,) = topo["services"]
    states = target_states(p)
    assert [(s, label) for s, label, _ in states] == [("healthy", "healthy")] * 2
    assert {task for _, _, task in states} == {t["id"] for t in svc["tasks"]}
    # the chain is drawn: load balancer, listener, its default rule written out, the group, the service
    text = p.inner_text("#topology-canvas")
    (lb,) = topo["load_balancers"]
    assert lb["name"] in (p.get_attribute("svg.topology g.lb", "aria-label") or "")
    assert "HTTP:80" in text  # (a long name is wrapped in its box)
    (rule,) = p.eval_on_selector_all("svg.topology g.rule", "els => els.map(e => e.ariaLabel)")
    assert rule.startswith("default rule") and f"forward to {tg['name']} (weight 1)" in rule
    assert "THEN forward to" in text
    assert "2 of 2 targets healthy" in text
    assert f"service {svc['name']}" in text and "running 2 / desired 2" in text
    # a healthy target is drawn green (the colour is there as well as the label)
    fill = p.eval_on_selector(f"{TARGETS} rect.frame", "e => getComputedStyle(e).fill")
    assert fill == "rgb(218, 251, 225)", fill
    # hover gives the reason code (none for a healthy target) and the task
    p.hover(f"{TARGETS} >> nth=0")
    tip = p.inner_text("#tooltip")
    assert "healthy" in tip and "reason: none" in tip and "task " in tip
    tab.shot("topology")
