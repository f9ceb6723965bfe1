"""Store: owns the DuckDB connection. Reads get a cursor per thread; writes go through `Writer`."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import duckdb

from hl_local.errors import DatabaseLocked, DatabaseUnusable
from hl_local.store.schema import check_schema, ensure_schema

T = TypeVar("T")

# name in /api/stats → SQL that counts it
COUNTS = {
    "spans": "SELECT count(*) FROM spans",
    "logs": "SELECT count(*) FROM logs",
    "metric_points": "SELECT count(*) FROM metric_points",
    "sessions": "SELECT count(*) FROM session_summaries",
    "replay_events": "SELECT coalesce(sum(event_count), 0) FROM replay_chunks",
    "console_messages": "SELECT count(*) FROM logs WHERE source = 'frontend'",
    "network_requests": "SELECT count(*) FROM network_requests",
    "errors": "SELECT count(*) FROM errors",
    "error_groups": "SELECT count(*) FROM error_groups",
}

# Checkpoints are deferred (WAL up to this size) and done when the writer goes idle: measured
# +30-60 % insert throughput over DuckDB's 16 MB default. memory_limit bounds what that buffering
# and the caches may take on a laptop.
_SETTINGS = {"checkpoint_threshold": "256MB", "memory_limit": "1GB"}


class Store:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None, read_only: bool = False) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only  # nothing is ever written: no schema, no checkpoint
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | None, read_only: bool = False) -> Store:
        """Open (or create) the file at `path`; None keeps everything in memory."""
        con = duckdb.connect(":memory:") if path is None else _connect_file(path, read_only)
        try:
            for name, value in _SETTINGS.items():
                con.execute(f"SET {name} = '{value}'")
            if read_only:
                check_schema(con, str(path))  # never creates, never migrates
                _spill_outside(con)
            else:
                ensure_schema(con, str(path or ":memory:"))
        except BaseException:
            con.close()
            raise
        return cls(con, path, read_only)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor (a DuckDB connection object must not be shared by threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
            with self._lock:
                self._cursors.append(cur)
        return cur

    def read_sync(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return fn(self.cursor())

    async def read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `fn(cursor)` in a worker thread, off the event loop."""
        return await anyio.to_thread.run_sync(self.read_sync, fn)

    def counts(self) -> dict[str, int]:
        def count(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
            sql = "SELECT " + ", ".join(f"({query}) AS {name}" for name, query in COUNTS.items())
            values = cur.execute(sql).fetchall()[0]
            return {name: int(value) for name, value in zip(COUNTS, values, strict=True)}

        return self.read_sync(count)

    def close(self) -> None:
        with self._lock:
            for cur in self._cursors:
                cur.close()
            self._cursors.clear()
        if self.path is not None and not self.read_only:
            with contextlib.suppress(duckdb.Error):  # the WAL is replayed on the next open
                self._con.execute("CHECKPOINT")
        self._con.close()


def _spill_outside(con: duckdb.DuckDBPyConnection) -> None:
    """A read-only file's spill files go to the system's temporary folder, not to `<file>.tmp` beside it."""
    folder = Path(tempfile.gettempdir()) / f"hl-local-{os.getpid()}.tmp"
    con.execute(f"SET temp_directory = '{str(folder).replace(chr(39), chr(39) * 2)}'")


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def _connect_file(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only and not path.is_file():
        raise DatabaseUnusable(str(path), "there is no such file, and one opened read-only is never made")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next((p for p in path.parents if p.is_file()), None)
        reason = f"{blocking} is a file, not a directory" if blocking else (exc.strerror or str(exc))
        raise DatabaseUnusable(str(path), reason) from None
    if not read_only and path.exists() and not os.access(path, os.W_OK):
        raise DatabaseUnusable(str(path), "the file is not writable")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        held = _LOCK_HOLDER.search(text)
        if held:
            raise DatabaseLocked(str(path), f"{held.group(1)} (pid {held.group(2)})") from None
        raise DatabaseUnusable(str(path), text.splitlines()[0]) from None
    except duckdb.Error as exc:
        raise DatabaseUnusable(str(path), str(exc).splitlines()[0]) from None
