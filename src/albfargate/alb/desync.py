"""HTTP desync mitigation: the request classifier and the mode verdict (spec §4.6).

Owns: `classify(head)` -- raw request head (request line + header lines + the empty line) to a
`Classification` (Compliant / Acceptable / Ambiguous / Severe plus the reason code), `classify_parsed`
for a request an HTTP engine has already split, `verdict(classification, mode)` for the three
`routing.http.desync_mitigation_mode` values, and `valid_header_name` for
`routing.http.drop_invalid_header_fields`.

Pure (sans-I/O): bytes in, a decision out; no asyncio, socket or time.

The rules are those of AWS's http-desync-guardian (HDG, `src/raw_request_parser.rs`,
`src/request_analyzer.rs`, `src/http_token_utils.rs`), whose reason codes the ALB reports,
reproduced step by step so that every case of HDG's `tests/*.yaml` classifies the same here:

* raw parsing: lines split at LF; a line without the CR before its LF is `NonCrLfLineTermination`
  (Acceptable); a header line starting with SP/HT is an obs-fold, `MultilineHeader` (Ambiguous) unless
  it continues `Content-Type`; a header line without `:` is `MissingHeaderColon`, a head that stops in
  the middle of a line is `PartialHeaderLine`, one without the empty line is `MissingLastEmptyLine`, a
  request line without a URI is `MissingUri` (all Ambiguous). A request line without a version is
  HTTP/0.9.
* analysis: header names and values by RFC 7230 character classes (CR, LF or NUL anywhere:
  `BadHeader`, Severe; other non-token/non-field characters: `NonCompliantHeader`, Acceptable);
  names that are not `Transfer-Encoding`/`Content-Length` but differ from them only by non-letters
  (or the Unicode look-alikes U+017F and U+0131) are `SuspiciousHeader` (Ambiguous) and are then
  treated as TE/CL; then the TE/CL rules, the method, the version and the URI.
* the worst tier wins; within a tier the first reason found in that order is kept.

HDG quirks kept on purpose (so the local ALB agrees with the real one): versions are compared as
bytes (a version token sorting at or after `HTTP/2` -- which includes lower-case `http/1.1` -- is
out of scope and Compliant; answering 505 to HTTP/2 on an HTTP/1 connection is the proxy's
business), an empty method is not `BadMethod`, an empty `Content-Length` value parses as 0, only
adjacent `chunked` codings count as `MultipleTransferEncodingChunked`, and a head ending in CRLF + CR
(the final LF missing) reads as complete. The proxy classifies whole heads, so the last one does
not arise there.

Bytes after the empty line are ignored, as HDG does. `classify` first tries a precompiled regex that
recognises a plainly compliant head (about 1 µs); every other head gets the full analysis (10-20 µs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

__all__ = [
    "Classification",
    "HeaderTier",
    "Reason",
    "Tier",
    "Verdict",
    "analyze_parsed",
    "classify",
    "classify_parsed",
    "framing_name",
    "valid_header_name",
    "verdict",
]


class Tier(IntEnum):
    """Request safety tier; higher is worse."""

    COMPLIANT = 0
    ACCEPTABLE = 1
    AMBIGUOUS = 2
    SEVERE = 3


class Reason(StrEnum):
    """Classification reasons: the ALB's names (access log `classification_reason`) plus HDG's
    parsing-level ones. Members are `str`, so they are valid `Classification.reason` values."""

    # request-level (ALB list, spec §4.6)
    NON_COMPLIANT_HEADER = "NonCompliantHeader"
    SPACE_IN_URI = "SpaceInUri"
    NON_COMPLIANT_VERSION = "NonCompliantVersion"
    GET_HEAD_ZERO_CONTENT_LENGTH = "GetHeadZeroContentLength"
    EMPTY_HEADER = "EmptyHeader"
    AMBIGUOUS_URI = "AmbiguousUri"
    UNDEFINED_CONTENT_LENGTH_SEMANTICS = "UndefinedContentLengthSemantics"
    UNDEFINED_TRANSFER_ENCODING_SEMANTICS = "UndefinedTransferEncodingSemantics"
    DUPLICATE_CONTENT_LENGTH = "DuplicateContentLength"
    BOTH_TE_CL_PRESENT = "BothTeClPresent"
    SUSPICIOUS_HEADER = "SuspiciousHeader"
    BAD_HEADER = "BadHeader"
    BAD_URI = "BadUri"
    BAD_VERSION = "BadVersion"
    BAD_METHOD = "BadMethod"
    MULTIPLE_CONTENT_LENGTH = "MultipleContentLength"
    BAD_CONTENT_LENGTH = "BadContentLength"
    MULTIPLE_TRANSFER_ENCODING_CHUNKED = "MultipleTransferEncodingChunked"
    BAD_TRANSFER_ENCODING = "BadTransferEncoding"
    # parsing-level (raw HDG only)
    NON_CRLF_LINE_TERMINATION = "NonCrLfLineTermination"
    MULTILINE_HEADER = "MultilineHeader"
    PARTIAL_HEADER_LINE = "PartialHeaderLine"
    MISSING_LAST_EMPTY_LINE = "MissingLastEmptyLine"
    MISSING_HEADER_COLON = "MissingHeaderColon"
    MISSING_URI = "MissingUri"


@dataclass(frozen=True, slots=True)
class Classification:
    tier: Tier
    reason: str | None  # e.g. "BadContentLength"; None when compliant


COMPLIANT: Final = Classification(Tier.COMPLIANT, None)


class Verdict(StrEnum):
    ALLOW = "allow"
    ALLOW_AND_CLOSE = "allow_and_close"  # forward, then close both the client and target connection
    BLOCK = "block"  # 400 and close the client connection


class HeaderTier(IntEnum):
    """Per-header safety (HDG `HeaderSafetyTier`), reported by `analyze_parsed`."""

    COMPLIANT = 0
    NON_COMPLIANT = 1
    BAD = 2


# ---------------------------------------------------------------------------------------------
# verdict


_MODES: Final = ("monitor", "defensive", "strictest")


def verdict(classification: Classification, mode: str) -> Verdict:
    """What the listener does with a classified request (spec §4.6 table).

    monitor: everything is allowed. defensive (the AWS default): Severe is blocked, Ambiguous is
    forwarded but both connections are closed after the response. strictest: only Compliant passes.
    Raises ValueError for a mode that is not one of the three."""
    tier = classification.tier
    if mode == "defensive":
        if tier is Tier.SEVERE:
            return Verdict.BLOCK
        if tier is Tier.AMBIGUOUS:
            return Verdict.ALLOW_AND_CLOSE
        return Verdict.ALLOW
    if mode == "strictest":
        return Verdict.ALLOW if tier is Tier.COMPLIANT else Verdict.BLOCK
    if mode == "monitor":
        return Verdict.ALLOW
    raise ValueError(f"desync mitigation mode must be one of {', '.join(_MODES)}, not {mode!r}")


# ---------------------------------------------------------------------------------------------
# character classes (HDG build.rs tables), as byte strings for bytes.translate(None, delete)

_ALL: Final = bytes(range(256))
_ALNUM: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TCHAR: Final = _ALNUM + b"-_.!#$%&'*+^`|~"
_NON_ALNUM: Final = bytes(b for b in _ALL if b not in _ALNUM)
_VALID_URI: Final = bytes(b for b in _ALL if b > 0x20 and b != 0x7F)
# field-vchar / obs-text / whitespace: VCHAR (HDG counts SP as VCHAR), obs-text, HT
_VALID_VALUE: Final = bytes(b for b in _ALL if 0x20 <= b < 0x7F or b >= 0x80 or b == 0x09)
_WS: Final = b" \t"
_DROP_VALID: Final = _ALNUM + b"-"
_ALNUM_SET: Final = frozenset(_ALNUM)
_TCHAR_SET: Final = frozenset(_TCHAR)

_TE: Final = b"transfer-encoding"
_CL: Final = b"content-length"
_CHUNKED: Final = b"chunked"
_VALID_TE: Final = frozenset((b"chunked", b"compress", b"deflate", b"gzip", b"identity"))
_U64_MAX: Final = 2**64 - 1

_HTTP_0_9: Final = b"HTTP/0.9"
_HTTP_1_0: Final = b"HTTP/1.0"
_HTTP_2: Final = b"HTTP/2"

# Similarity of a header name to TE/CL (HDG `determine_similarity`)
_IDENTICAL: Final = 0
_SAME_LETTERS: Final = 1
_DISTANT: Final = 2
# UTF-8 letters whose upper case is an ASCII letter of TE/CL: U+017F (long s), U+0131 (dotless i)
_LOOKALIKES: Final = {ord("s"): (0xC5, 0xBF), ord("i"): (0xC4, 0xB1)}


def valid_header_name(name: bytes | str) -> bool:
    """Whether `drop_invalid_header_fields` keeps this header: the name matches `[-A-Za-z0-9]+`."""
    if isinstance(name, str):
        return _VALID_NAME_STR.fullmatch(name) is not None
    return bool(name) and not name.translate(None, _DROP_VALID)


_VALID_NAME_STR: Final = re.compile(r"[-A-Za-z0-9]+", re.ASCII)


def framing_name(name: bytes) -> bytes | None:
    """``b"transfer-encoding"`` or ``b"content-length"`` when ``name`` is that header or one the
    classifier reports as `SuspiciousHeader` for it (equal but for non-letters or look-alike letters:
    ``Transfer-Encoding `` with a trailing space, ``\x01Transfer-Encoding``, ``Content_Length``, ...);
    None for any other name. The classifier analyses such a header as the one it resembles, and so does
    the proxy when it frames a non-compliant request's body."""
    if _similarity(_TE, name) != _DISTANT:
        return _TE
    if _similarity(_CL, name) != _DISTANT:
        return _CL
    return None


def _chars_tier(token: bytes, allowed: bytes) -> HeaderTier:
    rest = token.translate(None, allowed)
    if not rest:
        return HeaderTier.COMPLIANT
    if b"\r" in rest or b"\n" in rest or b"\x00" in rest:
        return HeaderTier.BAD
    return HeaderTier.NON_COMPLIANT


def _next_alnum(header: bytes, i: int) -> int:
    n = len(header)
    while i < n and header[i] not in _ALNUM_SET:
        i += 1
    return i


def _next_symbol(header: bytes, i: int) -> int:
    n = len(header)
    while i < n and header[i] <= 0x20:
        i += 1
    return i


def _similarity(important: bytes, header: bytes) -> int:
    """HDG `determine_similarity`: Identical (equal ignoring ASCII case), SameLetters (the letters of
    `important` in order, separated only by non-alphanumerics, look-alike letters allowed), or Distant."""
    n = len(header)
    if n < len(important):
        return _DISTANT
    # Cheap exit, exact: the first alphanumeric character has to match the first letter.
    first = header.lstrip(_NON_ALNUM)[:1].lower()
    if first != important[:1]:
        return _DISTANT
    index = _next_alnum(header, 0)
    identical = index == 0 and len(important) == n
    for c in important:
        if index == n:
            return _DISTANT
        delimiter = c == 0x2D  # '-'
        h = header[index]
        if (h | 0x20 if 65 <= h <= 90 else h) == c:
            same, new_index = True, index + 1
        else:
            pair = _LOOKALIKES.get(c)
            if pair is not None and index + 1 < n and (h, header[index + 1]) == pair:
                same, new_index = True, index + 2
            else:
                same, new_index = False, index + 1
        if not same:
            if not delimiter:
                break
            identical = False
        index = _next_alnum(header, new_index) if delimiter else _next_symbol(header, new_index)
    exhausted = index == n
    if exhausted and identical:
        return _IDENTICAL
    if exhausted or _next_alnum(header, index) == n:
        return _SAME_LETTERS
    return _DISTANT


def _parse_num(value: bytes) -> int | None:
    """HDG `parse_num`: OWS-trimmed ASCII digits that fit in 64 bits (empty is 0); else None."""
    trimmed = value.strip(_WS)
    if not trimmed:
        return 0
    if not trimmed.isdigit():  # bytes.isdigit is ASCII-only
        return None
    number = int(trimmed)
    return number if number <= _U64_MAX else None


def _valid_te(item: bytes) -> bytes | None:
    coding = item.strip(_WS).split(b";", 1)[0].strip(_WS).lower()
    return coding if coding in _VALID_TE else None


# ---------------------------------------------------------------------------------------------
# analysis (HDG `analyze_request_internal`)


class _State:
    """The running verdict: a strictly worse tier replaces the reason, an equal one does not."""

    __slots__ = ("reason", "tier")

    def __init__(self) -> None:
        self.tier = Tier.COMPLIANT
        self.reason: Reason | None = None

    def upgrade(self, tier: Tier, reason: Reason) -> None:
        if tier > self.tier:
            self.tier = tier
            self.reason = reason

    def result(self) -> Classification:
        if self.reason is None:
            return COMPLIANT
        return Classification(self.tier, self.reason)


def _mark(tiers: list[HeaderTier], indexes: Sequence[int], tier: HeaderTier) -> None:
    for i in indexes:
        if tiers[i] < tier:
            tiers[i] = tier


def _analyze(
    method: bytes,
    uri: bytes,
    version: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    state: _State,
) -> tuple[Classification, list[HeaderTier]]:
    if version >= _HTTP_2:  # HTTP/2+ is out of scope (HDG compares versions as bytes)
        return COMPLIANT, [HeaderTier.COMPLIANT] * len(headers)
    if not version.strip(_WS):
        version = _HTTP_0_9

    tiers: list[HeaderTier] = []
    te_indexes: list[int] = []
    cl_indexes: list[int] = []
    for idx, (name, value) in enumerate(headers):
        te_sim = _similarity(_TE, name)
        cl_sim = _similarity(_CL, name) if te_sim == _DISTANT else _DISTANT
        essential = te_sim == _IDENTICAL or cl_sim == _IDENTICAL

        name_tier = _chars_tier(name, _TCHAR)
        tier = name_tier if name_tier is HeaderTier.BAD else max(name_tier, _chars_tier(value, _VALID_VALUE))
        if tier is HeaderTier.BAD:
            state.upgrade(Tier.SEVERE, Reason.BAD_HEADER)
        elif tier is HeaderTier.NON_COMPLIANT:
            state.upgrade(Tier.ACCEPTABLE, Reason.NON_COMPLIANT_HEADER)

        trimmed = name.strip(_WS)
        if not trimmed or trimmed[0] == 0x3A:  # empty, or starts with ':'
            tier = HeaderTier.BAD
            state.upgrade(Tier.AMBIGUOUS, Reason.EMPTY_HEADER)
        elif not essential and tier is not HeaderTier.BAD:
            if te_sim == _SAME_LETTERS:
                te_indexes.append(idx)
            elif cl_sim == _SAME_LETTERS:
                cl_indexes.append(idx)
            if te_sim == _SAME_LETTERS or cl_sim == _SAME_LETTERS:
                tier = HeaderTier.NON_COMPLIANT
                state.upgrade(Tier.AMBIGUOUS, Reason.SUSPICIOUS_HEADER)
        elif te_sim == _IDENTICAL:
            te_indexes.append(idx)
        elif cl_sim == _IDENTICAL:
            cl_indexes.append(idx)
        tiers.append(tier)

    if te_indexes or cl_indexes:
        _check_te_cl(method, version, headers, tiers, te_indexes, cl_indexes, state)

    # method: every byte a token character
    if method.translate(None, _TCHAR):
        state.upgrade(Tier.SEVERE, Reason.BAD_METHOD)

    _check_version(version, state)

    invalid = uri.translate(None, _VALID_URI)
    if invalid:
        if b"\r" in invalid or b"\n" in invalid or b"\x00" in invalid:
            state.upgrade(Tier.SEVERE, Reason.BAD_URI)
        elif invalid.strip(b" "):
            state.upgrade(Tier.AMBIGUOUS, Reason.AMBIGUOUS_URI)
        else:
            state.upgrade(Tier.ACCEPTABLE, Reason.SPACE_IN_URI)

    return state.result(), tiers


def _check_version(version: bytes, state: _State) -> None:
    trimmed = version.strip(_WS)
    if trimmed == _HTTP_0_9:
        state.upgrade(Tier.ACCEPTABLE, Reason.NON_COMPLIANT_VERSION)
        return
    if not (len(trimmed) == 8 and trimmed.startswith(b"HTTP/1.") and 0x30 <= trimmed[7] <= 0x39):
        state.upgrade(Tier.SEVERE, Reason.BAD_VERSION)
    elif len(trimmed) != len(version) or trimmed[7] > 0x31:
        state.upgrade(Tier.ACCEPTABLE, Reason.NON_COMPLIANT_VERSION)


def _check_te_cl(
    method: bytes,
    version: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    tiers: list[HeaderTier],
    te_indexes: list[int],
    cl_indexes: list[int],
    state: _State,
) -> None:
    # message-body headers on HTTP/1.0 and HTTP/0.9 (HDG compares versions as bytes)
    if version <= _HTTP_1_0 and te_indexes:
        state.upgrade(Tier.AMBIGUOUS, Reason.UNDEFINED_TRANSFER_ENCODING_SEMANTICS)
        _mark(tiers, te_indexes, HeaderTier.NON_COMPLIANT)
        _mark(tiers, cl_indexes, HeaderTier.BAD)
        return
    if version < _HTTP_1_0 and cl_indexes:
        state.upgrade(Tier.AMBIGUOUS, Reason.UNDEFINED_CONTENT_LENGTH_SEMANTICS)
        _mark(tiers, cl_indexes, HeaderTier.NON_COMPLIANT)
        return

    # Transfer-Encoding: known codings only, `chunked` not twice in a row
    has_chunked = False
    all_bad = False
    for i in te_indexes:
        for item in headers[i][1].split(b","):
            coding = _valid_te(item)
            if coding is None:
                tiers[i] = HeaderTier.BAD
                state.upgrade(Tier.SEVERE, Reason.BAD_TRANSFER_ENCODING)
                continue
            is_chunked = coding == _CHUNKED
            if has_chunked and is_chunked:
                all_bad = True
                tiers[i] = HeaderTier.BAD
                state.upgrade(Tier.SEVERE, Reason.MULTIPLE_TRANSFER_ENCODING_CHUNKED)
            has_chunked = is_chunked
    if all_bad:
        _mark(tiers, te_indexes, HeaderTier.BAD)
    has_te = bool(te_indexes)

    # Content-Length: one parseable value; repeats of the same value are only Ambiguous
    cl_value: int | None = None
    all_bad = False
    for i in cl_indexes:
        number = _parse_num(headers[i][1])
        if number is None:
            all_bad = True
            state.upgrade(Tier.SEVERE, Reason.BAD_CONTENT_LENGTH)
        elif cl_value is None:
            cl_value = number
        elif cl_value != number:
            all_bad = True
            state.upgrade(Tier.SEVERE, Reason.MULTIPLE_CONTENT_LENGTH)
        else:
            tiers[i] = HeaderTier.BAD
            state.upgrade(Tier.AMBIGUOUS, Reason.DUPLICATE_CONTENT_LENGTH)
    if all_bad:
        _mark(tiers, cl_indexes, HeaderTier.BAD)

    if method in (b"GET", b"HEAD"):  # a body has no defined semantics (RFC 7231 §4.3)
        if has_te:
            state.upgrade(Tier.AMBIGUOUS, Reason.UNDEFINED_TRANSFER_ENCODING_SEMANTICS)
            _mark(tiers, te_indexes, HeaderTier.NON_COMPLIANT)
        if cl_value is not None:
            if cl_value == 0:
                state.upgrade(Tier.ACCEPTABLE, Reason.GET_HEAD_ZERO_CONTENT_LENGTH)
            else:
                state.upgrade(Tier.AMBIGUOUS, Reason.UNDEFINED_CONTENT_LENGTH_SEMANTICS)
            _mark(tiers, cl_indexes, HeaderTier.NON_COMPLIANT)

    if cl_value is not None and has_te:
        _mark(tiers, cl_indexes, HeaderTier.BAD)
        state.upgrade(Tier.AMBIGUOUS, Reason.BOTH_TE_CL_PRESENT)


def analyze_parsed(
    method: bytes, uri: bytes, version: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> tuple[Classification, tuple[HeaderTier, ...]]:
    """Classify a request an HTTP engine has already split (HDG `analyze_parsed_request`), and
    report each header's own tier in order. `version` is b"" for HTTP/0.9."""
    result, tiers = _analyze(method, uri, version, headers, _State())
    return result, tuple(tiers)


def classify_parsed(
    method: bytes, uri: bytes, version: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> Classification:
    """Classification of an already-parsed request (no parsing-level reasons can arise)."""
    return _analyze(method, uri, version, headers, _State())[0]


# ---------------------------------------------------------------------------------------------
# raw parsing (HDG `raw_request_parser.rs` + `HttpRequestData::parse`)


def _last_token(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """HDG `RequestBuffer::last_token(SP)` on buf[pos:end]: the version, found by skipping trailing
    non-token characters and then looking back for a space. Returns (token_begin, token_end, new_end);
    a token with begin > end is partial (no version found)."""
    current = end - 1 if end > pos else pos
    while pos < current:  # skip trailing non-tchars (spaces included)
        tchar = buf[current] in _TCHAR_SET
        current -= 1
        if tchar:
            break
    if pos < current:  # then look back for the space before the version
        sp = buf.rfind(b" ", pos + 1, current + 1)
        current = sp if sp != -1 else pos
    if pos <= current < end:
        begin = current + 1 if buf[current] == 0x20 else current
        return begin, end, begin - 1
    return 1, 0, end


def _parse_and_analyze(head: bytes) -> Classification:
    state = _State()
    n = len(head)

    # request line
    lf = head.find(b"\n")
    line_end = n if lf == -1 else lf
    pos = line_end + 1
    if line_end > 0 and head[line_end - 1] == 0x0D:
        line_end -= 1
    else:
        state.upgrade(Tier.ACCEPTABLE, Reason.NON_CRLF_LINE_TERMINATION)
    sp = head.find(b" ", 0, line_end)
    method_end = line_end if sp == -1 else sp
    method = head[:method_end]
    rl_pos = method_end + 1
    v_begin, v_end, rl_end = _last_token(head, rl_pos, line_end)
    version = head[v_begin:v_end] if v_begin < v_end else b""
    uri_partial = rl_pos > rl_end
    if (uri_partial and version.startswith(b"HTTP/1.")) or (v_begin >= v_end and rl_pos >= rl_end):
        state.upgrade(Tier.AMBIGUOUS, Reason.MISSING_URI)
        uri = head[rl_pos:rl_end] if rl_pos < rl_end else b""
    elif uri_partial:  # no version: HTTP/0.9, the last token is the URI
        uri = version
        version = b""
    else:
        uri = head[rl_pos:rl_end] if rl_pos < rl_end else b""

    # header lines
    headers: list[tuple[bytes, bytes]] = []
    folded_name: bytes | None = None
    media_type = False
    while True:
        line_begin = pos
        if pos >= n:  # past the end: an empty, unterminated line
            line_end = pos
        else:
            lf = head.find(b"\n", pos)
            line_end = n if lf == -1 else lf
        pos = line_end + 1
        if line_end > line_begin and head[line_end - 1] == 0x0D:
            line_end -= 1
        else:
            state.upgrade(Tier.ACCEPTABLE, Reason.NON_CRLF_LINE_TERMINATION)
        if line_begin >= line_end:
            break  # the empty line: end of the head
        multi_line = head[line_begin] in (0x20, 0x09)
        colon = head.find(b":", line_begin, line_end)
        partial = colon == -1
        first = head[line_begin : line_end if partial else colon]
        if not multi_line and not partial:
            media_type = first.lower() == b"content-type"
            folded_name = first
        if multi_line and folded_name is not None and (media_type or partial):
            headers.append((folded_name, first))  # continuation of the previous header's value
        else:
            headers.append((first, b"" if partial else head[colon + 1 : line_end]))
        if partial and not multi_line:
            state.upgrade(Tier.AMBIGUOUS, Reason.MISSING_HEADER_COLON)
        if multi_line and not media_type:
            state.upgrade(Tier.AMBIGUOUS, Reason.MULTILINE_HEADER)
        if pos > n:
            state.upgrade(Tier.AMBIGUOUS, Reason.PARTIAL_HEADER_LINE)
            break
        if pos == n:
            state.upgrade(Tier.AMBIGUOUS, Reason.MISSING_LAST_EMPTY_LINE)
            break

    return _analyze(method, uri, version, headers, state)[0]


# ---------------------------------------------------------------------------------------------
# fast path: a plainly compliant head, recognised by one precompiled regex

_TCHAR_RE: Final = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
_NAME_RE: Final = _TCHAR_RE + rb"+"
# A header name that could be TE/CL or look like them: at least 14 token characters and the first
# alphanumeric a t or c (a necessary condition for HDG's similarity). Such names go to the full
# analysis, except one exact Content-Length or Transfer-Encoding: chunked (below).
_NOT_TE_CL_LIKE: Final = rb"(?!(?=" + _TCHAR_RE + rb"{14})[-!#$%&'*+.^_`|~]*[TtCc])"
_PLAIN_HEADER: Final = _NOT_TE_CL_LIKE + _NAME_RE + rb":[\t\x20-\x7e\x80-\xff]*\r\n"
_URI_RE: Final = rb"[\x21-\x7e\x80-\xff]+"
# GET/HEAD/anything on HTTP/1.0 or 1.1 with plain headers only
_FAST_NO_BODY: Final = re.compile(
    _NAME_RE + rb" " + _URI_RE + rb" HTTP/1\.[01]\r\n(?:" + _PLAIN_HEADER + rb")*\r\n"
)
# a request with a body on HTTP/1.1: exactly one `Content-Length: <digits>` (at most 18 digits, so
# it fits in 64 bits) or exactly one `Transfer-Encoding: chunked`, and plain headers otherwise
_FAST_ONE_BODY_HEADER: Final = re.compile(
    rb"(?!(?:GET|HEAD) )" + _NAME_RE + rb" " + _URI_RE + rb" HTTP/1\.1\r\n"
    rb"(?:" + _PLAIN_HEADER + rb")*"
    rb"(?:(?i:content-length):[ \t]*[0-9]{1,18}|(?i:transfer-encoding):[ \t]*(?i:chunked))[ \t]*\r\n"
    rb"(?:" + _PLAIN_HEADER + rb")*\r\n"
)


def classify(head: bytes) -> Classification:
    """Classify a raw request head (request line, header lines, the empty line) per spec §4.6.

    A head that is plainly compliant (token method, URI of visible characters, HTTP/1.0 or 1.1, CRLF
    lines of token names and field values, nothing named like TE/CL except one plain Content-Length
    or `Transfer-Encoding: chunked` on a non-GET/HEAD HTTP/1.1 request) is recognised by one regex
    match and returns at once; anything else takes the full HDG parse and analysis. Never raises for
    any input bytes."""
    if _FAST_NO_BODY.match(head) is not None or _FAST_ONE_BODY_HEADER.match(head) is not None:
        return COMPLIANT
    return _parse_and_analyze(head)


def _classify_slow(head: bytes) -> Classification:
    """The full analysis without the fast path (for tests that check the two agree)."""
    return _parse_and_analyze(head)
