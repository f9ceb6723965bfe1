"""The internal currency between decoders and the writer: rows per kind, in a fixed column order.

Rows are plain tuples (the cheapest thing Python can build); the writer transposes each kind's
rows once per request into Arrow columns, typed from the DDL of the kind's table, and runs the
kind's statements (store/writes.py) with them.
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
    "scope_name", "scope_version", "attributes", "resource_attributes", "frames", "received_ns",
)  # fmt: skip

METRIC_POINT_COLUMNS = (
    "time_ns", "start_ns", "metric_name", "description", "unit", "metric_type", "temporality",
    "is_monotonic", "value", "count", "sum", "min", "max", "bucket_counts", "explicit_bounds",
    "exp_scale", "exp_zero_count", "exp_zero_threshold", "exp_positive_offset", "exp_positive_counts",
    "exp_negative_offset", "exp_negative_counts", "quantiles", "flags", "exemplars",
    "service_name", "service_version", "environment", "session_id", "request_id", "project_id",
    "scope_name", "scope_version", "attributes", "resource_attributes", "received_ns",
)  # fmt: skip

SESSION_INIT_COLUMNS = (
    "session_id", "initialized", "project_id", "client_id", "session_key", "sdk_version",
    "firstload_version", "client_config", "environment", "app_version", "service_name",
    "privacy_setting", "enable_strict_privacy", "enable_recording_network_contents",
    "disable_session_recording", "network_recording_domains", "user_agent", "ip", "language",
    "started_ns", "last_activity_ns",
)  # fmt: skip

SESSION_IDENTITY_COLUMNS = ("session_id", "identifier", "user_object", "started_ns", "last_activity_ns")
SESSION_PROPERTY_COLUMNS = ("session_id", "properties", "started_ns", "last_activity_ns")

REPLAY_CHUNK_COLUMNS = (
    "session_id", "payload_id", "first_ms", "last_ms", "event_count", "has_full_snapshot", "events",
    "is_beacon", "has_session_unloaded", "first_url", "page_count", "click_count", "error_count",
    "console_error_count", "first_interaction_ms", "last_interaction_ms", "active_ms",
    "has_rage_clicks", "received_ns",
)  # fmt: skip

SESSION_EVENT_COLUMNS = ("session_id", "payload_id", "time_ms", "sid", "kind", "payload", "selector", "text")

NETWORK_REQUEST_COLUMNS = (
    "session_id", "payload_id", "start_ms", "end_ms", "duration_ms", "initiator_type", "method", "url",
    "status", "request_id", "trace_id", "request_headers", "request_body", "response_headers",
    "response_body", "response_size", "transfer_size", "encoded_body_size", "decoded_body_size",
    "next_hop_protocol", "timings", "url_blocked",
)  # fmt: skip

WEBSOCKET_EVENT_COLUMNS = (
    "session_id",
    "payload_id",
    "time_ms",
    "socket_id",
    "type",
    "url",
    "size",
    "message",
)

ERROR_COLUMNS = (
    "error_id", "time_ns", "source", "type", "message", "stack", "frames", "url", "error_source",
    "line_number", "column_number", "service_name", "service_version", "environment", "session_id",
    "payload_id", "request_id", "trace_id", "span_id", "payload", "received_ns", "group_id",
)  # fmt: skip

ERROR_GROUP_COLUMNS = (
    "group_id", "title", "type", "source", "service_name", "first_seen_ns", "last_seen_ns", "occurrences",
    "state", "state_changed_ns", "stack", "frames", "fingerprints",
)  # fmt: skip

FEEDBACK_COLUMNS = ("session_id", "time_ns", "user_name", "user_email", "verbatim", "received_ns")

# kind → (table whose DDL types the columns, columns)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "spans": ("spans", SPAN_COLUMNS),
    "logs": ("logs", LOG_COLUMNS),
    "metric_points": ("metric_points", METRIC_POINT_COLUMNS),
    "session_inits": ("sessions", SESSION_INIT_COLUMNS),
    "session_identities": ("sessions", SESSION_IDENTITY_COLUMNS),
    "session_properties": ("sessions", SESSION_PROPERTY_COLUMNS),
    "replay_chunks": ("replay_chunks", REPLAY_CHUNK_COLUMNS),
    "session_events": ("session_events", SESSION_EVENT_COLUMNS),
    "network_requests": ("network_requests", NETWORK_REQUEST_COLUMNS),
    "websocket_events": ("websocket_events", WEBSOCKET_EVENT_COLUMNS),
    "errors": ("errors", ERROR_COLUMNS),
    "session_feedback": ("session_feedback", FEEDBACK_COLUMNS),
    "error_groups": ("error_groups", ERROR_GROUP_COLUMNS),  # written by the writer, after grouping
    "error_group_states": ("error_groups", ("group_id", "state", "state_changed_ns")),
}


@dataclass
class Batch:
    """Everything one request produced: it is committed whole or not at all.

    `push_key` (session_id, payload_id) marks a replay push: if that push is already stored,
    the whole batch is skipped, so a retried push adds nothing twice.
    """

    rows: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    push_key: tuple[str, str] | None = None

    def add(self, kind: str, rows: list[tuple[object, ...]]) -> None:
        if rows:
            self.rows.setdefault(kind, []).extend(rows)

    @property
    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())
