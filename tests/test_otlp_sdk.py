"""The real OpenTelemetry Python SDK exporting to a running hl-local, over OTLP/HTTP and OTLP/gRPC.

Every export is synchronous (SimpleSpanProcessor, SimpleLogRecordProcessor, an explicit metric
export), and a success from the exporter means the server committed the rows; the rows are then
read back from the DuckDB file once the server has stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import duckdb
import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from tests.conftest import Server, wait_until

TRANSPORTS = ["http", "http-gzip", "grpc", "grpc-gzip"]
SERVICE = {"service.name": "sdk-test", "service.version": "1.2.3", "deployment.environment.name": "ci"}


def _resource() -> Resource:
    return Resource.create(SERVICE)


def _grpc_compression(transport: str) -> grpc.Compression | None:
    return grpc.Compression.Gzip if transport.endswith("gzip") else None


def _http_compression(transport: str) -> HttpCompression | None:
    return HttpCompression.Gzip if transport.endswith("gzip") else None


# signal → (gRPC exporter class, HTTP exporter class)
_EXPORTERS: dict[str, tuple[Any, Any]] = {
    "traces": (GrpcSpanExporter, HttpSpanExporter),
    "logs": (GrpcLogExporter, HttpLogExporter),
    "metrics": (GrpcMetricExporter, HttpMetricExporter),
}


def _exporter(server: Server, transport: str, signal: str) -> Any:
    grpc_exporter, http_exporter = _EXPORTERS[signal]
    if transport.startswith("grpc"):
        return grpc_exporter(
            endpoint=server.grpc_target, insecure=True, compression=_grpc_compression(transport), timeout=10
        )
    return http_exporter(
        endpoint=f"{server.otlp_http_url}/v1/{signal}", compression=_http_compression(transport), timeout=10
    )


def span_exporter(server: Server, transport: str) -> SpanExporter:
    return _exporter(server, transport, "traces")  # type: ignore[no-any-return]


def log_exporter(server: Server, transport: str) -> LogRecordExporter:
    return _exporter(server, transport, "logs")  # type: ignore[no-any-return]


def metric_exporter(server: Server, transport: str) -> MetricExporter:
    return _exporter(server, transport, "metrics")  # type: ignore[no-any-return]


class _Recording:
    """Delegates to a real exporter and keeps each export's result (processors swallow failures)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.results: list[Any] = []

    def export(self, items: Any) -> Any:
        result = self.inner.export(items)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


class RecordingSpanExporter(_Recording, SpanExporter):
    results: list[SpanExportResult]


class RecordingLogExporter(_Recording, LogRecordExporter):
    results: list[LogRecordExportResult]


def hex_ids(context: SpanContext) -> tuple[str, str]:
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def service_columns(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["service_name"], row["service_version"], row["environment"]


def rows_as_dicts(server: Server, sql: str) -> list[dict[str, Any]]:
    """Run `sql` against the stopped server's file; each row as {column: value} (readable asserts)."""

    assert server.db_path is not None
    con = duckdb.connect(str(server.db_path), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture
def sdk_logger() -> Iterator[logging.Logger]:
    """A dedicated logger (never the root one: the exporter's own logging would loop back)."""
    logger = logging.getLogger("hl_local_tests.sdk_logs")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


# --- traces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sdk_spans_are_stored_with_ids_kinds_status_attributes_and_events(
    server: Server, transport: str
) -> None:
    exporter = RecordingSpanExporter(span_exporter(server, transport))
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.sdk", "0.1")

    root_attributes = {
        "http.route": "/orders",
        "retries": 2,
        "ratio": 0.5,
        "cached": False,
        "tags": ("a", "b"),
        "highlight.session_id": "abc",
    }
    server_kind = SpanKind.SERVER
    with tracer.start_as_current_span("GET /orders", kind=server_kind, attributes=root_attributes) as root:
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT) as child:
            try:
                raise ValueError("boom")
            except ValueError as exc:
                child.record_exception(exc)
            child.set_status(Status(StatusCode.ERROR, "query failed"))
        with tracer.start_as_current_span("no-session", attributes={"highlight.session_id": ""}) as empty:
            pass
    with pytest.raises(RuntimeError), tracer.start_as_current_span("escaping", kind=SpanKind.PRODUCER):
        raise RuntimeError("kaput")
    provider.shutdown()

    assert exporter.results == [SpanExportResult.SUCCESS] * 4
    # A success means committed: the count is already there (polled only to tolerate the HTTP read).
    wait_until(lambda: server.stats()["spans"] == 4, what="4 spans")
    assert server.stop() == 0

    rows = {r["name"]: r for r in rows_as_dicts(server, "SELECT * FROM spans")}
    assert set(rows) == {"GET /orders", "db.query", "no-session", "escaping"}
    root_trace, root_span = hex_ids(root.get_span_context())
    child_trace, child_span = hex_ids(child.get_span_context())
    empty_trace, empty_span = hex_ids(empty.get_span_context())

    r, c, e, x = rows["GET /orders"], rows["db.query"], rows["no-session"], rows["escaping"]
    assert (r["trace_id"], r["span_id"], r["parent_span_id"]) == (root_trace, root_span, "")
    assert (c["trace_id"], c["span_id"], c["parent_span_id"]) == (root_trace, child_span, root_span)
    assert child_trace == root_trace
    assert (e["trace_id"], e["span_id"], e["parent_span_id"]) == (empty_trace, empty_span, root_span)
    assert x["trace_id"] != root_trace and x["parent_span_id"] == ""
    for row in rows.values():
        assert len(row["trace_id"]) == 32 and len(row["span_id"]) == 16
        assert row["trace_id"] == row["trace_id"].lower()

    assert (r["kind"], c["kind"], e["kind"], x["kind"]) == (2, 3, 1, 4)
    assert (r["status_code"], r["status_message"]) == (0, "")
    assert (c["status_code"], c["status_message"]) == (2, "query failed")
    # The SDK records an exception escaping start_as_current_span and sets ERROR by itself.
    assert (x["status_code"], x["status_message"]) == (2, "RuntimeError: kaput")

    assert json.loads(r["attributes"]) == {
        "http.route": "/orders",
        "retries": 2,
        "ratio": 0.5,
        "cached": False,
        "tags": ["a", "b"],
        "highlight.session_id": "abc",
    }
    assert json.loads(c["attributes"]) == {}
    assert json.loads(r["events"]) == [] and json.loads(r["links"]) == []

    (event,) = json.loads(c["events"])
    assert event["name"] == "exception"
    assert event["time_ns"] >= c["start_ns"]
    assert event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "boom"
    assert "ValueError: boom" in event["attributes"]["exception.stacktrace"]
    (escaped,) = json.loads(x["events"])
    assert escaped["attributes"]["exception.type"] == "RuntimeError"

    # Session ids: the attribute lands in its column; an empty string means "no session".
    assert r["session_id"] == "abc"
    assert e["session_id"] is None
    assert c["session_id"] is None

    for row in rows.values():
        assert service_columns(row) == ("sdk-test", "1.2.3", "ci")
        assert (row["scope_name"], row["scope_version"]) == ("tests.sdk", "0.1")
        resource = json.loads(row["resource_attributes"])
        assert resource["service.name"] == "sdk-test"
        assert resource["telemetry.sdk.language"] == "python"
        assert 0 < row["start_ns"] <= row["end_ns"]
        assert row["duration_ns"] == row["end_ns"] - row["start_ns"]
        assert row["received_ns"] >= row["end_ns"]
    assert r["start_ns"] <= c["start_ns"] and c["end_ns"] <= r["end_ns"]


def test_resent_spans_are_stored_once(server: Server) -> None:
    """An exporter's retry re-sends the same request: it is stored once, over HTTP and gRPC alike
    (both carry the same protobuf message, recognised by its digest)."""
    spans = _two_spans()
    http = HttpSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=10)
    grpc_exporter = GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=10)
    try:
        assert http.export(spans) == SpanExportResult.SUCCESS
        assert http.export(spans) == SpanExportResult.SUCCESS
        assert grpc_exporter.export(spans) == SpanExportResult.SUCCESS
    finally:
        http.shutdown()
        grpc_exporter.shutdown()
    assert server.stats()["spans"] == 2


def test_a_span_in_two_different_requests_is_shown_once(server: Server) -> None:
    """A span re-batched into another request is not recognised at ingest (spans have no key:
    store/writer.py says why); the trace view still shows each span once."""
    spans = _two_spans()
    http = HttpSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=10)
    try:
        assert http.export(spans) == SpanExportResult.SUCCESS
        assert http.export(spans[:1]) == SpanExportResult.SUCCESS
    finally:
        http.shutdown()
    assert server.stats()["spans"] == 3
    trace_id = format(spans[0].context.trace_id, "032x")
    trace = httpx.get(f"{server.ui_url}/api/traces/{trace_id}", timeout=10).json()
    assert sorted(span["name"] for span in trace["spans"]) == ["first"]


def _two_spans() -> list[ReadableSpan]:
    provider = TracerProvider(resource=_resource())
    tracer = provider.get_tracer("tests.sdk")
    spans = []
    for name in ("first", "second"):
        span = tracer.start_span(name)
        span.end()
        spans.append(span)
    return spans


# --- logs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sdk_logs_are_stored_with_level_body_and_trace_context(
    server: Server, transport: str, sdk_logger: logging.Logger
) -> None:
    exporter = RecordingLogExporter(log_exporter(server, transport))
    logger_provider = LoggerProvider(resource=_resource())
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    sdk_logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    tracer = TracerProvider(resource=_resource()).get_tracer("tests.sdk")

    with tracer.start_as_current_span("checkout") as span:
        sdk_logger.warning("order %s failed", 42, extra={"order.id": 42, "customer": "c-7"})
        sdk_logger.info("plain info")
        try:
            {}["missing"]
        except KeyError:
            sdk_logger.exception("lookup failed")
    sdk_logger.error("no span here")
    sdk_logger.debug("below the logger level: never exported")
    logger_provider.shutdown()

    assert exporter.results == [LogRecordExportResult.SUCCESS] * 4
    wait_until(lambda: server.stats()["logs"] == 4, what="4 log records")
    assert server.stop() == 0

    rows = {r["body"]: r for r in rows_as_dicts(server, "SELECT * FROM logs")}
    assert set(rows) == {"order 42 failed", "plain info", "lookup failed", "no span here"}
    trace_id, span_id = hex_ids(span.get_span_context())

    levels = {body: (r["severity_text"], r["severity_number"], r["level"]) for body, r in rows.items()}
    assert levels == {
        "order 42 failed": ("WARN", 13, "warn"),
        "plain info": ("INFO", 9, "info"),
        "lookup failed": ("ERROR", 17, "error"),
        "no span here": ("ERROR", 17, "error"),
    }
    for body in ("order 42 failed", "plain info", "lookup failed"):
        assert (rows[body]["trace_id"], rows[body]["span_id"]) == (trace_id, span_id)
    assert (rows["no span here"]["trace_id"], rows["no span here"]["span_id"]) == ("", "")

    warning = json.loads(rows["order 42 failed"]["attributes"])
    assert warning["order.id"] == 42
    assert warning["customer"] == "c-7"
    assert warning["code.function.name"] == "test_sdk_logs_are_stored_with_level_body_and_trace_context"
    assert warning["code.file.path"].endswith("test_otlp_sdk.py")
    failure = json.loads(rows["lookup failed"]["attributes"])
    assert failure["exception.type"] == "KeyError"
    assert "KeyError: 'missing'" in failure["exception.stacktrace"]

    for row in rows.values():
        assert row["scope_name"] == "hl_local_tests.sdk_logs"
        assert service_columns(row) == ("sdk-test", "1.2.3", "ci")
        assert json.loads(row["resource_attributes"])["service.name"] == "sdk-test"
        assert row["time_ns"] > 0 and row["observed_ns"] >= row["time_ns"]
        assert row["session_id"] is None


# --- metrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sdk_metrics_are_stored_as_points_per_type(server: Server, transport: str) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=_resource(), metric_readers=[reader])
    meter = meter_provider.get_meter("tests.meter", "0.2")
    counter = meter.create_counter("http.requests", unit="1", description="requests served")
    counter.add(3, {"route": "/a"})
    counter.add(4, {"route": "/a"})
    counter.add(1, {"route": "/b"})
    queue = meter.create_up_down_counter("queue.depth")
    queue.add(5)
    queue.add(-2)
    latency = meter.create_histogram("latency", unit="ms", explicit_bucket_boundaries_advisory=[5, 10, 25])
    for value in (3, 7, 30):
        latency.record(value, {"highlight.session_id": "sess-9"})
    meter.create_gauge("temperature", unit="Cel").set(21.5)

    exporter = metric_exporter(server, transport)
    try:
        metrics_data = reader.get_metrics_data()
        assert metrics_data is not None
        assert exporter.export(metrics_data) == MetricExportResult.SUCCESS
    finally:
        exporter.shutdown()
        meter_provider.shutdown()

    wait_until(lambda: server.stats()["metric_points"] == 5, what="5 metric points")
    assert server.stop() == 0

    rows = rows_as_dicts(server, "SELECT * FROM metric_points ORDER BY metric_name, value")
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["metric_name"], []).append(row)
    assert sorted(by_name) == ["http.requests", "latency", "queue.depth", "temperature"]

    b, a = by_name["http.requests"]  # ordered by value: 1 (/b), then 7 (/a)
    assert (json.loads(a["attributes"]), a["value"]) == ({"route": "/a"}, 7.0)
    assert (json.loads(b["attributes"]), b["value"]) == ({"route": "/b"}, 1.0)
    for point in (a, b):
        assert (point["metric_type"], point["temporality"], point["is_monotonic"]) == ("sum", 2, True)
        assert (point["unit"], point["description"]) == ("1", "requests served")
        assert point["count"] is None and point["bucket_counts"] is None

    (depth,) = by_name["queue.depth"]
    assert (depth["metric_type"], depth["is_monotonic"], depth["value"]) == ("sum", False, 3.0)

    (hist,) = by_name["latency"]
    assert hist["metric_type"] == "histogram"
    assert (hist["count"], hist["sum"], hist["min"], hist["max"]) == (3, 40.0, 3.0, 30.0)
    assert hist["bucket_counts"] == [1, 1, 0, 1]
    assert hist["explicit_bounds"] == [5.0, 10.0, 25.0]
    assert (hist["unit"], hist["temporality"], hist["value"]) == ("ms", 2, None)
    assert hist["session_id"] == "sess-9"

    (gauge,) = by_name["temperature"]
    assert (gauge["metric_type"], gauge["value"], gauge["unit"]) == ("gauge", 21.5, "Cel")
    assert gauge["temporality"] is None and gauge["is_monotonic"] is None

    for row in rows:
        assert (row["scope_name"], row["scope_version"]) == ("tests.meter", "0.2")
        assert service_columns(row) == ("sdk-test", "1.2.3", "ci")
        assert row["time_ns"] > 0


def test_periodic_reader_force_flush_exports_delta_points(server: Server) -> None:
    """The usual app set-up: a PeriodicExportingMetricReader, flushed on demand, delta temporality."""
    exporter = HttpMetricExporter(
        endpoint=f"{server.otlp_http_url}/v1/metrics",
        timeout=10,
        preferred_temporality={Counter: AggregationTemporality.DELTA},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=_resource(), metric_readers=[reader])
    counter = meter_provider.get_meter("tests.periodic").create_counter("jobs.done")
    try:
        counter.add(5)
        assert meter_provider.force_flush(timeout_millis=10_000)
        wait_until(lambda: server.stats()["metric_points"] == 1, what="the first flush")
        counter.add(2)
        assert meter_provider.force_flush(timeout_millis=10_000)
        wait_until(lambda: server.stats()["metric_points"] == 2, what="the second flush")
    finally:
        meter_provider.shutdown()  # its last collection has nothing new: a delta export adds no point
    assert server.stats()["metric_points"] == 2
    assert server.stop() == 0
    columns = "metric_name, metric_type, temporality, is_monotonic, value"
    sql = f"SELECT {columns} FROM metric_points ORDER BY value DESC"
    assert server.query(sql) == [
        ("jobs.done", "sum", 1, True, 5.0),
        ("jobs.done", "sum", 1, True, 2.0),
    ]
