"""Errors in the writer's transactions: grouped, inserted once, folded into their groups; and the
OTLP-derived errors whose storing waits (DeferredErrors).

Storing errors costs five statements (errors, groups, buckets, links, trace counts) plus the log
lines they bring, ~50 ms per group commit whatever their number: DuckDB's fixed cost per statement.
Errors derived from OTLP spans and log records are therefore committed to `pending_errors` with
the rows that carry them (one append, so a crash loses none) and stored in one go later: when
DEFER_ERRORS_S has passed, past DEFER_ERRORS_MAX, when the writer goes idle, before any API read
(Writer.settle), and when the server stops. Errors a browser push carries are stored with it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

import duckdb
import msgspec

from hl_local.decode.records import ErrorGroupRow, ErrorLog, ErrorRow, LogRow, Row, Update
from hl_local.store.grouping import ErrorGrouper
from hl_local.store.writes import COUNT_GROUP_ERRORS, COUNT_TRACE_ERRORS, INSERT_ERRORS, UPSERT_ERROR_GROUPS

DEFER_ERRORS_S = 0.5  # under load, derived errors become visible to the UI's own refresh this late at most
DEFER_ERRORS_MAX = 5_000
IDLE_FLUSH_S = 0.05  # the writer idle this long stores them (a read asks for them at once anyway)

log = logging.getLogger(__name__)

# Registers `rows` as an Arrow view and runs `statements` over it; returns what the last one returned.
Run = Callable[[Sequence[Row | Update], tuple[str, ...], str], list[tuple[object, ...]]]


class DeferredErrors:
    """OTLP-derived errors committed to pending_errors but not yet grouped and stored. Owned by the
    writer thread; changed only after the transaction that changed pending_errors commits."""

    def __init__(self) -> None:
        self.errors: list[ErrorRow] = []
        self.logs: list[ErrorLog] = []
        self.since: float | None = None

    def due(self) -> bool:
        if self.since is None:
            return False
        return time.monotonic() - self.since >= DEFER_ERRORS_S or len(self.errors) >= DEFER_ERRORS_MAX

    def wait_s(self) -> float:
        """How long the writer may wait for work before it should store these."""
        if self.since is None:
            return float("inf")
        return max(0.0, min(IDLE_FLUSH_S, self.since + DEFER_ERRORS_S - time.monotonic()))

    def add(self, errors: list[ErrorRow], logs: list[ErrorLog]) -> None:
        self.errors += errors
        self.logs += logs
        if self.since is None:
            self.since = time.monotonic()

    def clear(self) -> None:
        self.errors, self.logs, self.since = [], [], None

    def load(self, cur: duckdb.DuckDBPyConnection) -> None:
        rows = cur.execute("SELECT errors, error_logs FROM pending_errors").fetchall()
        for errors, logs in rows:
            try:
                self.add(decode_errors(errors), _decode_logs(logs))
            except msgspec.DecodeError as exc:  # a damaged row must not keep the writer from starting
                log.warning("left out deferred errors that cannot be read (%s); their spans are kept", exc)


decode_errors = msgspec.msgpack.Decoder(list[ErrorRow]).decode
_decode_logs = msgspec.msgpack.Decoder(list[ErrorLog]).decode
encode = msgspec.msgpack.Encoder().encode


def write_errors(
    errors: list[ErrorRow], error_logs: list[ErrorLog], grouper: ErrorGrouper, run: Run
) -> list[LogRow]:
    """Group the errors, insert the new ones, fold them into their groups; return their log lines.

    A repeated error (same id: a retried batch, Flask's duplicate event) is ignored by the
    insert, and RETURNING tells which were new, so neither group counts nor log lines repeat.
    """
    grouped: list[ErrorRow] = []
    seen: set[str] = set()
    for error in errors:
        if error.error_id in seen:  # the same error twice in this group (Flask reports a crash twice)
            continue
        seen.add(error.error_id)
        group_id = grouper.assign(error.message, json.loads(error.frames))
        grouped.append(msgspec.structs.replace(error, group_id=group_id))
    new_ids = {str(r[0]) for r in run(grouped, (INSERT_ERRORS,), "_rows_errors")}
    fresh = [error for error in grouped if error.error_id in new_ids]
    if fresh:
        run(_group_rows(fresh, grouper), (UPSERT_ERROR_GROUPS,), "_rows_error_groups")
        # what the group list and the trace list keep ready (store/writes.py)
        run(fresh, (*COUNT_GROUP_ERRORS, COUNT_TRACE_ERRORS), "_rows_fresh_errors")
    logs: list[LogRow] = []
    logged: set[str] = set()
    for entry in error_logs:
        if entry.error_id in new_ids and entry.error_id not in logged:
            logged.add(entry.error_id)
            logs.append(entry.log)
    return logs


def _group_rows(errors: list[ErrorRow], grouper: ErrorGrouper) -> list[ErrorGroupRow]:
    by_group: dict[str, list[ErrorRow]] = {}
    for error in errors:
        by_group.setdefault(error.group_id, []).append(error)
    rows = []
    for group_id, members in by_group.items():
        first, newest = members[0], max(members, key=lambda m: m.time_ns)
        prints = grouper.prints_of(group_id)
        rows.append(
            ErrorGroupRow(
                group_id, first.message, first.type, first.source, first.service_name,
                min(m.time_ns for m in members), newest.time_ns, len(members), "open", None,
                newest.stack, newest.frames, prints.to_json() if prints else "{}",
            )
        )  # fmt: skip
    return rows
