"""`hl-local prune --older-than 1d`: remove the data received longer ago than that, now.

With an hl-local running on the database it asks that one (DELETE /api/data), which prunes in the
same small steps as retention while ingest goes on; otherwise it opens the file itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hl_local import instance
from hl_local.cli import remote
from hl_local.cli.options import DB, Option, UsageError, add_options, age_s, resolve
from hl_local.config import default_db_path

NAME = "prune"
HELP = "remove the data received longer ago than --older-than (also from a running hl-local)"
OLDER_THAN = Option("--older-than", "how old the data to remove is: 1d, 12h, 30m, 2w", age_s, metavar="AGE")


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, [OLDER_THAN, DB])


def database(args: argparse.Namespace) -> Path:
    db = args.db if args.db is not None else DB.from_env()
    return (db or default_db_path()).expanduser()


def run(args: argparse.Namespace) -> int:
    resolve(args, [OLDER_THAN])
    if args.older_than is None:
        raise UsageError("say how old the data to remove is: --older-than 1d (or 12h, 30m, 2w)")
    path = database(args)
    cutoff_ns = time.time_ns() - int(args.older_than * 1e9)
    before = datetime.fromtimestamp(cutoff_ns / 1e9, UTC).isoformat(timespec="seconds")
    running = instance.running(path)
    if running is not None:
        if sys.stdout.isatty():
            print(f"pruning in the running hl-local (pid {running.pid})…", flush=True)
        answer = remote.delete_data(running, f"older_than={args.older_than}s")
        removed = answer.get("removed", {})
    elif not path.exists():
        print(f"nothing to prune: {path} does not exist")
        return 0
    else:
        removed = prune_file(path, cutoff_ns)
    print(f"removed what was received before {before}: {describe(removed)}")
    return 0


def prune_file(path: Path, cutoff_ns: int) -> dict[str, int]:
    """Prune a file no hl-local is serving, with the retention code the server runs."""
    from hl_local.store.db import Store
    from hl_local.store.retention import Limits, PruneResult, Retention

    store = Store.open(path)
    try:
        retention = Retention(path, Limits())
        results: list[PruneResult] = []
        retention.request(cutoff_ns, results.append)
        cur = store.cursor()
        tty = sys.stdout.isatty()
        while retention.busy:
            retention.tick(cur)
            if tty:
                print(f"\rpruning… {retention.removed_so_far()} rows", end="", flush=True)
        if tty:
            print()
        return results[0].rows if results else {}
    finally:
        store.close()


def describe(removed: dict[str, int]) -> str:
    parts = [f"{table} {count}" for table, count in removed.items() if count]
    return ", ".join(parts) if parts else "nothing"
