"""The web console in headless Chromium against one ``albfargate up`` of a multi-rule app (a template made
here: one listener with six rules — fixed responses, a redirect, a forward to a second service — and a
default forward; two stand-in services, one using a generated secret and an SSM parameter), shared by the
module:

- the topology writes every rule out in priority order, with both target groups and services, and the
  backing resources beside the service that uses them;
- the rule tester in the page gives the listener's own answer for a table of requests;
- a redeploy from the services page shows two deployments, then one;
- scale from the services page, and deregister a target from the picture (confirmed; a cancel sends
  nothing);
- the requests timeline: filtered, a request's headers in and out, and replayed;
- the traffic charts and the log tails with live updates."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Page
from tests.integration.console_support import Console
from tests.integration.up_support import Svc, detached, free_port, make_template, wait_for

pytestmark = [pytest.mark.browser]

STANDIN = json.dumps([sys.executable, "-m", "albfargate.ecs.standin", "--container", "app"])

FIXED = [  # (priority, conditions, body of its fixed response)
    (5, [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin/*"]}}], "rule-5"),
    (10, [{"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}}], "rule-10"),
    (
        20,
        [
            {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["beta"]}},
            {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
        ],
        "rule-20",
    ),
    (30, [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}], "rule-30"),
    (60, [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}], "rule-60"),
]
REDIRECT = 50  # /old/* -> 301 /new/...
FORWARD = 40  # /api/* -> the api service's target group

TABLE = [  # (method, path, host, headers, query)
    ("GET", "/admin/users", None, [], ""),
    ("GET", "/", "api.example.com", [], ""),
    ("GET", "/x", "API.example.com:8080", [], ""),
    ("GET", "/x", None, [["X-Env", "BETA"]], "v=2"),
    ("GET", "/x", None, [["X-Env", "beta"]], "v=3"),
    ("POST", "/anything", None, [], ""),
    ("GET", "/api/items", None, [], "page=1"),
    ("DELETE", "/api/items/7", None, [], ""),
    ("GET", "/old/page", None, [], ""),
    ("GET", "/plain", None, [], ""),
    ("PUT", "/admin", None, [], ""),
]


def template(tmp_path: Path) -> Path:
    tpl = make_template(
        tmp_path / "t.json",
        [
            Svc(name="web", desired=2, dereg_delay=1, hc_interval=2),
            Svc(name="api", desired=1, dereg_delay=1, hc_interval=2),
        ],
    )
    doc = json.loads(tpl.read_text())
    r = doc["Resources"]
    # one listener for both: the api service's group is reached through a rule
    del r["S1LB"], r["S1Listener"]
    r["S1Service"]["DependsOn"] = ["S0Listener", "ApiRule"]
    for prio, conditions, body in FIXED:
        r[f"Rule{prio}"] = {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": {"Ref": "S0Listener"},
                "Priority": prio,
                "Conditions": conditions,
                "Actions": [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {
                            "StatusCode": "200",
                            "ContentType": "text/plain",
                            "MessageBody": body,
                        },
                    }
                ],
            },
        }
    r["ApiRule"] = {
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "ListenerArn": {"Ref": "S0Listener"},
            "Priority": FORWARD,
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
            "Actions": [{"Type": "forward", "TargetGroupArn": {"Ref": "S1TG"}}],
        },
    }
    r["OldRule"] = {
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "ListenerArn": {"Ref": "S0Listener"},
            "Priority": REDIRECT,
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old/*"]}}],
            "Actions": [
                {
                    "Type": "redirect",
                    "RedirectConfig": {"StatusCode": "HTTP_301", "Path": "/new/#{path}"},
                }
            ],
        },
    }
    r["ApiSecret"] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": "console-api-secret",
            "GenerateSecretString": {"ExcludePunctuation": True, "PasswordLength": 24},
        },
    }
    r["ApiTitle"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": "/console/title", "Type": "String", "Value": "hello"},
    }
    container = r["S1TaskDef"]["Properties"]["ContainerDefinitions"][0]
    container["Secrets"] = [
        {"Name": "API_SECRET", "ValueFrom": {"Ref": "ApiSecret"}},
        {"Name": "TITLE", "ValueFrom": "/console/title"},
    ]
    tpl.write_text(json.dumps(doc))
    (tmp_path / "albfargate.toml").write_text(f"[containers.app]\ncommand = {STANDIN}\n")
    return tpl


class App:
    def __init__(self, st: dict[str, Any], port: int) -> None:
        self.url: str = st["console_url"]
        self.console = Console(self.url)
        self.port = port

    def topology(self) -> dict[str, Any]:
        return self.console.get("/api/topology")  # type: ignore[no-any-return]

    def service(self, name: str) -> dict[str, Any]:
        return next(s for s in self.topology()["services"] if s["name"] == name)

    def steady(self) -> bool:
        topo = self.topology()
        return all(s["steady"] and len(s["deployments"]) == 1 for s in topo["services"]) and all(
            t["state"] == "healthy" for g in topo["target_groups"] for t in g["targets"]
        )

    def send(
        self, method: str, path: str, host: str | None, headers: list, query: str, body: bytes | None = None
    ) -> tuple[int, str, str]:
        """(status, body, Location) of the request sent to the real listener."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            h = dict(headers)
            if host is not None:
                h["Host"] = host
            conn.request(method, path + (f"?{query}" if query else ""), body=body, headers=h)
            r = conn.getresponse()
            return r.status, r.read().decode(), r.getheader("Location") or ""
        finally:
            conn.close()

    def listener_says(self, method: str, path: str, host: str | None, headers: list, query: str) -> int:
        """The priority of the rule the real listener ran (from its answer), 0 for the default."""
        status, body, location = self.send(method, path, host, headers, query)
        if body.startswith("rule-"):
            return int(body.removeprefix("rule-"))
        if status == 301 and "/new/" in location:
            return REDIRECT
        assert status == 200, (status, body)
        service = json.loads(body)["service"]
        return FORWARD if service == "api" else 0


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp = tmp_path_factory.mktemp("rules")
    tpl = template(tmp)
    port = free_port()
    args = ("--template", str(tpl), "--driver", "process", "--port", f"80={port}", "--api-port", "0")
    with detached(tmp / "state", *args, "--console-port", "0", timeout=120) as st:
        a = App(st, port)
        wait_for(a.steady, 60, "both services steady, all targets healthy", interval=0.5)
        yield a


BOX = "e => { const b = e.getBBox(); return {x: b.x, y: b.y, width: b.width, height: b.height}; }"


def open_console(tab: Page, app: App, page: str = "topology") -> Any:
    p = tab.page
    p.goto(f"{app.url}#{page}")
    p.wait_for_selector("#conn[data-state=live]")
    return p


def test_topology_writes_the_rules_out_in_order(tab: Page, app: App) -> None:
    p = open_console(tab, app)
    p.wait_for_function(
        "() => document.querySelectorAll('svg.topology g.target[data-state=healthy]').length === 3"
    )
    labels = p.eval_on_selector_all("svg.topology g.rule", "els => els.map(e => e.ariaLabel)")
    order = sorted([prio for prio, _, _ in FIXED] + [FORWARD, REDIRECT])
    assert [label.split(" of ")[0] for label in labels] == [*(f"rule {n}" for n in order), "default rule"]
    text = dict(zip(order, labels, strict=False))
    assert "header X-Env is beta and query v=2; fixed response 200 (text/plain)" in text[20]
    assert "path is /api/*; forward to tg-api (weight 1)" in text[FORWARD]
    assert "redirect 301 to" in text[REDIRECT]
    assert "source IP in 10.0.0.0/8" in text[60]
    tgs = p.eval_on_selector_all("svg.topology g.tg", "els => els.map(e => e.ariaLabel)")
    assert [t.split(":")[0] for t in tgs] == ["target group tg-api", "target group tg-web"]
    services = p.eval_on_selector_all("svg.topology g.service", "els => els.map(e => e.ariaLabel)")
    assert [s.split(":")[0] for s in services] == ["service api", "service web"]
    backing = p.eval_on_selector_all("svg.topology g.backing", "els => els.map(e => e.ariaLabel)")
    assert sorted(b.split(",")[0] for b in backing) == [
        "parameter /console/title",
        "secret console-api-secret",
    ]
    # the backing resources sit beside the service that uses them (level with it, in the next column)
    api_box = p.eval_on_selector("svg.topology g.service[data-key='service|api'] rect", BOX)
    secret_box = p.eval_on_selector(
        "svg.topology g.backing[data-key='backing|secret|console-api-secret'] rect", BOX
    )
    assert secret_box["x"] > api_box["x"] + api_box["width"] and abs(secret_box["y"] - api_box["y"]) < 40
    # no secret value anywhere in the page
    secret = json.dumps(app.topology())  # the console never has it; the page cannot either
    assert "SecretString" not in secret
    assert p.evaluate("document.documentElement.scrollWidth") <= 1280
    tab.shot("topology")


def test_the_rule_tester_agrees_with_the_listener(tab: Page, app: App) -> None:
    p = open_console(tab, app, "rules")
    p.wait_for_selector("#rule-listener option", state="attached")
    form = "#rule-form"
    for method, path, host, headers, query in TABLE:
        p.fill(f"{form} [name=method]", method)
        p.fill(f"{form} [name=path]", path)
        p.fill(f"{form} [name=host]", host or "")
        p.fill(f"{form} [name=headers]", "\n".join(f"{n}: {v}" for n, v in headers))
        p.fill(f"{form} [name=query]", query)
        p.evaluate("document.getElementById('rule-result').removeAttribute('data-matched-priority')")
        p.click(f"{form} button[type=submit]")
        p.wait_for_selector("#rule-result[data-matched-priority]")
        tester = int(p.get_attribute("#rule-result", "data-matched-priority") or "-1")
        listener = app.listener_says(method, path, host, headers, query)
        assert tester == listener, (method, path, host, headers, query, p.inner_text("#rule-result"))
        # every earlier rule is explained, the ones after the match are not evaluated
        steps = p.eval_on_selector_all("#rule-steps > li", "els => els.map(e => e.dataset.matched)")
        assert steps.count("true") == 1
        assert steps.index("true") == len([s for s in steps if s == "false"])
    # the last one (PUT /admin: matches no rule) in a screenshot, with the reasons written out
    assert "No rule matches: the default rule applies." in p.inner_text("#rule-verdict")
    assert "path /admin matches none of /admin/*" in p.inner_text("#rule-steps")
    # and a request from 10.1.2.3 that only rule 60 matches
    p.fill(f"{form} [name=method]", "GET")
    p.fill(f"{form} [name=path]", "/plain")
    p.fill(f"{form} [name=source_ip]", "10.1.2.3")
    p.click(f"{form} button[type=submit]")
    p.wait_for_selector("#rule-result[data-matched-priority='60']")
    tab.shot("rule-tester")


def test_a_redeploy_shows_two_deployments_then_one(tab: Page, app: App) -> None:
    wait_for(app.steady, 60, "steady", interval=0.5)
    before = app.service("web")["deployments"][0]["id"]
    p = open_console(tab, app, "services/web")
    rows = "#deployments-table tbody tr"
    p.wait_for_function(f"() => document.querySelectorAll('{rows}').length === 1")
    p.click("#act-redeploy")
    p.wait_for_selector("dialog#confirm[open]")
    assert "Redeploy web" in p.inner_text("#confirm-title")
    p.click("#confirm-ok")
    p.wait_for_function(f"() => document.querySelectorAll('{rows}').length === 2", timeout=20_000)
    statuses = p.eval_on_selector_all(rows, "els => els.map(e => e.dataset.status)")
    assert statuses == ["PRIMARY", "ACTIVE"]
    assert p.get_attribute(f"{rows} >> nth=1", "data-deployment") == before
    tab.shot("redeploy-two-deployments")
    p.wait_for_function(
        f"""() => {{
            const rs = [...document.querySelectorAll("{rows}")];
            return rs.length === 1 && rs[0].dataset.deployment !== "{before}";
        }}""",
        timeout=90_000,
    )
    # the timeline keeps the finished one; the tasks of the old deployment are listed as stopped
    assert p.eval_on_selector_all(
        "svg.deployments g[data-gone=true]", "els => els.map(e => e.dataset.deployment)"
    ) == [before]
    p.wait_for_function(
        "() => document.querySelectorAll('#tasks-table tr[data-status=STOPPED]').length >= 2", timeout=30_000
    )
    stopped = p.eval_on_selector_all(
        "#tasks-table tr[data-status=STOPPED]", "els => els.map(e => e.children[6].textContent)"
    )
    assert all(s.startswith("ServiceSchedulerInitiated: ") for s in stopped), stopped
    assert any("deployment" in s.lower() for s in stopped), stopped
    assert "has reached a steady state" in p.inner_text("#service-events")
    tab.shot("redeploy-one-deployment")


def row_paths(p: Any) -> list[str]:
    return p.eval_on_selector_all(  # type: ignore[no-any-return]
        "#requests tbody tr", "els => els.map(e => e.children[2].textContent)"
    )


def test_the_requests_timeline_filters_shows_headers_and_replays(tab: Page, app: App) -> None:
    p = open_console(tab, app, "requests")
    p.wait_for_selector("#requests")
    # requests made while the page is open arrive on the event stream, newest first
    app.send("GET", "/api/items", None, [], "page=2")
    app.send("GET", "/old/x", None, [], "")
    app.send("GET", "/plain", None, [["Authorization", "Bearer topsecret-4711"], ["X-Trace-Me", "yes"]], "")
    app.send("GET", "/missing", None, [], "status=404")
    p.wait_for_function(
        """() => {
            const paths = [...document.querySelectorAll("#requests tbody tr")]
                .map(e => e.children[2].textContent);
            return ["/api/items?page=2", "/old/x", "/plain", "/missing?status=404"]
                .every(x => paths.includes(x));
        }""",
        timeout=15_000,
    )
    first = row_paths(p)[:4]
    assert first == ["/missing?status=404", "/plain", "/old/x", "/api/items?page=2"], first
    # filters: the server's for the list, the same test for what is pushed
    p.select_option("#requests-filter [name=status]", "3xx")
    p.wait_for_function("() => document.querySelectorAll('#requests tbody tr').length >= 1")
    p.wait_for_function(
        """() => [...document.querySelectorAll("#requests tbody tr")]
                    .every(e => e.dataset.status === "301")"""
    )
    assert "/old/x" in row_paths(p) and all(x.startswith("/old/") for x in row_paths(p))
    p.select_option("#requests-filter [name=status]", "")
    p.select_option("#requests-filter [name=alb_made]", "false")
    p.fill("#requests-filter [name=path]", "/api")
    p.wait_for_function(
        """() => { const rs = [...document.querySelectorAll("#requests tbody tr")];
                   return rs.length > 0 && rs.every(e => e.children[2].textContent.startsWith("/api")); }"""
    )
    app.send("GET", "/api/pushed", None, [], "")
    app.send("GET", "/not-api", None, [], "")
    p.wait_for_function(
        """() => [...document.querySelectorAll("#requests tbody tr")]
                    .some(e => e.children[2].textContent === "/api/pushed")""",
        timeout=15_000,
    )
    assert "/not-api" not in row_paths(p)
    p.click("#requests-filter button[type=reset]")
    p.wait_for_function(
        """() => [...document.querySelectorAll("#requests tbody tr")]
                    .some(e => e.children[2].textContent === "/not-api")"""
    )
    # a request's headers in and out, credentials masked
    p.click("#requests tbody tr:has(td:text-is('/plain'))")
    p.wait_for_selector("#headers-in")
    headers_in = p.inner_text("#headers-in")
    assert "Authorization\t****" in headers_in and "topsecret" not in p.content()
    assert "X-Trace-Me\tyes" in headers_in
    headers_out = p.inner_text("#headers-out")
    assert "X-Forwarded-For" in headers_out and "X-Amzn-Trace-Id" in headers_out
    tab.shot("requests")
    # replay: sent again (with the original Authorization, which never reached the page), in the timeline
    before = row_paths(p).count("/plain")
    p.click("#act-replay")
    p.wait_for_selector("#replay-result:has-text('Replayed: 200')")
    p.wait_for_function(
        f"""() => [...document.querySelectorAll("#requests tbody tr")]
                    .filter(e => e.children[2].textContent === "/plain").length === {before + 1}""",
        timeout=15_000,
    )
    # keyboard: a row is reached with Tab and opened with Enter
    p.focus("#requests tbody tr:has(td:text-is('/old/x'))")
    p.keyboard.press("Enter")
    p.wait_for_selector("#request-detail h3:has-text('Request')")
    assert "made by the ALB" in p.inner_text("#request-detail")
    assert "none (the ALB answered itself)" in p.inner_text("#request-detail")


def row_count(p: Any, path: str) -> int:
    return row_paths(p).count(path)


def test_replay_sends_a_kept_body_once_confirmed_and_is_off_for_a_body_not_kept(tab: Page, app: App) -> None:
    p = open_console(tab, app, "requests")
    p.wait_for_selector("#requests")
    secret_body = b'{"card": "4111-body-secret-0815"}'
    status, answer, _ = app.send(
        "PUT", "/api/body", None, [["Content-Type", "application/json"]], "", secret_body
    )
    assert status == 200 and json.loads(answer)["body_length"] == len(secret_body)
    app.send("PUT", "/api/big", None, [], "", b"z" * (100 * 1024))  # over the 64 KiB a sample keeps
    p.wait_for_function(
        """() => { const ps = [...document.querySelectorAll("#requests tbody tr")]
                       .map(e => e.children[2].textContent);
                   return ps.includes("/api/body") && ps.includes("/api/big"); }""",
        timeout=15_000,
    )
    # the body kept whole: its size is shown, never its bytes
    p.click("#requests tbody tr:has(td:text-is('/api/body'))")
    p.wait_for_selector("#request-detail h3:has-text('Request')")
    detail = p.inner_text("#request-detail")
    assert f"{len(secret_body)} bytes, kept whole" in detail, detail
    original = p.get_attribute("#request-detail [data-id]", "data-id")
    assert "body-secret" not in p.content()
    # a PUT is not sent again unconfirmed: Cancel sends nothing
    p.click("#act-replay")
    p.wait_for_selector("#confirm[open]")
    assert f"with its body ({len(secret_body)} bytes" in p.inner_text("#confirm-body")
    p.click("#confirm-cancel")
    p.wait_for_selector("#confirm", state="hidden")
    assert p.inner_text("#replay-result") == ""
    # confirmed: the target gets the same PUT with the same body (the timeline's new row says its size)
    p.click("#act-replay")
    p.wait_for_selector("#confirm[open]")
    p.click("#confirm-ok")
    p.wait_for_selector(
        f"#replay-result:has-text('Replayed: 200 (sent again with its body ({len(secret_body)} bytes))')"
    )
    p.wait_for_function(
        """() => [...document.querySelectorAll("#requests tbody tr")]
                    .filter(e => e.children[2].textContent === "/api/body").length === 2""",
        timeout=15_000,
    )
    p.wait_for_timeout(500)  # the cancelled one would have arrived by now
    assert row_count(p, "/api/body") == 2
    p.click("#requests tbody tr:has(td:text-is('/api/body'))")  # the newest first: the replay
    p.wait_for_function(
        f"""() => {{ const d = document.querySelector("#request-detail [data-id]");
                    return d !== null && d.dataset.id !== "{original}"; }}"""
    )
    assert "PUT /api/body" in p.inner_text("#request-detail")
    assert f"{len(secret_body)} bytes, kept whole" in p.inner_text("#request-detail")
    assert "body-secret" not in p.content()
    # a body over what the sample keeps: Replay is off, and the page says why
    p.click("#requests tbody tr:has(td:text-is('/api/big'))")
    p.wait_for_selector("#replay-blocked")
    assert p.is_disabled("#act-replay")
    assert "not kept whole" in p.inner_text("#request-detail")
    assert p.inner_text("#replay-blocked").startswith("Replay is off: ")
    tab.shot("requests-replay-off")


def test_traffic_charts_grow_live(tab: Page, app: App) -> None:
    p = open_console(tab, app, "traffic")
    p.wait_for_selector("#traffic-series section.series")
    scopes = p.eval_on_selector_all("#traffic-series section.series", "els => els.map(e => e.dataset.scope)")
    assert scopes.count("load_balancer") == 1 and scopes.count("listener") == 1
    assert scopes.count("target_group") == 2
    # every target now, and the ones that left until their points age out (the redeploy's)
    ids = p.eval_on_selector_all(
        "#traffic-series section.series[data-scope=target]", "els => els.map(e => e.dataset.id)"
    )
    now = {f"{g['arn']}|{t['key']}" for g in app.topology()["target_groups"] for t in g["targets"]}
    assert len(now) == 3 and now <= set(ids), (now, ids)
    # traffic while the page is open: sampled, so the listener's and groups' response times show
    for i in range(30):
        app.send("GET", f"/chart/{i}", None, [], "")
        app.send("GET", "/old/y", None, [], "")
    web_arn = next(g["arn"] for g in app.topology()["target_groups"] if g["name"] == "tg-web")
    web = f'#traffic-series section.series[data-id="{web_arn}"]'
    p.wait_for_function(
        f"""() => {{
            const card = document.querySelector('{web}');
            if (!card) return false;
            const caption = card.querySelectorAll("figure.chart figcaption")[1].textContent;
            return /\\d+ sampled/.test(card.querySelector("h3").textContent)
                && !/p99 – ms/.test(caption);
        }}""",
        timeout=20_000,
    )
    listener = "#traffic-series section.series[data-scope=listener]"
    assert "ALB 3xx" in p.inner_text(listener)
    assert p.eval_on_selector_all(f"{listener} polyline", "els => els.length") > 0
    # the ALB's own 301s are counted apart from the targets' answers
    label = p.get_attribute(f"{listener} figure.chart:nth-child(3) svg", "aria-label") or ""
    assert label.startswith("Responses"), label
    p.select_option("#traffic-scope", "target")
    p.wait_for_function(
        """() => [...document.querySelectorAll("#traffic-series section.series")]
                    .every(e => e.dataset.scope === "target")"""
    )
    p.select_option("#traffic-scope", "all")
    p.select_option("#traffic-window", "60")
    p.wait_for_timeout(1200)  # a second more of points
    tab.shot("traffic")


def test_log_tails_follow_live_with_a_filter(tab: Page, app: App) -> None:
    p = open_console(tab, app, "logs/access/lb-web")
    p.wait_for_selector("#logs-lines[data-source='access|lb-web']")
    app.send("GET", "/log-marker-1", None, [], "")
    p.wait_for_selector("#logs-lines span.line:has-text('/log-marker-1')", timeout=15_000)
    p.fill("#logs-form [name=filter]", "log-marker")
    p.wait_for_function(
        """() => { const ls = [...document.querySelectorAll("#logs-lines span.line")];
                   return ls.length >= 1 && ls.every(l => l.textContent.includes("log-marker")); }"""
    )
    assert p.eval_on_selector_all("#logs-lines mark", "els => els.length") >= 1
    app.send("GET", "/log-marker-2", None, [], "")
    app.send("GET", "/other-line", None, [], "")
    p.wait_for_selector("#logs-lines span.line:has-text('/log-marker-2')", timeout=15_000)
    assert "/other-line" not in p.inner_text("#logs-lines")
    tab.shot("logs")
    # every task's output is listed, the service's own first when asked by service
    p.goto(f"{app.url}#logs/service/api")
    task = app.service("api")["tasks"][0]["id"]
    p.wait_for_function(
        f"""() => (document.getElementById("logs-lines").dataset.source || "").startsWith("task|{task}|")"""
    )


def test_scale_and_deregister_target_from_the_page(tab: Page, app: App) -> None:
    wait_for(app.steady, 60, "steady", interval=0.5)
    p = open_console(tab, app, "services/api")
    p.wait_for_selector("#act-scale")
    p.fill("#scale-count", "2")
    p.click("#act-scale")
    p.wait_for_selector("dialog#confirm[open]")
    assert "from 1 to 2" in p.inner_text("#confirm-body")
    p.click("#confirm-ok")
    p.wait_for_selector(".toast:has-text('api: desired 2')")
    # the picture follows: two healthy targets under tg-api
    p.goto(f"{app.url}#topology")
    api_tg = next(g["arn"] for g in app.topology()["target_groups"] if g["name"] == "tg-api")
    targets = f"svg.topology g.target[data-key^='target|{api_tg}|']"
    p.wait_for_function(
        f"""() => {{ const ts = [...document.querySelectorAll("{targets}")];
                    return ts.length === 2 && ts.every(t => t.dataset.state === "healthy"); }}""",
        timeout=60_000,
    )
    # cancelling the confirmation sends nothing
    key = p.get_attribute(f"{targets} >> nth=0", "data-key") or ""
    p.click(f"svg.topology g.target[data-key='{key}']")
    p.click("#act-deregister")
    p.wait_for_selector("dialog#confirm[open]")
    p.click("#confirm-cancel")
    p.wait_for_timeout(300)
    assert p.query_selector(".toast") is None or "deregistering" not in p.inner_text("#toasts")
    # deregister it: it drains (then leaves; the service's scheduler may register its task again). Every
    # state the picture shows for it is recorded, as the redraws come
    p.evaluate(
        """(key) => {
            window.seenStates = [];
            const look = () => {
                const t = document.querySelector(`svg.topology g.target[data-key='${key}']`);
                window.seenStates.push(t ? t.dataset.state : "gone");
            };
            new MutationObserver(look).observe(document.getElementById("topology-canvas"),
                                               {childList: true, subtree: true});
        }""",
        key,
    )
    p.click("#act-deregister")
    p.wait_for_selector("dialog#confirm[open]")
    p.click("#confirm-ok")
    p.wait_for_selector(".toast:has-text('is deregistering (draining)')")
    p.wait_for_function("() => window.seenStates.includes('draining')", timeout=10_000)
    tab.shot("deregistered-draining")
