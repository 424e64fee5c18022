"""Small parts of the ALB shell without sockets: metric counters and their Prometheus text, the
access-log writer (queue, flush, bound), and the local CA and listener certificates."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509

from albfargate.alb import tls
from albfargate.alb.accesslog_writer import AccessLogWriter
from albfargate.alb.exchange import LineQueue
from albfargate.alb.metrics import Metrics

SAMPLE = re.compile(r'^[a-z_0-9]+\{[a-z_]+="[^"]*"\} -?[0-9.e+-]+$')


def test_metrics_counters_snapshot_and_prometheus_text() -> None:
    m = Metrics(host_counts=lambda arn: (2, 1))
    lb = m.add_load_balancer("lb", "app/x/1")
    tg = m.add_target_group("tg", "targetgroup/t/2")
    for code in (200, 201, 302, 404, 503):
        m.target_response(lb, tg, "10.0.0.1:80", code, 0.01)
    for code in (301, 400, 503, 504):
        m.elb_response(lb, code)
    snap = m.snapshot()
    assert snap["app/x/1"]["RequestCount"] == 9
    assert snap["app/x/1"]["HTTPCode_ELB_5XX_Count"] == 2
    assert snap["app/x/1"]["HTTPCode_ELB_3XX_Count"] == 1
    assert snap["app/x/1"]["HTTPCode_Target_2XX_Count"] == 2
    t = snap["targetgroup/t/2"]
    assert t["RequestCount"] == 5 and t["RequestCountPerTarget"] == 2.5
    assert t["HealthyHostCount"] == 2 and t["UnHealthyHostCount"] == 1
    assert t["TargetResponseTime"] == pytest.approx(0.01)
    assert tg.per_target == {"10.0.0.1:80": 5}
    text = m.prometheus_text()
    families = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge")
            families.add(name)
        elif not line.startswith("# HELP "):
            assert SAMPLE.match(line), line
            assert line.split("{")[0] in families
    assert 'albfargate_tg_request_count_per_target{target_group="targetgroup/t/2"} 2.5' in text
    assert 'albfargate_lb_httpcode_elb_5xx_total{load_balancer="app/x/1"} 2' in text


def test_access_log_writer_flushes_formatted_lines_and_bounds_its_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fmt(record: object) -> str:
        if record == "bad":
            raise ValueError("unformattable")
        return f"line {record}"

    async def scenario() -> None:
        w = AccessLogWriter(tmp_path, fmt)
        w.start()
        w.add("app/lb/0123", 1)
        w.add("app/lb/0123", "bad")
        w.add("app/lb/0123", 2)
        path = w.path_for("app/lb/0123")
        assert path == tmp_path / "access-logs" / "lb.0123.log"
        for _ in range(50):  # the flush task writes within FLUSH_INTERVAL
            await asyncio.sleep(0.05)
            if path.exists() and path.read_text().count("\n") == 2:
                break
        assert path.read_text() == "line 1\nline 2\n"
        assert w.dropped == 1
        w.queue.limit = 2
        for i in range(5):
            w.add("app/lb/0123", 10 + i)
        assert w.dropped == 4  # 3 over the bound + the unformattable one
        await w.close()
        assert path.read_text().splitlines()[-2:] == ["line 10", "line 11"]

    asyncio.run(scenario())


def test_access_log_flush_writes_a_piece_per_loop_iteration_and_keeps_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from albfargate.alb import accesslog_writer

    monkeypatch.setattr(accesslog_writer, "WRITE_PIECE", 64)
    lines = [f"line {i:02d}" for i in range(20)]  # 8 bytes each with the newline: 160 bytes, 3 pieces

    async def scenario() -> None:
        w = AccessLogWriter(tmp_path, lambda r: str(r))
        w.start()
        for line in lines:
            w.add("app/lb/0123", line)
        path = w.path_for("app/lb/0123")
        end = time.monotonic() + 5
        while not path.exists() and time.monotonic() < end:  # iterations until the first piece is written
            await asyncio.sleep(0)
        first = path.read_bytes()
        assert 0 < len(first) <= 64  # one piece in this iteration, the rest in the next ones
        w.add("app/lb/0123", "line 99")
        w.flush()  # what the task still holds goes first, then the new line
        assert path.read_text().splitlines() == [*lines, "line 99"]
        await w.close()
        assert path.read_text().splitlines() == [*lines, "line 99"]

    asyncio.run(scenario())


def test_access_log_pieces_end_at_line_ends_and_a_failed_piece_counts_its_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from albfargate.alb import accesslog_writer

    monkeypatch.setattr(accesslog_writer, "WRITE_PIECE", 20)
    lines = [b"a" * 7, b"b" * 30, b"c" * 3, b"d" * 12, b"e" * 5]  # one line longer than a piece
    data = b"".join(x + b"\n" for x in lines)
    w = AccessLogWriter(tmp_path, str)
    w._out["app/lb/1"] = bytearray(data)
    pieces = []
    while w._out:
        pieces.append(bytes(w._piece("app/lb/1")))
    assert b"".join(pieces) == data
    assert all(p.endswith(b"\n") for p in pieces)
    assert all(len(p) <= 20 or p.count(b"\n") == 1 for p in pieces)  # only a lone long line is longer
    assert len(pieces) == 4  # 7+1 | 30+1 | 3+1+12+1 | 5+1

    writes = []

    def append_to(path: Path, piece: bytearray) -> None:
        writes.append(bytes(piece))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        with path.open("ab") as f:
            f.write(piece)

    w.dir.mkdir(parents=True)
    monkeypatch.setattr(w, "_append_to", append_to)
    w._out["app/lb/1"] = bytearray(data)
    while w._out:
        w._append({"app/lb/1": w._piece("app/lb/1")})
    assert w.failed == 1  # the long line's piece: exactly its one line
    assert w.path_for("app/lb/1").read_bytes().splitlines() == [lines[0], *lines[2:]]  # whole lines only


def test_access_log_queue_holds_encoded_newline_terminated_lines_per_load_balancer() -> None:
    q = LineQueue(lambda r: f"line {r}", 10)
    q.add("app/a/1", 1)
    q.add("app/b/2", "ü")  # a header value decoded as Latin-1 goes out as UTF-8, as before
    q.add("app/a/1", 3)
    taken = q.take()
    assert taken == {"app/a/1": bytearray(b"line 1\nline 3\n"), "app/b/2": bytearray("line ü\n".encode())}
    assert q.take() == {} and q.count == 0  # taken means gone: the next flush starts empty


def test_access_log_writer_makes_its_directory_again_when_it_was_removed(tmp_path: Path) -> None:
    async def scenario() -> None:
        w = AccessLogWriter(tmp_path, lambda r: f"line {r}")
        w.start()
        w.add("app/lb/0123", 1)
        w.flush()
        path = w.path_for("app/lb/0123")
        assert path.read_text() == "line 1\n"
        path.unlink()
        path.parent.rmdir()
        w.add("app/lb/0123", 2)
        w.flush()
        assert path.read_text() == "line 2\n"
        await w.close()

    asyncio.run(scenario())


def test_access_log_write_failure_drops_the_lines_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        w = AccessLogWriter(tmp_path, lambda r: f"line {r}")
        w.start()
        path = w.path_for("app/lb/0123")
        path.mkdir(parents=True)  # a directory where the log file goes: every open fails
        for i in range(3):
            w.add("app/lb/0123", i)
            w.add("app/other/9", i)
            w.flush()
        assert w.dropped == 3  # the lines of the failed writes, counted
        assert w.path_for("app/other/9").read_text() == "line 0\nline 1\nline 2\n"  # the others go on
        await w.close()

    with caplog.at_level("WARNING", logger="albfargate.alb.accesslog_writer"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if "lines dropped" in r.getMessage()]
    assert len(warnings) == 1 and "lb.0123.log" in warnings[0].getMessage()


def test_local_ca_is_made_once_and_listener_certs_follow_their_names(tmp_path: Path) -> None:
    ca, key = tls.ensure_ca(tmp_path)
    assert (key.stat().st_mode & 0o777) == 0o600
    first = ca.read_bytes()
    assert tls.ensure_ca(tmp_path)[0].read_bytes() == first  # reused
    cert_p, _ = tls.listener_cert(tmp_path, "lb-443", ["lb.example.com"])
    leaf = x509.load_pem_x509_certificates(cert_p.read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "lb.example.com" in san.get_values_for_type(x509.DNSName)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    same, _ = tls.listener_cert(tmp_path, "lb-443", ["lb.example.com"])
    assert same.read_bytes() == cert_p.read_bytes()  # cached while the names are the same
    tls.listener_cert(tmp_path, "lb-443", ["other.example.com"])
    leaf2 = x509.load_pem_x509_certificates(cert_p.read_bytes())[0]
    assert leaf2.serial_number != leaf.serial_number  # re-issued for new names
    # the chain verifies against the CA
    ctx = tls.client_context(tmp_path)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    server = tls.server_context(tmp_path, "lb-443", ["other.example.com"])
    assert server.sni_callback is not None
