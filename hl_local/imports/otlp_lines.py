"""OTLP/JSON lines files (the OpenTelemetry Collector's file exporter; gzip too) → the writer.

Each line is one Export{Trace,Logs,Metrics}ServiceRequest, told apart by its top-level key, and
decoded by the very decoders OTLP/HTTP uses for JSON bodies, so an imported span, log line or
derived error is stored exactly as if it had been sent. A line is one request to the writer: it is
stored whole or not at all, and a line that does not decode is reported with its number while the
rest goes on.

Log lines and metric points repeated across lines (a Collector writes a retried request twice)
are stored once per import; the writer then leaves out what the database already holds.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec

from hl_local.decode import otlp_json
from hl_local.decode.records import Batch, LogRow, MetricPointRow
from hl_local.errors import DecodeError
from hl_local.imports import GZIP_MAGIC, FileReport, Pipeline, Progress
from hl_local.store.writer import Writer


class _Signals(msgspec.Struct, rename="camel"):
    """Which signals a line holds, without decoding them yet."""

    resource_spans: msgspec.Raw = msgspec.Raw(b"")  # empty: the line has no such key
    resource_logs: msgspec.Raw = msgspec.Raw(b"")
    resource_metrics: msgspec.Raw = msgspec.Raw(b"")


_peek = msgspec.json.Decoder(_Signals)
_encode = msgspec.json.encode


def decode_line(line: bytes) -> Batch:
    """One line as one Batch (all its signals, so the line is stored whole or not at all)."""
    try:
        signals = _peek.decode(line)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"not an OTLP/JSON request: {exc}") from None
    parts: list[Batch] = []
    if signals.resource_spans:
        parts.append(otlp_json.decode_traces(line))
    if signals.resource_logs:
        parts.append(otlp_json.decode_logs(line))
    if signals.resource_metrics:
        parts.append(otlp_json.decode_metrics(line))
    if not parts:
        raise DecodeError("not an OTLP/JSON request: no resourceSpans, resourceLogs or resourceMetrics")
    batch = parts[0]
    for more in parts[1:]:
        for kind in ("spans", "logs", "metric_points", "errors", "error_logs"):
            getattr(batch, kind).extend(getattr(more, kind))
    return batch


class _Seen:
    """Contents of the log lines and metric points of earlier lines of this import."""

    def __init__(self) -> None:
        self._hashes: set[int] = set()

    def new_only(self, rows: list[LogRow] | list[MetricPointRow]) -> list[LogRow] | list[MetricPointRow]:
        if not rows:
            return rows
        keys = [hash(_encode(msgspec.structs.replace(row, received_ns=0))) for row in rows]
        kept = [row for row, key in zip(rows, keys, strict=True) if key not in self._hashes]
        self._hashes.update(keys)
        return kept  # type: ignore[return-value]  # the same row type as given


async def import_otlp_lines(path: Path, writer: Writer, progress: Progress | None) -> FileReport:
    report = FileReport(path, "otlp-json")
    pipeline = Pipeline(writer)
    seen = _Seen()
    total = path.stat().st_size
    number = 0
    with path.open("rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        with gzip.GzipFile(fileobj=raw) if gzipped else contextlib.nullcontext(raw) as stream:
            try:
                for number, line in _lines(stream):
                    batch = _batch(line, number, report, seen)
                    if batch is not None:
                        await pipeline.submit(batch, _refusal(report, number))
                    if progress is not None:
                        progress(raw.tell(), total)
            except (OSError, EOFError, zlib.error) as exc:  # damaged gzip: the lines before it are kept
                report.bad.append((number + 1, f"the gzip data is damaged from here on: {exc}"))
    await pipeline.drain()
    report.bad.sort()
    return report


def _batch(line: bytes, number: int, report: FileReport, seen: _Seen) -> Batch | None:
    try:
        batch = decode_line(line)
    except DecodeError as exc:
        report.bad.append((number, str(exc)))
        return None
    batch.imported_logs = seen.new_only(batch.logs)  # type: ignore[assignment]  # LogRows in, LogRows out
    batch.imported_metric_points = seen.new_only(batch.metric_points)  # type: ignore[assignment]
    batch.logs, batch.metric_points = [], []
    report.count(batch)
    report.requests += 1
    return batch


def _refusal(report: FileReport, number: int) -> Callable[[Exception], None]:
    return lambda exc: report.bad.append((number, str(exc)))


def _lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(stream, start=1):
        line = line.strip()
        if line:
            yield number, line
