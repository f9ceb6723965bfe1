"""`--forward URL`: what arrives over OTLP is also sent on, as OTLP/HTTP protobuf, to upstreams.

Fed after the commit: an ingest handler hands its request body to `Forwarder.offer` only once the
rows are stored, so the local answer never waits for an upstream and never fails because of one.
`offer` is O(1) and never blocks: each upstream has its own queue, bounded in bytes, and a request
that does not fit is dropped and counted. One task per upstream sends its queue in order, one
request at a time; 429, 502, 503, 504, timeouts and refused connections are retried with
exponential backoff (0.5 s doubling to 30 s, with jitter) or after the upstream's Retry-After,
for at most MAX_RETRY_S per request; any other answer is final (OTLP/HTTP's rules). Every drop
is counted per reason (`/api/stats` `forward`) and logged, at most once per LOG_EVERY_S per
upstream and reason, with the count since the last line: never silent, never a flood.

OTLP/JSON bodies (the browser SDK sends JSON) are converted to protobuf in a worker thread with
the official OTLP message classes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import msgspec

from hl_local.query.responses import ForwardStats

log = logging.getLogger(__name__)

Signal = str  # traces, logs or metrics: the path under /v1/

MAX_QUEUE_BYTES = 64 * 1024 * 1024  # per upstream: about a minute of heavy local traffic
MAX_RETRY_S = 120.0  # per request, from its first attempt
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.5, 30.0
TIMEOUT_S = 10.0
LOG_EVERY_S = 30.0
_RETRYABLE = frozenset({429, 502, 503, 504})
_PROTOBUF = "application/x-protobuf"
_JSON_IDS = frozenset({"traceId", "spanId", "parentSpanId"})


@dataclass(slots=True)
class _Item:
    signal: Signal
    body: bytes
    is_json: bool


class _Refused(Exception):
    """The upstream's answer (or our conversion) says retrying cannot help."""


class _Retry(Exception):
    def __init__(self, reason: str, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.after_s = after_s


class Upstream:
    """One `--forward` URL: its queue, its sender task, its counts."""

    def __init__(self, url: str, max_queue_bytes: int = MAX_QUEUE_BYTES) -> None:
        self.url = url
        self._queue: deque[_Item] = deque()
        self._queued_bytes = 0
        self._max_queue_bytes = max_queue_bytes
        self._ready = asyncio.Event()
        self.sent = self.retried = 0
        self.dropped = {"queue_full": 0, "refused": 0, "retries_exhausted": 0}
        self.last_error: str | None = None
        self._unlogged = {reason: 0 for reason in self.dropped}
        self._logged_at = {reason: 0.0 for reason in self.dropped}

    def offer(self, item: _Item) -> None:
        if self._queued_bytes + len(item.body) > self._max_queue_bytes:
            self._drop("queue_full", f"the queue of {self._max_queue_bytes} bytes is full")
            return
        self._queue.append(item)
        self._queued_bytes += len(item.body)
        self._ready.set()

    def stats(self) -> ForwardStats:
        d = self.dropped
        return ForwardStats(
            self.url, len(self._queue), self.sent, self.retried, sum(d.values()),
            d["queue_full"], d["refused"], d["retries_exhausted"], self.last_error,
        )  # fmt: skip

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            await self._ready.wait()
            while self._queue:
                item = self._queue[0]
                try:
                    await self._deliver(client, item)
                except Exception as exc:  # a bug here must not stop forwarding for good
                    log.exception("forward to %s failed unexpectedly", self.url)
                    self._drop("refused", f"{type(exc).__name__}: {exc}")
                self._queue.popleft()
                self._queued_bytes -= len(item.body)
            self._ready.clear()

    async def _deliver(self, client: httpx.AsyncClient, item: _Item) -> None:
        started = time.monotonic()
        backoff = FIRST_BACKOFF_S
        try:
            body = await _protobuf(item)
        except _Refused as exc:
            self._drop("refused", str(exc))
            return
        while True:
            try:
                await self._post(client, item.signal, body)
                self.sent += 1
                return
            except _Refused as exc:
                self._drop("refused", str(exc))
                return
            except _Retry as exc:
                self.last_error = str(exc)
                delay = exc.after_s if exc.after_s is not None else backoff * random.uniform(0.8, 1.2)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                if time.monotonic() + delay - started > MAX_RETRY_S:
                    self._drop("retries_exhausted", f"{exc}, still after {MAX_RETRY_S:.0f} s")
                    return
                self.retried += 1
                await asyncio.sleep(delay)

    async def _post(self, client: httpx.AsyncClient, signal: Signal, body: bytes) -> None:
        try:
            reply = await client.post(f"{self.url}/v1/{signal}", content=body,
                                      headers={"content-type": _PROTOBUF})  # fmt: skip
        except httpx.TransportError as exc:  # refused, reset, timed out: the upstream may come back
            raise _Retry(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
        if reply.is_success:
            return
        what = f"{self.url}/v1/{signal} answered {reply.status_code}"
        if reply.status_code in _RETRYABLE:
            raise _Retry(what, retry_after_s(reply.headers.get("retry-after")))
        raise _Refused(f"{what}: {reply.text[:200]!r}")

    def _drop(self, reason: str, why: str) -> None:
        self.dropped[reason] += 1
        self._unlogged[reason] += 1
        self.last_error = why
        now = time.monotonic()
        if now - self._logged_at[reason] >= LOG_EVERY_S:
            count = self._unlogged[reason]
            log.warning("forward to %s: dropped %d request%s (%s): %s", self.url, count,
                        "" if count == 1 else "s", reason.replace("_", " "), why)  # fmt: skip
            self._unlogged[reason] = 0
            self._logged_at[reason] = now


class Forwarder:
    """Every `--forward` upstream; `offer` hands each of them a committed OTLP request body."""

    def __init__(self, urls: list[str], headers: list[tuple[str, str]]) -> None:
        self.upstreams = [Upstream(url) for url in urls]
        self._headers = dict(headers)
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # else a line per request sent on
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S, headers=self._headers)
        self._tasks = [asyncio.create_task(up.run(self._client)) for up in self.upstreams]

    def offer(self, signal: Signal, body: bytes, is_json: bool) -> None:
        for upstream in self.upstreams:
            upstream.offer(_Item(signal, body, is_json))

    def stats(self) -> list[ForwardStats]:
        return [upstream.stats() for upstream in self.upstreams]

    async def close(self, grace_s: float = 2.0) -> None:
        """Give the queues `grace_s` to drain, then stop; say what was left unsent."""
        deadline = time.monotonic() + grace_s
        while any(up.stats().queued for up in self.upstreams) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for upstream in self.upstreams:
            left = upstream.stats().queued
            if left:
                log.warning("forward to %s: %d request(s) not sent before the stop", upstream.url, left)
        if self._client is not None:
            await self._client.aclose()


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# ---------------------------------------------------------------- OTLP/JSON → protobuf

_REQUESTS: dict[str, str] = {
    "traces": "opentelemetry.proto.collector.trace.v1.trace_service_pb2.ExportTraceServiceRequest",
    "logs": "opentelemetry.proto.collector.logs.v1.logs_service_pb2.ExportLogsServiceRequest",
    "metrics": "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2.ExportMetricsServiceRequest",
}


async def _protobuf(item: _Item) -> bytes:
    if not item.is_json:
        return item.body
    return await anyio.to_thread.run_sync(json_to_protobuf, item.signal, item.body)


def json_to_protobuf(signal: str, body: bytes) -> bytes:
    """An OTLP/JSON request as the protobuf the upstream takes (hex ids become bytes)."""
    import importlib

    from google.protobuf import json_format

    module, _, name = _REQUESTS[signal].rpartition(".")
    message = getattr(importlib.import_module(module), name)()
    try:
        json_format.ParseDict(_ids_as_base64(msgspec.json.decode(body)), message, ignore_unknown_fields=True)
    except (msgspec.DecodeError, json_format.ParseError, ValueError) as exc:
        raise _Refused(f"the OTLP/JSON body could not be converted to protobuf: {exc}") from None
    return bytes(message.SerializeToString())


def _ids_as_base64(value: Any) -> Any:
    """OTLP/JSON writes trace and span ids in hex; protobuf's JSON mapping wants bytes as base64."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _JSON_IDS and isinstance(item, str):
                with contextlib.suppress(ValueError):  # not hex: already base64, as a few exporters send
                    item = base64.b64encode(bytes.fromhex(item)).decode()
            else:
                item = _ids_as_base64(item)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_ids_as_base64(item) for item in value]
    return value
