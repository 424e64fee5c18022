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

import inspect
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
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
from albfargate.net.http import BodyRules, Problem, ProblemKind, RequestHead
from albfargate.net.http import Response as HttpResponse
from albfargate.net.http import is_loopback_host as is_loopback_host  # the guard, re-exported
from albfargate.net.server import HttpServer, Limits, Request

if TYPE_CHECKING:
    from albfargate.api.cloudformation.service import CloudFormationApi
    from albfargate.backing.s3 import Reply, S3Service
    from albfargate.backing.store import ParameterStore, SecretStore

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


def signed_service(headers: Mapping[str, str], query_params: Mapping[str, str]) -> str | None:
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


def _foreign_host(headers: Mapping[str, str]) -> ApiError:
    return ApiError(
        "AccessDenied",
        f"Host {headers.get('host')!r} is not a loopback name; only loopback requests are served",
        status=403,
    )


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
                raise _foreign_host(headers)
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
    """Serves :class:`Dispatcher` (and S3) over HTTP/1.1 with keep-alive on 127.0.0.1, through the shared
    control-endpoint server (``albfargate.net``)."""

    def __init__(
        self,
        backend: Backend,
        store: ConfigStore,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        clock: Callable[[], float] = time.time,
        max_body: int = MAX_BODY,
        secrets: SecretStore | None = None,
        parameters: ParameterStore | None = None,
        s3: S3Service | None = None,
        port_search: bool = True,
    ) -> None:
        self.dispatcher = Dispatcher(Context(backend, store, clock, secrets=secrets, parameters=parameters))
        self.host = host
        self.port = port
        self.port_search = port_search  # False: ``port`` or an error (an explicit --api-port)
        self.max_body = max_body
        self.s3 = s3
        self.cloudformation: CloudFormationApi | None = None  # attached by api.cloudformation.service
        limits = Limits(
            max_head=MAX_HEAD,
            max_body=max_body,
            idle_timeout=IDLE_TIMEOUT,
            loopback_only=True,
            expect_continue=True,
            linger=True,
        )
        self._http = HttpServer(self._respond, limits, refuse=self._refuse, admit=self._admit)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Bind ``port`` or (with ``port_search``) the next free one above it (port 0: any); returns the
        endpoint URL."""
        search = self.port_search and self.port != 0
        try:
            self.port = await self._http.start(self.host, self.port, search=PORT_SEARCH if search else 0)
        except OSError as last:
            if not search:
                raise RuntimeStartError(
                    f"API endpoint: port {self.port} on {self.host} is taken: {last}"
                ) from None
            raise RuntimeStartError(
                f"API endpoint: no free port from {self.port} on {self.host}: {last}"
            ) from None
        return self.url

    async def stop(self) -> None:
        if self.cloudformation is not None:  # operations in progress end; every stack record is written
            await self.cloudformation.close()
            self.cloudformation = None
        await self._http.stop()

    # ---- the HTTP edge (albfargate.net.server calls these) -----------------------------------------------
    def _is_s3(self, head: RequestHead) -> bool:
        """An S3 request (without the S3 library, only what is clearly S3 gets S3's "not installed"
        answer)."""
        query_params = dict(parse_qsl(urlsplit(head.target).query, keep_blank_values=True))
        service = signed_service(head.headers, query_params)
        return is_s3_request(service, head.method, head.target, head.headers) and (
            self.s3 is not None or service == "s3"
        )

    def _admit(self, head: RequestHead) -> BodyRules | HttpResponse | None:
        """S3 requests take bodies up to S3's 5 GiB for one PUT, by Content-Length or chunked."""
        if not self._is_s3(head):
            return None
        from albfargate.backing.s3 import MAX_OBJECT_BODY, error_reply

        if self.s3 is None:
            reply = error_reply(
                501,
                "NotImplemented",
                "the local S3 endpoint needs the S3 library: pip install 'albfargate[s3]' and run up again",
            )
            return _s3_response(reply, head.method, close=True)
        return BodyRules(MAX_OBJECT_BODY, chunked=True)

    def _refuse(self, problem: Problem, head: RequestHead | None) -> HttpResponse:
        """Every refusal in the protocol's own error format: S3's, JSON 1.1 (``X-Amz-Target``) or the
        query protocol's XML."""
        if head is not None and self._is_s3(head):
            return self._refuse_s3(problem, head)
        if problem.kind is ProblemKind.FOREIGN_HOST and head is not None:  # as Dispatcher.handle words it
            refused = _foreign_host(head.headers)
            as_json = "x-amz-target" in head.headers or "json" in head.headers.get("content-type", "")
            return _wire(_json_error(refused) if as_json else _xml_error(refused, str(uuid.uuid4())))
        code, message, status = {
            ProblemKind.HEAD_TOO_LARGE: ("RequestHeaderFieldsTooLarge", "Request headers too large", 431),
            ProblemKind.MALFORMED_HEAD: ("MalformedRequest", problem.message, 400),
            ProblemKind.CHUNKED_REFUSED: (
                "MissingContentLength",
                "Chunked request bodies are not accepted; send Content-Length",
                411,
            ),
            ProblemKind.BAD_LENGTH: ("MalformedRequest", "Invalid Content-Length", 400),
            ProblemKind.BODY_TOO_LARGE: (
                "RequestEntityTooLarge",
                f"Request body of {problem.length} bytes exceeds the {problem.limit} byte limit",
                413,
            ),
        }.get(problem.kind, ("InternalFailure", "Internal server error", 500))
        error = ApiError(code, message, status=status, sender=status < 500)
        if head is None:
            return _wire(_xml_error(error, "-"))
        as_json = "x-amz-target" in head.headers
        return _wire(_json_error(error) if as_json else _xml_error(error, str(uuid.uuid4())))

    @staticmethod
    def _refuse_s3(problem: Problem, head: RequestHead) -> HttpResponse:
        from albfargate.backing.s3 import error_reply

        if problem.kind is ProblemKind.FOREIGN_HOST:
            reply = error_reply(
                403,
                "AccessDenied",
                f"Host {head.header('host')!r} is not a loopback name; only loopback requests are served",
            )
        elif problem.kind is ProblemKind.BAD_CHUNKED:
            reply = error_reply(400, "IncompleteBody", problem.message)
        elif problem.kind is ProblemKind.BAD_LENGTH:
            reply = error_reply(400, "InvalidArgument", "Invalid Content-Length")
        elif problem.kind is ProblemKind.BODY_TOO_LARGE:
            reply = error_reply(
                400,
                "EntityTooLarge",
                f"Your proposed upload of {problem.length} bytes exceeds the maximum allowed object size "
                f"({problem.limit} bytes); use a multipart upload",
            )
        else:
            reply = error_reply(500, "InternalError", "We encountered an internal error. Please try again.")
        return _s3_response(reply, head.method, close=True)

    async def _respond(self, request: Request) -> HttpResponse:
        head = request.head
        if self._is_s3(head):
            # the S3 answer goes out only after any change it made is on disk (backing/s3.py)
            assert self.s3 is not None  # _admit answered a request without the S3 library
            reply = await self.s3.handle(head.method, head.target, dict(head.headers), request.body)
            return _s3_response(reply, head.method)
        response = await self.dispatcher.handle_async(
            head.method, head.target, dict(head.headers), request.body
        )
        return _wire(response)


def _wire(response: Response) -> HttpResponse:
    headers = (
        ("Content-Type", response.content_type),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("Server", "albfargate"),
    )
    return HttpResponse(response.status, headers, response.body)


#: Response headers the S3 answer gets from the server itself, never from the S3 library.
_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive", "server"})


def _s3_response(reply: Reply, method: str, *, close: bool = False) -> HttpResponse:
    headers: list[tuple[str, str]] = []
    length: int | None = None
    for name, value in reply.headers:
        low = name.lower()
        if low == "content-length" and method == "HEAD" and value.strip().isdigit():
            length = int(value)  # HEAD: the object's length, no body
        if low in _HOP_HEADERS:
            continue
        headers.append((name, value))
    if not any(n.lower() == "x-amz-request-id" for n, _ in reply.headers):
        headers.append(("x-amz-request-id", uuid.uuid4().hex[:16].upper()))
    headers.append(("Server", "albfargate"))
    return HttpResponse(reply.status, tuple(headers), reply.body, length=length, close=close)
