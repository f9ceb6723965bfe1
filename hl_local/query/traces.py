"""Spans and traces over HTTP: span search, trace search (one row per trace), and one whole trace.

Searches run over `listed_spans` (views.sql: the SDKs' highlight.log wrapper spans are not listed);
a trace matches when any of its listed spans matches. A trace's figures (root, duration, span count)
are over all of its spans.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

import duckdb
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException

from hl_local.query.common import (
    API_ERRORS,
    Listing,
    Query,
    after_key,
    answers,
    cursor_key,
    fetch,
    link_sessions,
    link_to,
    listing,
    newest_first,
    page,
    sessions_of_traces,
    sources_of,
)
from hl_local.query.logs import session_of_trace, trace_log_lines
from hl_local.query.responses import Span, SpanPage, Trace, TraceError, TracePage, TraceRow
from hl_local.source.frames import Budget, source_all
from hl_local.store.db import Store

SPAN_COLUMNS = ", ".join(Span.__struct_fields__)
ERROR_COLUMNS = ", ".join(TraceError.__struct_fields__)
TraceOrder = Literal["start", "duration", "errors"]


@get("/spans", responses=answers(400))
async def list_spans(
    request: Request[Any, Any, Any],
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> SpanPage:
    """Spans matching `query` that started in [start, end], newest first."""
    key = (("start_ns", int), ("trace_id", str), ("span_id", str))
    q = listing("traces", search, start, end, limit, cursor, key)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> list[Span]:
        def fetch_page(window_sql: str, window_params: list[Any]) -> list[Span]:
            sql = (
                f"SELECT {SPAN_COLUMNS} FROM (SELECT *, NULL::VARCHAR AS linked_session_id FROM listed_spans "
                f"WHERE ({q.where}) AND {q.range_sql} AND {q.after_sql} AND {window_sql} "
                "ORDER BY start_ns DESC, trace_id DESC, span_id DESC LIMIT ?)"
            )
            params = [*q.params, *q.range_params, *q.after_params, *window_params, q.size + 1]
            return fetch(cur, Span, sql, params)

        return link_sessions(cur, newest_first(cur, "spans", "start_ns", fetch_page, q.size + 1, q.bounds))

    spans = await store.read(read)
    return SpanPage(*page(spans, q.size, lambda span: (span.start_ns, span.trace_id, span.span_id)))


@get("/traces", responses=answers(400))
async def list_traces(
    request: Request[Any, Any, Any],
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
    sort: TraceOrder = "start",
) -> TracePage:
    """Traces with a span matching `query` that started in [start, end], newest (trace start) first;
    with `sort=duration` the longest first; with `sort=errors` those with errors first (a test run's
    failing tests, say), then newest."""
    if sort == "errors":
        return await _traces_errors_first(request, search, start, end, limit, cursor)
    q = listing("traces", search, start, end, limit, cursor, (("start_ns", int), ("trace_id", str)))
    order = "start_ns" if sort == "start" else "duration_ns"
    after_sql, after_params = after_key((order, "trace_id"), q.after)
    sql = f"{_summaries(search, q)} WHERE {after_sql} ORDER BY {order} DESC, trace_id DESC LIMIT ?"
    all_params = [*_matched_params(search, q), *after_params, q.size + 1]
    traces = await request.app.state.store.read(_trace_rows(sql, all_params))
    if sort == "duration":
        return TracePage(*page(traces, q.size, lambda row: (row.duration_ns, row.trace_id)))
    return TracePage(*page(traces, q.size, lambda row: (row.start_ns, row.trace_id)))


def _summaries(search: str | None, q: Listing) -> str:
    """The traces' rows from the summaries the writer keeps (store/writes.py): without a search or a
    range all of them, else those with a matching span that started in the range."""
    matched = (
        "TRUE" if not search and q.start_ns is None and q.end_ns is None
        else f"trace_id IN (SELECT trace_id FROM listed_spans WHERE ({q.where}) AND {q.range_sql})"
    )  # fmt: skip
    return f"""
SELECT * FROM (
    SELECT trace_id, root_span_id, root_span_name, root_service_name AS service_name, start_ns,
           end_ns - start_ns AS duration_ns, span_count,
           error_span_count > 0 OR error_count > 0 AS has_errors, NULL::VARCHAR AS session_id
    FROM trace_summaries WHERE listed_span_count > 0 AND {matched}
)"""


def _matched_params(search: str | None, q: Listing) -> list[Any]:
    return [] if not search and q.start_ns is None and q.end_ns is None else [*q.params, *q.range_params]


async def _traces_errors_first(
    request: Request[Any, Any, Any],
    search: str | None,
    start: str | None,
    end: str | None,
    limit: int | None,
    cursor: str | None,
) -> TracePage:
    """The trace list ordered by (has_errors, start, id), descending (a test run's failing tests)."""
    q = listing("traces", search, start, end, limit, None, (("start_ns", int), ("trace_id", str)))
    after = cursor_key(cursor, bool, int, str)
    after_sql, after_params = after_key(("has_errors", "start_ns", "trace_id"), after)
    sql = (
        f"{_summaries(search, q)} WHERE {after_sql} "
        "ORDER BY has_errors DESC, start_ns DESC, trace_id DESC LIMIT ?"
    )
    all_params = [*_matched_params(search, q), *after_params, q.size + 1]
    traces = await request.app.state.store.read(_trace_rows(sql, all_params))
    return TracePage(*page(traces, q.size, lambda row: (row.has_errors, row.start_ns, row.trace_id)))


def _trace_rows(sql: str, params: list[Any]) -> Callable[[duckdb.DuckDBPyConnection], list[TraceRow]]:
    def read(cur: duckdb.DuckDBPyConnection) -> list[TraceRow]:
        found = fetch(cur, TraceRow, sql, params)
        # Of the page only (~35 ms for 51 traces among 10M spans): links are resolved when read.
        sessions = sessions_of_traces(cur, (row.trace_id for row in found))
        for row in found:
            row.session_id = sessions.get(row.trace_id)
        return found

    return read


@get("/traces/{trace_id:str}", responses=answers(400, 404))
async def one_trace(request: Request[Any, Any, Any], trace_id: str) -> Trace:
    """The whole trace: every span (events and links as JSON), its logs and errors, oldest first."""
    trace_id = trace_id.lower()
    store: Store = request.app.state.store
    # Four lookups of the trace_id indexes (the linked_* views would resolve the session of every
    # trace in the store), at once, each on its own cursor: a trace not read before waits on random
    # reads of the file, and theirs overlap (first reads at 10M rows: 46 ms one after another, 19 ms).
    session_id, spans, errors, logs = await asyncio.gather(
        store.read(lambda cur: session_of_trace(cur, trace_id)),
        store.read(lambda cur: _spans_of(cur, trace_id)),
        store.read(lambda cur: _errors_of(cur, trace_id)),
        store.read(lambda cur: trace_log_lines(cur, trace_id)),
    )
    if not spans:
        raise NotFoundException(f"no trace {trace_id!r}")
    link_to(spans, session_id)
    link_to(errors, session_id)
    link_to(logs, session_id)
    start_ns = min(span.start_ns for span in spans)
    duration_ns = max(span.end_ns for span in spans) - start_ns
    source_all(sources_of(request), errors, Budget())  # their frames with source lines
    return Trace(trace_id, session_id, start_ns, duration_ns, spans, logs, errors)


def _spans_of(cur: duckdb.DuckDBPyConnection, trace_id: str) -> list[Span]:
    """A trace's spans, each once (should a re-batched retry have stored one twice, store/commit.py,
    the first stored), by start."""
    sql = (
        f"SELECT {SPAN_COLUMNS} FROM (SELECT *, session_id AS linked_session_id FROM spans "
        "WHERE trace_id = ?) ORDER BY received_ns"
    )
    # Not with a window in SQL: DuckDB runs that as a second scan of the trace's rows.
    first: dict[str, Span] = {}
    for span in fetch(cur, Span, sql, [trace_id]):
        first.setdefault(span.span_id, span)
    return sorted(first.values(), key=lambda span: (span.start_ns, span.span_id))


def _errors_of(cur: duckdb.DuckDBPyConnection, trace_id: str) -> list[TraceError]:
    sql = (
        f"SELECT {ERROR_COLUMNS} FROM (SELECT *, session_id AS linked_session_id FROM errors "
        "WHERE trace_id = ?) ORDER BY time_ns, error_id"
    )
    return fetch(cur, TraceError, sql, [trace_id])


router = Router(
    path="/api", route_handlers=[list_spans, list_traces, one_trace], exception_handlers=API_ERRORS
)
