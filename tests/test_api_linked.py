"""What a recorded session links through its traces, as every API reads it, and the overview.

A server starts empty (the overview says so, with the addresses it really bound), then gets the real
browser capture `main` and a backend trace as the Node SDK sends one for a request of that session:
`highlight.session_id` on the root span only, a log line on each span (with their trace ids, without
the session) and an exception on the child. The session's backend lines, spans and error are then
found by searching for its id on every signal, the sessions list counts the backend error as its
Errors tab does, and the error group's depth endpoints name the session, its browser and its OS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api_schema import conforms
from tests.conftest import Server, start_server
from tests.test_api_logs_traces import attrs, log, logs_body, span, traces_body
from tests.test_highlight_replay import Capture, send_all

Json = dict[str, Any]
TRACE = "e5" * 16
ROOT, CHILD = "a" * 16, "b" * 16
MS = 1_000_000
STACK = "TypeError: cart is undefined\n    at pay (/app/api.js:3:9)"


@dataclass
class Linked:
    server: Server
    session_id: str
    empty_overview: Json
    backend_group: str

    def get(self, path: str, status: int = 200, **params: Any) -> Json:
        reply = httpx.get(f"{self.server.ui_url}{path}", params=params, timeout=30)
        assert reply.status_code == status, (path, params, reply.text)
        body: Json = conforms(reply)
        return body


@pytest.fixture(scope="module")
def linked() -> Iterator[Linked]:
    server = start_server(None)
    try:
        empty = httpx.get(f"{server.ui_url}/api/overview", timeout=10).json()
        main = Capture.load("main")
        assert all(reply.status_code == 200 for _, reply in send_all(server, main))
        [session_id] = main.session_ids
        session = httpx.get(f"{server.ui_url}/api/sessions/{session_id}", timeout=10).json()
        at = (session["first_event_ms"] + 5000) * MS  # five seconds into the recording
        exception = {
            "timeUnixNano": str(at + 3 * MS),
            "name": "exception",
            "attributes": attrs({"exception.type": "TypeError", "exception.message": "cart is undefined",
                                 "exception.stacktrace": STACK}),
        }  # fmt: skip
        spans = [
            span(
                TRACE,
                ROOT,
                "",
                "POST /api/checkout",
                at,
                20 * MS,
                attributes={"highlight.session_id": session_id},
            ),
            span(TRACE, CHILD, ROOT, "charge", at + 2 * MS, 5 * MS, status=2, events=[exception]),
        ]
        lines = [
            log(at + MS, "info", "checkout begins", TRACE, ROOT),
            log(at + 4 * MS, "warn", "charge failed", TRACE, CHILD),
        ]
        with httpx.Client(timeout=30) as client:
            for path, body in (
                ("/v1/traces", traces_body("checkout-api", spans)),
                ("/v1/logs", logs_body("checkout-api", lines)),
            ):
                assert client.post(f"{server.otlp_http_url}{path}", json=body).status_code == 200
        [group] = httpx.get(f"{server.ui_url}/api/error-groups", params={"query": "type=TypeError"}).json()[
            "items"
        ]
        yield Linked(server, session_id, empty, group["group_id"])
    finally:
        server.stop()


def test_the_overview_of_an_empty_store_has_the_addresses_to_send_to(linked: Linked) -> None:
    empty, server = linked.empty_overview, linked.server
    assert empty["empty"] is True and empty["newest_errors"] == []
    assert set(empty["counts"].values()) == {0} and set(empty["last_received"].values()) == {None}
    grpc_port = server.grpc_target.rsplit(":", 1)[1]
    assert empty["addresses"] == {
        "ui_url": server.ui_url,
        "otlp_http_url": server.otlp_http_url,
        "otlp_grpc_url": f"http://127.0.0.1:{grpc_port}",
        "backend_url": f"{server.ui_url}/public",
    }


def test_the_overview_with_data(linked: Linked) -> None:
    overview = linked.get("/api/overview")
    assert overview["empty"] is False
    counts = overview["counts"]
    assert counts["sessions"] == 1 and counts["spans"] > 2 and counts["metric_points"] > 0
    assert counts["errors"] == linked.server.stats()["errors"]
    assert all(
        overview["last_received"][signal] for signal in ("sessions", "errors", "logs", "traces", "metrics")
    )
    newest = overview["newest_errors"]
    assert 0 < len(newest) <= 5 and linked.backend_group in {g["group_id"] for g in newest}
    assert [g["last_seen_ns"] for g in newest] == sorted((g["last_seen_ns"] for g in newest), reverse=True)


def test_a_session_id_finds_what_its_traces_link_on_every_signal(linked: Linked) -> None:
    query = f"secure_session_id={linked.session_id}"
    lines = linked.get("/api/logs", query=query, limit=1000)["items"]
    bodies = {line["body"] for line in lines}
    assert {"checkout begins", "charge failed", "cart is undefined"} <= bodies  # none carries the session
    session_lines = linked.get(f"/api/sessions/{linked.session_id}/logs")["items"]
    assert sorted(line["body"] for line in lines) == sorted(line["body"] for line in session_lines)
    spans = linked.get("/api/spans", query=f"session_id={linked.session_id} trace_id={TRACE}")["items"]
    assert {s["span_id"] for s in spans} == {ROOT, CHILD}
    traces = linked.get("/api/traces", query=query)["items"]
    assert TRACE in {t["trace_id"] for t in traces}
    groups = linked.get("/api/error-groups", query=query)["items"]
    assert linked.backend_group in {g["group_id"] for g in groups}
    # and the other way: a backend line is in a session even though it names none
    assert "charge failed" in {
        line["body"] for line in linked.get("/api/logs", query="has_session=true")["items"]
    }
    assert "charge failed" not in {
        line["body"] for line in linked.get("/api/logs", query="has_session=false")["items"]
    }


def test_the_sessions_list_counts_errors_as_the_errors_tab_lists_them(linked: Linked) -> None:
    [row] = linked.get("/api/sessions")["items"]
    listed = linked.get(f"/api/sessions/{linked.session_id}/errors")["items"]
    assert (
        row["error_count"] == len(listed) == linked.get(f"/api/sessions/{linked.session_id}")["error_count"]
    )
    assert {e["source"] for e in listed} == {"frontend", "backend"}
    assert [s["session_id"] for s in linked.get("/api/sessions", query="has_errors=true")["items"]] == [
        linked.session_id
    ]


def test_error_group_chart_facets_and_sessions(linked: Linked) -> None:
    group = linked.get(f"/api/error-groups/{linked.backend_group}")
    chart = linked.get(f"/api/error-groups/{linked.backend_group}/chart", buckets=12)
    assert len(chart["counts"]) == 12 and sum(chart["counts"]) == group["occurrences"] == 1
    assert sum(chart["sessions"]) == 1 and chart["start_ns"] <= group["first_seen_ns"] < chart["end_ns"]

    facets = {f["key"]: f for f in linked.get(f"/api/error-groups/{linked.backend_group}/facets")["facets"]}
    assert list(facets) == ["service", "environment", "version", "browser", "os", "url"]
    assert facets["service"]["values"] == [{"value": "checkout-api", "count": 1}]
    # the backend error's browser and OS are those of the session it belongs to
    assert facets["browser"]["values"] == [{"value": "Chrome 156 (headless)", "count": 1}]
    assert facets["os"]["values"] == [{"value": "Linux", "count": 1}]

    [hit] = linked.get(f"/api/error-groups/{linked.backend_group}/sessions")["items"]
    assert hit["session_id"] == linked.session_id and hit["occurrences"] == 1
    assert hit["first_error_id"] == group["occurrences_latest"][0]["error_id"]
    assert hit["started_ns"] is not None and 5000 <= hit["offset_ms"] < 5100

    frontend = linked.get("/api/error-groups", query="source=frontend type=window.onerror")["items"][0]
    url_facet = {
        f["key"]: f for f in linked.get(f"/api/error-groups/{frontend['group_id']}/facets")["facets"]
    }["url"]
    assert url_facet["values"][0]["value"] == "http://127.0.0.1:8765/index.html"  # without its query
    for path in ("chart", "facets", "sessions"):
        assert (
            linked.get(f"/api/error-groups/nosuchgroup/{path}", 404)["detail"]
            == "no error group 'nosuchgroup'"
        )


def test_traces_sort_by_duration(linked: Linked) -> None:
    longest, cursor, pages = [], None, 0
    while True:
        body = linked.get("/api/traces", sort="duration", limit=2, **({"cursor": cursor} if cursor else {}))
        longest += body["items"]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            break
    durations = [t["duration_ns"] for t in longest]
    assert durations == sorted(durations, reverse=True) and pages > 1
    assert sorted(t["trace_id"] for t in longest) == sorted(
        t["trace_id"] for t in linked.get("/api/traces", limit=1000)["items"]
    )
