"""Listener-rule matching (spec §1): each condition type, AND/OR, priority order, validators."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albfargate.alb.rules import (
    RequestView,
    RuleMatch,
    compile_rules,
    condition_matches,
    evaluate,
    parse_query,
    sort_actions,
    validate_actions,
    validate_conditions,
)
from albfargate.model.elbv2 import (
    Action,
    ActionType,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    QueryPair,
    RedirectAction,
    Rule,
    TargetGroupTuple,
)

F = ConditionField


def req(
    *,
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: Sequence[tuple[str, str]] = (("Host", "example.com"),),
    source_ip: str = "10.0.0.1",
) -> RequestView:
    return RequestView(method=method, path=path, query=query, headers=tuple(headers), source_ip=source_ip)


def host(h: str) -> RequestView:
    return req(headers=(("Host", h),))


# ---------------------------------------------------------------- host-header
HOST_CASES = [
    ("example.com", "example.com", True),
    ("example.com", "EXAMPLE.COM", True),  # case-insensitive
    ("EXAMPLE.com", "example.COM", True),
    ("*.example.com", "test.example.com", True),
    ("*.example.com", "example.com", False),  # * needs the dot before it
    ("*.example.com", "a.b.example.com", True),  # * spans dots
    ("example.com", "www.example.com", False),  # whole field, not a suffix
    ("example.com", "example.com.evil.org", False),  # whole field, not a prefix
    ("?.example.com", "a.example.com", True),
    ("?.example.com", "ab.example.com", False),
    ("example.com", "example.com:8080", True),  # :port stripped (inferred)
    ("example.com", "example.com:80", True),
    ("*.example.com", "Test.Example.Com:443", True),
    ("example.???", "example.org", True),
    ("example.???", "example.info", False),
    ("example.com", " example.com ", True),  # OWS around the value
]


@pytest.mark.parametrize(("pattern", "value", "expected"), HOST_CASES)
def test_host_header(pattern: str, value: str, expected: bool) -> None:
    cond = Condition(F.HOST_HEADER, values=(pattern,))
    assert condition_matches(cond, host(value)) is expected


def test_host_header_uses_first_host_header_only() -> None:
    cond = Condition(F.HOST_HEADER, values=("b.example.com",))
    two = req(headers=(("Host", "a.example.com"), ("host", "b.example.com")))
    assert not condition_matches(cond, two)
    assert condition_matches(Condition(F.HOST_HEADER, values=("a.example.com",)), two)


def test_host_header_absent_never_matches() -> None:
    cond = Condition(F.HOST_HEADER, values=("*",))
    assert not condition_matches(cond, req(headers=()))


def test_host_header_or_across_values() -> None:
    cond = Condition(F.HOST_HEADER, values=("a.example.com", "b.example.com"))
    assert condition_matches(cond, host("b.example.com"))
    assert not condition_matches(cond, host("c.example.com"))


def test_host_regex_values_see_the_raw_value_with_port() -> None:
    cond = Condition(F.HOST_HEADER, regex_values=(r"^example\.com:8443$",))
    assert condition_matches(cond, host("example.com:8443"))
    assert not condition_matches(cond, host("example.com"))


# ---------------------------------------------------------------- path-pattern
PATH_CASES = [
    ("/", "/", True),
    ("/", "/index.html", False),  # "/" matches only "/"
    ("/*", "/", True),
    ("/*", "/anything/at/all", True),
    ("/api/*", "/api/users", True),
    ("/api/*", "/api/", True),
    ("/api/*", "/api", False),  # whole-field match, no prefix logic
    ("/api", "/api/", False),
    ("/img/*", "/img/picture.jpg", True),
    ("/IMG/*", "/img/picture.jpg", False),  # case-sensitive
    ("/img/*.jpg", "/img/a/b/c.jpg", True),  # * crosses "/"
    ("/img/*.jpg", "/img/a.png", False),
    ("/v?/items", "/v1/items", True),
    ("/v?/items", "/v10/items", False),
    ("*.php", "/x/y.php", True),
    ("/a%20b", "/a%20b", True),  # path matched as received, not decoded
    ("/a b", "/a%20b", False),
    ("/api/*", "/API/x", False),
    ("/package.service/method", "/package.service/method", True),  # gRPC form
    ("/a&amp;b", "/a&b", True),  # "&" is written "&amp;" (doc)
    ("/q&amp;*", "/q&r/s", True),
    ("/a&amp;b", "/a&amp;b", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), PATH_CASES)
def test_path_pattern(pattern: str, path: str, expected: bool) -> None:
    cond = Condition(F.PATH_PATTERN, values=(pattern,))
    assert condition_matches(cond, req(path=path)) is expected


def test_path_pattern_ignores_query() -> None:
    cond = Condition(F.PATH_PATTERN, values=("/search",))
    assert condition_matches(cond, req(path="/search", query="q=1"))


def test_path_control_characters_are_ignored() -> None:
    cond = Condition(F.PATH_PATTERN, values=("/admin",))
    assert condition_matches(cond, req(path="/ad\x00min\x7f"))
    assert condition_matches(cond, req(path="/admin\t"))


# ---------------------------------------------------------------- http-header
HEADER_CASES: list[tuple[str, str, list[tuple[str, str]], bool]] = [
    ("User-Agent", "*Chrome*", [("User-Agent", "Mozilla/5.0 Chrome/120 Safari/537")], True),
    ("User-Agent", "*Chrome*", [("user-agent", "mozilla chrome")], True),  # name + value insensitive
    ("user-agent", "*chrome*", [("USER-AGENT", "CHROME")], True),
    ("User-Agent", "*Chrome*", [("User-Agent", "curl/8.0")], False),
    ("User-Agent", "curl", [("User-Agent", "curl/8.0")], False),  # whole field
    ("User-Agent", "curl/?.?", [("User-Agent", "curl/8.0")], True),
    ("X-Tenant", "blue", [("X-Tenant", "red"), ("X-Tenant", "blue")], True),  # each occurrence tried
    ("X-Tenant", "blue", [("X-Tenant", "red"), ("X-Other", "blue")], False),
    ("X-Tenant", "*", [], False),  # absent header never matches
    ("X-Tenant", "*", [("X-Tenant", "")], True),  # empty value matches "*"
    ("X-Forwarded-For", "203.0.113.*", [("X-Forwarded-For", "203.0.113.9")], True),
    ("X-Tenant", "blue", [("X-Tenant", "  blue ")], True),  # OWS trimmed
]


@pytest.mark.parametrize(("name", "pattern", "headers", "expected"), HEADER_CASES)
def test_http_header(name: str, pattern: str, headers: list[tuple[str, str]], expected: bool) -> None:
    cond = Condition(F.HTTP_HEADER, values=(pattern,), header_name=name)
    assert condition_matches(cond, req(headers=[("Host", "example.com"), *headers])) is expected


def test_http_header_or_across_values_doc_example() -> None:
    # ALB-UG load-balancer-listeners: User-Agent matches one of "*Chrome*", "*Safari*".
    cond = Condition(F.HTTP_HEADER, values=("*Chrome*", "*Safari*"), header_name="User-Agent")
    assert condition_matches(cond, req(headers=[("User-Agent", "Mozilla/5.0 Version/17 Safari/605")]))
    assert not condition_matches(cond, req(headers=[("User-Agent", "Mozilla/5.0 Firefox/120")]))


# ---------------------------------------------------------------- http-request-method
METHOD_CASES = [
    ("GET", "GET", True),
    ("GET", "get", False),  # case-sensitive
    ("GET", "HEAD", False),
    ("CUSTOM-METHOD", "CUSTOM-METHOD", True),  # doc example
    ("G*", "GET", False),  # no wildcards: "*" is literal
    ("POST", "POSTX", False),
]


@pytest.mark.parametrize(("pattern", "method", "expected"), METHOD_CASES)
def test_http_request_method(pattern: str, method: str, expected: bool) -> None:
    cond = Condition(F.HTTP_REQUEST_METHOD, values=(pattern,))
    assert condition_matches(cond, req(method=method)) is expected


def test_method_or_across_values() -> None:
    cond = Condition(F.HTTP_REQUEST_METHOD, values=("GET", "HEAD"))
    assert condition_matches(cond, req(method="HEAD"))
    assert not condition_matches(cond, req(method="POST"))


# ---------------------------------------------------------------- query-string
QUERY_CASES: list[tuple[list[QueryPair], str, bool]] = [
    # doc example: key/value "version=v1" or any key set to "example"
    ([QueryPair("v1", "version"), QueryPair("example")], "version=v1", True),
    ([QueryPair("v1", "version"), QueryPair("example")], "foo=example", True),
    ([QueryPair("v1", "version"), QueryPair("example")], "version=v2", False),
    ([QueryPair("v1", "version"), QueryPair("example")], "a=1&b=example&c=2", True),
    ([QueryPair("v1", "version")], "VERSION=V1", True),  # case-insensitive
    ([QueryPair("v1", "version")], "versions=v1", False),  # whole key
    ([QueryPair("v1", "version")], "version=v10", False),  # whole value
    ([QueryPair("v*", "version")], "version=v10", True),
    ([QueryPair("v?", "ver*")], "verbose=v1", True),
    ([QueryPair("a b", "q")], "q=a%20b", True),  # percent-decoded request
    ([QueryPair("a%20b", "q")], "q=a%20b", True),  # percent-encoded pattern
    ([QueryPair("a b", "q")], "q=a+b", False),  # "+" is not a space (RFC 3986)
    ([QueryPair("x", "my key")], "my%20key=x", True),
    ([QueryPair("\\*", "q")], "q=*", True),  # escaped literal "*"
    ([QueryPair("\\*", "q")], "q=abc", False),
    ([QueryPair("what\\?", "q")], "q=what%3F", True),  # escaped literal "?"
    ([QueryPair("what\\?", "q")], "q=whatX", False),
    ([QueryPair("*")], "", False),  # no query: no pair can be present
    ([QueryPair("", "flag")], "flag", True),  # parameter without "=" has an empty value
    ([QueryPair("*", "flag")], "flag", True),
    ([QueryPair("v1", "version")], "a=1&version=v1", True),
    ([QueryPair("x")], "k=%78", True),
]


@pytest.mark.parametrize(("pairs", "query", "expected"), QUERY_CASES)
def test_query_string(pairs: list[QueryPair], query: str, expected: bool) -> None:
    cond = Condition(F.QUERY_STRING, query_pairs=tuple(pairs))
    assert condition_matches(cond, req(query=query)) is expected


def test_parse_query_keeps_order_and_decodes() -> None:
    assert parse_query("a=1&b=%41&&c&d=x=y") == [("a", "1"), ("b", "A"), ("c", ""), ("d", "x=y")]


# ---------------------------------------------------------------- source-ip
SOURCE_CASES = [
    (["192.0.2.0/24"], "192.0.2.55", True),
    (["192.0.2.0/24"], "192.0.3.1", False),
    (["192.0.2.0/24", "198.51.100.10/32"], "198.51.100.10", True),  # OR across values
    (["10.0.0.0/8"], "::ffff:10.1.2.3", True),  # IPv4-mapped IPv6 peer
    (["2001:db8::/32"], "2001:db8::1", True),
    (["2001:db8::/32"], "2001:db9::1", False),
    (["2001:db8::/32"], "192.0.2.1", False),  # family mismatch
    (["127.0.0.1/32"], "127.0.0.1", True),
    (["192.0.2.1/24"], "192.0.2.9", True),  # host bits set in the CIDR: tolerated
    (["0.0.0.0/0"], "not-an-ip", False),
]


@pytest.mark.parametrize(("cidrs", "ip", "expected"), SOURCE_CASES)
def test_source_ip(cidrs: list[str], ip: str, expected: bool) -> None:
    cond = Condition(F.SOURCE_IP, values=tuple(cidrs))
    assert condition_matches(cond, req(source_ip=ip)) is expected


def test_source_ip_never_reads_x_forwarded_for() -> None:
    cond = Condition(F.SOURCE_IP, values=("203.0.113.0/24",))
    r = req(headers=[("Host", "a.b"), ("X-Forwarded-For", "203.0.113.7")], source_ip="10.0.0.1")
    assert not condition_matches(cond, r)


# ---------------------------------------------------------------- evaluation
TG_A = ForwardAction((TargetGroupTuple("arn:tg/a"),))
TG_B = ForwardAction((TargetGroupTuple("arn:tg/b"),))
TG_C = ForwardAction((TargetGroupTuple("arn:tg/c"),))
DEFAULT = (FixedResponseAction("404", "text/plain", "nope"),)


def rule(priority: int, conditions: Sequence[Condition], actions: Sequence[Action]) -> Rule:
    return Rule(f"arn:rule/{priority}", "arn:listener", priority, tuple(conditions), tuple(actions))


RULES = [
    # deliberately not in priority order
    rule(20, [Condition(F.PATH_PATTERN, values=("/api/*",))], [TG_B]),
    rule(
        10,
        [
            Condition(F.PATH_PATTERN, values=("/api/*",)),
            Condition(F.HTTP_HEADER, values=("beta",), header_name="X-Channel"),
        ],
        [TG_A],
    ),
    rule(30, [Condition(F.HOST_HEADER, values=("admin.example.com",))], [TG_C]),
]

EVAL_CASES = [
    (req(path="/api/x", headers=[("Host", "e.com"), ("X-Channel", "beta")]), 10, TG_A),  # AND matched
    (req(path="/api/x", headers=[("Host", "e.com"), ("X-Channel", "stable")]), 20, TG_B),  # AND failed
    (req(path="/api/x", headers=[("Host", "admin.example.com")]), 20, TG_B),  # lower priority wins
    (req(path="/", headers=[("Host", "admin.example.com")]), 30, TG_C),
    (req(path="/api", headers=[("Host", "e.com")]), 0, DEFAULT[0]),  # default last
]


@pytest.mark.parametrize(("request_", "priority", "terminal"), EVAL_CASES)
def test_evaluate(request_: RequestView, priority: int, terminal: Action) -> None:
    for result in (evaluate(RULES, DEFAULT, request_), compile_rules(RULES, DEFAULT).evaluate(request_)):
        assert isinstance(result, RuleMatch)
        assert result.priority == priority
        assert result.actions[-1] == terminal


def test_rule_without_conditions_matches_everything() -> None:
    assert evaluate([rule(5, [], [TG_A])], DEFAULT, req()).priority == 5


def test_actions_sorted_by_order_terminal_last() -> None:
    auth = AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=2)
    fwd = ForwardAction((TargetGroupTuple("arn:tg/a"),), order=1)  # wrongly ordered terminal
    auth0 = AuthenticateAction(ActionType.AUTHENTICATE_COGNITO, order=1)
    assert sort_actions([fwd, auth]) == (auth, fwd)
    assert sort_actions([auth, fwd, auth0]) == (auth0, auth, fwd)
    result = evaluate([rule(1, [], [fwd, auth])], DEFAULT, req())
    assert result.actions == (auth, fwd)


# ---------------------------------------------------------------- validators
VALID_CONDITION_SETS: list[list[Condition]] = [
    [Condition(F.HOST_HEADER, values=("*.example.com",))],
    [Condition(F.PATH_PATTERN, values=("/api/*", "/img/*"))],
    [Condition(F.HTTP_HEADER, values=("*Chrome*", "*Safari*"), header_name="User-Agent")],
    [Condition(F.HTTP_REQUEST_METHOD, values=("CUSTOM-METHOD",))],
    [Condition(F.QUERY_STRING, query_pairs=(QueryPair("v1", "version"), QueryPair("example")))],
    [Condition(F.SOURCE_IP, values=("192.0.2.0/24", "198.51.100.10/32"))],
    [
        Condition(F.HTTP_HEADER, values=("a",), header_name="X-A"),
        Condition(F.HTTP_HEADER, values=("b",), header_name="X-B"),
    ],
]


@pytest.mark.parametrize("conditions", VALID_CONDITION_SETS)
def test_valid_conditions(conditions: list[Condition]) -> None:
    assert validate_conditions(conditions) is None


INVALID_CONDITION_SETS: list[tuple[list[Condition], str]] = [
    (
        [Condition(F.HOST_HEADER, values=("a.com",)), Condition(F.HOST_HEADER, values=("b.com",))],
        "at most one 'host-header'",
    ),
    (
        [Condition(F.PATH_PATTERN, values=("/a",)), Condition(F.PATH_PATTERN, values=("/b",))],
        "at most one 'path-pattern'",
    ),
    ([Condition(F.HTTP_REQUEST_METHOD, values=())], "at least one value"),
    ([Condition(F.QUERY_STRING)], "at least one value"),
    ([Condition(F.PATH_PATTERN, values=("/a", "/b", "/c", "/d"))], "at most 3 values"),
    (
        [
            Condition(F.PATH_PATTERN, values=("/a", "/b", "/c")),
            Condition(F.HTTP_REQUEST_METHOD, values=("GET", "HEAD", "POST")),
        ],
        "at most 5 condition values",
    ),
    (
        [
            Condition(F.PATH_PATTERN, values=("/*/*/*",)),
            Condition(F.HOST_HEADER, values=("*.*.example.com",)),
            Condition(F.HTTP_HEADER, values=("*",), header_name="X"),
        ],
        "at most 5 wildcards",
    ),
    ([Condition(F.HTTP_REQUEST_METHOD, values=("GE*",))], "Wildcards are not allowed"),
    ([Condition(F.SOURCE_IP, values=("10.0.0.*",))], "Wildcards are not allowed"),
    ([Condition(F.HTTP_REQUEST_METHOD, values=("get",))], "Invalid HTTP request method"),
    ([Condition(F.HOST_HEADER, values=("localhost",))], "at least one '.'"),
    ([Condition(F.HOST_HEADER, values=("example.c0m",))], "only letters may follow"),
    ([Condition(F.HOST_HEADER, values=("exa_mple.com",))], "Invalid host-header"),
    ([Condition(F.HOST_HEADER, values=("a" * 126 + ".com",))], "Invalid host-header"),
    ([Condition(F.PATH_PATTERN, values=("/a b",))], "Invalid path-pattern"),
    ([Condition(F.PATH_PATTERN, values=("/" + "a" * 128,))], "Invalid path-pattern"),
    ([Condition(F.HTTP_HEADER, values=("x",), header_name="Host")], "use host-header"),
    ([Condition(F.HTTP_HEADER, values=("x",), header_name="X-*")], "no wildcards"),
    ([Condition(F.HTTP_HEADER, values=("x",), header_name="X" * 41)], "Invalid HTTP header name"),
    ([Condition(F.HTTP_HEADER, values=("x" * 129,), header_name="X")], "1-128"),
    ([Condition(F.SOURCE_IP, values=("255.255.255.255/32",))], "not allowed"),
    ([Condition(F.SOURCE_IP, values=("300.1.1.1/8",))], "Invalid source-ip"),
    ([Condition(F.SOURCE_IP, values=("10.0.0.1",))], "prefix length"),
    ([Condition(F.QUERY_STRING, query_pairs=(QueryPair("x" * 129),))], "1-128"),
    ([Condition(F.HTTP_REQUEST_METHOD, regex_values=("G.*",))], "RegexValues are not supported"),
    ([Condition(F.PATH_PATTERN, regex_values=("(",))], "Invalid regex"),
]


@pytest.mark.parametrize(("conditions", "message"), INVALID_CONDITION_SETS)
def test_invalid_conditions(conditions: list[Condition], message: str) -> None:
    err = validate_conditions(conditions)
    assert err is not None
    assert message in err


def test_source_ip_allows_five_values() -> None:
    five = Condition(F.SOURCE_IP, values=tuple(f"10.0.{i}.0/24" for i in range(5)))
    assert validate_conditions([five]) is None
    six = Condition(F.SOURCE_IP, values=tuple(f"10.0.{i}.0/24" for i in range(6)))
    assert validate_conditions([six]) is not None


def test_escaped_query_wildcards_do_not_count() -> None:
    cond = Condition(F.QUERY_STRING, query_pairs=(QueryPair("\\*\\*\\*\\*\\*\\*", "k"),))
    assert validate_conditions([cond]) is None


FWD = ForwardAction((TargetGroupTuple("arn:tg/a"),))
VALID_ACTIONS: list[tuple[list[Action], str | None]] = [
    ([FWD], None),
    ([ForwardAction((TargetGroupTuple("a", 10), TargetGroupTuple("b", 20)))], None),
    ([ForwardAction((TargetGroupTuple("a", 0), TargetGroupTuple("b", 999)))], None),
    (
        [ForwardAction((TargetGroupTuple("a"),), True, 60)],
        None,
    ),
    ([RedirectAction(protocol="HTTPS", port="443")], "HTTP"),
    ([RedirectAction(protocol="HTTPS", port="443", status_code="HTTP_302")], None),
    ([RedirectAction(host="www.example.com")], None),
    ([RedirectAction(path="/new/#{path}", query="#{query}&from=#{host}")], None),
    ([RedirectAction(protocol="HTTPS")], "HTTP"),  # protocol change on an HTTP listener
    ([FixedResponseAction("200", "text/plain", "ok")], None),
    ([FixedResponseAction("404")], None),
    ([FixedResponseAction("503", "application/json", "x" * 1024)], None),
    (
        [
            AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=1),
            ForwardAction((TargetGroupTuple("a"),), order=2),
        ],
        "HTTPS",
    ),
]


@pytest.mark.parametrize(("actions", "listener_protocol"), VALID_ACTIONS)
def test_valid_actions(actions: list[Action], listener_protocol: str | None) -> None:
    assert validate_actions(actions, listener_protocol=listener_protocol) is None


INVALID_ACTIONS: list[tuple[list[Action], str | None, str]] = [
    ([], None, "At least one action"),
    ([FWD, FixedResponseAction("200")], None, "exactly one"),
    ([AuthenticateAction(ActionType.AUTHENTICATE_OIDC)], None, "exactly one"),
    (
        [
            ForwardAction((TargetGroupTuple("a"),), order=1),
            AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=2),
        ],
        None,
        "must be the last",
    ),
    (
        [
            AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=1),
            ForwardAction((TargetGroupTuple("a"),), order=1),
        ],
        None,
        "unique",
    ),
    ([ForwardAction((TargetGroupTuple("a"),), order=0)], None, "1-50000"),
    (
        [
            AuthenticateAction(ActionType.AUTHENTICATE_OIDC, order=1),
            ForwardAction((TargetGroupTuple("a"),), order=2),
        ],
        "HTTP",
        "only on HTTPS",
    ),
    ([ForwardAction(())], None, "at least one target group"),
    ([ForwardAction(tuple(TargetGroupTuple(f"tg{i}") for i in range(6)))], None, "at most 5"),
    ([ForwardAction((TargetGroupTuple("a", 1000),))], None, "0-999"),
    ([ForwardAction((TargetGroupTuple("a", -1),))], None, "0-999"),
    ([ForwardAction((TargetGroupTuple("a"), TargetGroupTuple("a")))], None, "only once"),
    ([ForwardAction((TargetGroupTuple("a"),), stickiness_enabled=True)], None, "stickiness duration"),
    (
        [
            ForwardAction(
                (TargetGroupTuple("a"),), stickiness_enabled=True, stickiness_duration_seconds=604801
            )
        ],
        None,
        "stickiness duration",
    ),
    ([RedirectAction()], None, "must change at least one"),
    ([RedirectAction(query="x=1")], None, "must change at least one"),  # query-only: loop
    ([RedirectAction(protocol="HTTP")], "HTTP", "must change at least one"),
    ([RedirectAction(protocol="HTTP", port="8080")], "HTTPS", "HTTPS to HTTP"),
    ([RedirectAction(status_code="HTTP_307", port="1")], None, "HTTP_301 or HTTP_302"),
    ([RedirectAction(protocol="ftp")], None, "Redirect protocol"),
    ([RedirectAction(port="0")], None, "1-65535"),
    ([RedirectAction(port="65536")], None, "1-65535"),
    ([RedirectAction(path="new")], None, "start with '/'"),
    ([RedirectAction(path="/a%20b")], None, "percent-encoded"),
    ([RedirectAction(port="443", query="?a=1")], None, "without a leading '?'"),
    ([RedirectAction(port="443", host="#{path}.example.com")], None, "keyword '#{path}'"),
    ([RedirectAction(protocol="#{port}")], None, "keyword '#{port}'"),
    ([RedirectAction(path="/#{query}")], None, "keyword '#{query}'"),
    ([FixedResponseAction("302")], None, "^(2|4|5)"),
    ([FixedResponseAction("20")], None, "^(2|4|5)"),
    ([FixedResponseAction("200", "text/xml")], None, "content type"),
    ([FixedResponseAction("200", "text/plain", "x" * 1025)], None, "1024"),
]


@pytest.mark.parametrize(("actions", "listener_protocol", "message"), INVALID_ACTIONS)
def test_invalid_actions(actions: list[Action], listener_protocol: str | None, message: str) -> None:
    err = validate_actions(actions, listener_protocol=listener_protocol)
    assert err is not None
    assert message in err


# ---------------------------------------------------------------- corpus: AWS CLI / user-guide examples
def _condition_from_api(raw: dict[str, object]) -> Condition:
    """AWS API RuleCondition JSON -> model Condition (test-side, mirrors what the API layer does)."""
    field = ConditionField(str(raw["Field"]))
    if field is F.QUERY_STRING:
        cfg = raw["QueryStringConfig"]
        assert isinstance(cfg, dict)
        pairs = tuple(QueryPair(v["Value"], v.get("Key")) for v in cfg["Values"])
        return Condition(field, query_pairs=pairs)
    if field is F.HTTP_HEADER:
        cfg = raw["HttpHeaderConfig"]
        assert isinstance(cfg, dict)
        return Condition(field, values=tuple(cfg["Values"]), header_name=cfg["HttpHeaderName"])
    key = {
        F.HOST_HEADER: "HostHeaderConfig",
        F.PATH_PATTERN: "PathPatternConfig",
        F.HTTP_REQUEST_METHOD: "HttpRequestMethodConfig",
        F.SOURCE_IP: "SourceIpConfig",
    }[field]
    cfg = raw.get(key)
    values = cfg["Values"] if isinstance(cfg, dict) else raw["Values"]
    assert isinstance(values, list)
    return Condition(field, values=tuple(values))


def _doc_condition_blocks(text: str) -> list[dict[str, object]]:
    blocks = re.findall(r"```\n(\[\s*\{\s*\"Field\".*?\])\s*```", text, flags=re.S)
    out: list[dict[str, object]] = []
    for b in blocks:
        out.extend(json.loads(b))
    return out


# What each user-guide example condition is documented to accept and refuse.
DOC_EXPECTATIONS: dict[str, tuple[list[RequestView], list[RequestView]]] = {
    "http-header": (
        [req(headers=[("User-Agent", "x Chrome y")]), req(headers=[("user-agent", "Safari")])],
        [req(headers=[("User-Agent", "curl/8")])],
    ),
    "http-request-method": ([req(method="CUSTOM-METHOD")], [req(method="custom-method")]),
    "query-string": ([req(query="version=v1"), req(query="x=example")], [req(query="version=v2")]),
    # "The rule *.example.com matches test.example.com but doesn't match example.com"
    "host-header": ([host("test.example.com")], [host("example.com")]),
    # "/img/*" forwards a request for /img/picture.jpg
    "path-pattern": ([req(path="/img/picture.jpg")], [req(path="/img"), req(path="/images/x")]),
}


def test_user_guide_condition_examples(corpora: object) -> None:
    from pathlib import Path

    assert isinstance(corpora, Path)
    page = corpora / "alb-docs/elb-alb-user-guide/doc_source/load-balancer-listeners.md"
    text = page.read_text(encoding="utf-8").replace("\\", "")
    conditions = [_condition_from_api(raw) for raw in _doc_condition_blocks(text)]
    fields = {c.field.value for c in conditions}
    assert {"http-header", "http-request-method", "query-string", "source-ip"} <= fields
    checked = 0
    for c in conditions:
        assert validate_conditions([c]) is None, c
        if c.field.value in DOC_EXPECTATIONS:
            yes, no = DOC_EXPECTATIONS[c.field.value]
            for r in yes:
                assert condition_matches(c, r), (c, r)
            for r in no:
                assert not condition_matches(c, r), (c, r)
            checked += 1
        if c.field is F.SOURCE_IP:
            import ipaddress

            first = next(iter(ipaddress.ip_network(c.values[0], strict=False).hosts()))
            assert condition_matches(c, req(source_ip=str(first)))
            assert not condition_matches(c, req(source_ip="203.0.113.254"))
            checked += 1
    assert checked >= 6


def _cli_json_files(text: str) -> dict[str, list[dict[str, object]]]:
    """``Contents of ``name.json``::`` blocks of an AWS CLI example page -> parsed JSON."""
    out: dict[str, list[dict[str, object]]] = {}
    decoder = json.JSONDecoder()
    for m in re.finditer(r"Contents of ``([^`]+)``\s*::", text):
        start = text.index("[", m.end())
        value, _ = decoder.raw_decode(text[start:])
        out[m.group(1)] = value
    return out


def _action_from_api(raw: dict[str, object]) -> Action:
    order = raw.get("Order")
    assert order is None or isinstance(order, int)
    kind = ActionType(str(raw["Type"]))
    if kind is ActionType.FORWARD:
        return ForwardAction((TargetGroupTuple(str(raw["TargetGroupArn"])),), order=order)
    if kind is ActionType.FIXED_RESPONSE:
        cfg = raw["FixedResponseConfig"]
        assert isinstance(cfg, dict)
        return FixedResponseAction(cfg["StatusCode"], cfg.get("ContentType"), cfg.get("MessageBody"), order)
    return AuthenticateAction(kind, order=order)


# create-rule examples: what the prose says each condition file selects.
CLI_EXPECTATIONS: dict[str, tuple[list[RequestView], list[RequestView]]] = {
    "conditions-pattern.json": (
        [req(path="/images/cat.png"), req(path="/images/")],
        [req(path="/images"), req(path="/img/cat.png")],
    ),
    "conditions-host.json": ([host("www.example.com")], [host("example.com"), host("www.example.org")]),
    "conditions-source-ip.json": (
        [req(source_ip="192.0.2.77"), req(source_ip="198.51.100.10")],
        [req(source_ip="198.51.100.11")],
    ),
}


def test_cli_create_rule_examples(corpora: object) -> None:
    """The AWS CLI create-rule examples: conditions and actions validate, conditions select what the
    example's prose says."""
    from pathlib import Path

    assert isinstance(corpora, Path)
    page = corpora / "alb-docs/aws-cli/awscli/examples/elbv2/create-rule.rst"
    files = _cli_json_files(page.read_text(encoding="utf-8"))
    assert set(CLI_EXPECTATIONS) <= set(files)
    for name, raw in files.items():
        if name.startswith("conditions"):
            conditions = [_condition_from_api(r) for r in raw]
            assert validate_conditions(conditions) is None
            yes, no = CLI_EXPECTATIONS[name]
            for r in yes:
                assert all(condition_matches(c, r) for c in conditions), (name, r)
            for r in no:
                assert not all(condition_matches(c, r) for c in conditions), (name, r)
        else:
            actions = [_action_from_api(r) for r in raw]
            assert validate_actions(actions, listener_protocol="HTTPS") is None, name
            assert sort_actions(actions)[-1].type in (ActionType.FORWARD, ActionType.FIXED_RESPONSE)


# ---------------------------------------------------------------- properties (hypothesis)

_ALPHABET = "ab/.*?+()[]|\\$^{}"


def _reference_match(pattern: str, text: str) -> bool:
    """Plain dynamic-programming wildcard matcher: ``*`` = any run, ``?`` = one character."""
    m, n = len(pattern), len(text)
    dp = [[False] * (n + 1) for _ in range(m + 1)]
    dp[0][0] = True
    for i in range(1, m + 1):
        dp[i][0] = dp[i - 1][0] and pattern[i - 1] == "*"
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            p = pattern[i - 1]
            if p == "*":
                dp[i][j] = dp[i - 1][j] or dp[i][j - 1]
            else:
                dp[i][j] = dp[i - 1][j - 1] and (p == "?" or p == text[j - 1])
    return dp[m][n]


@settings(max_examples=400, deadline=None)
@given(st.text(_ALPHABET, max_size=8), st.text(_ALPHABET.replace("*", "").replace("?", ""), max_size=10))
def test_path_wildcards_agree_with_a_reference_matcher(pattern: str, path: str) -> None:
    cond = Condition(F.PATH_PATTERN, values=(pattern,))
    assert condition_matches(cond, req(path=path)) is _reference_match(pattern, path)


@settings(max_examples=300, deadline=None)
@given(st.text("aB.-*?", min_size=1, max_size=8), st.text("Ab.-", max_size=10))
def test_host_wildcards_case_insensitive_reference(pattern: str, value: str) -> None:
    cond = Condition(F.HOST_HEADER, values=(pattern,))
    expected = _reference_match(pattern.lower(), value.lower())
    assert condition_matches(cond, host(value)) is expected


_REQUESTS = st.builds(
    RequestView,
    method=st.sampled_from(["GET", "POST", "get", "PUT", "\x00GET"]),
    path=st.text(max_size=20).map(lambda p: "/" + p),
    query=st.text(max_size=20),
    headers=st.lists(
        st.tuples(st.sampled_from(["Host", "host", "X-A", "Cookie", "bad name"]), st.text(max_size=20)),
        max_size=5,
    ).map(tuple),
    source_ip=st.sampled_from(["127.0.0.1", "::1", "10.1.2.3", "garbage", "::ffff:10.0.0.1"]),
)


@settings(max_examples=300, deadline=None)
@given(_REQUESTS)
def test_evaluate_never_crashes_and_compiled_agrees(request_: RequestView) -> None:
    compiled = compile_rules(RULES + PROP_RULES, DEFAULT)
    assert compiled.evaluate(request_) == evaluate(RULES + PROP_RULES, DEFAULT, request_)


PROP_RULES = [
    rule(40, [Condition(F.QUERY_STRING, query_pairs=(QueryPair("*a*"), QueryPair("?", "x*")))], [TG_A]),
    rule(41, [Condition(F.SOURCE_IP, values=("10.0.0.0/8", "::1/128"))], [TG_B]),
    rule(42, [Condition(F.HTTP_REQUEST_METHOD, values=("GET",))], [TG_C]),
    rule(43, [Condition(F.HOST_HEADER, values=("*.*",), regex_values=("^[0-9]+$", "(bad"))], [TG_A]),
]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/img/*/pics", "/img/2024/pics", True),
        ("/img/*/pics", "/img/pics", False),
        ("/package", "/package", True),
    ],
)
def test_user_guide_example_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert validate_conditions([Condition(F.PATH_PATTERN, values=(pattern,))]) is None
    assert condition_matches(Condition(F.PATH_PATTERN, values=(pattern,)), req(path=path)) is expected


def test_cli_modify_rule_output_evaluates(corpora: object) -> None:
    """The rule in the AWS CLI modify-rule example output (priority 10, path /images/*) routes as stated."""
    from pathlib import Path

    assert isinstance(corpora, Path)
    text = (corpora / "alb-docs/aws-cli/awscli/examples/elbv2/modify-rule.rst").read_text(encoding="utf-8")
    start = text.index("{", text.index("Output::"))
    output, _ = json.JSONDecoder().raw_decode(text[start:])
    rules = []
    for raw in output["Rules"]:
        assert raw["IsDefault"] is False
        conditions = tuple(_condition_from_api(c) for c in raw["Conditions"])
        actions = tuple(_action_from_api(a) for a in raw["Actions"])
        assert validate_conditions(conditions) is None and validate_actions(actions) is None
        rules.append(Rule(raw["RuleArn"], "arn:listener", int(raw["Priority"]), conditions, actions))
    assert evaluate(rules, DEFAULT, req(path="/images/logo.png")).priority == 10
    assert evaluate(rules, DEFAULT, req(path="/images/logo.png")).actions[-1].type is ActionType.FORWARD
    assert evaluate(rules, DEFAULT, req(path="/image/logo.png")).priority == 0


# ---------------------------------------------------------------- purity of the alb cores
PURE_MODULES = ["rules", "responses", "headers", "health", "balancing", "accesslog"]
FORBIDDEN = {"asyncio", "socket", "subprocess", "time", "random", "os", "threading", "selectors"}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_core_imports_no_io(module: str) -> None:
    """Pure modules never import asyncio, socket, subprocess, time or random at run time (an import
    under ``if TYPE_CHECKING:`` is for annotations only)."""
    import ast
    from pathlib import Path

    import albfargate.alb

    source = Path(albfargate.alb.__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        assert not FORBIDDEN & set(names), (module, names)
