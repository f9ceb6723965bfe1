"""Retention under sustained ingest: the file size over a run that writes 3x --max-size, and the pauses.

Run by hand (never in the test suite):

    .venv/bin/python bench/retention.py                    # --max-size 64MiB, traces and logs
    .venv/bin/python bench/retention.py --cap-mib 256 --write-factor 3

A fresh hl-local with `--max-size CAP --max-age 0` takes OTLP/HTTP protobuf batches (bench/otlpgen.py:
512 spans or 512 log records each, alternating, 2 keep-alive connections) until the rows it stored
reach `--write-factor` x the rows it keeps under the cap: stored = kept + pruned (/api/stats: spans,
logs, metric points and errors kept; retention's pruned rows), so 3x means twice what the capped
file holds has been pruned. Every 0.5 s it samples the database file and its WAL (what the user
sees on disk) and /api/stats.

Reported: the largest and the last file size against the cap; the longest prune step and the longest
checkpoint after one the server measured; ack latency p50 / p99 / max before the first prune (the same-run
baseline) and while pruning, and their ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.otlpgen import log_request, trace_request

MIB = 1024 * 1024


def start(db: Path, cap: int) -> tuple[subprocess.Popen[str], str, str]:
    args = [sys.executable, "-m", "hl_local", "--no-open", "--port", "0", "--otlp-http-port", "0",
            "--otlp-grpc-port", "0", "--db", str(db), "--max-size", str(cap), "--max-age", "0"]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ui = otlp = ""
    assert process.stdout is not None
    while not (ui and otlp):
        line = process.stdout.readline()
        if not line:
            raise SystemExit("hl-local did not start")
        if line.startswith("hl-local UI and API"):
            ui = line.split()[-1]
        elif line.startswith("OTLP/HTTP"):
            otlp = line.split()[1].rsplit("/v1/", 1)[0]
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    return process, ui, otlp


def stats(ui: str) -> dict[str, object]:
    host, port = ui.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/api/stats")
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert isinstance(answer, dict)
    return answer


def on_disk(db: Path) -> int:
    wal = db.with_name(db.name + ".wal")
    return sum(os.stat(p).st_size for p in (db, wal) if p.exists())


class Run:
    def __init__(self, db: Path, ui: str, otlp: str, cap: int, factor: float) -> None:
        self.db, self.ui, self.otlp, self.cap, self.factor = db, ui, otlp, cap, factor
        self.lock = threading.Lock()
        self.items = 0
        self.rows_kept = self.rows_pruned = 0
        self.pruning_started = False
        self.latencies_before: list[float] = []
        self.latencies_pruning: list[float] = []
        self.sizes: list[tuple[float, int, int]] = []  # (s, on disk, data bytes)
        self.done = threading.Event()
        self.refused = 0

    def send(self, worker: int) -> None:
        host, port = self.otlp.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        seed = worker * 1_000_000
        bodies = [(kind, make(seed + i)) for i in range(4) for kind, make in
                  (("traces", trace_request), ("logs", log_request))]  # fmt: skip
        n = 0
        while not self.done.is_set():
            kind, body = bodies[n % len(bodies)]
            if kind == "traces":  # fresh trace ids, so spans are not ignored as resent
                body = with_trace_prefix(body, seed + n)
            n += 1
            started = time.perf_counter()
            connection.request("POST", f"/v1/{kind}", body, {"content-type": "application/x-protobuf"})
            reply = connection.getresponse()
            reply.read()
            elapsed = time.perf_counter() - started
            with self.lock:
                if reply.status != 200:
                    self.refused += 1
                    continue
                (self.latencies_pruning if self.pruning_started else self.latencies_before).append(elapsed)
                self.items += 512

    def sample(self) -> None:
        started = time.perf_counter()
        while not self.done.is_set():
            current = stats(self.ui)
            kept = current["retention"]
            assert isinstance(kept, dict)
            data = int(kept["data_bytes"] or 0)
            rows_kept = sum(int(str(current[k])) for k in ("spans", "logs", "metric_points", "errors"))
            pruned = int(kept["pruned_rows"])
            with self.lock:
                if not self.pruning_started and pruned:
                    self.pruning_started = True
                self.rows_kept, self.rows_pruned = rows_kept, pruned
                if pruned and rows_kept + pruned >= self.factor * rows_kept:
                    self.done.set()
            self.sizes.append((time.perf_counter() - started, on_disk(self.db), data))
            time.sleep(0.5)


def with_trace_prefix(body: bytes, prefix: int) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.trace_id = prefix.to_bytes(8, "big") + span.trace_id[8:]
    return request.SerializeToString()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cap-mib", type=int, default=64)
    parser.add_argument("--write-factor", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=2)
    options = parser.parse_args()
    cap = options.cap_mib * MIB
    with tempfile.TemporaryDirectory(prefix="hl-retention-") as folder:
        db = Path(folder) / "hl.duckdb"
        process, ui, otlp = start(db, cap)
        run = Run(db, ui, otlp, cap, options.write_factor)
        started = time.perf_counter()
        threads = [threading.Thread(target=run.send, args=(i,)) for i in range(options.connections)]
        sampler = threading.Thread(target=run.sample)
        for thread in [*threads, sampler]:
            thread.start()
        for thread in [*threads, sampler]:
            thread.join()
        elapsed = time.perf_counter() - started
        final = stats(ui)
        process.terminate()
        process.wait(timeout=60)
    kept = final["retention"]
    assert isinstance(kept, dict)
    peak = max(size for _, size, _ in run.sizes)
    stored = run.rows_kept + run.rows_pruned
    before, during = run.latencies_before, run.latencies_pruning
    print(
        f"cap {cap / MIB:.0f} MiB; stored {stored:,} rows, {stored / max(1, run.rows_kept):.1f}x the "
        f"{run.rows_kept:,} kept at the end ({run.items:,} items sent in {elapsed:.0f} s, "
        f"{run.items / elapsed:,.0f}/s, {run.refused} refused)"
    )
    print(
        f"file + WAL: peak {peak / MIB:.0f} MiB ({peak / cap:.2f}x the cap), "
        f"last {run.sizes[-1][1] / MIB:.0f} MiB; data at the end {int(kept['data_bytes']) / MIB:.0f} MiB"
    )
    print(
        f"pruned {kept['pruned_rows']:,} rows; longest prune step {kept['longest_step_ms']} ms, longest "
        f"checkpoint after a prune {kept['longest_checkpoint_ms']} ms (server-side)"
    )
    for name, values in (("before pruning (baseline)", before), ("while pruning", during)):
        print(
            f"ack latency {name}: p50 {percentile(values, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.0f} ms, max {max(values, default=0) * 1000:.0f} ms "
            f"({len(values)} requests)"
        )
    if before and during:
        print(
            f"ratio while pruning / before: p50 x{statistics.median(during) / statistics.median(before):.2f},"
            " "
            f"p99 x{percentile(during, 0.99) / percentile(before, 0.99):.2f}"
        )
    timeline = ", ".join(
        f"{t:.0f}s {size / MIB:.0f}" for t, size, _ in run.sizes[:: max(1, len(run.sizes) // 12)]
    )
    print(f"file MiB over time: {timeline}")


if __name__ == "__main__":
    main()
