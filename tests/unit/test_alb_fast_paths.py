"""The hot-path shortcuts of the local ALB give exactly what the general code gives (issue 4,
performance): the access-log line formatted straight from an Exchange, the cached ISO time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb import accesslog, exchange, http1, runtime


def _slow_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    "t",
    [
        0.0,
        1e-7,
        5e-7,
        1.5e-6,
        1780000000.0,
        1780000000.9999995,
        1780000000.4999995,
        1780000000.0000005,
        1780000059.999999,
        253402300798.5,
    ],
)
def test_format_time_matches_datetime(t: float) -> None:
    assert accesslog.format_time(t) == _slow_time(t)


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_format_time_matches_datetime_anywhere(t: float) -> None:
    assert accesslog.format_time(t) == _slow_time(t)


def test_format_time_passes_through_strings_and_none() -> None:
    assert accesslog.format_time("2018-07-02T22:23:00.186641Z") == "2018-07-02T22:23:00.186641Z"
    assert accesslog.format_time(None) == "-"


_opt_text = st.one_of(st.none(), st.just(""), st.text(max_size=12), st.sampled_from(['a"b', "c\\d", "x y"]))


@st.composite
def _exchanges(draw: st.DrawFn) -> exchange.Exchange:
    ex = exchange.Exchange(
        kind=draw(st.sampled_from(["http", "https", "ws", "wss"])),
        lb_name=draw(st.sampled_from(["app/bench/0000000000000002", ""])),
        client=(draw(st.sampled_from(["127.0.0.1", "::1"])), draw(st.integers(0, 65535))),
        received_at=draw(st.floats(min_value=0, max_value=4e9)),
    )
    ex.request_line = draw(
        st.sampled_from(["- - -", 'GET http://h:80/"q" HTTP/1.1', "GET http://h:80/ HTTP/1.1"])
    )
    ex.user_agent = draw(st.one_of(st.just("-"), st.just(""), st.text(max_size=10), st.just("u" * 9000)))
    ex.target = draw(st.sampled_from([None, "", "127.0.0.1:8080"]))
    ex.target_group_arn = draw(
        st.sampled_from([None, "", "arn:aws:elasticloadbalancing:x:1:targetgroup/a/b"])
    )
    ex.request_processing = draw(st.sampled_from([-1.0, -0.0, 0.0, 0.0004999, 0.0005, 1.23456]))
    ex.target_processing = draw(st.floats(min_value=-1, max_value=100))
    ex.response_processing = draw(st.floats(min_value=-1, max_value=100))
    ex.elb_status = draw(st.sampled_from([None, 0, 200, 502]))
    ex.target_status = draw(st.sampled_from([None, 0, 200, 404]))
    ex.received_bytes = draw(st.integers(0, 10**9))
    ex.sent_bytes = draw(st.integers(0, 10**9))
    ex.trace_id = draw(_opt_text)
    ex.matched_rule_priority = draw(st.sampled_from([None, -1, 0, 7, 50000]))
    ex.actions_executed = draw(st.sampled_from([(), ("forward",), ("redirect",), ("waf", "forward")]))
    ex.redirect_url = draw(_opt_text)
    ex.error_reason = draw(_opt_text)
    ex.classification = draw(st.sampled_from([None, "Acceptable", "Ambiguous", "Severe"]))
    ex.classification_reason = draw(_opt_text)
    ex.ssl_cipher = draw(st.sampled_from([None, "", "ECDHE-RSA-AES128-GCM-SHA256"]))
    ex.ssl_protocol = draw(st.sampled_from([None, "TLSv1.2"]))
    ex.domain_name = draw(_opt_text)
    ex.chosen_cert_arn = draw(_opt_text)
    ex.sent_at = draw(st.floats(min_value=0, max_value=4e9))
    return ex


@settings(max_examples=1500, deadline=None)
@given(_exchanges())
def test_exchange_line_is_format_line_of_entry(ex: exchange.Exchange) -> None:
    assert exchange.exchange_line(ex) == accesslog.format_line(exchange.entry_of(ex))


@settings(max_examples=1500, deadline=None)
@given(_exchanges())
def test_plain_exchange_line_is_one_format_and_format_line_of_entry(ex: exchange.Exchange) -> None:
    # a plain exchange (no TLS, redirect, error, classification): exchange_line's one-f-string fast path
    ex.ssl_cipher = ex.ssl_protocol = ex.domain_name = ex.chosen_cert_arn = None
    ex.redirect_url = ex.error_reason = ex.classification = ex.classification_reason = None
    expected = accesslog.format_line(exchange.entry_of(ex))
    assert exchange.exchange_line(ex) == expected
    plain = (
        all(
            t >= 0 and str(t)[0] != "-"
            for t in (ex.request_processing, ex.target_processing, ex.response_processing)
        )
        and len(ex.user_agent) <= accesslog.USER_AGENT_LIMIT
        and not any('"' in v or "\\" in v for v in (ex.request_line, ex.user_agent, ex.trace_id or ""))
    )
    assert exchange.is_plain(ex) == plain  # the one-f-string line


def test_access_log_formatter_is_exchange_line() -> None:
    ex = exchange.Exchange(
        kind="http", lb_name="app/a/b", client=("10.0.0.1", 1234), received_at=1780000000.25
    )
    ex.sent_at = 1780000000.5
    line = runtime._access_log_formatter()(ex)
    assert line == accesslog.format_line(exchange.entry_of(ex))
    assert line.startswith("http 2026-05-28T20:26:40.500000Z app/a/b 10.0.0.1:1234 - -1 -1 -1 - - 0 0 ")


# ------------------------------------------------------------------------------ response heads
_STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 101 Switching Protocols",
    b"HTTP/1.1 304",
    b"HTTP/1.1 200  two  spaces",
    b"HTTP/1.2 500 Odd",
    b"HTTP/2.0 200 OK",
    b"HTTP/1.1 20 OK",
    b"HTTP/1.1 2000 OK",
    b"HTTP/1.1 abc OK",
    b"HTTP/1.10 200 OK",
    b"HTTP/1.1 200\tOK",
    b"HTTP/1.1  200 OK",
    b"HTTP/1.x 200 OK",
    b"HTTP/1.1 200",
]
_HEADER_LINES = [
    b"Server: nginx/1.22.1",
    b"Date: Thu, 26 Nov 2026 15:45:05 GMT",
    b"Content-Length: 13",
    b"content-length:13",
    b"Content-Length: 14",
    b"Content-Length: 1x",
    b"Content-Length:  13 ",
    b"Transfer-Encoding: chunked",
    b"transfer-encoding: gzip, Chunked",
    b"Transfer-Encoding: chunked, gzip",
    b"Connection: keep-alive",
    b"Connection: close",
    b"connection: Keep-Alive, Upgrade",
    b"Keep-Alive: timeout=5",
    b"Proxy-Connection: close",
    b"Set-Cookie: app=1; Path=/",
    b"Set-Cookie: other=2",
    b"Upgrade: websocket",
    b"X-Connection: close",
    b"Content-Lengthy: 3",
    b"X-Empty:",
    b" folded",
    b"Bad Name: x",
    b"Name : x",
    b"NoColon",
    b"Bare: a\rb",
    b"Weird: :colons: here",
    b":empty-name",
    b"Tab\t: x",
    b"\tfolded",
    b"Na\x00me: x",
    b"Content-Length\t: 5",
    b"X: \x0bv",
    b"Set-Cookie:app=2",
]


@st.composite
def _response_heads(draw: st.DrawFn) -> bytes:
    sl = draw(st.sampled_from(_STATUS_LINES))
    lines = draw(st.lists(st.sampled_from(_HEADER_LINES), max_size=8))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    return eol.join([sl, *lines]) + eol + eol


def _outcome(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except http1.ProtocolError as e:
        return ("error", e.status)


@settings(max_examples=4000, deadline=None)
@given(
    _response_heads(),
    st.sampled_from(["GET", "HEAD", "POST"]),
    st.sampled_from([[], [("Set-Cookie", "AWSALB=v; Path=/")]]),
    st.sampled_from([None, (b"app=", [("Set-Cookie", "AWSALBAPP-0=x")])]),
)
def test_response_head_fast_path_equals_general(
    head: bytes,
    method: str,
    cookies: list[tuple[str, str]],
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None,
) -> None:
    fast = _outcome(http1.parse_response_head, head, method, cookies, app_cookie)
    general = _outcome(http1.parse_response_head_general, head, method, cookies, app_cookie)
    assert fast == general


def test_response_head_fast_path_is_taken_for_a_plain_head() -> None:
    head = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n"
    assert http1._RESP_WELL_FORMED.fullmatch(head) is not None
    status, out, framing, length, keep = http1.parse_response_head(head, "GET", [("Set-Cookie", "a=b")])
    assert (status, framing, length, keep) == (200, "length", 13, True)
    assert out == b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\nSet-Cookie: a=b\r\n\r\n"


# ------------------------------------------------------------------------------- request heads
_REQUEST_LINES = [
    b"GET / HTTP/1.1",
    b"GET /a/b?x=1&y=2#frag HTTP/1.1",
    b"POST /upload HTTP/1.0",
    b"get / HTTP/1.1",
    b"GET http://example.com/p HTTP/1.1",
    b"OPTIONS * HTTP/1.1",
    b"GET / HTTP/1.2",
    b"GET / HTTP/2.0",
    b"GET  / HTTP/1.1",
    b"GET /\x7f HTTP/1.1",
    b"TRACE / HTTP/1.1",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1",
]
_REQUEST_HEADERS = [
    b"Host: example.com",
    b"host:example.com:8080",
    b"Host: second",
    b"User-Agent: curl/8.0",
    b"User-Agent:  spaced \t",
    b"Content-Length: 5",
    b"Content-Length: 5, 5",
    b"Content-Length: 6",
    b"Content-Length: x",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: identity",
    b"Transfer-Encoding: chunked, identity",
    b"Connection: close",
    b"Connection: keep-alive, Upgrade",
    b"Upgrade: websocket",
    b"Expect: 100-continue",
    b"X-Forwarded-For: 1.2.3.4",
    b"X-Empty:",
    b"X-Tab:\tv\t",
    b"X-High: caf\xe9",
    b" folded",
    b"Bad Name: x",
    b"Name : x",
    b"NoColon",
    b": novalue",
    b"Bare: a\rb",
    b"X-Long: " + b"v" * 9000,
]


@st.composite
def _request_heads(draw: st.DrawFn) -> bytes:
    rl = draw(st.sampled_from(_REQUEST_LINES))
    lines = draw(st.lists(st.sampled_from(_REQUEST_HEADERS), max_size=8))
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))
    return eol.join([rl, *lines]) + eol + eol


# The attributes of a parsed head: ``__slots__`` in pure Python; a mypyc-compiled class (the optional
# compiled build, albfargate._compiled) has no ``__slots__`` and lists them in ``__mypyc_attrs__``.
_PARSED_FIELDS: tuple[str, ...] = (
    getattr(http1.RequestHead, "__slots__", None) or http1.RequestHead.__mypyc_attrs__
)  # type: ignore[attr-defined]


def _parsed(fn: object, head: bytes) -> object:
    try:
        p = fn(head)  # type: ignore[operator]
    except http1.ProtocolError as e:
        return ("error", e.status, str(e))
    return {k: getattr(p, k) for k in _PARSED_FIELDS}


@settings(max_examples=4000, deadline=None)
@given(_request_heads())
def test_request_head_fast_path_equals_general(head: bytes) -> None:
    assert _parsed(http1.parse_request_head, head) == _parsed(http1.parse_request_head_general, head)


def test_request_head_fast_path_is_taken_for_a_plain_head() -> None:
    head = b"GET /x?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: wrk\r\n\r\n"
    assert http1._REQ_WELL_FORMED.fullmatch(head) is not None
    p = http1.parse_request_head(head)
    assert (p.method, p.path, p.query, p.host, p.user_agent, p.close) == (
        "GET",
        "/x",
        "q=1",
        "h",
        "wrk",
        False,
    )
    assert p.headers == [("Host", "h"), ("User-Agent", "wrk")]


# ------------------------------------------------------------------------------------- rules
def test_only_default_is_set_exactly_when_there_is_no_rule() -> None:
    from albfargate.alb.rules import CompiledRules, RequestView
    from albfargate.model import Condition, ConditionField, FixedResponseAction, Rule

    default = (FixedResponseAction(status_code="404"),)
    none = CompiledRules((), default)
    view = RequestView("GET", "/", "", [("Host", "h")], "127.0.0.1")
    assert none.only_default is not None
    assert none.only_default == none.evaluate(view)
    rule = Rule(
        arn="arn:r",
        listener_arn="arn:l",
        priority=5,
        conditions=(Condition(field=ConditionField.PATH_PATTERN, values=("/*",)),),
        actions=(FixedResponseAction(status_code="200"),),
    )
    some = CompiledRules((rule,), default)
    assert some.only_default is None
    assert some.evaluate(view).priority == 5


# ---------------------------------------------------------------------------- access-log writer
def test_access_log_writer_formats_on_add_and_close_mid_flush_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from albfargate.alb import accesslog_writer

    monkeypatch.setattr(accesslog_writer, "FLUSH_INTERVAL", 0.01)
    formatted: list[int] = []

    def fmt(record: int) -> str:
        formatted.append(record)
        if record % 100 == 7:
            raise ValueError("unformattable")
        return f"r{record}"

    async def scenario() -> None:
        w = accesslog_writer.AccessLogWriter(tmp_path, fmt)
        w.start()
        for i in range(300):
            w.add("app/a/1" if i % 2 else "app/b/2", i)
        assert formatted == list(range(300))  # formatted when handed over: no record is kept
        await asyncio.sleep(0.05)  # a flush or more in between
        for i in range(300, 600):
            w.add("app/a/1" if i % 2 else "app/b/2", i)
        await w.close()  # the rest is written, after any flush in progress
        assert formatted == list(range(600))
        assert w.dropped == 6

    asyncio.run(scenario())
    a = (tmp_path / "access-logs" / "a.1.log").read_text().splitlines()
    b = (tmp_path / "access-logs" / "b.2.log").read_text().splitlines()
    assert a == [f"r{i}" for i in range(1, 600, 2) if i % 100 != 7]
    assert b == [f"r{i}" for i in range(0, 600, 2) if i % 100 != 7]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"a", b"GET /", b": "]), max_size=14),
    st.integers(min_value=0, max_value=6),
)
def test_head_end_finds_what_the_regex_finds(parts: list[bytes], start: int) -> None:
    buf = bytearray(b"".join(parts))
    m = http1._HEAD_END.search(buf, start)
    assert http1.head_end(buf, start) == (-1 if m is None else m.end())


@pytest.mark.parametrize(
    ("data", "end"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n", 27),
        (b"GET / HTTP/1.1\nHost: a\n\nrest\r\n\r\n", 24),  # bare LF blank line before a CRLF one
        (b"GET / HTTP/1.1\r\nHost: a\r\n\nX\r\n\r\n", 26),
        (b"GET / HTTP/1.1\r\nHost: a\r\n", -1),
        (b"", -1),
    ],
)
def test_head_end_table(data: bytes, end: int) -> None:
    assert http1.head_end(data, 0) == end


def test_tune_gc_freezes_the_start_heap_and_raises_generation_0() -> None:
    import gc

    before = gc.get_threshold()
    try:
        runtime.tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (runtime.GC_GEN0_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
