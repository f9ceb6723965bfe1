"""The internal currency between decoders and the writer: rows per table, in a fixed column order.

Rows are plain tuples (the cheapest thing Python can build); the writer transposes each table's
rows once per commit into Arrow columns and inserts them by column name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "trace_state", "flags", "name", "kind",
    "start_ns", "end_ns", "duration_ns", "status_code", "status_message",
    "service_name", "service_version", "environment", "session_id", "request_id", "project_id", "source",
    "scope_name", "scope_version", "attributes", "resource_attributes", "events", "links", "received_ns",
)  # fmt: skip

LOG_COLUMNS = (
    "time_ns", "observed_ns", "trace_id", "span_id", "flags", "severity_text", "severity_number", "level",
    "body", "event_name", "service_name", "service_version", "environment",
    "session_id", "request_id", "project_id", "source",
    "scope_name", "scope_version", "attributes", "resource_attributes", "received_ns",
)  # fmt: skip

METRIC_POINT_COLUMNS = (
    "time_ns", "start_ns", "metric_name", "description", "unit", "metric_type", "temporality",
    "is_monotonic", "value", "count", "sum", "min", "max", "bucket_counts", "explicit_bounds",
    "exp_scale", "exp_zero_count", "exp_zero_threshold", "exp_positive_offset", "exp_positive_counts",
    "exp_negative_offset", "exp_negative_counts", "quantiles", "flags", "exemplars",
    "service_name", "service_version", "environment", "session_id", "request_id", "project_id",
    "scope_name", "scope_version", "attributes", "resource_attributes", "received_ns",
)  # fmt: skip

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "spans": SPAN_COLUMNS,
    "logs": LOG_COLUMNS,
    "metric_points": METRIC_POINT_COLUMNS,
}


@dataclass
class Batch:
    """Everything one request produced: it is committed whole or not at all."""

    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)

    def add(self, table: str, rows: list[tuple[object, ...]]) -> None:
        if rows:
            self.rows.setdefault(table, []).extend(rows)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())
