"""Every recorded client capture (tests/fixtures/otlp/*/requests.jsonl) replayed byte for byte.

HTTP requests are POSTed with their recorded headers (chunked again when they were chunked); gRPC
requests call the recorded method with the recorded message bytes. Each must be answered like a
collector answers (200 / OK, empty Export*ServiceResponse), and exactly the items of the capture
must be stored, counted independently from `requests.decoded.json`.
"""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import grpc
import httpx
import pytest

from tests.conftest import FIXTURES, Server

OTLP_FIXTURES = FIXTURES / "otlp"
FOLDERS = sorted(p.parent.name for p in OTLP_FIXTURES.glob("*/requests.jsonl"))
DROPPED_HEADERS = {"host", "content-length", "transfer-encoding"}
JSON_HEADERS = {"Content-Type": "application/json"}
METRIC_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


def load_requests(folder: str) -> list[dict[str, Any]]:
    lines = (OTLP_FIXTURES / folder / "requests.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Expected:
    """What a capture holds, from its decoded form."""

    span_ids: list[tuple[str, str]] = field(default_factory=list)  # every span, duplicates included
    log_ids: Counter[tuple[str, str]] = field(default_factory=Counter)
    metric_names: Counter[str] = field(default_factory=Counter)  # one per data point
    requests: int = 0
    resent: int = 0  # requests that repeat an earlier one exactly

    exceptions: set[tuple[str, ...]] = field(default_factory=set)  # distinct exception events

    @property
    def distinct_spans(self) -> int:
        return len(set(self.span_ids))

    def add_event_logs(self, span: dict[str, Any]) -> None:
        """Exception events also make an ERROR log line, once per distinct exception of the span."""
        ids = (span["traceId"].lower(), span["spanId"].lower())
        for event in span.get("events", []):
            if event.get("name") != "exception":
                continue
            attrs = {a["key"]: a.get("value", {}).get("stringValue", "") for a in event.get("attributes", [])}
            if not (attrs.get("exception.message") or attrs.get("exception.type")):
                continue
            identity = (*ids, attrs.get("exception.type", ""), attrs.get("exception.message", ""),
                        attrs.get("exception.stacktrace", ""))  # fmt: skip
            if identity not in self.exceptions:
                self.exceptions.add(identity)
                self.log_ids[ids] += 1


@cache
def expected(folder: str) -> Expected:
    """What the capture must store: each distinct request once (an exporter's resend of the same
    request is recognised by the digest of its body and stored once)."""
    out = Expected()
    seen: set[str] = set()
    for entry in json.loads((OTLP_FIXTURES / folder / "requests.decoded.json").read_text()):
        assert entry["valid"], f"{folder} seq {entry['seq']} was recorded as invalid"
        body = entry["body"]
        identity = json.dumps([entry["signal"], body], sort_keys=True)
        out.requests += 1
        if identity in seen:
            out.resent += 1
            continue
        seen.add(identity)
        if entry["signal"] == "traces":
            for rs in body.get("resourceSpans", []):
                for ss in rs.get("scopeSpans", []):
                    out.span_ids += [(s["traceId"].lower(), s["spanId"].lower()) for s in ss.get("spans", [])]
                    for span in ss.get("spans", []):
                        out.add_event_logs(span)
        elif entry["signal"] == "logs":
            for rl in body.get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    for record in sl.get("logRecords", []):
                        ids = (record.get("traceId", "").lower(), record.get("spanId", "").lower())
                        out.log_ids[ids] += 1
        elif entry["signal"] == "metrics":
            for rm in body.get("resourceMetrics", []):
                for sm in rm.get("scopeMetrics", []):
                    for metric in sm.get("metrics", []):
                        kinds = [k for k in METRIC_KINDS if k in metric]
                        assert len(kinds) == 1, metric.get("name")
                        points = metric[kinds[0]].get("dataPoints", [])
                        out.metric_names[metric["name"]] += len(points)
        else:
            raise AssertionError(f"unknown signal {entry['signal']!r}")
    return out


def _chunks(body: bytes, size: int = 512) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def replay_http(
    client: httpx.Client, server: Server, record: dict[str, Any], path: str | None = None
) -> None:
    body = base64.b64decode(record["body_b64"])
    assert len(body) == record["body_len"]
    headers = [(k, v) for k, v in record["headers"] if k.lower() not in DROPPED_HEADERS]
    content_type = next(v for k, v in headers if k.lower() == "content-type")
    # A generator makes httpx send it chunked, with no Content-Length, as the JS exporters did.
    content = _chunks(body) if record.get("chunked") else body
    reply = client.post(server.otlp_http_url + (path or record["path"]), headers=headers, content=content)
    what = f"seq {record['seq']} {record['path']}"
    assert reply.status_code == 200, f"{what}: {reply.status_code} {reply.content!r}"
    reply_type = reply.headers["content-type"].split(";")[0]
    if content_type.split(";")[0].strip() == "application/json":
        assert (reply_type, reply.content) == ("application/json", b"{}"), what
    else:
        assert (reply_type, reply.content) == ("application/x-protobuf", b""), what


def replay_grpc(channel: grpc.Channel, record: dict[str, Any]) -> None:
    body = base64.b64decode(record["body_b64"])
    assert len(body) == record["body_len"]
    export = channel.unary_unary(record["grpc_method"], request_serializer=None, response_deserializer=None)
    # Both recorded gRPC clients compressed with gzip; the recorded bytes are the decompressed message.
    response, call = export.with_call(body, timeout=10, compression=grpc.Compression.Gzip)
    assert call.code() == grpc.StatusCode.OK
    assert response == b"", f"seq {record['seq']}: a non-empty response means partial success: {response!r}"


def replay(server: Server, records: list[dict[str, Any]]) -> None:
    with httpx.Client(timeout=30) as client, grpc.insecure_channel(server.grpc_target) as channel:
        for record in records:
            if record["transport"] == "http":
                replay_http(client, server, record)
            else:
                assert record["transport"] == "grpc"
                replay_grpc(channel, record)


def stored_counts(server: Server) -> tuple[int, int, int]:
    stats = server.stats()
    return stats["spans"], stats["logs"], stats["metric_points"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_capture_replays_and_stores_exactly_its_items(server: Server, folder: str) -> None:
    records = load_requests(folder)
    want = expected(folder)
    assert records and (want.span_ids or want.log_ids or want.metric_names)
    if folder == "retry-py":
        # Its first trace and log batches were answered 503 and re-sent as they were.
        assert want.resent == 2
        # logs: 7 records (their batch sent twice), 1 more, and the ERROR line of the one exception event
        assert (want.distinct_spans, len(want.span_ids), want.log_ids.total()) == (3, 3, 7 + 1 + 1)
    else:
        assert want.resent == 0 and want.distinct_spans == len(want.span_ids)

    replay(server, records)

    # Every 200 / OK above came after the commit, so the counts are exact right away; each resent
    # request (the same body again) is stored once, whatever its signal.
    spans, logs, points = want.distinct_spans, want.log_ids.total(), want.metric_names.total()
    assert stored_counts(server) == (spans, logs, points)

    assert server.stop() == 0
    stored_spans = server.query("SELECT trace_id, span_id FROM spans")
    assert sorted(stored_spans) == sorted(set(want.span_ids))
    stored_logs = Counter(server.query("SELECT trace_id, span_id FROM logs"))
    assert stored_logs == want.log_ids
    stored_points = Counter(name for (name,) in server.query("SELECT metric_name FROM metric_points"))
    assert stored_points == want.metric_names


def _first(folder: str, path: str) -> dict[str, Any]:
    return next(r for r in load_requests(folder) if r.get("path") == path)


def test_json_with_charset_parameter_is_accepted(server: Server) -> None:
    record = _first("otel-js-http-json", "/v1/traces")
    record = {**record, "headers": [(k, v) for k, v in record["headers"] if k.lower() != "content-type"]}
    record["headers"].append(("Content-Type", "application/json; charset=utf-8"))
    with httpx.Client(timeout=30) as client:
        replay_http(client, server, record)
    want = expected("otel-js-http-json")
    first_batch = 3
    assert len(want.span_ids) > first_batch
    # one of the three spans carries an exception event, which also makes an ERROR log line
    assert stored_counts(server) == (first_batch, 1, 0)


def test_highlight_backend_otel_prefix_is_accepted(server: Server) -> None:
    """Highlight's backend took OTLP at /otel/v1/...; the Node capture (gzip JSON, chunked) works there."""
    records = load_requests("highlight-node")
    with httpx.Client(timeout=30) as client:
        for record in records:
            replay_http(client, server, record, path="/otel" + record["path"])
    want = expected("highlight-node")
    assert stored_counts(server) == (want.distinct_spans, want.log_ids.total(), want.metric_names.total())
    assert want.distinct_spans == 5


def test_json_keep_alive_reply_is_not_held_back_by_nagle(server: Server) -> None:
    """OTel JS / Highlight Node post JSON on one keep-alive connection; `{}` replies must not stall.

    An empty request stores nothing (no commit), so a healthy reply takes ~1 ms; Nagle + delayed
    ACK makes it ~40 ms on Linux.
    """
    timings = []
    with httpx.Client(timeout=30) as client:
        for _ in range(8):
            started = time.perf_counter()
            reply = client.post(f"{server.otlp_http_url}/v1/traces", headers=JSON_HEADERS, content=b"{}")
            timings.append(time.perf_counter() - started)
            assert (reply.status_code, reply.content) == (200, b"{}")
    assert statistics.median(timings[1:]) < 0.020, [round(t * 1000, 1) for t in timings]


def test_fixture_folders_are_all_found() -> None:
    """Guards the parametrization: an empty glob would silently replay nothing."""
    assert FOLDERS == [
        "highlight-node", "highlight-py", "highlight-py-0.9", "otel-js-http-json",
        "otel-py-grpc", "otel-py-http", "retry-py",
    ]  # fmt: skip
