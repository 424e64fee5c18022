"""hello: a tiny stdlib-only web service for albfargate's example.

GET /        -> a page naming the task that served it
GET /health  -> 200 "ok" (the target-group health check)

The task id comes from the ECS task metadata endpoint (ECS_CONTAINER_METADATA_URI_V4, set by Fargate and by
albfargate's local runtime); without it the page names the host name and process id. Listens on
0.0.0.0:$PORT (default 8080, the container port); exits cleanly on SIGTERM.
"""

from __future__ import annotations

import html
import json
import os
import signal
import socket
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GREETING = os.environ.get("GREETING", "Hello")
_task_lock = threading.Lock()
_task_name: str | None = None
# The metadata endpoint is link-local (or loopback locally): never through an HTTP proxy.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def task_name() -> str:
    """The task id from the metadata endpoint (cached once found), else 'hostname/pid'."""
    global _task_name
    with _task_lock:
        if _task_name is not None:
            return _task_name
        uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
        if uri:
            try:
                with _NO_PROXY.open(uri.rstrip("/") + "/task", timeout=2) as response:
                    arn = json.load(response)["TaskARN"]
                _task_name = str(arn).rsplit("/", 1)[-1]
                return _task_name
            except (OSError, ValueError, KeyError):
                pass  # not reachable yet: fall back for now, try again on the next request
        return f"{socket.gethostname()}/{os.getpid()}"


class Handler(BaseHTTPRequestHandler):
    server_version = "hello/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._send(200, "text/plain; charset=utf-8", b"ok\n")
        elif path == "/":
            name = html.escape(task_name())
            body = (
                "<!doctype html><html><head><title>hello</title></head><body>"
                f"<h1>{html.escape(GREETING)} from task {name}</h1>"
                f'<p id="task">{name}</p></body></html>\n'
            ).encode()
            self._send(200, "text/html; charset=utf-8", body, extra=(("X-Task", task_name()),))
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, code: int, ctype: str, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main() -> int:
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"hello listening on :{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
