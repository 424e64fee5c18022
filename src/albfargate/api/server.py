"""The AWS-compatible endpoint: an asyncio HTTP/1.1 server on 127.0.0.1 that dispatches to the ECS,
ELBv2, Application Auto Scaling, CloudFormation, STS, ECR, Secrets Manager and SSM Parameter Store handlers
(and S3, ``backing/s3.py``).

Dispatch is by the *signed* service name (the credential scope of the SigV4 ``Authorization`` header or
the presigned ``X-Amz-Credential``) and then ``X-Amz-Target`` (JSON 1.1) or ``Action`` (query); unsigned
requests (``--no-sign-request``) are dispatched by the ``X-Amz-Target`` prefix or the query ``Version``,
which name the API unambiguously. Signatures are not verified: any credentials and region are accepted.

Guards: the listener binds loopback only; a request whose ``Host`` is not a loopback name or address is
refused (a browser tricked by DNS rebinding sends the attacker's host name); bodies above
:data:`MAX_BODY` are refused unread; every failure is answered in the protocol's own error format and
never with a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import http
import inspect
import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from albfargate.api.autoscaling.handlers import OPERATIONS as AAS_OPERATIONS
from albfargate.api.backend import Backend, BackendError
from albfargate.api.cloudformation.handlers import OPERATIONS as CFN_OPERATIONS
from albfargate.api.cloudformation.handlers import VERSION as CFN_VERSION
from albfargate.api.cloudformation.handlers import XMLNS as CFN_XMLNS
from albfargate.api.context import Context, Handler
from albfargate.api.ecr.handlers import OPERATIONS as ECR_OPERATIONS
from albfargate.api.ecr.handlers import TARGET_PREFIX as ECR_PREFIX
from albfargate.api.ecs.handlers import OPERATIONS as ECS_OPERATIONS
from albfargate.api.elbv2.handlers import OPERATIONS as ELB_OPERATIONS
from albfargate.api.errors import ApiError
from albfargate.api.protocols import json11, query
from albfargate.api.secretsmanager.handlers import OPERATIONS as SM_OPERATIONS
from albfargate.api.secretsmanager.handlers import TARGET_PREFIX as SM_PREFIX
from albfargate.api.ssm.handlers import OPERATIONS as SSM_OPERATIONS
from albfargate.api.ssm.handlers import TARGET_PREFIX as SSM_PREFIX
from albfargate.api.store import ConfigStore
from albfargate.api.sts.handlers import OPERATIONS as STS_OPERATIONS
from albfargate.api.sts.handlers import VERSION as STS_VERSION
from albfargate.api.sts.handlers import XMLNS as STS_XMLNS
from albfargate.backing.s3_requests import is_s3_request
from albfargate.errors import RuntimeStartError

if TYPE_CHECKING:
    from albfargate.backing.s3 import Reply, S3Service

log = logging.getLogger(__name__)

DEFAULT_PORT = 4566
# Largest request body accepted. The biggest legitimate bodies are RegisterTaskDefinition documents
# (ECS caps them at 64 KiB of JSON); 1 MiB leaves room without letting a client make us buffer much.
MAX_BODY = 1024 * 1024
# Request line + headers: SigV4 headers are ~1 KiB; 64 KiB mirrors common HTTP servers' limit.
MAX_HEAD = 64 * 1024
# Keep-alive connections idle longer than this are closed (botocore reuses pooled connections).
IDLE_TIMEOUT = 60.0
PORT_SEARCH = 100  # how many ports above the default to try when it is taken

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
AAS_PREFIX = "AnyScaleFrontendService."
ELB_VERSION = "2015-12-01"
ELB_XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

#: The query-protocol services: signed service name -> (API version, XML namespace, operations).
#: An unsigned request is matched by its ``Version``.
QUERY_SERVICES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "elasticloadbalancing": (ELB_VERSION, ELB_XMLNS, ELB_OPERATIONS),
    "cloudformation": (CFN_VERSION, CFN_XMLNS, CFN_OPERATIONS),
    "sts": (STS_VERSION, STS_XMLNS, STS_OPERATIONS),
}

REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``*.localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    if not host:
        return False
    host = host.strip()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host
    name = name.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def signed_service(headers: dict[str, str], query_params: dict[str, str]) -> str | None:
    """The service name of the SigV4 credential scope (``AKID/date/region/SERVICE/aws4_request``)."""
    credential = None
    auth = headers.get("authorization", "")
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif "X-Amz-Credential" in query_params:
        credential = query_params["X-Amz-Credential"]
    if not credential:
        return None
    parts = credential.split("/")
    return parts[3] if len(parts) >= 5 else None


class Response:
    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body


def _json_error(error: ApiError) -> Response:
    status, body = json11.encode_error(error)
    return Response(status, json11.CONTENT_TYPE, body)


def _xml_error(error: ApiError, request_id: str, xmlns: str = ELB_XMLNS) -> Response:
    status, body = query.encode_error(error, xmlns=xmlns, request_id=request_id)
    return Response(status, query.CONTENT_TYPE, body)


class Pending:
    """A query-protocol answer that needs I/O first (CloudFormation reading a ``TemplateURL`` from the
    local S3): :meth:`response` awaits the handler and encodes its result or its error."""

    def __init__(self, work: Awaitable[Any], action: str, xmlns: str, request_id: str) -> None:
        self.work = work
        self.action = action
        self.xmlns = xmlns
        self.request_id = request_id

    async def response(self) -> Response:
        try:
            result = await self.work
        except ApiError as error:
            return _xml_error(error, self.request_id, self.xmlns)
        except BackendError as refused:
            return _xml_error(ApiError(refused.code, refused.message), self.request_id, self.xmlns)
        except Exception:
            log.exception("internal error handling %s", self.action)
            fault = ApiError("InternalFailure", "Internal server error", status=500, sender=False)
            return _xml_error(fault, self.request_id, self.xmlns)
        body = query.encode_response(self.action, result, xmlns=self.xmlns, request_id=self.request_id)
        return Response(200, query.CONTENT_TYPE, body)


class Dispatcher:
    """Pure request -> response mapping (no sockets): the server feeds it; tests may call it directly."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def handle_async(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """:meth:`handle`, with an answer that needs I/O awaited."""
        response = self.handle(method, target, headers, body)
        if isinstance(response, Pending):
            return await response.response()
        return response

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response | Pending:
        request_id = str(uuid.uuid4())
        xmlns = ELB_XMLNS
        amz_target = headers.get("x-amz-target")
        as_json = amz_target is not None or "json" in headers.get("content-type", "")
        try:
            if not is_loopback_host(headers.get("host")):
                raise ApiError(
                    "AccessDenied",
                    f"Host {headers.get('host')!r} is not a loopback name; only loopback requests are served",
                    status=403,
                )
            url = urlsplit(target)
            qs = dict(parse_qsl(url.query, keep_blank_values=True))
            if method == "GET" and url.path in ("/", "/health", "/_albfargate/health") and not qs:
                return Response(200, "application/json", json.dumps({"status": "running"}).encode())
            if method == "GET" and "Action" in qs and amz_target is None:
                pass  # the query protocol may also come as a (presigned) GET
            elif method != "POST":
                raise ApiError("InvalidAction", f"Unsupported HTTP method {method}; use POST", status=405)
            service = signed_service(headers, qs)
            if service in QUERY_SERVICES:
                xmlns = QUERY_SERVICES[service][1]
            if amz_target is not None:
                return self._json(service, amz_target, body, request_id)
            return self._query(service, body, qs, request_id)
        except ApiError as error:
            return _json_error(error) if as_json else _xml_error(error, request_id, xmlns)
        except BackendError as refused:  # the engine refused a write, naming the AWS error code
            as_api = ApiError(refused.code, refused.message)
            return _json_error(as_api) if as_json else _xml_error(as_api, request_id, xmlns)
        except Exception:  # a bug: answer in-protocol, log the traceback locally only
            log.exception("internal error handling %s %s", method, target.split("?", 1)[0])  # no tokens
            fault = ApiError(
                "ServerException" if as_json else "InternalFailure",
                "Internal server error",
                status=500,
                sender=False,
            )
            return _json_error(fault) if as_json else _xml_error(fault, request_id, xmlns)

    def _json(self, service: str | None, amz_target: str, body: bytes, request_id: str) -> Response:
        table: dict[str, Handler]
        if service in (None, "ecs") and amz_target.startswith(ECS_PREFIX):
            table, op = ECS_OPERATIONS, amz_target[len(ECS_PREFIX) :]
        elif service in (None, "application-autoscaling") and amz_target.startswith(AAS_PREFIX):
            table, op = AAS_OPERATIONS, amz_target[len(AAS_PREFIX) :]
        elif service in (None, "secretsmanager") and amz_target.startswith(SM_PREFIX):
            table, op = SM_OPERATIONS, amz_target[len(SM_PREFIX) :]
        elif service in (None, "ssm") and amz_target.startswith(SSM_PREFIX):
            table, op = SSM_OPERATIONS, amz_target[len(SSM_PREFIX) :]
        elif service in (None, "ecr") and amz_target.startswith(ECR_PREFIX):
            table, op = ECR_OPERATIONS, amz_target[len(ECR_PREFIX) :]
        else:
            raise ApiError(
                "UnknownOperationException",
                f"No operation {amz_target!r} for signed service {service or '(unsigned)'}",
            )
        handler = table.get(op)
        if handler is None:
            raise ApiError("UnknownOperationException", f"Operation {op} is not supported by albfargate")
        params = json11.parse_body(body)
        result = handler(self.context, params)
        return Response(200, json11.CONTENT_TYPE, json11.encode_response(result))

    def _query(
        self, service: str | None, body: bytes, qs: dict[str, str], request_id: str
    ) -> Response | Pending:
        params = query.parse_form(body) if body else {}
        if not params:
            params = query.parse_form(urlencode(list(qs.items())).encode()) if qs else {}
        version = params.get("Version")
        if service is None:  # unsigned: the Version names the API
            service = next((name for name, (v, _, _) in QUERY_SERVICES.items() if v == version), None)
            if service is None:
                raise ApiError(
                    "InvalidAction",
                    f"Unsupported API version {version!r}; albfargate serves "
                    + ", ".join(f"{n} {v}" for n, (v, _, _) in QUERY_SERVICES.items()),
                )
        if service not in QUERY_SERVICES:
            raise ApiError("InvalidAction", f"Service {service!r} is not served by this endpoint")
        expected, xmlns, operations = QUERY_SERVICES[service]
        if version != expected:
            raise ApiError(
                "InvalidParameterValue",
                f"Unsupported API version {version!r}; albfargate serves {service} {expected}",
            )
        action = params.get("Action")
        handler = operations.get(action) if isinstance(action, str) else None
        if handler is None or not isinstance(action, str):
            raise ApiError("InvalidAction", f"The action {action} is not valid for this web service.")
        result = handler(self.context, params)
        if inspect.isawaitable(result):
            return Pending(result, action, xmlns, request_id)
        body_out = query.encode_response(action, result, xmlns=xmlns, request_id=request_id)
        return Response(200, query.CONTENT_TYPE, body_out)


class ApiServer:
    """Serves :class:`Dispatcher` over HTTP/1.1 with keep-alive on 127.0.0.1."""

    def __init__(
        self,
        backend: Backend,
        store: ConfigStore,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        clock: Callable[[], float] = time.time,
        max_body: int = MAX_BODY,
        secrets: Any = None,
        parameters: Any = None,
        s3: S3Service | None = None,
        port_search: bool = True,
    ) -> None:
        self.dispatcher = Dispatcher(Context(backend, store, clock, secrets=secrets, parameters=parameters))
        self.host = host
        self.port = port
        self.port_search = port_search  # False: ``port`` or an error (an explicit --api-port)
        self.max_body = max_body
        self.s3 = s3
        self.cloudformation: Any = None  # api.cloudformation.service.CloudFormationApi once attached
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Bind ``port`` or (with ``port_search``) the next free one above it (port 0: any); returns the
        endpoint URL."""
        search = self.port_search and self.port != 0
        candidates = range(self.port, self.port + PORT_SEARCH) if search else [self.port]
        last: OSError | None = None
        for port in candidates:
            try:
                self._server = await asyncio.start_server(self._serve, self.host, port, limit=MAX_HEAD)
            except OSError as exc:
                last = exc
                continue
            self.port = self._server.sockets[0].getsockname()[1]
            return self.url
        if not search:
            raise RuntimeStartError(f"API endpoint: port {self.port} on {self.host} is taken: {last}")
        raise RuntimeStartError(f"API endpoint: no free port from {self.port} on {self.host}: {last}")

    async def stop(self) -> None:
        if self.cloudformation is not None:  # operations in progress end; every stack record is written
            await self.cloudformation.close()
            self.cloudformation = None
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:  # stop(): end quietly (asyncio would log a cancelled handler)
            pass
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        except asyncio.LimitOverrunError:
            await self._send(
                writer,
                _xml_error(
                    ApiError("RequestHeaderFieldsTooLarge", "Request headers too large", status=431), "-"
                ),
                False,
            )
            return False
        except asyncio.IncompleteReadError:
            return False
        try:
            method, target, headers = _parse_head(head)
        except ValueError as exc:
            await self._send(writer, _xml_error(ApiError("MalformedRequest", str(exc)), "-"), False)
            return False
        keep_alive = headers.get("connection", "").lower() != "close"
        query_params = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        service = signed_service(headers, query_params)
        # without the S3 library, only what is clearly S3 gets S3's "not installed" answer
        if is_s3_request(service, method, target, headers) and (self.s3 is not None or service == "s3"):
            return await self._serve_s3(reader, writer, method, target, headers, keep_alive)
        as_json = "x-amz-target" in headers

        def fail(error: ApiError) -> Response:
            return _json_error(error) if as_json else _xml_error(error, str(uuid.uuid4()))

        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._send(
                writer,
                fail(
                    ApiError(
                        "MissingContentLength",
                        "Chunked request bodies are not accepted; send Content-Length",
                        status=411,
                    )
                ),
                False,
            )
            return False
        try:
            length = int(headers.get("content-length", "0"))
            if length < 0:
                raise ValueError
        except ValueError:
            await self._send(writer, fail(ApiError("MalformedRequest", "Invalid Content-Length")), False)
            return False
        if length > self.max_body:
            error = ApiError(
                "RequestEntityTooLarge",
                f"Request body of {length} bytes exceeds the {self.max_body} byte limit",
                status=413,
            )
            await self._send(writer, fail(error), False)
            await _linger(reader, length)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        response = await self.dispatcher.handle_async(method, target, headers, body)
        await self._send(writer, response, keep_alive)
        return keep_alive

    async def _serve_s3(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        keep_alive: bool,
    ) -> bool:
        """One S3 request: the body is read (``Content-Length`` or chunked, up to S3's 5 GiB for one
        PUT) and handed to the S3 service; its answer goes out only after any change it made is on
        disk (``backing/s3.py``)."""
        from albfargate.backing.s3 import MAX_OBJECT_BODY, error_reply

        if not is_loopback_host(headers.get("host")):
            reply = error_reply(
                403,
                "AccessDenied",
                f"Host {headers.get('host')!r} is not a loopback name; only loopback requests are served",
            )
            await _send_s3(writer, reply, method, False)
            return False
        if self.s3 is None:
            reply = error_reply(
                501,
                "NotImplemented",
                "the local S3 endpoint needs the S3 library: pip install 'albfargate[s3]' and run up again",
            )
            await _send_s3(writer, reply, method, False)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            try:
                body = await _read_chunked(reader, MAX_OBJECT_BODY)
            except ValueError as exc:
                await _send_s3(writer, error_reply(400, "IncompleteBody", str(exc)), method, False)
                return False
        else:
            try:
                length = int(headers.get("content-length", "0"))
                if length < 0:
                    raise ValueError
            except ValueError:
                reply = error_reply(400, "InvalidArgument", "Invalid Content-Length")
                await _send_s3(writer, reply, method, False)
                return False
            if length > MAX_OBJECT_BODY:
                reply = error_reply(
                    400,
                    "EntityTooLarge",
                    f"Your proposed upload of {length} bytes exceeds the maximum allowed object size "
                    f"({MAX_OBJECT_BODY} bytes); use a multipart upload",
                )
                await _send_s3(writer, reply, method, False)
                await _linger(reader, length)
                return False
            body = await reader.readexactly(length) if length else b""
        reply = await self.s3.handle(method, target, headers, body)
        await _send_s3(writer, reply, method, keep_alive)
        return keep_alive

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
        reason = REASONS.get(response.status, "Error")
        head = (
            f"HTTP/1.1 {response.status} {reason}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
            f"Server: albfargate\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + response.body)
        await writer.drain()


#: Response headers the S3 answer gets from the server itself, never from the S3 library.
_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive", "server"})


async def _send_s3(writer: asyncio.StreamWriter, reply: Reply, method: str, keep_alive: bool) -> None:
    try:
        reason = http.HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Error"
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    length: str | None = str(len(reply.body))
    for name, value in reply.headers:
        low = name.lower()
        if low == "content-length" and method == "HEAD":
            length = value  # HEAD: the object's length, no body
        if low in _HOP_HEADERS or "\r" in value or "\n" in value:
            continue
        lines.append(f"{name}: {value}")
    if not any(n.lower() == "x-amz-request-id" for n, _ in reply.headers):
        lines.append(f"x-amz-request-id: {uuid.uuid4().hex[:16].upper()}")
    if reply.status not in (204, 304) and length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Server: albfargate")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    writer.write(head)
    if method != "HEAD" and reply.status not in (204, 304) and reply.body:
        writer.write(reply.body)
    await writer.drain()


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    """An HTTP/1.1 chunked body (RFC 9112 §7.1), trailers read and dropped; ValueError when malformed or
    above ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"malformed chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise ValueError("malformed chunk size")
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailer fields
            return b"".join(parts)
        total += size
        if total > limit:
            raise ValueError(f"the body exceeds {limit} bytes")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")


# After refusing an oversized body, read and discard up to this much of it (for at most LINGER_SECONDS)
# before closing, so the client reads our 413 instead of a connection reset.
LINGER_BYTES = 8 * 1024 * 1024
LINGER_SECONDS = 2.0


async def _linger(reader: asyncio.StreamReader, length: int) -> None:
    remaining = min(length, LINGER_BYTES)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    with contextlib.suppress(Exception):
        while remaining > 0 and loop.time() < deadline:
            chunk = await asyncio.wait_for(reader.read(min(remaining, 65536)), deadline - loop.time())
            if not chunk:
                break
            remaining -= len(chunk)


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """Request line and headers (names lower-cased; repeated headers joined with ``,``)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise ValueError("undecodable request head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"Malformed request line {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"Malformed header line {line[:100]!r}")
        key = name.lower()
        headers[key] = f"{headers[key]},{value.strip()}" if key in headers else value.strip()
    return parts[0], parts[1], headers
