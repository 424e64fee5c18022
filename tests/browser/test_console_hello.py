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

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Page
from tests.integration.console_support import Console
from tests.integration.up_support import detached, free_port, wait_for

# the first test also waits for the module's up (a cold synth of examples/hello can take minutes)
pytestmark = [pytest.mark.browser, pytest.mark.synth, pytest.mark.timeout(600)]

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
    p.wait_for_function(f"() => document.querySelectorAll('{TARGETS}').length === 2")
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


@contextmanager
def foreign_site() -> Iterator[str]:
    """A page of another origin: a real HTTP server on another loopback port serving a blank page."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>another site</title><p>another site</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def confirm(p: Any, button: str) -> None:
    """Click ``button`` (an action), then the confirmation dialog's confirm button."""
    p.click(button)
    p.wait_for_selector("dialog#confirm[open]")
    tab_shot = p.inner_text("#confirm-title")
    assert tab_shot
    p.click("#confirm-ok")


def test_stop_task_drains_then_is_replaced_and_all_is_green(tab: Page, hello: Hello) -> None:
    hello.wait_steady()
    p = open_console(tab, hello)
    p.wait_for_function(f"() => document.querySelectorAll('{TARGETS}[data-state=healthy]').length === 2")
    victim = target_states(p)[0][2]
    p.click(f"svg.topology g.task[data-key='task|{victim}']")
    p.wait_for_selector(f"#act-stop-{victim}")
    p.click(f"#act-stop-{victim}")
    p.wait_for_selector("dialog#confirm[open]")
    assert victim[:8] in p.inner_text("#confirm-title")
    tab.shot("stop-task-confirm", full_page=False)
    p.click("#confirm-ok")
    p.wait_for_selector(".toast:not(.error)")
    # pushed on the event stream: the victim's target drains (text label and colour), reason on focus
    draining = f"{TARGETS}[data-task='{victim}'][data-state=draining]"
    p.wait_for_selector(draining, timeout=30_000)
    assert p.text_content(f"{draining} text.state") == "draining"
    p.click("#drawer-close")
    p.focus(draining)
    assert "Target.DeregistrationInProgress" in p.inner_text("#tooltip")
    tab.shot("stop-task-draining")
    # then it leaves, the replacement turns healthy: all green again, without a reload
    p.wait_for_function(
        f"""() => {{
            const ts = [...document.querySelectorAll("{TARGETS}")];
            return ts.length === 2 && ts.every(t => t.dataset.state === "healthy")
                && !ts.some(t => t.dataset.task === "{victim}");
        }}""",
        timeout=150_000,
    )
    # and its task is gone from under the service once it has stopped
    p.wait_for_selector(f"svg.topology g.task[data-key='task|{victim}']", state="detached", timeout=60_000)
    assert p.eval_on_selector_all("svg.topology g.task", "els => els.length") == 2
    assert "2 of 2 targets healthy" in p.inner_text("#topology-canvas")
    tab.shot("stop-task-replaced")
    detail = hello.console.get(f"/api/services/{hello.topology()['services'][0]['name']}")
    assert any(t["id"] == victim and t["stop_code"] == "UserInitiated" for t in detail["all_tasks"])


def test_actions_need_the_token_and_the_console_origin(tab: Page, hello: Hello) -> None:
    hello.wait_steady()
    p = open_console(tab, hello)
    p.wait_for_function(f"() => document.querySelectorAll('{TARGETS}').length === 2")
    tasks = sorted(t["id"] for t in hello.topology()["services"][0]["tasks"])
    victim = tasks[0]

    # the page's own fetch without the token
    answer = p.evaluate(
        """async (id) => {
            const r = await fetch("/api/actions/stop-task", {method: "POST",
                headers: {"Content-Type": "application/json"}, body: JSON.stringify({task_id: id})});
            return [r.status, await r.json()];
        }""",
        victim,
    )
    assert answer[0] == 403 and answer[1]["code"] == "csrf", answer

    def refused_in_the_page(route_headers: Any, code: str) -> None:
        def handle(route: Any) -> None:
            route.continue_(headers=route_headers(dict(route.request.headers)))

        p.route("**/api/actions/stop-task", handle)
        try:
            p.click(f"svg.topology g.task[data-key='task|{victim}']")
            confirm(p, f"#act-stop-{victim}")
            toast = p.wait_for_selector(f".toast.error:has-text('403 {code}')")
            assert toast is not None
            tab.shot(f"refused-{code}", full_page=False)
            p.eval_on_selector_all(".toast", "els => els.forEach(e => e.remove())")
            p.click("#drawer-close")
        finally:
            p.unroute("**/api/actions/stop-task")

    # the console's own button, its request stripped of the token on the way
    refused_in_the_page(lambda h: {k: v for k, v in h.items() if k.lower() != "x-albfargate-csrf"}, "csrf")

    # a page of another origin (a real server on another loopback port). Chromium sets Origin itself, so
    # the console's Origin check with a right token is reached only by a non-browser client
    # (tests/integration/test_console_hello.py); here the browser's own guards and the console's meet:
    token = hello.console.token()
    with foreign_site() as site:
        other = tab.page.context.new_page()
        try:
            seen: list[tuple[str, str, int]] = []
            other.on("response", lambda r: seen.append((r.request.method, r.url, r.status)))
            other.goto(site)
            # - with the token (stolen, say): the preflight the JSON POST needs is refused (no CORS), so
            #   the action is never sent
            outcome = other.evaluate(
                """async ([url, token, id]) => {
                    try {
                        const r = await fetch(url + "api/actions/stop-task", {method: "POST",
                            headers: {"Content-Type": "application/json", "X-Albfargate-Csrf": token},
                            body: JSON.stringify({task_id: id})});
                        return "answered " + r.status;
                    } catch (e) { return "blocked: " + e.name; }
                }""",
                [hello.url, token, victim],
            )
            assert outcome == "blocked: TypeError", outcome
            # - a cross-site form POST (no preflight, no token): the console answers 403 csrf
            other.evaluate(
                """([url, id]) => {
                    const f = document.createElement("form");
                    f.method = "POST"; f.enctype = "text/plain";
                    f.action = url + "api/actions/stop-task";
                    const i = document.createElement("input");
                    i.name = '{"task_id": "' + id + '", "x": "'; i.value = '"}';
                    f.append(i); document.body.append(f); f.submit();
                }""",
                [hello.url, victim],
            )
            other.wait_for_url(f"{hello.url}api/actions/stop-task")
            answer = json.loads(other.inner_text("body"))
            assert answer["code"] == "csrf", answer
            assert ("POST", f"{hello.url}api/actions/stop-task", 403) in seen, seen
            tab.shot("refused-foreign-form")
            # - a rebinding page: evil.test resolves to 127.0.0.1, same port; the Host guard refuses all
            resp = other.goto(hello.url.replace("127.0.0.1", "evil.test") + "api/session")
            assert resp is not None and resp.status == 403
            assert json.loads(resp.text())["code"] == "host"
            resp = other.goto(hello.url.replace("127.0.0.1", "evil.test"))
            assert resp is not None and resp.status == 403
        finally:
            other.close()
    # nothing was stopped
    assert sorted(t["id"] for t in hello.topology()["services"][0]["tasks"]) == tasks
    assert hello.steady()


def test_keyboard_navigation_and_the_width(tab: Page, hello: Hello) -> None:
    hello.wait_steady()
    p = open_console(tab, hello)
    p.wait_for_function(f"() => document.querySelectorAll('{TARGETS}').length === 2")
    # the page fits 1280 px: no horizontal scrolling of the document
    assert p.evaluate("document.documentElement.scrollWidth") <= 1280
    # Tab order: the skip link, the page links, then the picture's items in reading order
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.className") == "skip"
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.dataset.page") == "topology"
    seen = []
    for _ in range(30):
        p.keyboard.press("Tab")
        key = p.evaluate("document.activeElement.dataset.key || document.activeElement.tagName")
        seen.append(key)
        if key.startswith("target|"):
            break
    kinds = [k.split("|")[0] for k in seen if "|" in k]
    assert kinds[:4] == ["lb", "listener", "rule", "tg"], seen
    assert kinds[-1] == "target"
    # the focused item is visibly marked (its frame drawn in the focus colour) and its tooltip shows
    assert p.evaluate("document.activeElement.matches(':focus-visible')")
    stroke = p.evaluate("getComputedStyle(document.activeElement.querySelector('rect.frame')).strokeWidth")
    assert stroke == "3px"
    assert not p.is_hidden("#tooltip")
    key = seen[-1]
    # Enter opens its details; Escape closes them and gives the focus back
    p.keyboard.press("Enter")
    p.wait_for_selector("#drawer:not([hidden])")
    assert p.inner_text("#drawer-title").startswith("Target ")
    assert p.evaluate("document.activeElement.id") == "drawer-title"
    tab.shot("keyboard-target-details")
    p.keyboard.press("Escape")
    p.wait_for_selector("#drawer", state="hidden")
    assert p.evaluate("document.activeElement.dataset.key") == key
    # Space activates too; the page links are reachable and followed with Enter
    p.keyboard.press(" ")
    p.wait_for_selector("#drawer:not([hidden])")
    p.keyboard.press("Escape")
    p.focus("header nav a[data-page=services]")
    p.keyboard.press("Enter")
    p.wait_for_selector("#page-services:not([hidden])")
