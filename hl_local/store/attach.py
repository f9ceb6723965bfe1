"""A new hl-local file, attached to an open database so SQL can copy rows into it (exports).

The file is made with 16 KiB blocks instead of DuckDB's 256 KiB: a small export then takes
~0.6 MiB instead of ~6 MiB (every table and index holds at least a block), and the file opens like
any other. It gets its schema from `Store.open`, like any database hl-local creates, and is then
attached read-write to the connection of the cursor given (even a read-only one: DuckDB allows a
read-write attachment beside a read-only main database). Rows go in with INSERT … SELECT, column
for column, in one statement per table; nothing passes through Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

BLOCK_SIZE = 16 * 1024


@contextmanager
def new_database(cur: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """Create an empty hl-local database at `path` and attach it; yield its alias; detach at the end."""
    from hl_local.store.db import Store

    alias = f"hl_export_{uuid.uuid4().hex[:12]}"
    cur.execute(f"ATTACH ? AS {alias} (READ_WRITE, BLOCK_SIZE {BLOCK_SIZE})", [str(path)])
    cur.execute(f"DETACH {alias}")  # an empty file that remembers its block size
    Store.open(path).close()  # the schema, exactly as a new database gets it
    cur.execute(f"ATTACH ? AS {alias} (READ_WRITE)", [str(path)])
    try:
        yield alias
        cur.execute(f"CHECKPOINT {alias}")  # the file complete on its own, with no WAL beside it
    finally:
        cur.execute(f"DETACH {alias}")
