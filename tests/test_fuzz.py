"""Fuzzing every decoder: no input may be anything but stored or refused with a 4xx (503 for overload).

The fuzzer is Hypothesis (property-based, pure Python, a pytest plugin): it runs in-process at
thousands of inputs a second, shrinks a failure to a small reproducing input, and is bounded by an
example count, so the default suite stays fast and repeatable (`derandomize`). Atheris (coverage-
guided, libFuzzer) would find deep paths faster but runs as its own process per target and needs
an instrumented build to be useful; for decoders written in Python over msgspec and upb, mutating
real SDK bodies and generating OTLP/GraphQL-shaped JSON reaches the paths that broke.

Inputs: real captured bodies (tests/fixtures) mutated byte-wise (flips, cuts, insertions, splices),
OTLP/JSON and GraphQL requests built from arbitrary JSON values, and pushes whose gzipped payload is
arbitrary JSON. In-process, each decoder must return rows or raise DecodeError, and the rows must
convert to Arrow as the writer converts them (or be refused as RowsRejected). Over HTTP and gRPC, a
real server must answer every mutated body below 500 (or 503) and stay up.

`pytest -m soak tests/test_fuzz.py` runs the same properties for FUZZ_SOAK_S seconds (CI: 120).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hl_local.decode import otlp_json, otlp_proto
from hl_local.decode.records import Batch
from hl_local.errors import DecodeError, RowsRejected
from hl_local.ingest import highlight as public
from tests.conftest import FIXTURES, Server, start_server

EXAMPLES = 150  # per in-process property in the default suite: ~25 s for the module under load
FUZZ_SOAK_S = float(os.environ.get("FUZZ_SOAK_S", "120"))
SIGNALS = ("traces", "logs", "metrics")


@cache
def seeds() -> dict[str, list[bytes]]:
    """Real bodies by kind: proto-{signal}, json-{signal}, public."""
    found: dict[str, list[bytes]] = {}
    for folder in ("otel-py-http", "otel-js-http-json", "highlight-node", "retry-py"):
        for line in (FIXTURES / "otlp" / folder / "requests.jsonl").read_text().splitlines():
            record = json.loads(line)
            path, body = record.get("path", ""), base64.b64decode(record["body_b64"])
            signal = path.rsplit("/", 1)[-1]
            if signal in SIGNALS and body:
                kind = "json" if body[:1] == b"{" else "proto"
                found.setdefault(f"{kind}-{signal}", []).append(body)
    for line in (FIXTURES / "browser" / "main.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "graphql" and record.get("body_b64"):
            found.setdefault("public", []).append(base64.b64decode(record["body_b64"]))
    return found


@st.composite
def _mutated(draw: st.DrawFn, kind: str) -> bytes:
    """A real body of `kind` with a few byte-level mutations."""
    body = bytearray(draw(st.sampled_from(seeds()[kind])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "splice", "repeat"]))
        at = draw(st.integers(0, max(0, len(body) - 1)))
        if op == "flip" and body:
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del body[at:]
        elif op == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "splice" and body:
            end = draw(st.integers(at, len(body)))
            body[at:end] = draw(st.sampled_from([b"[", b"{", b"]]", b'"\xff"', b"-1", b"1e999", b"null"]))
        elif op == "repeat":
            body[at:at] = body[at : at + 64] * draw(st.integers(2, 50))
    return bytes(body)


def mutated(kind: str) -> st.SearchStrategy[bytes]:
    return _mutated(kind)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
OTLP_KEYS = ["resourceSpans", "resourceLogs", "resourceMetrics", "scopeSpans", "scopeLogs", "scopeMetrics",
             "spans", "logRecords", "metrics", "traceId", "spanId", "name", "attributes", "key", "value",
             "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "body", "gauge", "sum",
             "histogram", "summary", "dataPoints", "quantileValues", "events", "links", "exemplars",
             "startTimeUnixNano", "timeUnixNano", "bucketCounts", "explicitBounds"]  # fmt: skip
OTLP_SHAPED = st.recursive(
    JSON_VALUES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(OTLP_KEYS), inner, max_size=5)
    ),
    max_leaves=40,
)
OPERATIONS = list(public.OPERATIONS)


def graphql(variables: Any, operation: str) -> bytes:
    return json.dumps({"operationName": operation, "variables": variables, "query": "mutation x"}).encode()


def push_body(payload: Any, session: str = "fuzz", payload_id: Any = "1") -> bytes:
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    variables = {"session_secure_id": session, "payload_id": payload_id, "data": data}
    return graphql(variables, "pushPayloadCompressed")


PAYLOAD_KEYS = [
    "events", "messages", "resources", "web_socket_events", "errors", "is_beacon", "type", "timestamp",
    "data", "tag", "payload", "source", "href", "value", "trace", "time", "requestResponsePairs",
    "request", "response", "headers", "initiatorType", "stackTrace",
]  # fmt: skip
VARIABLE_KEYS = [
    *PAYLOAD_KEYS, "session_secure_id", "payload_id", "metrics", "tags", "user_object", "properties_object",
    "verbatim",
]  # fmt: skip
PUSH_PAYLOADS = st.recursive(
    JSON_VALUES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(PAYLOAD_KEYS), inner, max_size=5)
    ),
    max_leaves=40,
)
VARIABLES = OTLP_SHAPED | st.dictionaries(st.sampled_from(VARIABLE_KEYS), JSON_VALUES)
PUBLIC_BODIES = (
    mutated("public")
    | st.builds(graphql, VARIABLES, st.sampled_from(OPERATIONS))
    | st.builds(push_body, PUSH_PAYLOADS, st.sampled_from(["fuzz", "a/b", ""]), JSON_VALUES)
)


def otlp_bodies(signal: str) -> st.SearchStrategy[tuple[str, bytes]]:
    json_kind, proto_kind = f"json-{signal}", f"proto-{signal}"
    strategies = [st.tuples(st.just("proto"), st.binary(max_size=512))]
    strategies.append(st.tuples(st.just("json"), OTLP_SHAPED.map(lambda v: json.dumps(v).encode())))
    if proto_kind in seeds():
        strategies.append(st.tuples(st.just("proto"), mutated(proto_kind)))
    if json_kind in seeds():
        strategies.append(st.tuples(st.just("json"), mutated(json_kind)))
    return st.one_of(strategies)


class _Request:
    """What /public's handlers read of the HTTP request (initializeSession's client facts)."""

    headers: dict[str, str] = {"user-agent": "fuzz"}
    client = None


def decode_public(body: bytes) -> list[Batch]:
    """/public's decoding, as ingest/highlight.py's `handle` does it, without the HTTP and the writer."""
    from hl_local.decode import highlight
    from hl_local.decode.nesting import depth_bounded

    with depth_bounded("the request"):
        request = highlight.parse_request(body)
        name = highlight.operation_name(request)
        _, handler, _ = public.OPERATIONS.get(name.lower(), (name, None, None))
        batch = handler(request.variables or {}, _Request()) if handler else None  # type: ignore[arg-type]
    return [batch] if batch is not None else []


DECODERS: dict[str, tuple[Callable[[bytes], Batch], Callable[[bytes], Batch]]] = {
    signal: (getattr(otlp_proto, f"decode_{signal}"), getattr(otlp_json, f"decode_{signal}"))
    for signal in SIGNALS
}


@pytest.fixture(scope="module")
def cursor() -> Iterator[Any]:
    from hl_local.store.db import Store

    store = Store.open(None)
    yield store.cursor()
    store.close()


def stored_or_refused(cursor: Any, decode: Callable[[], list[Batch]]) -> None:
    """The property: rows that convert as the writer converts them, or a DecodeError (a 400)."""
    from hl_local.store.arrow import to_arrow

    try:
        batches = decode()
    except DecodeError:
        return
    for batch in batches:
        for kind in batch.kinds():
            rows = getattr(batch, kind)
            if rows:
                with contextlib.suppress(RowsRejected):
                    to_arrow(cursor, rows)


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])  # fmt: skip


@pytest.mark.parametrize("signal", SIGNALS)
def test_otlp_decoders_store_or_refuse_whatever_they_get(cursor: Any, signal: str) -> None:
    @FUZZ
    @given(otlp_bodies(signal))
    def check(case: tuple[str, bytes]) -> None:
        encoding, body = case
        decode = DECODERS[signal][0 if encoding == "proto" else 1]
        stored_or_refused(cursor, lambda: [decode(body)])

    check()


def test_the_public_decoder_stores_or_refuses_whatever_it_gets(cursor: Any) -> None:
    @FUZZ
    @given(PUBLIC_BODIES)
    def check(body: bytes) -> None:
        stored_or_refused(cursor, lambda: decode_public(body))

    check()


def _soak_check(soak: Any, cursor: Any, signal: str) -> Any:
    """One signal's random property, bound to its signal here: @given takes no function with defaults."""

    @soak
    @given(otlp_bodies(signal))
    def check(case: tuple[str, bytes]) -> None:
        decode = DECODERS[signal][0 if case[0] == "proto" else 1]
        stored_or_refused(cursor, lambda: [decode(case[1])])

    return check


@pytest.mark.soak
def test_soak_every_decoder_for_a_while(cursor: Any) -> None:
    """The same properties, random (not derandomized), until FUZZ_SOAK_S has passed."""
    soak = settings(FUZZ, derandomize=False, max_examples=2_000)
    deadline = time.monotonic() + FUZZ_SOAK_S
    rounds = 0
    while time.monotonic() < deadline:
        for signal in SIGNALS:
            _soak_check(soak, cursor, signal)()

        @soak
        @given(PUBLIC_BODIES)
        def check_public(body: bytes) -> None:
            stored_or_refused(cursor, lambda: decode_public(body))

        check_public()
        rounds += 1
    assert rounds >= 1


# ---------------------------------------------------------------- over the wire, against a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("fuzz") / "hl.duckdb")
    try:
        yield srv
    finally:
        srv.stop()


WIRE = settings(FUZZ, max_examples=40)
CONTENT_TYPES = {"proto": "application/x-protobuf", "json": "application/json"}
GRPC_REFUSALS = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)


def test_no_mutated_body_gets_a_5xx_over_http_or_grpc(server: Server) -> None:
    client = httpx.Client(timeout=60)
    channel = grpc.insecure_channel(server.grpc_target)
    answered: list[int] = []

    @WIRE
    @given(st.sampled_from(SIGNALS).flatmap(lambda s: st.tuples(st.just(s), otlp_bodies(s))), st.booleans())
    def otlp(case: tuple[str, tuple[str, bytes]], gzipped: bool) -> None:
        signal, (encoding, body) = case
        headers = {"content-type": CONTENT_TYPES[encoding]}
        content = gzip.compress(body) if gzipped else body
        if gzipped:
            headers["content-encoding"] = "gzip"
        reply = client.post(f"{server.otlp_http_url}/v1/{signal}", content=content, headers=headers)
        answered.append(reply.status_code)
        assert reply.status_code < 500 or reply.status_code == 503, (reply.status_code, reply.text[:300])
        if encoding == "proto":
            service = {"traces": "trace.v1.TraceService", "logs": "logs.v1.LogsService",
                       "metrics": "metrics.v1.MetricsService"}[signal]  # fmt: skip
            method = f"/opentelemetry.proto.collector.{service}/Export"
            try:
                channel.unary_unary(method)(body, timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() in GRPC_REFUSALS, (exc.code(), exc.details())

    @WIRE
    @given(PUBLIC_BODIES)
    def graphql_push(body: bytes) -> None:
        reply = client.post(
            f"{server.ui_url}/public", content=body, headers={"content-type": "application/json"}
        )
        answered.append(reply.status_code)
        assert reply.status_code < 500 or reply.status_code == 503, (reply.status_code, reply.text[:300])

    try:
        otlp()
        graphql_push()
    finally:
        client.close()
        channel.close()
    assert 200 in answered and 400 in answered, "both stored and refused bodies were sent"
    assert httpx.get(f"{server.ui_url}/health").status_code == 200
    for path in (
        "/api/logs",
        "/api/traces",
        "/api/sessions",
        "/api/error-groups",
    ):  # what was stored reads back
        assert httpx.get(f"{server.ui_url}{path}", timeout=60).status_code == 200, path
