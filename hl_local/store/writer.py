"""Writer: the one thread that writes to DuckDB, committing requests in groups.

Handlers call `await writer.write(batch)`; it returns only once the batch is committed, which is
what lets a 2xx mean "durable". The thread takes everything queued at once (group commit: under
load, many requests share one transaction and one WAL sync; when idle, a request commits alone
at once) and runs, kind by kind, the statements of store/writes.py over the group's Arrow rows:
one statement per kind, never one per row. Replay pushes are de-duplicated first: a push whose
(session_id, payload_id) is already stored contributes nothing. A failed group is retried
request by request, so one bad request fails alone.
The queue is bounded in rows: past the bound `write` raises Overloaded at once (503).
On a store opened read-only the thread never starts and every write raises ReadOnly (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import msgspec

from hl_local.decode.records import (
    Batch,
    ErrorGroupRow,
    ErrorLog,
    ErrorRow,
    LogRow,
    PendingErrorsRow,
    RequestDigestRow,
    Row,
    Update,
)
from hl_local.errors import Overloaded, ReadOnly, RowsRejected, StorageFull, WriteFailed
from hl_local.ingest.failures import log_unexpected
from hl_local.store.db import Store
from hl_local.store.digests import RecentDigests
from hl_local.store.grouping import CreatedGroups, ErrorGrouper, FramesFor
from hl_local.store.retention import Limits, PruneResult, Retention, clear_all
from hl_local.store.writes import (
    COUNT_GROUP_ERRORS,
    COUNT_TRACE_ERRORS,
    INSERT_CHUNKS,
    INSERT_DIGESTS,
    INSERT_ERRORS,
    INSERT_PENDING,
    UPSERT_ERROR_GROUPS,
    WRITES,
)

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 500_000  # ~0.5 GB of decoded rows at worst; ~10 s of work at full speed
MAX_GROUP_ROWS = 50_000  # bigger groups stop helping throughput and hold the commit back
IDLE_CHECKPOINT_S = 2.0  # checkpoint once writes pause this long
# Under load, errors derived from OTLP wait in pending_errors for at most this long (or this many),
# then are grouped and stored in one go: with every group, their three statements cost ~10 ms.
DEFER_ERRORS_S = 0.5
DEFER_ERRORS_MAX = 5_000


@dataclass(slots=True)
class _Pending:
    batch: Batch
    rows: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Maintenance:
    """Work for the writer thread besides rows (retention): `run(cursor, done)` calls `done(result)`."""

    run: Callable[[duckdb.DuckDBPyConnection, Callable[[object], None]], None]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[object]


_STOP = object()


class Writer:
    def __init__(
        self,
        store: Store,
        max_pending_rows: int = MAX_PENDING_ROWS,
        limits: Limits | None = None,
        frames_for_grouping: FramesFor | None = None,
    ) -> None:
        self._store = store
        self._max_pending_rows = max_pending_rows
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hl-local-writer", daemon=True)
        self.committed_groups = 0
        # Per kind, how many commits have included it: the live view (/api/live) compares these.
        self.commits_by_kind: dict[str, int] = {}
        self.rows_by_kind: dict[str, int] = {}  # rows acknowledged per kind (the terminal's summary lines)
        self._grouper = ErrorGrouper(frames_for_grouping)  # owned by the writer thread, loaded when it starts
        self._disk = _DiskState()
        # Retention runs here, in steps between group commits (store/retention.py).
        self.retention = Retention(store.path, limits or Limits(), self._grouper.forget)
        self._deferred = _Deferred()  # owned by the writer thread
        self._digests = RecentDigests()  # owned by the writer thread, loaded when it starts

    def start(self) -> None:
        if not self._store.read_only:
            self._thread.start()

    def check_writable(self) -> None:
        """Raise ReadOnly when nothing can be stored: ingest asks before it reads a body."""
        if self._store.read_only:
            raise ReadOnly(str(self._store.path))

    def close(self) -> None:
        """Commit everything queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    async def write(self, batch: Batch) -> None:
        """Return once `batch` is committed; raise Overloaded or WriteFailed otherwise."""
        self.check_writable()
        rows = batch.row_count
        if rows == 0:
            return
        with self._lock:
            if self._pending_rows + rows > self._max_pending_rows and self._pending_rows > 0:
                raise Overloaded()
            self._pending_rows += rows
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Pending(batch, rows, loop, future))
        await asyncio.shield(future)  # a client hanging up must not un-acknowledge a commit

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    @property
    def created_groups(self) -> CreatedGroups:
        """Error groups created by each commit, for readers on other threads."""
        return self._grouper.created

    async def prune(self, cutoff_ns: int) -> PruneResult:
        """Remove everything received before `cutoff_ns`, in the same small steps as retention."""
        result = await self._maintain(lambda cur, done: self.retention.request(cutoff_ns, done))
        assert isinstance(result, PruneResult)
        return result

    async def clear(self) -> None:
        """Remove everything at once (the tables are dropped and created empty)."""

        def clear(cur: duckdb.DuckDBPyConnection, done: Callable[[object], None]) -> None:
            clear_all(cur)
            self._grouper.forget(self._grouper.group_ids())
            self._deferred.clear()  # pending_errors went with the rest
            self._digests = RecentDigests()
            _checkpoint(cur, self._store)
            done(None)

        await self._maintain(clear)

    async def _maintain(
        self, run: Callable[[duckdb.DuckDBPyConnection, Callable[[object], None]], None]
    ) -> object:
        self.check_writable()  # no writer thread runs on a read-only store to do it
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._queue.put(_Maintenance(run, loop, future))
        return await asyncio.shield(future)

    def _run(self) -> None:
        cur = self._store.cursor()
        _load_grouper(cur, self._grouper)
        self._deferred.load(cur)
        self._digests.load(cur)
        if self._deferred.errors:  # left by a crash: stored before anything else
            self._flush_deferred(cur)
        dirty, idle_since = False, time.monotonic()
        while True:
            wait = self.retention.wait_s()
            if dirty:
                wait = min(wait, max(0.0, idle_since + IDLE_CHECKPOINT_S - time.monotonic()))
            try:
                first = self._queue.get(timeout=wait)
            except queue.Empty:
                first = None
            if first is not None:
                group, jobs, stop = self._drain(first)
                if group:
                    self._commit_group(cur, group)
                    dirty, idle_since = True, time.monotonic()
                if self._deferred.errors and self._queue.empty():
                    self._flush_deferred(cur)
                for job in jobs:
                    self._run_maintenance(cur, job)
                if stop:
                    return
            # One bounded retention step between groups: ingest waits for one step at most.
            if self._retention_tick(cur):
                dirty = True
            elif first is None and dirty and time.monotonic() - idle_since >= IDLE_CHECKPOINT_S:
                _checkpoint(cur, self._store)
                dirty = False

    def _retention_tick(self, cur: duckdb.DuckDBPyConnection) -> bool:
        try:
            return self.retention.tick(cur)
        except Exception as exc:  # a failed step is retried at the next check; it never stops the writer
            log_unexpected(exc, "retention")
            self.retention.abandon()
            return False

    def _run_maintenance(self, cur: duckdb.DuckDBPyConnection, job: _Maintenance) -> None:
        def done(result: object) -> None:
            job.loop.call_soon_threadsafe(_settle_with, job.future, result, None)

        try:
            job.run(cur, done)
        except Exception as exc:
            log_unexpected(exc, "writer maintenance")
            job.loop.call_soon_threadsafe(
                _settle_with, job.future, None, WriteFailed(str(exc).splitlines()[0])
            )

    def _drain(self, first: object) -> tuple[list[_Pending], list[_Maintenance], bool]:
        group: list[_Pending] = []
        jobs: list[_Maintenance] = []
        rows = 0
        item: object = first
        while True:
            if item is _STOP:
                return group, jobs, True
            if isinstance(item, _Maintenance):
                jobs.append(item)
            else:
                assert isinstance(item, _Pending)
                group.append(item)
                rows += item.rows
            if rows >= MAX_GROUP_ROWS:
                return group, jobs, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return group, jobs, False

    def _commit_group(self, cur: duckdb.DuckDBPyConnection, group: list[_Pending]) -> None:
        # More requests waiting: OTLP-derived errors can wait for a bigger batch (see DEFER_ERRORS_S).
        defer = not self._queue.empty() and not self._deferred.due()
        try:
            batches = [p.batch for p in group]
            flushed = _commit(cur, batches, self._grouper, self._deferred, self._digests, defer)
            self.committed_groups += 1
            outcomes: list[Exception | None] = [None] * len(group)
            self._disk.writes_again()
        except Exception as exc:  # any failure fails the requests, never the thread
            flushed = False
            first = _failure(exc)
            if isinstance(first, StorageFull):  # no request alone would fit either
                self._disk.full(exc)
                outcomes = [first] * len(group)
            else:
                outcomes = [first] if len(group) == 1 else [self._commit_alone(cur, p) for p in group]
        if flushed:
            for kind in ("errors", "logs"):
                self.commits_by_kind[kind] = self.commits_by_kind.get(kind, 0) + 1
        for pending, outcome in zip(group, outcomes, strict=True):
            with self._lock:
                self._pending_rows -= pending.rows
            if outcome is None:
                for kind in pending.batch.kinds():
                    self.commits_by_kind[kind] = self.commits_by_kind.get(kind, 0) + 1
                    self.rows_by_kind[kind] = self.rows_by_kind.get(kind, 0) + len(
                        getattr(pending.batch, kind)
                    )
            pending.loop.call_soon_threadsafe(_settle, pending.future, outcome)

    def _flush_deferred(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Group and store the deferred errors now (the queue has emptied, or they are due)."""
        try:
            _commit(cur, [], self._grouper, self._deferred, self._digests, defer=False)
        except Exception as exc:  # they stay in pending_errors and are tried again with the next group
            log.warning("storing deferred errors failed; they will be retried: %s", exc)
            return
        for kind in ("errors", "logs"):
            self.commits_by_kind[kind] = self.commits_by_kind.get(kind, 0) + 1

    def _commit_alone(self, cur: duckdb.DuckDBPyConnection, pending: _Pending) -> Exception | None:
        try:
            _commit(cur, [pending.batch], self._grouper, self._deferred, self._digests, defer=False)
        except Exception as exc:
            return _failure(exc)
        return None


# How the OS says the disk (or a size limit) is full, as DuckDB passes it on.
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def _failure(exc: Exception) -> Exception:
    """What the request is told: its own bad value (400), a full disk (503), the database's refusal (500)."""
    if isinstance(exc, RowsRejected):
        return exc
    if any(text in str(exc) for text in _DISK_FULL):
        return StorageFull()
    log.warning("a batch was refused by the database: %s", exc)
    return WriteFailed(str(exc).splitlines()[0])


class _DiskState:
    """Says once that the disk is full and once that writes go through again, not per request."""

    def __init__(self) -> None:
        self.is_full = False

    def full(self, exc: Exception) -> None:
        if not self.is_full:
            self.is_full = True
            log.warning("the disk is full (%s): ingest answers 503 until space frees; reads go on",
                        str(exc).splitlines()[0])  # fmt: skip

    def writes_again(self) -> None:
        if self.is_full:
            self.is_full = False
            log.warning("there is space again: ingest is storing data")


def _load_grouper(cur: duckdb.DuckDBPyConnection, grouper: ErrorGrouper) -> None:
    groups = cur.execute("SELECT group_id, fingerprints FROM error_groups").fetchall()
    messages = cur.execute(
        "SELECT message, arg_max(group_id, time_ns) FROM errors GROUP BY message"
    ).fetchall()
    grouper.load(groups, messages)


def _settle_with(future: asyncio.Future[object], result: object, failure: Exception | None) -> None:
    if future.done():
        return
    if failure is None:
        future.set_result(result)
    else:
        future.set_exception(failure)


def _settle(future: asyncio.Future[None], outcome: Exception | None) -> None:
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)


# Registers `rows` as an Arrow view and runs `statements` over it; returns what the last one returned.
Run = Callable[[Sequence[Row | Update], tuple[str, ...], str], list[tuple[object, ...]]]


class _Deferred:
    """OTLP-derived errors committed to pending_errors (with their spans or log records) but not yet
    grouped and stored: written in one go when the writer's queue empties, after DEFER_ERRORS_S,
    or past DEFER_ERRORS_MAX. Changed only after the transaction that changed pending_errors commits.
    """

    def __init__(self) -> None:
        self.errors: list[ErrorRow] = []
        self.logs: list[ErrorLog] = []
        self.since: float | None = None

    def due(self) -> bool:
        if self.since is None:
            return False
        return time.monotonic() - self.since >= DEFER_ERRORS_S or len(self.errors) >= DEFER_ERRORS_MAX

    def add(self, errors: list[ErrorRow], logs: list[ErrorLog]) -> None:
        self.errors += errors
        self.logs += logs
        if self.since is None:
            self.since = time.monotonic()

    def clear(self) -> None:
        self.errors, self.logs, self.since = [], [], None

    def load(self, cur: duckdb.DuckDBPyConnection) -> None:
        for errors, logs in cur.execute("SELECT errors, error_logs FROM pending_errors").fetchall():
            self.add(_decode_errors(errors), _decode_logs(logs))


_decode_errors = msgspec.msgpack.Decoder(list[ErrorRow]).decode
_decode_logs = msgspec.msgpack.Decoder(list[ErrorLog]).decode
_encode = msgspec.msgpack.Encoder().encode


def _commit(
    cur: duckdb.DuckDBPyConnection,
    group: list[Batch],
    grouper: ErrorGrouper,
    deferred: _Deferred,
    recent: RecentDigests,
    defer: bool,
) -> bool:
    """Write every request of `group` in one transaction; True when it also stored deferred errors.

    Rows become Arrow columns here, once per kind for the whole group: converting per request
    cost ~0.9 ms per browser push (a pa.array call per column), per group it is amortized. Errors a
    push carries are always stored with it; errors derived from OTLP go to pending_errors when
    `defer`, else they are stored now with everything deferred before them.
    """
    from hl_local.store.arrow import to_arrow  # pyarrow takes ~0.1 s to import: not at start-up

    views: list[str] = []

    def run(rows: Sequence[Row | Update], statements: tuple[str, ...], view: str) -> list[tuple[object, ...]]:
        cur.register(view, to_arrow(cur, rows))
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
            kept = _new_requests(group, run, recent)
            errors = [row for batch in kept if batch.push_key for row in batch.errors]
            derived = [row for batch in kept if not batch.push_key for row in batch.errors]
            derived_logs = [log for batch in kept for log in batch.error_logs]
            if defer and derived:
                to_arrow(cur, derived)  # a value that does not fit fails its own request, now
                pending = PendingErrorsRow(time.time_ns(), _encode(derived), _encode(derived_logs))
                run([pending], (INSERT_PENDING,), "_rows_pending")
                later, derived_logs = (derived, derived_logs), []
            else:
                flushing = bool(deferred.errors)
                errors += deferred.errors + derived
                derived_logs = deferred.logs + derived_logs
                if flushing:
                    cur.execute("DELETE FROM pending_errors")
            error_logs = _write_errors(errors, derived_logs, grouper, run) if errors else []
            for kind, statements in WRITES.items():
                rows: list[Row | Update] = [row for batch in kept for row in getattr(batch, kind)]
                if kind == "logs":
                    rows += error_logs  # one insert for the group's log lines, derived ones included
                if rows:
                    run(rows, statements, f"_rows_{kind}")
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


def _write_errors(
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


def _new_requests(group: list[Batch], run: Run, recent: RecentDigests) -> list[Batch]:
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


def _checkpoint(cur: duckdb.DuckDBPyConnection, store: Store) -> None:
    if store.path is None:
        return
    started = time.perf_counter()
    try:
        cur.execute("CHECKPOINT")
    except duckdb.Error as exc:  # a read running, or a full disk: the WAL keeps the data meanwhile
        log.debug("idle checkpoint failed (the WAL keeps the data): %s", exc)
        return
    log.debug("idle checkpoint took %.3f s", time.perf_counter() - started)
