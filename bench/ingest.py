"""Ingest benchmark: OTLP/HTTP protobuf batches from a separate process into a real hl-local.

Run by hand (never in the test suite):

    .venv/bin/python bench/ingest.py              # every workload, 5 runs each
    .venv/bin/python bench/ingest.py --runs 3 --batches 150 --workload spans-realistic

Each run starts a fresh `hl-local` on free ports with a new database file, measures spawn →
first /health 200 and idle RSS, then a sender process POSTs distinct 512-item batches over
`--connections` keep-alive connections. A batch counts when it is acknowledged (200), which by
hl-local's contract means committed; the landed count is then checked against the database
(/api/stats). Reported: items/s landed, ack latency p50/p99, peak RSS (VmHWM), as medians over
the runs, plus the ratio to a machine-speed baseline measured in the same invocation (upb
protobuf decode of the same bodies, no walk), because this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import otlpgen

# workload → (OTLP signal, table it lands in, request generator); reported in this order.
WORKLOADS = {
    "spans-realistic": ("traces", "spans", lambda seed: otlpgen.trace_request(seed, mix="realistic")),
    "spans-heavy": ("traces", "spans", lambda seed: otlpgen.trace_request(seed, mix="heavy")),
    "spans-none": ("traces", "spans", lambda seed: otlpgen.trace_request(seed, mix="none")),
    "logs": ("logs", "logs", otlpgen.log_request),
}
CACHE = Path(tempfile.gettempdir()) / "hl-local-bench"


def bodies(workload: str, count: int) -> list[bytes]:
    """Distinct request bodies, generated once and cached on disk (generation is slow)."""
    CACHE.mkdir(exist_ok=True)
    make = WORKLOADS[workload][2]
    out = []
    for seed in range(count):
        path = CACHE / f"{workload}-{seed}.pb"
        if not path.exists():
            path.write_bytes(make(seed))
        out.append(path.read_bytes())
    return out


def rss_kib(pid: int, field: str) -> int:
    """`field` of the process plus its child processes (the decoders; shared pages count twice)."""
    text = Path(f"/proc/{pid}/status").read_text()
    own = int(re.search(rf"{field}:\s+(\d+) kB", text).group(1))  # type: ignore[union-attr]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(rss_kib(int(child), field) for child in children)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, its threads and its child processes (the decoder
    processes): what a run costs the server, which a busy machine stretches far less than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_s(int(child)) for child in children)


def start_server(db: Path) -> tuple[subprocess.Popen[str], str, str, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "hl_local", "--no-open", "--db", str(db), "--port", "0",
         "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    ui = otlp = ""
    assert process.stdout is not None
    while not (ui and otlp):
        line = process.stdout.readline()
        if not line:
            raise SystemExit("hl-local did not start")
        if m := re.match(r"hl-local UI and API\s+(\S+)", line):
            ui = m.group(1)
        if m := re.match(r"OTLP/HTTP\s+(\S+)/v1/traces", line):
            otlp = m.group(1)
    while True:
        try:
            with urllib.request.urlopen(f"{ui}/health", timeout=1) as reply:
                if reply.status == 200:
                    break
        except OSError:
            time.sleep(0.005)
    return process, ui, otlp, time.perf_counter() - started


def send(
    url: str, path: str, payloads: list[bytes], connections: int, results: multiprocessing.Queue
) -> None:
    """The sender process: POST every payload once, `connections` at a time; report timings."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    next_index = iter(range(len(payloads)))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            while True:
                t0 = time.perf_counter()
                conn.request("POST", path, payloads[i], {"Content-Type": "application/x-protobuf"})
                reply = conn.getresponse()
                reply.read()
                if reply.status == 503:  # honour Retry-After like a real exporter, but faster
                    time.sleep(0.05)
                    continue
                break
            with lock:
                if reply.status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failures.append(reply.status)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((started, time.perf_counter(), latencies, failures))


def stats(ui: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{ui}/api/stats", timeout=30) as reply:
        return json.load(reply)


def one_run(workload: str, payloads: list[bytes], items: int, connections: int) -> dict[str, float]:
    signal, table, _ = WORKLOADS[workload]
    with tempfile.TemporaryDirectory() as tmp:
        process, ui, otlp, startup_s = start_server(Path(tmp) / "bench.duckdb")
        try:
            idle_rss = rss_kib(process.pid, "VmRSS") / 1024
            cpu_before = cpu_s(process.pid)
            results: multiprocessing.Queue = multiprocessing.Queue()
            sender = multiprocessing.Process(
                target=send, args=(otlp, f"/v1/{signal}", payloads, connections, results)
            )
            sender.start()
            started, finished, latencies, failures = results.get()
            sender.join()
            landed = stats(ui)[table]
            cpu_used = cpu_s(process.pid) - cpu_before
            peak_rss = rss_kib(process.pid, "VmHWM") / 1024
        finally:
            process.terminate()
            process.wait(timeout=60)
    if failures or landed != items:
        raise SystemExit(f"{workload}: {len(failures)} failed requests, {landed} of {items} landed")
    latencies.sort()
    return {
        "items_per_s": items / (finished - started),
        "ack_p50_ms": latencies[len(latencies) // 2] * 1000,
        "ack_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "peak_rss_mib": peak_rss,
        "idle_rss_mib": idle_rss,
        "startup_s": startup_s,
        "cpu_us_per_item": cpu_used / items * 1e6,
    }


def decode_baseline(signal: str, payloads: list[bytes]) -> float:
    """Items/s of a bare upb parse of the same bodies: how fast this machine is right now."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest if signal == "traces" else ExportLogsServiceRequest
    started = time.perf_counter()
    for body in payloads:
        message.FromString(body)
    return 512 * len(payloads) / (time.perf_counter() - started)


def naive_walk_baseline(signal: str, payloads: list[bytes]) -> float:
    """Items/s of the straightforward walk (official classes, every AnyValue in Python, msgspec
    JSON): the "~30,000 spans/s when done naively" the ingest issue measures against."""
    import msgspec
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    encode = msgspec.json.encode

    def value(v: object) -> object:
        kind = v.WhichOneof("value")  # type: ignore[attr-defined]
        if kind == "array_value":
            return [value(x) for x in v.array_value.values]  # type: ignore[attr-defined]
        return getattr(v, kind) if kind else None

    def attrs(kvs: object) -> bytes:
        return encode({kv.key: value(kv.value) for kv in kvs})  # type: ignore[attr-defined]

    started = time.perf_counter()
    rows = []
    for body in payloads:
        if signal == "traces":
            for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        events = [(e.name, e.time_unix_nano, attrs(e.attributes)) for e in sp.events]
                        rows.append((sp.trace_id.hex(), sp.span_id.hex(), sp.parent_span_id.hex(), sp.name,
                                     sp.kind, sp.start_time_unix_nano, sp.end_time_unix_nano, sp.status.code,
                                     attrs(sp.attributes), encode(events)))  # fmt: skip
        else:
            for rl in ExportLogsServiceRequest.FromString(body).resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        rows.append((r.time_unix_nano, r.trace_id.hex(), r.span_id.hex(), r.severity_text,
                                     value(r.body), attrs(r.attributes)))  # fmt: skip
    return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=200, help="distinct 512-item batches per run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--workload", choices=list(WORKLOADS), action="append",
        help="what to send (default: all of them, the realistic mix first); may be repeated",
    )  # fmt: skip
    args = parser.parse_args()
    chosen = args.workload or list(WORKLOADS)
    for workload in chosen:
        signal, table, _ = WORKLOADS[workload]
        payloads = bodies(workload, args.batches)
        items = 512 * len(payloads)
        runs, baselines, naive = [], [], []
        for _ in range(args.runs):
            baselines.append(decode_baseline(signal, payloads))
            naive.append(naive_walk_baseline(signal, payloads))
            runs.append(one_run(workload, payloads, items, args.connections))
            print(f"  {workload} run: " + ", ".join(f"{k} {v:,.1f}" for k, v in runs[-1].items()), flush=True)
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        base = statistics.median(baselines)
        naive_rate = statistics.median(naive)
        low, high = min(r["items_per_s"] for r in runs), max(r["items_per_s"] for r in runs)
        print(
            f"{workload}: {median['items_per_s']:,.0f} {table}/s landed "
            f"(min {low:,.0f}, max {high:,.0f}; "
            f"{args.runs} runs of {items:,}, {args.connections} connections), "
            f"ack p50 {median['ack_p50_ms']:.1f} ms, "
            f"p99 {median['ack_p99_ms']:.1f} ms, peak RSS {median['peak_rss_mib']:.0f} MiB, "
            f"idle RSS {median['idle_rss_mib']:.0f} MiB, spawn→ready {median['startup_s']:.2f} s, "
            f"server CPU {median['cpu_us_per_item']:.1f} µs/item; "
            f"ratio to bare protobuf decode ({base:,.0f}/s) {median['items_per_s'] / base:.3f}, "
            f"to a naive decode+walk ({naive_rate:,.0f}/s, no storing) "
            f"{median['items_per_s'] / naive_rate:.2f}"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
