"""The durability contract (DESIGN.md section 3) against the real server process.

A 2xx (or gRPC OK) means committed: it survives SIGTERM, SIGINT and kill -9. A resent batch
does not duplicate spans. Overload is a 503 / UNAVAILABLE, never a silent drop or a half-write.
Every batch here holds 512 spans that no other batch holds, so "never half-written" can be checked
as "the stored span count is a multiple of 512".
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from bench.otlpgen import log_request
from tests.conftest import Server, run_hl_local, span_keys, start_server, trace_batch, wait_until

PROTOBUF = {"content-type": "application/x-protobuf"}
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BATCH = 512


def post(client: httpx.Client, server: Server, signal_name: str, body: bytes) -> httpx.Response:
    return client.post(f"{server.otlp_http_url}/v1/{signal_name}", content=body, headers=PROTOBUF, timeout=30)


def stored_keys(server: Server) -> set[tuple[str, str]]:
    """Every (trace_id, span_id) in the file; the server must be stopped."""
    return {(str(t), str(s)) for t, s in server.query("SELECT trace_id, span_id FROM spans")}


def assert_clean_stop(server: Server, sig: int) -> None:
    assert server.stop(sig) == 0, "\n".join(server.output)
    text = "\n".join(server.output)
    assert "hl-local stopped" in text
    assert "Traceback" not in text
    assert "leaked" not in text, "nothing alarming after a clean stop"


class Sender:
    """Threads that POST distinct 512-span batches as fast as they can and record the acknowledged ones."""

    def __init__(self, server: Server, threads: int, first_seed: int = 1000) -> None:
        self.server = server
        self.acked: list[int] = []
        self.failed = 0
        self.unexpected: list[int] = []
        self._seeds = iter(range(first_seed, 10**9))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()

    def _next_seed(self) -> int:
        with self._lock:
            return next(self._seeds)

    def _run(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                seed = self._next_seed()
                try:
                    reply = post(client, self.server, "traces", trace_batch(seed))
                except httpx.TransportError:  # the server went away mid-request: not acknowledged
                    with self._lock:
                        self.failed += 1
                    if self.server.process.poll() is not None:
                        return
                    continue
                with self._lock:
                    if reply.status_code == 200:
                        self.acked.append(seed)
                    elif reply.status_code != 503:
                        self.unexpected.append(reply.status_code)

    def acked_after(self, batches: int, seconds: float) -> Callable[[], bool]:
        return lambda: len(self.acked) >= batches and time.monotonic() - self.started >= seconds

    def join(self) -> list[int]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive()
        assert not self.unexpected, f"only 200 or 503 expected, got {self.unexpected}"
        return list(self.acked)


# --- restarts -------------------------------------------------------------------------------------


def exception_events(body: bytes) -> int:
    """Distinct exception events (per span: type, message, stack) of a serialized trace request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    distinct = set()
    for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for event in span.events:
                    if event.name == "exception":
                        attrs = {a.key: a.value.string_value for a in event.attributes}
                        fields = ("exception.type", "exception.message", "exception.stacktrace")
                        distinct.add((span.trace_id, span.span_id, *(attrs.get(f) for f in fields)))
    return len(distinct)


def exception_spans(body: bytes) -> set[tuple[str, str]]:
    """(trace_id, span_id) in hex of the spans with an exception event."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return {
        (span.trace_id.hex(), span.span_id.hex())
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
        if any(event.name == "exception" for event in span.events)
    }


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_data_survives_a_clean_stop_and_restart(sig: int, db_path: Path) -> None:
    server = start_server(db_path)
    with httpx.Client() as client:
        for seed in (1, 2):
            assert post(client, server, "traces", trace_batch(seed)).status_code == 200
        assert post(client, server, "logs", log_request(7, 100)).status_code == 200
    with grpc.insecure_channel(server.grpc_target) as channel:
        channel.unary_unary(TRACE_EXPORT)(trace_batch(3), timeout=30)
    before = server.stats()
    # logs: the 100 records, and an ERROR line for each exception event of the spans
    exceptions = sum(exception_events(trace_batch(seed)) for seed in (1, 2, 3))
    assert exceptions > 0
    assert (before["spans"], before["logs"]) == (3 * BATCH, 100 + exceptions)
    assert_clean_stop(server, sig)

    again = start_server(db_path)
    try:
        after = again.stats()
        for key in ("spans", "logs", "metric_points"):
            assert after[key] == before[key], key
    finally:
        assert_clean_stop(again, signal.SIGTERM)
    expected = span_keys(trace_batch(1)) | span_keys(trace_batch(2)) | span_keys(trace_batch(3))
    assert stored_keys(again) == expected


def test_stop_during_ingest_keeps_every_acknowledged_batch(db_path: Path) -> None:
    """SIGINT (Ctrl-C) while clients are sending: a graceful stop, exit 0, nothing acknowledged lost."""
    server = start_server(db_path)
    sender = Sender(server, threads=3)
    wait_until(sender.acked_after(6, 0.5), timeout_s=30, what="six acknowledged batches")
    assert_clean_stop(server, signal.SIGINT)
    acked = sender.join()
    stored = stored_keys(server)
    assert len(stored) % BATCH == 0, "a request was half-written"
    missing = [seed for seed in acked if not span_keys(trace_batch(seed)) <= stored]
    assert not missing, f"acknowledged batches lost: {missing}"


def test_a_signal_right_after_startup_is_not_lost(tmp_path: Path) -> None:
    """A stop asked for as soon as the start-up lines appear (before uvicorn has its own handlers)."""
    for attempt, sig in enumerate([signal.SIGTERM, signal.SIGINT]):
        server = start_server(tmp_path / f"hl-{attempt}.duckdb")
        assert_clean_stop(server, sig)


# --- retries --------------------------------------------------------------------------------------


def test_resent_batches_do_not_duplicate_spans(server: Server) -> None:
    first, second = trace_batch(21), trace_batch(22)
    with httpx.Client() as client:
        for _ in range(2):
            assert post(client, server, "traces", first).status_code == 200
    assert server.stats()["spans"] == len(span_keys(first))

    # Twice at the same time: both requests can land in one group commit.
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send() -> None:
        with httpx.Client() as client:
            barrier.wait(timeout=10)
            statuses.append(post(client, server, "traces", second).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200, 200]
    distinct = span_keys(first) | span_keys(second)
    assert server.stats()["spans"] == len(distinct)

    # And once more over gRPC.
    with grpc.insecure_channel(server.grpc_target) as channel:
        channel.unary_unary(TRACE_EXPORT)(first, timeout=30)
    assert server.stats()["spans"] == len(distinct)
    assert server.stop() == 0
    assert stored_keys(server) == distinct


# --- kill -9 --------------------------------------------------------------------------------------


def test_kill_9_during_ingest_loses_nothing_acknowledged(db_path: Path) -> None:
    server = start_server(db_path)
    sender = Sender(server, threads=3)
    wait_until(sender.acked_after(10, 1.5), timeout_s=30, what="ten acknowledged batches")
    server.process.kill()
    assert server.stop(timeout_s=10) == -signal.SIGKILL
    acked = sender.join()
    assert len(acked) >= 10
    expected = set().union(*(span_keys(trace_batch(seed)) for seed in acked))

    # `info` reads the file as it was left (its write-ahead log included) ...
    info = run_hl_local("info", "--db", str(db_path))
    assert info.returncode == 0, info.stderr
    assert "from the file" in info.stdout
    info_spans = int(re.search(r"spans (\d+)", info.stdout).group(1))  # type: ignore[union-attr]

    # ... and a restarted hl-local finds every acknowledged span.
    again = start_server(db_path)
    try:
        assert again.stats()["spans"] >= len(expected)
    finally:
        assert again.stop() == 0
    stored = stored_keys(again)
    assert len(stored) % BATCH == 0, "a request was half-written"
    missing = [seed for seed in acked if not span_keys(trace_batch(seed)) <= stored]
    assert not missing, f"acknowledged batches lost: {missing}"
    assert info_spans == len(stored)
    # Errors derived from acknowledged spans are stored too, those the writer had deferred included:
    # pending_errors held them, and the restart stored them first.
    errored = {(str(t), str(s)) for t, s in again.query("SELECT DISTINCT trace_id, span_id FROM errors")}
    wanted = set().union(*(exception_spans(trace_batch(seed)) for seed in acked))
    assert wanted and not wanted - errored, f"{len(wanted - errored)} acknowledged errors lost"
    assert again.query("SELECT count(*) FROM pending_errors") == [(0,)]
    print(f"\nkill -9: {len(acked)} batches acknowledged, {len(stored) // BATCH} stored")


# --- overload -------------------------------------------------------------------------------------

OVERLOAD = ("--max-pending-rows", "600")  # one 512-span batch fits; a second one waiting does not
THREADS, PER_THREAD = 16, 3


def fire(send: Callable[[bytes], object]) -> list[tuple[int, object]]:
    """Run `send(body)` for THREADS x PER_THREAD distinct seeds, all threads released at once."""
    bodies = {seed: trace_batch(seed) for seed in range(5000, 5000 + THREADS * PER_THREAD)}
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, object]] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        barrier.wait(timeout=10)
        for seed in range(5000 + index * PER_THREAD, 5000 + (index + 1) * PER_THREAD):
            outcome = send(bodies[seed])
            with lock:
                results.append((seed, outcome))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert len(results) == len(bodies)
    return results


def test_overload_over_http_is_503_and_never_a_partial_write(db_path: Path) -> None:
    server = start_server(db_path, *OVERLOAD)
    local = threading.local()
    clients: list[httpx.Client] = []

    def send(body: bytes) -> httpx.Response:
        if not hasattr(local, "client"):
            local.client = httpx.Client()
            clients.append(local.client)
        return post(local.client, server, "traces", body)

    try:
        results = fire(send)
        replies = [reply for _, reply in results]
        assert isinstance(replies[0], httpx.Response)
        codes = sorted(reply.status_code for reply in replies)
        ok = [seed for seed, reply in results if reply.status_code == 200]
        busy = [reply for reply in replies if reply.status_code == 503]
        assert set(codes) == {200, 503}, f"expected both 200 and 503, got {codes}"
        for reply in busy:
            assert int(reply.headers["retry-after"]) > 0
            status = status_pb2.Status.FromString(reply.content)
            assert status.code == 14 and status.message  # UNAVAILABLE, with a reason
        stats = server.stats()
        assert stats["spans"] == len(ok) * BATCH, "nothing half-written, nothing silently dropped"
        assert stats["pending_rows"] == 0
        print(f"\nHTTP overload: {len(ok)} x 200, {len(busy)} x 503")
    finally:
        for client in clients:
            client.close()
        assert server.stop() == 0
    assert stored_keys(server) == set().union(*(span_keys(trace_batch(seed)) for seed in ok))


def test_overload_over_grpc_is_unavailable_and_never_a_partial_write(db_path: Path) -> None:
    server = start_server(db_path, *OVERLOAD)
    channel = grpc.insecure_channel(server.grpc_target)
    export = channel.unary_unary(TRACE_EXPORT)

    def send(body: bytes) -> grpc.StatusCode | tuple[grpc.StatusCode, bytes | None]:
        try:
            export(body, timeout=30)
        except grpc.RpcError as exc:
            trailers = dict(exc.trailing_metadata() or ())  # type: ignore[attr-defined]
            return exc.code(), trailers.get("grpc-status-details-bin")  # type: ignore[attr-defined]
        return grpc.StatusCode.OK

    try:
        results = fire(send)
        ok = [seed for seed, outcome in results if outcome == grpc.StatusCode.OK]
        busy = [outcome for _, outcome in results if outcome != grpc.StatusCode.OK]
        assert ok and busy, f"expected both OK and UNAVAILABLE, got {len(ok)} OK, {len(busy)} failed"
        for outcome in busy:
            assert isinstance(outcome, tuple) and outcome[0] == grpc.StatusCode.UNAVAILABLE, outcome
            assert outcome[1], "UNAVAILABLE carries a google.rpc.Status with RetryInfo"
            status = status_pb2.Status.FromString(outcome[1])
            retry = error_details_pb2.RetryInfo()
            assert status.details and status.details[0].Unpack(retry)
            assert retry.retry_delay.seconds > 0
        stats = server.stats()
        assert stats["spans"] == len(ok) * BATCH
        assert stats["pending_rows"] == 0
        print(f"\ngRPC overload: {len(ok)} x OK, {len(busy)} x UNAVAILABLE")
    finally:
        channel.close()
        assert server.stop() == 0


def test_errors_a_crash_left_pending_are_stored_at_start(db_path: Path) -> None:
    """The writer defers errors derived from OTLP under load, committed to pending_errors with their
    spans: a file left with some there (as a kill -9 would) stores them, grouped, when it opens."""
    import duckdb
    import msgspec

    from hl_local.decode import otlp_proto
    from hl_local.store.db import Store

    Store.open(db_path).close()
    batch = otlp_proto.decode_traces(trace_batch(31))
    assert batch.errors and batch.error_logs
    encode = msgspec.msgpack.encode
    con = duckdb.connect(str(db_path))
    try:
        con.execute(
            "INSERT INTO pending_errors VALUES (?, ?, ?)", [1, encode(batch.errors), encode(batch.error_logs)]
        )
        # a damaged row is left out with a warning: it must not keep the writer from starting
        con.execute("INSERT INTO pending_errors VALUES (2, 'not msgpack'::BLOB, ''::BLOB)")
    finally:
        con.close()

    distinct = {error.error_id for error in batch.errors}
    server = start_server(db_path)
    try:  # the writer stores them first thing, in its own thread: polled, not raced
        stored = lambda: server.stats()["errors"] == len(distinct)  # noqa: E731
        wait_until(stored, timeout_s=30, what="the pending errors stored")
        stats = server.stats()
    finally:
        assert server.stop() == 0
    assert (stats["errors"], stats["logs"]) == (len(distinct), len(distinct))
    assert stats["error_groups"] >= 1
    assert server.query("SELECT count(*) FROM pending_errors") == [(0,)]


def test_a_writer_that_stops_fails_writes_at_once_and_says_so() -> None:
    """A writer thread that dies leaves nothing hanging: queued and later writes fail (503/500
    answers, not a request that never returns) and the server is told to stop (runtime.py exits
    with a one-line error)."""
    import asyncio

    from hl_local.decode import otlp_proto
    from hl_local.errors import WriteFailed
    from hl_local.store.db import Store
    from hl_local.store.writer import Writer

    store = Store.open(None)
    told = threading.Event()
    writer = Writer(store, on_failure=told.set)
    store.close()  # its connection is gone: the thread fails on its first statement
    writer.start()
    assert told.wait(10), "the writer did not report its failure"
    assert writer.failure is not None
    with pytest.raises(WriteFailed, match="restart hl-local"):
        asyncio.run(writer.write(otlp_proto.decode_traces(trace_batch(41))))
    writer.close()


def test_an_acknowledged_requests_errors_are_read_at_once(db_path: Path) -> None:
    """Errors derived from OTLP are stored after the acknowledgement (pending_errors), yet an API
    read that starts after the acknowledgement sees them: the read asks the writer first."""
    from tests.test_source_context import otlp_error

    server = start_server(db_path)
    try:
        with httpx.Client(timeout=10) as client:
            for n in range(20):  # back to back: each read comes well within the writer's idle wait
                stack = f"Error: acked\n    at f (/app/a{n}.js:1:2)"
                body = otlp_error(f"AckedError{n}", f"acked {n}", stack)
                assert client.post(f"{server.otlp_http_url}/v1/traces", json=body).status_code == 200
                stats = client.get(f"{server.ui_url}/api/stats").json()
                assert stats["errors"] == n + 1, f"request {n}: its error was not readable after its ack"
                groups = client.get(f"{server.ui_url}/api/error-groups", params={"limit": 50}).json()
                assert any(f"AckedError{n}" in json.dumps(group) for group in groups["items"])
    finally:
        assert server.stop() == 0
