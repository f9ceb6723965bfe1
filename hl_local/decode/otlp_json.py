"""OTLP/JSON bodies → table rows.

OTLP/JSON is protobuf's JSON mapping with deviations that real exporters rely on: ids are hex
(not base64), enums are integers, 64-bit integers come as strings *or* numbers (OTel JS sends
`intValue` and bucket counts as numbers), unknown fields are ignored. msgspec Structs with
`rename="camel"` give the same snake_case field names as the protobuf messages, so one walk
(`otlp.py`) serves both encodings; `strict=False` accepts the int64-as-string forms.
Attributes stay as raw JSON (`msgspec.Raw`) so each distinct one is decoded once.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import msgspec

from hl_local.decode import otlp
from hl_local.decode.attributes import AttributeDecoder
from hl_local.decode.nesting import refuses_deep_nesting
from hl_local.decode.records import Batch
from hl_local.errors import DecodeError


class _Wire(msgspec.Struct, rename="camel", gc=False, omit_defaults=True):
    """Tolerant base for wire input: unknown fields ignored, every field optional."""


class ArrayValue(_Wire):
    values: list[AnyValue] = []


class KeyValue(_Wire):
    key: str = ""
    value: AnyValue | None = None


class KeyValueList(_Wire):
    values: list[KeyValue] = []


class AnyValue(_Wire):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: int | None = None
    double_value: float | None = None
    array_value: ArrayValue | None = None
    kvlist_value: KeyValueList | None = None
    bytes_value: str | None = None


Attributes = list[msgspec.Raw]


class Resource(_Wire):
    attributes: Attributes = []


class Scope(_Wire):
    name: str = ""
    version: str = ""
    attributes: Attributes = []


class Status(_Wire):
    code: int = 0
    message: str = ""


class Event(_Wire):
    time_unix_nano: int = 0
    name: str = ""
    attributes: Attributes = []


class Link(_Wire):
    trace_id: str = ""
    span_id: str = ""
    trace_state: str = ""
    attributes: Attributes = []


class Span(_Wire):
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str = ""
    trace_state: str = ""
    flags: int = 0
    name: str = ""
    kind: int = 0
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    attributes: Attributes = []
    events: list[Event] = []
    links: list[Link] = []
    status: Status | None = None


class ScopeSpans(_Wire):
    scope: Scope | None = None
    spans: list[Span] = []


class ResourceSpans(_Wire):
    resource: Resource | None = None
    scope_spans: list[ScopeSpans] = []


class TracesRequest(_Wire):
    resource_spans: list[ResourceSpans] = []


class LogRecord(_Wire):
    time_unix_nano: int = 0
    observed_time_unix_nano: int = 0
    severity_number: int = 0
    severity_text: str = ""
    body: AnyValue | None = None
    attributes: Attributes = []
    flags: int = 0
    trace_id: str = ""
    span_id: str = ""
    event_name: str = ""


class ScopeLogs(_Wire):
    scope: Scope | None = None
    log_records: list[LogRecord] = []


class ResourceLogs(_Wire):
    resource: Resource | None = None
    scope_logs: list[ScopeLogs] = []


class LogsRequest(_Wire):
    resource_logs: list[ResourceLogs] = []


class Exemplar(_Wire):
    filtered_attributes: Attributes = []
    time_unix_nano: int = 0
    as_double: float | None = None
    as_int: int | None = None
    span_id: str = ""
    trace_id: str = ""


class NumberDataPoint(_Wire):
    attributes: Attributes = []
    start_time_unix_nano: int = 0
    time_unix_nano: int = 0
    as_double: float | None = None
    as_int: int | None = None
    exemplars: list[Exemplar] = []
    flags: int = 0


class HistogramDataPoint(_Wire):
    attributes: Attributes = []
    start_time_unix_nano: int = 0
    time_unix_nano: int = 0
    count: int = 0
    sum: float | None = None
    bucket_counts: list[int] = []
    explicit_bounds: list[float] = []
    exemplars: list[Exemplar] = []
    flags: int = 0
    min: float | None = None
    max: float | None = None


class Buckets(_Wire):
    offset: int = 0
    bucket_counts: list[int] = []


class ExponentialHistogramDataPoint(_Wire):
    attributes: Attributes = []
    start_time_unix_nano: int = 0
    time_unix_nano: int = 0
    count: int = 0
    sum: float | None = None
    scale: int = 0
    zero_count: int = 0
    positive: Buckets | None = None
    negative: Buckets | None = None
    flags: int = 0
    exemplars: list[Exemplar] = []
    min: float | None = None
    max: float | None = None
    zero_threshold: float = 0.0


class ValueAtQuantile(_Wire):
    quantile: float = 0.0
    value: float = 0.0


class SummaryDataPoint(_Wire):
    attributes: Attributes = []
    start_time_unix_nano: int = 0
    time_unix_nano: int = 0
    count: int = 0
    sum: float | None = None
    quantile_values: list[ValueAtQuantile] = []
    flags: int = 0


class Gauge(_Wire):
    data_points: list[NumberDataPoint] = []


class Sum(_Wire):
    data_points: list[NumberDataPoint] = []
    aggregation_temporality: int = 0
    is_monotonic: bool = False


class Histogram(_Wire):
    data_points: list[HistogramDataPoint] = []
    aggregation_temporality: int = 0


class ExponentialHistogram(_Wire):
    data_points: list[ExponentialHistogramDataPoint] = []
    aggregation_temporality: int = 0


class Summary(_Wire):
    data_points: list[SummaryDataPoint] = []


class Metric(_Wire):
    name: str = ""
    description: str = ""
    unit: str = ""
    gauge: Gauge | None = None
    sum: Sum | None = None
    histogram: Histogram | None = None
    exponential_histogram: ExponentialHistogram | None = None
    summary: Summary | None = None


class ScopeMetrics(_Wire):
    scope: Scope | None = None
    metrics: list[Metric] = []


class ResourceMetrics(_Wire):
    resource: Resource | None = None
    scope_metrics: list[ScopeMetrics] = []


class MetricsRequest(_Wire):
    resource_metrics: list[ResourceMetrics] = []


_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")
_HEX = re.compile(r"[0-9a-fA-F]*")


def any_value(value: AnyValue | None) -> Any:
    """An OTLP/JSON AnyValue as a Python value (None when empty: `{}` is valid and means no value)."""
    if value is None:
        return None
    if value.string_value is not None:
        return value.string_value
    if value.bool_value is not None:
        return value.bool_value
    if value.int_value is not None:
        return value.int_value
    if value.double_value is not None:
        return value.double_value
    if value.array_value is not None:
        return [any_value(v) for v in value.array_value.values]
    if value.kvlist_value is not None:
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if value.bytes_value is not None:
        return value.bytes_value  # already base64 text, which is how we store bytes
    return None


def _decode_key_value(blob: bytes) -> tuple[str, Any]:
    try:
        kv = msgspec.json.decode(blob, type=KeyValue, strict=False)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid attribute {blob[:80]!r}: {exc}") from None
    return kv.key, any_value(kv.value)


def _id_length(field: str) -> int:
    return 16 if field.endswith("raceId") else 8


class JsonEncoding:
    """The `WireEncoding` of OTLP/JSON."""

    def __init__(self) -> None:
        self.attributes = AttributeDecoder(_decode_key_value, copy_blobs=True)

    def hex_id(self, raw: str, field: str) -> str:
        """Hex as the spec says; base64 of the right length too, as sloppy clients send."""
        if not raw:
            return ""
        size = _id_length(field)
        if len(raw) == size * 2 and _HEX.fullmatch(raw):
            return raw.lower()
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == size:
            return decoded.hex()
        raise DecodeError(f"{field} {raw[:64]!r} is not a {size}-byte id in hex")

    def any_value(self, value: AnyValue | None) -> Any:
        return any_value(value)

    def number_value(self, point: NumberDataPoint | Exemplar) -> float | int | None:
        if point.as_double is not None:
            return point.as_double if math.isfinite(point.as_double) else None
        return point.as_int

    def optional(self, message: Any, name: str) -> Any:
        return getattr(message, name)

    def metric_data(self, metric: Metric) -> tuple[str, Any] | None:
        for kind in _METRIC_KINDS:
            data = getattr(metric, kind)
            if data is not None:
                return kind, data
        return None


_ENCODING = JsonEncoding()
_DECODERS = {
    kind: msgspec.json.Decoder(type=kind_type, strict=False)
    for kind, kind_type in (("traces", TracesRequest), ("logs", LogsRequest), ("metrics", MetricsRequest))
}


def _parse(kind: str, body: bytes) -> Any:
    try:
        return _DECODERS[kind].decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"body is not valid OTLP/JSON {kind}: {exc}") from None


@refuses_deep_nesting("the OTLP/JSON body")
def decode_traces(body: bytes) -> Batch:
    return otlp.with_digest(otlp.traces_to_batch(_ENCODING, _parse("traces", body)), b"json traces", body)


@refuses_deep_nesting("the OTLP/JSON body")
def decode_logs(body: bytes) -> Batch:
    return otlp.with_digest(otlp.logs_to_batch(_ENCODING, _parse("logs", body)), b"json logs", body)


@refuses_deep_nesting("the OTLP/JSON body")
def decode_metrics(body: bytes) -> Batch:
    return otlp.with_digest(otlp.metrics_to_batch(_ENCODING, _parse("metrics", body)), b"json metrics", body)
