"""One HTTP server for the control endpoints (issue 14, item 6): outside ``albfargate.net`` nothing in src/
reads a request head (``readuntil(b"\\r\\n\\r\\n")``), starts an asyncio stream server or writes a status
line -- except the load balancer's data plane (``alb/``, its own measured parser), the stand-in container
(``ecs/standin.py``: an application the load balancer forwards to, on httptools when installed) and the
loopback forwarder (``ecs/runtime/netns.py``: TCP, not HTTP). Checked on the files' ASTs."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "albfargate"

#: where each construct may appear (paths relative to src/albfargate), and why
HEAD_READERS = {"net/server.py"}
STREAM_SERVERS = {"net/server.py", "ecs/runtime/netns.py", "ecs/standin.py"}  # a TCP forwarder, an app
STATUS_LINES = {"net/http.py", "net/server.py", "ecs/standin.py"}  # standin: an app, not an endpoint
DATA_PLANE = "alb/"


def _status_line(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        text = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
        return text.startswith("HTTP/1.1 ") or text.startswith("HTTP/1.0 ")
    if isinstance(node, ast.JoinedStr) and node.values:
        return _status_line(node.values[0])
    return False


def findings() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"head": set(), "server": set(), "status": set()}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(DATA_PLANE):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if (
                    node.func.attr == "readuntil"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == b"\r\n\r\n"
                ):
                    found["head"].add(rel)
                if node.func.attr in ("start_server", "create_server"):
                    found["server"].add(rel)
            if _status_line(node):
                found["status"].add(rel)
    return found


def test_only_the_shared_module_serves_http_for_the_control_endpoints() -> None:
    found = findings()
    assert found["head"] <= HEAD_READERS, f"a request head read outside albfargate.net: {found['head']}"
    assert found["server"] <= STREAM_SERVERS, f"an HTTP server outside albfargate.net: {found['server']}"
    assert found["status"] <= STATUS_LINES, f"a status line written outside albfargate.net: {found['status']}"


def test_the_check_sees_what_it_looks_for() -> None:
    found = findings()
    assert found["head"] == {"net/server.py"} and "net/server.py" in found["server"]
    assert {"net/http.py", "ecs/standin.py"} <= found["status"]
