"""The error query API and search suggestions, on a real hl-local fed through its real ingest paths:
every recorded OTLP client capture (backend errors with traces and logs) and the browser capture
`main` (frontend errors in a recorded session with console logs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api_schema import conforms
from tests.conftest import Server, start_server
from tests.test_highlight_replay import Capture, send_all
from tests.test_otlp_fixtures import FOLDERS, load_requests, replay

Json = dict[str, Any]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("api-errors") / "hl.duckdb")
    try:
        for folder in FOLDERS:
            replay(server, load_requests(folder))
        replies = send_all(server, Capture.load("main"))
        assert all(reply.status_code == 200 for _, reply in replies)
        yield server
    finally:
        server.stop()


def get(server: Server, path: str, status: int = 200, **params: Any) -> Json:
    """GET `path`, expecting `status` and an answer that is what the OpenAPI document says."""
    reply = httpx.get(server.ui_url + path, params=params, timeout=10)
    assert reply.status_code == status, (path, params, reply.text)
    body: Json = conforms(reply)
    return body


def groups(server: Server, **params: Any) -> list[Json]:
    body = get(server, "/api/error-groups", **params)
    assert body["error_groups"] == body["items"]
    return body["items"]


def occurrences(server: Server, group_id: str) -> list[Json]:
    return get(server, f"/api/error-groups/{group_id}", limit=1000)["occurrences_latest"]


def all_pages(server: Server, path: str, key: str, **params: Any) -> list[Json]:
    items: list[Json] = []
    cursor = None
    for _ in range(100):
        body = get(server, path, **params, **({"cursor": cursor} if cursor else {}))
        items += body[key]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def test_group_list_shape_and_order(seeded: Server) -> None:
    items = groups(seeded)
    assert len(items) == seeded.stats()["error_groups"] == 13
    assert [g["last_seen_ns"] for g in items] == sorted((g["last_seen_ns"] for g in items), reverse=True)
    for group in items:
        assert group["range_occurrences"] == group["occurrences"]  # no range, no query: everything
        assert sum(group["sparkline"]) == group["occurrences"] and len(group["sparkline"]) == 24
        assert group["affected_sessions"] >= 0 and group["state"] == "open"


def test_group_search(seeded: Server) -> None:
    key_errors = groups(seeded, query="type=KeyError")
    assert {g["type"] for g in key_errors} == {"KeyError"} and len(key_errors) == 1
    assert {g["title"] for g in groups(seeded, query="division")} == {"division by zero"}
    # The JSON.parse SyntaxError group (first seen from Node) also has occurrences from otel-js.
    otel_js = {g["type"]: g for g in groups(seeded, query="service_name=otel-js-demo")}
    assert otel_js.keys() == {"Error", "SyntaxError"}
    assert otel_js["Error"]["title"] == "otel-js: uncaught exception from timer"
    syntax = otel_js["SyntaxError"]
    assert (
        syntax["service_name"] == "hl-node-demo" and 0 < syntax["range_occurrences"] < syntax["occurrences"]
    )
    frontend = groups(seeded, query="source=frontend has_session=true")
    assert {g["type"] for g in frontend} == {"custom", "window.onerror"} and len(frontend) == 3
    assert groups(seeded, query="type=NoSuchType") == []

    # A group matches when some of its errors match; it counts only those.
    (eur,) = groups(seeded, query="order.currency=EUR")
    assert eur["title"] == "division by zero"
    assert (eur["range_occurrences"], eur["occurrences"]) == (2, 5)
    assert sum(eur["sparkline"]) == 2


def test_group_search_errors_are_400(seeded: Server) -> None:
    body = get(seeded, "/api/error-groups", 400, query="type=(KeyError")
    assert "position" in str(body)
    get(seeded, "/api/error-groups", 400, cursor="not a cursor!")
    get(seeded, "/api/error-groups", 400, cursor="WzFd")  # [1]: not a (time, id) pair
    get(seeded, "/api/error-groups", 400, limit=0)
    get(seeded, "/api/error-groups", 400, buckets=0)
    get(seeded, "/api/error-groups", 400, start="yesterday")
    get(seeded, "/api/error-groups", 400, start="2000", end="1000")


def test_sparklines_over_a_range(seeded: Server) -> None:
    everything = groups(seeded)
    members = {g["group_id"]: occurrences(seeded, g["group_id"]) for g in everything}
    times = sorted(o["time_ns"] for group in members.values() for o in group)
    assert len(times) == seeded.stats()["errors"]
    start_ms, end_ms = times[len(times) // 4] // 1_000_000, times[3 * len(times) // 4] // 1_000_000
    for buckets in (1, 7, 24):
        body = get(seeded, "/api/error-groups", start=str(start_ms), end=str(end_ms), buckets=buckets)
        assert (body["start_ns"], body["end_ns"]) == (start_ms * 1_000_000, end_ms * 1_000_000)
        assert body["bucket_ns"] * buckets >= body["end_ns"] - body["start_ns"]
        assert body["items"]
        for group in body["items"]:
            in_range = [
                o for o in members[group["group_id"]]
                if start_ms * 1_000_000 <= o["time_ns"] < end_ms * 1_000_000
            ]  # fmt: skip
            assert len(group["sparkline"]) == buckets
            assert sum(group["sparkline"]) == group["range_occurrences"] == len(in_range) > 0
            expected = [0] * buckets
            for o in in_range:
                expected[(o["time_ns"] - body["start_ns"]) // body["bucket_ns"]] += 1
            assert group["sparkline"] == expected
        listed = {g["group_id"] for g in body["items"]}
        assert listed == {
            g["group_id"] for g in everything
            if any(start_ms * 1_000_000 <= o["time_ns"] < end_ms * 1_000_000
                   for o in members[g["group_id"]])
        }  # fmt: skip


def test_group_cursor_paging(seeded: Server) -> None:
    everything = groups(seeded)
    for size in (1, 2, 5):
        paged = all_pages(seeded, "/api/error-groups", "items", limit=size)
        assert [g["group_id"] for g in paged] == [g["group_id"] for g in everything]
    filtered = all_pages(seeded, "/api/error-groups", "items", limit=1, query="source=backend")
    assert [g["group_id"] for g in filtered] == [
        g["group_id"] for g in groups(seeded, query="source=backend")
    ]
    assert len(filtered) == 10
    assert all_pages(seeded, "/api/error-groups", "items", limit=3, state="resolved") == []


def test_group_detail_occurrence_paging(seeded: Server) -> None:
    (group,) = groups(seeded, query="type=KeyError")
    full = get(seeded, f"/api/error-groups/{group['group_id']}", limit=1000)
    assert full["next_cursor"] is None and len(full["occurrences_latest"]) == group["occurrences"] == 5
    assert full["frames"][0]["file"]  # JSON (JSON text inside a string before issue 10)
    assert all(isinstance(o["frames"], list) and o["frames"] for o in full["occurrences_latest"])
    latest = full["occurrences_latest"]
    assert [o["time_ns"] for o in latest] == sorted((o["time_ns"] for o in latest), reverse=True)
    paged = all_pages(seeded, f"/api/error-groups/{group['group_id']}", "occurrences_latest", limit=2)
    assert [o["error_id"] for o in paged] == [o["error_id"] for o in latest]
    get(seeded, f"/api/error-groups/{group['group_id']}", 400, cursor="@@")
    get(seeded, "/api/error-groups/no-such-group", 404)


def test_browser_error_occurrence(seeded: Server) -> None:
    frontend = groups(seeded, query="source=frontend")
    errors = [o for g in frontend for o in occurrences(seeded, g["group_id"])]
    assert len(errors) == 4 and len({o["session_id"] for o in errors}) == 1
    details = [get(seeded, f"/api/errors/{o['error_id']}") for o in errors]
    for error, detail in zip(errors, details, strict=True):
        assert detail["error_id"] == error["error_id"] and detail["session_id"] == error["session_id"]
        assert isinstance(detail["frames"], list) and detail["frames"]
        assert {"file", "line", "column", "function"} <= detail["frames"][0].keys()
        assert isinstance(detail["payload"], dict)
        # The session's recorded events began before its errors, a few seconds earlier.
        assert 0 <= detail["session_offset_ms"] < 60_000
        assert detail["trace_id"] is None
        around = detail["logs_around"]
        assert 0 < len(around) <= 100
        assert all(log["linked_session_id"] == detail["session_id"] for log in around)
        assert all(abs(log["time_ns"] - detail["time_ns"]) <= 60_000_000_000 for log in around)
        assert [log["time_ns"] for log in around] == sorted(log["time_ns"] for log in around)
        assert "hello from console.log" in {log["body"] for log in around}
    # Offsets move with the errors' own times: one session start for all of them.
    starts = {d["time_ns"] // 1_000_000 - d["session_offset_ms"] for d in details}
    assert len(starts) == 1
    custom = next(d for d in details if d["type"] == "custom" and d["payload"] == {"area": "checkout"})
    assert custom["group_title"] == "H.error custom message"


def test_backend_error_occurrence_has_its_trace_logs(seeded: Server) -> None:
    (group,) = groups(seeded, query="type=ZeroDivisionError")
    for occurrence in occurrences(seeded, group["group_id"]):
        detail = get(seeded, f"/api/errors/{occurrence['error_id']}")
        assert detail["trace_id"] and detail["span_id"] and detail["group_id"] == group["group_id"]
        assert detail["frames"][0]["function"] == "main" and detail["frames"][0]["line"]
        assert detail["payload"]["order.id"] == 42
        around = detail["logs_around"]
        assert around and all(log["trace_id"] == detail["trace_id"] for log in around)
        assert any(log["level"] == "error" for log in around)  # the exception's own ERROR line
        if detail["session_id"] is None:
            assert detail["session_offset_ms"] is None
    get(seeded, "/api/errors/no-such-error", 404)


def test_suggest_keys(seeded: Server) -> None:
    logs = get(seeded, "/api/suggest/keys", signal="logs")["keys"]
    assert len(logs) <= 50
    reserved = {k["key"] for k in logs if k["kind"] == "reserved"}
    assert {"level", "message", "service_name", "trace_id"} <= reserved
    code = get(seeded, "/api/suggest/keys", signal="logs", prefix="CODE.")["keys"]
    assert code and all(k["key"].startswith("code.") and k["kind"] == "attribute" for k in code)
    counts = {k["key"]: k["count"] for k in code}
    assert counts["code.function"] > 0
    assert list(counts.values()) == sorted(counts.values(), reverse=True)

    traces = {k["key"]: k for k in get(seeded, "/api/suggest/keys", signal="traces", prefix="http.")["keys"]}
    assert traces["http.method"]["count"] == 2
    errors = {k["key"]: k for k in get(seeded, "/api/suggest/keys", signal="errors", prefix="order")["keys"]}
    # 6: highlight-node's consumeError puts order.id on the span, and an error's payload merges it in
    assert errors["order.id"]["count"] == 6 and errors["order.currency"]["count"] == 2
    sessions = {k["key"] for k in get(seeded, "/api/suggest/keys", signal="sessions")["keys"]}
    assert {"identifier", "has_errors"} <= sessions
    assert get(seeded, "/api/suggest/keys", signal="logs", prefix="zzz-nothing")["keys"] == []
    get(seeded, "/api/suggest/keys", 400, signal="events")
    get(seeded, "/api/suggest/keys", 400)


def test_suggest_values(seeded: Server) -> None:
    functions = get(seeded, "/api/suggest/values", signal="logs", key="code.function")
    assert functions["kind"] == "attribute"
    values = {v["value"]: v["count"] for v in functions["values"]}
    assert values["main"] > 0

    levels = get(seeded, "/api/suggest/values", signal="logs", key="level")
    assert levels["kind"] == "reserved"
    assert {"error", "info"} <= {v["value"] for v in levels["values"]}

    types = {
        v["value"]: v["count"]
        for v in get(seeded, "/api/suggest/values", signal="errors", key="type")["values"]
    }
    assert types["KeyError"] == 5 and types["ZeroDivisionError"] == 5
    prefixed = get(seeded, "/api/suggest/values", signal="errors", key="type", prefix="key")["values"]
    assert prefixed == [{"value": "KeyError", "count": 5}]

    methods = get(seeded, "/api/suggest/values", signal="traces", key="http.method")["values"]
    assert {v["value"] for v in methods} == {"GET", "POST"}
    has_errors = get(seeded, "/api/suggest/values", signal="traces", key="has_errors")["values"]
    assert {v["value"] for v in has_errors} <= {"true", "false"} and has_errors
    assert get(seeded, "/api/suggest/values", signal="logs", key="no.such.key")["values"] == []
    get(seeded, "/api/suggest/values", 400, signal="logs", key="bad key!")
    get(seeded, "/api/suggest/values", 400, signal="logs")


def exception_span(trace: str, at_ns: int, function: str) -> Json:
    stack = (
        f'Traceback (most recent call last):\n  File "/app/{function}.py", line 7, in {function}\n'
        "    boom()\nKeyError: 'late'"
    )
    event = {
        "name": "exception",
        "timeUnixNano": str(at_ns),
        "attributes": [
            {"key": "exception.type", "value": {"stringValue": "KeyError"}},
            {"key": "exception.message", "value": {"stringValue": "'late'"}},
            {"key": "exception.stacktrace", "value": {"stringValue": stack}},
        ],
    }
    span = {"traceId": trace * 16, "spanId": trace * 8, "name": "work", "startTimeUnixNano": str(at_ns),
            "endTimeUnixNano": str(at_ns + 1000), "events": [event]}  # fmt: skip
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}


def test_a_late_older_occurrence_leaves_the_group_showing_the_newest_stack(server: Server) -> None:
    t = 1_795_000_000_000_000_000
    for body in (exception_span("a1", t + 10**9, "newest"), exception_span("b2", t, "older")):
        reply = httpx.post(f"{server.otlp_http_url}/v1/traces", json=body, timeout=10)
        assert reply.status_code == 200, reply.text
    [group] = groups(server, query="type=KeyError")
    assert group["occurrences"] == 2
    detail = get(server, f"/api/error-groups/{group['group_id']}")
    assert "newest.py" in detail["stack"] and "older.py" not in detail["stack"]
    assert [o["time_ns"] for o in detail["occurrences_latest"]] == [t + 10**9, t]
