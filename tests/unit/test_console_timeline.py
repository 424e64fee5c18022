"""The requests timeline (console/timeline.py) and the event hub (console/hub.py): entries from the ALB's
exchange records, filters, listener attribution; numbered events, reconnects, stalled clients."""

from __future__ import annotations

import pytest

from albfargate.alb.exchange import Exchange
from albfargate.console import hub as hub_mod
from albfargate.console.hub import CLOSE, Hub
from albfargate.console.timeline import (
    ListenerKey,
    Timeline,
    entry,
    headers_of,
    host_port,
    listener_of,
    split_request_line,
)

LB = "app/web/0123456789abcdef"
HTTP = ListenerKey(LB, "arn:lb", "web", "http", 8080, 80, "arn:l-http")
HTTP2 = ListenerKey(LB, "arn:lb", "web", "http", 8081, 81, "arn:l-http2")
HTTPS = ListenerKey(LB, "arn:lb", "web", "https", 8443, 443, "arn:l-https")


def exchange(
    line: str = "GET http://127.0.0.1:8080/api/items?page=2 HTTP/1.1",
    *,
    target_status: int | None = 200,
    elb_status: int = 200,
    kind: str = "http",
) -> Exchange:
    ex = Exchange(kind, LB, ("127.0.0.1", 5555), 1000.0, received_bytes=80, elb_status=elb_status)
    ex.request_line = line
    ex.target_status = target_status
    ex.target = "127.0.0.1:4000" if target_status is not None else None
    ex.target_group_arn = "arn:tg" if target_status is not None else None
    ex.matched_rule_priority = 10
    ex.actions_executed = ("forward",) if target_status is not None else ("fixed-response",)
    ex.request_processing, ex.target_processing, ex.response_processing = 0.001, 0.002, 0.0
    ex.sent_at = 1000.004
    return ex


def test_request_line_and_host_port() -> None:
    assert split_request_line("GET http://h:8080/a/b?x=1 HTTP/1.1") == ("GET", "h:8080", "/a/b", "x=1")
    assert split_request_line("- - -") == (None, None, None, "")
    assert host_port("h:8080") == 8080 and host_port("[::1]:81") == 81 and host_port("h") is None


def test_listener_attribution() -> None:
    keys = [HTTP, HTTP2, HTTPS]
    assert listener_of(exchange(), 8080, keys) is HTTP
    assert listener_of(exchange(), 8081, keys) is HTTP2
    assert listener_of(exchange(), 81, keys) is HTTP2  # the template port in the Host
    assert listener_of(exchange(), None, keys) is HTTP  # none named: the first of its scheme
    assert listener_of(exchange(kind="https"), 8080, keys) is HTTPS
    assert listener_of(exchange(), 8080, []) is None


def test_entry_fields_alb_made_and_duration() -> None:
    t = Timeline()
    r = t.add(exchange(), HTTP, "arn:rule/10")
    e = entry(r)
    assert e["method"] == "GET" and e["path"] == "/api/items" and e["query"] == "page=2"
    assert (
        e["host"] == "127.0.0.1:8080" and e["listener_arn"] == "arn:l-http" and e["rule_arn"] == "arn:rule/10"
    )
    assert e["status"] == 200 and e["alb_made"] is False and e["target"] == "127.0.0.1:4000"
    assert e["duration"] == pytest.approx(0.004)
    assert e["headers_in"] is None and e["headers_out"] is None  # recorded without header capture
    made = entry(t.add(exchange(target_status=None, elb_status=503), HTTP, None))
    assert made["alb_made"] is True and made["status"] == 503 and made["target"] is None


def test_captured_heads_are_shown_masked() -> None:
    t = Timeline()
    head = b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\nCookie: s=1\r\n\r\n"
    r = t.add(exchange(), HTTP, None, head_in=head, head_out=b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    e = entry(r)
    assert e["headers_in"] == [["Host", "a"], ["Authorization", "****"], ["Cookie", "****"]]
    assert e["headers_out"] == [["Host", "a"]]
    assert headers_of(head) == [("Host", "a"), ("Authorization", "Bearer x"), ("Cookie", "s=1")]


def test_filters_newest_first_and_limits() -> None:
    t = Timeline(size=5)
    for i in range(7):
        code = 500 if i % 3 == 0 else 200
        t.add(exchange(f"GET http://h:8080/p{i} HTTP/1.1", target_status=code, elb_status=code), HTTP, None)
    t.add(exchange("POST http://other:8080/x HTTP/1.1", target_status=None, elb_status=404), HTTP, None)
    ids = [e["id"] for e in t.query({})]
    assert ids == [8, 7, 6, 5, 4]  # the 5 newest, newest first
    assert [e["path"] for e in t.query({"status": "5xx"})] == ["/p6", "/p3"]
    assert [e["id"] for e in t.query({"alb_made": "true"})] == [8]
    assert [e["id"] for e in t.query({"method": "post"})] == [8]
    assert [e["id"] for e in t.query({"host": "OTHER"})] == [8]
    assert [e["id"] for e in t.query({"path": "p5"})] == [6]
    assert [e["id"] for e in t.query({"limit": "2"})] == [8, 7]
    assert [e["id"] for e in t.query({"since": "6"})] == [8, 7]
    assert t.get(6) is not None and t.get(1) is None and t.get(99) is None
    for bad in ({"alb_made": "yes"}, {"limit": "x"}, {"rule": "ten"}, {"since": "-1"}):
        with pytest.raises(ValueError):
            t.query(bad)


def frames(stream: hub_mod.Stream) -> list[bytes]:
    out = []
    while not stream.queue.empty():
        out.append(stream.queue.get_nowait())
    return out


def test_hub_numbers_events_and_tells_when_someone_watches() -> None:
    watching: list[int] = []
    h = Hub(on_clients=watching.append)
    s = h.open()
    assert watching == [1]
    h.publish("task", {"a": 1})
    h.publish("request", {"r": 1}, requests_only=True)
    got = frames(s)
    assert got[0].startswith(b"event: hello") and got[1].startswith(b"id: 1\nevent: task")
    assert len(got) == 2  # no `request` events for a stream that did not ask for them
    r = h.open(requests=True)
    h.publish("request", {"r": 2}, requests_only=True, keep=False)
    assert frames(r)[-1].startswith(b"id: 3\nevent: request")
    h.close_stream(s)
    h.close_stream(r)
    assert watching == [1, 0]


def test_hub_replays_missed_events_or_asks_for_a_resync(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Hub()
    for i in range(5):
        h.publish("service", {"i": i})
    again = h.open(last_event_id=3)
    assert [f.split(b"\n")[0] for f in frames(again)] == [b"event: hello", b"id: 4", b"id: 5"]
    small = Hub()
    small.buffer = type(small.buffer)(maxlen=2)
    for i in range(5):
        small.publish("service", {"i": i})
    late = small.open(last_event_id=1)
    assert b"event: resync" in frames(late)[1]


def test_a_stalled_stream_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_mod, "QUEUE_LIMIT", 3)
    h = Hub()
    s = h.open()
    for i in range(5):
        h.publish("task", {"i": i})
    assert s.dropped and s not in h.streams
    assert frames(s)[-1] == CLOSE
