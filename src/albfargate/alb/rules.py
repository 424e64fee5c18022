"""Listener-rule evaluation (pure): which rule a request matches and therefore which actions run.

Owns the exact AWS matching semantics of the six condition types (spec §1.4), rule ordering and the
AND/OR combination (§1.2), and the validators the API uses before it stores a rule (condition limits
§1.3, action constraints §2). No I/O: the proxy builds a :class:`RequestView` and calls :func:`evaluate`.

Matching rules, in short:

* every pattern matches the **whole** field; ``*`` is 0..n characters (``/`` included), ``?`` exactly one;
* host-header: first ``Host`` header, ``:port`` stripped, case-insensitive (*inferred*, spec §1.4);
* path-pattern: path only, as received (no decoding), case-sensitive;
* http-header: name and value case-insensitive; every occurrence of the header is tried in order;
* http-request-method: exact and case-sensitive, no wildcards;
* query-string: keys and values percent-decoded before comparing, case-insensitive, ``\\*``/``\\?`` in a
  pattern are a literal ``*``/``?``, a pair without ``Key`` matches the value of any key;
* source-ip: the TCP peer address in one of the CIDRs (IPv4-mapped IPv6 peers count as IPv4);
* control characters (0x00-0x1f, 0x7f) of the request are ignored before matching (spec §1.2.6).

Compiled patterns and networks are cached (this runs on every request). :func:`compile_rules` gives the
proxy a pre-sorted rule set so a request costs no sort either.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import unquote

from albfargate.model.elbv2 import (
    Action,
    ActionType,
    AuthenticateAction,
    Condition,
    ConditionField,
    FixedResponseAction,
    ForwardAction,
    RedirectAction,
    Rule,
)

__all__ = [
    "CompiledRules",
    "RequestView",
    "RuleMatch",
    "compile_rules",
    "condition_matches",
    "evaluate",
    "sort_actions",
    "validate_actions",
    "validate_conditions",
]


@dataclass(frozen=True, slots=True)
class RequestView:
    """What the rule engine may look at in a request."""

    method: str  # as received, e.g. "GET"
    path: str  # path only, as received (no query, no fragment)
    query: str  # raw query without the leading "?" ("" when none)
    headers: Sequence[tuple[str, str]]  # (name, value) pairs in arrival order, names as received
    source_ip: str  # TCP peer address


@dataclass(frozen=True, slots=True)
class RuleMatch:
    priority: int  # 1..50000, or 0 for the default rule
    actions: tuple[Action, ...]  # sorted by Order; the terminal action last


# --------------------------------------------------------------------------------------------------
# Pattern compilation (cached)

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_CACHE_SIZE: Final = 4096  # distinct patterns across all listeners; AWS allows 100 rules x 5 values per ALB


def _strip_controls(value: str) -> str:
    """Drop control characters: rules only look at visible ASCII (spec §1.2.6)."""
    return _CONTROL.sub("", value) if _CONTROL.search(value) else value


@lru_cache(maxsize=_CACHE_SIZE)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """``*``/``?`` wildcard pattern -> compiled whole-field regex."""
    parts: list[str] = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


@lru_cache(maxsize=_CACHE_SIZE)
def _query_wildcard(pattern: str) -> re.Pattern[str]:
    """A query-string Key/Value pattern: ``\\*`` and ``\\?`` are literals, other characters may be
    percent-encoded (decoded here, and a decoded ``*``/``?`` is a literal), case-insensitive."""
    parts: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            parts.append(re.escape(unquote("".join(literal))))
            literal.clear()

    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            flush()
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            flush()
            parts.append(".*")
        elif ch == "?":
            flush()
            parts.append(".")
        else:
            literal.append(ch)
        i += 1
    flush()
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=_CACHE_SIZE)
def _network(cidr: str) -> _Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # zone id of a link-local address
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


# --------------------------------------------------------------------------------------------------
# Per-request lazily derived fields


def host_without_port(host: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:80`` -> ``[::1]``; ``::1`` stays (no brackets,
    so the colons are not a port)."""
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def parse_query(query: str) -> list[tuple[str, str]]:
    """Percent-decoded (key, value) pairs of a raw query string, in order. A parameter without ``=``
    has an empty value. ``+`` is not a space (RFC 3986, not form encoding)."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    query = query.split("#", 1)[0]
    for part in query.split("&"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        pairs.append((unquote(key), unquote(value) if sep else ""))
    return pairs


class _Ctx:
    """The request plus fields derived from it on first use (path, host, query pairs, header index)."""

    __slots__ = ("_headers", "_host", "_host_raw", "_path", "_query", "request")

    def __init__(self, request: RequestView) -> None:
        self.request = request
        self._path: str | None = None
        self._host: str | None = None
        self._host_raw: str | None = None
        self._query: list[tuple[str, str]] | None = None
        self._headers: dict[str, list[str]] | None = None

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = _strip_controls(self.request.path)
        return self._path

    @property
    def host_raw(self) -> str | None:
        if self._host_raw is None:
            for name, value in self.request.headers:
                if name.lower() == "host":
                    self._host_raw = _strip_controls(value.strip())
                    break
            else:
                return None
        return self._host_raw

    @property
    def host(self) -> str | None:
        if self._host is None:
            raw = self.host_raw
            if raw is None:
                return None
            self._host = host_without_port(raw)
        return self._host

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        if self._query is None:
            self._query = [
                (_strip_controls(k), _strip_controls(v)) for k, v in parse_query(self.request.query)
            ]
        return self._query

    def header_values(self, name: str) -> list[str]:
        if self._headers is None:
            index: dict[str, list[str]] = {}
            for hname, value in self.request.headers:
                index.setdefault(hname.lower(), []).append(_strip_controls(value.strip()))
            self._headers = index
        return self._headers.get(name.lower(), [])


# --------------------------------------------------------------------------------------------------
# Condition matching: each condition is compiled once into a predicate over the request context.

_Predicate = Callable[[_Ctx], bool]


def _never(ctx: _Ctx) -> bool:
    return False


def _alternation(values: Sequence[str], ignore_case: bool) -> re.Pattern[str] | None:
    """All wildcard values of a condition as one whole-field regex (values ORed)."""
    if not values:
        return None
    body = "|".join(f"(?:{_wildcard(v, ignore_case).pattern})" for v in values)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class _Regexes:
    """``RegexValues`` of a condition (searched, ORed); an invalid expression never matches."""

    __slots__ = ("_patterns",)

    def __init__(self, values: Sequence[str]) -> None:
        patterns: list[re.Pattern[str]] = []
        for v in values:
            try:
                patterns.append(re.compile(v))
            except re.error:
                continue
        self._patterns = tuple(patterns)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def search(self, value: str) -> bool:
        return any(p.search(value) is not None for p in self._patterns)


def _compile_host(c: Condition) -> _Predicate:
    wild = _alternation(c.values, True)
    regex = _Regexes(c.regex_values)

    def match(ctx: _Ctx) -> bool:
        host = ctx.host
        if host is None:
            return False
        if wild is not None and wild.fullmatch(host) is not None:
            return True
        return bool(regex) and regex.search(ctx.host_raw or "")

    return match


def _compile_path(c: Condition) -> _Predicate:
    values = [v.replace("&amp;", "&") for v in c.values]  # "&" is written "&amp;" in a path pattern
    literal = frozenset(v for v in values if "*" not in v and "?" not in v)
    wild = _alternation([v for v in values if v not in literal], False)
    regex = _Regexes(c.regex_values)

    def match(ctx: _Ctx) -> bool:
        path = ctx.path
        if path in literal:
            return True
        if wild is not None and wild.fullmatch(path) is not None:
            return True
        return bool(regex) and regex.search(path)

    return match


def _compile_header(c: Condition) -> _Predicate:
    if not c.header_name:
        return _never
    name = c.header_name
    wild = _alternation(c.values, True)
    regex = _Regexes(c.regex_values)

    def match(ctx: _Ctx) -> bool:
        for value in ctx.header_values(name):  # each occurrence, in order
            if wild is not None and wild.fullmatch(value) is not None:
                return True
            if regex and regex.search(value):
                return True
        return False

    return match


def _compile_method(c: Condition) -> _Predicate:
    methods = frozenset(c.values)

    def match(ctx: _Ctx) -> bool:
        method = ctx.request.method
        if method in methods:
            return True
        return _strip_controls(method) in methods

    return match


def _compile_query(c: Condition) -> _Predicate:
    any_key: list[re.Pattern[str]] = []
    keyed: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
    for qp in c.query_pairs:
        if qp.key is None:
            any_key.append(_query_wildcard(qp.value))
        else:
            keyed.append((_query_wildcard(qp.key), _query_wildcard(qp.value)))

    def match(ctx: _Ctx) -> bool:
        if not ctx.request.query:
            return False
        pairs = ctx.query_pairs
        for value_re in any_key:
            if any(value_re.fullmatch(v) for _, v in pairs):
                return True
        for key_re, value_re in keyed:
            if any(key_re.fullmatch(k) and value_re.fullmatch(v) for k, v in pairs):
                return True
        return False

    return match


def _compile_source_ip(c: Condition) -> _Predicate:
    networks = [n for n in (_network(v) for v in c.values) if n is not None]

    def match(ctx: _Ctx) -> bool:
        addr = _address(ctx.request.source_ip)
        if addr is None:
            return False
        return any(addr.version == n.version and addr in n for n in networks)

    return match


_COMPILERS: Final[dict[ConditionField, Callable[[Condition], _Predicate]]] = {
    ConditionField.HOST_HEADER: _compile_host,
    ConditionField.PATH_PATTERN: _compile_path,
    ConditionField.HTTP_HEADER: _compile_header,
    ConditionField.HTTP_REQUEST_METHOD: _compile_method,
    ConditionField.QUERY_STRING: _compile_query,
    ConditionField.SOURCE_IP: _compile_source_ip,
}


@lru_cache(maxsize=_CACHE_SIZE)
def _predicate(condition: Condition) -> _Predicate:
    return _COMPILERS[condition.field](condition)


def condition_matches(condition: Condition, request: RequestView) -> bool:
    """True when ``request`` satisfies ``condition`` (values ORed)."""
    return _predicate(condition)(_Ctx(request))


# --------------------------------------------------------------------------------------------------
# Rule evaluation

_TERMINAL: Final = frozenset({ActionType.FORWARD, ActionType.REDIRECT, ActionType.FIXED_RESPONSE})


def sort_actions(actions: Sequence[Action]) -> tuple[Action, ...]:
    """Actions by ascending ``Order``; actions without an Order keep their relative place after the
    ordered ones, and the terminal action is always last."""
    indexed = list(enumerate(actions))
    indexed.sort(
        key=lambda ia: (
            ia[1].type in _TERMINAL,
            ia[1].order is None,
            ia[1].order if ia[1].order is not None else 0,
            ia[0],
        )
    )
    return tuple(a for _, a in indexed)


class CompiledRules:
    """A listener's rules sorted once, conditions compiled once, actions sorted once; then
    :meth:`evaluate` per request."""

    __slots__ = ("_default", "_rules", "only_default")

    def __init__(self, rules: Sequence[Rule], default_actions: Sequence[Action]) -> None:
        ordered = sorted(rules, key=lambda r: r.priority)
        self._rules: tuple[tuple[tuple[_Predicate, ...], RuleMatch], ...] = tuple(
            (
                tuple(_predicate(c) for c in r.conditions),
                RuleMatch(r.priority, sort_actions(r.actions)),
            )
            for r in ordered
        )
        self._default = RuleMatch(0, sort_actions(default_actions))
        # a listener with no rule but its default: the match of every request, known without looking
        self.only_default: RuleMatch | None = None if self._rules else self._default

    def evaluate(self, request: RequestView) -> RuleMatch:
        ctx = _Ctx(request)
        for predicates, match in self._rules:
            for predicate in predicates:
                if not predicate(ctx):
                    break
            else:
                return match
        return self._default


def compile_rules(rules: Sequence[Rule], default_actions: Sequence[Action]) -> CompiledRules:
    return CompiledRules(rules, default_actions)


def evaluate(rules: Sequence[Rule], default_actions: Sequence[Action], request: RequestView) -> RuleMatch:
    """First rule (ascending priority) whose conditions all match; else the default rule (priority 0)."""
    ctx = _Ctx(request)
    for rule in sorted(rules, key=lambda r: r.priority):
        if all(_predicate(c)(ctx) for c in rule.conditions):
            return RuleMatch(rule.priority, sort_actions(rule.actions))
    return RuleMatch(0, sort_actions(default_actions))


# --------------------------------------------------------------------------------------------------
# Validators (used by the API before a rule is stored; None = valid, else the error message)

_SINGLE_FIELDS: Final = (
    ConditionField.HOST_HEADER,
    ConditionField.HTTP_REQUEST_METHOD,
    ConditionField.PATH_PATTERN,
    ConditionField.SOURCE_IP,
)
_WILDCARD_FIELDS: Final = frozenset(
    {
        ConditionField.HOST_HEADER,
        ConditionField.PATH_PATTERN,
        ConditionField.HTTP_HEADER,
        ConditionField.QUERY_STRING,
    }
)
_REGEX_FIELDS: Final = frozenset(
    {ConditionField.HOST_HEADER, ConditionField.PATH_PATTERN, ConditionField.HTTP_HEADER}
)
_HOST_RE: Final = re.compile(r"[A-Za-z0-9\-.*?]{1,128}")
_PATH_RE: Final = re.compile(r"[A-Za-z0-9_\-.$/~\"'@:+&;*?]{1,128}")
_METHOD_RE: Final = re.compile(r"[A-Z_\-]{1,40}")
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,40}")
MAX_EVALUATIONS_PER_CONDITION: Final = 3
MAX_EVALUATIONS_PER_RULE: Final = 5
MAX_WILDCARDS_PER_RULE: Final = 5
MAX_SOURCE_IP_VALUES: Final = 5


def _evaluations(c: Condition) -> int:
    if c.field is ConditionField.QUERY_STRING:
        return len(c.query_pairs)
    return len(c.values) + len(c.regex_values)


def _wildcards(c: Condition) -> int:
    if c.field is ConditionField.QUERY_STRING:
        total = 0
        for qp in c.query_pairs:
            for text in (qp.key or "", qp.value):
                total += len(re.findall(r"(?<!\\)[*?]", text))
        return total
    return sum(v.count("*") + v.count("?") for v in c.values)


def _host_error(value: str) -> str | None:
    if not _HOST_RE.fullmatch(value):
        return f"Invalid host-header value '{value}': 1-128 characters from A-Z a-z 0-9 - . * ?"
    if "." not in value:
        return f"Invalid host-header value '{value}': it must contain at least one '.'"
    tail = value.rsplit(".", 1)[1]
    if not re.fullmatch(r"[A-Za-z*?]+", tail):
        return f"Invalid host-header value '{value}': only letters may follow the last '.'"
    return None


def _condition_error(c: Condition) -> str | None:
    field = c.field
    if c.regex_values:
        if field not in _REGEX_FIELDS:
            return f"RegexValues are not supported for '{field}' conditions"
        for r in c.regex_values:
            if not 1 <= len(r) <= 128:
                return "A regex value must be 1-128 characters long"
            try:
                re.compile(r)
            except re.error as exc:
                return f"Invalid regex value '{r}': {exc}"
    if _evaluations(c) == 0:
        return f"A '{field}' condition must have at least one value"
    limit = MAX_SOURCE_IP_VALUES if field is ConditionField.SOURCE_IP else MAX_EVALUATIONS_PER_CONDITION
    if _evaluations(c) > limit:
        return f"A '{field}' condition can have at most {limit} values"
    if field not in _WILDCARD_FIELDS and any("*" in v or "?" in v for v in c.values):
        return f"Wildcards are not allowed in '{field}' conditions"
    if field is ConditionField.HOST_HEADER:
        for v in c.values:
            err = _host_error(v)
            if err:
                return err
    elif field is ConditionField.PATH_PATTERN:
        for v in c.values:
            if not _PATH_RE.fullmatch(v):
                return (
                    f"Invalid path-pattern value '{v}': 1-128 characters from "
                    "A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & * ?"
                )
    elif field is ConditionField.HTTP_HEADER:
        name = c.header_name or ""
        if not _TOKEN_RE.fullmatch(name) or "*" in name:
            return f"Invalid HTTP header name '{name}': 1-40 token characters, no wildcards"
        if name.lower() == "host":
            return "The 'Host' header can't be used in an http-header condition; use host-header"
        for v in c.values:
            if not 1 <= len(v) <= 128:
                return "An http-header value must be 1-128 characters long"
    elif field is ConditionField.HTTP_REQUEST_METHOD:
        for v in c.values:
            if not _METHOD_RE.fullmatch(v):
                return f"Invalid HTTP request method '{v}': 1-40 characters from A-Z - _"
    elif field is ConditionField.QUERY_STRING:
        for qp in c.query_pairs:
            if qp.key is not None and not 1 <= len(qp.key) <= 128:
                return "A query-string key must be 1-128 characters long"
            if not 1 <= len(qp.value) <= 128:
                return "A query-string value must be 1-128 characters long"
    elif field is ConditionField.SOURCE_IP:
        for v in c.values:
            net = _network(v)
            if net is None:
                return f"Invalid source-ip value '{v}': expected an IPv4 or IPv6 CIDR block"
            if "/" not in v:
                return f"Invalid source-ip value '{v}': the CIDR prefix length is required"
            if net == ipaddress.ip_network("255.255.255.255/32"):
                return "The CIDR '255.255.255.255/32' is not allowed in a source-ip condition"
    return None


def validate_conditions(conditions: Sequence[Condition]) -> str | None:
    """The limits of spec §1.3; the error message, or None when the conditions are valid."""
    for single in _SINGLE_FIELDS:
        if sum(1 for c in conditions if c.field is single) > 1:
            return f"A rule can have at most one '{single}' condition"
    for c in conditions:
        err = _condition_error(c)
        if err:
            return err
    total = sum(_evaluations(c) for c in conditions)
    if total > MAX_EVALUATIONS_PER_RULE:
        return f"A rule can have at most {MAX_EVALUATIONS_PER_RULE} condition values in total, not {total}"
    wild = sum(_wildcards(c) for c in conditions)
    if wild > MAX_WILDCARDS_PER_RULE:
        return f"A rule can have at most {MAX_WILDCARDS_PER_RULE} wildcards, not {wild}"
    return None


_FIXED_STATUS_RE: Final = re.compile(r"^(2|4|5)\d\d$")
FIXED_RESPONSE_CONTENT_TYPES: Final = frozenset(
    {"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
)
_REDIRECT_KEYWORDS: Final = {
    "protocol": ("#{protocol}",),
    "host": ("#{host}",),
    "port": ("#{port}",),
    "path": ("#{host}", "#{path}", "#{port}"),
    "query": ("#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"),
}
_ALL_KEYWORDS: Final = ("#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}")
MAX_TARGET_GROUPS_PER_ACTION: Final = 5


def _keyword_error(component: str, value: str) -> str | None:
    allowed = _REDIRECT_KEYWORDS[component]
    for kw in _ALL_KEYWORDS:
        if kw in value and kw not in allowed:
            return f"The keyword '{kw}' can't be used in the redirect {component}"
    return None


def _redirect_error(a: RedirectAction, listener_protocol: str | None) -> str | None:
    if a.status_code not in ("HTTP_301", "HTTP_302"):
        return f"Redirect status code must be HTTP_301 or HTTP_302, not '{a.status_code}'"
    for component in ("protocol", "host", "port", "path", "query"):
        err = _keyword_error(component, getattr(a, component))
        if err:
            return err
    if a.protocol not in ("HTTP", "HTTPS", "#{protocol}"):
        return f"Redirect protocol must be HTTP, HTTPS or #{{protocol}}, not '{a.protocol}'"
    if a.port != "#{port}" and not (a.port.isdigit() and 1 <= int(a.port) <= 65535):
        return f"Redirect port must be 1-65535 or #{{port}}, not '{a.port}'"
    if not 1 <= len(a.host) <= 128:
        return "Redirect host must be 1-128 characters long"
    if not 1 <= len(a.path) <= 128 or not a.path.startswith("/"):
        return "Redirect path must be 1-128 characters long and start with '/'"
    if len(a.query) > 128 or a.query.startswith("?"):
        return "Redirect query must be 0-128 characters long, without a leading '?'"
    for component in ("host", "path"):
        if re.search(r"%[0-9A-Fa-f]{2}", getattr(a, component)):
            return f"Redirect {component} must not be percent-encoded"
    lp = listener_protocol.upper() if listener_protocol else None
    if lp == "HTTPS" and a.protocol == "HTTP":
        return "A redirect from HTTPS to HTTP is not allowed"
    same_protocol = a.protocol == "#{protocol}" or (lp is not None and a.protocol == lp)
    if same_protocol and a.host == "#{host}" and a.port == "#{port}" and a.path == "/#{path}":
        return (
            "The redirect must change at least one of protocol, host, port or path "
            "(a query-only change would loop)"
        )
    return None


def _forward_error(a: ForwardAction) -> str | None:
    if not a.target_groups:
        return "A forward action needs at least one target group"
    if len(a.target_groups) > MAX_TARGET_GROUPS_PER_ACTION:
        return f"A forward action can have at most {MAX_TARGET_GROUPS_PER_ACTION} target groups"
    arns = [t.target_group_arn for t in a.target_groups]
    if len(set(arns)) != len(arns):
        return "A target group can appear only once in a forward action"
    for t in a.target_groups:
        if not 0 <= t.weight <= 999:
            return f"Target group weight must be 0-999, not {t.weight}"
    if a.stickiness_enabled:
        d = a.stickiness_duration_seconds
        if d is None or not 1 <= d <= 604800:
            return "Target group stickiness duration must be 1-604800 seconds when stickiness is enabled"
    return None


def _fixed_error(a: FixedResponseAction) -> str | None:
    if not _FIXED_STATUS_RE.match(a.status_code):
        return f"Fixed-response status code must match ^(2|4|5)\\d\\d$, not '{a.status_code}'"
    if a.content_type is not None and a.content_type not in FIXED_RESPONSE_CONTENT_TYPES:
        return f"Fixed-response content type must be one of {', '.join(sorted(FIXED_RESPONSE_CONTENT_TYPES))}"
    if a.message_body is not None and len(a.message_body) > 1024:
        return "Fixed-response message body must be at most 1024 characters"
    return None


def validate_actions(actions: Sequence[Action], *, listener_protocol: str | None = None) -> str | None:
    """Action constraints of spec §1.2.5 and §2; the error message, or None when valid.
    ``listener_protocol`` (HTTP/HTTPS), when known, enables the HTTPS->HTTP redirect check, the
    HTTPS-only authenticate check and a protocol-aware loop check."""
    if not actions:
        return "At least one action is required"
    orders = [a.order for a in actions if a.order is not None]
    if any(not 1 <= o <= 50000 for o in orders):
        return "Action order must be 1-50000"
    if len(set(orders)) != len(orders):
        return "Action orders must be unique within a rule"
    terminal = [a for a in actions if a.type in _TERMINAL]
    if len(terminal) != 1:
        return "A rule must have exactly one forward, redirect or fixed-response action"
    last = terminal[0]
    if last.order is not None and any(
        a.order is not None and a.order > last.order for a in actions if a is not last
    ):
        return "The forward, redirect or fixed-response action must be the last action"
    for a in actions:
        if isinstance(a, ForwardAction):
            err = _forward_error(a)
        elif isinstance(a, RedirectAction):
            err = _redirect_error(a, listener_protocol)
        elif isinstance(a, FixedResponseAction):
            err = _fixed_error(a)
        elif isinstance(a, AuthenticateAction):
            err = None
            if listener_protocol is not None and listener_protocol.upper() != "HTTPS":
                err = f"The '{a.type}' action is supported only on HTTPS listeners"
        else:  # pragma: no cover - Action is a closed union
            err = f"Unknown action {a!r}"
        if err:
            return err
    return None
