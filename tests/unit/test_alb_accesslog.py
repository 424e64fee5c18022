"""Access-log lines (spec §5): the documented example line reproduced from an entry, `-`/`-1` rules."""

from __future__ import annotations

import shlex
from dataclasses import replace

import pytest

from albfargate.alb.accesslog import AccessLogEntry, format_line, format_time, log_file_name, request_field

EXAMPLE = (
    "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 "
    "0.000 0.001 0.000 200 200 34 366 "
    '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-"'
)

ENTRY = AccessLogEntry(
    type="http",
    time=1530570180.186641,  # 2018-07-02T22:23:00.186641Z
    elb="app/my-loadbalancer/50dc6c495c0c9188",
    client="192.168.131.39:2817",
    target="10.0.0.1:80",
    request_processing_time=0.0,
    target_processing_time=0.001,
    response_processing_time=0.0,
    elb_status_code=200,
    target_status_code=200,
    received_bytes=34,
    sent_bytes=366,
    request=request_field("GET", "http", "www.example.com", 80, "/", "HTTP/1.1"),
    user_agent="curl/7.46.0",
    target_group_arn="arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067",
    trace_id="Root=1-58337262-36d228ad5d99923122bbe354",
    matched_rule_priority=0,
    request_creation_time=1530570168.364,  # 2018-07-02T22:22:48.364000Z
    actions_executed=("forward",),
)


def test_reproduces_the_documented_example_line() -> None:
    assert format_line(ENTRY) == EXAMPLE


def test_29_fields_then_conn_trace_id() -> None:
    assert len(shlex.split(format_line(ENTRY))) == 29
    line = format_line(replace(ENTRY, conn_trace_id="TID_1234abcd"))
    fields = shlex.split(line)
    assert len(fields) == 30 and fields[-1] == "TID_1234abcd"


def field(entry: AccessLogEntry, n: int) -> str:
    """Field ``n`` (1-based) as written, quotes kept."""
    return shlex.split(format_line(entry), posix=False)[n - 1]


NOT_DISPATCHED = replace(
    ENTRY,
    target=None,
    request_processing_time=-1,
    target_processing_time=-1,
    response_processing_time=-1,
    elb_status_code=503,
    target_status_code=None,
    target_group_arn="arn:tg",
    actions_executed=("forward",),
)
DASH_CASES: list[tuple[str, AccessLogEntry, dict[int, str]]] = [
    (
        "not dispatched (503)",
        NOT_DISPATCHED,
        {5: "-", 6: "-1", 7: "-1", 8: "-1", 9: "503", 10: "-", 26: '"-"', 27: '"-"'},
    ),
    (
        "dispatched, no response (502)",
        replace(ENTRY, target_processing_time=-1, elb_status_code=502, target_status_code=None),
        {5: "10.0.0.1:80", 6: "0.000", 7: "-1", 9: "502", 10: "-", 26: '"10.0.0.1:80"', 27: '"-"'},
    ),
    (
        "redirect",
        replace(
            NOT_DISPATCHED,
            elb_status_code=301,
            target_group_arn=None,
            matched_rule_priority=10,
            actions_executed=("redirect",),
            redirect_url="https://e.com:443/",
        ),
        {9: "301", 17: "-", 21: "10", 23: '"redirect"', 24: '"https://e.com:443/"'},
    ),
    (
        "authenticate then forward, rule error",
        replace(ENTRY, actions_executed=("authenticate", "forward"), matched_rule_priority=-1),
        {21: "-1", 23: '"authenticate,forward"'},
    ),
    (
        "no matched rule",
        replace(ENTRY, matched_rule_priority=None, actions_executed=()),
        {21: "-", 23: '"-"'},
    ),
    (
        "desync classification",
        replace(ENTRY, classification="Ambiguous", classification_reason="SpaceInUri"),
        {28: '"Ambiguous"', 29: '"SpaceInUri"'},
    ),
    (
        "https",
        replace(
            ENTRY,
            type="https",
            ssl_cipher="ECDHE-RSA-AES128-GCM-SHA256",
            ssl_protocol="TLSv1.2",
            domain_name="www.example.com",
            chosen_cert_arn="session-reused",
        ),
        {
            1: "https",
            15: "ECDHE-RSA-AES128-GCM-SHA256",
            16: "TLSv1.2",
            19: '"www.example.com"',
            20: '"session-reused"',
        },
    ),
    ("no user agent", replace(ENTRY, user_agent=None), {14: '"-"'}),
    ("error reason", replace(ENTRY, error_reason="AWSALBTGCookieInvalid"), {25: '"AWSALBTGCookieInvalid"'}),
    (
        "timing",
        replace(ENTRY, request_processing_time=0.0014, target_processing_time=1.2345),
        {6: "0.001", 7: "1.234"},
    ),
    ("bad request line", replace(ENTRY, request=request_field("", "", "", 0, "", "")), {13: '"- - -"'}),
]


@pytest.mark.parametrize(("name", "entry", "expected"), DASH_CASES, ids=[c[0] for c in DASH_CASES])
def test_fields(name: str, entry: AccessLogEntry, expected: dict[int, str]) -> None:
    for n, value in expected.items():
        assert field(entry, n) == value, n


def test_quotes_in_user_agent_are_escaped_and_truncated() -> None:
    line = format_line(replace(ENTRY, user_agent='a "quoted" \\ agent'))
    assert '"a \\"quoted\\" \\\\ agent"' in line
    long = format_line(replace(ENTRY, user_agent="u" * 9000))
    assert '"' + "u" * 8192 + '"' in long and "u" * 8193 not in long


def test_format_time_and_file_name() -> None:
    assert format_time(0.0) == "1970-01-01T00:00:00.000000Z"
    assert format_time("2018-07-02T22:22:48.364000Z") == "2018-07-02T22:22:48.364000Z"
    assert format_time(None) == "-"
    name = log_file_name(
        account="123456789012",
        region="us-east-2",
        lb_name="my-loadbalancer",
        lb_id="1234567890abcdef",
        end_time=1400000000,
        node_ip="127.0.0.1",
        suffix="abc",
    )
    assert name == (
        "123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.1234567890abcdef_"
        "20140513T1653Z_127.0.0.1_abc.log"
    )
