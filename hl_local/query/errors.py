"""Error groups and error occurrences over HTTP.

- `GET /api/error-groups`: groups with at least one error in the time range that matches `query`
  (errors search language), newest `last_seen_ns` first, paged by cursor; each with its occurrences
  in the range and a sparkline of them (`buckets` equal slices of the range, computed for the whole
  page in one query).
- `GET /api/error-groups/{id}`: one group with its occurrences, newest first, paged by cursor.
- `PATCH /api/error-groups/{id}`: change the group's state (the user's; a new occurrence reopens it).
- `GET /api/errors/{error_id}`: one occurrence with its frames, payload, session and trace links and
  the logs around it.

Time ranges are half-open: `start` inclusive, `end` exclusive. Without `start` / `end` the range is
open on that side, and the sparkline spans the matching errors' own first and last times.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

import duckdb
from litestar import Request, Router, get, patch
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter

from hl_local.decode.records import Batch, ErrorGroupState
from hl_local.query.common import (
    API_ERRORS,
    answers,
    bad_request,
    decode_cursor,
    encode_cursor,
    fetch,
    limit_of,
    search_sql,
    sessions_of_traces,
    sources_of,
    time_range,
)
from hl_local.query.kept import affected_sessions, minute_grid, sparklines
from hl_local.query.logs import LOG_COLUMNS, linked_logs
from hl_local.query.responses import (
    ErrorDetail,
    ErrorGroup,
    ErrorGroupDetail,
    ErrorGroupPage,
    LogLine,
    Occurrence,
    State,
    StateChange,
    StateChanged,
)
from hl_local.source.frames import Budget, source_all, sourced_or_plain, stored_text
from hl_local.store.db import Store

DEFAULT_BUCKETS, MAX_BUCKETS = 24, 500
DEFAULT_OCCURRENCES = 20
LOGS_AROUND_LIMIT = 100
LOGS_AROUND_WINDOW_NS = 60_000_000_000

_GROUP_COLUMNS = (
    "g.group_id, g.title, g.type, g.source, g.service_name, g.first_seen_ns, g.last_seen_ns, g.occurrences, "
    "g.state, g.state_changed_ns"
)
_OCCURRENCE_COLUMNS = ", ".join(Occurrence.__struct_fields__)


OccurrenceT = TypeVar("OccurrenceT", bound=Occurrence)


def _link_occurrences(cur: duckdb.DuckDBPyConnection, items: list[OccurrenceT]) -> list[OccurrenceT]:
    """Each occurrence's `session_id` as `linked_errors` gives it: its own, else its trace's."""
    linked = sessions_of_traces(cur, (o.trace_id for o in items if o.session_id is None and o.trace_id))
    for o in items:
        if o.session_id is None and o.trace_id:
            o.session_id = linked.get(o.trace_id)
    return items


def _range_sql(start_ns: int | None, end_ns: int | None) -> tuple[str, list[Any]]:
    parts, params = ["TRUE"], []
    if start_ns is not None:
        parts.append("time_ns >= ?")
        params.append(start_ns)
    if end_ns is not None:
        parts.append("time_ns < ?")
        params.append(end_ns)
    return " AND ".join(parts), params


@get("/error-groups", responses=answers(400))
async def list_groups(
    request: Request[Any, Any, Any],
    group_state: Annotated[State | None, QueryParameter(name="state")] = None,  # `state` is litestar's name
    search: Annotated[str | None, QueryParameter(name="query")] = None,  # `query` is litestar's name too
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    buckets: int = DEFAULT_BUCKETS,
) -> ErrorGroupPage:
    """A page of groups with `start_ns`, `end_ns` and `bucket_ns`, the sparklines' buckets.

    `error_groups` is the same list as `items` (its older name). Each item: the group's fields
    (`occurrences` is the group's total), `affected_sessions`, `range_occurrences` (its errors in the
    range matching the query) and `sparkline` (those errors per bucket; they sum to `range_occurrences`).
    """
    size = limit_of(limit)
    if not 1 <= buckets <= MAX_BUCKETS:
        raise bad_request(f"buckets must be between 1 and {MAX_BUCKETS}")
    start_ns, end_ns = time_range(start, end)
    after = decode_cursor(cursor, 2)
    if after is not None and not (isinstance(after[0], int) and isinstance(after[1], str)):
        raise bad_request("cursor is not one this server gave out")
    where, where_params = search_sql(search, "errors")
    in_range, range_params = _range_sql(start_ns, end_ns)
    # `errors`, not `linked_errors`: the errors search language reads the error's own columns only.
    matched = f"SELECT group_id, time_ns FROM errors WHERE {in_range} AND ({where})"
    matched_params = [*range_params, *where_params]
    page_filters, page_params = [], []
    if group_state:
        page_filters.append("g.state = ?")
        page_params.append(group_state)
    if after is not None:
        page_filters.append("(g.last_seen_ns, g.group_id) < (?, ?)")
        page_params += list(after)
    page_where = " AND ".join(page_filters) or "TRUE"
    store: Store = request.app.state.store

    # Without a search or a range, the answer is what the writer keeps ready (query/kept.py): the
    # groups themselves, and their occurrences per minute for the sparklines.
    kept = not search and start_ns is None and end_ns is None
    if kept:
        listed = (
            f"SELECT {_GROUP_COLUMNS}, NULL AS affected_sessions, g.occurrences AS range_occurrences, "
            f"NULL AS sparkline FROM error_groups AS g WHERE g.occurrences > 0 AND {page_where} "
            "ORDER BY g.last_seen_ns DESC, g.group_id DESC LIMIT ?"
        )
        listed_params = [*page_params, size + 1]
        span = "SELECT min(first_seen_ns), max(last_seen_ns) FROM error_groups WHERE occurrences > 0"
        span_params: list[Any] = []
    else:
        listed = (
            f"WITH matched AS ({matched}), "
            "counts AS (SELECT group_id, count(*) AS range_occurrences FROM matched GROUP BY group_id) "
            f"SELECT {_GROUP_COLUMNS}, NULL AS affected_sessions, c.range_occurrences, NULL AS sparkline "
            f"FROM error_groups AS g JOIN counts AS c ON c.group_id = g.group_id WHERE {page_where} "
            "ORDER BY g.last_seen_ns DESC, g.group_id DESC LIMIT ?"
        )
        listed_params = [*matched_params, *page_params, size + 1]
        span, span_params = f"SELECT min(time_ns), max(time_ns) FROM ({matched})", matched_params

    def read(cur: duckdb.DuckDBPyConnection) -> ErrorGroupPage:
        groups = fetch(cur, ErrorGroup, listed, listed_params)
        more = len(groups) > size
        groups = groups[:size]
        affected = affected_sessions(cur, [g.group_id for g in groups])  # of the page only
        for g in groups:
            g.affected_sessions = affected[g.group_id]
        # The sparkline's range: as asked, else the matching errors' own (of every group, not the page,
        # so that all pages share their buckets).
        lo, hi = start_ns, end_ns
        if lo is None or hi is None:
            first, last = cur.execute(span, span_params).fetchall()[0]
            lo = lo if lo is not None else (first if first is not None else hi or 0)
            hi = hi if hi is not None else (last + 1 if last is not None else lo + 1)
        grid = minute_grid(lo, hi, buckets) if kept else None
        if grid is not None:  # buckets of whole minutes: summed from the per-minute counts, exactly
            lo, width = grid
            lines = sparklines(cur, (g.group_id for g in groups), lo, width, buckets)
        else:
            width = max(1, -(-(hi - lo) // buckets))
            lines = _sparklines(
                cur, matched, matched_params, (g.group_id for g in groups), lo, width, buckets
            )
        for g in groups:
            g.sparkline = lines[g.group_id]
        last = groups[-1] if groups else None
        next_cursor = encode_cursor((last.last_seen_ns, last.group_id)) if more and last else None
        return ErrorGroupPage(groups, next_cursor, lo, hi, width, groups)

    return await store.read(read)


def _sparklines(
    cur: duckdb.DuckDBPyConnection,
    matched: str,
    matched_params: list[Any],
    group_ids: Iterable[str],
    lo: int,
    width: int,
    buckets: int,
) -> dict[str, list[int]]:
    """Each group's matching errors in `buckets` buckets of `width` from `lo`, counted one by one."""
    lines = {group_id: [0] * buckets for group_id in group_ids}
    if lines:
        for group_id, bucket, count in cur.execute(
            f"SELECT group_id, least(greatest((time_ns - ?) // ?, 0), ?) AS bucket, count(*) "
            f"FROM ({matched}) WHERE group_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
            [lo, width, buckets - 1, *matched_params, list(lines)],
        ).fetchall():
            lines[group_id][bucket] = count
    return lines


@get("/error-groups/{group_id:str}", responses=answers(400, 404))
async def one_group(
    request: Request[Any, Any, Any], group_id: str, limit: int | None = None, cursor: str | None = None
) -> ErrorGroupDetail:
    """The group, `stack`, `frames`, `affected_sessions`, and a page of its occurrences, newest first:
    `occurrences_latest` (`limit`, default 20) and `next_cursor`."""
    size = limit_of(limit if limit is not None else DEFAULT_OCCURRENCES)
    after = decode_cursor(cursor, 2)
    if after is not None and not (isinstance(after[0], int) and isinstance(after[1], str)):
        raise bad_request("cursor is not one this server gave out")
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> ErrorGroupDetail:
        groups = fetch(
            cur,
            ErrorGroupDetail,
            f"SELECT {_GROUP_COLUMNS}, g.stack, g.frames, NULL AS affected_sessions, "
            "NULL AS occurrences_latest, NULL AS next_cursor FROM error_groups AS g WHERE g.group_id = ?",
            [group_id],
        )
        if not groups:
            raise NotFoundException(f"no error group {group_id!r}")
        group = groups[0]
        group.affected_sessions = affected_sessions(cur, [group_id])[group_id]
        page_where, params = ("AND (time_ns, error_id) < (?, ?)", list(after)) if after else ("", [])
        page = fetch(
            cur,
            Occurrence,
            f"SELECT {_OCCURRENCE_COLUMNS} FROM errors WHERE group_id = ? {page_where} "
            "ORDER BY time_ns DESC, error_id DESC LIMIT ?",
            [group_id, *params, size + 1],
        )
        more = len(page) > size
        group.occurrences_latest = _link_occurrences(cur, page[:size])
        last = group.occurrences_latest[-1] if more else None
        group.next_cursor = encode_cursor((last.time_ns, last.error_id)) if last else None
        # Lines for the stack the page shows (the group's, and the first occurrence's when it is
        # the newest); the other occurrences go through their maps only.
        sources = sources_of(request)
        budget = Budget()
        group.frames = sourced_or_plain(sources, stored_text(group.frames), group.last_seen_ns, budget)
        source_all(sources, group.occurrences_latest[:1] if after is None else [], budget)
        source_all(
            sources, group.occurrences_latest[1:] if after is None else group.occurrences_latest, Budget(0)
        )
        return group

    return await store.read(read)


@patch("/error-groups/{group_id:str}", responses=answers(400, 404, 503))
async def change_state(request: Request[Any, Any, Any], group_id: str, data: StateChange) -> StateChanged:
    """`{"state": "open" | "resolved" | "ignored"}`; the writer applies it like any write."""
    change = data
    store: Store = request.app.state.store
    exists = await store.read(
        lambda cur: cur.execute("SELECT count(*) FROM error_groups WHERE group_id = ?", [group_id]).fetchall()
    )
    if not exists[0][0]:
        raise NotFoundException(f"no error group {group_id!r}")
    await request.app.state.writer.write(
        Batch(error_group_states=[ErrorGroupState(group_id, change.state, time.time_ns())])
    )
    return StateChanged(group_id, change.state)


@get("/errors/{error_id:str}", responses=answers(400, 404))
async def one_error(request: Request[Any, Any, Any], error_id: str) -> ErrorDetail:
    """One occurrence: its columns with `frames` and `payload` parsed, `group_title`,
    `session_offset_ms` (its time after the session's first recorded event, when it has a session with
    events) and `logs_around`: the logs of its trace, else of its session within ±60 s, at most 100,
    the closest to the error, in time order."""
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> ErrorDetail:
        found = fetch(
            cur,
            ErrorDetail,
            f"SELECT {_OCCURRENCE_COLUMNS}, "
            "(SELECT title FROM error_groups AS g WHERE g.group_id = e.group_id) AS group_title, "
            "NULL AS session_offset_ms, NULL AS logs_around FROM errors AS e WHERE error_id = ?",
            [error_id],
        )
        if not found:
            raise NotFoundException(f"no error {error_id!r}")
        [error] = _link_occurrences(cur, found)
        at, session_id, trace_id = error.time_ns, error.session_id, error.trace_id
        if session_id:
            first = cur.execute(
                "SELECT first_event_ms FROM session_summaries WHERE session_id = ?", [session_id]
            ).fetchall()
            if first and first[0][0] is not None:
                error.session_offset_ms = at // 1_000_000 - first[0][0]
        logs: list[LogLine] = []
        closest = f"ORDER BY abs(time_ns - ?) LIMIT {LOGS_AROUND_LIMIT}"
        if trace_id:
            inner = linked_logs("SELECT rowid AS row_id, * FROM logs WHERE trace_id = ?")
            logs = fetch(cur, LogLine, f"SELECT {LOG_COLUMNS} FROM ({inner}) {closest}", [trace_id, at])
        if not logs and session_id:
            inner = linked_logs("SELECT rowid AS row_id, * FROM logs WHERE time_ns BETWEEN ? AND ?")
            sql = f"SELECT {LOG_COLUMNS} FROM ({inner}) WHERE linked_session_id = ? {closest}"
            logs = fetch(
                cur, LogLine, sql, [at - LOGS_AROUND_WINDOW_NS, at + LOGS_AROUND_WINDOW_NS, session_id, at]
            )
        logs.sort(key=lambda log: log.time_ns)
        error.logs_around = logs
        source_all(sources_of(request), [error], Budget())
        return error

    return await store.read(read)


error_groups_router = Router(
    path="/api",
    route_handlers=[list_groups, one_group, change_state, one_error],
    exception_handlers=API_ERRORS,
)
