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
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from hl_local.decode.records import Batch
from hl_local.errors import Overloaded, ReadOnly, RowsRejected, StorageFull, WriteFailed
from hl_local.ingest.failures import log_unexpected
from hl_local.store.commit import commit
from hl_local.store.db import Store
from hl_local.store.digests import RecentDigests
from hl_local.store.error_writes import DeferredErrors
from hl_local.store.grouping import CreatedGroups, ErrorGrouper, FramesFor
from hl_local.store.retention import Limits, PruneResult, Retention, clear_all

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 500_000  # ~0.5 GB of decoded rows at worst; ~10 s of work at full speed
MAX_GROUP_ROWS = 50_000  # bigger groups stop helping throughput and hold the commit back
IDLE_CHECKPOINT_S = 2.0  # checkpoint once writes pause this long


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
_WAKE = object()  # a read waits in Writer.settle: look at _settles now


class Writer:
    def __init__(
        self,
        store: Store,
        max_pending_rows: int = MAX_PENDING_ROWS,
        limits: Limits | None = None,
        frames_for_grouping: FramesFor | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """`on_failure` is called (on the writer thread) if the thread stops for good."""
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
        self._deferred = DeferredErrors()  # owned by the writer thread
        self._digests = RecentDigests()  # owned by the writer thread, loaded when it starts
        self.failure: BaseException | None = None  # why the thread stopped, when it did
        self._settles: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[object]]] = []  # under _lock
        self._on_failure = on_failure

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
        if self.failure is not None:
            raise WriteFailed("the writer has stopped; restart hl-local")
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

    async def settle(self) -> None:
        """Return once the errors derived from what was acknowledged so far are stored: a read that
        starts after an acknowledgement sees its errors (the API asks before every read). The
        writer answers before its next group commit, so a read never waits behind queued writes."""
        if not self._deferred.errors or not self._thread.is_alive():
            return  # read from another thread: the list is only ever replaced or extended
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        with self._lock:
            self._settles.append((loop, future))
        self._queue.put(_WAKE)
        await asyncio.shield(future)

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
        if self.failure is not None:
            raise WriteFailed("the writer has stopped; restart hl-local")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        self._queue.put(_Maintenance(run, loop, future))
        return await asyncio.shield(future)

    def _run(self) -> None:
        try:
            self._serve(self._store.cursor())
        except BaseException as exc:  # the thread is gone: nothing could ever be acknowledged again
            log.critical("the writer stopped (%s): hl-local stops", exc, exc_info=exc)
            self.failure = exc
            self._refuse_queued()
            if self._on_failure is not None:
                self._on_failure()

    def _serve(self, cur: duckdb.DuckDBPyConnection) -> None:
        _load_grouper(cur, self._grouper)
        self._deferred.load(cur)
        self._digests.load(cur)
        if self._deferred.errors:  # left by a crash: stored before anything else
            self._flush_deferred(cur)
        dirty, idle_since = False, time.monotonic()
        while True:
            wait = min(self.retention.wait_s(), self._deferred.wait_s())
            if dirty:
                wait = min(wait, max(0.0, idle_since + IDLE_CHECKPOINT_S - time.monotonic()))
            try:
                first = self._queue.get(timeout=wait)
            except queue.Empty:
                first = None
            if self._settles:  # reads waiting for deferred errors go before the next group
                self._answer_settles(cur)
            if first is _WAKE:
                first = None
            elif first is None and self._deferred.errors:  # idle, or they are due
                self._flush_deferred(cur)
            if first is not None:
                group, jobs, stop = self._drain(first)
                if group:
                    self._commit_group(cur, group)
                    dirty, idle_since = True, time.monotonic()
                    if self._settles:  # asked for while this group was written
                        self._answer_settles(cur)
                for job in jobs:
                    self._run_maintenance(cur, job)
                if stop:
                    if self._deferred.errors:  # a file read after the stop shows them too
                        self._flush_deferred(cur)
                    self._answer_settles(cur)
                    return
            # One bounded retention step between groups: ingest waits for one step at most.
            if self._retention_tick(cur):
                dirty = True
            elif first is None and dirty and time.monotonic() - idle_since >= IDLE_CHECKPOINT_S:
                _checkpoint(cur, self._store)
                dirty = False

    def _answer_settles(self, cur: duckdb.DuckDBPyConnection | None) -> None:
        """Store the deferred errors (unless the writer has failed: `cur` None) and let the reads go."""
        with self._lock:
            waiting, self._settles = self._settles, []
        if cur is not None and self._deferred.errors:
            self._flush_deferred(cur)
        for loop, future in waiting:
            loop.call_soon_threadsafe(_settle_with, future, None, None)

    def _refuse_queued(self) -> None:
        """Fail whatever waits in the queue, and what comes later (`write` checks `failure`)."""
        self._answer_settles(None)  # the reads go on with what is stored
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            failed = WriteFailed("the writer has stopped; restart hl-local")
            if isinstance(item, _Pending):
                item.loop.call_soon_threadsafe(_settle, item.future, failed)
            elif isinstance(item, _Maintenance):
                item.loop.call_soon_threadsafe(_settle_with, item.future, None, failed)

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
            if item is _WAKE:
                pass  # the loop answers waiting reads after this group
            elif isinstance(item, _Maintenance):
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
        # OTLP-derived errors wait for a bigger batch unless they are due (store/error_writes.py).
        defer = not self._deferred.due()
        try:
            batches = [p.batch for p in group]
            flushed = commit(cur, batches, self._grouper, self._deferred, self._digests, defer)
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
                    self.rows_by_kind[kind] = self.rows_by_kind.get(kind, 0) + pending.batch.rows_of(kind)
            pending.loop.call_soon_threadsafe(_settle, pending.future, outcome)

    def _flush_deferred(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Group and store the deferred errors now (the writer is idle, they are due, or a read asks)."""
        try:
            commit(cur, [], self._grouper, self._deferred, self._digests, defer=False)
        except Exception as exc:  # they stay in pending_errors and are tried again with the next group
            log.warning("storing deferred errors failed; they will be retried: %s", exc)
            return
        for kind in ("errors", "logs"):
            self.commits_by_kind[kind] = self.commits_by_kind.get(kind, 0) + 1

    def _commit_alone(self, cur: duckdb.DuckDBPyConnection, pending: _Pending) -> Exception | None:
        try:
            commit(cur, [pending.batch], self._grouper, self._deferred, self._digests, defer=False)
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
