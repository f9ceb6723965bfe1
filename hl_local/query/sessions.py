"""/api/sessions: the session list, one session, and what a replay player needs next to it.

The list reads the `session_summaries` view (a session is every id that initialized or pushed).
A session's parts (timeline, console, network, errors) are bounded by the session itself and come
in time order, whole. Its rrweb events are streamed: chunk by chunk, each chunk's events as the
browser sent them, so a long recording is never one JSON document in memory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import duckdb
import msgspec
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Stream

from hl_local.query.common import (
    bad_request,
    decode_cursor,
    encode_cursor,
    limit_of,
    rows,
    search_sql,
    time_range,
)
from hl_local.replay.cache import Key, KeyframeCache
from hl_local.store.db import Store

LIVE_NS = 60 * 1_000_000_000  # a session with activity in the last minute is live
CHUNK_BATCH = 16  # replay chunks read per query while streaming events (main.jsonl has 20: two reads)
WEB_VITALS = ("LCP", "FCP", "CLS", "INP", "TTFB")
FULL_SNAPSHOT, META = 2, 4

_LIST_COLUMNS = (
    "session_id, identifier, user_object, started_ns, last_activity_ns, duration_ms, active_ms, page_count, "
    "error_count, console_error_count, click_count, has_rage_clicks, first_url, environment, service_name, "
    "sdk_version, user_agent, is_initialized"
)
_DETAIL_COLUMNS = (
    f"{_LIST_COLUMNS}, client_config, properties, project_id, client_id, app_version, firstload_version, "
    "privacy_setting, enable_strict_privacy, enable_recording_network_contents, disable_session_recording, "
    "network_recording_domains, ip, language, first_event_ms, last_event_ms, push_count, event_count"
)
_JSON_COLUMNS = ("user_object", "client_config", "properties", "network_recording_domains")
_TIMELINE_KINDS = {"Click": "click", "Navigate": "navigate", "Reload": "navigate", "Track": "track",
                   "Identify": "identify"}  # fmt: skip


def _json(text: str | None) -> Any:
    """Stored JSON text parsed; text that is not JSON stays as it is."""
    if text is None or text == "":
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _session(row: dict[str, Any], now_ns: int) -> dict[str, Any]:
    for column in _JSON_COLUMNS:
        if column in row:
            row[column] = _json(row[column])
    for column in ("duration_ms", "active_ms", "page_count", "error_count", "console_error_count",
                   "click_count", "push_count", "event_count"):  # fmt: skip
        if row.get(column) is not None:
            row[column] = int(row[column])  # sums come back as HUGEINT / DECIMAL
    row["live"] = row["last_activity_ns"] is not None and now_ns - row["last_activity_ns"] <= LIVE_NS
    return row


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _exists(cur: duckdb.DuckDBPyConnection, session_id: str) -> None:
    found = cur.execute(
        "SELECT 1 FROM sessions WHERE session_id = ? UNION ALL "
        "(SELECT 1 FROM replay_chunks WHERE session_id = ? LIMIT 1) LIMIT 1",
        [session_id, session_id],
    ).fetchall()
    if not found:
        raise NotFoundException(f"no session {session_id!r}")


# ---------------------------------------------------------------- the list and one session


@get("/sessions")
async def list_sessions(
    request: Request,
    search: Annotated[str | None, Parameter(query="query")] = None,  # `query` is litestar's name
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Sessions active in [start, end] matching `query`, newest start first."""
    size = limit_of(limit)
    start_ns, end_ns = time_range(start, end)
    after = decode_cursor(cursor, 2)
    if after is not None and not (isinstance(after[0], int) and isinstance(after[1], str)):
        raise bad_request("cursor is not one this server gave out")
    where, params = search_sql(search, "sessions")
    clauses, values = [where], list(params)
    if start_ns is not None:
        clauses.append("last_activity_ns >= ?")
        values.append(start_ns)
    if end_ns is not None:
        clauses.append("started_ns <= ?")
        values.append(end_ns)
    if after is not None:
        clauses.append("(started_ns < ? OR (started_ns = ? AND session_id < ?))")
        values += [after[0], after[0], after[1]]
    sql = (
        f"SELECT {_LIST_COLUMNS} FROM session_summaries WHERE {' AND '.join(clauses)} "
        "ORDER BY started_ns DESC, session_id DESC LIMIT ?"
    )
    found = await _store(request).read(lambda cur: rows(cur, sql, [*values, size + 1]))
    now_ns = time.time_ns()
    items = [_session(row, now_ns) for row in found[:size]]
    next_cursor = (
        encode_cursor((items[-1]["started_ns"], items[-1]["session_id"])) if len(found) > size else None
    )
    return {"items": items, "next_cursor": next_cursor}


@get("/sessions/{session_id:str}")
async def one_session(request: Request, session_id: str) -> dict[str, Any]:
    """The session with its H.init options, properties, feedback and latest web vitals."""

    def read(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        found = rows(
            cur, f"SELECT {_DETAIL_COLUMNS} FROM session_summaries WHERE session_id = ?", [session_id]
        )
        if not found:
            raise NotFoundException(f"no session {session_id!r}")
        feedback = rows(
            cur,
            "SELECT time_ns, user_name, user_email, verbatim FROM session_feedback WHERE session_id = ? "
            "ORDER BY time_ns",
            [session_id],
        )
        vitals = cur.execute(
            "SELECT metric_name, arg_max(value, time_ns) FROM metric_points "
            "WHERE session_id = ? AND metric_name IN (SELECT unnest(?::VARCHAR[])) GROUP BY metric_name",
            [session_id, list(WEB_VITALS)],
        ).fetchall()
        return {**found[0], "feedback": feedback, "web_vitals": dict(vitals)}

    session = await _store(request).read(read)
    return _session(session, time.time_ns())


# ---------------------------------------------------------------- rrweb events, streamed


class _EventKey(msgspec.Struct):
    timestamp: float = 0
    sid: int = msgspec.field(default=0, name="_sid")
    type: int = -1


_raw_events = msgspec.json.Decoder(list[msgspec.Raw])
_event_keys = msgspec.json.Decoder(list[_EventKey])


def _sorted_events(text: str) -> list[tuple[tuple[float, int], int, msgspec.Raw]]:
    """A chunk's events as ((timestamp, _sid), type, raw bytes), in (timestamp, _sid) order."""
    raw, keys = _raw_events.decode(text), _event_keys.decode(text)
    events = [((k.timestamp, k.sid or 0), k.type, r) for k, r in zip(keys, raw, strict=True)]
    events.sort(key=lambda e: e[0])
    return events


def _start_key(cur: duckdb.DuckDBPyConnection, session_id: str, from_ms: int) -> tuple[float, int]:
    """Where a player starting at `from_ms` must start: the Meta before the last FullSnapshot at or
    before it (the events in between rebuild the page as it was at `from_ms`).

    Only the chunks' keys are listed; their events are read one chunk at a time, newest first.
    """
    keys = cur.execute(
        "SELECT payload_id, has_full_snapshot FROM replay_chunks WHERE session_id = ? AND first_ms <= ? "
        "ORDER BY first_ms DESC, payload_id DESC",
        [session_id, from_ms],
    ).fetchall()
    snapshot: tuple[float, int] | None = None
    for payload_id, has_full_snapshot in keys:
        if snapshot is None and not has_full_snapshot:
            continue
        [(text,)] = cur.execute(
            "SELECT events FROM replay_chunks WHERE session_id = ? AND payload_id = ?",
            [session_id, payload_id],
        ).fetchall()
        events = [e for e in _sorted_events(text) if e[0][0] <= from_ms]
        if snapshot is None:
            snapshot = next((e[0] for e in reversed(events) if e[1] == FULL_SNAPSHOT), None)
            events = [e for e in events if e[0] <= snapshot] if snapshot is not None else []
        meta = next((e[0] for e in reversed(events) if e[1] == META), None)
        if meta is not None:
            return meta
    return snapshot if snapshot is not None else (float(from_ms), -(2**62))


def _keyframe_cache(request: Request) -> KeyframeCache:
    state = request.app.state
    if "keyframes" not in state:
        state.keyframes = KeyframeCache()
    cache: KeyframeCache = state.keyframes
    return cache


def _merged(
    events: list[tuple[tuple[float, int], int, msgspec.Raw]],
    frames: list[tuple[Key, bytes]],
    start: Key | None,
    to_ms: int | None,
) -> list[bytes]:
    """A chunk's events with its keyframes in place (a keyframe follows the events it includes),
    from `start` and up to `to_ms`."""

    def wanted(key: Key) -> bool:
        return (start is None or key >= start) and (to_ms is None or key[0] <= to_ms)

    parts: list[bytes] = []
    at = 0
    for (timestamp, sid), _type, raw in events:
        key = (timestamp, sid, 0)
        while at < len(frames) and frames[at][0] < key:
            parts += [frames[at][1]] if wanted(frames[at][0]) else []
            at += 1
        if wanted(key):
            parts.append(bytes(raw))
    parts += [encoded for key, encoded in frames[at:] if wanted(key)]
    return parts


@get("/sessions/{session_id:str}/events", media_type="application/json")
async def session_events(
    request: Request,
    session_id: str,
    from_ms: int | None = None,
    to_ms: int | None = None,
    keyframes: bool = True,
) -> Stream:
    """Every rrweb event of the session as one JSON array, streamed chunk by chunk, with synthetic
    keyframes (`"hl_keyframe": true`) unless `keyframes=false`."""
    store = _store(request)
    await store.read(lambda cur: _exists(cur, session_id))
    entry = _keyframe_cache(request).entry(session_id) if keyframes else None

    def find_start(cur: duckdb.DuckDBPyConnection, from_ms: int) -> Key:
        timestamp, sid = _start_key(cur, session_id, from_ms)
        start: Key = (timestamp, sid, 0)
        through = cur.execute(
            "SELECT coalesce(first_ms, 0), payload_id FROM replay_chunks WHERE session_id = ? "
            "AND coalesce(first_ms, 0) <= ? ORDER BY coalesce(first_ms, 0) DESC, payload_id DESC LIMIT 1",
            [session_id, from_ms],
        ).fetchall()
        if entry is not None and through:
            entry.ensure(cur, session_id, through[0])
            synthetic = entry.start_before(from_ms)
            start = max(start, synthetic) if synthetic is not None else start
        return start

    start = None
    if from_ms is not None:
        start = await store.read(lambda cur: find_start(cur, from_ms))

    def batch(cur: duckdb.DuckDBPyConnection, after: tuple[int, str] | None) -> tuple[int, Any, list[bytes]]:
        clauses, args = ["session_id = ?"], [session_id]
        if after:
            clauses.append("(coalesce(first_ms, 0) > ? OR (coalesce(first_ms, 0) = ? AND payload_id > ?))")
            args += [after[0], after[0], after[1]]
        if start is not None:  # chunks that end before the start hold nothing to send
            clauses.append("coalesce(last_ms, first_ms, 0) >= ?")
            args.append(int(start[0]))
        if to_ms is not None:
            clauses.append("coalesce(first_ms, 0) <= ?")
            args.append(to_ms)
        sql = (
            "SELECT coalesce(first_ms, 0), payload_id, events FROM replay_chunks "
            f"WHERE {' AND '.join(clauses)} ORDER BY coalesce(first_ms, 0), payload_id LIMIT ?"
        )
        chunks = cur.execute(sql, [*args, CHUNK_BATCH]).fetchall()
        if entry is not None and chunks:
            texts = {(first_ms, payload_id): text for first_ms, payload_id, text in chunks}
            entry.ensure(cur, session_id, (chunks[-1][0], chunks[-1][1]), texts)
        parts: list[bytes] = []
        for first_ms, payload_id, text in chunks:
            frames = entry.frames_of((first_ms, payload_id)) if entry is not None else []
            parts += _merged(_sorted_events(text), frames, start, to_ms)
        last = (chunks[-1][0], chunks[-1][1]) if chunks else None
        return len(chunks), last, parts

    async def body() -> AsyncIterator[bytes]:
        yield b"["
        first, after = True, None
        while True:
            count, after, parts = await store.read(lambda cur, after=after: batch(cur, after))
            if parts:
                yield (b"" if first else b",") + b",".join(parts)
                first = False
            if count < CHUNK_BATCH:
                break
        yield b"]"

    return Stream(body(), media_type="application/json")


# ---------------------------------------------------------------- the session's parts


def _items(request: Request, session_id: str, sql: str, shape: Any) -> Any:
    def read(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        _exists(cur, session_id)
        return [shape(row) for row in rows(cur, sql, [session_id])]

    return _store(request).read(read)


def _timeline_event(row: dict[str, Any]) -> dict[str, Any]:
    kind, payload = _TIMELINE_KINDS[row["kind"]], _json(row["payload"])
    if row["kind"] == "Click":
        label = row["text"] or row["selector"] or ""
    elif row["kind"] == "Track" and isinstance(payload, dict):
        label = str(payload.get("event") or row["payload"])
    elif row["kind"] == "Identify" and isinstance(payload, dict):
        label = str(payload.get("userIdentifier") or row["payload"])
    else:
        label = payload if isinstance(payload, str) else row["payload"]
    detail = {"tag": row["kind"], "payload": payload, "selector": row["selector"], "text": row["text"]}
    return {"kind": kind, "time_ms": row["time_ms"], "label": label, "detail": detail}


@get("/sessions/{session_id:str}/timeline")
async def session_timeline(request: Request, session_id: str) -> dict[str, Any]:
    """Markers for a player's timeline: clicks, navigations, track and identify events, errors, feedback."""

    def read(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        _exists(cur, session_id)
        events = rows(
            cur,
            "SELECT time_ms, sid, kind, payload, selector, text FROM session_events "
            "WHERE session_id = ? AND kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY time_ms, sid",
            [session_id, list(_TIMELINE_KINDS)],
        )
        errors = rows(
            cur,
            "SELECT error_id, time_ns, type, message, group_id, source, url FROM linked_errors "
            "WHERE linked_session_id = ? ORDER BY time_ns",
            [session_id],
        )
        feedback = rows(
            cur,
            "SELECT time_ns, user_name, user_email, verbatim FROM session_feedback WHERE session_id = ? "
            "ORDER BY time_ns",
            [session_id],
        )
        markers = [_timeline_event(row) for row in events]
        markers += [
            {"kind": "error", "time_ms": e["time_ns"] // 1_000_000, "label": e["message"], "detail": e}
            for e in errors
        ]
        markers += [
            {"kind": "feedback", "time_ms": f["time_ns"] // 1_000_000, "label": f["verbatim"], "detail": f}
            for f in feedback
        ]
        markers.sort(key=lambda m: m["time_ms"])  # stable: same-time markers keep their kind order
        return markers

    return {"items": await _store(request).read(read)}


def _console_message(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "attributes": _json(row["attributes"]), "frames": _json(row["frames"]) or []}


@get("/sessions/{session_id:str}/console")
async def session_console(request: Request, session_id: str) -> dict[str, Any]:
    """The browser console messages of the session, oldest first."""
    sql = (
        "SELECT time_ns, level, severity_text, body, attributes, frames FROM logs "
        "WHERE source = 'frontend' AND session_id = ? ORDER BY time_ns"
    )
    return {"items": await _items(request, session_id, sql, _console_message)}


def _network_request(row: dict[str, Any]) -> dict[str, Any]:
    for column in ("request_headers", "response_headers", "request_body", "response_body", "timings"):
        row[column] = _json(row[column])
    return row


@get("/sessions/{session_id:str}/network")
async def session_network(request: Request, session_id: str) -> dict[str, Any]:
    """The session's network requests and resources with timings, bodies and their backend trace."""
    sql = (
        "SELECT * EXCLUDE (session_id) FROM network_request_traces WHERE session_id = ? "
        "ORDER BY start_ms, url"
    )
    return {"items": await _items(request, session_id, sql, _network_request)}


@get("/sessions/{session_id:str}/errors")
async def session_errors(request: Request, session_id: str) -> dict[str, Any]:
    """Errors of the session (directly or through a trace it started), with where they fall in the replay."""
    sql = (
        "SELECT e.error_id, e.time_ns, e.source, e.type, e.message, e.stack, e.frames, e.url, "
        "e.error_source, e.line_number, e.column_number, e.service_name, e.environment, e.request_id, "
        "e.trace_id, "
        "e.span_id, e.payload, e.group_id, "
        "e.time_ns // 1000000 - (SELECT min(first_ms) FROM replay_chunks AS c "
        "WHERE c.session_id = e.linked_session_id) AS offset_ms "
        "FROM linked_errors AS e WHERE e.linked_session_id = ? ORDER BY e.time_ns, e.error_id"
    )

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "frames": _json(row["frames"]) or [], "payload": _json(row["payload"])}

    return {"items": await _items(request, session_id, sql, shape)}


router = Router(
    path="/api",
    route_handlers=[
        list_sessions,
        one_session,
        session_events,
        session_timeline,
        session_console,
        session_network,
        session_errors,
    ],
)
