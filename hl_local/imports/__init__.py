"""`hl-local import`: files merged into a database through the one writer, as live ingest stores them.

Two kinds of file, told apart by their first bytes:
- OTLP/JSON lines (otlp_lines.py): what the OpenTelemetry Collector's file exporter writes (and
  `hl-local export --format otlp-json`), plain or gzip; each line decoded by live ingest's own
  OTLP/JSON decoders and written as one request.
- hl-local's own `.duckdb` files (duckdb_file.py): their rows read back and written as requests.

De-duplication is the writer's, per table: spans by (trace_id, span_id), replay pushes by
(session_id, payload_id) with everything the push carried (custom events, network requests,
WebSocket events, its errors), errors by error_id (so error groups count each once, grouped
against the target's own groups), feedback by (session, time, text), sessions merged by id.
Log lines and metric points have no key: an import adds only the copies the target does not hold
yet, compared on every column but the time received (store/writes.py `imported_*`). So importing
a file twice stores it once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from hl_local.decode.records import Batch
from hl_local.errors import IngestError, Overloaded
from hl_local.store.writer import Writer

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of a DuckDB database file
GZIP_MAGIC = b"\x1f\x8b"
IN_FLIGHT = 4  # requests queued at the writer while the next ones are decoded

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass
class FileReport:
    path: Path
    kind: str  # otlp-json or duckdb
    requests: int = 0  # requests written (lines, pushes, batches of rows)
    read: dict[str, int] = field(default_factory=dict)  # rows read per table
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, why) of lines not stored

    def count(self, batch: Batch) -> None:
        for kind in batch.kinds():
            table = kind.removeprefix("imported_").replace("session_inits", "sessions")
            self.read[table] = self.read.get(table, 0) + len(getattr(batch, kind))


def kind_of(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(12)
    return "duckdb" if head[8:12] == DUCKDB_MAGIC else "otlp-json"


class Pipeline:
    """Keeps a few requests at the writer while the importer prepares the next; failures per request."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._pending: deque[tuple[asyncio.Task[None], Callable[[Exception], None]]] = deque()

    async def submit(self, batch: Batch, on_failure: Callable[[Exception], None]) -> None:
        if batch.row_count == 0:
            return
        while len(self._pending) >= IN_FLIGHT:
            await self._settle_oldest()
        self._pending.append((asyncio.create_task(_write(self._writer, batch)), on_failure))

    async def drain(self) -> None:
        while self._pending:
            await self._settle_oldest()

    async def _settle_oldest(self) -> None:
        task, on_failure = self._pending.popleft()
        try:
            await task
        except IngestError as exc:  # a value that does not fit, a refused batch: that request only
            on_failure(exc)


async def _write(writer: Writer, batch: Batch) -> None:
    """Write, waiting while the writer is saturated (an import has no client to answer 503 to)."""
    while True:
        try:
            await writer.write(batch)
            return
        except Overloaded:
            await asyncio.sleep(0.05)


async def import_file(path: Path, writer: Writer, progress: Progress | None = None) -> FileReport:
    """Import one file; a line or request that cannot be stored is reported, the rest goes on."""
    importer: Callable[[Path, Writer, Progress | None], Awaitable[FileReport]]
    if kind_of(path) == "duckdb":
        from hl_local.imports.duckdb_file import import_duckdb as importer
    else:
        from hl_local.imports.otlp_lines import import_otlp_lines as importer
    return await importer(path, writer, progress)
