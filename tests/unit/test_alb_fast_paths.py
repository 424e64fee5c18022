"""The hot-path shortcuts of the local ALB give exactly what the general code gives (issue 4,
performance): the access-log line formatted straight from an Exchange, the cached ISO time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb import accesslog, proxy, runtime


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
def _exchanges(draw: st.DrawFn) -> proxy.Exchange:
    ex = proxy.Exchange(
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
    ex.request_processing = draw(st.sampled_from([-1.0, 0.0, 0.0004999, 0.0005, 1.23456]))
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
def test_exchange_line_is_format_line_of_entry(ex: proxy.Exchange) -> None:
    assert runtime.exchange_line(ex) == accesslog.format_line(runtime.entry_of(ex))


def test_access_log_formatter_is_exchange_line() -> None:
    ex = proxy.Exchange(kind="http", lb_name="app/a/b", client=("10.0.0.1", 1234), received_at=1780000000.25)
    ex.sent_at = 1780000000.5
    line = runtime._access_log_formatter()(ex)
    assert line == accesslog.format_line(runtime.entry_of(ex))
    assert line.startswith("http 2026-05-28T20:26:40.500000Z app/a/b 10.0.0.1:1234 - -1 -1 -1 - - 0 0 ")
