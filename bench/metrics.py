"""Metrics benchmark: the series endpoint at 1M metric points, and the Metrics page's first chart.

Run by hand (never in the test suite):

    .venv/bin/python bench/metrics.py --db /tmp/m1m.duckdb            # builds the store once, 10 runs
    .venv/bin/python bench/metrics.py --db /tmp/m1m.duckdb --runs 20 --ui-runs 5

The store (built when `--db` does not exist) gets `--points` points through the real OTLP/HTTP
protobuf path and the real writer, as one export every 10 s (~35 hours of them for 1M) from 4 services:
- `http.server.requests`: a cumulative counter per (service, route): 8 routes;
- `http.server.duration`: a cumulative histogram per (service, route), 14 explicit bounds;
- `process.cpu.utilization`: a gauge per service;
- `LCP`: highlight.run's web-vital gauge, one per (session, page), 2,000 sessions.
The four take about 40 / 40 / 5 / 15 % of the points.

Then, over HTTP (p50 / p95 ms of `--runs` after a warm-up, round-robin over the shapes): the metric
list, the series of each type (with and without group-by), web vitals, and `/health` (the floor).
Baseline in the same run: the bare scan behind each series, a bucketed `count(*)` of the same
metric's points in DuckDB on a read-only copy of the store, in process (what reading those points
costs before any aggregation of ours and without HTTP), and the ratio to it.

UI (`--ui-runs`, headless Chromium): navigation to /metrics?metric=… → the chart drawn (its line's
points in the DOM), for the counter and the histogram, against the same on a store of one small
metric (a baseline of the page itself, same run). Medians.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

SERVICES = ["checkout", "catalog", "search", "accounts"]
ROUTES = ["/", "/cart", "/checkout", "/search", "/item/:id", "/login", "/api/orders", "/api/stock"]
BOUNDS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
PAGES = ["/", "/cart", "/checkout", "/search", "/item", "/account"]
HOUR_NS = 3600 * 10**9
STEP_NS = 10 * 10**9
TICKS_PER_REQUEST = 50


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


class Builder:
    """Cumulative state of every stream, and one export request per tick."""

    def __init__(self, start_ns: int, sessions: int) -> None:
        self.start_ns = start_ns
        self.counts: dict[tuple[str, str], int] = {}
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = {}
        self.sessions = [f"BenchSession{i:016d}" for i in range(sessions)]
        self.rng = random.Random(7)

    def tick(self, request: ExportMetricsServiceRequest, at: int, vitals: int) -> None:
        """Add one export's points (every stream at `at`) to `request`."""
        for service in SERVICES:
            rm = request.resource_metrics.add(resource=Resource(attributes=[_kv("service.name", service)]))
            sm = rm.scope_metrics.add(scope=InstrumentationScope(name="bench"))
            counter = sm.metrics.add(name="http.server.requests", unit="1")
            counter.sum.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
            counter.sum.is_monotonic = True
            histogram = sm.metrics.add(name="http.server.duration", unit="ms")
            histogram.histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
            for route in ROUTES:
                key = (service, route)
                new = self.rng.randint(0, 40)
                self.counts[key] = self.counts.get(key, 0) + new
                counter.sum.data_points.add(
                    attributes=[_kv("http.route", route)], start_time_unix_nano=self.start_ns,
                    time_unix_nano=at, as_int=self.counts[key],
                )  # fmt: skip
                buckets = self.buckets.setdefault(key, [0] * (len(BOUNDS) + 1))
                for _ in range(new):
                    value = self.rng.lognormvariate(4, 1)
                    buckets[next((i for i, b in enumerate(BOUNDS) if value <= b), len(BOUNDS))] += 1
                    self.sums[key] = self.sums.get(key, 0.0) + value
                histogram.histogram.data_points.add(
                    attributes=[_kv("http.route", route)], start_time_unix_nano=self.start_ns,
                    time_unix_nano=at, count=sum(buckets), sum=self.sums.get(key, 0.0),
                    bucket_counts=buckets, explicit_bounds=BOUNDS,
                )  # fmt: skip
            cpu = sm.metrics.add(name="process.cpu.utilization", unit="1")
            cpu.gauge.data_points.add(time_unix_nano=at, as_double=self.rng.random())
        browser = request.resource_metrics.add(
            resource=Resource(attributes=[_kv("service.name", "shop-web")])
        )
        vitals_scope = browser.scope_metrics.add(scope=InstrumentationScope(name="highlight-browser"))
        lcp = vitals_scope.metrics.add(name="LCP", unit="ms")
        for _ in range(vitals):
            session = self.rng.choice(self.sessions)
            page = "https://shop.example.com" + self.rng.choice(PAGES)
            attributes = [
                _kv("group", page),
                _kv("category", "WebVital"),
                _kv("highlight.session_id", session),
            ]
            lcp.gauge.data_points.add(
                attributes=attributes, time_unix_nano=at, as_double=self.rng.lognormvariate(7.5, 0.5)
            )


def start(db: Path) -> tuple[subprocess.Popen[str], str, str]:
    """hl-local on `db`: (process, UI URL, OTLP/HTTP URL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hl_local", "--no-open", "--db", str(db), "--port", "0",
         "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    ui = otlp = ""
    for line in process.stdout:
        if found := re.match(r"hl-local UI and API\s+(\S+)", line):
            ui = found.group(1)
        elif found := re.match(r"OTLP/HTTP\s+(\S+)/v1/traces", line):
            otlp = found.group(1)
        if ui and otlp:
            return process, ui, otlp
    raise SystemExit(f"hl-local did not start on {db}")


def _connection(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=600)


def build(db: Path, points: int) -> None:
    per_tick = len(SERVICES) * (2 * len(ROUTES) + 1)
    vitals = max(1, round(per_tick * 0.15 / 0.85))  # LCP is ~15 % of the points
    ticks = max(1, points // (per_tick + vitals))
    now = time.time_ns()
    start_ns = now - ticks * STEP_NS
    builder = Builder(start_ns, 2000)
    process, _, otlp = start(db)
    conn = _connection(otlp)
    began = time.perf_counter()
    try:
        # 50 exports per request: one request per export waits for a commit each (~600 points/s here)
        for first in range(0, ticks, TICKS_PER_REQUEST):
            request = ExportMetricsServiceRequest()
            for i in range(first, min(ticks, first + TICKS_PER_REQUEST)):
                builder.tick(request, start_ns + i * STEP_NS, vitals)
            body = request.SerializeToString()
            conn.request("POST", "/v1/metrics", body=body, headers={"content-type": "application/x-protobuf"})
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                raise SystemExit(f"POST /v1/metrics: {reply.status}")
            if first % 2500 == 0:
                print(f"  {first}/{ticks} exports", file=sys.stderr)
    finally:
        process.terminate()
        process.wait(timeout=300)
    con = duckdb.connect(str(db), read_only=True)
    try:
        (stored,) = con.execute("SELECT count(*) FROM metric_points").fetchone() or (0,)
    finally:
        con.close()
    elapsed = time.perf_counter() - began
    rate = stored / elapsed
    print(f"built {db}: {stored:,} points in {ticks} exports, {elapsed:.0f} s ({rate:,.0f} points/s)")


def get(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path)
    reply = conn.getresponse()
    body = reply.read()
    if reply.status != 200:
        raise SystemExit(f"GET {path}: {reply.status} {body[:300]!r}")
    return (time.perf_counter() - started) * 1000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


SHAPES: list[tuple[str, str, str | None]] = [  # label, path, the metric whose bare scan is the baseline
    ("GET /health (HTTP floor)", "/health", None),
    ("metric list", "/api/metrics", None),
    ("counter: increase", "/api/metrics/series?name=http.server.requests", "http.server.requests"),
    ("counter: rate by route", "/api/metrics/series?name=http.server.requests&agg=rate&group_by=http.route",
     "http.server.requests"),
    ("histogram: p95", "/api/metrics/series?name=http.server.duration", "http.server.duration"),
    ("histogram: p95 by service", "/api/metrics/series?name=http.server.duration&group_by=service_name",
     "http.server.duration"),
    ("histogram: avg", "/api/metrics/series?name=http.server.duration&agg=avg", "http.server.duration"),
    ("gauge: last by service", "/api/metrics/series?name=process.cpu.utilization&group_by=service_name",
     "process.cpu.utilization"),
    ("gauge: LCP avg, query", "/api/metrics/series?name=LCP&agg=avg&query=category%3DWebVital", "LCP"),
    ("web vitals p75 per page", "/api/metrics/web-vitals", "LCP"),
]  # fmt: skip


def bare_scan(con: duckdb.DuckDBPyConnection, name: str) -> float:
    """ms of the bucketed count of a metric's points: reading them, nothing more."""
    started = time.perf_counter()
    con.execute(
        "WITH r AS (SELECT min(time_ns) AS lo, max(time_ns) - min(time_ns) + 1 AS span FROM metric_points "
        "WHERE metric_name = ?) SELECT (time_ns - r.lo) * 60 // r.span AS b, count(*) FROM metric_points, r "
        "WHERE metric_name = ? GROUP BY b",
        [name, name],
    ).fetchall()
    return (time.perf_counter() - started) * 1000


def measure_api(db: Path, runs: int) -> None:
    copy = db.with_name(f"{db.stem}-scan.duckdb")
    shutil.copyfile(db, copy)
    process, ui, _ = start(db)
    conn = _connection(ui)
    scan = duckdb.connect(str(copy), read_only=True)
    times: dict[str, list[float]] = {label: [] for label, _, _ in SHAPES}
    scans: dict[str, list[float]] = {}
    try:
        for round_ in range(runs + 1):
            for label, path, metric in SHAPES:
                elapsed = get(conn, path)
                if round_:
                    times[label].append(elapsed)
                if metric is not None:
                    took = bare_scan(scan, metric)
                    if round_:
                        scans.setdefault(metric, []).append(took)
        (points,) = scan.execute("SELECT count(*) FROM metric_points").fetchone() or (0,)
    finally:
        scan.close()
        copy.unlink()
        process.terminate()
        process.wait(timeout=120)
    print(f"\n{points:,} metric points; {runs} runs per shape after a warm-up, round-robin; ms")
    print(f"{'shape':<32} {'p50':>8} {'p95':>8} {'bare scan p50':>14} {'ratio':>6}")
    for label, _, metric in SHAPES:
        p50 = statistics.median(times[label])
        base = statistics.median(scans[metric]) if metric else None
        ratio = f"{p50 / base:6.1f}" if base else ""
        base_text = f"{base:14.1f}" if base is not None else ""
        print(f"{label:<32} {p50:8.1f} {pct(times[label], 0.95):8.1f} {base_text:>14} {ratio:>6}")


CHART_DRAWN = """() => [...document.querySelectorAll('.chart path.line')]
  .some((p) => (p.getAttribute('d') || '').split('L').length > 10)"""


def first_chart(page: Any, url: str) -> float:
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(CHART_DRAWN, timeout=120_000, polling="raf")
    return (time.perf_counter() - started) * 1000


def small_store(folder: Path) -> Path:
    """The baseline store: the same metrics, 1/25 of the points (~80 minutes of exports)."""
    db = folder / "small.duckdb"
    build(db, 40_000)
    return db


def measure_ui(db: Path, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        small = small_store(Path(tmp))
        stores = {"1M store": db, "baseline: 40k store": small}
        servers = {name: start(path) for name, path in stores.items()}
        results: dict[tuple[str, str], list[float]] = {}
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox"]
                )
                try:
                    for round_ in range(runs + 1):
                        for name, (_, ui, _) in servers.items():
                            for metric in ("http.server.requests", "http.server.duration"):
                                page = chromium.new_context(
                                    viewport={"width": 1440, "height": 900}
                                ).new_page()
                                took = first_chart(page, f"{ui}/metrics?metric={metric}")
                                page.context.close()
                                if round_:
                                    results.setdefault((name, metric), []).append(took)
                finally:
                    chromium.close()
        finally:
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(timeout=120)
    print(f"\nnavigation → first chart drawn (ms, median of {runs} after a warm-up)")
    for (name, metric), values in results.items():
        spread = f"(min {min(values):.0f}, max {max(values):.0f})"
        print(f"  {name:<22} {metric:<24} {statistics.median(values):8.0f}  {spread}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="the store (built when missing)")
    parser.add_argument("--points", type=int, default=1_000_000, help="points to build")
    parser.add_argument("--runs", type=int, default=10, help="API runs per shape")
    parser.add_argument("--ui-runs", type=int, default=3, help="UI runs (0: none)")
    args = parser.parse_args()
    if not args.db.exists():
        build(args.db, args.points)
    measure_api(args.db, args.runs)
    if args.ui_runs:
        measure_ui(args.db, args.ui_runs)


if __name__ == "__main__":
    os.environ.pop("HL_LOCAL_DB", None)
    main()
