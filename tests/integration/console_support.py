"""Helpers of the console integration tests: plain HTTP calls to the console with chosen headers (Host,
Origin, the CSRF token) and a Server-Sent Events reader on a real socket, in a thread."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit


class Console:
    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.host = u.hostname or "127.0.0.1"
        self.port = int(u.port or 80)
        self.origin = f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 15,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            h = {"Content-Type": "application/json"} if data is not None else {}
            h.update(headers or {})
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Any:
        status, _, body = self.request("GET", path, **kw)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def token(self) -> str:
        return str(self.get("/api/session")["csrf_token"])

    def act(
        self, name: str, body: dict[str, Any], *, token: str | None = None, origin: str | None = ""
    ) -> tuple[int, Any]:
        """POST an action; ``origin`` "" means the console's own, None leaves the header out."""
        headers = {}
        if token is not None:
            headers["X-Albfargate-Csrf"] = token
        if origin is not None:
            headers["Origin"] = origin or self.origin
        status, _, data = self.request("POST", f"/api/actions/{name}", body, headers=headers)
        return status, json.loads(data)


class EventReader:
    """Reads ``GET path`` as an event stream on a socket; events land in :attr:`events` as
    ``(name, data)``."""

    def __init__(self, console: Console, path: str = "/api/events") -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sock = socket.create_connection((console.host, console.port), timeout=5)
        host = f"{console.host}:{console.port}"
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        self.file = self.sock.makefile("rb")
        status = self.file.readline()
        assert b" 200 " in status, status
        while self.file.readline() not in (b"\r\n", b""):
            pass
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        name, data = "message", ""
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    self.events.put((name, json.loads(data)))
                    name, data = "message", ""
        except (OSError, ValueError):
            pass

    def wait(self, pred: Any, timeout: float, what: str) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event {what} within {timeout} s (seen: {seen[-30:]})")
            try:
                name, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(name)
            if pred(name, data):
                return name, data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
