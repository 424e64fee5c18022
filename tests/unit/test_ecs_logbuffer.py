"""The task-output buffer between a container's pipe and its log file (ecs/logbuffer.py, issue 12 item 9):
whole lines, a bounded buffer that drops and counts the newest lines when full, a failed write that
drops and counts its batch, a short write, one warning per cause."""

from __future__ import annotations

import pytest

from albfargate.ecs.logbuffer import DropWarnings, LineBuffer


def drain(buf: LineBuffer) -> bytes:
    out = b""
    while buf.has_output():
        chunk = buf.take()
        buf.written(len(chunk))
        out += chunk
    return out


def test_lines_pass_through_whole_and_a_partial_line_waits_for_its_end() -> None:
    buf = LineBuffer()
    assert buf.feed(b"one\ntw") == 0
    assert drain(buf) == b"one\n"
    buf.feed(b"o\nthree")
    assert drain(buf) == b"two\n"
    assert buf.end() == 0
    assert drain(buf) == b"three\n"
    assert (buf.lines_in, buf.lines_written, buf.dropped) == (3, 3, 0)
    assert buf.pending_bytes == 0


def test_a_full_buffer_drops_the_newest_lines_and_counts_them() -> None:
    buf = LineBuffer(max_bytes=10)
    assert buf.feed(b"aaaa\nbbbb\ncccc\n") == 1  # 10 bytes fit: two lines; the third is dropped
    assert buf.feed(b"dd\n") == 1  # still full: nothing was written yet
    assert buf.pending_bytes == 10
    assert drain(buf) == b"aaaa\nbbbb\n"
    assert buf.feed(b"eeee\n") == 0  # room again once written
    assert drain(buf) == b"eeee\n"
    assert (buf.dropped_full, buf.dropped_failed, buf.lines_in, buf.lines_written) == (2, 0, 5, 3)


def test_memory_stays_bounded_under_a_chatty_writer_that_is_never_drained() -> None:
    buf = LineBuffer(max_bytes=64 * 1024, max_line=1024)
    line = b"x" * 99 + b"\n"
    dropped = sum(buf.feed(line * 650) for _ in range(1000))  # 65 MB offered
    assert buf.pending_bytes <= 64 * 1024
    assert dropped == buf.dropped_full == 650 * 1000 - buf.pending_bytes // 100
    # an endless line (no newline ever) is cut, not kept whole
    buf2 = LineBuffer(max_bytes=8 * 1024, max_line=1024)
    for _ in range(100):
        buf2.feed(b"y" * 1000)
    assert buf2.pending_bytes <= 8 * 1024 + 1024
    assert buf2.lines_in == 97  # 100 000 bytes in pieces of 1 024: 97 cut, 672 bytes still partial
    assert buf2.dropped_full == 97 - 7  # seven 1 025-byte pieces fit in 8 KiB


def test_a_line_longer_than_max_line_is_cut_into_pieces() -> None:
    buf = LineBuffer(max_line=4)
    buf.feed(b"abcdefghij")
    assert drain(buf) == b"abcd\nefgh\n"
    buf.feed(b"k\n")
    assert drain(buf) == b"ijk\n"
    assert buf.lines_in == 3


def test_a_failed_write_drops_its_batch_and_the_next_batch_is_tried() -> None:
    buf = LineBuffer()
    buf.feed(b"l1\nl2\nl3\n")
    assert buf.take() == b"l1\nl2\nl3\n"
    assert buf.failed() == 3
    assert not buf.has_output()
    buf.feed(b"l4\n")
    assert drain(buf) == b"l4\n"  # the disk has room again: the log goes on
    assert (buf.dropped_failed, buf.lines_written, buf.dropped) == (3, 1, 3)


def test_a_short_write_keeps_the_rest_and_a_failure_then_counts_the_cut_line_as_dropped() -> None:
    buf = LineBuffer()
    buf.feed(b"aaa\nbbb\nccc\n")
    assert buf.take() == b"aaa\nbbb\nccc\n"
    buf.written(6)  # "aaa\nbb"
    assert buf.take() == b"b\nccc\n"  # the rest of the same batch
    assert buf.failed() == 2  # bbb (cut) and ccc
    assert (buf.lines_written, buf.dropped_failed) == (1, 2)
    buf.feed(b"ddd\n")
    chunk = buf.take()
    buf.written(2)
    buf.written(len(chunk) - 2)
    assert buf.lines_written == 2 and not buf.has_output()
    with pytest.raises(ValueError):
        buf.written(1)


def test_take_batches_whole_chunks_up_to_the_limit() -> None:
    buf = LineBuffer()
    for i in range(5):
        buf.feed(b"%d" % i * 9 + b"\n")  # 10-byte lines
    assert buf.take(limit=25) == b"000000000\n111111111\n"
    buf.written(20)
    assert buf.take(limit=1) == b"222222222\n"  # at least one chunk, even over the limit


def test_warnings_are_given_once_per_cause() -> None:
    w = DropWarnings()
    first = w.write_failed("/s/logs", "No space left on device")
    assert first is not None and "No space left on device" in first and "log_lines_dropped" in first
    assert w.write_failed("/s/logs", "No space left on device") is None
    full = w.buffer_full("container app of task t", 1024 * 1024)
    assert full is not None and "1024 KiB" in full
    assert w.buffer_full("container app of task t", 1024 * 1024) is None


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        LineBuffer(max_bytes=0)
