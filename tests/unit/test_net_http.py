"""The control endpoints' HTTP module, its pure part (albfargate.net.http): heads, body framing, chunk
sizes, answers, refusals and the loopback Host guard."""

from __future__ import annotations

import pytest

from albfargate.net.http import (
    STATUS,
    BodyPlan,
    BodyRules,
    HeadError,
    Problem,
    ProblemKind,
    RequestHead,
    Response,
    body_plan,
    chunk_size,
    is_loopback_host,
    parse_head,
    reason,
    render,
    render_head,
)


def head(*lines: str, request_line: str = "POST /x?a=1 HTTP/1.1") -> RequestHead:
    return parse_head(("\r\n".join((request_line, *lines)) + "\r\n\r\n").encode("latin-1"))


def test_a_head_is_parsed_names_lower_cased_repeats_joined() -> None:
    h = head("Host: 127.0.0.1:4566", "X-A: 1", "x-a:  2 ", "Content-Type:application/json")
    assert (h.method, h.target, h.version, h.path) == ("POST", "/x?a=1", "HTTP/1.1", "/x")
    assert dict(h.headers) == {"host": "127.0.0.1:4566", "x-a": "1,2", "content-type": "application/json"}
    assert h.header("X-A") == "1,2" and h.header("nope") is None


@pytest.mark.parametrize(
    ("connection", "keep"),
    [(None, True), ("keep-alive", True), ("close", False), ("Close", False), ("keep-alive, close", False)],
)
def test_keep_alive_unless_the_client_says_close(connection: str | None, keep: bool) -> None:
    lines = [f"Connection: {connection}"] if connection is not None else []
    assert head(*lines).keep_alive is keep


def test_chunked_and_expect_continue_are_read_from_the_head() -> None:
    assert head("Transfer-Encoding: gzip, Chunked").chunked
    assert not head("Content-Length: 3").chunked
    assert head("Expect: 100-Continue").expects_continue and not head().expects_continue


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /\r\n\r\n",  # no version
        b"GET  / HTTP/1.1\r\n\r\n",  # two spaces
        b"GET / HTTP/2\r\n\r\n",
        b"GET / HTTP/1.1 x\r\n\r\n",
        b"G@T / HTTP/1.1\r\n\r\n",  # the method is not a token
        b"\x00\x01 garbage\r\n\r\n",
        b" / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",  # white space before the name (obs-fold)
        b"GET / HTTP/1.1\r\nName : x\r\n\r\n",  # ... or after it
        b"GET / HTTP/1.1\r\n: x\r\n\r\n",
    ],
)
def test_malformed_heads_are_refused(raw: bytes) -> None:
    with pytest.raises(HeadError, match="malformed"):
        parse_head(raw)


def test_a_token_method_that_is_not_alphabetic_is_taken() -> None:
    assert head(request_line="M-SEARCH * HTTP/1.1").method == "M-SEARCH"
    assert head(request_line="GET / HTTP/1.0").version == "HTTP/1.0"


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost", True),
        ("localhost:4566", True),
        ("127.0.0.1:4566", True),
        ("127.1.2.3", True),
        ("[::1]:4566", True),
        ("[::1]", True),
        ("::1", True),  # bare (no port): taken as the address
        ("api.localhost", True),
        ("LOCALHOST.", True),
        ("evil.example.com", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("localhost.evil.com", False),
        ("", False),
        (None, False),
    ],
)
def test_the_loopback_host_guard(host: str | None, ok: bool) -> None:
    assert is_loopback_host(host) is ok


RULES = BodyRules(max_body=10)


@pytest.mark.parametrize(
    ("lines", "plan"),
    [
        ((), BodyPlan(0, 10)),
        (("Content-Length: 7",), BodyPlan(7, 10)),
        (("Content-Length: 10",), BodyPlan(10, 10)),
        (("Content-Length:  0 ",), BodyPlan(0, 10)),
    ],
)
def test_a_body_by_content_length(lines: tuple[str, ...], plan: BodyPlan) -> None:
    assert body_plan(head(*lines), RULES) == plan


@pytest.mark.parametrize("value", ["-1", "+5", "abc", "5,5", "", "0x10", "²"])
def test_a_content_length_that_is_not_digits_is_refused(value: str) -> None:
    problem = body_plan(head(f"Content-Length: {value}"), RULES)
    assert isinstance(problem, Problem) and problem.kind is ProblemKind.BAD_LENGTH
    assert problem.status == 400


def test_a_body_above_the_limit_is_refused_with_its_length() -> None:
    problem = body_plan(head("Content-Length: 11"), RULES)
    assert problem == Problem(
        ProblemKind.BODY_TOO_LARGE, "a body of 11 bytes is above the 10 byte limit", length=11, limit=10
    )
    assert isinstance(problem, Problem) and problem.status == 413


def test_chunked_bodies_only_where_the_endpoint_takes_them_and_chunked_wins() -> None:
    chunked = head("Transfer-Encoding: chunked", "Content-Length: 99")
    refused = body_plan(chunked, RULES)
    assert isinstance(refused, Problem) and refused.kind is ProblemKind.CHUNKED_REFUSED
    assert refused.status == 411
    assert body_plan(chunked, BodyRules(max_body=10, chunked=True)) == BodyPlan(None, 10)


@pytest.mark.parametrize(
    ("line", "size"), [(b"0\r\n", 0), (b"1a\r\n", 26), (b"FF;name=value\r\n", 255), (b" 3 \r\n", 3)]
)
def test_chunk_sizes(line: bytes, size: int) -> None:
    assert chunk_size(line) == size


@pytest.mark.parametrize("line", [b"\r\n", b"zz\r\n", b"-1\r\n", b"0x1\r\n", b";ext\r\n"])
def test_malformed_chunk_sizes(line: bytes) -> None:
    with pytest.raises(ValueError, match="malformed chunk size"):
        chunk_size(line)


def test_every_problem_has_its_status() -> None:
    assert set(STATUS) == set(ProblemKind)
    assert STATUS[ProblemKind.HEAD_TOO_LARGE] == 431 and STATUS[ProblemKind.FOREIGN_HOST] == 403


def split(data: bytes) -> tuple[str, list[str], bytes]:
    raw, _, body = data.partition(b"\r\n\r\n")
    status, *headers = raw.decode("latin-1").split("\r\n")
    return status, headers, body


def test_an_answer_gets_its_length_and_connection_from_the_server() -> None:
    response = Response(
        200,
        (
            ("Content-Type", "application/json"),
            ("Content-Length", "999"),  # the server's, never the endpoint's
            ("Connection", "upgrade"),
            ("X-Bad", "a\r\nSet-Cookie: injected"),  # CR/LF in a value: left out
            ("Server", "albfargate"),
        ),
        b'{"ok":1}',
    )
    status, headers, body = split(render(response, keep_alive=True))
    assert status == "HTTP/1.1 200 OK"
    assert headers == [
        "Content-Type: application/json",
        "Server: albfargate",
        "Content-Length: 8",
        "Connection: keep-alive",
    ]
    assert body == b'{"ok":1}'
    assert split(render(response, keep_alive=False))[1][-1] == "Connection: close"


def test_head_only_and_bodiless_statuses() -> None:
    response = Response(200, (), b"12345")
    _, headers, body = split(render(response, keep_alive=True, head_only=True))
    assert "Content-Length: 5" in headers and body == b""
    object_head = Response(200, (), b"", length=1234)  # an S3 HEAD: the object's size, no body
    assert "Content-Length: 1234" in split(render(object_head, keep_alive=True))[1]
    for code in (204, 304):
        _, headers, body = split(render(Response(code, (), b"dropped"), keep_alive=True))
        assert not any(h.startswith("Content-Length") for h in headers) and body == b""


def test_a_streamed_head_has_no_length_and_reasons_are_the_standard_ones() -> None:
    data = render_head(200, (("Content-Type", "text/event-stream"),), length=None, keep_alive=False)
    assert data == b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    assert (reason(413), reason(431), reason(599)) == (
        "Request Entity Too Large",
        "Request Header Fields Too Large",
        "Error",
    )
