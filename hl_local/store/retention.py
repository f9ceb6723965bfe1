"""Retention: at most `--max-size` bytes and `--max-age` of data; the oldest goes first, in small steps.

"Oldest" is by the time hl-local received an item (`received_ns`; a session: its last push or
call): it follows the order rows were stored in, so old rows sit together at the start of each
table and the space they free is whole blocks, and a client with a wrong clock cannot make its
data look old or new. One cutoff time applies to every table, so what is kept is consistent:

- spans, flag evaluations, log lines, metric points and errors older than the cutoff go (PRUNES);
- a browser session goes whole once its last activity is older: its replay chunks, custom events,
  network requests, WebSocket events, feedback, console lines and errors (SESSION_PRUNES);
- an error group's occurrences and first/last seen are recounted from the errors left, and a group
  with none left goes, and the writer's grouper forgets it.

The writer thread runs it (store/writer.py `Writer._serve`): every CHECK_EVERY_S it asks `plan`
for a cutoff (age: now - max_age; size: see `_size_cutoff`), then runs one `step` between two
group commits: one DELETE of at most `_Prune.rows` rows, sized so a step takes about
STEP_BUDGET_S more than the quickest step of its table (what a step costs whatever its size), so
ingest waits at most one step. When a job is done it checkpoints, which makes
DuckDB reuse the freed blocks (and cut free blocks off the end of the file).

The structures kept beside the rows (trace summaries, error buckets and links, log words, request
digests) follow what goes: store/kept_retention.py's statements run after every step of a table
(`_after_rows_deleted`, with the received time it pruned up to) and around a session's deletes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import msgspec

from hl_local.store.kept_retention import (
    AFTER_ROWS_DELETED,
    AFTER_SESSION_ROWS_DELETED,
    BEFORE_SESSION_ROWS_DELETED,
)

log = logging.getLogger(__name__)

HIGH_WATER = 0.85  # prune when the data (used blocks + WAL) passes this share of --max-size ...
LOW_WATER = 0.75  # ... down to this share: room for DuckDB's free blocks and the next WAL
STEP_BUDGET_S = 0.05  # what one step may hold the writer (and so ingest) up, beyond its fixed cost
CHECK_EVERY_S = 1.0  # a check is ~1 ms: DuckDB's block counts, a stat of the WAL, LIMIT 1 probes
_MIN_ROWS, _MAX_ROWS, _FIRST_ROWS = 50, 50_000, 1_000
_MIN_SESSIONS, _MAX_SESSIONS, _FIRST_SESSIONS = 1, 500, 20


@dataclass(frozen=True)
class Limits:
    max_size_bytes: int = 0  # 0: no size cap
    max_age_ns: int = 0  # 0: no age cap


class PruneResult(msgspec.Struct):
    """What one prune removed, per table (rows; sessions counted as sessions)."""

    cutoff_ns: int
    rows: dict[str, int] = msgspec.field(default_factory=dict)


@dataclass
class _Prune:
    """One table's share of a job: rows with `received_ns` before the cutoff, a step at a time."""

    table: str
    rows: int = _FIRST_ROWS  # rows per step, adapted to STEP_BUDGET_S
    done: bool = False


# Tables whose rows go by their own received time, in this order. Errors also fix their groups.
PRUNES = ("spans", "flag_evaluations", "logs", "metric_points", "errors")

# What a session's removal deletes, each `WHERE session_id IN (the sessions)`; sessions last.
SESSION_PRUNES = (
    *BEFORE_SESSION_ROWS_DELETED,  # the kept structures take back the session's lines and errors
    "DELETE FROM replay_chunks WHERE session_id IN (SELECT unnest($sessions))",
    "DELETE FROM session_events WHERE session_id IN (SELECT unnest($sessions))",
    "DELETE FROM network_requests WHERE session_id IN (SELECT unnest($sessions))",
    "DELETE FROM websocket_events WHERE session_id IN (SELECT unnest($sessions))",
    "DELETE FROM session_feedback WHERE session_id IN (SELECT unnest($sessions))",
    "DELETE FROM logs WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions))",
    "DELETE FROM errors WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions)) "
    "RETURNING group_id",
    "DELETE FROM sessions WHERE session_id IN (SELECT unnest($sessions))",
    *AFTER_SESSION_ROWS_DELETED,
)

# Sessions whose last activity (push, call, feedback) is before the cutoff, oldest first.
_OLD_SESSIONS = """
SELECT session_id FROM (
    SELECT session_id, received_ns AS at_ns FROM replay_chunks
    UNION ALL SELECT session_id, last_activity_ns FROM sessions
    UNION ALL SELECT session_id, received_ns FROM session_feedback
) GROUP BY session_id HAVING max(at_ns) < $cutoff ORDER BY max(at_ns) LIMIT $n
"""

_REFRESH_GROUPS = """
UPDATE error_groups SET occurrences = r.n, first_seen_ns = r.first_ns, last_seen_ns = r.last_ns
FROM (SELECT group_id, count(*) AS n, min(time_ns) AS first_ns, max(time_ns) AS last_ns FROM errors
      WHERE group_id IN (SELECT unnest($groups)) GROUP BY group_id) AS r
WHERE error_groups.group_id = r.group_id
"""
_EMPTY_GROUPS = """
DELETE FROM error_groups WHERE group_id IN (SELECT unnest($groups))
AND group_id NOT IN (SELECT group_id FROM errors WHERE group_id IN (SELECT unnest($groups)))
RETURNING group_id
"""

# The oldest received time of each kind of item (what `info` and /api/stats call the oldest item).
_OLDEST = (
    "SELECT min(t) FROM (SELECT min(received_ns) AS t FROM spans UNION ALL SELECT min(received_ns) FROM logs "
    "UNION ALL SELECT min(received_ns) FROM metric_points UNION ALL SELECT min(received_ns) FROM errors "
    "UNION ALL SELECT min(received_ns) FROM replay_chunks UNION ALL SELECT min(started_ns) FROM sessions)"
)


def data_bytes(cur: duckdb.DuckDBPyConnection, path: Path | None) -> int:
    """Bytes the data takes: DuckDB's used blocks plus the WAL (free blocks are reused, not data)."""
    if path is None:
        return 0
    used, block = cur.execute("SELECT used_blocks, block_size FROM pragma_database_size()").fetchall()[0]
    return int(used) * int(block) + _size(wal_path(path))


def file_bytes(path: Path | None) -> int | None:
    """What the database takes on disk: the file and its WAL."""
    return None if path is None else _size(path) + _size(wal_path(path))


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _any_before(cur: duckdb.DuckDBPyConnection, cutoff_ns: int) -> bool:
    """Whether anything was received before `cutoff_ns` (a LIMIT 1 probe per table: old rows come
    first in storage order, and when there are none the zone maps skip every row group)."""
    probes = [f"SELECT 1 FROM {t} WHERE received_ns < $cutoff" for t in (*PRUNES, "replay_chunks")]
    probes.append("SELECT 1 FROM sessions WHERE last_activity_ns < $cutoff")
    sql = " UNION ALL ".join(f"({probe} LIMIT 1)" for probe in probes)
    return bool(cur.execute(f"SELECT count(*) FROM ({sql})", {"cutoff": cutoff_ns}).fetchall()[0][0])


def oldest_ns(cur: duckdb.DuckDBPyConnection) -> int | None:
    value = cur.execute(_OLDEST).fetchall()[0][0]
    return None if value is None else int(value)


@dataclass
class _Job:
    cutoff_ns: int
    why: str
    prunes: list[_Prune]
    sessions_done: bool = False
    result: PruneResult = field(init=False)
    waiters: list[Callable[[PruneResult], None]] = field(default_factory=list)
    gone_groups: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.result = PruneResult(self.cutoff_ns)

    def count(self, table: str, n: int) -> None:
        if n:
            self.result.rows[table] = self.result.rows.get(table, 0) + n


class Retention:
    """The policy and the bounded steps; owned by the writer thread (only `snapshot` is read elsewhere)."""

    def __init__(
        self, path: Path | None, limits: Limits, forget_groups: Callable[[set[str]], None] = lambda g: None
    ) -> None:
        self.path = path
        self.limits = limits
        self._forget_groups = forget_groups
        self._job: _Job | None = None
        self._next_check = 0.0
        self._sessions_per_step = _FIRST_SESSIONS
        self._rows_per_step: dict[str, int] = {}
        # per table: its quickest step, what a step costs whatever its size
        self._fixed_s: dict[str, float] = {}
        self.longest_step_s = 0.0  # the longest a DELETE step held the writer (bench/retention.py)
        self.longest_checkpoint_s = 0.0  # the longest checkpoint after a prune
        self.last_pruned_ns: int | None = None
        self.pruned_rows = 0
        self._checkpoint_due = False

    @property
    def busy(self) -> bool:
        return self._job is not None

    def removed_so_far(self) -> int:
        """Rows (and sessions) the current job has removed."""
        return sum(self._job.result.rows.values()) if self._job else 0

    def abandon(self) -> None:
        """Drop the current job (after a failed step; its waiters get what it removed so far)."""
        job, self._job = self._job, None
        if job is not None:
            for waiter in job.waiters:
                waiter(job.result)

    def wait_s(self) -> float:
        """How long the writer may sleep before retention wants it again."""
        if self._job is not None:
            return 0.0
        if self._checkpoint_due:
            return 0.1
        return max(0.0, self._next_check - time.monotonic())

    def request(self, cutoff_ns: int, done: Callable[[PruneResult], None] | None = None) -> None:
        """Prune everything received before `cutoff_ns` (hl-local prune), calling `done` at the end."""
        if self._job is None or self._job.cutoff_ns < cutoff_ns:
            waiters = self._job.waiters if self._job else []
            self._job = self._new_job(cutoff_ns, "by request")
            self._job.waiters.extend(waiters)
        if done is not None:
            self._job.waiters.append(done)

    def _try_checkpoint(self, cur: duckdb.DuckDBPyConnection) -> None:
        """The freed blocks become reusable, and the file's free tail is cut, at a checkpoint.

        DuckDB refuses one while a read is running (the API's, often): then the next tick tries
        again, and no size round is planned meanwhile (the used-block count is stale until then).
        """
        if not self._checkpoint_due:
            return
        started = time.perf_counter()
        try:
            cur.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.debug("checkpoint after pruning deferred: %s", exc)
            return
        finally:
            self.longest_checkpoint_s = max(self.longest_checkpoint_s, time.perf_counter() - started)
        self._checkpoint_due = False

    def tick(self, cur: duckdb.DuckDBPyConnection) -> bool:
        """At most one bounded step (or a policy check when it is due); True if it wrote anything."""
        if self._checkpoint_due:
            self._try_checkpoint(cur)
            return True
        if self._job is None:
            if time.monotonic() < self._next_check:
                return False
            self._next_check = time.monotonic() + CHECK_EVERY_S
            self._job = self.plan(cur)
            if self._job is None:
                return False
        started = time.perf_counter()
        finished = self._step(cur, self._job)
        self.longest_step_s = max(self.longest_step_s, time.perf_counter() - started)
        if finished:
            self._finish(cur, self._job)
            self._job = None
        return True

    def plan(self, cur: duckdb.DuckDBPyConnection) -> _Job | None:
        """A job for the limits, or None when nothing is over them."""
        cutoffs: list[tuple[int, str]] = []
        if self.limits.max_age_ns:
            cutoffs.append((time.time_ns() - self.limits.max_age_ns, "older than --max-age"))
        cap = self.limits.max_size_bytes
        if cap and self.path is not None:
            data = data_bytes(cur, self.path)
            if data > HIGH_WATER * cap:
                share = (data - LOW_WATER * cap) / data
                cutoff = _size_cutoff(cur, share)
                if cutoff is not None:
                    cutoffs.append((cutoff, f"{data >> 20} MiB of data over {HIGH_WATER:.0%} of --max-size"))
        if not cutoffs:
            return None
        cutoff, why = max(cutoffs)
        return self._new_job(cutoff, why) if _any_before(cur, cutoff) else None

    def _new_job(self, cutoff_ns: int, why: str) -> _Job:
        prunes = [_Prune(t, rows=self._rows_per_step.get(t, _FIRST_ROWS)) for t in PRUNES]
        return _Job(cutoff_ns, why, prunes)

    def _step(self, cur: duckdb.DuckDBPyConnection, job: _Job) -> bool:
        """One bounded DELETE (in its own transaction); True once the job has nothing left."""
        if not job.sessions_done:
            job.sessions_done = self._sessions_step(cur, job)
            return False
        for prune in job.prunes:
            if not prune.done:
                prune.done = self._rows_step(cur, job, prune)
                return False
        return True

    def _sessions_step(self, cur: duckdb.DuckDBPyConnection, job: _Job) -> bool:
        started = time.perf_counter()
        n = self._sessions_per_step
        found = cur.execute(_OLD_SESSIONS, {"cutoff": job.cutoff_ns, "n": n}).fetchall()
        if not found:
            return True
        sessions = [row[0] for row in found]
        groups: set[str] = set()
        with _transaction(cur):
            for statement in SESSION_PRUNES:
                deleted = cur.execute(statement, {"sessions": sessions}).fetchall()
                if statement.endswith("RETURNING group_id"):
                    groups.update(str(row[0]) for row in deleted)
            job.gone_groups |= _refresh_groups(cur, groups)
        job.count("sessions", len(sessions))
        self._sessions_per_step = self._adapt(
            "sessions", n, time.perf_counter() - started, _MIN_SESSIONS, _MAX_SESSIONS
        )
        return len(sessions) < n

    def _rows_step(self, cur: duckdb.DuckDBPyConnection, job: _Job, prune: _Prune) -> bool:
        """Delete the table's oldest `prune.rows` rows before the cutoff: up to the received time of
        the last of them (found in storage order, which is received order, so zone maps skip the rest)."""
        started = time.perf_counter()
        bound = cur.execute(
            f"SELECT max(received_ns), count(*) FROM (SELECT received_ns FROM {prune.table} "
            "WHERE received_ns < ? LIMIT ?)",
            [job.cutoff_ns, prune.rows],
        ).fetchall()[0]
        if not bound[1]:
            return True
        with _transaction(cur):
            if prune.table == "errors":
                deleted = cur.execute(
                    "DELETE FROM errors WHERE received_ns <= ? RETURNING group_id", [bound[0]]
                ).fetchall()
                job.gone_groups |= _refresh_groups(cur, {str(row[0]) for row in deleted})
                count = len(deleted)
            else:
                count = int(
                    cur.execute(f"DELETE FROM {prune.table} WHERE received_ns <= ?", [bound[0]]).fetchall()[
                        0
                    ][0]
                )
            _after_rows_deleted(cur, prune.table, int(bound[0]))
        job.count(prune.table, count)
        prune.rows = self._adapt(prune.table, prune.rows, time.perf_counter() - started, _MIN_ROWS, _MAX_ROWS)
        self._rows_per_step[prune.table] = prune.rows
        return int(bound[1]) < prune.rows

    def _adapt(self, table: str, n: int, elapsed_s: float, low: int, high: int) -> int:
        """The next step's size: this one's, scaled toward STEP_BUDGET_S beyond what any step of the
        table costs (at most doubling).

        That fixed part grows with the store (recounting error groups, summarising the traces a
        step cuts): at 5M spans and 1.3M errors it was ~0.2 s, so a budget of the whole step shrank
        the errors' steps to 50 rows, 250 errors a second, slower than an error-heavy ingest.
        """
        fixed = self._fixed_s[table] = min(elapsed_s, self._fixed_s.get(table, elapsed_s))
        if elapsed_s <= 0:
            return min(high, n * 2)
        return max(low, min(high, int(n * min(2.0, (STEP_BUDGET_S + fixed) / elapsed_s))))

    def _finish(self, cur: duckdb.DuckDBPyConnection, job: _Job) -> None:
        self._forget_groups(job.gone_groups)
        removed = sum(job.result.rows.values())
        self._checkpoint_due = self.path is not None and removed > 0
        self._try_checkpoint(cur)
        if removed:
            self.last_pruned_ns = time.time_ns()
            self.pruned_rows += removed
            log.info("pruned %s (%s)", job.result.rows, job.why)
        for waiter in job.waiters:
            waiter(job.result)


def _after_rows_deleted(cur: duckdb.DuckDBPyConnection, table: str, received_up_to_ns: int) -> None:
    """The structures kept beside `table`'s rows drop what summarised them (store/kept_retention.py)."""
    for statement in AFTER_ROWS_DELETED.get(table, ()):
        cur.execute(statement, {"bound": received_up_to_ns})


def _refresh_groups(cur: duckdb.DuckDBPyConnection, groups: set[str]) -> set[str]:
    """Recount the groups some of whose errors went; delete (and return) those with none left."""
    if not groups:
        return set()
    ids = sorted(groups)
    cur.execute(_REFRESH_GROUPS, {"groups": ids})
    return {str(row[0]) for row in cur.execute(_EMPTY_GROUPS, {"groups": ids}).fetchall()}


def _size_cutoff(cur: duckdb.DuckDBPyConnection, share: float) -> int | None:
    """The received time before which about `share` of the data lies, taken so no table loses more.

    Per table, the received time of the row `share` of the way through it (storage order is
    received order); the earliest of these: the oldest data goes first, and no table gives up more
    than `share` of its rows in one round. A round that frees too little is followed by another.
    """
    cutoffs = []
    for table in (*PRUNES, "replay_chunks"):
        rows = int(cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        if rows:
            k = max(1, int(rows * share))
            found = cur.execute(
                f"SELECT max(received_ns) FROM (SELECT received_ns FROM {table} LIMIT ?)", [k]
            )
            cutoffs.append(int(found.fetchall()[0][0]) + 1)
    return min(cutoffs) if cutoffs else None


@contextmanager
def _transaction(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    cur.execute("BEGIN")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def clear_all(cur: duckdb.DuckDBPyConnection) -> None:
    """Everything goes: every table dropped and created empty (a DELETE of each row would update
    the indexes row by row: ~40 s for 300k spans here; dropping takes milliseconds)."""
    from hl_local.store.schema import recreate_tables

    with _transaction(cur):
        recreate_tables(cur)
