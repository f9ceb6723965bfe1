"""Retention's steps on a big store: the writer's ticks run in process, every statement timed.

Run by hand (never in the test suite), on a copy (the file is pruned):

    cp /tmp/q5m.duckdb /tmp/prune.duckdb
    .venv/bin/python bench/prune_steps.py /tmp/prune.duckdb --max-size-gib 3 --seconds 150

The store is opened as the server opens it (Store.open: a file of an older schema is migrated) and
a Retention with `--max-size-gib` ticks as the writer ticks it between group commits, with
nothing else running, until the cap is met or `--seconds` pass. Reported: rows pruned, the longest
and median tick (what a tick holds ingest up), the longest checkpoint, and the statements by their
longest run.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from pathlib import Path
from typing import Any

from hl_local.store.db import Store
from hl_local.store.retention import Limits, Retention


class TimedCursor:
    """The cursor, with the time of every statement it runs."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.times: dict[str, list[float]] = collections.defaultdict(list)

    def execute(self, sql: str, *args: Any) -> Any:
        started = time.perf_counter()
        result = self.cur.execute(sql, *args)
        self.times[" ".join(sql.split())[:100]].append(time.perf_counter() - started)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="a copy of a store: it is pruned")
    parser.add_argument("--max-size-gib", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=150)
    args = parser.parse_args()
    store = Store.open(args.db)
    try:
        cur = TimedCursor(store.cursor())
        retention = Retention(args.db, Limits(int(args.max_size_gib * 2**30), 0))
        ticks: list[float] = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            wrote = retention.tick(cur)  # type: ignore[arg-type]
            ticks.append(time.perf_counter() - started)
            if not wrote and not retention.busy:
                if retention.pruned_rows and retention.wait_s() > 0.5:
                    break  # under the cap again
                time.sleep(0.05)
    finally:
        store.close()
    print(
        f"{retention.pruned_rows:,} rows pruned; ticks {len(ticks)}, longest {max(ticks) * 1000:.0f} ms, "
        f"median {statistics.median(ticks) * 1000:.1f} ms; longest checkpoint "
        f"{retention.longest_checkpoint_s * 1000:.0f} ms"
    )
    for sql, times in sorted(cur.times.items(), key=lambda kv: -max(kv[1]))[:12]:
        longest, total = max(times) * 1000, sum(times) * 1000
        print(f"  longest {longest:8.1f} ms, in all {total:8.1f} ms, x{len(times):4d}  {sql}")


if __name__ == "__main__":
    main()
