"""HTTP desync mitigation through a real listener and a real upstream (spec §4.6, issue 12 items 3-4).

One row per reason of §4.6 (the ALB's list and the parsing-level reasons a whole head can carry), plus
Compliant, HTTP/0.9, a duplicate Host and ``Content-Length :``; each row in the three modes and on both
lanes of the proxy (the fast lane: a pooled target connection served from callbacks; the task path: a
new target connection). Every case asserts what the client gets, whether the client connection stays
open, what the target received (request line, framing headers, body) and whether the target connection
was closed after the response.

The expected outcome comes from the mode table of §4.6, written out here, not from the classifier:

    | tier       | monitor | defensive       | strictest |
    | Compliant  | allow   | allow           | allow     |
    | Acceptable | allow   | allow           | block     |
    | Ambiguous  | allow   | allow and close | block     |
    | Severe     | allow   | block           | block     |

"allow" is limited by what the proxy itself can forward (``shell`` in a row): a body it cannot frame
(a bad or conflicting Content-Length, an unknown Transfer-Encoding: 501 per §4.5), a bare CR in a
header, a method or version that is no token, a request target that is no path. Those are refused
in every mode that would forward them; where the mode blocks, the block (400) comes first.

What the target receives for a URI with a space or a control character: the same URI with each space,
control byte and DEL percent-encoded (`/a b` -> `/a%20b`), so it can never read a second request line or
version out of it. A header the classifier reads as Transfer-Encoding / Content-Length
(`SuspiciousHeader`) frames the body as that header, and the target gets the proxy's one clean framing
header instead of the suspicious name. `PartialHeaderLine` and `MissingLastEmptyLine` cannot reach the
classifier through the proxy (it classifies whole heads only); tests/unit/test_desync.py covers them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from albfargate.model import LoadBalancerAttributes

from .alb_support import Upstream, one_healthy_target, port_of, read_response, wait_for

pytestmark = pytest.mark.integration

ALLOW, ALLOW_AND_CLOSE, BLOCK = "allow", "allow_and_close", "block"
MODE_TABLE = {
    "monitor": {"Compliant": ALLOW, "Acceptable": ALLOW, "Ambiguous": ALLOW, "Severe": ALLOW},
    "defensive": {"Compliant": ALLOW, "Acceptable": ALLOW, "Ambiguous": ALLOW_AND_CLOSE, "Severe": BLOCK},
    "strictest": {"Compliant": ALLOW, "Acceptable": BLOCK, "Ambiguous": BLOCK, "Severe": BLOCK},
}
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


@dataclass(frozen=True)
class Row:
    name: str  # the §4.6 reason (or what the row is about)
    tier: str
    raw: bytes  # the whole request, body included
    target: bytes = b""  # the request target the upstream must see (when forwarded)
    body: bytes = b""  # the body the upstream must see
    framing: bytes | None = None  # the framing header line the upstream must get, if any
    absent: tuple[bytes, ...] = ()  # bytes that must not reach the upstream
    present: tuple[bytes, ...] = ()  # header lines the upstream must get
    shell: int | None = None  # the proxy's own refusal when the mode would forward
    closes: bool = False  # the client connection closes after an allowed response anyway (HTTP/1.0)


ROWS = [
    Row("Compliant", "Compliant", b"GET /plain?q=1 HTTP/1.1\r\nHost: h\r\n\r\n", b"/plain?q=1"),
    # -------------------------------------------------------------------- Acceptable
    Row(
        "NonCompliantHeader",
        "Acceptable",
        b"GET /nch HTTP/1.1\r\nHost: h\r\nX-My-Header : v\r\n\r\n",
        b"/nch",
        present=(b"X-My-Header: v",),
        absent=(b"X-My-Header :",),
    ),
    Row(
        "SpaceInUri",
        "Acceptable",
        b"GET /a?p=not escaped  HTTP/1.1\r\nHost: h\r\n\r\n",
        b"/a?p=not%20escaped",
    ),
    Row("NonCompliantVersion", "Acceptable", b"GET /v12 HTTP/1.2\r\nHost: h\r\n\r\n", b"/v12"),
    Row("NonCompliantVersion (HTTP/0.9)", "Acceptable", b"GET /nine\r\n\r\n", b"/nine", closes=True),
    Row(
        "GetHeadZeroContentLength",
        "Acceptable",
        b"GET /z HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"/z",
        absent=(b"Content-Length",),
    ),
    Row("NonCrLfLineTermination", "Acceptable", b"GET /lf HTTP/1.1\nHost: h\n\n", b"/lf"),
    # -------------------------------------------------------------------- Ambiguous
    Row(
        "EmptyHeader",
        "Ambiguous",
        b"GET /eh HTTP/1.1\r\nHost: h\r\n: orphan\r\n\r\n",
        b"/eh",
        absent=(b"orphan",),
    ),
    Row(
        "AmbiguousUri",
        "Ambiguous",
        b"GET /a\tb\x01c\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        b"/a%09b%01c%7F",
        absent=(b"\t", b"\x01", b"\x7f"),
    ),
    Row(
        "UndefinedContentLengthSemantics",
        "Ambiguous",
        b"GET /gcl HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        b"/gcl",
        b"hello",
        b"Content-Length: 5",
    ),
    Row(
        "UndefinedTransferEncodingSemantics",
        "Ambiguous",
        b"GET /gte HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + HELLO_CHUNKED,
        b"/gte",
        b"hello",
        b"Transfer-Encoding: chunked",
    ),
    Row(
        "DuplicateContentLength",
        "Ambiguous",
        b"POST /dcl HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        b"/dcl",
        b"hello",
        b"Content-Length: 5",
    ),
    Row(
        "BothTeClPresent",
        "Ambiguous",
        b"POST /tecl HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n"
        + HELLO_CHUNKED,
        b"/tecl",
        b"hello",
        b"Transfer-Encoding: chunked",
        absent=(b"Content-Length",),
    ),
    Row(
        "SuspiciousHeader (\\x01Transfer-Encoding)",
        "Ambiguous",
        b"POST /sh HTTP/1.1\r\nHost: h\r\n\x01Transfer-Encoding: chunked\r\n\r\n" + HELLO_CHUNKED,
        b"/sh",
        b"hello",
        b"Transfer-Encoding: chunked",
        absent=(b"\x01",),
    ),
    Row(
        "SuspiciousHeader (Content-Length :)",
        "Ambiguous",
        b"POST /clsp HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello",
        b"/clsp",
        b"hello",
        b"Content-Length: 5",
        absent=(b"Content-Length :",),
    ),
    Row(
        "SuspiciousHeader (Transfer_Encoding)",
        "Ambiguous",
        b"POST /tu HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\n\r\n" + HELLO_CHUNKED,
        b"/tu",
        b"hello",
        b"Transfer-Encoding: chunked",
        absent=(b"Transfer_Encoding",),
    ),
    Row(
        "MultilineHeader",
        "Ambiguous",
        b"GET /ml HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n",
        b"/ml",
        absent=(b"folded",),
    ),
    Row(
        "MissingHeaderColon",
        "Ambiguous",
        b"GET /mc HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n",
        b"/mc",
        absent=(b"NoColonHere",),
    ),
    Row("MissingUri", "Ambiguous", b"GET HTTP/1.1\r\nHost: h\r\n\r\n", shell=400),
    # -------------------------------------------------------------------- Severe
    Row(
        "BadHeader (NUL in a value)",
        "Severe",
        b"GET /nul HTTP/1.1\r\nHost: h\r\nX-N: a\x00b\r\n\r\n",
        b"/nul",
        present=(b"X-N: a\x00b",),
    ),
    Row(
        "BadHeader (CR in a value)", "Severe", b"GET /cr HTTP/1.1\r\nHost: h\r\nX-C: a\rb\r\n\r\n", shell=400
    ),
    Row(
        "BadUri (CR)",
        "Severe",
        b"GET /a\rHTTP/1.1 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"/a%0DHTTP/1.1",
        absent=(b"\r\x48TTP",),
    ),
    Row("BadUri (NUL first)", "Severe", b"GET \x00/a HTTP/1.1\r\nHost: h\r\n\r\n", shell=400),
    Row("BadVersion", "Severe", b"GET /bv HTTP/1.1x\r\nHost: h\r\n\r\n", shell=400),
    Row("BadMethod", "Severe", b"GE(T /bm HTTP/1.1\r\nHost: h\r\n\r\n", shell=400),
    Row(
        "MultipleContentLength",
        "Severe",
        b"POST /mcl HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        shell=400,
    ),
    Row(
        "BadContentLength",
        "Severe",
        b"POST /bcl HTTP/1.1\r\nHost: h\r\nContent-Length: 1000.1000\r\n\r\n",
        shell=400,
    ),
    Row(
        "MultipleTransferEncodingChunked",
        "Severe",
        b"POST /mte HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n" + HELLO_CHUNKED,
        shell=400,
    ),
    Row(
        "BadTransferEncoding",
        "Severe",
        b"POST /bte HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
        shell=501,
    ),
    # -------------------------------------------------------------------- §4.2 / item 4
    Row("duplicate Host", "Compliant", b"GET /dh HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", shell=400),
]

# every reason of the §4.6 table (and the parsing-level ones a whole head can carry) has a row
ALB_REASONS = {
    "NonCompliantHeader",
    "SpaceInUri",
    "NonCompliantVersion",
    "GetHeadZeroContentLength",
    "EmptyHeader",
    "AmbiguousUri",
    "UndefinedContentLengthSemantics",
    "UndefinedTransferEncodingSemantics",
    "DuplicateContentLength",
    "BothTeClPresent",
    "SuspiciousHeader",
    "BadHeader",
    "BadUri",
    "BadVersion",
    "BadMethod",
    "MultipleContentLength",
    "BadContentLength",
    "MultipleTransferEncodingChunked",
    "BadTransferEncoding",
    "NonCrLfLineTermination",
    "MultilineHeader",
    "MissingHeaderColon",
    "MissingUri",
}


def test_every_reason_has_a_row() -> None:
    assert {r.name.split(" (")[0] for r in ROWS} >= ALB_REASONS


async def _exchange(port: int, raw: bytes) -> tuple[bytes, bool]:
    """Send ``raw`` on a new connection; (response bytes, whether the proxy closed the connection)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(raw)
        method = "HEAD" if raw.startswith(b"HEAD ") else "GET"
        try:
            resp = await asyncio.wait_for(read_response(r, method), 10)
        except asyncio.IncompleteReadError:
            return b"", True
        status = resp.status
        # is the connection still open? a second, compliant request on it must be answered
        try:
            w.write(b"GET /again HTTP/1.1\r\nHost: h\r\n\r\n")
            again = await asyncio.wait_for(read_response(r), 5)
            open_after = again.status == 200
        except (asyncio.IncompleteReadError, ConnectionError):
            open_after = False
        return str(status).encode(), not open_after
    finally:
        w.transport.abort()


def _expected(row: Row, mode: str) -> str:
    return MODE_TABLE[mode][row.tier]


@pytest.mark.parametrize("lane", ["fast", "task"])
@pytest.mark.parametrize("mode", ["monitor", "defensive", "strictest"])
def test_desync_table_through_the_proxy(mode: str, lane: str) -> None:
    async def scenario() -> None:
        attrs = LoadBalancerAttributes(desync_mitigation_mode=mode)
        async with one_healthy_target(attributes=attrs) as (rt, _tg, a):
            port = port_of(rt)
            failures: list[str] = []
            for row in ROWS:
                failures += await _one(rt, a, port, row, mode, lane)
            assert not failures, "\n".join(failures)

    asyncio.run(scenario())


async def _one(rt: object, a: Upstream, port: int, row: Row, mode: str, lane: str) -> list[str]:
    pools = rt.ctx.pools  # type: ignore[attr-defined]
    warm_conn: int | None = None
    if lane == "fast":  # leave one idle pooled connection to the target: the request reuses it
        status, _ = await _exchange(port, b"GET /warm HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert status == b"200"
        warm_conn = a.seen[-1][2]
    else:  # no idle connection: the request waits for a new one (the task path)
        pools.close()
    n0 = len(a.seen)
    status, closed = await _exchange(port, row.raw)
    got = [s for s in a.seen[n0:] if not s[0].startswith(b"GET /again ")]
    want = _expected(row, mode)
    where = f"[{mode}/{lane}] {row.name}:"
    out: list[str] = []
    if want == BLOCK or row.shell is not None:
        code = b"400" if want == BLOCK else str(row.shell).encode()
        if status != code or not closed or got:
            out.append(
                f"{where} expected {code!r} + close, nothing forwarded; got {status!r} {closed=} {got}"
            )
        return out
    if status != b"200" or len(got) != 1:
        return [f"{where} expected a forward; got {status!r}, upstream saw {got}"]
    head, body, conn = got[0]
    request_line = head.split(b"\r\n", 1)[0]
    if (
        request_line != b"GET " + row.target + b" HTTP/1.1"
        and request_line != b"POST " + row.target + b" HTTP/1.1"
    ):
        out.append(f"{where} upstream request line {request_line!r}, want target {row.target!r}")
    if body != row.body:
        out.append(f"{where} upstream body {body!r}, want {row.body!r}")
    lines = head.split(b"\r\n")
    framing = [x for x in lines if x.lower().startswith((b"content-length", b"transfer-encoding"))]
    if framing != ([row.framing] if row.framing else []):
        out.append(f"{where} upstream framing {framing}, want {row.framing!r}")
    for b in row.absent:
        if b in head.split(b"\r\n", 1)[1]:
            out.append(f"{where} {b!r} reached the upstream: {head!r}")
    for b in row.present:
        if b not in lines:
            out.append(f"{where} {b!r} missing upstream: {head!r}")
    if lane == "fast" and conn != warm_conn:
        out.append(f"{where} not served on the pooled connection")
    must_close = want == ALLOW_AND_CLOSE
    if closed != (must_close or row.closes):
        out.append(f"{where} client connection closed={closed}, want {must_close or row.closes}")
    if must_close:  # the target connection is closed too
        try:
            await wait_for(lambda: all(id(w) != conn for w in a.conns), timeout=3)
        except AssertionError:
            out.append(f"{where} the target connection was kept")
    elif not row.closes and all(id(w) != conn for w in a.conns):
        out.append(f"{where} the target connection was closed")
    return out
