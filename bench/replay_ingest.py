"""Replay-ingest benchmark: simulated browser tabs posting recorded `PushSessionEvents` payloads.

Run by hand (never in the test suite):

    .venv/bin/python bench/replay_ingest.py                   # 5 runs at 1,000 pushes/s offered
    .venv/bin/python bench/replay_ingest.py --rate 1500 --seconds 10 --runs 3

Each run starts a fresh `hl-local` with a new database file. A sender process plays `--tabs`
tabs, each with its own session: every tab first calls initializeSession, then posts the 20
recorded pushes of tests/fixtures/browser/main.jsonl (the real SDK's payloads, 1-19 KB each)
in order, cycling, with fresh payload ids, at an overall `--rate` (the SDK pushes every 2 s, so
1,000 pushes/s is ~2,000 open tabs). A push counts when acknowledged (200), which means
committed; the stored chunk count is then checked against the database. Reported, as medians
over the runs: pushes/s landed, ack latency p50/p99, and the stored size per minute of an
active session (file growth after a checkpoint ÷ recorded session-minutes landed).
Baseline in the same invocation: a bare loop of `json.loads` + base64 + gunzip of the same
pushes (what any server must at least do), as pushes/s on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import multiprocessing
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

FIXTURE = Path(__file__).parent.parent / "tests" / "fixtures" / "browser" / "main.jsonl"
if not FIXTURE.exists():
    FIXTURE = Path(__file__).parent.parent.parent / "shared" / "fixtures" / "browser" / "main.jsonl"


def recorded() -> tuple[dict, list[dict], float]:
    """The initializeSession variables, the pushes' variables, and the recorded session minutes."""
    init: dict = {}
    pushes: list[dict] = []
    first = last = None
    for line in FIXTURE.read_text().splitlines():
        record = json.loads(line)
        if record.get("operationName") == "initializeSession" and not init:
            init = record["body_json"]
        if record.get("operationName") == "PushSessionEvents":
            body = record["body_json"]
            pushes.append(body)
            events = record["decoded"]["payload"]["events"]["events"]
            stamps = [e["timestamp"] for e in events]
            if stamps:
                first = min(stamps) if first is None else min(first, *stamps)
                last = max(stamps) if last is None else max(last, *stamps)
    minutes = ((last or 0) - (first or 0)) / 60_000
    return init, pushes, minutes


def start_server(db: Path) -> tuple[subprocess.Popen[str], str, int, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hl_local", "--no-open", "--db", str(db), "--port", "0",
         "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("hl-local did not start")
        if m := re.match(r"hl-local UI and API\s+http://([\d.]+):(\d+)", line):
            host, port = m.group(1), int(m.group(2))
            break
    return process, host, port, f"http://{host}:{port}"


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes) -> int:
    head = (
        f"POST /public HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    writer.write(head + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _drive(host: str, port: int, args: argparse.Namespace, results: multiprocessing.Queue) -> None:
    init, pushes, _ = recorded()
    tabs = [f"benchTab{tab:020d}"[:28] for tab in range(args.tabs)]
    queue: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue()
    latencies: list[float] = []
    failures: list[int] = []

    for sid in tabs:
        variables = {**init["variables"], "session_secure_id": sid}
        queue.put_nowait((json.dumps({**init, "variables": variables}).encode(), False))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            body, is_push = await queue.get()
            if not body:
                break
            started = time.perf_counter()
            status = await _post(reader, writer, f"{host}:{port}", body)
            if is_push:
                (
                    latencies.append(time.perf_counter() - started)
                    if status == 200
                    else failures.append(status)
                )
            queue.task_done()
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(args.connections)]
    await queue.join()  # every tab initialized
    interval = 1 / args.rate
    started = time.perf_counter()
    total = int(args.rate * args.seconds)
    for n in range(total):
        tab, index = tabs[n % len(tabs)], (n // len(tabs)) % len(pushes)
        template = pushes[index]
        variables = {**template["variables"], "session_secure_id": tab, "payload_id": str(10**12 + n)}
        queue.put_nowait((json.dumps({**template, "variables": variables}).encode(), True))
        if (delay := started + (n + 1) * interval - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
    await queue.join()
    finished = time.perf_counter()
    for _ in workers:
        queue.put_nowait((b"", False))
    await asyncio.gather(*workers)
    results.put((total, finished - started, latencies, failures))


def send(host: str, port: int, args: argparse.Namespace, results: multiprocessing.Queue) -> None:
    asyncio.run(_drive(host, port, args, results))


def sql(process_db: Path, query: str) -> object:
    import duckdb

    con = duckdb.connect(str(process_db), read_only=True)
    try:
        return con.execute(query).fetchall()[0][0]
    finally:
        con.close()


def one_run(
    args: argparse.Namespace, session_minutes_per_cycle: float, pushes_per_cycle: int
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        process, host, port, url = start_server(db)
        try:
            empty_bytes = db.stat().st_size
            results: multiprocessing.Queue = multiprocessing.Queue()
            sender = multiprocessing.Process(target=send, args=(host, port, args, results))
            sender.start()
            total, elapsed, latencies, failures = results.get()
            sender.join()
            with urllib.request.urlopen(f"{url}/api/stats", timeout=30) as reply:
                stats = json.load(reply)
        finally:
            process.terminate()  # clean shutdown: commits, checkpoints, closes
            process.wait(timeout=60)
        chunks = sql(db, "SELECT count(*) FROM replay_chunks")
        grown = db.stat().st_size - empty_bytes
    if failures or chunks != total:
        raise SystemExit(
            f"{len(failures)} failed pushes ({set(failures)}), {chunks} of {total} chunks stored"
        )
    latencies.sort()
    session_minutes = total / pushes_per_cycle * session_minutes_per_cycle
    return {
        "pushes_per_s": total / elapsed,
        "ack_p50_ms": latencies[len(latencies) // 2] * 1000,
        "ack_p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "mib_per_session_minute": grown / session_minutes / 2**20,
        "replay_events": stats["replay_events"],
    }


def decode_baseline(pushes: list[dict]) -> float:
    bodies = [json.dumps(p).encode() for p in pushes]
    started = time.perf_counter()
    rounds = 0
    while time.perf_counter() - started < 1.0:
        for body in bodies:
            variables = json.loads(body)["variables"]
            json.loads(gzip.decompress(base64.b64decode(variables["data"])))
        rounds += 1
    return rounds * len(bodies) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000, help="pushes/s offered")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--tabs", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    _, pushes, minutes = recorded()
    runs, baselines = [], []
    for _ in range(args.runs):
        baselines.append(decode_baseline(pushes))
        runs.append(one_run(args, minutes, len(pushes)))
        print("  run: " + ", ".join(f"{k} {v:,.2f}" for k, v in runs[-1].items()), flush=True)
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    base = statistics.median(baselines)
    print(
        f"replay ingest at {args.rate:,.0f} pushes/s offered, {args.tabs} tabs, "
        f"{args.connections} connections: "
        f"{median['pushes_per_s']:,.0f} pushes/s landed (min {min(r['pushes_per_s'] for r in runs):,.0f}), "
        f"ack p50 {median['ack_p50_ms']:.1f} ms, p99 {median['ack_p99_ms']:.1f} ms, "
        f"{median['mib_per_session_minute']:.3f} MiB stored per active session-minute; "
        f"bare decode of the same pushes {base:,.0f}/s on one core "
        f"(landed/bare {median['pushes_per_s'] / base:.2f})"
    )


if __name__ == "__main__":
    main()
