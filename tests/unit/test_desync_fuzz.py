"""Fuzzing the desync classifier (alb/desync.py): random bytes, mutated corpus requests and generated
near-compliant heads never raise, always give a well-formed Classification quickly, and the fast path
always agrees with the full analysis."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albfargate.alb import desync
from albfargate.alb.desync import Classification, Reason, Tier, classify, verdict
from tests.conftest import CORPORA

# Per-example budget: the slowest legitimate input here is a few kB, classified in well under 1 ms;
# 200 ms catches a hang or quadratic blow-up without being flaky on a shared 2-core machine.
FUZZ = settings(
    max_examples=300,
    deadline=200,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)

SEEDS = [
    b"GET /foo/bar HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.0\r\nContent-Type: a;\r\n b\r\nX: y\r\n\r\n",
]
INTERESTING = b"\r\n\x00 \t:,;\x01\x7f\x80\xa0\xc5\xbf-_"
REASONS = {r.value for r in Reason}


def _corpus_heads() -> list[bytes]:
    """The raw form of every HDG corpus case (same construction as HDG's harness), if present."""
    from tests.unit.test_desync import _CASES

    return [c.raw for c in _CASES]


MUTATION_BASE = SEEDS + (_corpus_heads() if (CORPORA / "http-desync-guardian").is_dir() else [])


def check(head: bytes) -> Classification:
    result = classify(head)
    assert isinstance(result, Classification)
    assert isinstance(result.tier, Tier)
    if result.tier is Tier.COMPLIANT:
        assert result.reason is None
    else:
        assert result.reason in REASONS
    assert result == desync._classify_slow(head)
    for mode in ("monitor", "defensive", "strictest"):
        verdict(result, mode)
    return result


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(head: bytes) -> None:
    check(head)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(MUTATION_BASE)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "duplicate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        byte = draw(st.one_of(st.sampled_from(list(INTERESTING)), st.integers(0, 255)))
        if op == "replace" and data:
            data[pos] = byte
        elif op == "insert":
            data.insert(pos, byte)
        elif op == "delete" and data:
            del data[pos]
        elif op == "duplicate" and data:
            end = draw(st.integers(pos, min(len(data), pos + 40)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_requests(head: bytes) -> None:
    check(head)


def test_mutation_base_includes_the_corpus() -> None:
    if not (CORPORA / "http-desync-guardian").is_dir():
        pytest.skip("corpus absent: mutations start from the built-in seeds only")
    assert len(MUTATION_BASE) > len(SEEDS) + 90


_TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NAMES = [
    "Host", "User-Agent", "Accept", "Accept-Encoding", "Connection", "Content-Type", "Cookie",
    "Content-Length", "content-length", "Transfer-Encoding", "transfer-encoding", "Content-Encoding",
    "Transfer_Encoding", "Content.Length", "Content-Length-", "tcontent-length", "Content-LengthX",
    "C0ntent-Length", "_Content-Length", "-transfer-encoding",
    "Tran\u017ffer-Encoding", "Transfer-Encod\u0131ng",
    "X-Content-Length-Abc", "Ttttttttttttttt", "Cccccccccccccc", "X", "",
]  # fmt: skip
_VALUES = ["", "0", "5", " 10 ", "chunked", "gzip, chunked", "chunked,chunked", "identity", "a b",
           "18446744073709551616", "text/html; q=0.9", "\u00e9", "1,1"]  # fmt: skip


_PLAIN_NAMES = ["Host", "User-Agent", "Accept", "Accept-Encoding", "Connection", "Content-Type", "Cookie"]


@st.composite
def near_compliant(draw: st.DrawFn) -> bytes:
    """Heads built from plausible parts, so that the fast path is hit often and also just missed:
    mostly plain headers, at most a couple of TE/CL-like ones, mostly CRLF."""
    method = draw(
        st.sampled_from(["GET", "HEAD", "POST", "PUT", "get"]) | st.text(_TCHARS, min_size=1, max_size=8)
    )
    uri = draw(
        st.sampled_from(["/", "/a/b?c=d", "/caf\u00e9", "*", "/%0D"])
        | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
    )
    version = draw(
        st.sampled_from(
            ["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/0.9", "HTTP/2.0", "", "HTTP/1.1 "]
        )
    )
    eol = draw(st.sampled_from(["\r\n", "\r\n", "\r\n", "\n"]))
    headers: list[tuple[str, str | None]] = [
        (draw(st.sampled_from(_PLAIN_NAMES) | st.text(_TCHARS, min_size=1, max_size=20)), None)
        for _ in range(draw(st.integers(0, 5)))
    ]
    for _ in range(draw(st.integers(0, 2))):
        special = draw(st.sampled_from(["Content-Length", "content-length", "Transfer-Encoding", *_NAMES]))
        number = draw(st.sampled_from(["0", "7", " 10", "123 ", "\t42", "", "1e3", "99999999999999999999"]))
        headers.insert(draw(st.integers(0, len(headers))), (special, number))
    lines = [f"{method} {uri} {version}" if version else f"{method} {uri}"]
    for name, special_value in headers:
        value = (
            special_value
            if special_value is not None and draw(st.booleans())
            else draw(
                st.sampled_from(_VALUES)
                | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
            )
        )
        sep = draw(st.sampled_from([": ", ":", ":\t"]))
        lines.append(f"{name}{sep}{value}")
    tail = draw(st.sampled_from([eol, eol, eol, "", "\r\nBODY"]))
    return (eol.join(lines) + eol + tail).encode("utf-8")


@settings(max_examples=600, deadline=200, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(near_compliant())
def test_fast_path_agrees_with_full_analysis(head: bytes) -> None:
    check(head)


# Large and pathological heads: each must be classified within a bounded time.
BIG = [
    b"GET /" + b"a" * 16_000 + b" HTTP/1.1\r\n\r\n",
    b"GET /" + b"a" * 64_000 + b"\r\n\r\n",  # no version: a long backwards scan
    b"GET " + b"\x01" * 64_000 + b"\r\n\r\n",  # non-token characters at the end of the request line
    b"GET / HTTP/1.1\r\n" + b"X-A: " + b"b" * 16_000 + b"\r\n" * 2,
    b"GET / HTTP/1.1\r\n" + b"X-Header: v\r\n" * 4_000 + b"\r\n",
    b"POST / HTTP/1.1\r\n" + b"Content-Length: 1\r\n" * 4_000 + b"\r\n",
    b"POST / HTTP/1.1\r\n" + b"Transfer-Encoding: " + b"chunked," * 8_000 + b"\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + b"Tr-" * 20_000 + b": x\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b" folded\r\n" * 4_000 + b"\r\n",
    b"\n" * 64_000,
    b":" * 64_000,
    b" " * 64_000,
    b"GET / HTTP/1.1\r\n" + b"t" + b"-" * 60_000 + b": x\r\n\r\n",
]


@pytest.mark.parametrize("head", BIG, ids=[f"big{i}" for i in range(len(BIG))])
def test_large_heads_are_bounded(head: bytes) -> None:
    start = time.perf_counter()
    check(head)
    assert time.perf_counter() - start < 1.0


@st.composite
def with_content_length(draw: st.DrawFn) -> bytes:
    """CRLF heads with plain headers and one Content-Length or Transfer-Encoding (sometimes a second
    TE/CL-like header): the neighbourhood of the second fast-path pattern."""
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "get", "GETX"]))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/1.1 ", "HTTP/0.9"]))
    lines = [f"{method} /p {version}"]
    lines += [f"{n}: v" for n in draw(st.lists(st.sampled_from(_PLAIN_NAMES), max_size=4))]
    if draw(st.booleans()):
        name = draw(
            st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH", "Content-Length "])
        )
        value = draw(
            st.sampled_from(["0", "1", "123456789012345678", "1234567890123456789", "99999999999999999999"])
            | st.from_regex(r"\A[ \t]{0,2}[0-9+,. ]{0,4}[ \t]{0,2}\Z")
        )
    else:
        name = draw(st.sampled_from(["Transfer-Encoding", "transfer-encoding", "Transfer-Encoding\t"]))
        value = draw(
            st.sampled_from([" chunked", "CHUNKED", " chunked ", "chunked,chunked", " gzip", "", "xchunked"])
        )
    lines.insert(draw(st.integers(1, len(lines))), f"{name}:{value}")
    if draw(st.booleans()):
        extra = draw(
            st.sampled_from(["Content-Length: 1", "Transfer-Encoding: chunked", "Content_Length: 1"])
        )
        lines.insert(draw(st.integers(1, len(lines))), extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@settings(max_examples=300, deadline=200, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(with_content_length())
def test_body_header_fast_path_agrees_with_full_analysis(head: bytes) -> None:
    check(head)
