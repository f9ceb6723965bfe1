"""The Highlight browser SDK's traffic against a live hl-local: real captures replayed, then robustness.

The captures in fixtures/browser were recorded from highlight.run 10.7.5 in Chromium (see the README
there). Every expected value is computed here from the capture itself (`data` decoded with base64 +
gzip + json by this file, never by hl-local's decoder), and checked against the DuckDB file after the
server stopped. The robustness tests build the SDK's requests by hand.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import duckdb
import httpx
import pytest

from hl_local.ingest.body import MAX_BODY_BYTES
from tests.conftest import FIXTURES, Server, start_server

BROWSER = FIXTURES / "browser"
CAPTURES = (
    "main",
    "defaults",
    "fault-push-empty-data",
    "fault-push-500",
    "fault-push-text",
    "fault-init-500",
    "fault-init-billing",
    "fault-project-0",
    "webdriver",
)
# The request headers a replay carries over from the capture (the rest are the browser's own).
FORWARDED = frozenset(
    {"content-type", "content-encoding", "user-agent", "accept-language", "origin", "traceparent"}
)
WEB_VITALS = ("LCP", "FCP", "CLS", "INP", "TTFB")
# /api/stats names → the same count over the file, for the sessions `{where}` selects
STAT_COUNTS = {
    "sessions": "SELECT count(*) FROM session_summaries WHERE {where}",
    "replay_events": "SELECT coalesce(sum(json_array_length(events)), 0) FROM replay_chunks WHERE {where}",
    "console_messages": "SELECT count(*) FROM logs WHERE source = 'frontend' AND {where}",
    "network_requests": "SELECT count(*) FROM network_requests WHERE {where}",
    "errors": "SELECT count(*) FROM errors WHERE {where}",
}
IN_SESSIONS = "session_id IN (SELECT unnest(?::VARCHAR[]))"
TABLES = (
    "sessions",
    "replay_chunks",
    "session_events",
    "logs",
    "errors",
    "network_requests",
    "websocket_events",
    "session_feedback",
    "spans",
    "metric_points",
)

Json = dict[str, Any]


# ---------------------------------------------------------------- reading a capture, independently


def request_body(record: Json) -> Json:
    """The request body exactly as the browser sent it."""
    return json.loads(base64.b64decode(record["body_b64"]))


def variables(record: Json) -> Json:
    return request_body(record).get("variables") or {}


def json_member(text: str, key: str, start: int = 0) -> tuple[int, int]:
    """Where the value of `key` lies in the (compact, JSON.stringify) object that starts at `start`."""
    decoder = json.JSONDecoder()
    assert text[start] == "{"
    i = start + 1
    while text[i] != "}":
        name, i = decoder.raw_decode(text, i)
        assert text[i] == ":"
        value_start = i + 1
        _, i = decoder.raw_decode(text, value_start)
        if name == key:
            return value_start, i
        i += text[i] == ","
    raise KeyError(key)


def iso_ns(value: str) -> int:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution * 1000


def unquoted(event: str) -> str:
    """The SDK JSON-quotes the text of uncaught errors and rejections."""
    return json.loads(event) if event.startswith('"') else event


def console_level(kind: str) -> str:
    return {"error": "error", "warn": "warn", "warning": "warn", "debug": "debug"}.get(kind.lower(), "info")


def console_body(message: Json) -> str:
    values = message["value"]
    return " ".join(unquoted(v) for v in values) if message["type"] == "Error" else " ".join(values)


def trace_id(headers: Json) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "traceparent"), None)
    return value.split("-")[1] if value else None


def rage(clicks: list[tuple[float, float, float]]) -> bool:
    """Highlight's rule: 5 clicks within 8 px of the first of them, inside 2 s."""
    return any(
        sum(1 for t, x, y in clicks if 0 <= t - t0 <= 2000 and math.hypot(x - x0, y - y0) <= 8) >= 5
        for t0, x0, y0 in clicks
    )


@dataclass
class Push:
    session_id: str
    payload_id: str
    plain: str  # the JSON text inside `data`
    payload: Json

    @property
    def events(self) -> list[Json]:
        return self.payload["events"]["events"]

    @property
    def raw_events(self) -> str:
        outer, _ = json_member(self.plain, "events")
        start, end = json_member(self.plain, "events", outer)
        return self.plain[start:end]

    def inner(self, key: str, inner_key: str) -> list[Json]:
        text = self.payload.get(key)
        return json.loads(text)[inner_key] if text else []

    @property
    def messages(self) -> list[Json]:
        return self.inner("messages", "messages")

    @property
    def resources(self) -> list[Json]:
        return self.inner("resources", "resources")

    @property
    def socket_events(self) -> list[Json]:
        return self.inner("web_socket_events", "webSocketEvents")

    @property
    def errors(self) -> list[Json]:
        return self.payload.get("errors") or []

    def customs(self) -> list[Json]:
        return [e for e in self.events if e["type"] == 5]


@dataclass
class Capture:
    name: str
    records: list[Json]

    @classmethod
    def load(cls, name: str) -> Capture:
        lines = (BROWSER / f"{name}.jsonl").read_text().splitlines()
        return cls(name, sorted((json.loads(line) for line in lines if line.strip()), key=lambda r: r["seq"]))

    @property
    def sent(self) -> list[Json]:
        """What the SDK sent to its backend: GraphQL and OTLP."""
        return [r for r in self.records if r["kind"] in ("graphql", "otlp")]

    def calls(self, operation: str, session_id: str | None = None) -> list[Json]:
        return [
            r
            for r in self.records
            if r["kind"] == "graphql"
            and r["operationName"] == operation
            and session_id in (None, variables(r)["session_secure_id"])
        ]

    @cached_property
    def session_ids(self) -> set[str]:
        return {variables(r)["session_secure_id"] for r in self.records if r["kind"] == "graphql"}

    @cached_property
    def all_pushes(self) -> list[Push]:
        """Every PushSessionEvents request, retries included, decoded here."""
        pushes = []
        for record in self.calls("PushSessionEvents"):
            given = variables(record)
            plain = gzip.decompress(base64.b64decode(given["data"], validate=True)).decode()
            payload = json.loads(plain)
            assert payload == record["decoded"]["payload"]  # our decoding agrees with the harness's
            pushes.append(Push(given["session_secure_id"], given["payload_id"], plain, payload))
        return pushes

    @cached_property
    def pushes(self) -> dict[str, list[Push]]:
        """Per session, one push per payload id (a retry resends the same one), in payload id order."""
        distinct: dict[tuple[str, str], Push] = {}
        for push in self.all_pushes:
            first = distinct.setdefault((push.session_id, push.payload_id), push)
            assert first.payload == push.payload  # a retry is the same payload again
        by_session: dict[str, list[Push]] = {}
        for push in sorted(distinct.values(), key=lambda p: int(p.payload_id)):
            by_session.setdefault(push.session_id, []).append(push)
        return by_session

    def session_pushes(self, session_id: str) -> list[Push]:
        return self.pushes.get(session_id, [])

    def otlp(self, path: str) -> list[Json]:
        return [request_body(r) for r in self.records if r["kind"] == "otlp" and r["path"] == path]

    @cached_property
    def spans(self) -> set[tuple[str, str, str | None]]:
        spans = set()
        for body in self.otlp("/v1/traces"):
            for resource_spans in body["resourceSpans"]:
                for scope_spans in resource_spans["scopeSpans"]:
                    for span in scope_spans["spans"]:
                        spans.add((span["traceId"], span["spanId"], session_attribute(span["attributes"])))
        return spans

    @cached_property
    def metric_points(self) -> Counter[tuple[str, str | None]]:
        points: Counter[tuple[str, str | None]] = Counter()
        for body in self.otlp("/v1/metrics"):
            for resource_metrics in body["resourceMetrics"]:
                for scope_metrics in resource_metrics["scopeMetrics"]:
                    for metric in scope_metrics["metrics"]:
                        for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                            for point in metric.get(kind, {}).get("dataPoints", []):
                                points[metric["name"], session_attribute(point.get("attributes", []))] += 1
        return points

    def expected_stats(self) -> dict[str, int]:
        pushes = [p for session in self.pushes.values() for p in session]
        return {
            "sessions": len(self.session_ids),
            "replay_events": sum(len(p.events) for p in pushes),
            "console_messages": sum(len(p.messages) for p in pushes),
            "network_requests": sum(
                1 for p in pushes for r in p.resources if r.get("initiatorType") != "websocket"
            ),
            "errors": sum(len(p.errors) for p in pushes),
        }


def session_attribute(attributes: list[Json]) -> str | None:
    return next((a["value"]["stringValue"] for a in attributes if a["key"] == "highlight.session_id"), None)


# ---------------------------------------------------------------- replaying them


@dataclass
class Stored:
    """The replay's server, stopped, and what it said before stopping."""

    server: Server
    stats: dict[str, int]

    @cached_property
    def connection(self) -> duckdb.DuckDBPyConnection:
        assert self.server.db_path is not None and self.server.process.poll() is not None
        return duckdb.connect(str(self.server.db_path), read_only=True)

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, params or []).fetchall()


@dataclass
class Replay:
    """One capture's part of the replay."""

    capture: Capture
    replies: list[tuple[Json, httpx.Response]]
    stored: Stored

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
        return self.stored.query(sql, params)

    def counts(self) -> dict[str, int]:
        """The /api/stats figures of this capture's sessions alone."""
        ids = sorted(self.capture.session_ids)
        return {k: self.query(sql.format(where=IN_SESSIONS), [ids])[0][0] for k, sql in STAT_COUNTS.items()}


def sessions_of(run: Replay) -> set[str]:
    """The capture's session ids (never none: a test looping over them must check something)."""
    assert run.capture.session_ids, run.capture.name
    return run.capture.session_ids


def send_all(server: Server, capture: Capture) -> list[tuple[Json, httpx.Response]]:
    """Every GraphQL and OTLP request of the capture, in order, as the browser sent it."""
    replies = []
    with httpx.Client(timeout=30) as client:
        for record in capture.sent:
            base = server.ui_url if record["kind"] == "graphql" else server.otlp_http_url
            headers = {k: v for k, v in record["headers"] if k.lower() in FORWARDED}
            content = base64.b64decode(record["body_b64"])
            replies.append((record, client.post(base + record["path"], content=content, headers=headers)))
    return replies


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Replay]]:
    """One fresh hl-local gets every capture, the captures side by side like browsers (each in its own
    order; their session ids differ), then stops so its file can be read."""
    captures = {name: Capture.load(name) for name in CAPTURES}
    server = start_server(tmp_path_factory.mktemp("replay") / "hl.duckdb")
    try:
        with ThreadPoolExecutor(max_workers=len(captures)) as pool:
            sent = {name: pool.submit(send_all, server, capture) for name, capture in captures.items()}
            replies = {name: future.result() for name, future in sent.items()}
        stats = server.stats()
    finally:
        server.stop()
    stored = Stored(server, stats)
    yield {name: Replay(capture, replies[name], stored) for name, capture in captures.items()}
    if "connection" in stored.__dict__:
        stored.connection.close()


# The captures in which the SDK started (under webdriver it sends nothing: see its own test).
with_sessions = pytest.mark.parametrize("name", [c for c in CAPTURES if c != "webdriver"])


@with_sessions
def test_every_request_gets_what_the_sdk_counts_as_success(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    assert len(run.replies) == len(run.capture.sent)
    for record, reply in run.replies:
        what = f"{name} #{record['seq']} {record['path']} {record.get('operationName')}: {reply.text[:300]}"
        assert reply.status_code == 200, what
        assert reply.headers["content-type"].startswith("application/json"), what
        origin = next((v for k, v in record["headers"] if k.lower() == "origin"), None)
        assert reply.headers.get("access-control-allow-origin") == origin, what
        body = reply.json()
        if record["kind"] == "otlp":
            assert body == {}, what  # no partial success: every item was taken
            continue
        assert isinstance(body.get("data"), dict) and "errors" not in body, what
        if record["operationName"] == "initializeSession":
            answer = body["data"]["initializeSession"]
            assert answer["secure_id"] == variables(record)["session_secure_id"], what
            assert isinstance(answer["project_id"], str) and answer["project_id"].isdigit(), what
            assert int(answer["project_id"]) != 0, what


@with_sessions
def test_each_capture_stored_what_it_sent(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    assert run.counts() == run.capture.expected_stats()


def test_stats_report_what_was_stored(replays: dict[str, Replay]) -> None:
    runs = list(replays.values())
    stored = runs[0].stored
    for key, sql in STAT_COUNTS.items():
        expected = sum(run.capture.expected_stats()[key] for run in runs)
        assert stored.stats[key] == stored.query(sql.format(where="true"))[0][0] == expected, key
    assert stored.stats["spans"] == len(set().union(*(run.capture.spans for run in runs)))
    assert stored.stats["metric_points"] == sum(sum(run.capture.metric_points.values()) for run in runs)
    assert stored.stats["logs"] == stored.stats["console_messages"]  # the browser sends no OTLP logs


@with_sessions
def test_counts_agree_with_the_harness_summary(name: str, replays: dict[str, Replay]) -> None:
    """summary.json counted every request of the capture, retries included, with its own decoder."""
    capture = replays[name].capture
    summary = next(
        s for s in json.loads((BROWSER / "summary.json").read_text()) if s["file"] == f"{name}.jsonl"
    )
    seen = {*summary["session_ids"], *(c["session_secure_id"] for c in summary.get("init_calls", []))}
    assert capture.session_ids == seen
    assert len(capture.all_pushes) == summary["push_count"]
    distinct = sum(len(p) for p in capture.pushes.values())
    if distinct < len(capture.all_pushes):  # retried pushes: the summary counts every attempt
        assert name in ("fault-push-500", "fault-push-text")
        return
    stats = replays[name].counts()
    assert stats["replay_events"] == sum(summary.get("rrweb_types", {}).values())
    assert stats["console_messages"] == sum(summary.get("messages", {}).values())
    assert stats["errors"] == sum(summary.get("errors", {}).values())
    resources = summary.get("resources", {})
    assert stats["network_requests"] == sum(resources.values()) - resources.get("websocket", 0)


@with_sessions
def test_replay_chunks_hold_the_events_as_sent(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    chunks = run.query(f"SELECT count(*) FROM replay_chunks WHERE {IN_SESSIONS}", [sorted(sessions_of(run))])
    assert chunks == [(sum(map(len, run.capture.pushes.values())),)]
    for session_id in sessions_of(run):
        pushes = run.capture.session_pushes(session_id)
        rows = run.query(
            "SELECT payload_id, event_count, has_full_snapshot, first_ms, last_ms, events, is_beacon, "
            "has_session_unloaded FROM replay_chunks WHERE session_id = ? ORDER BY payload_id::BIGINT",
            [session_id],
        )
        assert [r[0] for r in rows] == [p.payload_id for p in pushes]
        if name in ("fault-push-500", "fault-push-text"):  # the mock failed them: each was sent 2-4 times
            assert len([p for p in run.capture.all_pushes if p.session_id == session_id]) > len(pushes)
        for row, push in zip(rows, pushes, strict=True):
            times = [int(e["timestamp"]) for e in push.events]
            assert row[1] == len(push.events)
            assert row[2] == any(e["type"] == 2 for e in push.events)
            assert (row[3], row[4]) == (min(times), max(times))
            assert json.loads(row[5]) == push.events
            assert row[5] == push.raw_events  # byte for byte
            assert (row[6], row[7]) == (push.payload["is_beacon"], push.payload["has_session_unloaded"])
        if pushes:
            assert any(row[2] for row in rows), "no chunk with a full snapshot"


@with_sessions
def test_console_messages(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    for session_id in sessions_of(run):
        messages = [m for p in run.capture.session_pushes(session_id) for m in p.messages]
        expected = sorted(
            ((m["time"] * 1e6, m["type"], console_level(m["type"]), console_body(m)) for m in messages),
            key=lambda e: (e[0], e[3]),
        )
        rows = run.query(
            "SELECT time_ns, severity_text, level, body FROM logs "
            "WHERE source = 'frontend' AND session_id = ? ORDER BY time_ns, body",
            [session_id],
        )
        assert [r[1:] for r in rows] == [e[1:] for e in expected]
        for row, message in zip(rows, expected, strict=True):
            assert abs(row[0] - message[0]) <= 1000, (row, message)


@with_sessions
def test_errors(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    for session_id in sessions_of(run):
        expected = sorted(
            (
                e["id"],
                e["type"],
                unquoted(e["event"]),
                e["url"],
                e["lineNumber"],
                e["columnNumber"],
                iso_ns(e["timestamp"]),
                push.payload_id,
                "frontend",
            )
            for push in run.capture.session_pushes(session_id)
            for e in push.errors
        )
        rows = run.query(
            "SELECT error_id, type, message, url, line_number, column_number, time_ns, payload_id, source "
            "FROM errors WHERE session_id = ? ORDER BY error_id",
            [session_id],
        )
        assert rows == expected


@with_sessions
def test_network_requests(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    for session_id in sessions_of(run):
        expected = []
        for push in run.capture.session_pushes(session_id):
            for res in push.resources:
                kind = res["initiatorType"]
                if kind == "websocket":
                    continue
                pairs = res.get("requestResponsePairs")
                if pairs:
                    request, response = pairs["request"], pairs["response"]
                    expected.append(
                        (
                            kind,
                            request["verb"],
                            request["url"],
                            response["status"],
                            request["id"],
                            trace_id(request["headers"]),
                            res["startTimeAbs"],
                        )
                    )
                else:  # no recorded request: the method of a fetch/XHR is unknown, other loads are GETs
                    method = None if kind in ("fetch", "xmlhttprequest") else "GET"
                    status = res.get("responseStatus")
                    expected.append((kind, method, res["name"], status, None, None, res.get("startTimeAbs")))
        rows = run.query(
            "SELECT initiator_type, method, url, status, request_id, trace_id, start_ms "
            "FROM network_requests WHERE session_id = ?",
            [session_id],
        )
        without_start = sorted((r[:6] for r in rows), key=str)
        assert without_start == sorted((e[:6] for e in expected), key=str)
        absolute = sorted(e[6] for e in expected if e[6] is not None)
        assert absolute == sorted(r[6] for r in rows if r[6] in absolute)


@with_sessions
def test_websocket_events(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    for session_id in sessions_of(run):
        expected = []
        for push in run.capture.session_pushes(session_id):
            for res in push.resources:
                if res["initiatorType"] == "websocket":
                    when = res.get("startTimeAbs") or res.get("responseEndAbs")
                    expected.append((when, res["type"], res["socketId"], res["name"], None, None))
            for event in push.socket_events:
                expected.append(
                    (
                        event["timeStamp"],
                        event["type"],
                        event["socketId"],
                        event["name"],
                        event["size"],
                        event["message"],
                    )
                )
        rows = run.query(
            "SELECT time_ms, type, socket_id, url, size, message FROM websocket_events WHERE session_id = ?",
            [session_id],
        )
        assert sorted(rows, key=str) == sorted(expected, key=str)


@with_sessions
def test_session_events(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    for session_id in sessions_of(run):
        customs = [(p, e) for p in run.capture.session_pushes(session_id) for e in p.customs()]
        rows = run.query(
            "SELECT payload_id, time_ms, sid, kind, payload, selector, text FROM session_events "
            "WHERE session_id = ? ORDER BY payload_id, time_ms, sid, kind",
            [session_id],
        )
        assert Counter(r[3] for r in rows) == Counter(e["data"]["tag"] for _, e in customs)
        expected = []
        for push, event in customs:
            tag, payload = event["data"]["tag"], event["data"]["payload"]
            selector = text = None
            if tag == "Click":
                selector, text = (
                    payload["clickSelector"] or payload["clickTarget"],
                    payload["clickTextContent"],
                )
            elif tag == "Focus":
                selector = payload
            expected.append(
                (push.payload_id, int(event["timestamp"]), event["_sid"], tag, payload, selector, text)
            )
        expected.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
        stored = [
            (*r[:4], r[4] if isinstance(e[4], str) else json.loads(r[4]), *r[5:])
            for r, e in zip(rows, expected, strict=True)
        ]
        assert stored == expected


@with_sessions
def test_sessions_rows(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    capture = run.capture
    columns = (
        "is_initialized",
        "project_id",
        "client_id",
        "sdk_version",
        "firstload_version",
        "client_config",
        "environment",
        "app_version",
        "service_name",
        "privacy_setting",
        "enable_recording_network_contents",
        "user_agent",
        "language",
        "identifier",
        "user_object",
        "properties",
        "first_url",
        "first_event_ms",
        "last_event_ms",
        "click_count",
        "page_count",
        "error_count",
        "console_error_count",
        "event_count",
        "push_count",
        "has_rage_clicks",
    )
    rows = run.query(
        f"SELECT session_id, {', '.join(columns)} FROM session_summaries WHERE {IN_SESSIONS}",
        [sorted(sessions_of(run))],
    )
    stored = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}
    assert set(stored) == sessions_of(run)
    for session_id, row in stored.items():
        inits = capture.calls("initializeSession", session_id)
        identifies = [variables(r) for r in capture.calls("identifySession", session_id)]
        property_calls = [variables(r) for r in capture.calls("addSessionProperties", session_id)]
        pushes = capture.session_pushes(session_id)
        events = [e for p in pushes for e in p.events]
        tags = Counter(e["data"]["tag"] for p in pushes for e in p.customs())
        messages = [m for p in pushes for m in p.messages]
        pages = [e for e in events if e["type"] == 4 or (e["type"] == 5 and e["data"]["tag"] == "Navigate")]
        first_url = (pages[0]["data"].get("href") or pages[0]["data"]["payload"]) if pages else None
        clicks = [
            (e["timestamp"], e["data"]["x"], e["data"]["y"])
            for e in events
            if e["type"] == 3 and e["data"].get("source") == 2 and e["data"].get("type") == 2
        ]
        properties = {k: v for call in property_calls for k, v in call["properties_object"].items()}
        expected: Json = {
            "is_initialized": bool(inits),
            "first_url": first_url,
            "first_event_ms": min((int(e["timestamp"]) for e in events), default=None),
            "last_event_ms": max((int(e["timestamp"]) for e in events), default=None),
            "click_count": tags["Click"],
            "page_count": sum(page_loads(p.customs()) for p in pushes),
            "error_count": sum(len(p.errors) for p in pushes),
            "console_error_count": sum(1 for m in messages if console_level(m["type"]) == "error"),
            "event_count": len(events),
            "push_count": len(pushes),
            "has_rage_clicks": rage(clicks),
            "identifier": identifies[-1]["user_identifier"] if identifies else None,
            "user_object": json.dumps(identifies[-1]["user_object"], sort_keys=True) if identifies else None,
            "properties": json.dumps(properties, sort_keys=True) if property_calls else None,
        }
        if inits:
            given, headers = variables(inits[-1]), {k.lower(): v for k, v in inits[-1]["headers"]}
            expected |= {
                "project_id": given["organization_verbose_id"],
                "client_id": given["client_id"],
                "sdk_version": given["clientVersion"],
                "firstload_version": given["firstloadVersion"],
                "client_config": given["clientConfig"],
                "environment": given["environment"],
                "app_version": given["appVersion"],
                "service_name": given["serviceName"],
                "privacy_setting": given["privacy_setting"],
                "enable_recording_network_contents": given["enable_recording_network_contents"],
                "user_agent": headers["user-agent"],
                "language": headers["accept-language"],
            }
        for key in ("user_object", "properties"):
            if row[key] is not None:
                row[key] = json.dumps(json.loads(row[key]), sort_keys=True)
        assert {k: row[k] for k in expected} == expected, session_id
        if not inits:
            assert row["sdk_version"] is None and row["user_agent"] is None


@with_sessions
def test_session_feedback(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    expected = sorted(
        (
            v["session_secure_id"],
            iso_ns(v["timestamp"]),
            v.get("user_name"),
            v.get("user_email"),
            v["verbatim"],
        )
        for v in map(variables, run.capture.calls("addSessionFeedback"))
    )
    rows = run.query(
        "SELECT session_id, time_ns, user_name, user_email, verbatim FROM session_feedback "
        f"WHERE {IN_SESSIONS} ORDER BY ALL",
        [sorted(sessions_of(run))],
    )
    assert rows == expected


@with_sessions
def test_browser_otlp_joins_its_session(name: str, replays: dict[str, Replay]) -> None:
    run = replays[name]
    ids = sorted(sessions_of(run))
    assert all(s in ids for _, _, s in run.capture.spans)  # every browser span names its session
    assert all(s in ids for _, s in run.capture.metric_points)  # and every metric point
    spans = run.query(f"SELECT trace_id, span_id, session_id FROM spans WHERE {IN_SESSIONS}", [ids])
    assert len(spans) == len(run.capture.spans)
    assert set(spans) == run.capture.spans
    points = run.query(
        f"SELECT metric_name, session_id, count(*) FROM metric_points WHERE {IN_SESSIONS} GROUP BY ALL", [ids]
    )
    assert Counter({(n, s): c for n, s, c in points}) == run.capture.metric_points
    for session_id in sessions_of(run):
        vitals = run.query(
            "SELECT metric_name, count(*) FROM metric_points "
            f"WHERE session_id = ? AND metric_name IN {WEB_VITALS} GROUP BY ALL",
            [session_id],
        )
        expected = {
            n: c for (n, s), c in run.capture.metric_points.items() if s == session_id and n in WEB_VITALS
        }
        assert dict(vitals) == expected
        if name in ("main", "defaults"):
            assert {"LCP", "FCP", "TTFB"} <= set(expected)


def test_webdriver_capture_sends_nothing(replays: dict[str, Replay]) -> None:
    run = replays["webdriver"]
    assert run.capture.records and not run.capture.sent and not run.replies  # the SDK did not start
    assert not run.capture.session_ids and run.capture.expected_stats() == dict.fromkeys(STAT_COUNTS, 0)


def page_loads(customs: list[Json]) -> int:
    """Navigate/Reload events of one push, a repeat of the same URL in a row counting once."""
    urls = [e["data"]["payload"] for e in customs if e["data"]["tag"] in ("Navigate", "Reload")]
    return sum(1 for i, url in enumerate(urls) if i == 0 or url != urls[i - 1])


def test_main_capture_literal_facts(replays: dict[str, Replay]) -> None:
    """What the main run did, written out by hand (guards the computed expectations above)."""
    run = replays["main"]
    sid = "lSsvZEWFPcsWiBiOysmO5ubp9f32"
    [row] = run.query(
        "SELECT session_id, identifier, user_object, properties, sdk_version, service_name, environment, "
        "is_initialized, page_count, click_count, error_count, console_error_count, push_count, event_count, "
        "user_agent, first_url FROM session_summaries WHERE session_id = ?",
        [sid],
    )
    assert row[:2] == (sid, "user@example.com")
    assert json.loads(row[2]) == {"plan": "pro"} and json.loads(row[3]) == {"reload": "true"}
    assert row[4:8] == ("10.7.5", "hl-browser-capture", "capture", True)
    # pages: index.html, pushState, back (each history change is sent twice), page2 (a Reload)
    assert row[8:14] == (4, 8, 4, 2, 20, 202)
    assert "HeadlessChrome/156" in row[14] and row[15].startswith("http://127.0.0.1:8765/index.html?")
    assert sorted(m for (m,) in run.query("SELECT message FROM errors WHERE session_id = ?", [sid])) == [
        "H.error custom message",
        "Rejected boom",
        "Uncaught Error: Uncaught boom",
        "consumed with message:Cannot read properties of null (reading 'f')",
    ]
    assert sorted(run.query("SELECT level, body FROM logs WHERE session_id = ?", [sid])) == [
        ("debug", "debug message"),
        ("error", "Uncaught Error: Uncaught boom"),
        ("error", "console.error message"),
        ("info", "H.track"),
        ("info", "hello from console.log"),
        ("info", "info message 42"),
        ("info", "log on page 2"),
        ("warn", "H.log message"),
        ("warn", "careful: warn message"),
    ]
    fetch, xhr = run.query(
        "SELECT method, url, status, request_id, trace_id, request_headers FROM network_requests "
        "WHERE session_id = ? AND initiator_type IN ('fetch', 'xmlhttprequest') ORDER BY initiator_type",
        [sid],
    )
    assert fetch[:5] == (
        "POST",
        "http://127.0.0.1:8765/api/echo?via=fetch",
        200,
        "837d639c490207d6b0b4305403c61865",
        "837d639c490207d6b0b4305403c61865",
    )
    assert json.loads(fetch[5])["authorization"] == "[REDACTED]"
    assert xhr[:3] == ("GET", "http://127.0.0.1:8765/api/echo?via=xhr", 200)
    assert xhr[4] == "94d328fc582f919d6dde0deb9efd86f3"
    # The request id a backend sees: the first item of the X-Highlight-Request the app's API received.
    app_calls = [r for r in run.capture.records if r["kind"] == "app-api"]
    wire_ids = [
        v.split(",")[0].strip().split("/")[1]
        for r in app_calls
        for k, v in r["headers"]
        if k.lower() == "x-highlight-request"
    ]
    assert sorted(wire_ids) == sorted([fetch[3], xhr[3]])
    assert Counter(
        t for (t,) in run.query("SELECT type FROM websocket_events WHERE session_id = ?", [sid])
    ) == Counter({"open": 1, "close": 1, "sent": 1, "received": 1})
    assert dict(
        run.query("SELECT kind, count(*) FROM session_events WHERE session_id = ? GROUP BY kind", [sid])
    ) == {
        "Click": 8,
        "Focus": 7,
        "Identify": 2,
        "Jank": 45,
        "Navigate": 5,
        "Performance": 38,
        "Reload": 1,
        "Track": 1,
        "Viewport": 3,
    }
    assert run.query("SELECT payload FROM session_events WHERE session_id = ? AND kind = 'Track'", [sid]) == [
        ('{"amount":10,"event":"checkout"}',)
    ]
    assert run.query(
        "SELECT session_id, user_name, user_email, verbatim FROM session_feedback WHERE session_id = ?", [sid]
    ) == [(sid, "Alice", "alice@example.com", "Great app, but checkout was slow")]


# ---------------------------------------------------------------- robustness, with requests built here

T0 = 1_795_000_000_000  # epoch ms of the synthetic sessions below
PUSH_QUERY = (
    "mutation {op}($session_secure_id: String!, $payload_id: ID!, $data: String!) {{\n"
    "  {field}(session_secure_id: $session_secure_id, payload_id: $payload_id, data: $data)\n}}"
)


def encode_data(payload: Json | bytes) -> str:
    """What the SDK puts in `data`: base64(gzip(JSON))."""
    plain = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(plain)).decode()


def push_body(session_id: str, payload_id: str, payload: Json, operation: str = "PushSessionEvents") -> Json:
    field = operation[0].lower() + operation[1:]
    return {
        "operationName": operation,
        "query": PUSH_QUERY.format(op=operation, field=field),
        "variables": {
            "session_secure_id": session_id,
            "payload_id": payload_id,
            "data": encode_data(payload),
        },
    }


def operation_body(operation: str, given: Json) -> Json:
    arguments = ", ".join(f"{k}: ${k}" for k in given)
    return {
        "operationName": operation,
        "query": f"mutation {operation} {{\n  {operation}({arguments})\n}}",
        "variables": given,
    }


def click_event(ms: int, x: float, y: float) -> Json:
    return {
        "type": 3,
        "data": {"source": 2, "type": 2, "x": x, "y": y, "id": 7},
        "timestamp": ms,
        "_sid": ms % 997,
    }


def sdk_payload(session_id: str, payload_id: str, start_ms: int, *, events: list[Json] | None = None) -> Json:
    """A push like the SDK's: rrweb events, one console error and log, one error, a fetch, a WebSocket."""
    url = "http://localhost:3000/shop"
    if events is None:
        events = [
            {
                "type": 4,
                "data": {"href": url, "width": 1280, "height": 720},
                "timestamp": start_ms,
                "_sid": 1,
            },
            {
                "type": 2,
                "data": {
                    "node": {"type": 0, "childNodes": [], "id": 1},
                    "initialOffset": {"left": 0, "top": 0},
                },
                "timestamp": start_ms + 1,
                "_sid": 2,
            },
            {"type": 5, "data": {"tag": "Navigate", "payload": url}, "timestamp": start_ms + 2, "_sid": 3},
            {
                "type": 5,
                "data": {
                    "tag": "Click",
                    "payload": {"clickTarget": "#buy", "clickTextContent": "Buy", "clickSelector": "#buy"},
                },
                "timestamp": start_ms + 40,
                "_sid": 4,
            },
            click_event(start_ms + 40, 10, 20),
        ]
    messages = [
        {
            "type": "error",
            "trace": [],
            "value": ["payment failed"],
            "attributes": "{}",
            "time": start_ms + 50,
        },
        {"type": "log", "trace": [], "value": ["cart", "3"], "attributes": '{"n":3}', "time": start_ms + 51},
    ]
    resources = [
        {
            "initiatorType": "fetch",
            "name": f"{url}/api/pay",
            "startTimeAbs": start_ms + 60.5,
            "responseEndAbs": start_ms + 80.25,
            "requestResponsePairs": {
                "request": {
                    "id": f"req{payload_id}",
                    "url": f"{url}/api/pay",
                    "verb": "POST",
                    "headers": {
                        "Authorization": "Bearer hunter2",
                        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    },
                    "body": '{"card":"4242"}',
                },
                "response": {
                    "status": 402,
                    "headers": {"content-type": "application/json"},
                    "body": "{}",
                    "size": 2,
                },
                "urlBlocked": False,
            },
        },
        {
            "initiatorType": "websocket",
            "socketId": "s1",
            "type": "open",
            "name": "ws://localhost:3000/ws",
            "startTimeAbs": start_ms + 90,
        },
    ]
    socket_events = [
        {
            "socketId": "s1",
            "type": "sent",
            "name": "ws://localhost:3000/ws",
            "timeStamp": start_ms + 95.5,
            "size": 4,
            "message": "ping",
        }
    ]
    errors = [
        {
            "event": '"Uncaught Error: kaput"',
            "type": "window.onerror",
            "url": url,
            "source": "",
            "lineNumber": 3,
            "columnNumber": 7,
            "stackTrace": [],
            "timestamp": "2026-11-19T08:00:00.000Z",
            "payload": "{}",
            "id": str(uuid.uuid4()),
        }
    ]
    return {
        "events": {"events": events},
        "messages": json.dumps({"messages": messages}),
        "resources": json.dumps({"resources": resources}),
        "web_socket_events": json.dumps({"webSocketEvents": socket_events}),
        "errors": errors,
        "is_beacon": False,
        "has_session_unloaded": False,
        "session_secure_id": session_id,
        "payload_id": payload_id,
    }


class _Http:
    client: httpx.Client | None = None  # one for the module: a client per request costs ~0.1 s


@pytest.fixture(scope="module", autouse=True)
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        _Http.client = client
        yield client
    _Http.client = None


def http() -> httpx.Client:
    assert _Http.client is not None
    return _Http.client


def stats(server: Server) -> dict[str, int]:
    """The counts (`retention`'s sizes move whenever DuckDB checkpoints)."""
    counts = http().get(f"{server.ui_url}/api/stats").json()
    counts.pop("retention", None)
    return counts


def post(
    server: Server,
    body: Json | bytes | Iterator[bytes],
    path: str = "/public",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    return http().post(
        server.ui_url + path, content=content, headers={"content-type": "application/json", **(headers or {})}
    )


def success(reply: httpx.Response) -> Json:
    """The reply's `data`, after checking it is what the SDK counts as success."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert "errors" not in body, body
    assert isinstance(body["data"], dict), body
    return body["data"]


def table_counts(server: Server) -> dict[str, int]:
    return {table: server.query(f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def summary(server: Server, session_id: str, columns: str) -> tuple[Any, ...]:
    [row] = server.query(f"SELECT {columns} FROM session_summaries WHERE session_id = ?", [session_id])
    return row


def call(server: Server, operation: str, **given: Any) -> Json:
    return success(post(server, operation_body(operation, given)))


def test_push_for_an_uninitialized_session_creates_it(server: Server) -> None:
    sid = "NeverInitialized000000000001"
    payload = sdk_payload(sid, str(T0), T0)
    assert success(post(server, push_body(sid, str(T0), payload))) == {"pushSessionEvents": None}
    counted = stats(server)
    assert [counted[k] for k in ("sessions", "replay_events", "console_messages", "errors")] == [1, 5, 2, 1]
    server.stop()
    columns = (
        "is_initialized, push_count, event_count, click_count, page_count, error_count, console_error_count"
    )
    assert summary(server, sid, columns) == (False, 1, 5, 1, 1, 1, 1)
    assert summary(server, sid, "first_url, first_event_ms, last_event_ms") == (
        "http://localhost:3000/shop", T0, T0 + 40
    )  # fmt: skip
    [(events,)] = server.query("SELECT events FROM replay_chunks WHERE session_id = ?", [sid])
    assert events == json.dumps(payload["events"]["events"], separators=(",", ":"))
    assert server.query("SELECT level, body FROM logs") == [("error", "payment failed"), ("info", "cart 3")]
    assert server.query("SELECT message FROM errors") == [("Uncaught Error: kaput",)]
    [(method, status, request_id, trace, headers)] = server.query(
        "SELECT method, status, request_id, trace_id, request_headers FROM network_requests"
    )
    assert (method, status, request_id) == ("POST", 402, f"req{T0}")
    assert trace == "0af7651916cd43dd8448eb211c80319c"
    assert json.loads(headers)["Authorization"] == "[REDACTED]"  # an older SDK sent it in clear
    assert sorted(server.query("SELECT type, socket_id, size, message FROM websocket_events")) == [
        ("open", "s1", None, None),
        ("sent", "s1", 4, "ping"),
    ]


def test_a_repeated_push_is_stored_once(server: Server) -> None:
    sid = "RepeatedPushes00000000000001"
    first = push_body(sid, str(T0), sdk_payload(sid, str(T0), T0))
    success(post(server, first))
    once = stats(server)
    success(post(server, first))
    assert stats(server) == once
    # The same push from two threads at once, four times over (a retry racing the original).
    for i in range(1, 5):
        body = push_body(sid, str(T0 + i), sdk_payload(sid, str(T0 + i), T0 + i * 1000))
        barrier = threading.Barrier(2)

        def send(body: Json = body, barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait()
            return post(server, body)

        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(send) for _ in range(2)]:
                success(future.result())
    success(post(server, first))
    counted = stats(server)
    assert counted["sessions"] == 1
    for key in ("replay_events", "console_messages", "network_requests", "errors"):
        assert counted[key] == 5 * once[key], key
    server.stop()
    counts = table_counts(server)
    stored = [counts[t] for t in ("replay_chunks", "session_events", "logs", "errors", "websocket_events")]
    assert stored == [5, 10, 10, 5, 10]
    columns = "push_count, event_count, click_count, page_count, error_count, console_error_count"
    assert summary(server, sid, columns) == (5, 25, 5, 5, 5, 5)


def test_push_payload_compressed_and_legacy_push_payload(server: Server) -> None:
    compressed, legacy = "OldSdkCompressed000000000001", "OldSdkLegacyPayload000000001"
    payload = sdk_payload(compressed, str(T0), T0)
    data = success(post(server, push_body(compressed, str(T0), payload, "PushPayloadCompressed")))
    assert data == {"pushPayloadCompressed": None}
    # pushPayload: the payload's fields as variables (messages etc. still JSON strings); an int id.
    old = sdk_payload(legacy, str(T0), T0)
    given = {**old, "payload_id": T0}
    first = call(server, "pushPayload", **given)
    assert isinstance(first["pushPayload"], int) and first["pushPayload"] > 0
    call(server, "pushPayload", **given)  # a retry: stored once
    server.stop()
    for sid, sent in ((compressed, payload), (legacy, old)):
        [(payload_id, events)] = server.query(
            "SELECT payload_id, events FROM replay_chunks WHERE session_id = ?", [sid]
        )
        assert payload_id == str(T0) and json.loads(events) == sent["events"]["events"]
        columns = "push_count, event_count, error_count, console_error_count"
        assert summary(server, sid, columns) == (1, 5, 1, 1)
        for table, count in (("logs", 2), ("errors", 1), ("network_requests", 1), ("websocket_events", 2)):
            rows = server.query(f"SELECT count(*) FROM {table} WHERE session_id = ?", [sid])
            assert rows == [(count,)], table


def corrupt(**given: Any) -> Json:
    return {
        "operationName": "PushSessionEvents",
        "query": PUSH_QUERY.format(op="PushSessionEvents", field="pushSessionEvents"),
        "variables": given,
    }


def test_corrupt_pushes_are_refused_and_store_nothing(server: Server) -> None:
    valid = encode_data(sdk_payload("C0", "1", T0))
    requests: list[tuple[str, Json | bytes, str]] = [
        ("not base64", corrupt(session_secure_id="C1", payload_id="1", data="%% not base64 %%"), "base64"),
        ("base64 of non-gzip", corrupt(session_secure_id="C2", payload_id="1", data="bm8gZ3ppcA=="), "gzip"),
        (
            "gzip of non-JSON",
            corrupt(session_secure_id="C3", payload_id="1", data=encode_data(b"{[")),
            "JSON",
        ),
        (
            "truncated gzip",
            corrupt(
                session_secure_id="C4",
                payload_id="1",
                data=base64.b64encode(base64.b64decode(valid)[:-12]).decode(),
            ),
            "truncated",
        ),
        ("no session_secure_id", corrupt(payload_id="1", data=valid), "session_secure_id"),
        ("no payload_id", corrupt(session_secure_id="C6", data=valid), "payload_id"),
        (
            "messages not JSON",
            corrupt(
                session_secure_id="C7",
                payload_id="1",
                data=encode_data({**sdk_payload("C7", "1", T0), "messages": "{oops"}),
            ),
            "messages",
        ),
        ("body not JSON", b'{"operationName": "PushSessionEvents", "variables": {', "JSON"),
    ]
    before = stats(server)
    for what, body, named in requests:
        reply = post(server, body)
        assert 400 <= reply.status_code < 500, (what, reply.status_code, reply.text)
        assert reply.headers["content-type"].startswith("application/json"), what
        answer = reply.json()
        assert isinstance(answer["errors"], list) and answer["errors"], what
        assert named.lower() in answer["errors"][0]["message"].lower(), (what, answer)
        assert not answer.get("data"), what
        assert stats(server) == before, what
    server.stop()
    assert set(table_counts(server).values()) == {0}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One hl-local for the tests that only look at replies and /api/stats."""
    server = start_server(tmp_path_factory.mktemp("live") / "hl.duckdb")
    try:
        yield server
    finally:
        server.stop()


def test_operations_hl_local_does_not_know_succeed(live: Server) -> None:
    before = stats(live)
    assert isinstance(call(live, "Ignore", id="1"), dict)
    assert isinstance(call(live, "markBackendSetup", project_id="1"), dict)
    assert isinstance(call(live, "SomethingNew", session_secure_id="X", anything=[1, 2]), dict)
    # No operationName: the first field of the selection set names it.
    assert isinstance(success(post(live, {"query": "mutation {\n  ignore(id: 1)\n}"})), dict)
    assert stats(live) == before


def test_root_path_and_cors(live: Server) -> None:
    origin = "http://localhost:3000"
    asked = {"Origin": origin, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type,traceparent"}  # fmt: skip
    preflight = http().options(f"{live.ui_url}/public", headers=asked)
    assert 200 <= preflight.status_code < 300
    assert preflight.headers["access-control-allow-origin"] == origin
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "traceparent"} <= allowed or "*" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    before = stats(live)
    sid = "RootPathSession0000000000001"
    init = request_body(Capture.load("main").calls("initializeSession")[0])
    init["variables"]["session_secure_id"] = sid
    reply = post(live, init, path="/", headers={"Origin": origin})
    assert success(reply)["initializeSession"]["secure_id"] == sid
    assert reply.headers["access-control-allow-origin"] == origin
    pushed = post(
        live, push_body(sid, str(T0), sdk_payload(sid, str(T0), T0)), path="/", headers={"Origin": origin}
    )
    success(pushed)
    assert pushed.headers["access-control-allow-origin"] == origin
    after = stats(live)
    assert (after["sessions"] - before["sessions"], after["replay_events"] - before["replay_events"]) == (
        1,
        5,
    )


def clicks(offsets_ms: list[int], points: list[tuple[float, float]]) -> list[Json]:
    return [click_event(T0 + t, x, y) for t, (x, y) in zip(offsets_ms, points, strict=True)]


def test_rage_clicks(server: Server) -> None:
    near = [(100, 100), (103, 102), (98, 99), (101, 104), (100, 100)]  # all within 8 px of the first
    far = [(100, 100), (120, 100), (140, 100), (160, 100), (180, 100)]
    # session → its pushes as (payload id offset, rrweb events), and whether that is rage
    sessions: dict[str, tuple[list[tuple[int, list[Json]]], bool]] = {
        "RageOnePush": ([(0, clicks([0, 300, 600, 900, 1200], near))], True),
        "SlowClicks": ([(0, clicks([0, 1250, 2500, 3750, 5000], near))], False),
        "FarApart": ([(0, clicks([0, 300, 600, 900, 1200], far))], False),
        "RageAcrossPushes": ([(0, clicks([0, 300, 600], near[:3])), (1, clicks([900, 1200], near[3:]))],
                             True),
        # 4 clicks only, though the first push is retried (same payload id) before the second comes
        "RetriedPush": (
            [(0, clicks([0, 300, 600], near[:3])), (0, clicks([0, 300, 600], near[:3])),
             (1, clicks([900], near[3:4]))],
            False,
        ),
    }  # fmt: skip
    for sid, (pushes, _) in sessions.items():
        for offset, events in pushes:
            payload_id = str(T0 + offset)
            success(post(server, push_body(sid, payload_id, sdk_payload(sid, payload_id, T0, events=events))))
    server.stop()
    stored = dict(server.query("SELECT session_id, has_rage_clicks FROM session_summaries"))
    assert stored == {sid: expected for sid, (_, expected) in sessions.items()}
    assert summary(server, "RetriedPush", "push_count, event_count") == (2, 4)


def test_identify_properties_and_feedback(server: Server) -> None:
    sid = "IdentifiedSession00000000001"
    user = {"plan": "team", "seats": "3"}
    data = call(
        server, "identifySession", session_secure_id=sid, user_identifier="ada@example.com", user_object=user
    )
    assert data == {"identifySession": sid}
    call(
        server,
        "addSessionProperties",
        session_secure_id=sid,
        properties_object={"referrer": "https://a.example/"},
    )
    call(server, "addSessionProperties", session_secure_id=sid, properties_object={"reload": "true"})
    data = call(
        server,
        "addSessionFeedback",
        session_secure_id=sid,
        user_name="Ada",
        user_email="ada@example.com",
        verbatim="Checkout hangs",
        timestamp="2026-11-23T23:49:48.246Z",
    )
    assert data == {"addSessionFeedback": sid}
    server.stop()
    identifier, user_object, properties = summary(server, sid, "identifier, user_object, properties")
    assert identifier == "ada@example.com" and json.loads(user_object) == user
    assert json.loads(properties) == {"referrer": "https://a.example/", "reload": "true"}
    feedback = server.query(
        "SELECT session_id, time_ns, user_name, user_email, verbatim FROM session_feedback"
    )
    assert feedback == [(sid, 1_795_477_788_246_000_000, "Ada", "ada@example.com", "Checkout hangs")]


def test_bodies_over_the_size_limit_are_413(live: Server) -> None:
    server = live
    before = stats(server)
    too_big = b" " * (MAX_BODY_BYTES + 1)
    half = MAX_BODY_BYTES // 2
    replies = {
        "with Content-Length": post(server, too_big),
        "chunked": post(server, iter([too_big[:half], too_big[half:]])),  # found while reading
        "gzip bomb": post(server, gzip.compress(too_big, 1), headers={"content-encoding": "gzip"}),
    }
    for what, reply in replies.items():
        assert reply.status_code == 413, (what, reply.text)
        assert reply.headers["content-type"].startswith("application/json"), what
    assert stats(server) == before
    sid = "AfterTheBigOnes000000000001"
    success(post(server, push_body(sid, str(T0), sdk_payload(sid, str(T0), T0))))
    assert stats(server)["replay_events"] == before["replay_events"] + 5
