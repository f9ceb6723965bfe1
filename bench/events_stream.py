"""Replay events stream benchmark: a long recorded session served by /api/sessions/{id}/events.

Run by hand (never in the test suite):

    .venv/bin/python bench/events_stream.py              # 30-minute session, 5 runs
    .venv/bin/python bench/events_stream.py --minutes 10 --runs 3

The session (bench/replay_session.py: the real SDK's first page, then 2-s pushes of a busy page)
is ingested through /public once into a file; each run then starts hl-local on a copy and reads the
whole stream as recorded (`keyframes=false`: the first read after start, and again), then with
keyframes, computed (the first read with them) and cached (a second one). Reported: MiB/s of
response, as medians, and the
ratio to a same-run baseline: reading the same chunks' stored JSON text straight out of DuckDB,
which no server can beat.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).parent.parent))
from bench.replay_ingest import start_server
from bench.replay_seek import SESSION_ID, START_MS, ingest

READS = {
    "as recorded, first read": "keyframes=false",
    "as recorded": "keyframes=false",
    "keyframes, computed": "keyframes=true",
    "keyframes, cached": "keyframes=true",
}


def baseline(db: Path) -> float:
    """MiB/s of reading the session's stored events text from the file (no parsing, no HTTP)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        started = time.perf_counter()
        texts = con.execute(
            "SELECT events FROM replay_chunks WHERE session_id = ? ORDER BY first_ms, payload_id",
            [SESSION_ID],
        ).fetchall()
        size = sum(len(t[0]) for t in texts)
        return size / 2**20 / (time.perf_counter() - started)
    finally:
        con.close()


def one_run(source: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "copy.duckdb"
        shutil.copy(source, db)
        rates = {"baseline": baseline(db)}
        process, _, _, url = start_server(db)
        try:
            with httpx.Client(timeout=120) as client:
                for name, query in READS.items():
                    started = time.perf_counter()
                    size = len(client.get(f"{url}/api/sessions/{SESSION_ID}/events?{query}").content)
                    rates[name] = size / 2**20 / (time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(timeout=60)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "session.duckdb"
        made = ingest(source, args.minutes)
        print(f"session: {made['events']:,.0f} events, {made['mib']:.1f} MiB of rrweb JSON ({START_MS})")
        runs = []
        for _ in range(args.runs):
            runs.append(one_run(source))
            print("  run: " + ", ".join(f"{k} {v:,.1f} MiB/s" for k, v in runs[-1].items()), flush=True)
        base = statistics.median(r["baseline"] for r in runs)
        for name in READS:
            rate = statistics.median(r[name] for r in runs)
            print(
                f"{name}: {rate:,.1f} MiB/s (median of {args.runs}); ratio to reading the text from DuckDB "
                f"({base:,.0f} MiB/s) {rate / base:.3f}"
            )


if __name__ == "__main__":
    main()
