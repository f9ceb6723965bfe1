"""API answer benchmark: p50/p95 over HTTP of the endpoints whose answers are big, on an existing store.

Run by hand (never in the test suite), on a store another benchmark built, e.g. bench/query.py's:

    .venv/bin/python bench/query.py --rows 300000 --db /tmp/q300k.duckdb     # builds and keeps the store
    .venv/bin/python bench/api_lists.py --db /tmp/q300k.duckdb --runs 30
    .venv/bin/python bench/api_lists.py --db /tmp/q300k.duckdb --baseline /tmp/old-checkout

It starts hl-local on the store (idle: nothing is sent meanwhile), picks the ids to ask for (the trace
with the most spans, the recorded session with the most log lines, the error group with the most
occurrences), then asks every shape `--runs` times after a warm-up round and prints p50 and p95 in ms
with the size of one answer. Where bench/query.py measures what DuckDB costs, this measures what a
big answer costs on top: turning rows into JSON.

`--baseline CHECKOUT` also starts that checkout's hl-local (PYTHONPATH=CHECKOUT) on a copy of the store
(`<db stem>-baseline.duckdb`: DuckDB lets one process hold a file) and asks both the same thing in
turn, alternating which goes first, so the shared machine's noise falls on both alike. A byte copy can
still read faster or slower than its original (page cache): swap them (`--swap`) for a second run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def ids(db: Path) -> tuple[str, str, str]:
    """(the trace with the most spans, the recorded session with the most log lines, the biggest group)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        (trace,) = con.execute(
            "SELECT trace_id FROM spans GROUP BY trace_id ORDER BY count(*) DESC, trace_id LIMIT 1"
        ).fetchone() or ("",)
        (session,) = con.execute(
            "SELECT session_id FROM logs WHERE session_id IN (SELECT session_id FROM session_summaries) "
            "GROUP BY session_id ORDER BY count(*) DESC, session_id LIMIT 1"
        ).fetchone() or ("",)
        (group,) = con.execute(
            "SELECT group_id FROM error_groups ORDER BY occurrences DESC, group_id LIMIT 1"
        ).fetchone() or ("",)
    finally:
        con.close()
    return trace, session, group


def start(db: Path, checkout: Path | None) -> tuple[subprocess.Popen[str], http.client.HTTPConnection]:
    """hl-local on `db` (from `checkout` when given, else this one) and a keep-alive connection to it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    process = subprocess.Popen(
        [sys.executable, "-m", "hl_local", "--no-open", "--db", str(db), "--port", "0",
         "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=checkout,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if m := re.match(r"hl-local UI and API\s+http://(\S+):(\d+)", line):
            return process, http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=300)
    raise SystemExit(f"hl-local did not start on {db}")


def get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    """(ms, bytes) of one GET."""
    started = time.perf_counter()
    conn.request("GET", path)
    reply = conn.getresponse()
    body = reply.read()
    elapsed = (time.perf_counter() - started) * 1000
    if reply.status != 200:
        raise SystemExit(f"GET {path}: {reply.status} {body[:300]!r}")
    return elapsed, len(body)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="an existing hl-local store")
    parser.add_argument("--runs", type=int, default=30, help="runs per shape after a warm-up round")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with, request by request")
    parser.add_argument(
        "--swap", action="store_true", help="the baseline on the original store, this on the copy"
    )
    args = parser.parse_args()
    trace, session, group = ids(args.db)
    shapes = [
        ("GET /health (HTTP floor)", "/health"),
        ("logs, limit 100", "/api/logs?limit=100"),
        ("logs, limit 1000", "/api/logs?limit=1000"),
        ("spans, limit 100", "/api/spans?limit=100"),
        ("spans, limit 1000", "/api/spans?limit=1000"),
        ("traces, limit 200", "/api/traces?limit=200"),
        ("one trace (most spans)", f"/api/traces/{trace}"),
        ("sessions, limit 200", "/api/sessions?limit=200"),
        ("session logs (most lines)", f"/api/sessions/{session}/logs"),
        ("session network", f"/api/sessions/{session}/network"),
        ("session console", f"/api/sessions/{session}/console"),
        ("session errors", f"/api/sessions/{session}/errors"),
        ("logs searched by session", f"/api/logs?limit=100&query=secure_session_id%3D{session}"),
        ("traces searched by session", f"/api/traces?limit=50&query=secure_session_id%3D{session}"),
        ("error groups, limit 100", "/api/error-groups?limit=100"),
        ("one error group, 100 occurrences", f"/api/error-groups/{group}?limit=100"),
    ]
    stores = {"this": args.db}
    if args.baseline is not None:
        copy = args.db.with_name(f"{args.db.stem}-baseline.duckdb")
        if not copy.exists():
            shutil.copyfile(args.db, copy)
        stores = {"this": copy, "baseline": args.db} if args.swap else {"this": args.db, "baseline": copy}
    servers = {name: start(db, args.baseline if name == "baseline" else None) for name, db in stores.items()}
    times: dict[tuple[str, str], list[float]] = {(s, n): [] for s, _ in shapes for n in servers}
    sizes: dict[tuple[str, str], int] = {}
    try:
        for round_ in range(args.runs + 1):
            order = list(servers) if round_ % 2 else list(reversed(servers))
            for shape, path in shapes:
                for name in order:
                    elapsed, size = get(servers[name][1], path)
                    if round_:
                        times[(shape, name)].append(elapsed)
                    sizes[(shape, name)] = size
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=120)
    print(f"{args.runs} runs per shape after 1 warm-up; trace {trace}, session {session}, group {group}")
    columns = "".join(f" {name + ' p50':>14} {name + ' p95':>14} {'KiB':>7}" for name in servers)
    print(f"{'shape':<36}{columns}")
    for shape, _ in shapes:
        cells = "".join(
            f" {statistics.median(times[(shape, n)]):14.1f} {pct(times[(shape, n)], 0.95):14.1f}"
            f" {sizes[(shape, n)] / 1024:7.1f}"
            for n in servers
        )
        print(f"{shape:<36}{cells}")


if __name__ == "__main__":
    main()
