"""/api/sessions: the session list, one session, and what a replay player needs next to it.

The list reads the `session_summaries` view (a session is every id that initialized or pushed).
A session's parts (timeline, console, network, errors) are bounded by the session itself and come
in time order, whole. Its rrweb events are streamed (query/session_events.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import duckdb
import msgspec
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from hl_local.query.common import (
    API_ERRORS,
    answers,
    bad_request,
    decode_cursor,
    encode_cursor,
    fetch,
    limit_of,
    rows,
    search_sql,
    sessions_of_traces,
    sources_of,
    time_range,
)
from hl_local.query.session_events import exists, session_events
from hl_local.query.session_responses import (
    ClickMarker,
    ConsoleLine,
    ConsoleLines,
    ErrorMark,
    ErrorMarker,
    EventDetail,
    Feedback,
    FeedbackMarker,
    FlagEvaluation,
    FlagMarker,
    IdentifyMarker,
    Marker,
    NavigateMarker,
    NetworkRequest,
    NetworkRequests,
    SessionDetail,
    SessionError,
    SessionErrors,
    SessionPage,
    SessionRow,
    Timeline,
    TrackMarker,
)
from hl_local.source.frames import Budget, source_all
from hl_local.store.db import Store

S = TypeVar("S", bound=msgspec.Struct)

LIVE_NS = 60 * 1_000_000_000  # a session with activity in the last minute is live
WEB_VITALS = ("LCP", "FCP", "CLS", "INP", "TTFB")

# The view's sums come back as HUGEINT: cast to what SessionRow says. `live` needs a parameter: the
# moment a minute ago.
_SUMS = ("duration_ms", "active_ms", "page_count", "error_count", "console_error_count", "click_count",
         "push_count", "event_count")  # fmt: skip


def _columns(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n}::BIGINT AS {n}" if n in _SUMS else n for n in names)


_ROW_COLUMNS = (
    _columns(SessionRow.__struct_fields__[:-1]) + ", coalesce(last_activity_ns >= ?, false) AS live"
)
_DETAIL_COLUMNS = (
    f"{_ROW_COLUMNS}, {_columns(SessionDetail.__struct_fields__[len(SessionRow.__struct_fields__) : -2])}, "
    "NULL AS feedback, NULL AS web_vitals"
)
_EVENT_MARKERS: dict[str, type[ClickMarker | NavigateMarker | TrackMarker | IdentifyMarker]] = {
    "Click": ClickMarker,
    "Navigate": NavigateMarker,
    "Reload": NavigateMarker,
    "Track": TrackMarker,
    "Identify": IdentifyMarker,
}


def _json(text: str | None) -> Any:
    """Stored JSON text parsed; text that is not JSON stays as it is."""
    if text is None or text == "":
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _store(request: Request[Any, Any, Any]) -> Store:
    store: Store = request.app.state.store
    return store


# ---------------------------------------------------------------- the list and one session


@get("/sessions", responses=answers(400))
async def list_sessions(
    request: Request[Any, Any, Any],
    search: Annotated[str | None, QueryParameter(name="query")] = None,  # `query` is litestar's name
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> SessionPage:
    """Sessions active in [start, end] matching `query`, newest start first."""
    size = limit_of(limit)
    start_ns, end_ns = time_range(start, end)
    after = decode_cursor(cursor, 2)
    if after is not None and not (isinstance(after[0], int) and isinstance(after[1], str)):
        raise bad_request("cursor is not one this server gave out")
    where, params = search_sql(search, "sessions")
    clauses: list[str] = [where]
    values: list[object] = list(params)
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
        f"SELECT {_ROW_COLUMNS} FROM session_summaries WHERE {' AND '.join(clauses)} "
        "ORDER BY started_ns DESC, session_id DESC LIMIT ?"
    )
    live_since = time.time_ns() - LIVE_NS

    def read(cur: duckdb.DuckDBPyConnection) -> list[SessionRow]:
        found = fetch(cur, SessionRow, sql, [live_since, *values, size + 1])
        counts = error_counts(cur, [row.session_id for row in found[:size]])
        for row in found[:size]:
            row.error_count = counts.get(row.session_id, 0)
        return found

    found = await _store(request).read(read)
    items = found[:size]
    next_cursor = encode_cursor((items[-1].started_ns, items[-1].session_id)) if len(found) > size else None
    return SessionPage(items, next_cursor)


# The traces a session may have started: its own spans', and those of the requests it recorded (by
# request id or traceparent). Which session a trace belongs to is then asked of trace_sessions.
_CANDIDATE_TRACES = """
SELECT trace_id FROM spans WHERE session_id IN (SELECT unnest(?::VARCHAR[]))
UNION SELECT trace_id FROM network_requests
      WHERE session_id IN (SELECT unnest(?::VARCHAR[])) AND trace_id IS NOT NULL
UNION SELECT s.trace_id FROM spans AS s JOIN network_requests AS n ON n.request_id = s.request_id
      WHERE n.session_id IN (SELECT unnest(?::VARCHAR[]))
"""


def error_counts(cur: duckdb.DuckDBPyConnection, session_ids: list[str]) -> dict[str, int]:
    """session → its errors as its Errors tab lists them: its own, and those of the traces it started
    (views.sql `linked_errors`), for these sessions only."""
    if not session_ids:
        return {}
    own = cur.execute(
        "SELECT session_id, count(*) FROM errors "
        "WHERE session_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
        [session_ids],
    ).fetchall()
    counts = {session_id: int(n) for session_id, n in own}
    candidates = [row[0] for row in cur.execute(_CANDIDATE_TRACES, [session_ids] * 3).fetchall()]
    wanted = set(session_ids)
    traces = {t: s for t, s in sessions_of_traces(cur, candidates).items() if s in wanted}
    if traces:
        backend = cur.execute(
            "SELECT trace_id, count(*) FROM errors WHERE session_id IS NULL "
            "AND trace_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
            [list(traces)],
        ).fetchall()
        for trace_id, n in backend:
            counts[traces[trace_id]] = counts.get(traces[trace_id], 0) + int(n)
    return counts


@get("/sessions/{session_id:str}", responses=answers(400, 404))
async def one_session(request: Request[Any, Any, Any], session_id: str) -> SessionDetail:
    """The session with its H.init options, properties, feedback and latest web vitals."""
    live_since = time.time_ns() - LIVE_NS

    def read(cur: duckdb.DuckDBPyConnection) -> SessionDetail:
        sql = f"SELECT {_DETAIL_COLUMNS} FROM session_summaries WHERE session_id = ?"
        found = fetch(cur, SessionDetail, sql, [live_since, session_id])
        if not found:
            raise NotFoundException(f"no session {session_id!r}")
        session = found[0]
        session.error_count = error_counts(cur, [session_id]).get(session_id, 0)
        session.feedback = _feedback(cur, session_id)
        vitals = cur.execute(
            "SELECT metric_name, arg_max(value, time_ns) FROM metric_points "
            "WHERE session_id = ? AND metric_name IN (SELECT unnest(?::VARCHAR[])) GROUP BY metric_name",
            [session_id, list(WEB_VITALS)],
        ).fetchall()
        session.web_vitals = dict(vitals)
        return session

    return await _store(request).read(read)


def _feedback(cur: duckdb.DuckDBPyConnection, session_id: str) -> list[Feedback]:
    sql = (
        "SELECT time_ns, user_name, user_email, verbatim FROM session_feedback WHERE session_id = ? "
        "ORDER BY time_ns"
    )
    return fetch(cur, Feedback, sql, [session_id])


# ---------------------------------------------------------------- the session's parts


def _items(request: Request[Any, Any, Any], session_id: str, cls: type[S], sql: str) -> Awaitable[list[S]]:
    """The rows of `sql` (one parameter: the session) as `cls`; a 404 for an unknown session."""

    def read(cur: duckdb.DuckDBPyConnection) -> list[S]:
        exists(cur, session_id)
        return fetch(cur, cls, sql, [session_id])

    return _store(request).read(read)


def _event_marker(row: dict[str, Any]) -> Marker:
    payload = _json(row["payload"])
    if row["kind"] == "Click":
        label = row["text"] or row["selector"] or ""
    elif row["kind"] == "Track" and isinstance(payload, dict):
        label = str(payload.get("event") or row["payload"])
    elif row["kind"] == "Identify" and isinstance(payload, dict):
        label = str(payload.get("userIdentifier") or row["payload"])
    else:
        label = payload if isinstance(payload, str) else row["payload"]
    detail = EventDetail(row["kind"], payload, row["selector"], row["text"])
    return _EVENT_MARKERS[row["kind"]](row["time_ms"], label, detail)


@get("/sessions/{session_id:str}/timeline", responses=answers(400, 404))
async def session_timeline(request: Request[Any, Any, Any], session_id: str) -> Timeline:
    """Markers for a player's timeline: clicks, navigations, track and identify events, feature flag
    evaluations, errors, feedback."""

    def read(cur: duckdb.DuckDBPyConnection) -> list[Marker]:
        exists(cur, session_id)
        events = rows(
            cur,
            "SELECT time_ms, sid, kind, payload, selector, text FROM session_events "
            "WHERE session_id = ? AND kind IN (SELECT unnest(?::VARCHAR[])) ORDER BY time_ms, sid",
            [session_id, list(_EVENT_MARKERS)],
        )
        errors = fetch(
            cur,
            ErrorMark,
            "SELECT error_id, time_ns, type, message, group_id, source, url FROM linked_errors "
            "WHERE linked_session_id = ? ORDER BY time_ns",
            [session_id],
        )
        markers = [m for m in map(_event_marker, events) if not _sdk_internal(m)]
        kinds = {row["kind"] for row in events}
        markers += _span_markers(cur, session_id, "Track" not in kinds, not kinds & {"Navigate", "Reload"})
        markers += _flag_markers(cur, session_id)
        markers += [ErrorMarker(e.time_ns // 1_000_000, e.message, e) for e in errors]
        markers += [FeedbackMarker(f.time_ns // 1_000_000, f.verbatim, f) for f in _feedback(cur, session_id)]
        markers.sort(key=lambda m: m.time_ms)  # stable: same-time markers keep their kind order
        return markers

    return Timeline(await _store(request).read(read))


# LaunchDarkly's plugins record track calls and page views as spans, not Highlight custom events.
TRACK_SPAN, PAGE_VIEW_SPAN = "launchdarkly.track", "page_view"
_TRACK_SKIPPED = ("key", "url.full", "highlight.session_id", "telemetry.sdk.name",
                  "telemetry.sdk.version", "feature_flag.set.id", "feature_flag.provider.name")  # fmt: skip


def _sdk_internal(marker: Marker) -> bool:
    """LaunchDarkly's own `$ld:…` track events (session init, telemetry): not the app's."""
    return isinstance(marker, TrackMarker) and marker.label.startswith("$ld:")


def _span_markers(
    cur: duckdb.DuckDBPyConnection, session_id: str, with_tracks: bool, with_pages: bool
) -> list[Marker]:
    """Track and page-view markers from the session's browser spans, for a session whose pushes have
    no Track (resp. Navigate) events: the replay plugin's pushes carry its track calls too, and
    highlight.run sends page views both ways. (LaunchDarkly's observability plugin alone sends no
    pushes at all.)
    """
    names = [n for n, wanted in ((TRACK_SPAN, with_tracks), (PAGE_VIEW_SPAN, with_pages)) if wanted]
    if not names:
        return []
    found = rows(
        cur,
        "SELECT start_ns, name, attributes FROM spans WHERE session_id = ? "
        "AND name IN (SELECT unnest(?::VARCHAR[])) ORDER BY start_ns",
        [session_id, names],
    )
    markers: list[Marker] = []
    for row in found:
        attributes = _json(row["attributes"])
        attributes = attributes if isinstance(attributes, dict) else {}
        time_ms = row["start_ns"] // 1_000_000
        if row["name"] == PAGE_VIEW_SPAN:
            url = str(attributes.get("page_view.url") or attributes.get("url.full") or "")
            markers.append(NavigateMarker(time_ms, url, EventDetail("Navigate", url, None, None)))
            continue
        key = str(attributes.get("key") or "")
        payload = {
            k: v for k, v in attributes.items() if k not in _TRACK_SKIPPED and not k.startswith("context.")
        }
        payload["event"] = key  # as H.track's Track event carries it
        markers.append(TrackMarker(time_ms, key, EventDetail("Track", payload, None, None)))
    return [m for m in markers if not _sdk_internal(m)]


_FLAG_COLUMNS = ", ".join(FlagEvaluation.__struct_fields__)


def _flag_markers(cur: duckdb.DuckDBPyConnection, session_id: str) -> list[Marker]:
    """A marker per feature flag evaluation of the session: `key = value`."""
    found = rows(
        cur,
        f"SELECT time_ns, {_FLAG_COLUMNS} FROM flag_evaluations WHERE session_id = ? ORDER BY time_ns",
        [session_id],
    )
    markers: list[Marker] = []
    for row in found:
        time_ns = row.pop("time_ns")
        detail = FlagEvaluation(**{**row, "reason": msgspec.Raw(row["reason"].encode())})
        markers.append(FlagMarker(time_ns // 1_000_000, f"{row['flag_key']} = {row['value']}", detail))
    return markers


@get("/sessions/{session_id:str}/console", responses=answers(400, 404))
async def session_console(request: Request[Any, Any, Any], session_id: str) -> ConsoleLines:
    """The browser console messages of the session, oldest first."""
    sql = (
        "SELECT time_ns, level, severity_text, body, attributes, coalesce(frames, '[]') AS frames FROM logs "
        "WHERE source = 'frontend' AND session_id = ? ORDER BY time_ns"
    )
    return ConsoleLines(await _items(request, session_id, ConsoleLine, sql))


@get("/sessions/{session_id:str}/network", responses=answers(400, 404))
async def session_network(request: Request[Any, Any, Any], session_id: str) -> NetworkRequests:
    """The session's network requests and resources with timings, bodies and their backend trace."""
    sql = (
        f"SELECT {', '.join(NetworkRequest.__struct_fields__)} FROM network_request_traces "
        "WHERE session_id = ? ORDER BY start_ms, url"
    )
    return NetworkRequests(await _items(request, session_id, NetworkRequest, sql))


_SESSION_ERROR_COLUMNS = ", ".join(f"e.{name}" for name in SessionError.__struct_fields__[:-1])


@get("/sessions/{session_id:str}/errors", responses=answers(400, 404))
async def session_errors(request: Request[Any, Any, Any], session_id: str) -> SessionErrors:
    """Errors of the session (directly or through a trace it started), with where they fall in the replay."""
    sql = (
        f"SELECT {_SESSION_ERROR_COLUMNS}, e.time_ns // 1000000 - (SELECT min(first_ms) "
        "FROM replay_chunks AS c WHERE c.session_id = e.linked_session_id) AS offset_ms "
        "FROM linked_errors AS e WHERE e.linked_session_id = ? ORDER BY e.time_ns, e.error_id"
    )
    items = await _items(request, session_id, SessionError, sql)
    await anyio.to_thread.run_sync(source_all, sources_of(request), items, Budget())
    return SessionErrors(items)


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
    exception_handlers=API_ERRORS,
)
