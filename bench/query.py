"""Query benchmark: p50/p95 per query shape over HTTP against a real hl-local holding N spans and N logs.

Run by hand (never in the test suite):

    .venv/bin/python bench/query.py                                   # 1M spans + 1M logs, temp store
    .venv/bin/python bench/query.py --rows 10000000 --db /tmp/q10m.duckdb   # the issue's size, kept
    .venv/bin/python bench/query.py --db /tmp/q1m.duckdb --replicate 10 --runs 10   # ARCHITECTURE's 10M

The store is built through the real writer: hl-local is started on free ports with `--db`, and
sender processes POST distinct 512-item OTLP/HTTP protobuf batches over several keep-alive
connections until /api/stats counts N spans and N log records. A small pool of generated
requests (bench/otlpgen.py, cached by bench/ingest.py) is rewritten per batch: trace ids get the
batch number as prefix and times move one second per batch, so every span is distinct and the
data covers a realistic time range; 0.1 % of log bodies get the rare token `zqxrare`, and 70 %
of log lines carry the trace id of a stored trace. A few hundred browser sessions are replayed
from tests/fixtures/browser/main.jsonl (fresh session ids) so the session and error lists are
not empty. With `--db` the store is kept and reused, and only topped up when smaller than N.

Each query shape then runs `--runs` times after a warm-up round, round-robin over the shapes,
first idle and then while a sender process ingests spans at `--ingest-rate` spans/s (paced).
Reported per shape: p50 and p95 in ms, the issue's p50 target (stated for 10M rows on 2 cores),
whether it is met, and p95 under ingest ÷ p95 idle (target ≤ 2). `GET /health` is timed the same
way as the HTTP floor of this machine (a DuckDB-only baseline is not possible: the server holds
the file).

`--replicate N` (N ≤ 16): measure a store N times the size instead. Building through HTTP ran at
600-2,000 spans/s on this 2-core shared machine (10M: 4+ hours), so only the `--rows` store is
built through the real writer as above (kept at `--db`, else in the temp dir); it is then copied N
times in SQL into `<db stem>-x<N>.duckdb` next to it, with the server stopped (DuckDB lets one
process hold the file). Copy k: every trace id's first hex digit becomes k (batch trace ids begin
with 0, so copies never collide), times move k times the base store's time span, error ids get `-k`.
Spans and logs go through the writer's own INSERT statements (hl_local/store/writes.py), so the
promoted `attr_*` columns are computed as the writer computes them; errors (same id and time
changes) by plain INSERT, their groups then recounted from them as the writer's grouping would
count them. Sessions, replay chunks, network requests and the other session tables are copied
once. What is therefore *not* real-writer-built: the copies' ids and times (the data repeats N
times) and the physical layout of the file (N big appends instead of many group commits). The
copy's layout is recorded in its `hl_meta` (`bench_replica`), and the "one trace by id" shape
draws a copy and a base batch from it. A complete copy is reused as is, like `--db`; each run's
ingest phase appends to it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from hl_local.store.schema import PROMOTED_ATTRIBUTES, ensure_schema
from hl_local.store.writes import SUMMARISE_STORED, WRITES

sys.path.insert(0, str(Path(__file__).parent))
import ingest
import otlpgen
import replay_ingest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

POOL = 32  # generated requests per signal; every batch is one of them rewritten
BATCH = 512
SECOND_NS = 1_000_000_000
RARE = "zqxrare"
COMMON = "timeout"  # one of otlpgen.WORDS: in most log bodies
assert COMMON in otlpgen.WORDS
SESSIONS = 300


class Pool:
    """The generated requests, and per trace request the trace ids it holds (to link logs to traces)."""

    def __init__(self) -> None:
        self.traces = ingest.bodies("spans-heavy", POOL)  # every fifth span raises: 3.3M errors at 10M
        self.logs = ingest.bodies("logs", POOL)
        self.trace_ids: list[list[bytes]] = []
        for body in self.traces:
            request = ExportTraceServiceRequest.FromString(body)
            ids = {
                span.trace_id: None
                for rs in request.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            }
            self.trace_ids.append(list(ids))

    def trace_body(self, n: int) -> bytes:
        """Trace batch `n`: pool request n % POOL, trace ids prefixed with n, times moved to second n."""
        request = ExportTraceServiceRequest.FromString(self.traces[n % POOL])
        prefix, shift = n.to_bytes(8, "big"), (n - n % POOL) * SECOND_NS
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    span.trace_id = prefix + span.trace_id[8:]
                    span.start_time_unix_nano += shift
                    span.end_time_unix_nano += shift
                    for event in span.events:
                        event.time_unix_nano += shift
        return request.SerializeToString()

    def log_body(self, n: int) -> bytes:
        """Log batch `n`: times at second n, trace ids those of trace batch n, the rare token in 0.1 %."""
        request = ExportLogsServiceRequest.FromString(self.logs[n % POOL])
        prefix, shift = n.to_bytes(8, "big"), (n - n % POOL) * SECOND_NS
        ids = self.trace_ids[n % POOL]
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for i, record in enumerate(sl.log_records):
                    record.time_unix_nano += shift
                    record.observed_time_unix_nano += shift
                    if record.trace_id:
                        record.trace_id = prefix + ids[i % len(ids)][8:]
                    if (n * BATCH + i) % 1000 == 7:
                        record.body.string_value += f" {RARE}"
        return request.SerializeToString()

    def first_trace_id(self, n: int) -> str:
        return (n.to_bytes(8, "big") + self.trace_ids[n % POOL][0][8:]).hex()

    def known_trace_id(self, rng: random.Random, batches: range, copies: int = 1) -> str:
        n = rng.choice(batches)
        trace_id = (n.to_bytes(8, "big") + rng.choice(self.trace_ids[n % POOL])[8:]).hex()
        if copies > 1:  # a replicated store: copy k's ids begin with hex digit k (see replicate)
            trace_id = f"{rng.randrange(copies):x}" + trace_id[1:]
        return trace_id


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, kind: str) -> int:
    while True:
        conn.request("POST", path, body, {"Content-Type": kind})
        reply = conn.getresponse()
        reply.read()
        if reply.status != 503:
            return reply.status
        time.sleep(0.05)


def _build_sender(otlp: str, jobs: list[tuple[str, int]], connections: int, results: Any) -> None:
    """One sender process: POST every (signal, batch) job, `connections` at a time."""
    pool = Pool()
    host, port = otlp.removeprefix("http://").rsplit(":", 1)
    todo = iter(jobs)
    lock = threading.Lock()
    failures: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        while True:
            with lock:
                job = next(todo, None)
            if job is None:
                return
            signal, n = job
            body = pool.trace_body(n) if signal == "traces" else pool.log_body(n)
            status = _post(conn, f"/v1/{signal}", body, "application/x-protobuf")
            if status != 200:
                with lock:
                    failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(failures)


def build(ui: str, otlp: str, rows: int, senders: int, connections: int) -> None:
    """Top the store up to `rows` spans and `rows` log records; report the rate."""
    have = ingest.stats(ui)
    kept: dict[str, int] = have["retention"]  # type: ignore[assignment]
    if kept["max_size_bytes"] and kept["data_bytes"] > 0.8 * kept["max_size_bytes"]:
        # at retention's size cap (the default 4 GiB): topping up would only prune more of the oldest
        size = kept["data_bytes"] / 2**30
        print(f"the store is at its size cap ({size:.2f} GiB): not topped up", flush=True)
        return
    trace_from, log_from = -(-have["spans"] // BATCH), -(-have["logs"] // BATCH)
    trace_jobs = [("traces", n) for n in range(trace_from, -(-rows // BATCH))]
    log_jobs = [("logs", n) for n in range(log_from, -(-rows // BATCH))]
    if trace_jobs or log_jobs:
        jobs = [job for pair in zip(trace_jobs, log_jobs, strict=False) for job in pair]
        longer = trace_jobs if len(trace_jobs) > len(log_jobs) else log_jobs
        jobs += longer[min(len(trace_jobs), len(log_jobs)) :]
        print(f"building: {len(trace_jobs)} trace and {len(log_jobs)} log batches of {BATCH} ...", flush=True)
        results: multiprocessing.Queue = multiprocessing.Queue()
        started = time.perf_counter()
        procs = [
            multiprocessing.Process(target=_build_sender, args=(otlp, jobs[p::senders], connections, results))
            for p in range(senders)
        ]
        for proc in procs:
            proc.start()
        failures = [status for _ in procs for status in results.get()]
        for proc in procs:
            proc.join()
        elapsed = time.perf_counter() - started
        now = ingest.stats(ui)
        spans, logs = now["spans"] - have["spans"], now["logs"] - have["logs"]
        if failures:
            raise SystemExit(f"build: {len(failures)} failed batches ({set(failures)})")
        print(
            f"built {spans:,} spans + {logs:,} logs in {elapsed:.1f} s: "
            f"{(spans + logs) / elapsed:,.0f} items/s "
            f"({senders} sender processes, {connections} connections each)",
            flush=True,
        )
    if ingest.stats(ui)["sessions"] < SESSIONS:
        seed_sessions(ui)


def seed_sessions(ui: str) -> None:
    """Replay the recorded browser session under SESSIONS fresh session ids (initializeSession + pushes)."""
    init, pushes, _ = replay_ingest.recorded()
    host, port = ui.removeprefix("http://").rsplit(":", 1)
    started = time.perf_counter()
    failures: list[int] = []

    def tab(sessions: range) -> None:  # one connection plays its sessions in order
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for s in sessions:
            sid = f"benchQuerySess{s:014d}"[:28]
            bodies = [{**init, "variables": {**init["variables"], "session_secure_id": sid}}]
            for i, push in enumerate(pushes):
                payload_id = str(10**12 + s * 100 + i)
                variables = {**push["variables"], "session_secure_id": sid, "payload_id": payload_id}
                bodies.append({**push, "variables": variables})
            for body in bodies:
                if (status := _post(conn, "/public", json.dumps(body).encode(), "application/json")) != 200:
                    failures.append(status)

    threads = [threading.Thread(target=tab, args=(range(t, SESSIONS, 8),)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        f"seeded {SESSIONS} sessions ({SESSIONS * (len(pushes) + 1)} requests, {len(failures)} failed) "
        f"in {time.perf_counter() - started:.1f} s; stats now {ingest.stats(ui)}",
        flush=True,
    )


REPLICATED = ("spans", "logs", "errors", "error_groups", "hl_meta")  # every other table is copied once
REPLICA_KEY = "bench_replica"  # hl_meta key: "<copies> <base spans>", written last, so a complete copy


def replica_path(db: Path, copies: int) -> Path:
    return db.with_name(f"{db.stem}-x{copies}{db.suffix}")


def replica_layout(replica: Path) -> tuple[int, int] | None:
    """(copies, base spans) of a complete replicated store, else None."""
    if not replica.exists():
        return None
    con = duckdb.connect(str(replica), read_only=True)
    try:
        row = con.execute("SELECT value FROM hl_meta WHERE key = ?", [REPLICA_KEY]).fetchone()
    finally:
        con.close()
    if row is None:
        return None
    copies, spans = map(int, row[0].split())
    return copies, spans


def _new_trace_id(column: str, k: int) -> str:
    """SQL: `column` with its first hex digit replaced by k (empty and NULL kept: no trace)."""
    kept = f"{column} IS NULL OR {column} = ''"
    return f"CASE WHEN {kept} THEN {column} ELSE '{k:x}' || substr({column}, 2) END"


def _copy_sql(con: duckdb.DuckDBPyConnection, table: str, k: int, shift: int) -> str:
    """SQL rows of base.`table` as copy k: new trace ids, every *_ns time column but durations shifted.

    The promoted columns are left out: the writer's INSERT computes them again (as for rows whose
    decoder did not look them up: `promoted` NULL; `tokens` NULL: the INSERT takes the words).
    """
    columns = [r[0] for r in con.execute(f"DESCRIBE base.{table}").fetchall()]
    times = [c for c in columns if c.endswith("_ns") and c != "duration_ns"]
    replace = [f"{_new_trace_id('trace_id', k)} AS trace_id"] + [f"{c} + {shift} AS {c}" for c in times]
    if table == "errors":  # its key
        replace.append(f"error_id || '{f'-{k}' if k else ''}' AS error_id")
    promoted = [c for c in PROMOTED_ATTRIBUTES.values() if c in columns]
    exclude = f"EXCLUDE ({', '.join(promoted)}) " if promoted else ""
    staged = {"spans": ", NULL AS promoted", "logs": ", NULL AS promoted, NULL::VARCHAR AS tokens"}
    rows = f"SELECT * {exclude}REPLACE ({', '.join(replace)}){staged.get(table, '')} FROM base.{table}"
    return f"({rows} ORDER BY rowid)"


def replicate(base: Path, replica: Path, copies: int) -> None:
    """Write `copies` copies of the base store into a new `replica` file (see the module docstring)."""
    for stale in (replica, replica.with_name(replica.name + ".wal")):  # an interrupted copy
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(replica), config={"memory_limit": "8GB"})  # the machine is shared
    ensure_schema(con, str(replica))
    con.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    lo, hi = con.execute(
        "SELECT min(lo), max(hi) FROM (SELECT min(start_ns) lo, max(end_ns) hi FROM base.spans "
        "UNION ALL SELECT min(time_ns), max(time_ns) FROM base.logs)"
    ).fetchone()
    shift = hi - lo + SECOND_NS  # copy k starts after copy k-1 ends: times stay ordered by copy
    once = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'base'").fetchall()
    for (table,) in once:
        if table not in REPLICATED:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM base.{table} ORDER BY rowid")
    for k in range(copies):
        con.execute("BEGIN")
        for table in ("spans", "logs"):
            con.execute(WRITES[table][0].format(rows=_copy_sql(con, table, k, k * shift)))
        con.execute(f"INSERT INTO errors BY NAME SELECT * FROM {_copy_sql(con, 'errors', k, k * shift)}")
        con.execute("COMMIT")
        print(f"  copy {k}: {time.perf_counter() - started:.1f} s", flush=True)
    _finish_replica(con, copies)
    con.close()


def _finish_replica(con: duckdb.DuckDBPyConnection, copies: int) -> None:
    """Recount the error groups from the copied errors, make what the writer keeps beside the rows from
    all the copies' rows; mark the copy complete with its layout."""
    con.execute(
        "INSERT INTO error_groups BY NAME SELECT g.* REPLACE (c.n AS occurrences, c.lo AS first_seen_ns, "
        "c.hi AS last_seen_ns) FROM base.error_groups g JOIN (SELECT group_id, count(*) n, min(time_ns) lo, "
        "max(time_ns) hi FROM errors GROUP BY group_id) c USING (group_id)"
    )
    for table in ("trace_summaries", "error_group_buckets", "error_group_links", "log_tokens"):
        con.execute(f"DELETE FROM {table}")  # copied once from the base store: made anew below
    for statement in SUMMARISE_STORED:
        con.execute(statement)
    base_spans = con.execute("SELECT count(*) FROM base.spans").fetchone()[0]
    con.execute("INSERT INTO hl_meta VALUES (?, ?)", [REPLICA_KEY, f"{copies} {base_spans}"])
    con.execute("DETACH base")
    con.execute("CHECKPOINT")


def replicated_store(args: argparse.Namespace) -> tuple[Path, int, int]:
    """The N-times store: (path, copies, base trace batches); built from an HTTP-built base if missing."""
    replica = replica_path(args.db, args.replicate)
    if (layout := replica_layout(replica)) is None:
        process, ui, otlp, _ = ingest.start_server(args.db)
        try:
            build(ui, otlp, args.rows, args.senders, args.connections)
        finally:
            process.terminate()
            process.wait(timeout=120)
        print(f"replicating {args.db} {args.replicate} times into {replica} ...", flush=True)
        replicate(args.db, replica, args.replicate)
        layout = replica_layout(replica)
        assert layout is not None
    else:
        print(f"reusing {replica} ({layout[0]} copies of {layout[1]:,} spans)", flush=True)
    copies, base_spans = layout
    return replica, copies, base_spans // BATCH


def _paced_sender(otlp: str, first: int, rate: float, stop: Any, results: Any) -> None:
    """Send trace batches from batch `first` on at `rate` spans/s until `stop` is set."""
    pool = Pool()
    host, port = otlp.removeprefix("http://").rsplit(":", 1)
    interval = BATCH / rate
    slots: list[int] = []
    lock = threading.Lock()
    counter = iter(range(first, 1 << 62))
    sent: list[int] = []
    started = time.perf_counter()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        while not stop.is_set():
            with lock:
                n = next(counter)
                slot = len(slots)
                slots.append(n)
            body = pool.trace_body(n)
            if (delay := started + slot * interval - time.perf_counter()) > 0:
                time.sleep(delay)
            if _post(conn, "/v1/traces", body, "application/x-protobuf") == 200:
                with lock:
                    sent.append(n)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((len(sent) * BATCH, time.perf_counter() - started))


class Client:
    def __init__(self, ui: str) -> None:
        host, port = ui.removeprefix("http://").rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=300)

    def exists(self, path: str) -> bool:
        self.conn.request("GET", path)
        reply = self.conn.getresponse()
        reply.read()
        return reply.status == 200

    def get(self, path: str) -> tuple[float, Any]:
        started = time.perf_counter()
        self.conn.request("GET", path)
        reply = self.conn.getresponse()
        data = reply.read()
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            raise SystemExit(f"GET {path}: {reply.status} {data[:300]!r}")
        return elapsed, json.loads(data)


def stored_batches(client: Client, pool: Pool, rows: int, spans: int, base_batches: int) -> range:
    """The trace batches of the build still stored, less a tenth at the old end for what pruning
    takes during the loaded phase: retention (the default 4 GiB cap) prunes the oldest, so the
    oldest one left is looked for (a binary search over the batches' first traces; ~14 reads
    of the ~10,000 batches, too few to warm what the measured lookups read)."""
    if base_batches:
        return range(base_batches)
    built = -(-rows // BATCH)
    if spans // BATCH < built:
        lo, hi = 0, built - 1  # the oldest stored one is in [lo, hi]
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if client.exists(f"/api/traces/{pool.first_trace_id(mid)}") else (mid + 1, hi)
        return range(lo + (built - lo) // 10, built)
    return range(built)


def shapes(pool: Pool, trace_batches: range, copies: int = 1
           ) -> list[tuple[str, float | None, Callable[[random.Random], str]]]:  # fmt: skip
    """(name, p50 target in ms or None, path for a run)."""
    q = urllib.parse.quote
    return [
        ("GET /health (HTTP floor)", None, lambda r: "/health"),
        (f"newest 100 logs with rare word '{RARE}'", 50, lambda r: f"/api/logs?query={RARE}&limit=100"),
        (f"level histogram, common word '{COMMON}'", 300, lambda r: f"/api/logs/histogram?query={COMMON}"),
        (
            "count user.id=user-42 (histogram, 1 bucket)",
            200,
            lambda r: f"/api/logs/histogram?buckets=1&query={q('user.id=user-42')}",
        ),
        ("one trace by id", 10, lambda r: f"/api/traces/{pool.known_trace_id(r, trace_batches, copies)}"),
        (
            "spans http.method=GET, limit 100",
            None,
            lambda r: f"/api/spans?limit=100&query={q('http.method=GET')}",
        ),
        ("trace list, limit 50", None, lambda r: "/api/traces?limit=50"),
        ("sessions list, limit 50", 50, lambda r: "/api/sessions?limit=50"),
        ("error-groups list, limit 50", 50, lambda r: "/api/error-groups?limit=50"),
    ]


def measure(client: Client, todo: list[tuple[str, float | None, Callable[[random.Random], str]]], runs: int,
            rng: random.Random) -> dict[str, list[float]]:  # fmt: skip
    """One warm-up round, then `runs` rounds over every shape; the latencies in ms per shape."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in todo}
    for round_ in range(runs + 1):
        for name, _, path in todo:
            elapsed, body = client.get(path(rng))
            if round_ == 0 and name.startswith(("newest", "sessions", "error-groups", "count")):
                check(name, body)
            if round_:
                out[name].append(elapsed)
    return out


def check(name: str, body: Any) -> None:
    """Say what the first answer held, so an empty list is not mistaken for a fast one."""
    if "items" in body:
        print(f"  {name}: {len(body['items'])} items", flush=True)
    else:
        total = sum(sum(b["counts"].values()) for b in body["buckets"])
        print(f"  {name}: {total:,} matching log lines", flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="spans and log records to store")
    parser.add_argument("--db", type=Path, help="keep/reuse this store (built only if smaller than --rows)")
    parser.add_argument("--runs", type=int, default=15, help="runs per query shape after a warm-up")
    parser.add_argument("--ingest-rate", type=float, default=10_000, help="spans/s during the loaded phase")
    parser.add_argument("--senders", type=int, default=2, help="build sender processes")
    parser.add_argument("--connections", type=int, default=3, help="connections per build sender")
    parser.add_argument(
        "--replicate", type=int, default=1, choices=range(1, 17), metavar="N",
        help="measure the --rows store copied N times in SQL (kept as <db stem>-xN next to --db)",
    )  # fmt: skip
    args = parser.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory()
        args.db = Path(tmp.name) / "query.duckdb"
    store, copies, base_batches = args.db, 1, 0
    if args.replicate > 1:
        store, copies, base_batches = replicated_store(args)
    process, ui, otlp, _ = ingest.start_server(store)
    try:
        build(ui, otlp, args.rows, args.senders, args.connections)  # a no-op on a replicated store
        counts = ingest.stats(ui)
        print(f"store: {json.dumps(counts)}; file {store.stat().st_size / 2**20:,.0f} MiB", flush=True)
        pool = Pool()
        client = Client(ui)
        todo = shapes(pool, stored_batches(client, pool, args.rows, counts["spans"], base_batches), copies)
        rng = random.Random(1)
        print("idle ...", flush=True)
        idle = measure(client, todo, args.runs, rng)

        print(f"under ingest at {args.ingest_rate:,.0f} spans/s ...", flush=True)
        stop = multiprocessing.Event()
        results: multiprocessing.Queue = multiprocessing.Queue()
        sender = multiprocessing.Process(
            target=_paced_sender, args=(otlp, -(-counts["spans"] // BATCH), args.ingest_rate, stop, results)
        )
        sender.start()
        time.sleep(2)  # let the sender reach its pace
        loaded = measure(client, todo, args.runs, rng)
        stop.set()
        spans_sent, seconds = results.get()
        sender.join()
        achieved = spans_sent / seconds
    finally:
        process.terminate()
        process.wait(timeout=120)
        if tmp is not None:
            tmp.cleanup()

    print()
    print(
        f"{counts['spans']:,} spans, {counts['logs']:,} logs, {counts['sessions']:,} sessions, "
        f"{counts['error_groups']:,} error groups; {args.runs} runs per shape after 1 warm-up; "
        f"ingest phase achieved {achieved:,.0f} spans/s (asked {args.ingest_rate:,.0f})"
    )
    if copies > 1:
        print(f"({copies} SQL copies of a {base_batches * BATCH:,}-span store built through HTTP)")
    header = (
        f"{'shape':<46} {'p50':>8} {'p95':>8} {'target':>8} {'met':>5} "
        f"{'p50 ld':>8} {'p95 ld':>8} {'ratio':>6} {'<=2x':>4}"
    )
    print(header)
    print("-" * len(header))
    for name, target, _ in todo:
        p50, p95 = statistics.median(idle[name]), pct(idle[name], 0.95)
        lp50, lp95 = statistics.median(loaded[name]), pct(loaded[name], 0.95)
        ratio = lp95 / p95
        met = "-" if target is None else ("yes" if p50 <= target else "NO")
        print(
            f"{name:<46} {p50:8.1f} {p95:8.1f} {'-' if target is None else f'{target:.0f}':>8} {met:>5} "
            f"{lp50:8.1f} {lp95:8.1f} {ratio:6.2f} {'yes' if ratio <= 2 else 'NO':>4}"
        )
    print("(ms; targets are the issue's p50 for 10M logs + 10M spans on 2 cores; 'ld' = under ingest)")


if __name__ == "__main__":
    main()
