"""Rows → Arrow tables typed from the DDL of their table, so Python never guesses a column type.

Imported by the writer on its first commit rather than at start-up (pyarrow takes ~0.1 s to
import, a tenth of the start-up budget).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from hl_local.decode.records import KINDS
from hl_local.errors import RowsRejected

Rows = list[tuple[object, ...]]


def to_arrow(cur: duckdb.DuckDBPyConnection, kind: str, rows: Rows) -> pa.Table:
    """Columns for `kind`, typed from its table's DDL; a value that does not fit is the client's error."""
    schema = _schemas.get(kind)
    if schema is None:
        schema = _schemas[kind] = _arrow_schema(cur, kind)
    try:
        columns = [pa.array(col, type=schema.field(i).type) for i, col in enumerate(zip(*rows, strict=True))]
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        raise RowsRejected(f"a value does not fit its {KINDS[kind][0]} column: {exc}") from None
    return pa.Table.from_arrays(columns, schema=schema)


_schemas: dict[str, pa.Schema] = {}


_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "UBIGINT[]": pa.list_(pa.uint64()),
    "DOUBLE[]": pa.list_(pa.float64()),
}


def _arrow_schema(cur: duckdb.DuckDBPyConnection, kind: str) -> pa.Schema:
    """Arrow types from the DDL of the kind's table, so the Python side never guesses a column type."""
    table, columns = KINDS[kind]
    types = dict(
        cur.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [table]
        ).fetchall()
    )
    return pa.schema([(c, _ARROW_TYPES[types[c]]) for c in columns])
