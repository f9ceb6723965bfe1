"""Deterministic, realistic OTLP trace and log requests for the benchmarks.

Shape follows the shared performance baseline: 1 resource (8 attributes), 1 scope,
512 items per request; spans in traces of 8-64 spans, 10 attributes of mixed types,
1-2 events (exception events carry a 12-frame stack); log bodies of 60-300 chars
with 6 attributes, trace context on 70 % of them. Cardinality is mixed on purpose:
methods and routes repeat, ids, sizes and durations mostly do not.

Exceptions come in three mixes (`MIXES`): "realistic", 1 % of spans raise, with one of 20
stacks (real apps repeat theirs); "heavy", every fifth span's first event raises with a stack
of its own (the benchmark's original shape); "none", no exception at all.
"""

from __future__ import annotations

import random

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

ROUTES = ["/api/cart", "/api/cart/{id}", "/api/checkout", "/api/products", "/api/users/{id}", "/health"]
METHODS = ["GET", "POST", "PUT", "DELETE"]
SERVICES = ["checkout", "cart", "catalog", "users"]
WORDS = (
    "request handled user cart order payment retry timeout cache miss hit query rows "
    "connection pool acquired released upstream latency budget exceeded queue worker"
).split()
BASE_NS = 1_795_000_000_000_000_000


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, list):
        items = [AnyValue(string_value=v) for v in value]
        return KeyValue(key=key, value=AnyValue(array_value=ArrayValue(values=items)))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _resource(rng: random.Random, service: str) -> list[KeyValue]:
    return [
        _kv("service.name", service),
        _kv("service.version", "1.4.2"),
        _kv("deployment.environment", "dev"),
        _kv("host.name", f"laptop-{rng.randint(1, 3)}"),
        _kv("telemetry.sdk.name", "opentelemetry"),
        _kv("telemetry.sdk.language", "python"),
        _kv("telemetry.sdk.version", "1.45.2"),
        _kv("process.pid", rng.randint(1000, 60000)),
    ]


def _stack(rng: random.Random) -> str:
    frames = [
        f'  File "/home/dev/app/{rng.choice(WORDS)}.py", line {rng.randint(1, 400)}, in {rng.choice(WORDS)}\n'
        f"    {rng.choice(WORDS)}({rng.choice(WORDS)})\n"
        for _ in range(12)
    ]
    return "Traceback (most recent call last):\n" + "".join(frames) + "KeyError: 'missing'"


def _span_attributes(rng: random.Random, method: str, route: str) -> list[KeyValue]:
    return [
        _kv("http.method", method),
        _kv("http.route", route),
        _kv("http.status_code", rng.choice([200, 200, 200, 201, 404, 500])),
        _kv("http.url", f"http://localhost:8000{route.replace('{id}', str(rng.randint(1, 5000)))}"),
        _kv("user.id", f"user-{rng.randint(1, 200)}"),
        _kv("db.rows", rng.randint(0, 500)),
        _kv("duration_ms", round(rng.random() * 250, 3)),
        _kv("cache.hit", rng.random() < 0.5),
        _kv("feature.flags", ["new-checkout", "dark-mode"][: rng.randint(0, 2)]),
        _kv("highlight.session_id", f"sess{rng.randint(1, 50):04d}"),
    ]


MIXES = ("realistic", "heavy", "none")
# The realistic mix's pool: 20 (type, message, stack), the same on every run.
_POOL_RNG = random.Random(20)
STACK_POOL = [
    (f"{kind}Error", f"{_POOL_RNG.choice(WORDS)} {_POOL_RNG.choice(WORDS)} failed", _stack(_POOL_RNG))
    for kind in ["Key", "Value", "Type", "Runtime", "Lookup"] * 4
]


def _exception(rng: random.Random, mix: str, first_event: bool) -> tuple[str, str, str] | None:
    """(type, message, stack) of an exception event, or None for an ordinary event."""
    if mix == "heavy":
        return ("KeyError", "'missing'", _stack(rng)) if rng.random() < 0.2 else None
    if mix == "realistic" and first_event and rng.random() < 0.01:
        return rng.choice(STACK_POOL)
    return None


def trace_request(seed: int, spans_per_request: int = 512, mix: str = "heavy") -> bytes:
    """One ExportTraceServiceRequest, serialized; `mix` says which spans raise (MIXES)."""
    rng = random.Random(seed)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(_resource(rng, rng.choice(SERVICES)))
    ss = rs.scope_spans.add()
    ss.scope.name = "bench.otlpgen"
    ss.scope.version = "1.0"
    t = BASE_NS + seed * 1_000_000_000
    made = 0
    while made < spans_per_request:
        trace_id = rng.randbytes(16)
        size = min(rng.randint(8, 64), spans_per_request - made)
        root = rng.randbytes(8)
        for i in range(size):
            method, route = rng.choice(METHODS), rng.choice(ROUTES)
            start = t + rng.randint(0, 10_000_000)
            span = Span(
                trace_id=trace_id,
                span_id=root if i == 0 else rng.randbytes(8),
                parent_span_id=b"" if i == 0 else root,
                name=f"{method} {route}",
                kind=2 if i == 0 else 3,
                start_time_unix_nano=start,
                end_time_unix_nano=start + rng.randint(10_000, 50_000_000),
                status=Status(code=rng.choice([0, 0, 0, 1, 2])),
            )
            span.attributes.extend(_span_attributes(rng, method, route))
            for n in range(rng.randint(1, 2)):
                ev = span.events.add(time_unix_nano=start + 1000)
                exception = _exception(rng, mix, n == 0)
                if exception:
                    ev.name = "exception"
                    ev.attributes.extend(
                        [
                            _kv("exception.type", exception[0]),
                            _kv("exception.message", exception[1]),
                            _kv("exception.stacktrace", exception[2]),
                        ]
                    )
                else:
                    ev.name = rng.choice(["cache.miss", "retry", "db.connect"])
                    ev.attributes.extend([_kv("attempt", rng.randint(1, 3))])
            ss.spans.append(span)
            made += 1
        t += 20_000_000
    return req.SerializeToString()


def log_request(seed: int, records_per_request: int = 512) -> bytes:
    """One ExportLogsServiceRequest, serialized."""
    rng = random.Random(seed + 10_000_000)
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(_resource(rng, rng.choice(SERVICES)))
    sl = rl.scope_logs.add()
    sl.scope.name = "bench.otlpgen"
    t = BASE_NS + seed * 1_000_000_000
    levels = [(5, "DEBUG"), (9, "INFO"), (9, "INFO"), (9, "INFO"), (13, "WARN"), (17, "ERROR")]
    for i in range(records_per_request):
        number, text = rng.choice(levels)
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))[: rng.randint(60, 300)]
        rec = LogRecord(
            time_unix_nano=t + i * 100_000,
            observed_time_unix_nano=t + i * 100_000 + 50,
            severity_number=number,
            severity_text=text,
            body=AnyValue(string_value=body),
        )
        if rng.random() < 0.7:
            rec.trace_id = rng.randbytes(16)
            rec.span_id = rng.randbytes(8)
            rec.flags = 1
        rec.attributes.extend(
            [
                _kv("logger", f"app.{rng.choice(WORDS)}"),
                _kv("code.function", rng.choice(WORDS)),
                _kv("code.lineno", rng.randint(1, 500)),
                _kv("user.id", f"user-{rng.randint(1, 200)}"),
                _kv("request.bytes", rng.randint(0, 100_000)),
                _kv("highlight.session_id", f"sess{rng.randint(1, 50):04d}"),
            ]
        )
        sl.log_records.append(rec)
    return req.SerializeToString()
