"""ALB access-log lines (pure formatting), spec §5.

Owns :class:`AccessLogEntry` (the fields of one request, in AWS order) and :func:`format_line`, which
writes them space-separated with AWS's quoting and its ``-`` / ``-1`` conventions:

* processing times: seconds with 3 decimals, ``-1`` when the request was not dispatched / no response;
* ``target:port``, ``target_status_code``, ``matched_rule_priority``: ``-`` when not applicable;
* quoted fields (request, user agent, trace id, domain, cert, actions, redirect URL, error reason, target
  lists, classification, reason): ``"-"`` when empty; ``"`` and ``\\`` inside are backslash-escaped;
* ``target:port_list`` / ``target_status_code_list`` default to fields 5 and 10 (they are equal today);
* field 30 ``conn_trace_id`` is written only when known (the documented example line predates it).

Writing the file (one per load balancer under the state directory) is the shell's job; health checks are
never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "AccessLogEntry",
    "format_line",
    "format_time",
    "log_file_name",
    "request_field",
]

USER_AGENT_LIMIT: Final = 8 * 1024  # the user agent is truncated at 8 KB (doc)


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One access-log record; field numbers of spec §5 in the comments. Times are epoch seconds
    (float) or already-formatted ISO-8601 strings."""

    type: str  # 1 http | https | h2 | grpcs | ws | wss
    time: float | str  # 2 when the response was sent (ws: closed)
    elb: str  # 3 app/<name>/<id>
    client: str  # 4 ip:port
    target: str | None  # 5 ip:port, None = "-"
    request_processing_time: float  # 6 seconds; -1 when not dispatched
    target_processing_time: float  # 7 -1 when not dispatched or no response
    response_processing_time: float  # 8 -1 when not dispatched
    elb_status_code: int | None  # 9
    target_status_code: int | None  # 10 None = "-"
    received_bytes: int  # 11 headers included
    sent_bytes: int  # 12 headers included
    request: str  # 13 "METHOD scheme://host:port/uri HTTP/x.y" (see request_field)
    user_agent: str | None  # 14
    ssl_cipher: str | None = None  # 15
    ssl_protocol: str | None = None  # 16
    target_group_arn: str | None = None  # 17
    trace_id: str | None = None  # 18 the X-Amzn-Trace-Id sent to the target
    domain_name: str | None = None  # 19 SNI
    chosen_cert_arn: str | None = None  # 20
    matched_rule_priority: int | None = None  # 21 1..50000, 0 default, -1 error, None = "-"
    request_creation_time: float | str | None = None  # 22
    actions_executed: Sequence[str] = ()  # 23 authenticate, fixed-response, forward, redirect, waf...
    redirect_url: str | None = None  # 24
    error_reason: str | None = None  # 25
    target_port_list: Sequence[str] | None = None  # 26 default: [target]
    target_status_code_list: Sequence[str] | None = None  # 27 default: [target_status_code]
    classification: str | None = None  # 28 Acceptable | Ambiguous | Severe; None when compliant
    classification_reason: str | None = None  # 29
    conn_trace_id: str | None = None  # 30 written only when set


# whole second -> "YYYY-MM-DDTHH:MM:SS." (a log line's two times nearly always share one or two seconds)
_SECOND_PREFIX: Final[dict[int, str]] = {}


MAX_TIME: Final = 253402300799.0  # 9999-12-31T23:59:59Z


def format_time(t: float | str | None) -> str:
    """ISO-8601 UTC with microseconds, ``2018-07-02T22:23:00.186641Z``; strings pass through.

    Same digits as ``datetime.fromtimestamp(t, UTC).strftime(...)`` (microseconds rounded half-even
    from ``modf``, as CPython does), but the date part is formatted once per second (cache)."""
    if t.__class__ is not float or not 0.0 <= t < MAX_TIME:  # type: ignore[operator,unused-ignore]
        if t is None:
            return "-"
        if isinstance(t, str):
            return t
        if not 0.0 <= t < MAX_TIME:  # negative or past year 9999: the general path
            return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prefix, us = time_parts(t)
    return f"{prefix}{us:06d}Z"


def time_parts(t: float) -> tuple[str, int]:
    """``format_time(t)`` in two parts, ``("YYYY-MM-DDTHH:MM:SS.", microseconds)``, for a float ``t`` in
    [0, year 10000) (the caller checks): a formatter that builds a whole line in one ``%`` call."""
    sec = int(t)
    us = round((t - sec) * 1e6)  # t - sec is exact: modf's fraction
    if us >= 1_000_000:
        us -= 1_000_000
        sec += 1
    prefix = _SECOND_PREFIX.get(sec)
    if prefix is None:
        if len(_SECOND_PREFIX) > 64:
            _SECOND_PREFIX.clear()
        prefix = datetime.fromtimestamp(sec, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _SECOND_PREFIX[sec] = prefix
    return prefix, us


def request_field(method: str, scheme: str, host: str, port: int, uri: str, version: str) -> str:
    """Field 13: ``GET http://www.example.com:80/ HTTP/1.1`` (``- - -`` when the request line was
    unusable: pass an empty method)."""
    if not method:
        return "- - -"
    return f"{method} {scheme}://{host}:{port}{uri} {version}"


def _seconds(v: float) -> str:
    return "-1" if v < 0 else f"{v:.3f}"


def _plain(v: object | None) -> str:
    if v is None or v == "":
        return "-"
    return str(v)


def _quoted(v: str | None) -> str:
    if v is None or v == "":
        return '"-"'
    if "\\" in v or '"' in v:
        v = v.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{v}"'


def format_line(entry: AccessLogEntry) -> str:
    """One log line (no newline), fields in AWS order."""
    e = entry
    target = _plain(e.target)
    target_status = _plain(e.target_status_code)
    target_list = " ".join(e.target_port_list) if e.target_port_list else target
    status_list = " ".join(e.target_status_code_list) if e.target_status_code_list else target_status
    ua = e.user_agent[:USER_AGENT_LIMIT] if e.user_agent else e.user_agent
    fields = [
        e.type,
        format_time(e.time),
        e.elb,
        e.client,
        target,
        _seconds(e.request_processing_time),
        _seconds(e.target_processing_time),
        _seconds(e.response_processing_time),
        _plain(e.elb_status_code),
        target_status,
        str(e.received_bytes),
        str(e.sent_bytes),
        _quoted(e.request),
        _quoted(ua),
        _plain(e.ssl_cipher),
        _plain(e.ssl_protocol),
        _plain(e.target_group_arn),
        _quoted(e.trace_id),
        _quoted(e.domain_name),
        _quoted(e.chosen_cert_arn),
        _plain(e.matched_rule_priority),
        format_time(e.request_creation_time),
        _quoted(",".join(e.actions_executed)),
        _quoted(e.redirect_url),
        _quoted(e.error_reason),
        _quoted(target_list),
        _quoted(status_list),
        _quoted(e.classification),
        _quoted(e.classification_reason),
    ]
    if e.conn_trace_id:
        fields.append(e.conn_trace_id)
    return " ".join(fields)


def log_file_name(
    *, account: str, region: str, lb_name: str, lb_id: str, end_time: float, node_ip: str, suffix: str
) -> str:
    """``<acct>_elasticloadbalancing_<region>_app.<name>.<id>_<YYYYMMDDTHHMMZ>_<node-ip>_<suffix>.log``
    (AWS gzips it; the local log is plain text)."""
    stamp = datetime.fromtimestamp(end_time, tz=UTC).strftime("%Y%m%dT%H%MZ")
    return f"{account}_elasticloadbalancing_{region}_app.{lb_name}.{lb_id}_{stamp}_{node_ip}_{suffix}.log"
