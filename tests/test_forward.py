"""`--forward URL`: what arrives over OTLP is sent on, as OTLP/HTTP protobuf, without ever holding up
or failing local ingest.

The upstream is a second hl-local. Spans go in through the OpenTelemetry SDK's HTTP and gRPC
exporters and as OTLP/JSON (what the browser SDK sends); every one of them must be found upstream.
A small HTTP server beside it shows what the forwarder sends (protobuf, the --forward-header) and
answers 429 with Retry-After once. Then the upstream is stopped in the middle of a run: every
local request is still answered at once and stored, the forwarder queues and retries, and once an
upstream listens on that port again everything queued arrives. An upstream that refuses (404) is
counted as a drop, by reason.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from hl_local.decode import otlp_json, otlp_proto
from hl_local.forward import json_to_protobuf
from tests.conftest import Server, span_keys, start_server, trace_batch, wait_until
from tests.test_api_logs_traces import MS, T0, span, traces_body
from tests.test_otlp_fixtures import OTLP_FIXTURES


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Capture:
    """An HTTP endpoint that keeps what it is sent; answers 429 + Retry-After to the first `busy` requests."""

    busy: int = 0
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                capture.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                         time.monotonic()))  # fmt: skip
                if capture.busy > 0:
                    capture.busy -= 1
                    self.send_response(429)
                    self.send_header("retry-after", "1")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Server]:
    server = start_server(None)
    try:
        yield server
    finally:
        server.stop()


def forward_stats(server: Server, url: str) -> dict[str, Any]:
    return next(f for f in server.stats()["forward"] if f["url"] == url)


def upstream_keys(server: Server) -> set[tuple[str, str]]:
    items = httpx.get(f"{server.ui_url}/api/spans", params={"limit": 1000}, timeout=30).json()["items"]
    return {(s["trace_id"], s["span_id"]) for s in items}


def sdk_spans(names: list[str]) -> list[ReadableSpan]:
    tracer = TracerProvider(resource=Resource.create({"service.name": "forwarded"})).get_tracer("t")
    spans = []
    for name in names:
        s = tracer.start_span(name)
        s.end()
        spans.append(s)
    return spans  # type: ignore[return-value]  # SDK spans are ReadableSpans once ended


def keys_of(spans: list[ReadableSpan]) -> set[tuple[str, str]]:
    return {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}  # type: ignore[union-attr]


def test_every_span_reaches_the_upstream(upstream: Server) -> None:
    capture = Capture(busy=1)
    refusing = f"{upstream.ui_url}/nowhere"  # /nowhere/v1/traces: a 404
    server = start_server(None, "--forward", upstream.otlp_http_url, "--forward", capture.url,
                          "--forward", refusing, "--forward-header", "x-api-key=s3cret")  # fmt: skip
    try:
        assert [f["url"] for f in server.stats()["forward"]] == [
            upstream.otlp_http_url,
            capture.url,
            refusing,
        ]
        by_http, by_grpc = sdk_spans(["over http", "also http"]), sdk_spans(["over grpc"])
        http = HttpSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=10)
        grpc_exporter = GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=10)
        try:
            assert http.export(by_http) == SpanExportResult.SUCCESS
            assert grpc_exporter.export(by_grpc) == SpanExportResult.SUCCESS
        finally:
            http.shutdown()
            grpc_exporter.shutdown()
        browser_like = traces_body("web", [span("ab" * 16, "1" * 16, "", "sent as JSON", T0, MS)])
        reply = httpx.post(f"{server.otlp_http_url}/v1/traces", json=browser_like, timeout=30)
        assert reply.status_code == 200
        expected = keys_of(by_http) | keys_of(by_grpc) | {("ab" * 16, "1" * 16)}
        wait_until(lambda: expected <= upstream_keys(upstream), 30, "every span at the upstream")

        # what went over the wire: protobuf, with the header, to the signal's path; 429 waited out
        wait_until(
            lambda: forward_stats(server, capture.url)["sent"] == 3, 30, "three requests to the capture"
        )
        assert {s.path for s in capture.seen} == {"/v1/traces"}
        assert all(s.headers["content-type"] == "application/x-protobuf" for s in capture.seen)
        assert all(s.headers["x-api-key"] == "s3cret" for s in capture.seen)
        decoded = set()
        for seen in capture.seen:
            request = ExportTraceServiceRequest.FromString(seen.body)
            decoded |= span_keys(request.SerializeToString())
        assert decoded == expected
        first, retry = capture.seen[0], capture.seen[1]
        assert first.body == retry.body and retry.at - first.at >= 0.9  # Retry-After: 1 was honoured
        assert forward_stats(server, capture.url)["retried"] == 1

        wait_until(lambda: forward_stats(server, refusing)["dropped_refused"] == 3, 30, "three refusals")
        refused = forward_stats(server, refusing)
        assert refused["dropped"] == 3 and refused["sent"] == 0 and "404" in refused["last_error"]
        assert forward_stats(server, upstream.otlp_http_url)["dropped"] == 0
    finally:
        server.stop()
        capture.close()
    output = "\n".join(server.output)
    assert "dropped 1 request (refused)" in output  # logged, not silent
    assert "HTTP Request" not in output  # but not a line per request sent


def test_a_stopped_upstream_does_not_touch_local_ingest(tmp_path: Path) -> None:
    kept = tmp_path / "upstream.duckdb"
    target = start_server(kept)
    port = target.otlp_http_url.rsplit(":", 1)[1]
    server = start_server(None, "--forward", target.otlp_http_url)
    try:
        sent: set[tuple[str, str]] = set()
        acks: list[float] = []
        with httpx.Client(timeout=30) as client:
            for seed in range(6):
                if seed == 2:
                    target.stop()  # mid-run
                body = trace_batch(1000 + seed)
                started = time.perf_counter()
                reply = client.post(f"{server.otlp_http_url}/v1/traces", content=body,
                                    headers={"content-type": "application/x-protobuf"})  # fmt: skip
                acks.append(time.perf_counter() - started)
                assert reply.status_code == 200, reply.text
                sent |= span_keys(body)
        assert server.stats()["spans"] == len(sent)  # every request stored locally
        # no answer waited for the upstream (refused connections, then backoff of up to 30 s)
        assert max(acks) < 5, acks
        waiting = forward_stats(server, target.otlp_http_url)
        assert waiting["queued"] > 0 and waiting["retried"] > 0 and waiting["dropped"] == 0, waiting
        # the upstream back on its port: what was queued is delivered, nothing lost
        again = start_server(kept, "--otlp-http-port", port)
        try:
            wait_until(lambda: again.stats()["spans"] == len(sent), 90, "every span at the upstream")
            assert forward_stats(server, target.otlp_http_url)["dropped"] == 0
        finally:
            again.stop()
    finally:
        server.stop()


def test_otlp_json_converts_to_the_same_rows_as_protobuf() -> None:
    """What OpenTelemetry JS sent as JSON (a recorded capture), converted for the upstream, decodes to
    the very rows the JSON gave: ids, attributes, events, links, severities and points intact."""
    decoders = {"traces": (otlp_json.decode_traces, otlp_proto.decode_traces),
                "logs": (otlp_json.decode_logs, otlp_proto.decode_logs),
                "metrics": (otlp_json.decode_metrics, otlp_proto.decode_metrics)}  # fmt: skip
    lines = (OTLP_FIXTURES / "otel-js-http-json" / "requests.jsonl").read_text().splitlines()
    signals = set()
    for record in map(json.loads, filter(None, lines)):
        if record["answered"] != 200:
            continue
        signal = record["path"].rsplit("/", 1)[-1]
        body = base64.b64decode(record["body_b64"])
        from_json, from_proto = decoders[signal]
        want, got = from_json(body), from_proto(json_to_protobuf(signal, body))
        for kind in ("spans", "logs", "metric_points", "errors"):
            assert _unreceived(getattr(got, kind)) == _unreceived(getattr(want, kind)), (signal, kind)
        signals.add(signal)
    assert signals == {"traces", "logs", "metrics"}


def _unreceived(rows: list[Any]) -> list[Any]:
    return [msgspec.structs.replace(row, received_ns=0) for row in rows]
