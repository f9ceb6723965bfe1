"""What an export takes: the chosen sessions and traces, and every row linked to them.

The links are the views' own (store/schema/views.sql), so a file made of the selection shows
the same session, linked the same way, as the database it came from:

- a session's traces: every trace `trace_sessions` gives the session, and the backend trace
  `network_request_traces` gives each of its requests (a trace started by its browser that another
  session's span claims);
- a trace: all its spans, logs and errors, and the network requests that link it to a session
  (by request id or traceparent), so `trace_sessions` resolves it the same in the file;
- a session: its `sessions` row, replay chunks, custom events, network requests, WebSocket
  events, feedback, metric points (web vitals), and its own logs and errors besides its traces';
- error groups of the chosen errors, with occurrences, first and last seen, and the newest stack
  recomputed from those errors, so every count is true for what the file holds.

A search (`query` + `signal` + time range) chooses sessions (signal sessions), traces with a
matching span (traces), or the sessions and traces of matching log lines or errors (logs, errors;
a line or error with neither is taken alone). No choice at all takes everything.

`choose` materializes the choice into temporary tables of the cursor's connection, inside the
caller's transaction, so every table is read from the same snapshot; `TABLES` then gives, per
table, the SELECT of its chosen rows, in the table's own column order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from hl_local.decode.records import ErrorGroupRow
from hl_local.errors import ExportError
from hl_local.query.compile import SIGNALS, Signal, compile_search
from hl_local.query.search import SearchSyntaxError

_S, _T = "_hl_export_sessions", "_hl_export_traces"
_LOGS, _ERRORS = "_hl_export_log_rows", "_hl_export_error_rows"  # rowids of rows taken alone

SIGNAL_NAMES: tuple[Signal, ...] = ("sessions", "traces", "logs", "errors")


class NoSuchItem(ExportError):
    """A session or trace asked for by id is not in the database."""


# Every table an export writes, in the order a reader would want them.
TABLE_NAMES = (
    "sessions", "replay_chunks", "session_events", "network_requests", "websocket_events",
    "session_feedback", "spans", "logs", "errors", "error_groups", "metric_points",
)  # fmt: skip


@dataclass(frozen=True)
class Selection:
    """What to take; empty (no ids, no query) means everything."""

    sessions: Sequence[str] = ()
    traces: Sequence[str] = ()
    query: str | None = None
    signal: Signal = "sessions"
    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def everything(self) -> bool:
        return not self.sessions and not self.traces and self.query is None


@dataclass
class Chosen:
    """The materialized choice: how many sessions and traces, and the SELECT of each table."""

    session_count: int
    trace_count: int
    everything: bool
    tables: dict[str, str] = field(default_factory=dict)


def choose(cur: duckdb.DuckDBPyConnection, selection: Selection) -> Chosen:
    """Materialize `selection` into temporary tables; raise ExportError when it names nothing there."""
    if selection.everything:
        return Chosen(_count(cur, "session_summaries"), _count(cur, "(SELECT DISTINCT trace_id FROM spans)"),
                      True, {name: f"SELECT * FROM {name}" for name in TABLE_NAMES})  # fmt: skip
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_S} (session_id VARCHAR PRIMARY KEY)")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_T} (trace_id VARCHAR PRIMARY KEY)")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_LOGS} (rid BIGINT)")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_ERRORS} (rid BIGINT)")
    _given(cur, selection)
    if selection.query is not None:
        _searched(cur, selection)
    _linked_traces(cur)
    sessions, traces = _count(cur, _S), _count(cur, _T)
    if not sessions and not traces and not _count(cur, _LOGS) and not _count(cur, _ERRORS):
        raise ExportError("the search matched nothing to export; try another --query, --signal or time range")
    return Chosen(sessions, traces, False, _table_selects())


def chosen_ids(cur: duckdb.DuckDBPyConnection, chosen: Chosen) -> tuple[list[str], list[str]]:
    """The chosen session ids (by start) and trace ids (by their first span's start)."""
    sessions = "session_summaries" if chosen.everything else _S
    traces = "(SELECT DISTINCT trace_id FROM spans)" if chosen.everything else _T
    found = cur.execute(
        f"SELECT session_id FROM session_summaries WHERE session_id IN (SELECT session_id FROM {sessions}) "
        "ORDER BY started_ns, session_id"
    ).fetchall()
    ordered = cur.execute(
        f"SELECT trace_id FROM spans WHERE trace_id IN (SELECT trace_id FROM {traces}) "
        "GROUP BY trace_id ORDER BY min(start_ns), trace_id"
    ).fetchall()
    return [row[0] for row in found], [row[0] for row in ordered]


def release(cur: duckdb.DuckDBPyConnection) -> None:
    for name in (_S, _T, _LOGS, _ERRORS):
        cur.execute(f"DROP TABLE IF EXISTS {name}")


def _count(cur: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = cur.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


def _given(cur: duckdb.DuckDBPyConnection, selection: Selection) -> None:
    """The ids asked for by name; each must exist."""
    for session_id in dict.fromkeys(selection.sessions):
        if not cur.execute("SELECT 1 FROM session_summaries WHERE session_id = ?", [session_id]).fetchall():
            raise NoSuchItem(f"there is no session {session_id!r} in this database")
        cur.execute(f"INSERT OR IGNORE INTO {_S} VALUES (?)", [session_id])
    for trace_id in dict.fromkeys(selection.traces):
        if not cur.execute("SELECT 1 FROM spans WHERE trace_id = ? LIMIT 1", [trace_id]).fetchall():
            raise NoSuchItem(f"there is no trace {trace_id!r} in this database")
        cur.execute(f"INSERT OR IGNORE INTO {_T} VALUES (?)", [trace_id])


def _searched(cur: duckdb.DuckDBPyConnection, selection: Selection) -> None:
    """What the search matches, in the time range, as the API's lists read it."""
    if selection.signal not in SIGNALS:
        raise ExportError(f"--signal {selection.signal!r} is not one of {', '.join(SIGNALS)}")
    try:
        where, params = compile_search(selection.query or "", selection.signal)
    except SearchSyntaxError as exc:
        raise ExportError(f"--query does not parse: {exc}") from None
    start, end = selection.start_ns, selection.end_ns
    lo, hi = (start if start is not None else -(2**62)), (end if end is not None else 2**62)
    if selection.signal == "sessions":
        sql = (f"INSERT OR IGNORE INTO {_S} SELECT session_id FROM session_summaries "
               f"WHERE ({where}) AND last_activity_ns >= ? AND started_ns <= ?")  # fmt: skip
        _run(cur, sql, [*params, lo, hi])
    elif selection.signal == "traces":
        sql = (f"INSERT OR IGNORE INTO {_T} SELECT DISTINCT trace_id FROM listed_spans "
               f"WHERE ({where}) AND start_ns BETWEEN ? AND ?")  # fmt: skip
        _run(cur, sql, [*params, lo, hi])
    else:
        table, extra = ("logs", _LOGS) if selection.signal == "logs" else ("errors", _ERRORS)
        matched = f"SELECT rowid AS rid, * FROM {table} WHERE ({where}) AND time_ns BETWEEN ? AND ?"
        _run(cur, f"CREATE OR REPLACE TEMP TABLE _hl_export_matched AS {matched}", [*params, lo, hi])
        cur.execute(f"INSERT OR IGNORE INTO {_T} SELECT DISTINCT trace_id FROM _hl_export_matched "
                    "WHERE coalesce(trace_id, '') <> ''")  # fmt: skip
        cur.execute(f"INSERT OR IGNORE INTO {_S} SELECT DISTINCT session_id FROM _hl_export_matched "
                    "WHERE session_id IN (SELECT session_id FROM session_summaries)")  # fmt: skip
        cur.execute(f"INSERT INTO {extra} SELECT rid FROM _hl_export_matched "
                    "WHERE coalesce(trace_id, '') = '' AND session_id IS NULL")  # fmt: skip
        cur.execute("DROP TABLE _hl_export_matched")


def _run(cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> None:
    try:
        cur.execute(sql, params)
    except duckdb.InvalidInputException as exc:  # a /regex/ RE2 cannot compile
        raise ExportError(f"--query cannot run: {str(exc).splitlines()[0]}") from None


def _linked_traces(cur: duckdb.DuckDBPyConnection) -> None:
    """Add the chosen sessions' traces, as trace_sessions and network_request_traces link them.

    trace_sessions is an aggregate over every span: it is asked only about the traces that can
    belong to the sessions (a span of theirs, or one their requests started), which DuckDB looks
    up through the view instead of resolving every trace.
    """
    candidates = f"""
        SELECT trace_id FROM spans WHERE session_id IN (SELECT session_id FROM {_S})
        UNION SELECT trace_id FROM spans WHERE request_id IN (
            SELECT request_id FROM network_requests WHERE session_id IN (SELECT session_id FROM {_S}))
        UNION SELECT trace_id FROM network_requests
            WHERE session_id IN (SELECT session_id FROM {_S}) AND trace_id IS NOT NULL"""
    cur.execute(f"""
        INSERT OR IGNORE INTO {_T}
        SELECT trace_id FROM trace_sessions
        WHERE trace_id IN ({candidates}) AND session_id IN (SELECT session_id FROM {_S})
        UNION
        SELECT backend_trace_id FROM network_request_traces
        WHERE session_id IN (SELECT session_id FROM {_S}) AND backend_trace_id IS NOT NULL""")


def _table_selects() -> dict[str, str]:
    in_s = f"session_id IN (SELECT session_id FROM {_S})"
    in_t = f"trace_id IN (SELECT trace_id FROM {_T})"
    errors = (f"SELECT * FROM errors WHERE {in_t} OR {in_s} "
              f"OR rowid IN (SELECT rid FROM {_ERRORS})")  # fmt: skip
    linking = (  # the requests that tie a chosen trace to its session
        f"request_id IN (SELECT request_id FROM spans WHERE {in_t} AND request_id IS NOT NULL) OR {in_t}"
    )
    return {
        "sessions": f"SELECT * FROM sessions WHERE {in_s}",
        "replay_chunks": f"SELECT * FROM replay_chunks WHERE {in_s}",
        "session_events": f"SELECT * FROM session_events WHERE {in_s}",
        "network_requests": f"SELECT * FROM network_requests WHERE {in_s} OR {linking}",
        "websocket_events": f"SELECT * FROM websocket_events WHERE {in_s}",
        "session_feedback": f"SELECT * FROM session_feedback WHERE {in_s}",
        "spans": f"SELECT * FROM spans WHERE {in_t}",
        "logs": f"SELECT * FROM logs WHERE ({in_t} AND trace_id <> '') OR {in_s} "
        f"OR rowid IN (SELECT rid FROM {_LOGS})",
        "errors": errors,
        "error_groups": _error_groups_of(errors),
        "metric_points": f"SELECT * FROM metric_points WHERE {in_s}",
    }


def _error_groups_of(errors: str) -> str:
    """The groups of `errors`, their counts, times and newest stack recomputed from those errors only."""
    recomputed = {"first_seen_ns": "e.first_seen_ns", "last_seen_ns": "e.last_seen_ns",
                  "occurrences": "e.occurrences", "stack": "e.stack", "frames": "e.frames"}  # fmt: skip
    columns = ", ".join(recomputed.get(name, f"g.{name}") for name in ErrorGroupRow.__struct_fields__)
    return (
        f"SELECT {columns} FROM error_groups AS g JOIN ("
        "SELECT group_id, min(time_ns) AS first_seen_ns, max(time_ns) AS last_seen_ns, "
        "count(*) AS occurrences, arg_max(stack, time_ns) AS stack, arg_max(frames, time_ns) AS frames "
        f"FROM ({errors}) GROUP BY group_id) AS e ON e.group_id = g.group_id"
    )
