"""OTLP protobuf bodies → table rows.

We parse with a copy of the official OTLP descriptors in which every repeated `KeyValue` field is
re-declared as `repeated bytes` (wire-compatible: both are length-delimited). upb then hands each
attribute over as one bytes object instead of a tree of message wrappers, and
`AttributeDecoder` decodes each distinct attribute once. Everything else keeps the official types.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from hl_local.decode import otlp
from hl_local.decode.attributes import AttributeDecoder
from hl_local.decode.nesting import refuses_deep_nesting
from hl_local.decode.records import Batch
from hl_local.errors import DecodeError

_KEY_VALUE = ".opentelemetry.proto.common.v1.KeyValue"
_FILES = (common_pb2, resource_pb2, trace_pb2, logs_pb2, metrics_pb2,
          trace_service_pb2, logs_service_pb2, metrics_service_pb2)  # fmt: skip


def _lite_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for module in _FILES:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        if module is not common_pb2:  # AnyValue's own kvlist stays a message: bodies decode normally
            for message in _all_messages(proto.message_type):
                for fld in message.field:
                    if fld.type_name == _KEY_VALUE and fld.label == fld.LABEL_REPEATED:
                        fld.type = fld.TYPE_BYTES
                        fld.ClearField("type_name")
        pool.Add(proto)
    return pool


def _all_messages(messages: Any) -> Any:
    for message in messages:
        yield message
        yield from _all_messages(message.nested_type)


_POOL = _lite_pool()


def _message_class(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(name))


_TRACES = _message_class("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
_LOGS = _message_class("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest")
_METRICS = _message_class("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest")


def any_value(value: Any) -> Any:
    """An `AnyValue` message as a Python value (None when empty)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _decode_key_value(blob: bytes) -> tuple[str, Any]:
    try:
        kv = common_pb2.KeyValue.FromString(blob)
    except ProtobufDecodeError as exc:
        raise DecodeError(f"an attribute is not a valid protobuf KeyValue: {exc}") from None
    return kv.key, any_value(kv.value)


@functools.cache
def _has_presence(descriptor: Any, name: str) -> bool:
    return bool(descriptor.fields_by_name[name].has_presence)


_ID_BYTES = {True: 16, False: 8}  # keyed by "is a trace id"


class ProtobufEncoding:
    """The `WireEncoding` of OTLP protobuf."""

    def __init__(self) -> None:
        self.attributes = AttributeDecoder(_decode_key_value)

    def hex_id(self, raw: bytes, field: str) -> str:
        if raw and len(raw) != _ID_BYTES[field.endswith("raceId")]:
            size = _ID_BYTES[field.endswith("raceId")]
            raise DecodeError(f"{field} has {len(raw)} bytes; an OTLP {field} has {size}")
        return raw.hex()

    def any_value(self, value: Any) -> Any:
        return any_value(value)

    def number_value(self, point: Any) -> float | int | None:
        kind = point.WhichOneof("value")
        return getattr(point, kind) if kind else None

    def optional(self, message: Any, name: str) -> Any:
        """The field's value, None when unset; a field without presence (a Summary point's `sum`,
        unlike a Histogram point's `optional double sum`) is always set."""
        if _has_presence(message.DESCRIPTOR, name):
            return getattr(message, name) if message.HasField(name) else None
        return getattr(message, name)

    def metric_data(self, metric: Any) -> tuple[str, Any] | None:
        kind = metric.WhichOneof("data")
        return (kind, getattr(metric, kind)) if kind else None


_ENCODING = ProtobufEncoding()


def _parse(message_class: Any, body: bytes, what: str) -> Any:
    try:
        return message_class.FromString(body)
    except ProtobufDecodeError as exc:
        raise DecodeError(f"body is not a valid protobuf {what}: {exc}") from None


@refuses_deep_nesting("the protobuf body")
def decode_traces(body: bytes) -> Batch:
    batch = otlp.traces_to_batch(_ENCODING, _parse(_TRACES, body, "ExportTraceServiceRequest"))
    return otlp.with_digest(batch, b"protobuf traces", body)


@refuses_deep_nesting("the protobuf body")
def decode_logs(body: bytes) -> Batch:
    batch = otlp.logs_to_batch(_ENCODING, _parse(_LOGS, body, "ExportLogsServiceRequest"))
    return otlp.with_digest(batch, b"protobuf logs", body)


@refuses_deep_nesting("the protobuf body")
def decode_metrics(body: bytes) -> Batch:
    batch = otlp.metrics_to_batch(_ENCODING, _parse(_METRICS, body, "ExportMetricsServiceRequest"))
    return otlp.with_digest(batch, b"protobuf metrics", body)
