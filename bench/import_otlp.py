"""Import benchmark: OTLP/JSON lines, as the Collector's file exporter writes them, through `hl-local import`.

The file holds N requests of bench/otlpgen.py's 512 spans (error-heavy, as bench/ingest.py: every
fifth span raises with a 12-frame stack), written as OTLP/JSON (hex ids, integer enums, int64 as
strings). Each run imports it into a new database with the command users run; spans/s is the
file's spans over the command's wall time, and the stored count is checked. Baselines in the same
run: decoding every line with the same decoders and writing nothing (one process, one core), and
sending the lines to a running hl-local as OTLP/HTTP JSON requests (live ingest, one connection;
the server started before the clock).

    .venv/bin/python bench/import_otlp.py --runs 5 [--requests 200] [--gzip]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.otlpgen import trace_request
from hl_local.imports.otlp_lines import decode_line

_IDS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(value: Any) -> Any:
    """protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants ids in hex."""
    if isinstance(value, dict):
        return {k: base64.b64decode(v).hex() if k in _IDS and isinstance(v, str) else _hex_ids(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_hex_ids(v) for v in value]
    return value


def write_file(path: Path, requests: int, gzipped: bool) -> int:
    spans = 0
    opener = gzip.open if gzipped else open
    with opener(path, "wt") as f:  # type: ignore[operator]
        for seed in range(requests):
            request = ExportTraceServiceRequest.FromString(trace_request(seed, 512))
            spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            as_json = json_format.MessageToDict(request, use_integers_for_enums=True)
            f.write(json.dumps(_hex_ids(as_json), separators=(",", ":")) + "\n")
    return spans


def decode_only(path: Path, gzipped: bool) -> float:
    started = time.perf_counter()
    spans = 0
    with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
        for line in f:
            spans += len(decode_line(line).spans)
    return spans / (time.perf_counter() - started)


def import_once(path: Path, folder: Path, run: int) -> tuple[float, int]:
    db = folder / f"run{run}.duckdb"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hl_local", "import", "--db", str(db), str(path)],
                   check=True, capture_output=True)  # fmt: skip
    wall = time.perf_counter() - started
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT count(*) FROM spans").fetchall()[0][0]
    db.unlink()
    return wall, stored


def live_ingest(path: Path, folder: Path, run: int, gzipped: bool, spans: int) -> float:
    from bench.replay_ingest import start_server

    db = folder / f"live{run}.duckdb"
    process, _, _, url = start_server(db)
    try:
        started = time.perf_counter()
        with httpx.Client(timeout=120) as client, gzip.open(path, "rb") if gzipped else path.open("rb") as f:
            for line in f:
                reply = client.post(
                    f"{url}/v1/traces", content=line, headers={"content-type": "application/json"}
                )
                assert reply.status_code == 200, reply.text
        rate = spans / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=60)
    db.unlink()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / ("spans.jsonl.gz" if args.gzip else "spans.jsonl")
        spans = write_file(path, args.requests, args.gzip)
        print(f"file: {args.requests} lines, {spans:,} spans, {path.stat().st_size / 2**20:.1f} MiB")
        rates, baselines, lives = [], [], []
        for run in range(args.runs):
            baselines.append(decode_only(path, args.gzip))
            lives.append(live_ingest(path, folder, run, args.gzip, spans))
            wall, stored = import_once(path, folder, run)
            assert stored == spans, (stored, spans)
            rates.append(spans / wall)
            decoded = baselines[-1]
            print(
                f"  run {run + 1}: {rates[-1]:,.0f} spans/s ({wall:.1f} s); decode only {decoded:,.0f}/s; "
                f"live ingest {lives[-1]:,.0f}/s",
                flush=True,
            )
    rate, base, live = statistics.median(rates), statistics.median(baselines), statistics.median(lives)
    spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
    print(f"\nmedian over {args.runs} runs: import {rate:,.0f} spans/s ({spread}); "
          f"same-run baselines: decoding alone {base:,.0f} spans/s (ratio {rate / base:.2f}), "
          f"live OTLP/HTTP JSON of the same lines {live:,.0f} spans/s (ratio {rate / live:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
