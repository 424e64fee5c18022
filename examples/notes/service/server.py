"""notes: a small web service that keeps notes in PostgreSQL (and attachments in S3).

GET  /          -> the page title (an SSM parameter, through the task's Secrets) and every note as JSON
POST /notes     -> body = the note's text; a row in PostgreSQL (and, when S3 is reachable, an object)
GET  /secret    -> whether the database secret can be read at run time through Secrets Manager (the
                   value itself is never shown)
GET  /health    -> 200 "ok" once the database answers

The database comes from the environment the task definition gives: DB_HOST, DB_PORT, DB_NAME, and DB_USER,
DB_PASSWORD from the generated Secrets Manager secret. S3 and Secrets Manager are reached with boto3
(AWS_ENDPOINT_URL locally); without boto3 or an endpoint those parts say "unavailable" and the rest works.
Listens on 0.0.0.0:$PORT (default 8080); exits cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pg8000.native

_local = threading.local()


def db() -> pg8000.native.Connection:
    """One connection per server thread, opened on first use (and again after an error)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = pg8000.native.Connection(
            user=os.environ["DB_USER"],
            password=os.environ["DB_PASSWORD"],
            host=os.environ["DB_HOST"],
            port=int(os.environ["DB_PORT"]),
            database=os.environ.get("DB_NAME", "postgres"),
            timeout=5,
        )
        _local.conn = conn
    return conn


def run(sql: str, **params: Any) -> list[list[Any]]:
    try:
        return db().run(sql, **params) or []
    except Exception:
        _local.conn = None
        raise


def on_aws() -> bool:
    """Running on AWS: the metadata endpoint is not on loopback (locally it is 127.0.0.1)."""
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
    return bool(uri) and not uri.startswith(("http://127.", "http://localhost"))


def aws_client(service: str) -> Any:
    """A boto3 client when boto3 is installed and an endpoint is there (AWS_ENDPOINT_URL locally, or AWS
    itself), else None: locally without an endpoint nothing is sent anywhere."""
    if not (os.environ.get("AWS_ENDPOINT_URL") or on_aws()):
        return None
    try:
        import boto3
    except ImportError:
        return None
    return boto3.client(service)


def put_attachment(note_id: int, text: str) -> str | None:
    bucket = os.environ.get("BUCKET")
    client = aws_client("s3") if bucket else None
    if client is None:
        return None
    key = f"notes/{note_id}-{uuid.uuid4().hex[:8]}.txt"
    try:
        client.put_object(Bucket=bucket, Key=key, Body=text.encode())
    except Exception as exc:  # S3 not reachable: the note is kept anyway
        print(f"notes: attachment not stored: {exc}", file=sys.stderr, flush=True)
        return None
    return key


class Handler(BaseHTTPRequestHandler):
    server_version = "notes/1.0"
    protocol_version = "HTTP/1.1"

    def _send(self, code: int, doc: Any) -> None:
        body = (json.dumps(doc) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/health":
            try:
                run("SELECT 1")
            except Exception as exc:
                self._send(503, {"error": f"database: {exc}"})
                return
            self._send(200, "ok")
        elif self.path == "/secret":
            client = aws_client("secretsmanager")
            arn = os.environ.get("DB_SECRET_ARN")
            if client is None or not arn:
                self._send(200, {"secret": "unavailable"})
                return
            try:
                value = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
            except Exception as exc:
                self._send(502, {"secret": "unreadable", "error": type(exc).__name__})
                return
            same = value.get("password") == os.environ.get("DB_PASSWORD")
            self._send(200, {"secret": "readable", "matches_task_secret": same, "keys": sorted(value)})
        elif self.path == "/":
            rows = run("SELECT id, body, attachment FROM notes ORDER BY id")
            notes = [{"id": r[0], "body": r[1], "attachment": r[2]} for r in rows]
            self._send(200, {"title": os.environ.get("TITLE", "notes"), "notes": notes})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/notes":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode("utf-8", "replace")
        (note_id,) = run("INSERT INTO notes (body) VALUES (:b) RETURNING id", b=text)[0]
        key = put_attachment(note_id, text)
        if key is not None:
            run("UPDATE notes SET attachment = :k WHERE id = :i", k=key, i=note_id)
        self._send(201, {"id": note_id, "attachment": key})

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    run("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL, attachment text)")
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"notes: listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
