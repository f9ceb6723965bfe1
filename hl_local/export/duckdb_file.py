"""Export as a `.duckdb` file: the same schema, holding the chosen rows (export/selection.py).

One transaction on the source reads every table from the same snapshot (a running server may be
writing meanwhile); each table is one INSERT … SELECT into the attached new file. What the writer
keeps beside the rows (trace summaries, error buckets and links, log words) is then made from the
copied rows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from hl_local.export.selection import TABLE_NAMES, Chosen, Selection, choose, release
from hl_local.store.attach import new_database
from hl_local.store.writes import SUMMARISE_STORED


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
            _summarise(cur, alias)
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        finally:
            release(cur)
    return chosen, counts


def _summarise(cur: duckdb.DuckDBPyConnection, alias: str) -> None:
    """The new file's kept tables from its own rows: the statements name tables unqualified."""
    (current,) = cur.execute("SELECT current_database()").fetchone() or ("memory",)
    cur.execute(f"USE {alias}")
    try:
        for statement in SUMMARISE_STORED:
            cur.execute(statement)
    finally:
        cur.execute(f'USE "{current}"')
