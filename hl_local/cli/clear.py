"""`hl-local clear`: remove everything in the database (asks first on a terminal; `--yes` does not ask).

With an hl-local running on the database it asks that one (DELETE /api/data?everything=true), which
drops and recreates the tables; otherwise the file is replaced by a new, empty one, which gives
the space back at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hl_local import instance
from hl_local.cli import remote
from hl_local.cli.options import DB, Option, add_options, resolve
from hl_local.cli.prune import database

NAME = "clear"
HELP = "remove everything in the database (asks first on a terminal)"
YES = Option("--yes", "do not ask", switch=True, default=False)


def configure(parser: argparse.ArgumentParser) -> None:
    add_options(parser, [YES, DB])


def run(args: argparse.Namespace) -> int:
    resolve(args, [YES])
    path = database(args)
    if not args.yes and sys.stdin.isatty():
        reply = input(f"Remove everything in {path}? It cannot be undone. [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    running = instance.running(path)
    if running is not None:
        remote.delete_data(running, "everything=true")
    elif not path.exists():
        print(f"nothing to clear: {path} does not exist")
        return 0
    else:
        clear_file(path)
    print(f"cleared {path}")
    return 0


def clear_file(path: Path) -> None:
    """Replace the file by an empty database, after checking it is an hl-local database at all."""
    from hl_local.store.db import Store
    from hl_local.store.retention import wal_path

    Store.open(path).close()  # refuses a file that is not ours, or is in use
    path.unlink()
    wal_path(path).unlink(missing_ok=True)
    Store.open(path).close()
