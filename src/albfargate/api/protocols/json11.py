"""The AWS JSON 1.1 protocol (ECS, Application Auto Scaling): request bodies, responses, errors.

Timestamps travel as epoch seconds (float); views hand us ``datetime`` objects and we convert them here,
so the wire format lives only at this edge. Errors are ``{"__type": code, "message": text}`` with HTTP 400
(500 for server faults)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from albfargate.api.errors import ApiError

CONTENT_TYPE = "application/x-amz-json-1.1"


# Deepest nesting of arrays/objects a request body may have. No ECS or Application Auto Scaling shape
# nests more than a dozen levels; the bound keeps every later walk over the value (validation, views)
# far from Python's recursion limit, and json.loads itself raises RecursionError near that limit.
MAX_DEPTH = 100
_TOO_DEEP = object()


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty body is ``{}``. Malformed input, and input nested deeper than
    :data:`MAX_DEPTH`, is ``SerializationException`` (400)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("SerializationException", f"Malformed JSON request body: {exc}") from None
    except RecursionError:
        value = _TOO_DEEP
    if value is _TOO_DEEP or _too_deep(value):
        raise ApiError(
            "SerializationException", f"Malformed JSON request body: nested deeper than {MAX_DEPTH} levels"
        )
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    return value


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests arrays/objects more than :data:`MAX_DEPTH` levels (iteratively, so a deep
    value cannot exhaust the stack here either)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


def encode_response(result: dict[str, Any]) -> bytes:
    """The 200 body for an operation's result (``None`` members are omitted, as AWS does)."""
    return json.dumps(_wire(result), separators=(",", ":")).encode()


def encode_error(error: ApiError) -> tuple[int, bytes]:
    """HTTP status and body for an error."""
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return error.status, body
