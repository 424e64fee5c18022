"""The AWS query protocol (ELBv2): form-encoded requests in, XML documents out.

Requests flatten structures into dotted keys: ``Names.member.1=a``, ``Targets.member.2.Port=80``,
``Conditions.member.1.PathPatternConfig.Values.member.1=/api/*``. :func:`parse_form` rebuilds the nested
value (``member.N`` becomes a list, other segments dict keys) with no knowledge of the service's shapes.

Responses are written from plain Python values: dict -> child elements, list -> ``<member>`` items,
bool -> ``true``/``false``, ``datetime`` -> ISO 8601 with milliseconds, ``None`` -> omitted."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from albfargate.api.errors import ApiError

CONTENT_TYPE = "text/xml"


# A `%` not followed by two hex digits: urllib keeps it as a literal, AWS refuses the request.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_form(body: bytes) -> dict[str, Any]:
    """Decode a form body into a nested structure; malformed bodies (not UTF-8, a malformed
    percent-escape such as ``%zz``, or escapes that decode to invalid UTF-8) raise
    ``MalformedQueryString``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("MalformedQueryString", "The request body is not valid UTF-8") from None
    bad = _BAD_ESCAPE.search(text)
    if bad is not None:
        raise ApiError(
            "MalformedQueryString",
            f"Malformed percent-encoding at position {bad.start()}: {text[bad.start() : bad.start() + 3]!r}",
        )
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise ApiError("MalformedQueryString", "A percent-encoded value is not valid UTF-8") from None
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, key.split("."), value)
    finished: dict[str, Any] = _finish(root)
    return finished


def _insert(node: dict[str, Any], parts: list[str], value: str) -> None:
    """Insert into a tree where list positions are kept as ``{"#member": {index: subtree}}``."""
    i = 0
    cur = node
    while i < len(parts):
        part = parts[i]
        last = i == len(parts) - 1
        if part == "member" and i + 1 < len(parts) and parts[i + 1].isdigit():
            members = cur.setdefault("#member", {})
            if not isinstance(members, dict):
                raise ApiError("MalformedQueryString", f"Conflicting parameter {'.'.join(parts)}")
            index = int(parts[i + 1])
            if i + 2 == len(parts):
                members[index] = value
                return
            sub = members.setdefault(index, {})
            if not isinstance(sub, dict):
                raise ApiError("MalformedQueryString", f"Conflicting parameter {'.'.join(parts)}")
            cur = sub
            i += 2
            continue
        if last:
            cur[part] = value
            return
        nxt = cur.setdefault(part, {})
        if not isinstance(nxt, dict):
            # e.g. ``Names=`` (an empty list) followed by ``Names.member.1``: the structure wins
            nxt = {}
            cur[part] = nxt
        cur = nxt
        i += 1


def _finish(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "#member" in node:
        members = node["#member"]
        return [_finish(members[k]) for k in sorted(members)]
    return {k: _finish(v) for k, v in node.items()}


# Characters XML 1.0 cannot carry even escaped (C0 controls but tab/LF/CR, U+FFFE/U+FFFF, lone surrogates):
# they can reach us inside a client's own values echoed in a message, and would make the document invalid.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return _escape(str(value))


def _xml(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for k, v in value.items():
            _xml(k, v, out)
        out.append(f"</{name}>")
    elif isinstance(value, list | tuple):
        out.append(f"<{name}>")
        for item in value:
            _xml("member", item, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_text(value)}</{name}>")


def encode_response(operation: str, result: dict[str, Any], *, xmlns: str, request_id: str) -> bytes:
    """``<OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata><RequestId>`` for a 200."""
    out = [f'<{operation}Response xmlns="{xmlns}">']
    _xml(f"{operation}Result", result, out)
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{operation}Response>")
    return "".join(out).encode()


def encode_error(error: ApiError, *, xmlns: str, request_id: str) -> tuple[int, bytes]:
    kind = "Sender" if error.sender else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{kind}</Type><Code>{_escape(error.code)}</Code>'
        f"<Message>{_escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return error.status, body.encode()
