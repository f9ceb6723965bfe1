"""Log lines over HTTP: search with paging, a per-level histogram, and the logs of a trace or a session.

Every log line comes with `linked_session_id`: its own session, else the session of its trace
(views.sql `linked_logs`). The list pages on (time_ns, rowid): `logs` is append-only and the same
line sent in two requests is stored twice, so only the rowid tells them apart and keeps a cursor
from skipping or repeating one. A search for one word reads the writer's word counts first
(query/words.py).
"""

from __future__ import annotations

from typing import Any

import duckdb
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException

from hl_local.query.common import (
    API_ERRORS,
    Query,
    answers,
    bad_request,
    execute,
    fetch,
    link_sessions,
    link_to,
    listing,
    newest_first,
    page,
    search_sql,
    time_range,
    time_where,
)
from hl_local.query.responses import Histogram, HistogramBucket, LogLine, LogPage
from hl_local.query.structs import structs
from hl_local.query.words import histogram as word_histogram
from hl_local.query.words import indexed_word, newest_window
from hl_local.query.words import ranged_histogram as ranged_word_histogram
from hl_local.store.db import Store

DEFAULT_BUCKETS, MAX_BUCKETS = 60, 500

# A list shows this much of each body: four 50 MB lines made /api/logs 210 MB and the Logs page take
# 12 s and 400 MB of browser memory. One line's endpoint gives the whole body.
PREVIEW_CHARS = 2_000


def log_columns(preview: bool = True, row_id: str | None = "row_id") -> str:
    """The SELECT list of a LogLine over rows of `logs` (with their rowid as `row_id`, if at hand)."""
    body = f"left(body, {PREVIEW_CHARS})" if preview else "body"
    expressions = {
        "body": f"{body} AS body",
        "body_bytes": "strlen(body) AS body_bytes",
        "body_truncated": (f"length(body) > {PREVIEW_CHARS}" if preview else "false") + " AS body_truncated",
        "line_id": f"CAST(time_ns AS VARCHAR) || '-' || CAST({row_id} AS VARCHAR) AS line_id"
        if row_id
        else "NULL::VARCHAR AS line_id",
    }
    return ", ".join(expressions.get(name, name) for name in LogLine.__struct_fields__)


LOG_COLUMNS = log_columns()


def linked_logs(inner: str) -> str:
    """`inner` (rows of `logs` with their rowid as row_id) with their linked session, as linked_logs does."""
    return (
        f"SELECT p.*, coalesce(p.session_id, t.session_id) AS linked_session_id FROM ({inner}) AS p "
        "LEFT JOIN trace_sessions AS t ON t.trace_id = p.trace_id AND p.trace_id <> ''"
    )


@get("/logs", responses=answers(400))
async def list_logs(
    request: Request[Any, Any, Any],
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> LogPage:
    """Log lines matching `query` in [start, end], newest first."""
    q = listing("logs", search, start, end, limit, cursor, (("time_ns", int), ("rowid", int)))
    word = indexed_word(search)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> list[tuple[int, LogLine]]:
        def fetch_page(window_sql: str, window_params: list[Any]) -> list[tuple[int, LogLine]]:
            # The page's row ids first, then their columns: sorting whole rows read every column of
            # every row the filter scanned (a rare word's newest 100 lines: 105 ms → 65 ms at 1M).
            # The id and time ranges are implied by the ids; they let row-group min/max skip the rest.
            _, keys = execute(
                cur,
                f"SELECT rowid, time_ns FROM logs WHERE ({q.where}) AND {q.range_sql} "
                f"AND {q.after_sql} AND {window_sql} ORDER BY time_ns DESC, rowid DESC LIMIT ?",
                [*q.params, *q.range_params, *q.after_params, *window_params, q.size + 1],
            )
            if not keys:
                return []
            ids = [key[0] for key in keys]
            times = [key[1] for key in keys]
            # The ids as one list parameter joined in: a literal IN list only skipped row groups, and
            # every column of the rows in them was read (~100 ms for a rare word's page at 1M; ~50 ms).
            sql = (
                f"SELECT row_id, {LOG_COLUMNS} FROM (SELECT rowid AS row_id, *, NULL::VARCHAR AS "
                "linked_session_id FROM logs WHERE time_ns BETWEEN ? AND ? AND rowid BETWEEN ? AND ? "
                "AND rowid IN (SELECT unnest(?::BIGINT[]))) ORDER BY time_ns DESC, row_id DESC"
            )
            columns, found = execute(cur, sql, [min(times), max(times), min(ids), max(ids), ids])
            lines = structs(LogLine, columns, found, skip=1)
            return [(row[0], line) for row, line in zip(found, lines, strict=True)]

        if word is not None:  # the minutes that hold enough lines with the word bound the search
            upper = min((b for b in q.bounds[1:] if b is not None), default=None)
            window = newest_window(cur, word, q.size + 1, q.start_ns, upper)
            keyed = [] if window is None else fetch_page("time_ns >= ? AND time_ns < ?", list(window))
        else:
            keyed = newest_first(cur, "logs", "time_ns", fetch_page, q.size + 1, q.bounds)
        # The page first, then the sessions of its lines' traces (only for lines without their own).
        link_sessions(cur, [line for _, line in keyed])
        return keyed

    keyed, next_cursor = page(await store.read(read), q.size, lambda k: (k[1].time_ns, k[0]))
    return LogPage([line for _, line in keyed], next_cursor)


@get("/logs/histogram", responses=answers(400))
async def logs_histogram(
    request: Request[Any, Any, Any],
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
    buckets: int = DEFAULT_BUCKETS,
) -> Histogram:
    """Counts per level in `buckets` equal time buckets over [start, end] (default: the matches' span)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise bad_request(f"buckets must be between 1 and {MAX_BUCKETS}")
    where, params = search_sql(search, "logs")
    start_ns, end_ns = time_range(start, end)
    store: Store = request.app.state.store

    word = indexed_word(search)

    def from_counts(cur: duckdb.DuckDBPyConnection) -> Histogram | None:
        """The writer's word counts, if the search is one word and they can say (query/words.py)."""
        if word is None:
            return None
        if start_ns is None and end_ns is None:  # in buckets of whole minutes
            return word_histogram(cur, word, where, params, buckets)
        # the plain query's buckets: whole minutes from the counts, the minutes they cut from the rows
        return ranged_word_histogram(cur, word, where, params, (start_ns, end_ns), buckets)

    def read(cur: duckdb.DuckDBPyConnection) -> Histogram:
        if (counted_ahead := from_counts(cur)) is not None:
            return counted_ahead
        sql, sql_params = _histogram_sql(where, params, start_ns, end_ns, buckets)
        _, counted = execute(cur, sql, sql_params)
        if not counted:
            return Histogram(start_ns, end_ns, None, [])
        lo, hi, width = counted[0][:3]
        out = [HistogramBucket(lo + i * width, {}) for i in range(buckets)]
        for *_, bucket, level, n in counted:
            if level is not None:
                out[int(bucket)].counts[level] = int(n)
        return Histogram(lo, hi, width, out)

    return await store.read(read)


def _histogram_sql(
    where: str, params: list[Any], start_ns: int | None, end_ns: int | None, buckets: int
) -> tuple[str, list[Any]]:
    """One scan of the matching lines: counts per (bucket, level), each row with the range and width.

    An open side of the range is the matches' own first or last time, so the matching lines are
    kept (time and level only) and counted after their range is known, rather than searched twice.
    No row means no matching line; a range given on both sides with no match gives one row of NULLs.
    """
    span_sql, span_params = time_where("time_ns", start_ns, end_ns)
    # ceil((hi - lo + 1) / buckets): the last bucket ends at or after hi
    width = f"greatest(1, (r.hi - r.lo + {buckets}) // {buckets})"
    sql = f"""
WITH matched AS MATERIALIZED (SELECT time_ns, level FROM logs WHERE ({where}) AND {span_sql}),
r AS (SELECT coalesce(?::BIGINT, min(time_ns)) AS lo, coalesce(?::BIGINT, max(time_ns)) AS hi FROM matched)
SELECT r.lo, r.hi, {width} AS width, (m.time_ns - r.lo) // {width} AS bucket, m.level, count(m.time_ns) AS n
FROM r LEFT JOIN matched AS m ON TRUE
WHERE r.lo IS NOT NULL
GROUP BY ALL
"""
    return sql, [*params, *span_params, start_ns, end_ns]


def session_of_trace(cur: duckdb.DuckDBPyConnection, trace_id: str) -> str | None:
    """The session a trace belongs to (views.sql `trace_sessions`, filtered to the one trace)."""
    found = cur.execute("SELECT session_id FROM trace_sessions WHERE trace_id = ?", [trace_id]).fetchall()
    return found[0][0] if found else None


def logs_of_trace(
    cur: duckdb.DuckDBPyConnection, trace_id: str, session_id: str | None = None
) -> list[LogLine]:
    """Every log line of a trace, oldest first (a timeline); `session_id` is the trace's session."""
    trace_id = trace_id.lower()
    if session_id is None:
        session_id = session_of_trace(cur, trace_id)
    return link_to(trace_log_lines(cur, trace_id), session_id)


def trace_log_lines(cur: duckdb.DuckDBPyConnection, trace_id: str) -> list[LogLine]:
    """Every log line of a trace, oldest first, linked to its own session only (see `link_to`)."""
    sql = (
        f"SELECT {LOG_COLUMNS} FROM (SELECT rowid AS row_id, *, session_id AS linked_session_id "
        "FROM logs WHERE trace_id = ?) ORDER BY time_ns, row_id"
    )
    return fetch(cur, LogLine, sql, [trace_id])


@get("/traces/{trace_id:str}/logs", responses=answers(400))
async def trace_logs(request: Request[Any, Any, Any], trace_id: str) -> LogPage:
    """Every log line of a trace, oldest first; an unknown trace has none."""
    store: Store = request.app.state.store
    return LogPage(await store.read(lambda cur: logs_of_trace(cur, trace_id)), None)


@get("/sessions/{session_id:str}/logs", responses=answers(400))
async def session_logs(request: Request[Any, Any, Any], session_id: str) -> LogPage:
    """Every log line of a session, its own or through its traces, oldest first."""
    inner = (
        "SELECT rowid AS row_id, * FROM logs WHERE session_id = ? OR (trace_id <> '' AND trace_id IN "
        "(SELECT trace_id FROM trace_sessions WHERE session_id = ?))"
    )
    linked = linked_logs(inner)
    sql = f"SELECT {LOG_COLUMNS} FROM ({linked}) WHERE linked_session_id = ? ORDER BY time_ns, row_id"
    store: Store = request.app.state.store
    found = await store.read(lambda cur: fetch(cur, LogLine, sql, [session_id, session_id, session_id]))
    return LogPage(found, None)


@get("/log-lines/{line_id:str}", responses=answers(400, 404))
async def log_line(request: Request[Any, Any, Any], line_id: str) -> LogLine:
    """One log line with its whole body (`line_id` from a list's line)."""
    time_part, _, row_part = line_id.partition("-")
    if not (time_part.lstrip("-").isdigit() and row_part.isdigit()):
        raise bad_request(f"{line_id!r} is not a log line id")
    inner = linked_logs("SELECT rowid AS row_id, * FROM logs WHERE rowid = ? AND time_ns = ?")
    sql = f"SELECT {log_columns(preview=False)} FROM ({inner})"
    store: Store = request.app.state.store
    found = await store.read(lambda cur: fetch(cur, LogLine, sql, [int(row_part), int(time_part)]))
    if not found:
        raise NotFoundException(f"no log line {line_id!r} (it may have been pruned)")
    return found[0]


router = Router(
    path="/api",
    route_handlers=[list_logs, logs_histogram, trace_logs, session_logs, log_line],
    exception_handlers=API_ERRORS,
)
