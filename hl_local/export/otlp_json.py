"""Export as OTLP/JSON lines: the OpenTelemetry Collector file exporter's format.

One Export{Trace,Logs,Metrics}ServiceRequest per line (at most ITEMS_PER_LINE items each, grouped
by resource and scope), as the OTLP/JSON encoding writes it: hex ids, 64-bit integers as strings,
enums as numbers. Any OTLP backend (a Collector's `otlpjsonfile` receiver, hl-local's own import)
reads it back.

What OTLP can carry: spans (events and links included), log records and metric points. The browser
SDK's replay, network requests and sessions have no OTLP form (take a .duckdb for those); its
console messages go as log records with `highlight.session_id` and `highlight.source`, as the
backend SDKs send theirs. Log lines hl-local derived from span events (an exception's ERROR line,
a `log` event's line) are left out: a reader derives them again from the span, as hl-local's
import does, so a round trip does not double them.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import duckdb
import msgspec

from hl_local.decode.records import LogRow, MetricPointRow, SpanRow
from hl_local.export.selection import Chosen, Selection, choose, release

ITEMS_PER_LINE = 1_000
_FETCH = 5_000
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def write_otlp_json(
    cur: duckdb.DuckDBPyConnection, selection: Selection, out: Path, gzipped: bool
) -> tuple[Chosen, dict[str, int]]:
    """Spans, then log records, then metric points of `selection`, to `out` (gzip when asked)."""
    counts = {"spans": 0, "logs": 0, "metric_points": 0, "lines": 0}
    with (
        out.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb") if gzipped else contextlib.nullcontext(raw) as stream,
    ):
        cur.execute("BEGIN")
        try:
            chosen = choose(cur, selection)
            derived = _derived_log_keys(cur, chosen.tables["spans"])
            counts["spans"] = _write(stream, counts, _span_requests(cur, chosen.tables["spans"]))
            logs = _log_requests(cur, chosen.tables["logs"], derived)
            counts["logs"] = _write(stream, counts, logs)
            points = _metric_requests(cur, chosen.tables["metric_points"])
            counts["metric_points"] = _write(stream, counts, points)
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            release(cur)
    return chosen, counts


def _write(
    stream: IO[bytes] | gzip.GzipFile, counts: dict[str, int], lines: Iterator[tuple[bytes, int]]
) -> int:
    items = 0
    for line, size in lines:
        stream.write(line + b"\n")
        counts["lines"] += 1
        items += size
    return items


def _rows(cur: duckdb.DuckDBPyConnection, struct: type[Any], sql: str, order: str) -> Iterator[Any]:
    result = cur.execute(f"SELECT {', '.join(struct.__struct_fields__)} FROM ({sql}) ORDER BY {order}")
    while fetched := result.fetchmany(_FETCH):
        for row in fetched:
            yield struct(*row)


def _grouped(rows: Iterator[Any]) -> Iterator[tuple[tuple[str, str, str], list[Any]]]:
    """Consecutive rows of one resource and scope, ITEMS_PER_LINE at most."""
    key: tuple[str, str, str] | None = None
    held: list[Any] = []
    for row in rows:
        row_key = (row.resource_attributes, row.scope_name, row.scope_version)
        if held and (row_key != key or len(held) >= ITEMS_PER_LINE):
            yield key, held  # type: ignore[misc]  # key is set once held is not empty
            held = []
        key = row_key
        held.append(row)
    if held:
        yield key, held  # type: ignore[misc]


def _resource(resource_attributes: str) -> dict[str, Any]:
    return {"attributes": key_values(_decode(resource_attributes))}


def _scope(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "version": version}


# ---------------------------------------------------------------- spans


def _span_requests(cur: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[bytes, int]]:
    order = "resource_attributes, scope_name, scope_version, trace_id, start_ns, span_id"
    for (resource, scope, version), spans in _grouped(_rows(cur, SpanRow, sql, order)):
        request = {"resourceSpans": [{"resource": _resource(resource),
                                      "scopeSpans": [{"scope": _scope(scope, version),
                                                      "spans": [_span(s) for s in spans]}]}]}  # fmt: skip
        yield _encode(request), len(spans)


def _span(span: SpanRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(_decode(span.attributes)),
        "status": {"code": span.status_code, "message": span.status_message},
    }
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.flags:
        out["flags"] = span.flags
    events = _decode(span.events)
    if events:
        out["events"] = [
            {"timeUnixNano": str(e["time_ns"]), "name": e["name"], "attributes": key_values(e["attributes"])}
            for e in events
        ]
    links = _decode(span.links)
    if links:
        out["links"] = [
            {"traceId": link["trace_id"], "spanId": link["span_id"], "traceState": link["trace_state"],
             "attributes": key_values(link["attributes"])}
            for link in links
        ]  # fmt: skip
    return out


# ---------------------------------------------------------------- logs


def _derived_log_keys(cur: duckdb.DuckDBPyConnection, spans_sql: str) -> set[tuple[str, str, int]]:
    """(trace_id, span_id, time_ns) of the log lines hl-local made from `exception` and `log` span events."""
    keys: set[tuple[str, str, int]] = set()
    sql = (f"SELECT trace_id, span_id, start_ns, events FROM ({spans_sql}) "
           """WHERE events LIKE '%"name":"exception"%' OR events LIKE '%"name":"log"%'""")  # fmt: skip
    for trace_id, span_id, start_ns, events in cur.execute(sql).fetchall():
        for event in _decode(events):
            if event.get("name") in ("exception", "log"):
                keys.add((trace_id, span_id, event.get("time_ns") or start_ns))
    return keys


def _is_derived(log: LogRow, derived: set[tuple[str, str, int]]) -> bool:
    return (
        log.severity_number == 0
        and log.observed_ns == log.time_ns
        and (log.trace_id, log.span_id, log.time_ns) in derived
    )


def _log_requests(
    cur: duckdb.DuckDBPyConnection, sql: str, derived: set[tuple[str, str, int]]
) -> Iterator[tuple[bytes, int]]:
    order = "resource_attributes, scope_name, scope_version, time_ns"
    rows = (log for log in _rows(cur, LogRow, sql, order) if not _is_derived(log, derived))
    for (resource, scope, version), logs in _grouped(rows):
        request = {"resourceLogs": [{"resource": _resource(resource),
                                     "scopeLogs": [{"scope": _scope(scope, version),
                                                    "logRecords": [_log(r) for r in logs]}]}]}  # fmt: skip
        yield _encode(request), len(logs)


def _log(log: LogRow) -> dict[str, Any]:
    attributes = _decode(log.attributes)
    # columns that came from elsewhere than the attributes (the browser SDK's console messages)
    if log.session_id and not {"highlight.session_id", "highlight_session_id"} & attributes.keys():
        attributes["highlight.session_id"] = log.session_id
    if log.source and not {"highlight.source", "Source"} & attributes.keys():
        attributes["highlight.source"] = log.source
    out: dict[str, Any] = {
        "timeUnixNano": str(log.time_ns),
        "observedTimeUnixNano": str(log.observed_ns),
        "severityNumber": log.severity_number,
        "severityText": log.severity_text,
        "body": {"stringValue": log.body},
        "attributes": key_values(attributes),
    }
    if log.flags:
        out["flags"] = log.flags
    if log.trace_id:
        out["traceId"] = log.trace_id
    if log.span_id:
        out["spanId"] = log.span_id
    if log.event_name:
        out["eventName"] = log.event_name
    return out


# ---------------------------------------------------------------- metric points

_METRIC = ("metric_name", "description", "unit", "metric_type", "temporality", "is_monotonic")


def _metric_requests(cur: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple[bytes, int]]:
    order = "resource_attributes, scope_name, scope_version, " + ", ".join(_METRIC) + ", time_ns"
    for (resource, scope, version), points in _grouped(_rows(cur, MetricPointRow, sql, order)):
        metrics: list[dict[str, Any]] = []
        last: tuple[Any, ...] | None = None
        for point in points:
            identity = tuple(getattr(point, name) for name in _METRIC)
            if identity != last:
                metrics.append(_metric(point))
                last = identity
            metrics[-1][_DATA[point.metric_type]]["dataPoints"].append(_point(point))
        request = {"resourceMetrics": [{"resource": _resource(resource),
                                        "scopeMetrics": [{"scope": _scope(scope, version),
                                                          "metrics": metrics}]}]}  # fmt: skip
        yield _encode(request), len(points)


_DATA = {"gauge": "gauge", "sum": "sum", "histogram": "histogram",
         "exponential_histogram": "exponentialHistogram", "summary": "summary"}  # fmt: skip


def _metric(point: MetricPointRow) -> dict[str, Any]:
    data: dict[str, Any] = {"dataPoints": []}
    if point.temporality is not None and point.metric_type != "gauge":
        data["aggregationTemporality"] = point.temporality
    if point.metric_type == "sum":
        data["isMonotonic"] = bool(point.is_monotonic)
    return {"name": point.metric_name, "description": point.description, "unit": point.unit,
            _DATA[point.metric_type]: data}  # fmt: skip


def _point(point: MetricPointRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "timeUnixNano": str(point.time_ns),
        "attributes": key_values(_decode(point.attributes)),
    }
    if point.start_ns:
        out["startTimeUnixNano"] = str(point.start_ns)
    if point.flags:
        out["flags"] = point.flags
    kind = point.metric_type
    if kind in ("gauge", "sum"):
        if point.value is not None:
            out["asDouble"] = point.value
    else:
        out["count"] = str(point.count or 0)
        if point.sum is not None:
            out["sum"] = point.sum
    if kind in ("histogram", "exponential_histogram"):
        out.update({k: v for k, v in (("min", point.min), ("max", point.max)) if v is not None})
    if kind == "histogram":
        out["bucketCounts"] = [str(c) for c in point.bucket_counts or []]
        out["explicitBounds"] = point.explicit_bounds or []
    elif kind == "exponential_histogram":
        out |= {"scale": point.exp_scale or 0, "zeroCount": str(point.exp_zero_count or 0),
                "zeroThreshold": point.exp_zero_threshold or 0.0}  # fmt: skip
        sides = (("positive", point.exp_positive_offset, point.exp_positive_counts),
                 ("negative", point.exp_negative_offset, point.exp_negative_counts))  # fmt: skip
        for side, offset, counts in sides:
            if counts is not None:
                out[side] = {"offset": offset or 0, "bucketCounts": [str(c) for c in counts]}
    elif kind == "summary":
        out["quantileValues"] = _decode(point.quantiles or "[]")
    exemplars = _decode(point.exemplars)
    if exemplars:
        out["exemplars"] = [_exemplar(e) for e in exemplars]
    return out


def _exemplar(exemplar: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": str(exemplar.get("time_ns") or 0),
                           "filteredAttributes": key_values(exemplar.get("attributes") or {})}  # fmt: skip
    if exemplar.get("value") is not None:
        out["asDouble"] = exemplar["value"]
    for key, name in (("trace_id", "traceId"), ("span_id", "spanId")):
        if exemplar.get(key):
            out[name] = exemplar[key]
    return out


# ---------------------------------------------------------------- attributes


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    """A decoded attribute object as OTLP/JSON KeyValues."""
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {}
