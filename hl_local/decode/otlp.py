"""OTLP export requests → table rows, one walk for both wire encodings.

`otlp_proto` and `otlp_json` parse the bytes into objects with the same snake_case field names
(protobuf messages, or msgspec Structs renamed from camelCase); a `WireEncoding` supplies the few
things that differ: ids, attribute blobs, `AnyValue` and oneof access. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, NamedTuple, Protocol

import msgspec

from hl_local.decode.attributes import PROMOTED_INDEX, AttributeDecoder, Promoted, json_text
from hl_local.decode.derived import Derived, Origin
from hl_local.decode.flags import FLAG_EVENTS
from hl_local.decode.frontend import is_browser
from hl_local.decode.levels import normalise_level
from hl_local.decode.records import Batch, LogRow, MetricPointRow, SpanRow
from hl_local.decode.tokens import tokens
from hl_local.errors import DecodeError

RESOURCE_FIELDS = ("service_name", "service_version", "environment", "session_id", "request_id", "project_id")
_FIELD_INDEX = {name: i for i, name in enumerate(RESOURCE_FIELDS)}


def traces_to_batch(enc: WireEncoding, request: Any) -> Batch:
    derived = Derived(time.time_ns())
    spans = spans_to_rows(enc, request, derived)
    return Batch(
        spans=spans,
        logs=derived.logs,
        errors=derived.errors,
        error_logs=derived.error_logs,
        flag_evaluations=derived.flags,
    )


def logs_to_batch(enc: WireEncoding, request: Any) -> Batch:
    derived = Derived(time.time_ns())
    logs = logs_to_rows(enc, request, derived)
    return Batch(logs=logs, errors=derived.errors)


def metrics_to_batch(enc: WireEncoding, request: Any) -> Batch:
    return Batch(metric_points=metrics_to_rows(enc, request))


def with_digest(batch: Batch, kind: bytes, body: bytes) -> Batch:
    """`batch` marked with a digest of its request's decoded body, so a resent request is stored once.

    blake2b of a 512-span body (~300 KB) takes ~0.2 ms here, well under 1 µs a span.
    """
    batch.digest = hashlib.blake2b(body, digest_size=16, person=kind[:16].ljust(16)).hexdigest()
    return batch


class WireEncoding(Protocol):
    attributes: AttributeDecoder

    def hex_id(self, raw: Any, field: str) -> str: ...
    def any_value(self, value: Any) -> Any: ...
    def number_value(self, point: Any) -> float | int | None: ...
    def optional(self, message: Any, name: str) -> Any: ...
    def metric_data(self, metric: Any) -> tuple[str, Any] | None: ...


class _Context:
    """Promoted columns and attribute JSON of one resource + scope, shared by its items."""

    __slots__ = (
        "_base", "attributes_json", "column_values", "erlang", "frontend", "promoted",
        "scope_name", "scope_version",
    )  # fmt: skip

    def __init__(self, enc: WireEncoding, resource: Any) -> None:
        self.promoted: Promoted = {}
        self._base: tuple[str, str, str, str | None, str | None, str | None] | None = None
        attrs = resource.attributes if resource is not None else ()
        self.attributes_json, self.column_values = enc.attributes.to_json_and_columns(attrs, self.promoted)
        self.frontend = is_browser(self.attributes_json)  # a browser: its telemetry is frontend
        self.erlang = any(marker in self.attributes_json for marker in _BEAM)
        self.scope_name = ""
        self.scope_version = ""

    def enter_scope(self, scope: Any) -> None:
        self.scope_name = (scope.name or "") if scope is not None else ""
        self.scope_version = (scope.version or "") if scope is not None else ""

    def columns(self, item: Promoted | None) -> tuple[str, str, str, str | None, str | None, str | None]:
        """service_name, service_version, environment, session_id, request_id, project_id.

        The item's own attributes win over its resource's (span over resource, as Highlight merges).
        """
        if self._base is None:
            values = [hit[0] if (hit := self.promoted.get(name)) else None for name in RESOURCE_FIELDS]
            self._base = (values[0] or "", values[1] or "", values[2] or "", values[3], values[4], values[5])
        if not item:
            return self._base
        values = list(self._base)
        for name, (value, _) in item.items():
            index = _FIELD_INDEX.get(name)
            if index is not None:
                values[index] = value
        return tuple(values)  # type: ignore[return-value]

    def source(self, item: Promoted | None) -> str | None:
        hit = (item and item.get("source")) or self.promoted.get("source")
        if hit:
            return hit[0]
        return "frontend" if self.frontend else None

    def promoted_values(self, own: list[str | None] | None) -> list[str | None]:
        """An item's PROMOTED_ATTRIBUTES values: its own, else its resource's (as the JSON lookup)."""
        resource = self.column_values
        if own is None:
            return resource or _NO_PROMOTED
        if resource is None:
            return own
        return [mine if mine is not None else theirs for mine, theirs in zip(own, resource, strict=True)]


_NO_PROMOTED: list[str | None] = [None] * len(PROMOTED_INDEX)  # shared: rows only read it


def spans_to_rows(enc: WireEncoding, request: Any, derived: Derived | None = None) -> list[SpanRow]:
    """Rows for `spans`; errors and log lines of span events into `derived`."""
    rows: list[SpanRow] = []
    append = rows.append
    hex_id = enc.hex_id
    to_json = enc.attributes.to_json_and_columns
    received_ns = time.time_ns()
    for resource_spans in request.resource_spans:
        ctx = _Context(enc, resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            ctx.enter_scope(scope_spans.scope)
            for span in scope_spans.spans:
                promoted: Promoted = {}
                attributes, own = to_json(span.attributes, promoted)
                trace_id = hex_id(span.trace_id, "traceId")
                span_id = hex_id(span.span_id, "spanId")
                if not trace_id or not span_id:  # the spec requires both; the trace could never be opened
                    raise DecodeError(
                        f"a span ({span.name!r}) has an empty {'traceId' if not trace_id else 'spanId'}"
                    )
                start_ns = span.start_time_unix_nano
                end_ns = span.end_time_unix_nano
                status = span.status
                events = span.events
                if events and derived is not None:
                    _derive_from_events(enc, ctx, promoted, trace_id, span_id, attributes, span, derived)
                append(
                    SpanRow(
                        trace_id,
                        span_id,
                        hex_id(span.parent_span_id, "parentSpanId"),
                        span.trace_state or "",
                        span.flags or 0,
                        span.name or "",
                        span.kind or 0,
                        start_ns,
                        end_ns,
                        max(end_ns - start_ns, 0),
                        (status.code or 0) if status is not None else 0,
                        (status.message or "") if status is not None else "",
                        *ctx.columns(promoted),
                        ctx.source(promoted),
                        ctx.scope_name,
                        ctx.scope_version,
                        attributes,
                        ctx.attributes_json,
                        _events_json(enc, events),
                        _links_json(enc, span.links),
                        received_ns,
                        ctx.promoted_values(own),
                    )
                )
    return rows


_DERIVING_EVENTS = frozenset({"exception", "log", *FLAG_EVENTS})
_LOG_SEVERITY = b"log.severity"
# OpenTelemetry's Erlang SDK (Elixir's too) says erlang
_BEAM = tuple(f'"telemetry.sdk.language":"{language}"' for language in ("erlang", "elixir"))


def _derive_from_events(
    enc: WireEncoding,
    ctx: _Context,
    promoted: Promoted,
    trace_id: str,
    span_id: str,
    attributes_json: str,
    span: Any,
    derived: Derived,
) -> None:
    origin: Origin | None = None
    for index, event in enumerate(span.events):
        name = event.name or ""
        named_log = False
        if name not in _DERIVING_EVENTS:
            # highlight-elixir names a log event after its message; its `log.severity` says what it is
            # (looked for in Erlang/Elixir telemetry only: searching every event cost ~6 % of decoding)
            if not ctx.erlang or not enc.attributes.mentions(event.attributes, _LOG_SEVERITY):
                continue
            name, named_log = "log", True
        time_ns = event.time_unix_nano or span.start_time_unix_nano
        attributes = enc.attributes.to_dict(event.attributes)
        if named_log and "log.severity" not in attributes:
            continue
        if origin is None:
            origin = _origin(ctx, promoted, trace_id, span_id, attributes_json, span.name or "")
        if named_log and not attributes.get("log.message"):
            attributes["log.message"] = event.name
        derived.span_event(origin, name, index, time_ns, attributes)


def _origin(
    ctx: _Context, promoted: Promoted, trace_id: str, span_id: str, attributes_json: str, span_name: str
) -> Origin:
    attributes = msgspec.json.decode(attributes_json)
    url = next((attributes[k] for k in ("url.full", "http.url") if isinstance(attributes.get(k), str)), None)
    return Origin(trace_id, span_id, ctx.columns(promoted), ctx.source(promoted), ctx.scope_name,
                  ctx.scope_version, ctx.attributes_json, url, span_name, attributes,
                  ctx.frontend)  # fmt: skip


def _events_json(enc: WireEncoding, events: Any) -> str:
    if not events:
        return "[]"
    to_json = enc.attributes.to_json
    parts = [
        f'{{"time_ns":{e.time_unix_nano or 0},"name":{json_text(e.name or "")},'
        f'"attributes":{to_json(e.attributes)}}}'
        for e in events
    ]
    return "[" + ",".join(parts) + "]"


def _links_json(enc: WireEncoding, links: Any) -> str:
    if not links:
        return "[]"
    parts = [
        f'{{"trace_id":"{enc.hex_id(link.trace_id, "links.traceId")}",'
        f'"span_id":"{enc.hex_id(link.span_id, "links.spanId")}",'
        f'"trace_state":{json_text(link.trace_state or "")},'
        f'"attributes":{enc.attributes.to_json(link.attributes)}}}'
        for link in links
    ]
    return "[" + ",".join(parts) + "]"


_SEVERITY_KEYS = ("level", "severity", "log.severity")  # read when severityText is empty


def logs_to_rows(enc: WireEncoding, request: Any, derived: Derived | None = None) -> list[LogRow]:
    """Rows for `logs`; errors of records with exception attributes into `derived`."""
    rows: list[LogRow] = []
    append = rows.append
    hex_id = enc.hex_id
    to_json = enc.attributes.to_json_and_columns
    any_value = enc.any_value
    received_ns = time.time_ns()
    for resource_logs in request.resource_logs:
        ctx = _Context(enc, resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            ctx.enter_scope(scope_logs.scope)
            for record in scope_logs.log_records:
                promoted: Promoted = {}
                attributes, own = to_json(record.attributes, promoted)
                observed_ns = record.observed_time_unix_nano or 0
                time_ns = record.time_unix_nano or observed_ns or received_ns
                body = any_value(record.body) if record.body is not None else None
                severity_text = record.severity_text or ""
                severity_number = record.severity_number or 0
                trace_id = hex_id(record.trace_id, "traceId")
                span_id = hex_id(record.span_id, "spanId")
                has_exception = '"exception.type"' in attributes or '"exception.message"' in attributes
                needs_severity = not severity_text and not severity_number
                if has_exception or needs_severity:
                    fields = enc.attributes.to_dict(record.attributes)
                    if needs_severity:
                        severity_text = next((str(fields[k]) for k in _SEVERITY_KEYS if fields.get(k)), "")
                    if has_exception and derived is not None:
                        origin = Origin(trace_id, span_id, ctx.columns(promoted), ctx.source(promoted),
                                        ctx.scope_name, ctx.scope_version, ctx.attributes_json,
                                        frontend=ctx.frontend)  # fmt: skip
                        derived.log_record(origin, time_ns, fields)
                text = body if isinstance(body, str) else ("" if body is None else json_text(body))
                append(
                    LogRow(
                        time_ns,
                        observed_ns or received_ns,
                        trace_id,
                        span_id,
                        record.flags or 0,
                        severity_text,
                        severity_number,
                        normalise_level(severity_text, severity_number),
                        text,
                        getattr(record, "event_name", "") or "",
                        *ctx.columns(promoted),
                        ctx.source(promoted),
                        ctx.scope_name,
                        ctx.scope_version,
                        attributes,
                        ctx.attributes_json,
                        None,  # frames: only browser console messages carry them
                        received_ns,
                        ctx.promoted_values(own),
                        tokens(text),
                    )
                )
    return rows


def metrics_to_rows(enc: WireEncoding, request: Any) -> list[MetricPointRow]:
    """Rows for `metric_points`."""
    rows: list[MetricPointRow] = []
    received_ns = time.time_ns()
    for resource_metrics in request.resource_metrics:
        ctx = _Context(enc, resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            ctx.enter_scope(scope_metrics.scope)
            for metric in scope_metrics.metrics:
                data = enc.metric_data(metric)
                if data is None:
                    continue  # a metric with no data field carries no points
                metric_type, payload = data
                for point in payload.data_points:
                    rows.append(_point_row(enc, ctx, metric, metric_type, payload, point, received_ns))
    return rows


def _point_row(
    enc: WireEncoding,
    ctx: _Context,
    metric: Any,
    metric_type: str,
    payload: Any,
    point: Any,
    received_ns: int,
) -> MetricPointRow:
    opt = enc.optional
    promoted: Promoted = {}
    attributes = enc.attributes.to_json(point.attributes, promoted)
    exemplars, exemplar_session = _exemplars_json(enc, getattr(point, "exemplars", None) or ())
    if exemplar_session and "session_id" not in promoted:
        promoted["session_id"] = (exemplar_session, 0)
    value: float | int | None = None
    count: int | None = None
    total = low = high = None
    bucket_counts: list[int] | None = None
    explicit_bounds: list[float] | None = None
    quantiles: str | None = None
    exp = _ExpHistogram()
    temporality = getattr(payload, "aggregation_temporality", None)
    is_monotonic = getattr(payload, "is_monotonic", None) if metric_type == "sum" else None
    if metric_type in ("gauge", "sum"):
        value = enc.number_value(point)
    else:
        count = point.count or 0
        total = opt(point, "sum")
    if metric_type in ("histogram", "exponential_histogram"):
        low, high = opt(point, "min"), opt(point, "max")
    if metric_type == "histogram":
        bucket_counts = [int(c) for c in point.bucket_counts]
        explicit_bounds = [float(b) for b in point.explicit_bounds]
    elif metric_type == "exponential_histogram":
        exp = _ExpHistogram.of(point)
    elif metric_type == "summary":
        quantiles = json_text(
            [{"quantile": q.quantile or 0.0, "value": q.value or 0.0} for q in point.quantile_values]
        )
    service_name, service_version, environment, session_id, request_id, project_id = ctx.columns(promoted)
    return MetricPointRow(
        point.time_unix_nano or received_ns,
        point.start_time_unix_nano or 0,
        metric.name or "",
        metric.description or "",
        metric.unit or "",
        metric_type,
        temporality,
        is_monotonic,
        value,
        count,
        total,
        low,
        high,
        bucket_counts,
        explicit_bounds,
        exp.scale,
        exp.zero_count,
        exp.zero_threshold,
        exp.positive_offset,
        exp.positive_counts,
        exp.negative_offset,
        exp.negative_counts,
        quantiles,
        point.flags or 0,
        exemplars,
        service_name,
        service_version,
        environment,
        session_id,
        request_id,
        project_id,
        ctx.scope_name,
        ctx.scope_version,
        attributes,
        ctx.attributes_json,
        received_ns,
    )


class _ExpHistogram(NamedTuple):
    """The exponential histogram columns of a point; all None for other metric types."""

    scale: int | None = None
    zero_count: int | None = None
    zero_threshold: float | None = None
    positive_offset: int | None = None
    positive_counts: list[int] | None = None
    negative_offset: int | None = None
    negative_counts: list[int] | None = None

    @classmethod
    def of(cls, point: Any) -> _ExpHistogram:
        positive, negative = point.positive, point.negative
        return cls(
            point.scale or 0,
            point.zero_count or 0,
            point.zero_threshold or 0.0,
            (positive.offset or 0) if positive is not None else None,
            [int(c) for c in positive.bucket_counts] if positive is not None else None,
            (negative.offset or 0) if negative is not None else None,
            [int(c) for c in negative.bucket_counts] if negative is not None else None,
        )


def _exemplars_json(enc: WireEncoding, exemplars: Any) -> tuple[str, str | None]:
    if not exemplars:
        return "[]", None
    session: str | None = None
    items = []
    for ex in exemplars:
        attrs = enc.attributes.to_dict(ex.filtered_attributes)
        session = session or attrs.get("highlight.session_id") or None
        items.append(
            {
                "time_ns": ex.time_unix_nano or 0,
                "value": enc.number_value(ex),
                "trace_id": enc.hex_id(ex.trace_id, "exemplars.traceId"),
                "span_id": enc.hex_id(ex.span_id, "exemplars.spanId"),
                "attributes": attrs,
            }
        )
    return json_text(items), session if isinstance(session, str) else None
