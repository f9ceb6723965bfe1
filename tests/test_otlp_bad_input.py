"""Bad OTLP input is refused with the right status and a message naming the problem, and none of it is kept.

Error bodies follow OTLP/HTTP: a `google.rpc.Status` in the request's own encoding (protobuf, or
`{"code":..,"message":..}` for JSON). A rejected request is all-or-nothing: a bad item anywhere in
it means nothing of it is stored.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import FIXTURES, Server, start_server

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PB = {"Content-Type": PROTOBUF}
JS = {"Content-Type": JSON}
MAX_BODY = 64 * 1024 * 1024
MIB = 1024 * 1024
GRPC_INVALID_ARGUMENT, GRPC_RESOURCE_EXHAUSTED = 3, 8
TRACE_SERVICE = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_SERVICE = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
METRICS_SERVICE = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
GARBAGE = b"this is not protobuf \xff\xfe\x00\x01"
TRACE_ID = "5b8efff798038103d269b633813fc60c"


@cache
def real_body(folder: str = "otel-py-http", path: str = "/v1/traces") -> bytes:
    """A real OTel Python protobuf export body, from the recorded captures."""
    for line in (FIXTURES / "otlp" / folder / "requests.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("path") == path:
            return base64.b64decode(record["body_b64"])
    raise AssertionError(f"no {path} request in {folder}")


def json_spans(*spans: dict[str, Any]) -> bytes:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}).encode()


def json_span(span_id: str, **fields: Any) -> dict[str, Any]:
    return {"traceId": TRACE_ID, "spanId": span_id, "name": f"span-{span_id}", **fields}


def gzip_bomb(decompressed_bytes: int) -> bytes:
    """gzip of `decompressed_bytes` zeros, built in 1 MiB steps (never holding the whole thing)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(MIB)
    parts = [compressor.compress(chunk) for _ in range(decompressed_bytes // MIB)]
    return b"".join([*parts, compressor.flush()])


def zeros(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """`total` zero bytes as a generator: httpx sends it chunked, with no Content-Length."""
    left = total
    while left:
        size = min(chunk, left)
        left -= size
        yield bytes(size)


@dataclass
class Failure:
    code: int
    message: str


def failure(reply: httpx.Response, request_type: str) -> Failure:
    """The Status body of an error reply, decoded from the encoding it must be in."""
    reply_type = reply.headers["content-type"].split(";")[0]
    if request_type == JSON:
        assert reply_type == JSON
        body = reply.json()
        assert set(body) == {"code", "message"}, body
        return Failure(body["code"], body["message"])
    assert reply_type == PROTOBUF
    status = status_pb2.Status.FromString(reply.content)
    return Failure(status.code, status.message)


def counts(server: Server) -> tuple[int, int, int, int]:
    stats = server.stats()
    return stats["spans"], stats["logs"], stats["metric_points"], stats["pending_rows"]


def assert_nothing_stored(server: Server) -> None:
    assert counts(server) == (0, 0, 0, 0)


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the many small refusals: each test checks nothing at all was stored."""
    srv = start_server(tmp_path_factory.mktemp("bad-input") / "hl.duckdb")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as c:
        yield c


# --- refused bodies ---------------------------------------------------------------------------------

GZ = {**PB, "Content-Encoding": "gzip"}


def first_half(body: bytes) -> bytes:
    return body[: len(body) // 2]


BAD_ID_SPAN = json_spans(json_span("0102030405060708", traceId="zz"))
BODY_CASES: dict[str, tuple[str, dict[str, str], bytes, int, str]] = {
    # name: (path, headers, body, status, words the message must contain)
    "garbage-protobuf-traces": ("/v1/traces", PB, GARBAGE, 400, "not a valid protobuf ExportTraceService"),
    "garbage-protobuf-logs": ("/v1/logs", PB, GARBAGE, 400, "not a valid protobuf ExportLogsService"),
    "garbage-protobuf-metrics": (
        "/v1/metrics",
        PB,
        GARBAGE,
        400,
        "not a valid protobuf ExportMetricsService",
    ),
    "invalid-json": ("/v1/traces", JS, b'{"resourceSpans": [', 400, "not valid OTLP/JSON traces"),
    "json-not-an-object": ("/v1/logs", JS, b"[1, 2, 3]", 400, "not valid OTLP/JSON logs"),
    "json-bad-trace-id": ("/v1/traces", JS, BAD_ID_SPAN, 400, "traceId 'zz'"),
    "truncated-protobuf": ("/v1/traces", PB, first_half(real_body()), 400, "not a valid protobuf"),
    "truncated-gzip": (
        "/v1/traces",
        GZ,
        first_half(gzip.compress(real_body())),
        400,
        "gzip body is truncated",
    ),
    "gzip-header-not-gzip": ("/v1/traces", GZ, real_body(), 400, "not valid gzip"),
    "deflate-not-deflate": (
        "/v1/traces",
        {**JS, "Content-Encoding": "deflate"},
        b"\x78\x9c\xff\xff not deflate",  # a zlib header, then junk
        400,
        "not valid deflate data",
    ),
    "text-plain": ("/v1/traces", {"Content-Type": "text/plain"}, b"hello", 415, "Content-Type 'text/plain'"),
    "no-content-type": ("/v1/traces", {}, real_body(), 415, "Content-Type"),
    "brotli": ("/v1/traces", {**PB, "Content-Encoding": "br"}, real_body(), 415, "Content-Encoding 'br'"),
    "unknown-signal": ("/v1/profiles", PB, real_body(), 404, "profiles"),
    "junk-after-gzip-member": ("/v1/traces", GZ, gzip.compress(real_body()) + b"junk", 400, "not valid gzip"),
    "data-after-deflate-stream": (
        "/v1/traces",
        {**JS, "Content-Encoding": "deflate"},
        zlib.compress(b"{}") + b"junk",
        400,
        "data after the end of the deflate stream",
    ),
}


@pytest.mark.parametrize("case", list(BODY_CASES))
def test_bad_body_is_refused_with_a_status_naming_the_problem(
    shared_server: Server, client: httpx.Client, case: str
) -> None:
    path, headers, body, status, words = BODY_CASES[case]
    reply = client.post(shared_server.otlp_http_url + path, headers=headers, content=body)
    assert reply.status_code == status, reply.content
    request_type = JSON if headers.get("Content-Type") == JSON else PROTOBUF
    error = failure(reply, request_type)
    assert words in error.message
    if status in (400, 415):
        assert error.code == GRPC_INVALID_ARGUMENT
    assert_nothing_stored(shared_server)


def test_the_same_bodies_are_accepted_when_well_formed(server: Server, client: httpx.Client) -> None:
    """The control for the cases above: a server that refused everything would pass them too."""
    reply = client.post(f"{server.otlp_http_url}/v1/traces", headers=PB, content=real_body())
    assert (reply.status_code, reply.content) == (200, b"")
    logs_body = gzip.compress(real_body(path="/v1/logs"))
    reply = client.post(f"{server.otlp_http_url}/v1/logs", headers=GZ, content=logs_body)
    assert (reply.status_code, reply.content) == (200, b"")
    spans, logs, points, pending = counts(server)
    assert (spans, points, pending) == (3, 0, 0) and logs > 0


def _one_span_requests(body: bytes) -> list[bytes]:
    """`body` (a 3-span export) as 3 one-span requests: concatenated, they are the same export again."""
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    assert len(scope_spans.spans) == 3
    out = []
    for span in scope_spans.spans:
        one = ExportTraceServiceRequest()
        one.CopyFrom(request)
        del one.resource_spans[0].scope_spans[0].spans[:]
        one.resource_spans[0].scope_spans[0].spans.append(span)
        out.append(one.SerializeToString())
    return out


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("encoding", ["gzip-members", "gzip-members-chunked", "deflate-zlib", "deflate-raw"])
def test_every_compressed_form_is_decoded_whole(server: Server, client: httpx.Client, encoding: str) -> None:
    """gzip bodies may hold several members back to back (RFC 1952): all of them are data.

    Only decoding the first member would answer 200 and silently drop the rest.
    """
    parts = _one_span_requests(real_body())
    if encoding.startswith("gzip"):
        body = b"".join(gzip.compress(part) for part in parts)
        assert gzip.decompress(body) == b"".join(parts)
    elif encoding == "deflate-zlib":
        body = zlib.compress(b"".join(parts))
    else:
        body = _raw_deflate(b"".join(parts))
    headers = {**PB, "Content-Encoding": encoding.split("-")[0]}
    # Seven-byte chunks put member boundaries (and gzip headers) across chunk boundaries.
    content = (body[i : i + 7] for i in range(0, len(body), 7)) if encoding.endswith("chunked") else body
    reply = client.post(f"{server.otlp_http_url}/v1/traces", headers=headers, content=content)
    assert (reply.status_code, reply.content) == (200, b"")
    assert counts(server) == (3, 0, 0, 0)


# --- all or nothing -------------------------------------------------------------------------------


def good_then_bad_span(**bad: Any) -> bytes:
    return json_spans(json_span("1111111111111111"), json_span("2222222222222222", **bad))


def good_then_bad_log(**bad: Any) -> bytes:
    records = [{"body": {"stringValue": "fine"}}, {"body": {"stringValue": "bad"}, **bad}]
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).encode()


def good_then_bad_point(**bad: Any) -> bytes:
    metrics = [
        {"name": "ok", "gauge": {"dataPoints": [{"asDouble": 1.5}]}},
        {"name": "bad", "gauge": {"dataPoints": [{"asDouble": 2, **bad}]}},
    ]
    return json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": metrics}]}]}).encode()


MIXED_JSON_CASES: dict[str, tuple[str, bytes, str]] = {
    # name: (path, body whose first item is fine and a later one is not, words of the message)
    "later-span-bad-trace-id": ("/v1/traces", good_then_bad_span(traceId="zz"), "traceId 'zz'"),
    "later-span-short-span-id": ("/v1/traces", good_then_bad_span(spanId="0102"), "spanId '0102'"),
    "later-span-bad-parent": ("/v1/traces", good_then_bad_span(parentSpanId="nothex!!"), "parentSpanId"),
    "later-span-bad-link": (
        "/v1/traces",
        good_then_bad_span(links=[{"traceId": TRACE_ID, "spanId": "zz"}]),
        "links.spanId",
    ),
    "later-span-kind-out-of-range": ("/v1/traces", good_then_bad_span(kind=2**40), "spans column"),
    "later-span-negative-flags": ("/v1/traces", good_then_bad_span(flags=-1), "spans column"),
    "later-log-bad-trace-id": ("/v1/logs", good_then_bad_log(traceId="xyz"), "traceId 'xyz'"),
    "later-point-bad-exemplar": (
        "/v1/metrics",
        good_then_bad_point(exemplars=[{"traceId": "zz"}]),
        "exemplars.traceId",
    ),
}


@pytest.mark.parametrize("case", list(MIXED_JSON_CASES))
def test_a_bad_item_late_in_a_request_stores_nothing_of_it(
    shared_server: Server, client: httpx.Client, case: str
) -> None:
    path, body, words = MIXED_JSON_CASES[case]
    reply = client.post(shared_server.otlp_http_url + path, headers=JS, content=body)
    assert reply.status_code == 400, reply.content
    assert words in failure(reply, JSON).message
    assert_nothing_stored(shared_server)


def _protobuf_spans(*trace_ids: bytes) -> bytes:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for number, trace_id in enumerate(trace_ids, start=1):
        span = spans.add()
        span.trace_id, span.span_id, span.name = trace_id, bytes([number] * 8), f"span-{number}"
    return request.SerializeToString()


def test_protobuf_span_with_a_wrong_length_id_is_refused(server: Server) -> None:
    body = _protobuf_spans(bytes(range(1, 17)), b"\x01\x02\x03")
    reply = httpx.post(f"{server.otlp_http_url}/v1/traces", headers=PB, content=body, timeout=30)
    assert reply.status_code == 400, reply.content
    assert "traceId" in failure(reply, PROTOBUF).message
    assert_nothing_stored(server)


# --- size limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_chunked_body_over_64_mib_is_413(
    shared_server: Server, client: httpx.Client, content_type: str
) -> None:
    reply = client.post(
        f"{shared_server.otlp_http_url}/v1/traces",
        headers={"Content-Type": content_type},
        content=zeros(MAX_BODY + 3 * MIB + 17),
    )
    assert reply.status_code == 413, reply.content
    error = failure(reply, content_type)
    assert error.code == GRPC_RESOURCE_EXHAUSTED
    assert f"over the {MAX_BODY}-byte limit" in error.message
    assert_nothing_stored(shared_server)


def test_body_over_64_mib_with_content_length_is_413(shared_server: Server, client: httpx.Client) -> None:
    body = bytes(MAX_BODY + MIB)
    reply = client.post(f"{shared_server.otlp_http_url}/v1/logs", headers=PB, content=body)
    assert reply.status_code == 413, reply.content
    error = failure(reply, PROTOBUF)
    assert (error.code, error.message) == (
        GRPC_RESOURCE_EXHAUSTED,
        f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit",
    )
    assert_nothing_stored(shared_server)


@pytest.mark.parametrize(("size", "status"), [(MAX_BODY, 400), (MAX_BODY + 1, 413)])
def test_the_limit_is_exactly_64_mib(
    shared_server: Server, client: httpx.Client, size: int, status: int
) -> None:
    """64 MiB is still read (and refused only as undecodable zeros); one byte more is too big."""
    reply = client.post(f"{shared_server.otlp_http_url}/v1/traces", headers=PB, content=zeros(size))
    assert reply.status_code == status, reply.content
    assert_nothing_stored(shared_server)


def test_gzip_bomb_is_413_without_inflating_it(server: Server) -> None:
    bomb = gzip_bomb(200 * MIB)
    assert len(bomb) < 400 * 1024  # ~200 KB on the wire
    reply = httpx.post(
        f"{server.otlp_http_url}/v1/traces",
        headers={**PB, "Content-Encoding": "gzip"},
        content=bomb,
        timeout=60,
    )
    assert reply.status_code == 413, reply.content
    error = failure(reply, PROTOBUF)
    assert error.code == GRPC_RESOURCE_EXHAUSTED
    assert "decompressed body is over the limit" in error.message

    pid = server.process.pid
    assert vm_kib(pid, "VmRSS") < 512 * 1024
    assert vm_kib(pid, "VmHWM") < 512 * 1024, "the peak shows the bomb was (nearly) inflated"
    health = httpx.get(f"{server.ui_url}/health", timeout=10)
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert_nothing_stored(server)


def test_grpc_gzip_bomb_is_resource_exhausted(server: Server) -> None:
    """grpcio inflates gRPC gzip itself; its receive limit must bound the decompressed size."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(TRACE_SERVICE, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as raised:
            export(bytes(100 * MIB), timeout=60, compression=grpc.Compression.Gzip)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert vm_kib(server.process.pid, "VmHWM") < 512 * 1024
    assert_nothing_stored(server)


# --- gRPC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body", "words"),
    [
        (TRACE_SERVICE, GARBAGE, "not a valid protobuf ExportTraceServiceRequest"),
        (LOGS_SERVICE, GARBAGE, "not a valid protobuf ExportLogsServiceRequest"),
        (METRICS_SERVICE, GARBAGE, "not a valid protobuf ExportMetricsServiceRequest"),
        (TRACE_SERVICE, real_body()[: len(real_body()) // 2], "not a valid protobuf"),
    ],
    ids=["traces-garbage", "logs-garbage", "metrics-garbage", "traces-truncated"],
)
def test_grpc_garbage_is_invalid_argument(
    shared_server: Server, method: str, body: bytes, words: str
) -> None:
    with grpc.insecure_channel(shared_server.grpc_target) as channel:
        export = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as raised:
            export(body, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in raised.value.details()
    assert_nothing_stored(shared_server)


def test_grpc_unknown_method_is_unimplemented(shared_server: Server) -> None:
    with grpc.insecure_channel(shared_server.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        with pytest.raises(grpc.RpcError) as raised:
            export(b"", timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert_nothing_stored(shared_server)


# --- CORS and the API host guard ------------------------------------------------------------------

ORIGIN = "http://localhost:3000"


@pytest.mark.parametrize("prefix", ["", "/otel"])
def test_cors_preflight_allows_the_requested_headers(
    shared_server: Server, client: httpx.Client, prefix: str
) -> None:
    requested = "content-type,content-encoding,x-highlight-request,traceparent"
    reply = client.options(
        f"{shared_server.otlp_http_url}{prefix}/v1/traces",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": requested,
        },
    )
    assert 200 <= reply.status_code < 300
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip().lower() for h in reply.headers["access-control-allow-headers"].split(",")}
    assert set(requested.split(",")) <= allowed
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert "origin" in reply.headers.get("vary", "").lower()


def test_cors_headers_on_accepted_and_refused_posts(shared_server: Server, client: httpx.Client) -> None:
    url = f"{shared_server.otlp_http_url}/v1/traces"
    ok = client.post(url, headers={**JS, "Origin": ORIGIN}, content=b"{}")
    assert (ok.status_code, ok.content) == (200, b"{}")
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    # A browser can only read why it was refused if the error carries the header too.
    refused = client.post(url, headers={**JS, "Origin": ORIGIN}, content=b"{nope")
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    # Without an Origin there is nothing to echo.
    plain = client.post(url, headers=JS, content=b"{}")
    assert "access-control-allow-origin" not in plain.headers
    assert_nothing_stored(shared_server)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8082", "127.0.0.1.evil.example"])
def test_api_refuses_a_foreign_host_header(shared_server: Server, client: httpx.Client, host: str) -> None:
    reply = client.get(f"{shared_server.ui_url}/api/stats", headers={"Host": host})
    assert reply.status_code == 403
    assert "spans" not in reply.text
    same_origin = client.get(f"{shared_server.ui_url}/api/stats")
    assert same_origin.status_code == 200 and "spans" in same_origin.json()
