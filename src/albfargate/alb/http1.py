"""HTTP/1.1 framing and head parsing for the local ALB (pure: bytes in, decisions out; no I/O, no clock).

Owns the size limits of spec §4.4, finding where a head ends in a buffer (:func:`head_end`), the
chunked-body delimiter (:class:`ChunkedFramer`), the request-head parsers (:func:`parse_request_head`,
a well-formed head by one regex and C-level string methods, any other by
:func:`parse_request_head_general`, which frames what the desync mode lets through) and the
response-head parsers (:func:`parse_response_head` / :func:`parse_response_head_general`), each pair
property-tested equal. :class:`ProtocolError` carries the status the ALB owes when a peer breaks framing.

The request head is framed byte-exactly here, not by httptools: the desync classifier and the size
limits look at the raw bytes, and httptools would refuse or normalise what monitor mode must forward."""

from __future__ import annotations

import re
from typing import Final

from albfargate.alb import desync
from albfargate.alb.headers import (
    KIND_CONTENT_LENGTH,
    KIND_EXPECT,
    KIND_NOT_TOKEN,
    KIND_OF,
    KIND_PLAIN,
    KIND_SUSPICIOUS,
    KIND_TRANSFER_ENCODING,
)

# ---------------------------------------------------------------------------------------------- limits
# Spec §4.4: request line 16K, one header line 16K, whole request head 64K -> 400; response head from
# a target 32K -> 502.
MAX_REQUEST_LINE: Final = 16 * 1024
MAX_HEADER_LINE: Final = 16 * 1024
MAX_REQUEST_HEAD: Final = 64 * 1024
MAX_RESPONSE_HEAD: Final = 32 * 1024
# 414 for a URL above this many bytes (*inferred*: AWS documents 414 "URL or query string too large"
# without a figure; 8 KiB is nginx's request-line buffer, which the ALB's front end descends from).
MAX_URL: Final = 8 * 1024

_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
_BLANK_LINE: Final = re.compile(rb"\n\r?\n")


def head_end(buf: bytes | bytearray, start: int) -> int:
    """Where the first blank line at or after ``start`` ends (what ``_HEAD_END.search`` finds: CRLF CRLF,
    or either line end a bare LF), -1 when there is none.

    A blank line is an LF, an optional CR and an LF (``_BLANK_LINE``): the first LF CR LF (the end of a
    CRLF CRLF, nearly always) unless an LF LF comes before it. Two C-level searches (a regex search costs
    more than the rest of the framing, and each search call costs more than its scan of a short head)."""
    i = buf.find(b"\n\r\n", start)
    if i < 0:
        j = buf.find(b"\n\n", start)
        return -1 if j < 0 else j + 2
    # an LF LF starting at or before i (it cannot start at i: an LF CR LF does) ends an earlier blank line
    j = buf.find(b"\n\n", start, i + 2)
    return i + 3 if j < 0 else j + 2


def take_bytes(buf: bytearray, end: int) -> bytes:
    """The first ``end`` bytes of ``buf``, taken off it (one copy when they are all of it, the common
    case: nothing pipelined behind a head)."""
    if end == len(buf):
        out = bytes(buf)
        buf.clear()
    else:
        out = bytes(buf[:end])
        del buf[:end]
    return out


_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_CTL_OR_SPACE: Final = re.compile(rb"[\x00-\x20\x7f]")
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    }
)
_RESP_HOP: Final = frozenset({b"connection", b"keep-alive", b"proxy-connection"})


class ProtocolError(Exception):
    """The peer broke HTTP framing; ``status`` is the response the ALB owes the client."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(reason or str(status))
        self.status = status


# ------------------------------------------------------------------------------------ chunked framing
class ChunkedFramer:
    """Finds where a chunked body ends in a byte stream without copying or decoding its payload.

    ``feed(data)`` returns how many leading bytes of ``data`` belong to the body; once ``done`` is true
    the rest of ``data`` is the next message. Malformed framing raises :class:`ValueError`."""

    __slots__ = ("_line", "_remaining", "_state", "done")

    SIZE = 0  # one assignment per line: mypyc compiles no tuple unpacking in a class body
    DATA = 1
    DATA_END = 2
    TRAILER = 3
    MAX_LINE = 8192  # chunk-size line with extensions, or one trailer line

    def __init__(self) -> None:
        self._state = self.SIZE
        self._remaining = 0
        self._line = b""
        self.done = False

    def feed(self, data: bytes | bytearray | memoryview) -> int:
        pos = 0
        n = len(data)
        while pos < n and not self.done:
            st = self._state
            if st == self.DATA:
                take = min(self._remaining, n - pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self.DATA_END
                continue
            nl = bytes(data[pos : pos + self.MAX_LINE + 2]).find(b"\n")
            if nl < 0:
                self._line += bytes(data[pos:n])
                if len(self._line) > self.MAX_LINE:
                    raise ValueError("chunk line too long")
                return n
            line = self._line + bytes(data[pos : pos + nl])
            self._line = b""
            pos += nl + 1
            if len(line) > self.MAX_LINE:
                raise ValueError("chunk line too long")
            if line[-1:] == b"\r":
                line = line[:-1]
            if st == self.SIZE:
                size_text = line.split(b";", 1)[0].strip(b" \t")
                if not size_text or len(size_text) > 16 or size_text.strip(_HEX_DIGITS):
                    raise ValueError("bad chunk size")
                size = int(size_text, 16)
                if size == 0:
                    self._state = self.TRAILER
                else:
                    self._remaining = size
                    self._state = self.DATA
            elif st == self.DATA_END:
                if line:
                    raise ValueError("missing CRLF after chunk data")
                self._state = self.SIZE
            else:  # TRAILER
                if not line:
                    self.done = True
        return pos


class RequestHead:
    """A request head split into what the shell needs."""

    __slots__ = (
        "body_chunked",
        "body_length",
        "close",
        "expect_continue",
        "headers",
        "host",
        "host_count",
        "kinds",
        "method",
        "path",
        "query",
        "target",
        "upgrade",
        "user_agent",
        "version",
    )

    def __init__(self) -> None:
        self.method = ""
        self.target = ""
        self.version = ""
        self.path = ""
        self.query = ""
        self.headers: list[tuple[str, str]] = []
        self.body_length = 0
        self.body_chunked = False
        self.close = False
        self.upgrade: str | None = None
        self.expect_continue = False
        self.host: str | None = None  # the first Host header
        self.host_count = 0  # how many Host headers there are
        self.user_agent: str | None = None
        # the KIND_* of each header (headers.forward_block), when the one-pass parser read the head
        self.kinds: list[int] | None = None


# A well-formed origin-form request head below every size limit (CRLF only, an upper-case method,
# token header names right before the colon, no obs-fold, no bare CR): parse_request_head's fast path.
_REQ_WELL_FORMED: Final = re.compile(
    rb"[A-Z]+ /[!-~]* HTTP/1\.[01]\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*\r\n"
)
_REQ_SPECIAL: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "upgrade", "expect", "host", "user-agent"}
)


def _content_length(value: str, seen: int | None) -> int:
    """One Content-Length header value (a comma list is allowed when every element agrees) checked against
    the value already ``seen``: 400 when malformed, over 19 digits, or conflicting."""
    for v in value.split(","):
        v = v.strip()
        if not v.isdigit() or len(v) > 19:
            raise ProtocolError(400, "bad content-length")
        n = int(v)
        if seen is not None and seen != n:
            raise ProtocolError(400, "conflicting content-length")
        seen = n
    assert seen is not None  # split() yields at least one element; each one sets ``seen`` or raises
    return seen


def parse_request_head(head: bytes) -> RequestHead:
    """Split a complete request head (request line + header lines + blank line). Raises
    :class:`ProtocolError` with the status the ALB answers: 400, 414, 501, 505.

    A well-formed head short enough to be under every limit (the common case) is validated by one regex
    and split with C-level str methods; any other goes line by line (:func:`parse_request_head_general`).
    Both give the same result (property-tested)."""
    if len(head) > MAX_URL or _REQ_WELL_FORMED.fullmatch(head) is None:
        return parse_request_head_general(head)
    text = head.decode("latin-1")
    eol = text.index("\r\n")
    method, target, version = text[:eol].split(" ")
    p = RequestHead()
    p.method = method
    p.target = target
    p.version = version
    path, _, query = target.split("#", 1)[0].partition("?")
    p.path, p.query = path, query
    if eol + 4 == len(text):
        hdrs: list[tuple[str, str]] = []
    else:
        hdrs = [
            (n, v.strip(" \t")) for n, _, v in [x.partition(":") for x in text[eol + 2 : -4].split("\r\n")]
        ]
    p.headers = hdrs
    cl: int | None = None
    te: list[str] = []
    conn_tokens: list[str] = []
    special = _REQ_SPECIAL
    for name, value in hdrs:
        lname = name.lower()
        if lname in special:
            cl = _note_header(p, lname, value, cl, te, conn_tokens)
    return _finish_request(p, cl, te, conn_tokens)


def parse_request_head_general(head: bytes, non_compliant: bool = False) -> RequestHead:
    """:func:`parse_request_head` for any head (line by line).

    What the desync mode lets through is framed here, not refused (spec §4.6): the request line is split
    as the classifier splits it (the method up to the first space, the version the last token), so a URI
    with spaces or control characters (`SpaceInUri`, `AmbiguousUri`, and in monitor mode `BadUri`) is
    kept, with every space, control byte and DEL percent-encoded (:func:`_escape_target`): that is the
    request target the rules see and the target receives, which can then never read a second request
    line or a version out of it. A version-less request line is HTTP/0.9 (forwarded as HTTP/1.0, closed
    after the response) only when no header line follows: with headers it cannot be told apart from a
    URI that carried a bare LF (``GET /a\nHost: evil HTTP/1.1``), and is refused.

    ``non_compliant`` (the classifier did not find the head Compliant): a header whose name the
    classifier reads as Transfer-Encoding or Content-Length (`SuspiciousHeader`: ``Content-Length :``,
    ``\x01Transfer-Encoding``, ``Transfer_Encoding``, ...) frames the body as that header, as the
    classifier analysed it, and like every TE/CL is not forwarded as it came: the target gets the one
    framing header the proxy writes, so it frames the body as the proxy did."""
    lines = _split_lines(head)
    if not lines:
        raise ProtocolError(400, "empty request")
    rl = lines[0]
    if len(rl) > MAX_REQUEST_LINE:
        raise ProtocolError(400, "request line too long")
    parts = rl.split(b" ")
    if len(parts) != 3:
        parts = _split_request_line(rl, has_headers=len(lines) > 1)
    method_b, target_b, version_b = parts
    if not method_b.isalpha() and not re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", method_b):
        raise ProtocolError(400, "bad method")
    if not version_b.startswith(b"HTTP/"):
        raise ProtocolError(400, "bad version")
    if version_b not in (b"HTTP/1.1", b"HTTP/1.0"):
        if version_b == b"HTTP/0.9":
            version_b = b"HTTP/1.0"  # no keep-alive; the target gets an HTTP/1.1 request as always
        elif re.fullmatch(rb"HTTP/\d\.\d", version_b):
            if version_b.startswith(b"HTTP/1."):
                version_b = b"HTTP/1.1"
            else:
                raise ProtocolError(505, "unsupported version")
        else:
            raise ProtocolError(400, "bad version")
    if len(target_b) > MAX_URL:
        raise ProtocolError(414, "URL too long")
    if not target_b:
        raise ProtocolError(400, "bad request target")
    if _CTL_OR_SPACE.search(target_b):
        target_b = _escape_target(target_b)
        if len(target_b) > MAX_URL:
            raise ProtocolError(414, "URL too long")
    p = RequestHead()
    p.method = method_b.decode("latin-1")
    p.target = target_b.decode("latin-1")
    p.version = version_b.decode("latin-1")
    t = p.target
    if not t.startswith("/"):
        if "://" in t:  # absolute form: path from the URI (Host handled by headers.forward_headers)
            rest = t.split("://", 1)[1]
            slash = rest.find("/")
            t = rest[slash:] if slash >= 0 else "/"
        elif t == "*" and p.method == "OPTIONS":
            t = "*"
        else:
            raise ProtocolError(400, "bad request target")
    t = t.split("#", 1)[0]
    path, _, query = t.partition("?")
    p.path, p.query = path, query
    hdrs = p.headers
    cl: int | None = None
    te: list[str] = []
    conn_tokens: list[str] = []
    for line in lines[1:]:
        if len(line) > MAX_HEADER_LINE:
            raise ProtocolError(400, "header line too long")
        if b"\r" in line:  # a bare CR is never forwarded, whatever the desync mode
            raise ProtocolError(400, "bare CR in a header line")
        if not line or line[:1] in (b" ", b"\t"):
            continue  # obs-fold / whitespace-only lines are not forwarded
        name_b, sep, value_b = line.partition(b":")
        if not sep or not name_b:
            continue  # MissingHeaderColon / EmptyHeader: classified Ambiguous, dropped here
        # whitespace around a name is not part of it (``X-Custom :``): neither forwarded nor matched
        name = name_b.strip(b" \t").decode("latin-1")
        value = value_b.strip(b" \t").decode("latin-1")
        lname = name.lower()
        if non_compliant and lname not in ("transfer-encoding", "content-length"):
            framing = desync.framing_name(name_b)
            if framing is not None:  # SuspiciousHeader: framed as the header it resembles
                lname = name = framing.decode("latin-1")
        cl = _note_header(p, lname, value, cl, te, conn_tokens)
        hdrs.append((name, value))
    return _finish_request(p, cl, te, conn_tokens)


# ------------------------------------------------------------------------------- the one-pass parser
# The header names the shell and the forwarding rules act on have a kind (headers.KIND_*): one dictionary
# lookup per header gives it (and whether the name is a token), instead of lower-casing and looking the
# name up in the parser, in forward_headers and again for the hop-by-hop headers.
_KIND_NAME: Final = (
    "",
    "host",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "expect",
)
_TOKEN_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TCHAR_SYMBOLS: Final = "!#$%&'*+-.^_`|~"
# The kinds of the names seen so far (names repeat: a few dozen cover nearly all traffic); bounded.
_NAME_KINDS: Final[dict[str, int]] = {}
_NAME_KINDS_MAX: Final = 4096


def header_kind(name: str) -> int:
    """The ``KIND_*`` of a request header name as received (``KIND_NOT_TOKEN`` when it is no token;
    ``KIND_SUSPICIOUS`` for a name of 14 or more characters whose first letter or digit is a t or c,
    other than Content-Length and Transfer-Encoding themselves: the names the desync classifier's fast
    path leaves to its full analysis, which may find them similar to TE/CL)."""
    kind = _NAME_KINDS.get(name)
    if kind is not None:
        return kind
    if _TOKEN_NAME.fullmatch(name) is None:
        kind = KIND_NOT_TOKEN
    else:
        kind = KIND_OF.get(name.lower(), KIND_PLAIN)
        if kind != KIND_CONTENT_LENGTH and kind != KIND_TRANSFER_ENCODING and len(name) >= 14:
            first = name.lstrip(_TCHAR_SYMBOLS)[:1]
            if first in ("t", "T", "c", "C"):
                kind = KIND_SUSPICIOUS
    if len(_NAME_KINDS) < _NAME_KINDS_MAX:
        _NAME_KINDS[name] = kind
    return kind


# The bytes of a plain head: printable ASCII, space, CR, LF (no tab, no obs-text, no other control).
_PLAIN_BYTES: Final = bytes(range(0x20, 0x7F)) + b"\r\n"
_PLAIN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
_CHUNKED_VALUES: Final = frozenset({"chunked", "Chunked", "CHUNKED"})


def parse_plain_request_head(head: bytes) -> RequestHead | None:
    """The request head in one pass when it is *plain*, else None (the caller classifies and parses it as
    any other head: :func:`albfargate.alb.desync.classify`, :func:`parse_request_head`).

    Plain: at most ``MAX_URL`` bytes of printable ASCII, spaces and CRLF line ends (no bare CR or LF, no
    tab, no obs-text), a request line ``METHOD /target HTTP/1.x`` with a common method, header lines
    ``token:value``, no name the classifier's fast path leaves to its full analysis, and at most one
    Content-Length (digits) or ``Transfer-Encoding: chunked``, only on a POST/PUT/...  HTTP/1.1 request.
    Such a head is what :func:`albfargate.alb.desync.classify` finds Compliant by its fast path and what
    :func:`parse_request_head` splits by its fast path, and this gives the same result (property-tested);
    it also records each header's ``KIND_*`` (``kinds``) for :func:`albfargate.alb.headers.forward_block`.
    Raises :class:`ProtocolError` as :func:`parse_request_head` does."""
    if len(head) > MAX_URL or head.translate(None, _PLAIN_BYTES):
        return None
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    n = len(lines)
    if n < 3 or lines[n - 1] or lines[n - 2] or text.count("\n") != n - 1 or text.count("\r") != n - 1:
        return None
    method, _, rest = lines[0].partition(" ")
    target, _, version = rest.partition(" ")
    if (
        method not in _PLAIN_METHODS
        or not target.startswith("/")
        or (version != "HTTP/1.1" and version != "HTTP/1.0")
    ):
        return None
    p = RequestHead()
    p.method = method
    p.target = target
    p.version = version
    path, _, query = target.partition("#")[0].partition("?")
    p.path = path
    p.query = query
    hdrs = p.headers
    kinds: list[int] = []
    cl: int | None = None
    te: list[str] = []
    conn_tokens: list[str] = []
    framing = 0  # Content-Length / Transfer-Encoding headers
    for i in range(1, n - 2):
        line = lines[i]
        name, sep, value = line.partition(":")
        if not sep:
            return None
        kind = header_kind(name)
        if kind >= KIND_SUSPICIOUS:
            return None
        if value.startswith(" "):
            value = value[1:]
            if value.startswith(" ") or value.endswith(" "):
                value = value.strip(" ")
        elif value.endswith(" "):
            value = value.strip(" ")
        if kind <= KIND_EXPECT and kind != KIND_PLAIN:
            if kind in (KIND_CONTENT_LENGTH, KIND_TRANSFER_ENCODING):
                # one framing header, only on an HTTP/1.1 request that may have a body (checked before it
                # is taken in: a second one is the classifier's business, not a parse error)
                framing += 1
                if framing > 1 or version != "HTTP/1.1" or method == "GET" or method == "HEAD":
                    return None
                if kind == KIND_CONTENT_LENGTH:
                    if not value.isdigit() or len(value) > 18:
                        return None
                elif value not in _CHUNKED_VALUES and value.lower() != "chunked":
                    return None
            cl = _note_header(p, _KIND_NAME[kind], value, cl, te, conn_tokens)
        hdrs.append((name, value))
        kinds.append(kind)
    p.kinds = kinds
    return _finish_request(p, cl, te, conn_tokens)


def _split_request_line(rl: bytes, has_headers: bool) -> list[bytes]:
    """Method, request target and version of a request line that is not three space-separated parts,
    split as the desync classifier splits it: the method is what precedes the first space, the version
    the last space-separated token when it starts with ``HTTP/``, the target all in between (spaces
    included, the outer ones trimmed). One token after the method is an HTTP/0.9 request, accepted only
    without header lines. ProtocolError(400) for anything else."""
    sp = rl.find(b" ")
    rest = rl[sp + 1 :].strip(b" ") if sp > 0 else b""
    if not rest:
        raise ProtocolError(400, "malformed request line")
    last = rest.rfind(b" ")
    if last == -1:
        if has_headers:
            raise ProtocolError(400, "request line without a version, followed by header lines")
        return [rl[:sp], rest, b"HTTP/0.9"]
    version = rest[last + 1 :]
    if not version.startswith(b"HTTP/"):
        raise ProtocolError(400, "malformed request line")
    return [rl[:sp], rest[:last].rstrip(b" "), version]


def _escape_target(target: bytes) -> bytes:
    """``target`` with every space, control byte and DEL percent-encoded (``%20``, ``%09``, ``%7F``...):
    the bytes sent to the target for a URI the desync mode lets through, so that no raw space or CTL
    reaches it (a space would end the URI there; a CR, LF or NUL could end the line)."""
    return _CTL_OR_SPACE.sub(_percent, target)


def _percent(m: re.Match[bytes]) -> bytes:
    return b"%%%02X" % m[0][0]


def _note_header(
    p: RequestHead, lname: str, value: str, cl: int | None, te: list[str], conn_tokens: list[str]
) -> int | None:
    """Take in one request header (lower-cased name) the shell acts on: Host and User-Agent go to ``p``
    (the first Host), Transfer-Encoding and Connection tokens to ``te`` / ``conn_tokens``, Upgrade and
    Expect to ``p``; returns the Content-Length so far (``cl``, checked by :func:`_content_length`).
    Any other name changes nothing. Both request-head parsers call it."""
    if lname == "host":
        p.host_count += 1
        if p.host is None:
            p.host = value
    elif lname == "user-agent":
        p.user_agent = value
    elif lname == "content-length":
        return _content_length(value, cl)
    elif lname == "transfer-encoding":
        # a coding's parameters (`chunked;ext=1`) do not change which coding it is
        te.extend(c for c in (x.split(";", 1)[0].strip().lower() for x in value.split(",")) if c)
    elif lname == "connection":
        conn_tokens.extend(x.strip().lower() for x in value.split(","))
    elif lname == "upgrade":
        p.upgrade = value
    elif lname == "expect":
        p.expect_continue = value.lower() == "100-continue"
    return cl


def _finish_request(p: RequestHead, cl: int | None, te: list[str], conn_tokens: list[str]) -> RequestHead:
    """Body framing and connection handling from the headers parse_request_head collected."""
    if te:
        for x in te:
            if x not in ("chunked", "identity"):
                raise ProtocolError(501, "unsupported transfer-encoding")
        if te.count("chunked") > 1 or (te[-1] != "chunked" and "chunked" in te):
            raise ProtocolError(400, "bad transfer-encoding")
        if "chunked" in te:
            p.body_chunked = True
            cl = None
    if p.version == "HTTP/1.0":
        p.close = "keep-alive" not in conn_tokens
    else:
        p.close = "close" in conn_tokens
    if p.upgrade is not None and "upgrade" not in conn_tokens:
        p.upgrade = None
    p.body_length = cl or 0
    return p


def request_line_of(head: bytes) -> str:
    line = head.split(b"\n", 1)[0].rstrip(b"\r")[:8192]
    return line.decode("latin-1", "replace")


# The shape of a response head parse_response_head reads in one pass (CRLF only, token names right before
# the colon, no obs-fold, no bare CR); anything else goes the general way. (Kept as the tests' statement of
# that shape; the reader itself checks it with C-level string methods, line by line.)
_RESP_WELL_FORMED: Final = re.compile(
    rb"HTTP/1\.[0-9] [0-9]{3}(?: [^\r\n]*)?\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*\r\n"
)
# What parse_response_head does with a response header, by its lower-cased name.
_R_PLAIN: Final = 0
_R_CONNECTION: Final = 1
_R_HOP: Final = 2  # keep-alive, proxy-connection: cut, like Connection
_R_CONTENT_LENGTH: Final = 3
_R_TRANSFER_ENCODING: Final = 4
_R_SET_COOKIE: Final = 5
_R_NOT_TOKEN: Final = 6
_R_KIND_OF: Final[dict[str, int]] = {
    "connection": _R_CONNECTION,
    "keep-alive": _R_HOP,
    "proxy-connection": _R_HOP,
    "content-length": _R_CONTENT_LENGTH,
    "transfer-encoding": _R_TRANSFER_ENCODING,
    "set-cookie": _R_SET_COOKIE,
}
_RESP_NAME_KINDS: Final[dict[str, int]] = {}
_STATUS_CODES: Final = frozenset(f"{i:03d}" for i in range(1000))
_DIGITS: Final = frozenset("0123456789")
_ASCII_WS: Final = " \t\x0b\x0c"  # what bytes.strip() strips inside a line (CR and LF cannot be there)


def _response_name_kind(name: str) -> int:
    kind = _RESP_NAME_KINDS.get(name)
    if kind is None:
        kind = _R_NOT_TOKEN if _TOKEN_NAME.fullmatch(name) is None else _R_KIND_OF.get(name.lower(), _R_PLAIN)
        if len(_RESP_NAME_KINDS) < _NAME_KINDS_MAX:
            _RESP_NAME_KINDS[name] = kind
    return kind


def parse_response_head(
    head: bytes,
    method: str,
    set_cookies: list[tuple[str, str]],
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None,
) -> tuple[int, bytes, str, int, bool]:
    """(status, head to send to the client, framing none|length|chunked|close, length,
    upstream connection reusable). ``set_cookies`` are appended; ``app_cookie`` = (b"name=", cookies)
    appends those cookies only when the target sets cookie ``name`` (app_cookie stickiness, §3.8).
    Malformed → ProtocolError(502).

    A well-formed head (CRLF line ends only, ``HTTP/1.x NNN`` with an optional reason, token names right
    before the colon: the common case) is read in one pass over its lines and sent on as it came but for
    the hop-by-hop lines; any other goes through :func:`parse_response_head_general`. Both give the same
    result (property-tested)."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    n = len(lines)
    sl = lines[0]
    if (
        n < 3
        or lines[n - 1]
        or lines[n - 2]
        or text.count("\n") != n - 1
        or text.count("\r") != n - 1
        or not sl.startswith("HTTP/1.")
        or len(sl) < 12
        or sl[7] not in _DIGITS
        or sl[8] != " "
        or sl[9:12] not in _STATUS_CODES
        or (len(sl) > 12 and sl[12] != " ")
    ):
        return parse_response_head_general(head, method, set_cookies, app_cookie)
    status = int(sl[9:12])
    http10 = sl[7] == "0"
    cl: int | None = None
    chunked = False
    conn_close = http10
    hop: list[int] = []  # the indices of the hop-by-hop lines (cut below)
    for i in range(1, n - 2):
        name, sep, value = lines[i].partition(":")
        if not sep:
            return parse_response_head_general(head, method, set_cookies, app_cookie)
        kind = _response_name_kind(name)
        if kind == _R_PLAIN:
            continue
        if kind == _R_NOT_TOKEN:
            return parse_response_head_general(head, method, set_cookies, app_cookie)
        if kind == _R_CONTENT_LENGTH:
            v = value.strip(_ASCII_WS)
            if not v.isdigit() or not v.isascii() or (cl is not None and cl != int(v)):
                # refused (502) by the general parser, after it checked the whole head
                return parse_response_head_general(head, method, set_cookies, app_cookie)
            cl = int(v)
        elif kind == _R_TRANSFER_ENCODING:
            if value.lower().rsplit(",", 1)[-1].strip(_ASCII_WS) == "chunked":
                chunked = True
        elif kind == _R_SET_COOKIE:
            if app_cookie is not None:  # the cookie's name is case-sensitive: read by the general parser
                return parse_response_head_general(head, method, set_cookies, app_cookie)
        else:  # connection, keep-alive, proxy-connection: hop-by-hop lines, cut below
            hop.append(i)
            if kind == _R_CONNECTION:
                v = value.lower().strip(_ASCII_WS)
                if v == "keep-alive":  # the usual single token, without splitting
                    if http10:
                        conn_close = False
                elif v == "close":
                    conn_close = True
                else:
                    toks = [x.strip(_ASCII_WS) for x in v.split(",")]
                    if "close" in toks:
                        conn_close = True
                    elif http10 and "keep-alive" in toks:
                        conn_close = False
    if chunked and cl is not None:  # the Content-Length lines would go too (rare): the general parser
        return parse_response_head_general(head, method, set_cookies, app_cookie)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:  # 101 included
        framing, length = "none", 0
    elif chunked:
        framing, length = "chunked", 0
    elif cl is not None:
        framing, length = "length", cl
    else:
        framing, length = "close", 0
        conn_close = True
    if not hop:
        if not set_cookies and status != 101:
            return status, b"HTTP/1.1" + head[8:], framing, length, not conn_close
        rest = head[8:-2]  # from the status code to the CRLF that ends the last header line
    else:
        # the lines as they came but for the hop-by-hop ones (found above: no second pass over the names)
        for i in reversed(hop):
            del lines[i]
        lines[0] = sl[8:]
        lines.pop()  # [..., last header, "", ""] -> "...last header\r\n"
        rest = "\r\n".join(lines).encode("latin-1")
        if not set_cookies and status != 101:
            return status, b"HTTP/1.1" + rest + b"\r\n", framing, length, not conn_close
    out = [b"HTTP/1.1", rest]
    for cname, cvalue in set_cookies:
        out.append(f"{cname}: {cvalue}\r\n".encode("latin-1"))
    if status == 101:
        out.append(b"Connection: Upgrade\r\n")
    out.append(b"\r\n")
    return status, b"".join(out), framing, length, not conn_close


def parse_response_head_general(
    head: bytes,
    method: str,
    set_cookies: list[tuple[str, str]],
    app_cookie: tuple[bytes, list[tuple[str, str]]] | None = None,
) -> tuple[int, bytes, str, int, bool]:
    """:func:`parse_response_head` for any head (line by line)."""
    lines = _split_lines(head)
    if not lines:
        raise ProtocolError(502, "empty response head")
    sl = lines[0]
    parts = sl.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ProtocolError(502, "malformed status line")
    status = int(parts[1])
    http10 = parts[0] == b"HTTP/1.0"
    out = [b"HTTP/1.1 " + b" ".join(parts[1:])]
    cl: int | None = None
    chunked = False
    conn_close = http10
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in (b" ", b"\t") or line[:1] in (b" ", b"\t") or b"\r" in line:
            raise ProtocolError(502, "malformed response header")
        lname = name.lower()
        if lname in _RESP_HOP:
            if lname == b"connection":
                toks = [x.strip().lower() for x in value.split(b",")]
                if b"close" in toks:
                    conn_close = True
                elif http10 and b"keep-alive" in toks:
                    conn_close = False
            continue
        if lname == b"content-length":
            v = value.strip()
            if not v.isdigit() or (cl is not None and cl != int(v)):
                raise ProtocolError(502, "bad content-length")
            cl = int(v)
        elif lname == b"transfer-encoding":
            toks = [x.strip().lower() for x in value.split(b",")]
            if toks and toks[-1] == b"chunked":
                chunked = True
        elif lname == b"set-cookie" and app_cookie is not None and value.strip().startswith(app_cookie[0]):
            set_cookies = [*set_cookies, *app_cookie[1]]
            app_cookie = None
        out.append(line)
    for cname, cvalue in set_cookies:
        out.append(f"{cname}: {cvalue}".encode("latin-1"))
    if status == 101:
        out.append(b"Connection: Upgrade")
        framing, length = "none", 0
    elif method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        framing, length = "none", 0
    elif chunked:
        framing, length = "chunked", 0
        if cl is not None:
            out = [x for x in out if not x.lower().startswith(b"content-length:")]
    elif cl is not None:
        framing, length = "length", cl
    else:
        framing, length = "close", 0
        conn_close = True
    out.append(b"")
    out.append(b"")
    return status, b"\r\n".join(out), framing, length, not conn_close


def _split_lines(head: bytes) -> list[bytes]:
    """The lines of a head without their line ends (CRLF, or a bare LF), the final blank lines dropped."""
    if head.count(b"\n") == head.count(b"\r\n"):
        lines = head.split(b"\r\n")  # the common case: CRLF only
    else:
        lines = [x[:-1] if x[-1:] == b"\r" else x for x in head.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def set_connection_close(head: bytes) -> bytes:
    return head[:-2] + b"Connection: close\r\n\r\n"
