"""Export as a `.duckdb` file: the same schema, holding the chosen rows (export/selection.py).

One transaction on the source reads every table from the same snapshot (a running server may be
writing meanwhile); each table is one INSERT … SELECT into the attached new file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from hl_local.export.selection import TABLE_NAMES, Chosen, Selection, choose, release
from hl_local.store.attach import new_database


def write_duckdb(
    cur: duckdb.DuckDBPyConnection, selection: Selection, out: Path
) -> tuple[Chosen, dict[str, int]]:
    """Write the chosen rows to a new file at `out`; the choice and the row count of each table."""
    with new_database(cur, out) as alias:
        cur.execute("BEGIN")
        try:
            chosen = choose(cur, selection)
            counts: dict[str, int] = {}
            for table in TABLE_NAMES:
                (inserted,) = cur.execute(
                    f"INSERT INTO {alias}.{table} {chosen.tables[table]}"
                ).fetchone() or (0,)
                counts[table] = int(inserted)
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            release(cur)
    return chosen, counts
