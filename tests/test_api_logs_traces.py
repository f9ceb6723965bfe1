"""/api/logs, /api/logs/histogram, /api/spans, /api/traces and one trace, against a real hl-local.

The data goes in through the real OTLP/HTTP ingest (OTLP/JSON bodies built here, so every time, id
and level is known), and the answers are checked against what was sent: paging through every page
with cursors must give exactly the single-page answer (nothing skipped, nothing repeated), filters
must filter, and the linking of logs and errors to traces and sessions must show.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_schema import conforms
from tests.conftest import Server, start_server

T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000
SESSION_A, SESSION_B = "sess-a", "sess-b"
TRACE_A = "a1" * 16  # checkout: root + 2 children, one failing with an exception event; session on the root
TRACE_B = "b2" * 16  # health: one span, fine, no session
TRACE_ORPHAN = "c3" * 16  # no span without a parent: the earliest span is the root
TRACE_WRAPPER = "d4" * 16  # only an SDK's highlight.log wrapper span: not listed, still readable
JOB_TRACES = [f"{i + 1:032x}" for i in range(23)]  # one span each, start times with ties
ROOT_A, DB_A, RENDER_A = "1" * 16, "2" * 16, "3" * 16


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": str(value)}


def attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in values.items()]


def span(
    trace_id: str,
    span_id: str,
    parent: str,
    name: str,
    start_ns: int,
    duration_ns: int,
    status: int = 0,
    attributes: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 2 if not parent else 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + duration_ns),
        "status": {"code": status},
        "attributes": attrs(attributes or {}),
        "events": events or [],
        "links": links or [],
    }


def log(
    time_ns: int,
    level: str,
    body: str,
    trace_id: str = "",
    span_id: str = "",
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timeUnixNano": str(time_ns),
        "severityText": level.upper(),
        "body": {"stringValue": body},
        "attributes": attrs(attributes or {}),
    }
    if trace_id:
        record |= {"traceId": trace_id, "spanId": span_id}
    return record


def post(client: httpx.Client, server: Server, path: str, body: dict[str, Any]) -> None:
    reply = client.post(f"{server.otlp_http_url}{path}", json=body)
    assert reply.status_code == 200, reply.text


def traces_body(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {"attributes": attrs({"service.name": service})}
    scope_spans = [{"scope": {"name": "t"}, "spans": spans}]
    return {"resourceSpans": [{"resource": resource, "scopeSpans": scope_spans}]}


def logs_body(service: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {"attributes": attrs({"service.name": service})}
    scope_logs = [{"scope": {"name": "t"}, "logRecords": records}]
    return {"resourceLogs": [{"resource": resource, "scopeLogs": scope_logs}]}


EXCEPTION = {
    "timeUnixNano": str(T0 + 30 * MS),
    "name": "exception",
    "attributes": attrs(
        {
            "exception.type": "ValueError",
            "exception.message": "card declined",
            "exception.stacktrace": 'Traceback (most recent call last):\n  File "shop.py", line 3, in pay\n'
            "ValueError: card declined",
        }
    ),
}
LINK = {"traceId": TRACE_B, "spanId": "4" * 16, "attributes": attrs({"why": "retry"})}

LEVELS = ["info", "warn", "error", "debug"]
# 40 plain log lines: 4 per millisecond (ties on time), levels cycling, two services.
PLAIN_LOGS = [log(T0 + (i // 4) * MS, LEVELS[i % 4], f"line {i} {'payment' if i % 5 == 0 else 'noise'}")
              for i in range(40)]  # fmt: skip
DUPLICATE = log(T0 + 100 * MS, "info", "sent twice")  # in two requests, stored twice: identical rows
TRACE_LOGS = [
    log(T0 + 11 * MS, "info", "checkout started", TRACE_A, ROOT_A),
    log(T0 + 31 * MS, "error", "payment failed", TRACE_A, RENDER_A),
]
SESSION_B_LOG = log(T0 + 200 * MS, "warn", "slow page", attributes={"highlight.session_id": SESSION_B})


_clients: dict[str, httpx.Client] = {}  # one keep-alive connection per server for the API calls


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(Path(tmp_path_factory.mktemp("api")) / "hl.duckdb")
    try:
        with httpx.Client(timeout=30) as client:
            post(
                client,
                server,
                "/v1/traces",
                traces_body(
                    "shop",
                    [
                        span(TRACE_A, ROOT_A, "", "GET /checkout", T0 + 10 * MS, 50 * MS,
                             attributes={"highlight.session_id": SESSION_A, "http.route": "/checkout"}),
                        span(TRACE_A, DB_A, ROOT_A, "db.query", T0 + 12 * MS, 5 * MS, links=[LINK]),
                        span(TRACE_A, RENDER_A, ROOT_A, "charge card", T0 + 20 * MS, 45 * MS, status=2,
                             events=[EXCEPTION]),
                        span(TRACE_B, "4" * 16, "", "GET /health", T0 + 300 * MS, 1 * MS),
                        span(TRACE_ORPHAN, "5" * 16, "9" * 16, "late part", T0 + 401 * MS, 2 * MS),
                        span(TRACE_ORPHAN, "6" * 16, "9" * 16, "early part", T0 + 400 * MS, 5 * MS),
                        span(TRACE_WRAPPER, "8" * 16, "", "highlight.log", T0 + 600 * MS, MS),
                    ],
                ),
            )  # fmt: skip
            jobs = [span(t, "7" * 16, "", f"job {i}", T0 + 500 * MS + (i // 3) * MS, MS)
                    for i, t in enumerate(JOB_TRACES)]  # fmt: skip
            post(client, server, "/v1/traces", traces_body("worker", jobs))
            post(client, server, "/v1/logs", logs_body("shop", PLAIN_LOGS[:20] + TRACE_LOGS))
            post(client, server, "/v1/logs", logs_body("worker", PLAIN_LOGS[20:]))
            # The same line in two requests (not a resend of one: those are stored once, by digest),
            # written out differently, so that two identical rows are stored.
            post(client, server, "/v1/logs", logs_body("shop", [DUPLICATE]))
            reply = client.post(
                f"{server.otlp_http_url}/v1/logs",
                content=json.dumps(logs_body("shop", [DUPLICATE]), indent=1),
                headers={"content-type": "application/json"},
            )
            assert reply.status_code == 200, reply.text
            post(client, server, "/v1/logs", logs_body("web", [SESSION_B_LOG]))
        yield server
    finally:
        if client := _clients.pop(server.ui_url, None):
            client.close()
        server.stop()


def api(server: Server, path: str, **params: Any) -> httpx.Response:
    """GET `path`; every answer, errors included, must be what the OpenAPI document says."""
    client = _clients.get(server.ui_url) or _clients.setdefault(server.ui_url, httpx.Client(timeout=30))
    reply = client.get(f"{server.ui_url}{path}", params=params)
    conforms(reply)
    return reply


def ok(server: Server, path: str, **params: Any) -> dict[str, Any]:
    reply = api(server, path, **params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def every_page(server: Server, path: str, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        body = ok(server, path, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        assert set(body) == {"items", "next_cursor"}
        pages += 1
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(body["items"]) == limit  # a page short of the limit is the last one
        assert pages < 1000


def key(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True)


# -- logs ---------------------------------------------------------------------------------------------


def test_logs_pages_give_every_line_once_newest_first(seeded: Server) -> None:
    everything = ok(seeded, "/api/logs", limit=1000)
    assert everything["next_cursor"] is None
    total = seeded.stats()["logs"]
    # 40 plain + 2 of trace A + the exception event's ERROR line + the duplicate twice + session B's
    assert len(everything["items"]) == total == 40 + 2 + 1 + 2 + 1
    times = [item["time_ns"] for item in everything["items"]]
    assert times == sorted(times, reverse=True)

    for limit in (1, 3, 7, 46, 100):
        paged, pages = every_page(seeded, "/api/logs", limit)
        assert paged == everything["items"], f"limit {limit}"  # same rows, same order: no gap, no repeat
        assert pages == -(-total // limit)

    assert sum(item["body"] == "sent twice" for item in everything["items"]) == 2
    first = everything["items"][0]
    assert first["body"] == "slow page" and first["level"] == "warn" and first["service_name"] == "web"
    assert first["session_id"] == first["linked_session_id"] == SESSION_B
    assert isinstance(first["attributes"], dict) and isinstance(first["resource_attributes"], dict)
    assert first["resource_attributes"]["service.name"] == "web"
    assert "row_id" not in first


def test_logs_link_to_the_session_of_their_trace(seeded: Server) -> None:
    items = ok(seeded, "/api/logs", query=f"trace_id={TRACE_A}")["items"]
    assert {item["body"] for item in items} >= {"checkout started", "payment failed"}
    assert len(items) == 3  # and the ERROR line of the exception event
    assert all(item["session_id"] is None and item["linked_session_id"] == SESSION_A for item in items)
    plain = ok(seeded, "/api/logs", query='message="line 0 payment"')["items"]
    assert [(p["body"], p["linked_session_id"]) for p in plain] == [("line 0 payment", None)]


def test_logs_query_and_time_range_filter(seeded: Server) -> None:
    errors = ok(seeded, "/api/logs", query="level=error", limit=1000)["items"]
    assert errors and all(item["level"] == "error" for item in errors)
    assert len(errors) == 10 + 1 + 1  # every 4th plain line, "payment failed", the exception line

    payment, pages = every_page(seeded, "/api/logs", 2, query="payment service_name=shop")
    assert sorted(item["body"] for item in payment) == [
        "line 0 payment", "line 10 payment", "line 15 payment", "line 5 payment", "payment failed",
    ]  # fmt: skip
    assert pages == 3

    # epoch milliseconds, both ends inclusive: plain lines 0..11 sit at T0 + 0, 1, 2 ms
    start, end = T0 // MS, T0 // MS + 2
    ranged = ok(seeded, "/api/logs", start=str(start), end=str(end), limit=1000)["items"]
    assert sorted(item["body"].split()[1] for item in ranged) == sorted(str(i) for i in range(12))
    assert ok(seeded, "/api/logs", query="nosuchword")["items"] == []


def test_logs_bad_requests(seeded: Server) -> None:
    reply = api(seeded, "/api/logs", query="level=(error")
    assert reply.status_code == 400, reply.text
    detail = reply.json()
    assert isinstance(detail["extra"]["position"], int) and detail["extra"]["expected"]
    for raw in (b"[1]", b'["x", 1]', b"{}", b"[1, 2, 3]", b"[true, 1]"):
        assert api(seeded, "/api/logs", cursor=base64.urlsafe_b64encode(raw).decode()).status_code == 400, raw
    for cursor in ("not a cursor!", "%%%"):
        reply = api(seeded, "/api/logs", cursor=cursor)
        assert reply.status_code == 400, (cursor, reply.text)
        assert "cursor" in reply.json()["detail"]
    assert api(seeded, "/api/logs", limit=0).status_code == 400
    assert api(seeded, "/api/logs", limit=1001).status_code == 400
    assert api(seeded, "/api/logs", start="yesterday").status_code == 400
    backwards = api(seeded, "/api/logs", start="2024-01-02T00:00:00Z", end="2024-01-01T00:00:00Z")
    assert backwards.status_code == 400


# -- histogram ----------------------------------------------------------------------------------------


def test_histogram_counts_match_the_filtered_logs(seeded: Server) -> None:
    for query in ("", "level=error", "payment", "service_name=worker"):
        logs = ok(seeded, "/api/logs", query=query, limit=1000)["items"]
        hist = ok(seeded, "/api/logs/histogram", query=query)
        assert len(hist["buckets"]) == 60
        totals: Counter[str] = Counter()
        for bucket in hist["buckets"]:
            totals.update(bucket["counts"])
        assert totals == Counter(item["level"] for item in logs), query
        times = [item["time_ns"] for item in logs]
        assert (hist["start_ns"], hist["end_ns"]) == (min(times), max(times))
        starts = [bucket["start_ns"] for bucket in hist["buckets"]]
        assert starts == [hist["start_ns"] + i * hist["bucket_ns"] for i in range(60)]
        assert starts[-1] + hist["bucket_ns"] > hist["end_ns"]
        for item in logs:  # each line lands in the bucket covering its time
            index = (item["time_ns"] - hist["start_ns"]) // hist["bucket_ns"]
            assert hist["buckets"][index]["counts"][item["level"]] >= 1


def test_histogram_range_buckets_and_errors(seeded: Server) -> None:
    # [T0, T0 + 10 ms) in 10 buckets of 1 ms (+1 ns: the end is inclusive): plain lines, 4 a millisecond
    hist = ok(seeded, "/api/logs/histogram", start=str(T0 // MS), end=str(T0 // MS + 9), buckets=10)
    assert hist["start_ns"] == T0 and hist["end_ns"] == T0 + 9 * MS
    assert [sum(b["counts"].values()) for b in hist["buckets"]] == [4] * 10
    assert hist["buckets"][0]["counts"] == {"info": 1, "warn": 1, "error": 1, "debug": 1}
    empty = ok(seeded, "/api/logs/histogram", query="nosuchword")
    assert empty["buckets"] == [] and empty["bucket_ns"] is None
    # a range given on both sides keeps its buckets when nothing matches
    empty = ok(seeded, "/api/logs/histogram", query="nosuchword", start=str(T0 // MS), end=str(T0 // MS + 9),
               buckets=10)  # fmt: skip
    assert (empty["start_ns"], empty["bucket_ns"]) == (T0, -(-(9 * MS + 1) // 10))
    assert [b["counts"] for b in empty["buckets"]] == [{}] * 10
    # one side given: the other is the matches' own last time
    logs = ok(seeded, "/api/logs", start=str(T0 // MS + 5), limit=1000)["items"]
    half = ok(seeded, "/api/logs/histogram", start=str(T0 // MS + 5), buckets=7)
    assert (half["start_ns"], half["end_ns"]) == (T0 + 5 * MS, max(item["time_ns"] for item in logs))
    assert sum(sum(b["counts"].values()) for b in half["buckets"]) == len(logs)
    assert len(ok(seeded, "/api/logs/histogram", buckets=500)["buckets"]) == 500
    for buckets in (0, 501):
        assert api(seeded, "/api/logs/histogram", buckets=buckets).status_code == 400
    reply = api(seeded, "/api/logs/histogram", query='message="unclosed')
    assert reply.status_code == 400 and "position" in reply.json()["extra"]


# -- logs of a trace, of a session -------------------------------------------------------------------


def test_logs_of_a_trace_and_of_a_session(seeded: Server) -> None:
    trace = ok(seeded, f"/api/traces/{TRACE_A}/logs")
    assert trace["items"][0]["body"] == "checkout started"
    assert len(trace["items"]) == 3 and trace["next_cursor"] is None
    times = [item["time_ns"] for item in trace["items"]]
    assert times == sorted(times)  # a timeline: oldest first
    assert ok(seeded, f"/api/traces/{TRACE_A.upper()}/logs") == trace

    session_a = ok(seeded, f"/api/sessions/{SESSION_A}/logs")["items"]
    assert session_a == trace["items"]  # all through its trace
    session_b = ok(seeded, f"/api/sessions/{SESSION_B}/logs")["items"]
    assert [item["body"] for item in session_b] == ["slow page"]
    assert ok(seeded, "/api/sessions/nobody/logs")["items"] == []
    assert ok(seeded, f"/api/traces/{'f' * 32}/logs")["items"] == []


# -- spans --------------------------------------------------------------------------------------------


def test_spans_search_and_paging(seeded: Server) -> None:
    everything = ok(seeded, "/api/spans", limit=1000)["items"]
    assert len(everything) == seeded.stats()["spans"] - 1 == 6 + len(JOB_TRACES)  # not the wrapper
    assert "highlight.log" not in {s["name"] for s in everything}
    starts = [s["start_ns"] for s in everything]
    assert starts == sorted(starts, reverse=True)
    for limit in (1, 4, 10):
        paged, _ = every_page(seeded, "/api/spans", limit)
        assert paged == everything
    assert len({(s["trace_id"], s["span_id"]) for s in everything}) == len(everything)

    failing = ok(seeded, "/api/spans", query="has_errors=true")["items"]
    assert [(s["name"], s["status_code"]) for s in failing] == [("charge card", 2)]
    event = failing[0]["events"][0]
    assert event["name"] == "exception" and event["attributes"]["exception.type"] == "ValueError"
    assert failing[0]["linked_session_id"] == SESSION_A and failing[0]["session_id"] is None
    db = ok(seeded, "/api/spans", query="span_name=db.query")["items"]
    assert db[0]["links"][0]["trace_id"] == TRACE_B and db[0]["links"][0]["attributes"] == {"why": "retry"}
    slow = ok(seeded, "/api/spans", query="duration>=40ms")["items"]
    assert {s["name"] for s in slow} == {"GET /checkout", "charge card"}
    assert ok(seeded, "/api/spans", query="http.route=/checkout")["items"][0]["span_id"] == ROOT_A

    reply = api(seeded, "/api/spans", query="duration>abc")
    assert reply.status_code == 400 and isinstance(reply.json()["extra"]["position"], int)
    assert api(seeded, "/api/spans", cursor=base64.urlsafe_b64encode(b"[1, 2]").decode()).status_code == 400


# -- traces -------------------------------------------------------------------------------------------


def test_traces_one_row_per_trace_with_its_figures(seeded: Server) -> None:
    everything = ok(seeded, "/api/traces", limit=1000)["items"]
    assert len(everything) == 3 + len(JOB_TRACES)  # not the wrapper-only trace
    assert len({t["trace_id"] for t in everything}) == len(everything)
    starts = [t["start_ns"] for t in everything]
    assert starts == sorted(starts, reverse=True)
    by_id = {t["trace_id"]: t for t in everything}

    a = by_id[TRACE_A]
    assert a == {
        "trace_id": TRACE_A, "root_span_id": ROOT_A, "root_span_name": "GET /checkout",
        "service_name": "shop", "start_ns": T0 + 10 * MS, "duration_ns": 55 * MS, "span_count": 3,
        "has_errors": True, "session_id": SESSION_A,
    }  # fmt: skip
    b, orphan = by_id[TRACE_B], by_id[TRACE_ORPHAN]
    assert (b["root_span_name"], b["span_count"], b["has_errors"], b["session_id"]) == (
        "GET /health", 1, False, None
    )  # fmt: skip
    assert (orphan["root_span_name"], orphan["span_count"], orphan["duration_ns"]) == (
        "early part", 2, 5 * MS
    )  # fmt: skip

    for limit in (1, 2, 5, 26):
        paged, _ = every_page(seeded, "/api/traces", limit)
        assert paged == everything, f"limit {limit}"  # ties on start time included: 3 jobs per ms


def test_traces_match_when_any_span_matches(seeded: Server) -> None:
    found = ok(seeded, "/api/traces", query="span_name=db.query")["items"]
    assert [(t["trace_id"], t["root_span_name"], t["span_count"]) for t in found] == [
        (TRACE_A, "GET /checkout", 3)
    ]
    assert [t["trace_id"] for t in ok(seeded, "/api/traces", query="has_errors=true")["items"]] == [TRACE_A]
    workers = ok(seeded, "/api/traces", query="service_name=worker", limit=1000)["items"]
    assert len(workers) == len(JOB_TRACES)
    # a time range over span starts: the orphan trace's spans start at T0 + 400 and 401 ms
    start = (T0 + 400 * MS) // MS
    ranged = ok(seeded, "/api/traces", start=str(start), end=str(start + 1))["items"]
    assert [t["trace_id"] for t in ranged] == [TRACE_ORPHAN]
    assert api(seeded, "/api/traces", query="(span_name=x").status_code == 400
    assert api(seeded, "/api/traces", cursor="%%%").status_code == 400
    wrong_size = base64.urlsafe_b64encode(b'[1, "a", "b"]').decode()
    assert api(seeded, "/api/traces", cursor=wrong_size).status_code == 400


def test_trace_detail_has_spans_logs_errors_and_session(seeded: Server) -> None:
    trace = ok(seeded, f"/api/traces/{TRACE_A}")
    assert trace["trace_id"] == TRACE_A and trace["session_id"] == SESSION_A
    assert (trace["start_ns"], trace["duration_ns"]) == (T0 + 10 * MS, 55 * MS)
    spans = {s["span_id"]: s for s in trace["spans"]}
    assert [s["span_id"] for s in trace["spans"]] == [ROOT_A, DB_A, RENDER_A]  # by start time
    assert spans[ROOT_A]["parent_span_id"] == "" and spans[ROOT_A]["session_id"] == SESSION_A
    assert spans[DB_A]["parent_span_id"] == spans[RENDER_A]["parent_span_id"] == ROOT_A
    assert all(s["linked_session_id"] == SESSION_A for s in trace["spans"])
    assert spans[RENDER_A]["events"][0]["attributes"]["exception.message"] == "card declined"
    assert spans[DB_A]["links"] == [{"trace_id": TRACE_B, "span_id": "4" * 16, "trace_state": "",
                                     "attributes": {"why": "retry"}}]  # fmt: skip
    assert spans[ROOT_A]["attributes"]["http.route"] == "/checkout"
    assert spans[ROOT_A]["events"] == [] and spans[ROOT_A]["links"] == []

    assert trace["logs"][0]["body"] == "checkout started"
    assert len(trace["logs"]) == 3 and all(log["linked_session_id"] == SESSION_A for log in trace["logs"])
    assert trace["logs"] == ok(seeded, f"/api/traces/{TRACE_A}/logs")["items"]
    [error] = trace["errors"]
    assert (error["type"], error["message"], error["span_id"]) == ("ValueError", "card declined", RENDER_A)
    assert error["linked_session_id"] == SESSION_A and isinstance(error["frames"], list)
    assert error["frames"] and error["frames"][0]["function"] == "pay"

    assert ok(seeded, f"/api/traces/{TRACE_A.upper()}")["trace_id"] == TRACE_A
    b = ok(seeded, f"/api/traces/{TRACE_B}")
    assert (b["session_id"], b["logs"], b["errors"], len(b["spans"])) == (None, [], [], 1)
    wrapper = ok(seeded, f"/api/traces/{TRACE_WRAPPER}")
    assert [s["name"] for s in wrapper["spans"]] == ["highlight.log"]


def test_unknown_trace_is_404(seeded: Server) -> None:
    assert api(seeded, f"/api/traces/{'f' * 32}").status_code == 404
    assert api(seeded, "/api/traces/not-a-trace").status_code == 404
