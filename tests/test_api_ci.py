"""The API parts a CI run leans on: /api/wait (wait for telemetry, bounded) and the trace list's
`sort=errors` (a run's failing tests first), against a real server over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api_schema import conforms
from tests.conftest import Server, start_server

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("api-ci") / "hl.duckdb")
    try:
        yield srv
    finally:
        srv.stop()


_ids = iter(range(1, 1_000_000))


def send_span(server: Server, name: str, *, error: bool = False, at_ns: int | None = None) -> str:
    """One span (its own trace) over OTLP/JSON; returns its trace id."""
    n = next(_ids)
    trace_id, start = f"{n:032x}", at_ns or time.time_ns()
    span = {"traceId": trace_id, "spanId": f"{n:016x}", "name": name, "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + 1_000_000), "status": {"code": 2 if error else 0}}  # fmt: skip
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    reply = httpx.post(f"{server.ui_url}/v1/traces", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    return trace_id


def wait(server: Server, status: int = 200, **params: Any) -> tuple[Json, float]:
    started = time.monotonic()
    reply = httpx.get(f"{server.ui_url}/api/wait", params=params, timeout=60)
    elapsed = time.monotonic() - started
    assert reply.status_code == status, reply.text
    return conforms(reply), elapsed


def test_wait_answers_at_once_when_it_is_there(server: Server) -> None:
    for _ in range(3):
        send_span(server, "present-span")
    answer, elapsed = wait(server, signal="spans", query="span_name=present-span", count=2, timeout_s=30)
    assert answer["arrived"] is True
    assert answer["count"] == 3, "the answer counts every match, not just the ones asked for"
    assert answer["waited_ms"] < 1000 and elapsed < 5, "no waiting for what is already stored"


def test_wait_answers_after_the_timeout_when_it_is_not(server: Server) -> None:
    answer, elapsed = wait(server, signal="spans", query="span_name=never-sent", timeout_s=1.5)
    assert (answer["arrived"], answer["count"]) == (False, 0)
    assert 1.5 <= elapsed < 1.5 + 3, "the timeout, and not much more"
    assert answer["waited_ms"] >= 1500


def test_wait_answers_when_it_arrives(server: Server) -> None:
    found: list[tuple[Json, float]] = []
    waiter = threading.Thread(
        target=lambda: found.append(wait(server, signal="spans", query="span_name=late-span", timeout_s=30))
    )
    waiter.start()
    send_span(server, "late-span")  # stored during the wait (or just before it began: the same answer)
    waiter.join(60)
    ((answer, elapsed),) = found
    assert answer["arrived"] is True and answer["count"] == 1
    assert elapsed < 10, "answered on arrival, not at the timeout"


def test_wait_for_logs_and_in_a_time_range(server: Server) -> None:
    now_ns = time.time_ns()
    record = {
        "timeUnixNano": str(now_ns),
        "severityText": "ERROR",
        "body": {"stringValue": "payment declined"},
    }
    body = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": [record]}]}]}
    assert httpx.post(f"{server.ui_url}/v1/logs", json=body, timeout=30).status_code == 200
    answer, _ = wait(server, signal="logs", query="level=error declined", timeout_s=10)
    assert answer["arrived"] is True
    later = str(now_ns // 1_000_000 + 3_600_000)  # an hour on: nothing there yet
    answer, elapsed = wait(server, signal="logs", query="declined", start=later, timeout_s=0)
    assert (answer["arrived"], answer["count"], elapsed < 5) == (False, 0, True)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"signal": "spans", "count": 0}, "count must be between 1 and"),
        ({"signal": "spans", "timeout_s": 301}, "timeout_s must be between 0 and 300"),
        ({"signal": "metrics"}, "signal"),
        ({"signal": "logs", "query": "level=(error"}, "expected"),
        ({"query": "x"}, "signal"),
    ],
)
def test_wait_bad_requests(server: Server, params: Json, says: str) -> None:
    answer, _ = wait(server, 400, **params)
    assert says in answer["detail"] + str(answer.get("extra"))


def test_wait_does_not_hold_the_shutdown_back(tmp_path: Any) -> None:
    own = start_server(tmp_path / "hl.duckdb")
    answers: list[httpx.Response] = []
    refused: list[Exception] = []
    with httpx.Client(base_url=own.ui_url, timeout=60) as client:
        assert client.get("/health").status_code == 200  # the connection is up: the wait goes out at once

        def wait_long() -> None:
            try:
                answers.append(client.get("/api/wait", params={"signal": "spans", "timeout_s": 120}))
            except httpx.HTTPError as exc:  # had not reached the server before it stopped taking requests
                refused.append(exc)

        waiter = threading.Thread(target=wait_long)
        waiter.start()
        started = time.monotonic()
        assert own.stop() == 0
        waiter.join(30)
    assert time.monotonic() - started < 15, "a stop is not held back by a 120 s wait"
    assert len(answers) + len(refused) == 1
    for answer in answers:
        assert answer.status_code == 200 and answer.json()["arrived"] is False


def test_traces_sorted_with_errors_first_page_by_page(server: Server) -> None:
    base = time.time_ns() - 60_000_000_000
    ids = {name: send_span(server, f"sort-{name}", error=name == "broken", at_ns=base + i * 1_000_000)
           for i, name in enumerate(["old", "broken", "new"])}  # fmt: skip
    query = "span_name=sort-*"
    newest = httpx.get(f"{server.ui_url}/api/traces", params={"query": query}, timeout=30)
    assert [t["trace_id"] for t in conforms(newest)["items"]] == [ids["new"], ids["broken"], ids["old"]]
    seen, cursor = [], None
    while True:
        params = {"query": query, "sort": "errors", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = conforms(httpx.get(f"{server.ui_url}/api/traces", params=params, timeout=30))
        seen += [(t["trace_id"], t["has_errors"]) for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [(ids["broken"], True), (ids["new"], False), (ids["old"], False)]
    bad = httpx.get(
        f"{server.ui_url}/api/traces", params={"sort": "errors", "cursor": "WzEsMiwiMyJd"}, timeout=30
    )
    assert bad.status_code == 400, "a newest-first cursor is not a sort=errors one"
    assert httpx.get(f"{server.ui_url}/api/traces", params={"sort": "slowest"}, timeout=30).status_code == 400
