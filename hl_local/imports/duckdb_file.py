"""hl-local's own `.duckdb` files (an export, or another database) → the writer, table by table.

The source is opened read-only (its schema version is checked; it is never changed). Its rows are
read back as the row Structs the decoders make and written as requests, in this order:
1. sessions (merged by id: what the target lacks is filled in);
2. each replay push with what it carried: custom events, network requests, WebSocket events and
   the push's errors, under the push's (session_id, payload_id), so a push already stored is
   skipped whole;
3. spans, errors (grouped against the target's groups, as live ingest groups them; the source's
   groups and their states are not copied), log lines, metric points, feedback, and the network
   requests of sessions the file does not hold (an export keeps those to link a trace; merged by
   content, as they have no push here to be keyed by).
Rows are read 5,000 at a time. Log lines and metric points are cut into requests only between
timestamps, so identical rows always travel together (see store/writes.py `_not_stored_yet`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from hl_local.decode.records import (
    Batch,
    ErrorRow,
    FeedbackRow,
    LogRow,
    MetricPointRow,
    NetworkRequestRow,
    ReplayChunkRow,
    Row,
    SessionEventRow,
    SessionRow,
    SpanRow,
    WebsocketEventRow,
)
from hl_local.imports import FileReport, Pipeline, Progress
from hl_local.store.db import Store
from hl_local.store.writer import Writer

ROWS_PER_REQUEST = 5_000
_CHILDREN: dict[
    str, type[SessionEventRow] | type[NetworkRequestRow] | type[WebsocketEventRow]
] = {  # the rows a push carried → the Batch field they go in
    "session_events": SessionEventRow,
    "network_requests": NetworkRequestRow,
    "websocket_events": WebsocketEventRow,
}


async def import_duckdb(path: Path, writer: Writer, progress: Progress | None) -> FileReport:
    report = FileReport(path, "duckdb")
    pipeline = Pipeline(writer)
    source = Store.open(path, read_only=True)
    try:
        cur = source.cursor()
        total = sum(_count(cur, table) for table in ("sessions", "replay_chunks", "spans", "logs", "errors"))
        done = 0

        async def send(batch: Batch) -> None:
            nonlocal done
            report.count(batch)
            report.requests += 1
            await pipeline.submit(batch, lambda exc: report.bad.append((0, f"{_what(batch)}: {exc}")))
            done += len(batch.imported_sessions) + len(batch.replay_chunks) + len(batch.spans)
            done += len(batch.imported_logs) + len(batch.errors)
            if progress is not None:
                progress(done, total)

        for sessions in _chunks(cur, SessionRow, "sessions", "session_id"):
            await send(Batch(imported_sessions=sessions))
        await pipeline.drain()  # sessions before their pushes and feedback
        for batch in _pushes(cur):
            await send(batch)
        for spans in _chunks(cur, SpanRow, "spans", "trace_id, span_id"):
            await send(Batch(spans=spans))
        pushed = "(SELECT session_id, payload_id FROM replay_chunks)"
        loose = f"WHERE (session_id, payload_id) NOT IN {pushed} OR session_id IS NULL OR payload_id IS NULL"
        for errors in _chunks(cur, ErrorRow, "errors", "time_ns, error_id", loose):
            await send(Batch(errors=errors))
        for logs in _chunks(cur, LogRow, "logs", "time_ns", by="time_ns"):
            await send(Batch(imported_logs=logs))
        for points in _chunks(cur, MetricPointRow, "metric_points", "time_ns", by="time_ns"):
            await send(Batch(imported_metric_points=points))
        for feedback in _chunks(cur, FeedbackRow, "session_feedback", "session_id, time_ns"):
            await send(Batch(session_feedback=feedback))
        orphans = f"WHERE (session_id, payload_id) NOT IN {pushed}"
        for requests in _chunks(
            cur, NetworkRequestRow, "network_requests", "start_ms", orphans, by="start_ms"
        ):
            await send(Batch(imported_network_requests=requests))
        await pipeline.drain()
    finally:
        source.close()
    return report


def _what(batch: Batch) -> str:
    if batch.push_key is not None:
        return f"the push {batch.push_key[1]} of session {batch.push_key[0]}"
    return "rows of " + ", ".join(batch.kinds())


def _count(cur: duckdb.DuckDBPyConnection, table: str) -> int:
    row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _select(struct: type[Row], table: str, order: str, where: str = "") -> str:
    return f"SELECT {', '.join(struct.__struct_fields__)} FROM {table} {where} ORDER BY {order}"


def _chunks(
    cur: duckdb.DuckDBPyConnection, struct: type[Any], table: str, order: str, where: str = "", by: str = ""
) -> Iterator[list[Any]]:
    """The table's rows as `struct`s, ROWS_PER_REQUEST at a time; never splitting a value of column `by`."""
    result = cur.execute(_select(struct, table, order, where))
    held: list[Any] = []
    while True:
        fetched = result.fetchmany(ROWS_PER_REQUEST)
        if not fetched:
            break
        held += [struct(*row) for row in fetched]
        if not by:
            yield held
            held = []
            continue
        cut = len(held)
        last = getattr(held[-1], by)
        while cut > 0 and getattr(held[cut - 1], by) == last:
            cut -= 1  # the rows of the last value wait: more of them may follow
        if cut:
            yield held[:cut]
            held = held[cut:]
    if held:
        yield held


def _pushes(cur: duckdb.DuckDBPyConnection) -> Iterator[Batch]:
    """Every replay push as the request it was: its chunk and what it carried, keyed for de-duplication."""
    for session_id in [
        row[0] for row in cur.execute("SELECT DISTINCT session_id FROM replay_chunks").fetchall()
    ]:
        carried: dict[str, dict[str, list[Any]]] = {}
        for field_name, struct in _CHILDREN.items():
            by_push: dict[str, list[Any]] = defaultdict(list)
            rows = cur.execute(
                _select(struct, field_name, "payload_id", "WHERE session_id = ?"), [session_id]
            )
            for row in rows.fetchall():
                item = struct(*row)
                by_push[item.payload_id].append(item)
            carried[field_name] = by_push
        errors: dict[str, list[ErrorRow]] = defaultdict(list)
        sql = _select(ErrorRow, "errors", "time_ns", "WHERE session_id = ? AND payload_id IS NOT NULL")
        for row in cur.execute(sql, [session_id]).fetchall():
            error = ErrorRow(*row)
            errors[str(error.payload_id)].append(error)
        sql = _select(ReplayChunkRow, "replay_chunks", "payload_id", "WHERE session_id = ?")
        for row in cur.execute(sql, [session_id]).fetchall():
            chunk = ReplayChunkRow(*row)
            key = chunk.payload_id
            yield Batch(
                replay_chunks=[chunk],
                session_events=carried["session_events"].get(key, []),
                network_requests=carried["network_requests"].get(key, []),
                websocket_events=carried["websocket_events"].get(key, []),
                errors=errors.get(key, []),
                push_key=(session_id, key),
            )
