"""The web console's server on a stand-in system with a generated Secrets Manager secret and listener rules
made through the AWS API (real sockets, the real supervisor, boto3):

- no secret value appears in any console answer or event, while the service shows it uses the secret;
- rules created through the API arrive as a ``rules`` event, and the rule tester's answer is the listener's
  for a table of requests (each rule answers with its own fixed response, so the real listener says
  which rule it ran);
- scale, redeploy and deregister-target go through the engine; log tails; a stream per client."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.console_support import Console, EventReader
from tests.integration.up_support import Svc, detached, free_port, make_template, status, wait_for

pytestmark = [pytest.mark.integration]

boto3 = pytest.importorskip("boto3")

STANDIN = json.dumps([sys.executable, "-m", "albfargate.ecs.standin", "--container", "app"])


def template(tmp_path: Path) -> Path:
    tpl = make_template(tmp_path / "t.json", [Svc(name="web", desired=2, dereg_delay=2, hc_interval=2)])
    doc = json.loads(tpl.read_text())
    doc["Resources"]["DbSecret"] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": "console-db-secret",
            "GenerateSecretString": {
                "SecretStringTemplate": '{"username": "app"}',
                "GenerateStringKey": "password",
                "ExcludePunctuation": True,
            },
        },
    }
    container = doc["Resources"]["S0TaskDef"]["Properties"]["ContainerDefinitions"][0]
    container["Secrets"] = [{"Name": "DB_SECRET", "ValueFrom": {"Ref": "DbSecret"}}]
    tpl.write_text(json.dumps(doc))
    (tmp_path / "albfargate.toml").write_text(f"[containers.app]\ncommand = {STANDIN}\n")
    return tpl


def client(api_url: str, service: str) -> object:
    return boto3.client(
        service,
        endpoint_url=api_url,
        region_name="us-east-1",
        aws_access_key_id="albfargate",
        aws_secret_access_key="albfargate",
    )


RULES = [  # (priority, conditions, body of its fixed response)
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
]
TABLE = [  # (method, path, host, headers, query)
    ("GET", "/admin/users", None, [], ""),
    ("GET", "/", "api.example.com", [], ""),
    ("GET", "/x", "API.example.com:8080", [], ""),
    ("GET", "/x", None, [["X-Env", "BETA"]], "v=2"),
    ("GET", "/x", None, [["X-Env", "beta"]], "v=3"),
    ("POST", "/anything", None, [], ""),
    ("GET", "/plain", None, [], ""),
]


def listener_says(port: int, method: str, path: str, host: str | None, headers: list, query: str) -> int:
    """The priority of the rule the real listener ran (its fixed-response body), 0 for the default."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        h = dict(headers)
        if host is not None:
            h["Host"] = host
        conn.request(method, path + (f"?{query}" if query else ""), headers=h)
        r = conn.getresponse()
        body = r.read().decode()
    finally:
        conn.close()
    return int(body.removeprefix("rule-")) if body.startswith("rule-") else 0


def test_console_on_a_standin_system(tmp_path: Path) -> None:
    tpl = template(tmp_path)
    state = tmp_path / "state"
    port = free_port()
    args = ("--template", str(tpl), "--driver", "process", "--port", f"80={port}", "--api-port", "0")
    with detached(state, *args, "--console-port", "0", timeout=90) as st:
        console = Console(st["console_url"])
        sm = client(st["api_url"], "secretsmanager")
        secret = sm.get_secret_value(SecretId="console-db-secret")["SecretString"]  # type: ignore[attr-defined]
        password = json.loads(secret)["password"]
        assert len(password) >= 16
        stream = EventReader(console, "/api/events?requests=1")
        try:
            stream.wait(lambda n, d: n == "hello", 10, "hello")
            texts = [
                json.dumps(console.get(p)) for p in ("/api/session", "/api/topology", "/api/services/web")
            ]
            topo = json.loads(texts[1])
            (svc,) = topo["services"]
            assert {"kind": "secret", "name": "console-db-secret"} in svc["uses"]
            assert [s["name"] for s in topo["backing"]["secrets"]] == ["console-db-secret"]

            # -- rules through the AWS API: pushed as a `rules` event, then tested against the listener
            elb = client(st["api_url"], "elbv2")
            (listener,) = topo["load_balancers"][0]["listeners"]
            for prio, conditions, body in RULES:
                elb.create_rule(  # type: ignore[attr-defined]
                    ListenerArn=listener["arn"],
                    Priority=prio,
                    Conditions=conditions,
                    Actions=[
                        {
                            "Type": "fixed-response",
                            "FixedResponseConfig": {
                                "StatusCode": "200",
                                "ContentType": "text/plain",
                                "MessageBody": body,
                            },
                        }
                    ],
                )
            stream.wait(
                lambda n, d: n == "rules" and d["listener_arn"] == listener["arn"] and len(d["rules"]) == 5,
                20,
                "the listener's five rules",
            )
            token = console.token()
            for method, path, host, headers, query in TABLE:
                form = {"method": method, "path": path, "host": host, "headers": headers, "query": query}
                status_code, _, data = console.request(
                    "POST",
                    "/api/rule-test",
                    {"listener_arn": listener["arn"], **form},
                    headers={"X-Albfargate-Csrf": token, "Origin": console.origin},
                )
                assert status_code == 200, data
                answer = json.loads(data)
                real = listener_says(port, method, path, host, headers, query)
                assert answer["matched"]["priority"] == real, (form, answer)
            # the tester too needs the token (it is a POST)
            assert console.request("POST", "/api/rule-test", {"path": "/"})[0] == 403

            # -- requests with credentials: shown masked, never their values
            import urllib.request

            bearer = "Bearer topsecret-4711"
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/plain?token=x", headers={"Authorization": bearer}
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
            stream.wait(lambda n, d: n == "request" and d["query"] == "token=x", 10, "the /plain request")
            (plain,) = console.get("/api/requests?path=/plain&limit=1")["requests"]
            assert ["Authorization", "****"] in plain["headers_in"]
            out_names = [n.lower() for n, _ in plain["headers_out"]]
            assert "x-forwarded-for" in out_names and "x-amzn-trace-id" in out_names
            assert ["Authorization", "****"] in plain["headers_out"]
            # the replay sends the original header (it never left the server): the stand-in echoes it
            assert console.act("replay", {"request_id": plain["id"]}, token=token)[1]["status"] == 200

            # -- actions through the engine
            status_code, doc = console.act(
                "scale", {"service": "we", "count": 3}, token=token
            )  # a unique prefix
            assert (status_code, doc["desired"]) == (200, 3)
            stream.wait(
                lambda n, d: n == "service" and d["desired"] == 3 and d["running"] == 3, 60, "3 running"
            )
            assert console.act("scale", {"service": "web", "count": -1}, token=token)[0] == 400
            assert console.act("scale", {"service": "nope", "count": 1}, token=token)[0] == 404
            status_code, doc = console.act("redeploy", {"service": "web"}, token=token)
            assert status_code == 200
            stream.wait(lambda n, d: n == "service" and len(d["deployments"]) == 2, 20, "two deployments")
            stream.wait(
                lambda n, d: (
                    n == "service"
                    and len(d["deployments"]) == 1
                    and d["deployments"][0]["id"] == doc["deployment"]
                ),
                120,
                "one deployment again",
            )
            tg_arn = svc["target_groups"][0]
            target = console.get("/api/topology")["target_groups"][0]["targets"][0]
            status_code, doc = console.act(
                "deregister-target",
                {"target_group_arn": tg_arn, "id": target["id"], "port": target["port"]},
                token=token,
            )
            assert (status_code, doc["was_registered"]) == (200, True)
            stream.wait(
                lambda n, d: (
                    n == "targets"
                    and any(t["key"] == target["key"] and t["state"] == "draining" for t in d["targets"])
                ),
                10,
                "the deregistered target draining",
            )

            # -- logs
            catalogue = console.get("/api/logs")
            assert catalogue["access"] and catalogue["tasks"]
            lb_name = catalogue["access"][0]["load_balancer"]
            tail = console.get(f"/api/logs/tail?access={lb_name}&filter=/plain%3Ftoken%3Dx")
            assert (
                len(tail["lines"]) == 2 and "GET http://127.0.0.1" in tail["lines"][0]
            )  # the request, its replay
            first = catalogue["tasks"][0]
            assert console.request("GET", f"/api/logs/tail?task={first['task_id']}&container=nope")[0] == 404

            # -- nothing secret anywhere
            texts += [
                json.dumps(console.get(p))
                for p in (
                    "/api/session",
                    "/api/topology",
                    "/api/services/web",
                    "/api/requests",
                    "/api/metrics",
                    "/api/logs",
                )
            ]
            for t in catalogue["tasks"]:
                texts.append(
                    json.dumps(console.get(f"/api/logs/tail?task={t['task_id']}&container={t['container']}"))
                )
            while not stream.events.empty():
                texts.append(json.dumps(stream.events.get_nowait()))
            everything = "\n".join(texts)
            assert password not in everything
            assert "topsecret-4711" not in everything
            assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in everything
        finally:
            stream.close()
        wait_for(lambda: status(state)["services"][0]["desired"] == 3, 10, "desired 3")
