"""Decoding big OTLP bodies in other processes, so that decoding runs beside the server's own work.

A 512-span request takes ~25-30 ms of Python to decode, holding the GIL; in the server's process it
competes with everything else there (HTTP, the writer's Arrow conversion, UI reads), so ingest ran
at the speed of one core. Worker processes decode the body, build the Arrow columns of its spans,
log lines and metric points (what the writer would do: store/arrow.py) and send everything back as
msgpack with those columns inside as Arrow IPC, so this process never builds them as Python
objects: the writer registers the columns as they come.

The workers are forked when the server starts, before it opens the database or starts a thread:
forking a process that runs threads (DuckDB's, the writer) is unsafe, and forking needs no
re-import, so it also works in the single-file executable. If a worker dies (killed for memory, say),
the pool is given up with one log line and decoding goes on in the server's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import Any, TypeVar, cast

import duckdb
import msgspec

from hl_local.decode import otlp_json, otlp_proto
from hl_local.decode.records import Batch, PackedRows

log = logging.getLogger(__name__)

# What the workers can decode, by name: the name crosses the process boundary, not the function.
DECODERS: dict[str, Callable[[bytes], Batch]] = {
    "protobuf traces": otlp_proto.decode_traces,
    "protobuf logs": otlp_proto.decode_logs,
    "protobuf metrics": otlp_proto.decode_metrics,
    "json traces": otlp_json.decode_traces,
    "json logs": otlp_json.decode_logs,
    "json metrics": otlp_json.decode_metrics,
}
_NAMES: dict[Callable[[bytes], Any], str] = {decode: name for name, decode in DECODERS.items()}
T = TypeVar("T")

_encode = msgspec.msgpack.Encoder().encode
_decode_batch = msgspec.msgpack.Decoder(Batch).decode


def default_count() -> int:
    """One worker per core beyond the first (the server's own process needs one), 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


class DecoderPool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Fork the workers now (call before any thread starts); 0 workers: decode in process."""
        if self.workers <= 0 or sys.platform != "linux":  # macOS: a fork without exec is not safe
            return
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_in_worker
        )
        # A ProcessPoolExecutor on fork starts every worker at the first submit: this one, now.
        self._pool.submit(os.getpid)

    @property
    def running(self) -> bool:
        return self._pool is not None

    def takes(self, decode: Callable[[bytes], object]) -> bool:
        return self._pool is not None and decode in _NAMES

    async def decode(self, decode: Callable[[bytes], T], body: bytes) -> T:
        """`decode(body)` (one of DECODERS) in a worker; in this process if the pool has broken."""
        pool = self._pool
        if pool is None:
            return decode(body)
        loop = asyncio.get_running_loop()
        try:
            packed = await loop.run_in_executor(pool, _decode_packed, _NAMES[decode], body)
        except BrokenExecutor:
            if self._pool is pool:
                log.warning("a decoder process died; decoding goes on in the server's own process")
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(decode, body)
        return cast(T, _decode_batch(packed))  # DECODERS' functions return a Batch

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# Kinds a worker sends as Arrow columns: only their statements read them, never Python code.
PACKED_KINDS = ("spans", "logs", "metric_points", "flag_evaluations")
_types: duckdb.DuckDBPyConnection | None = None  # a worker's own in-memory database, for column types


def _in_worker() -> None:
    """A worker ends with the server: Ctrl-C (sent to the whole process group) is the server's to
    handle, and a server killed outright takes its workers with it (Linux's parent-death signal)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the closed pipe ends it instead
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _column_types() -> duckdb.DuckDBPyConnection:
    """The worker's tables in memory, which type its Arrow columns as the server's file does; made
    at the first big request (~0.15 s), not at start: a server that gets none never pays for it."""
    global _types
    if _types is None:
        from hl_local.store.db import Store

        _types = Store.open(None).cursor()
    return _types


def _decode_packed(name: str, body: bytes) -> bytes:
    """In a worker: the decoded rows as msgpack, the bulk of them as Arrow columns; a DecodeError
    (a value that does not fit its column included) travels back to be answered 400."""
    from hl_local.store.arrow import pack, to_arrow

    batch = DECODERS[name](body)
    for kind in PACKED_KINDS:
        rows = getattr(batch, kind)
        if rows:
            batch.packed.append(PackedRows(kind, len(rows), pack(to_arrow(_column_types(), rows))))
            setattr(batch, kind, [])
    return _encode(batch)
