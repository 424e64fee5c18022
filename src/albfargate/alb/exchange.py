"""The record of one request through the local ALB (:class:`Exchange`: what the access log and the
metrics need, spec §5) and its access-log line (:func:`exchange_line`, byte for byte
``accesslog.format_line(entry_of(ex))`` without building the intermediate entry). Pure: no I/O, no clock.

Every request's line is formatted as its exchange ends, so this is on the request path: a plain exchange
(no TLS, redirect, error reason or classification, nothing to escape: nearly every one) is formatted by a
single C-level ``%`` call; any other goes field by field (:func:`_exchange_line_general`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from albfargate.alb import accesslog


@dataclass(slots=True)
class Exchange:
    """What happened to one request: the access-log and metrics record (spec §5)."""

    kind: str  # http | https | ws | wss
    lb_name: str
    client: tuple[str, int]
    received_at: float  # wall clock (request_creation_time)
    request_line: str = "- - -"
    user_agent: str = "-"
    target: str | None = None
    target_group_arn: str | None = None
    request_processing: float = -1.0
    target_processing: float = -1.0
    response_processing: float = -1.0
    elb_status: int | None = None
    target_status: int | None = None
    received_bytes: int = 0
    sent_bytes: int = 0
    trace_id: str | None = None
    matched_rule_priority: int | None = None
    actions_executed: tuple[str, ...] = ()
    redirect_url: str | None = None
    error_reason: str | None = None
    classification: str | None = None
    classification_reason: str | None = None
    ssl_cipher: str | None = None
    ssl_protocol: str | None = None
    domain_name: str | None = None
    chosen_cert_arn: str | None = None
    sent_at: float = 0.0


ExchangeSink = Callable[[Exchange], None]


NONE_Q = '"-"'


def _q(v: str | None) -> str:
    """accesslog's quoted field."""
    if not v:
        return '"-"'
    if "\\" in v or '"' in v:
        v = v.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{v}"'


# The line of a plain exchange: one C-level ``%`` call. The three processing times go in as text
# (below half a millisecond, nearly always, they are "0.000" without formatting a float).
_PLAIN_LINE = (
    '%s %s%06dZ %s %s:%s %s %s %s %s %s %s %s %s "%s" "%s" - - %s "%s" "-" "-" %s %s%06dZ "%s" '
    '"-" "-" "%s" "%s" "-" "-"'
)


def _unquoted(v: str) -> bool:
    return '"' not in v and "\\" not in v


def _nonnegative(v: float) -> bool:
    # -0.0 is formatted "-0.000": not plain
    return v > 0.0 or (v == 0.0 and math.copysign(1.0, v) > 0.0)


def is_plain(ex: Exchange) -> bool:
    """No TLS, redirect, error reason or classification, no negative time, times in the fast range of
    :func:`accesslog.format_time`, a user agent under the limit and nothing to escape: :func:`exchange_line`
    formats it in one ``%`` call."""
    sent, received = ex.sent_at, ex.received_at
    return (
        _nonnegative(ex.request_processing)
        and _nonnegative(ex.target_processing)
        and _nonnegative(ex.response_processing)
        and 0.0 <= sent < accesslog.MAX_TIME
        and 0.0 <= received < accesslog.MAX_TIME
        and not (
            ex.ssl_cipher
            or ex.ssl_protocol
            or ex.domain_name
            or ex.chosen_cert_arn
            or ex.redirect_url
            or ex.error_reason
            or ex.classification
            or ex.classification_reason
        )
        and len(ex.user_agent) <= accesslog.USER_AGENT_LIMIT
        and _unquoted(ex.request_line)
        and _unquoted(ex.user_agent)
        and (ex.trace_id is None or _unquoted(ex.trace_id))
    )


def exchange_line(ex: Exchange) -> str:
    """The access-log line of one exchange (spec §5)."""
    if not is_plain(ex):
        return _exchange_line_general(ex)
    target = ex.target or "-"
    ts = ex.target_status
    tstatus: int | str = "-" if ts is None else ts
    es = ex.elb_status
    prio = ex.matched_rule_priority
    client = ex.client
    rq, tp, rs = ex.request_processing, ex.target_processing, ex.response_processing
    sp, su = accesslog.time_parts(ex.sent_at)
    rp, ru = accesslog.time_parts(ex.received_at)
    return _PLAIN_LINE % (
        ex.kind,
        sp,
        su,
        ex.lb_name,
        client[0],
        client[1],
        target,
        "0.000" if rq < 0.0005 else format(rq, ".3f"),
        "0.000" if tp < 0.0005 else format(tp, ".3f"),
        "0.000" if rs < 0.0005 else format(rs, ".3f"),
        "-" if es is None else es,
        tstatus,
        ex.received_bytes,
        ex.sent_bytes,
        ex.request_line or "-",
        ex.user_agent or "-",
        ex.target_group_arn or "-",
        ex.trace_id or "-",
        "-" if prio is None else prio,
        rp,
        ru,
        ",".join(ex.actions_executed) or "-",
        target,
        tstatus,
    )


def _exchange_line_general(ex: Exchange) -> str:
    ft = accesslog.format_time
    q = _q
    target = ex.target or "-"
    ts = ex.target_status
    tstatus = "-" if ts is None else str(ts)
    es = ex.elb_status
    ua = ex.user_agent
    if ua == "-":
        ua = ""
    elif len(ua) > accesslog.USER_AGENT_LIMIT:
        ua = ua[: accesslog.USER_AGENT_LIMIT]
    prio = ex.matched_rule_priority
    client = ex.client
    rq, tp, rs = ex.request_processing, ex.target_processing, ex.response_processing
    dn, cert, ru, er = ex.domain_name, ex.chosen_cert_arn, ex.redirect_url, ex.error_reason
    cl, cr = ex.classification, ex.classification_reason
    return (
        f"{ex.kind} {ft(ex.sent_at)} {ex.lb_name} {client[0]}:{client[1]} {target} "
        f"{'-1' if rq < 0 else format(rq, '.3f')} {'-1' if tp < 0 else format(tp, '.3f')} "
        f"{'-1' if rs < 0 else format(rs, '.3f')} {'-' if es is None else es} {tstatus} "
        f"{ex.received_bytes} {ex.sent_bytes} {q(ex.request_line)} {q(ua)} "
        f"{ex.ssl_cipher or '-'} {ex.ssl_protocol or '-'} {ex.target_group_arn or '-'} {q(ex.trace_id)} "
        f"{q(dn) if dn else NONE_Q} {q(cert) if cert else NONE_Q} {'-' if prio is None else prio} "
        f"{ft(ex.received_at)} {q(','.join(ex.actions_executed))} {q(ru) if ru else NONE_Q} "
        f'{q(er) if er else NONE_Q} {q(target)} "{tstatus}" {q(cl) if cl else NONE_Q} '
        f"{q(cr) if cr else NONE_Q}"
    )


def entry_of(ex: Exchange) -> accesslog.AccessLogEntry:
    """The access-log record of one exchange (spec §5)."""
    target = ex.target
    return accesslog.AccessLogEntry(
        type=ex.kind,
        time=ex.sent_at,
        elb=ex.lb_name,
        client=f"{ex.client[0]}:{ex.client[1]}",
        target=target,
        request_processing_time=ex.request_processing,
        target_processing_time=ex.target_processing,
        response_processing_time=ex.response_processing,
        elb_status_code=ex.elb_status,
        target_status_code=ex.target_status,
        received_bytes=ex.received_bytes,
        sent_bytes=ex.sent_bytes,
        request=ex.request_line,
        user_agent=None if ex.user_agent == "-" else ex.user_agent,
        ssl_cipher=ex.ssl_cipher,
        ssl_protocol=ex.ssl_protocol,
        target_group_arn=ex.target_group_arn,
        trace_id=ex.trace_id,
        domain_name=ex.domain_name,
        chosen_cert_arn=ex.chosen_cert_arn,
        matched_rule_priority=ex.matched_rule_priority,
        request_creation_time=ex.received_at,
        actions_executed=ex.actions_executed,
        redirect_url=ex.redirect_url,
        error_reason=ex.error_reason,
        classification=ex.classification,
        classification_reason=ex.classification_reason,
    )
