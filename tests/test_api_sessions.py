"""/api/sessions against a live hl-local fed the real browser captures through POST /public.

One server gets main.jsonl and defaults.jsonl as the browser sent them, copies of main's GraphQL
calls under other session ids (one of them identified as someone else), and one hand-built push
with rage clicks. It is then stopped, its file copied for the tests to read, and started again on
the original file: every answer of the API is checked against the stored rows of the copy.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import httpx
import pytest

from tests.api_schema import conforms
from tests.conftest import Server, start_server
from tests.test_highlight_replay import T0, Capture, clicks, push_body, sdk_payload, send_all

Json = dict[str, Any]
COPIES = {  # session id of the copy → replacements in what main's browser sent
    "CopyOfMainSession0000000001": {},
    "CopyOfMainSession0000000002": {"user@example.com": "other@example.com"},
    "CopyOfMainSession0000000003": {},
}
RAGE_SESSION = "RageClickSession00000000001"
INIT_ONLY = "InitializedOnlySession00001"  # initializeSession, then nothing
NEAR = [(100, 100), (103, 102), (98, 99), (101, 104), (100, 100)]


def copied(capture: Capture, session_id: str, replacements: dict[str, str]) -> list[Json]:
    """main's GraphQL calls (pushes included) under `session_id`, with `replacements` made everywhere."""
    [original] = capture.session_ids
    swaps = {original: session_id, **replacements}

    def swap(text: str) -> str:
        for old, new in swaps.items():
            text = text.replace(old, new)
        return text

    records = []
    for record in capture.sent:
        if record["kind"] != "graphql":
            continue  # the OTLP spans keep their own ids: a copy would be ignored as a resend
        body = json.loads(base64.b64decode(record["body_b64"]))
        given = body.get("variables") or {}
        if "data" in given:
            plain = gzip.decompress(base64.b64decode(given["data"])).decode()
            given["data"] = base64.b64encode(gzip.compress(swap(plain).encode())).decode()
        content = swap(json.dumps(body)).encode()
        records.append({**record, "body_b64": base64.b64encode(content).decode()})
    return records


@dataclass
class Seeded:
    server: Server
    stored: duckdb.DuckDBPyConnection
    main_id: str
    defaults_id: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET `path`; every answer, errors included, must be what the OpenAPI document says."""
        reply = httpx.get(f"{self.server.ui_url}{path}", params=params, timeout=30)
        conforms(reply)
        return reply

    def json(self, path: str, **params: Any) -> Any:
        reply = self.get(path, **params)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        result = self.stored.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("sessions")
    db, copy = folder / "hl.duckdb", folder / "stored.duckdb"
    main, defaults = Capture.load("main"), Capture.load("defaults")
    server = start_server(db)
    try:
        send_all(server, main)
        send_all(server, defaults)
        for session_id, replacements in COPIES.items():
            send_all(server, Capture("copy", copied(main, session_id, replacements)))
        init = [r for r in copied(main, INIT_ONLY, {}) if r["operationName"] == "initializeSession"][:1]
        send_all(server, Capture("init-only", init))
        events = clicks([0, 300, 600, 900, 1200], NEAR)
        payload = sdk_payload(RAGE_SESSION, str(T0), T0, events=events)
        reply = httpx.post(f"{server.ui_url}/public", json=push_body(RAGE_SESSION, str(T0), payload))
        assert reply.status_code == 200, reply.text
    finally:
        server.stop()
    shutil.copy(db, copy)
    server = start_server(db)
    stored = duckdb.connect(str(copy), read_only=True)
    try:
        [main_id], [defaults_id] = main.session_ids, defaults.session_ids
        yield Seeded(server, stored, main_id, defaults_id)
    finally:
        stored.close()
        server.stop()


def parsed(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# error_count: what the session's Errors tab lists (its own errors and those linked through its traces),
# not the pushes' own count (copies of one capture repeat its errors' ids, which are stored once)
LIST_KEYS = (
    "session_id, identifier, user_object, started_ns, last_activity_ns, duration_ms, active_ms, page_count, "
    "(SELECT count(*) FROM linked_errors AS e WHERE e.linked_session_id = session_summaries.session_id) "
    "AS error_count, console_error_count, click_count, has_rage_clicks, first_url, environment, "
    "service_name, sdk_version, user_agent, is_initialized"
)


def as_listed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: parsed(v) if k == "user_object" else v for k, v in row.items()}


def without_live(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "live"}


# ---------------------------------------------------------------- the list


def all_pages(seeded: Seeded, **params: Any) -> list[Json]:
    items: list[Json] = []
    cursor = None
    for _ in range(100):
        page = seeded.json("/api/sessions", **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging never ended")


def test_list_is_the_stored_sessions_newest_first(seeded: Seeded) -> None:
    expected = seeded.query(
        f"SELECT {LIST_KEYS} FROM session_summaries ORDER BY started_ns DESC, session_id DESC"
    )
    assert len(expected) == 2 + len(COPIES) + 2
    page = seeded.json("/api/sessions")
    assert page["next_cursor"] is None
    assert [without_live(item) for item in page["items"]] == [as_listed(row) for row in expected]
    now_ns = time.time_ns()
    for item in page["items"]:
        assert item["live"] == (now_ns - item["last_activity_ns"] <= 60_000_000_000)
    main = next(item for item in page["items"] if item["session_id"] == seeded.main_id)
    assert main["identifier"] == "user@example.com" and main["user_object"] == {"plan": "pro"}
    assert main["is_initialized"] is True and main["sdk_version"] == "10.7.5"


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_paging_has_no_duplicates_or_gaps(seeded: Seeded, limit: int) -> None:
    expected = [r["session_id"] for r in seeded.query(
        "SELECT session_id FROM session_summaries ORDER BY started_ns DESC, session_id DESC"
    )]  # fmt: skip
    pages = []
    cursor = None
    while True:
        page = seeded.json("/api/sessions", limit=limit, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        pages.append([item["session_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [sid for page in pages for sid in page] == expected
    assert all(len(page) == limit for page in pages[:-1])


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("identifier=user@example.com", "identifier = 'user@example.com'"),
        ("identifier=other@example.com", "identifier = 'other@example.com'"),
        ("has_rage_clicks=true", "has_rage_clicks"),
        ("has_rage_clicks=false", "NOT has_rage_clicks"),
        ("active_length>1s", "active_ms > 1000"),
        ("length<10s", "duration_ms < 10000"),
        ("secure_id=CopyOfMainSession0000000003", "session_id = 'CopyOfMainSession0000000003'"),
        ("plan=pro", "json_extract_string(user_object, '$.plan') = 'pro'"),
        ("other", "identifier = 'other@example.com'"),  # bare word: the identifier's tokens
    ],
)
def test_query_filters(seeded: Seeded, query: str, where: str) -> None:
    expected = [r["session_id"] for r in seeded.query(
        f"SELECT session_id FROM session_summaries WHERE coalesce({where}, false) "
        "ORDER BY started_ns DESC, session_id DESC"
    )]  # fmt: skip
    assert expected  # every filter selects something, and not everything
    assert len(expected) < 2 + len(COPIES) + 2
    assert [item["session_id"] for item in all_pages(seeded, query=query, limit=2)] == expected


def test_rage_clicks_session(seeded: Seeded) -> None:
    [item] = seeded.json("/api/sessions", query="has_rage_clicks=true")["items"]
    assert item["session_id"] == RAGE_SESSION
    assert item["is_initialized"] is False  # it only pushed: five rrweb clicks on one spot


def test_time_range(seeded: Seeded) -> None:
    rows = seeded.query("SELECT session_id, started_ns, last_activity_ns FROM session_summaries")
    middle = sorted(r["started_ns"] for r in rows)[len(rows) // 2]
    start_ms = middle // 1_000_000
    expected = {r["session_id"] for r in rows if r["last_activity_ns"] >= start_ms * 1_000_000}
    assert {item["session_id"] for item in all_pages(seeded, start=str(start_ms))} == expected
    expected = {r["session_id"] for r in rows if r["started_ns"] <= start_ms * 1_000_000}
    assert {item["session_id"] for item in all_pages(seeded, end=str(start_ms))} == expected
    assert seeded.get("/api/sessions", start="2030-01-01T00:00:00Z", end="2020-01-01").status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not a cursor"},
        {"cursor": base64.urlsafe_b64encode(b'["a", 1]').decode()},
        {"cursor": base64.urlsafe_b64encode(b"[1]").decode()},
        {"query": "identifier=(a OR"},
        {"query": "active_length>(1s"},
        {"limit": "0"},
        {"limit": "5000"},
        {"start": "yesterday"},
    ],
)
def test_bad_list_requests_are_400(seeded: Seeded, params: dict[str, str]) -> None:
    reply = seeded.get("/api/sessions", **params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["detail"]


# ---------------------------------------------------------------- one session and its parts


def test_one_session(seeded: Seeded) -> None:
    sid = seeded.main_id
    [row] = seeded.query(
        f"SELECT {LIST_KEYS}, client_config, properties FROM session_summaries WHERE session_id = ?", [sid]
    )
    got = seeded.json(f"/api/sessions/{sid}")
    for key, value in row.items():
        assert got[key] == (parsed(value) if key in ("user_object", "client_config", "properties") else value)
    assert got["client_config"]["sessionSecureID"] == sid
    assert isinstance(got["live"], bool)
    feedback = seeded.query(
        "SELECT time_ns, user_name, user_email, verbatim FROM session_feedback WHERE session_id = ? "
        "ORDER BY time_ns",
        [sid],
    )
    assert got["feedback"] == feedback and feedback
    points = seeded.query(
        "SELECT metric_name, value, time_ns FROM metric_points WHERE session_id = ? "
        "AND metric_name IN ('LCP', 'FCP', 'CLS', 'INP', 'TTFB') ORDER BY time_ns",
        [sid],
    )
    latest = {p["metric_name"]: p["value"] for p in points}  # the last one of each wins
    assert got["web_vitals"] == latest and latest


def test_unknown_session_is_404_everywhere(seeded: Seeded) -> None:
    for part in ("", "/events", "/timeline", "/console", "/network", "/errors"):
        assert seeded.get(f"/api/sessions/NoSuchSession{part}").status_code == 404, part


def stored_events(seeded: Seeded, session_id: str) -> list[Json]:
    events = [
        event
        for chunk in seeded.query("SELECT events FROM replay_chunks WHERE session_id = ?", [session_id])
        for event in json.loads(chunk["events"])
    ]
    return sorted(events, key=lambda e: (e["timestamp"], e.get("_sid") or 0))


@pytest.mark.parametrize("which", ["main_id", "defaults_id"])
def test_events_stream_is_every_stored_event_in_order(seeded: Seeded, which: str) -> None:
    sid = getattr(seeded, which)
    with httpx.stream("GET", f"{seeded.server.ui_url}/api/sessions/{sid}/events", timeout=30) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/json")
        assert reply.headers.get("transfer-encoding") == "chunked"  # streamed, not one body
        body = b"".join(reply.iter_bytes())
    expected = stored_events(seeded, sid)
    assert json.loads(body) == expected
    assert (
        len(expected)
        == seeded.query("SELECT sum(event_count)::INT AS n FROM replay_chunks WHERE session_id = ?", [sid])[
            0
        ]["n"]
    )


def test_a_session_without_pushes_has_empty_parts(seeded: Seeded) -> None:
    got = seeded.json(f"/api/sessions/{INIT_ONLY}")
    assert got["is_initialized"] is True and got["duration_ms"] == 0 and got["web_vitals"] == {}
    assert seeded.json(f"/api/sessions/{INIT_ONLY}/events") == []
    for part in ("timeline", "console", "network", "errors"):
        assert seeded.json(f"/api/sessions/{INIT_ONLY}/{part}") == {"items": []}, part


def test_events_from_ms_start_at_the_snapshot_before_it(seeded: Seeded) -> None:
    sid = seeded.main_id
    everything = stored_events(seeded, sid)
    snapshots = [i for i, e in enumerate(everything) if e["type"] == 2]
    assert len(snapshots) == 2  # main navigated to a second page
    for snapshot in snapshots:
        from_ms = everything[snapshot]["timestamp"] + 1500
        got = seeded.json(f"/api/sessions/{sid}/events", from_ms=from_ms)
        meta = max(i for i in range(snapshot) if everything[i]["type"] == 4)
        assert got == everything[meta:]
        assert got[0]["type"] == 4 and any(e["type"] == 2 and e["timestamp"] <= from_ms for e in got)
        assert [e for e in got if e["timestamp"] >= from_ms] == [
            e for e in everything if e["timestamp"] >= from_ms
        ]
    # before the first event: all of them; after the last: the last page from its Meta on
    assert seeded.json(f"/api/sessions/{sid}/events", from_ms=everything[0]["timestamp"] - 1) == everything
    last = everything[-1]["timestamp"] + 10_000
    meta = max(i for i in range(snapshots[-1]) if everything[i]["type"] == 4)
    assert seeded.json(f"/api/sessions/{sid}/events", from_ms=last) == everything[meta:]


def test_timeline(seeded: Seeded) -> None:
    sid = seeded.main_id
    items = seeded.json(f"/api/sessions/{sid}/timeline")["items"]
    assert [m["time_ms"] for m in items] == sorted(m["time_ms"] for m in items)
    tags = {"Click": "click", "Navigate": "navigate", "Reload": "navigate", "Track": "track",
            "Identify": "identify"}  # fmt: skip
    events = seeded.query(
        "SELECT time_ms, kind, payload, text, selector FROM session_events WHERE session_id = ? "
        "ORDER BY time_ms, sid",
        [sid],
    )
    expected = [(tags[e["kind"]], e["time_ms"]) for e in events if e["kind"] in tags]
    errors = seeded.query(
        "SELECT time_ns // 1000000 AS ms, message FROM linked_errors WHERE linked_session_id = ?", [sid]
    )
    feedback = seeded.query(
        "SELECT time_ns // 1000000 AS ms, verbatim FROM session_feedback WHERE session_id = ?", [sid]
    )
    expected += [("error", e["ms"]) for e in errors] + [("feedback", f["ms"]) for f in feedback]
    assert sorted((m["kind"], m["time_ms"]) for m in items) == sorted(expected)
    kinds = {m["kind"] for m in items}
    assert kinds == {"click", "navigate", "track", "identify", "error", "feedback"}
    track = next(m for m in items if m["kind"] == "track")
    assert track["label"] == "checkout" and track["detail"]["payload"] == {"amount": 10, "event": "checkout"}
    identify = next(m for m in items if m["kind"] == "identify")
    assert identify["label"] == "user@example.com"
    [said] = [m for m in items if m["kind"] == "feedback"]
    assert said["label"] == feedback[0]["verbatim"]
    for click in (m for m in items if m["kind"] == "click"):
        assert click["label"] in (click["detail"]["text"], click["detail"]["selector"])
    assert {m["label"] for m in items if m["kind"] == "error"} == {e["message"] for e in errors}


def test_console(seeded: Seeded) -> None:
    sid = seeded.main_id
    rows = seeded.query(
        "SELECT time_ns, level, severity_text, body, attributes, frames FROM logs "
        "WHERE source = 'frontend' AND session_id = ? ORDER BY time_ns",
        [sid],
    )
    items = seeded.json(f"/api/sessions/{sid}/console")["items"]
    assert len(items) == len(rows) > 0
    for item, row in zip(items, rows, strict=True):
        assert item == {**row, "attributes": parsed(row["attributes"]), "frames": parsed(row["frames"]) or []}
    assert {"error", "warn", "info"} <= {item["level"] for item in items}


def test_network(seeded: Seeded) -> None:
    sid = seeded.main_id
    rows = seeded.query(
        "SELECT * EXCLUDE (session_id) FROM network_request_traces WHERE session_id = ? "
        "ORDER BY start_ms, url",
        [sid],
    )
    items = seeded.json(f"/api/sessions/{sid}/network")["items"]
    assert len(items) == len(rows) > 0
    json_columns = ("request_headers", "response_headers", "request_body", "response_body", "timings")
    for item, row in zip(items, rows, strict=True):
        assert item == {k: parsed(v) if k in json_columns else v for k, v in row.items()}
    fetched = [item for item in items if item["initiator_type"] in ("fetch", "xmlhttprequest")]
    assert fetched and all(isinstance(item["request_headers"], dict) for item in fetched)
    assert any(item["request_id"] for item in fetched)
    assert "backend_trace_id" in items[0]


def test_errors(seeded: Seeded) -> None:
    sid = seeded.main_id
    [(first_ms,)] = seeded.stored.execute(
        "SELECT min(first_ms) FROM replay_chunks WHERE session_id = ?", [sid]
    ).fetchall()
    rows = seeded.query(
        "SELECT error_id, time_ns, message, frames, group_id, payload FROM linked_errors "
        "WHERE linked_session_id = ? ORDER BY time_ns, error_id",
        [sid],
    )
    items = seeded.json(f"/api/sessions/{sid}/errors")["items"]
    assert len(items) == len(rows) == 4
    for item, row in zip(items, rows, strict=True):
        assert {k: item[k] for k in ("error_id", "time_ns", "message", "group_id")} == {
            k: row[k] for k in ("error_id", "time_ns", "message", "group_id")
        }
        recorded = [f["generated"] or {k: f[k] for k in ("file", "line", "column", "function", "source")}
                    for f in item["frames"]]  # fmt: skip
        assert recorded == json.loads(row["frames"])  # each frame as sent, or the one its source map replaced
        assert all(f["context"] is not None for f in item["frames"])  # the answer's first 128 frames
        assert item["payload"] == parsed(row["payload"])
        assert item["offset_ms"] == row["time_ns"] // 1_000_000 - first_ms
        assert 0 <= item["offset_ms"] <= 60_000
