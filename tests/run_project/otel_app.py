"""A program instrumented with the stock OpenTelemetry Python SDK that names no endpoint itself:
its exporters read OTEL_EXPORTER_OTLP_* (argv[1] picks its exporters: http or grpc)."""

import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

if sys.argv[1] == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

tracer_provider = TracerProvider()
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)
logger_provider = LoggerProvider()
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
log = logging.getLogger("otel_app")
log.addHandler(LoggingHandler(logger_provider=logger_provider))
log.setLevel(logging.INFO)

tracer = trace.get_tracer("otel_app")
name = sys.argv[2] if len(sys.argv) > 2 else "work"
with tracer.start_as_current_span(name):
    log.info("hello from %s", name)
    try:
        with tracer.start_as_current_span("parse"):
            int("not a number")  # the exception escapes the span: the SDK records it
    except ValueError:
        pass

tracer_provider.shutdown()
logger_provider.shutdown()
