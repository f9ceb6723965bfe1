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

from hl_local.errors import DatabaseDamaged, DatabaseLocked, DatabaseUnusable
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

# hl-local never connects out: DuckDB would otherwise download an extension to open a SQLite file
# or an `md:` path given as --db (and load one for some SQL). Set at connect, before any statement.
_CONNECT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}


def memory_limit_bytes() -> int:
    """What DuckDB may hold in memory: a quarter of this machine's RAM, from 1 GiB to 8 GiB.

    Cold reads dominate the 10M-row views (a trace by id read 60-770 ms from an 8.8 GB file through a
    1 GB buffer pool that the big scans had just churned, 16-137 ms with 4 GB); a quarter leaves a
    laptop the rest, and DuckDB takes only what it uses.
    """
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform names these
        ram = 4 << 30
    return min(max(ram // 4, 1 << 30), 8 << 30)


# Checkpoints are deferred (WAL up to this size) and done when the writer goes idle: measured
# +30-60 % insert throughput over DuckDB's 16 MB default. memory_limit bounds what that buffering
# and the caches may take on a laptop.
_SETTINGS = {"checkpoint_threshold": "256MB", "memory_limit": f"{memory_limit_bytes() >> 20}MB"}


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
        con = (
            duckdb.connect(":memory:", config=_CONNECT_CONFIG)
            if path is None
            else _connect_file(path, read_only)
        )
        try:
            if path is not None:
                _check_length(con, path)
            for name, value in _SETTINGS.items():
                con.execute(f"SET {name} = '{value}'")
            if read_only:
                check_schema(con, str(path))  # never creates, never migrates
                _spill_outside(con)
            else:
                ensure_schema(con, str(path or ":memory:"))
        except duckdb.IOException as exc:  # a block the file should hold is not there
            con.close()
            raise DatabaseDamaged(str(path), str(exc).splitlines()[0]) from None
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
    """Open the file after the checks DuckDB would only fail later (or never) on."""
    if _URL_LIKE.match(str(path)):
        raise DatabaseUnusable(str(path), "hl-local keeps its data in a local file, not a remote database")
    if read_only and not path.is_file():
        raise DatabaseUnusable(str(path), "there is no such file, and one opened read-only is never made")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next((p for p in path.parents if p.is_file()), None)
        reason = f"{blocking} is a file, not a directory" if blocking else (exc.strerror or str(exc))
        raise DatabaseUnusable(str(path), reason) from None
    if path.is_file():
        _check_header(path)
    if not read_only:
        _check_writable(path)
    try:
        return duckdb.connect(str(path), read_only=read_only, config=_CONNECT_CONFIG)
    except duckdb.IOException as exc:
        text = str(exc)
        held = _LOCK_HOLDER.search(text)
        if held:
            raise DatabaseLocked(str(path), f"{held.group(1)} (pid {held.group(2)})") from None
        if "Could not read enough bytes" in text:
            raise DatabaseDamaged(
                str(path), "it is shorter than its own index of blocks: truncated"
            ) from None
        raise DatabaseUnusable(str(path), text.splitlines()[0]) from None
    except duckdb.Error as exc:
        raise DatabaseUnusable(str(path), str(exc).splitlines()[0]) from None


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # md:, s3://, http://; not C:\ (one letter)
_DUCKDB_MAGIC = b"DUCK"  # at offset 8 of every DuckDB file
_SQLITE_MAGIC = b"SQLite format 3\x00"


_HEADER_BYTES = 3 * 4096  # DuckDB's file header and its two alternating database headers


def _check_length(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a file too short to hold the blocks its header says are in use: DuckDB opens one whose
    catalog survived, then fails every read and write that touches a missing block. (Free blocks
    at the end may legitimately be cut off: DuckDB does that itself at a checkpoint.)"""
    block_size, used = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchall()[0]
    expected = _HEADER_BYTES + int(block_size) * int(used)
    actual = path.stat().st_size
    if actual < expected:
        raise DatabaseDamaged(str(path), f"it has {actual} bytes, too few for its {used} blocks: truncated")


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise DatabaseUnusable(str(path), exc.strerror or str(exc)) from None
    if head.startswith(_SQLITE_MAGIC):
        raise DatabaseUnusable(str(path), "it is a SQLite database; hl-local keeps its data in DuckDB files")
    if len(head) < 12:
        raise DatabaseDamaged(str(path), f"it holds only {len(head)} bytes: truncated, or not a database")
    if head[8:12] != _DUCKDB_MAGIC:
        raise DatabaseUnusable(str(path), "it is not a DuckDB file")


def _check_writable(path: Path) -> None:
    """Writes need the file and its directory (DuckDB creates the .wal beside it): try both now.

    A read-only directory or file system lets DuckDB open the file and then fails every commit;
    access(2) reports a read-only file system even to root, for whom permission bits do not count.
    """
    if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
        looking = "; --read-only opens it to look" if path.is_file() else ""
        raise DatabaseUnusable(
            str(path), f"cannot write in {path.parent}: it is on a read-only file system{looking}"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise DatabaseUnusable(str(path), "the file is not writable")
    probe = path.with_name(f".{path.name}.{os.getpid()}.probe")
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DatabaseUnusable(str(path), f"cannot write in {path.parent} ({exc.strerror or exc})") from None
