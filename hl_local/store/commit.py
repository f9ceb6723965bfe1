"""One group commit: every request of a group written in one transaction (store/writer.py runs it).

Rows become Arrow columns here, once per kind for the whole group: converting per request cost
~0.9 ms per browser push (a pa.array call per column), per group it is amortized. Then, kind by
kind, the statements of store/writes.py run over the group's rows: one statement per kind, never
one per row.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import duckdb

from hl_local.decode.records import Batch, ErrorLog, ErrorRow, PendingErrorsRow, RequestDigestRow, Row, Update
from hl_local.store.digests import RecentDigests
from hl_local.store.error_writes import DeferredErrors, Run, encode, write_errors
from hl_local.store.grouping import ErrorGrouper
from hl_local.store.writes import INSERT_CHUNKS, INSERT_DIGESTS, INSERT_PENDING, WRITES


def commit(
    cur: duckdb.DuckDBPyConnection,
    group: list[Batch],
    grouper: ErrorGrouper,
    deferred: DeferredErrors,
    recent: RecentDigests,
    defer: bool,
) -> bool:
    """Write every request of `group` in one transaction; True when it also stored deferred errors.

    Errors a push carries are always stored with it; errors derived from OTLP go to pending_errors
    when `defer` (store/error_writes.py), else they are stored now with everything deferred before.
    """
    from hl_local.store.arrow import combined, to_arrow, unpack  # pyarrow takes ~0.1 s to import

    views: list[str] = []

    def run(
        rows: Sequence[Row | Update], statements: tuple[str, ...], view: str, packed: Sequence[bytes] = ()
    ) -> list[tuple[object, ...]]:
        tables = [to_arrow(cur, rows)] if rows else []
        tables += [unpack(ipc) for ipc in packed]
        cur.register(view, tables[0] if len(tables) == 1 else combined(tables))
        views.append(view)
        result: list[tuple[object, ...]] = []
        for statement in statements:
            result = cur.execute(statement.format(rows=view)).fetchall()
        return result

    later: tuple[list[ErrorRow], list[ErrorLog]] | None = None
    flushing = False
    try:
        cur.execute("BEGIN")
        try:
            kept = new_requests(group, run, recent)
            errors = [row for batch in kept if batch.push_key for row in batch.errors]
            derived = [row for batch in kept if not batch.push_key for row in batch.errors]
            derived_logs = [log for batch in kept for log in batch.error_logs]
            if defer and derived:
                to_arrow(cur, derived)  # a value that does not fit fails its own request, now
                pending = PendingErrorsRow(time.time_ns(), encode(derived), encode(derived_logs))
                run([pending], (INSERT_PENDING,), "_rows_pending")
                later, derived_logs = (derived, derived_logs), []
            else:
                flushing = bool(deferred.errors)
                errors += deferred.errors + derived
                derived_logs = deferred.logs + derived_logs
                if flushing:
                    cur.execute("DELETE FROM pending_errors")
            error_logs = write_errors(errors, derived_logs, grouper, run) if errors else []
            for kind, statements in WRITES.items():
                rows: list[Row | Update] = [row for batch in kept for row in getattr(batch, kind)]
                if kind == "logs":
                    rows += error_logs  # one insert for the group's log lines, derived ones included
                packed = [p.ipc for batch in kept for p in batch.packed if p.kind == kind]
                if rows or packed:
                    run(rows, statements, f"_rows_{kind}", packed)
            cur.execute("COMMIT")
        except BaseException:
            grouper.rollback()
            recent.rollback()
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        grouper.commit()
        recent.commit()
    finally:
        for view in views:
            cur.unregister(view)
    if later is not None:
        deferred.add(*later)
    elif flushing:
        deferred.clear()
    return flushing


def new_requests(group: list[Batch], run: Run, recent: RecentDigests) -> list[Batch]:
    """The requests of `group` to write: without the ones already stored, nor repeats within it.

    A replay push is known by (session_id, payload_id), the key of its replay chunk; an OTLP request
    by the digest of its decoded body, checked against the digests stored lately (store/digests.py).
    Chunks go in first with INSERT OR IGNORE … RETURNING; a request whose key is not new is dropped whole.

    The digest catches what exporters do: resend the same request after a lost acknowledgement or a
    503 (the OTel SDKs and the Collector retry the request they built). It does not catch a retry
    that re-batches the same spans into a different request, or two requests that carry one span:
    those store a span twice (the trace view shows each (trace_id, span_id) once).
    """
    seen: set[object] = set()
    candidates: list[Batch] = []
    keyed: list[Batch] = []
    for batch in group:
        key = batch.push_key or batch.digest
        if key is None:
            keyed.append(batch)  # nothing to de-duplicate it by: always written
        elif key not in seen:
            seen.add(key)
            candidates.append(batch)
    if not candidates:
        return keyed
    chunks = [chunk for batch in candidates for chunk in batch.replay_chunks]
    pushes = run(chunks, (INSERT_CHUNKS,), "_rows_new_chunks") if chunks else []
    now = time.time_ns()
    digests = [RequestDigestRow(b.digest, now) for b in candidates if b.digest and not recent.known(b.digest)]
    for row in digests:
        recent.stage(row.digest, now)
    if digests:
        run(digests, (INSERT_DIGESTS,), "_rows_new_digests")
    fresh = {(str(session), str(payload)) for session, payload in pushes} | {row.digest for row in digests}
    return keyed + [batch for batch in candidates if (batch.push_key or batch.digest) in fresh]
