"""Export as Parquet: one file per table (`spans.parquet`, `logs.parquet`, …) in a directory.

Written by DuckDB's own COPY, zstd-compressed, with the tables' column names and types, so
DuckDB, ClickHouse, Spark, pandas or any warehouse reads them as they are. JSON columns stay JSON
text, times Unix nanoseconds, as in the database.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from hl_local.export.selection import TABLE_NAMES, Chosen, Selection, choose, release


def write_parquet(
    cur: duckdb.DuckDBPyConnection, selection: Selection, folder: Path
) -> tuple[Chosen, dict[str, int]]:
    """`folder`/<table>.parquet for every table (empty tables too, so a reader finds every schema)."""
    folder.mkdir(parents=True)
    cur.execute("BEGIN")
    try:
        chosen = choose(cur, selection)
        counts: dict[str, int] = {}
        for table in TABLE_NAMES:
            target = str(folder / f"{table}.parquet").replace("'", "''")
            (written,) = cur.execute(
                f"COPY ({chosen.tables[table]}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone() or (0,)
            counts[table] = int(written)
        cur.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        raise
    finally:
        release(cur)
    return chosen, counts
