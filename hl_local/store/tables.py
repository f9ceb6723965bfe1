"""The row Structs (decode/records.py) held against the tables DuckDB really has.

`check_rows` runs when the store opens: a column the table has and its Struct lacks (or the
reverse), or a column of another type or nullability, is a start-up error naming both, so the
decoders and the DDL can never drift apart silently. `arrow_schema` types a Struct's columns as
DuckDB itself exports them, so no hand-kept map of types stands between the two.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, Union

import duckdb

from hl_local.decode.records import ROW_TYPES, UPDATE_TYPES, DuckType, Row, Update
from hl_local.errors import SchemaMismatch

if TYPE_CHECKING:
    import pyarrow as pa

_PYTHON_TYPES = {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", bytes: "BLOB"}


class Column(NamedTuple):
    type: str
    nullable: bool


def check_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Raise SchemaMismatch unless every row Struct matches its table column for column."""
    tables: dict[str, dict[str, Column]] = {}
    for table, name, data_type, nullable in con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "ORDER BY table_name, column_index"
    ).fetchall():
        tables.setdefault(table, {})[name] = Column(data_type, nullable)
    for row_type in ROW_TYPES:
        _check(row_type, tables.get(row_type.table, {}), whole=True)
    for update_type in UPDATE_TYPES:
        _check(update_type, tables.get(update_type.table, {}), whole=False)


def _check(struct: type[Row] | type[Update], table: dict[str, Column], whole: bool) -> None:
    where = f"table {struct.table}"
    if not table:
        raise SchemaMismatch(
            f"{where} does not exist, but {struct.__name__} (decode/records.py) writes to it"
        )
    staged = set(struct.staged) if issubclass(struct, Row) else set()
    fields = {name: column for name, column in struct_columns(struct).items() if name not in staged}
    computed = set(struct.computed) if issubclass(struct, Row) else set()
    for name, column in fields.items():
        found = table.get(name)
        if found is None:
            raise SchemaMismatch(
                f"{where} has no column {name}, but {struct.__name__} (decode/records.py) has the field"
            )
        if found != column:
            raise SchemaMismatch(
                f"{where}: column {name} is {_describe(found)} in the database but "
                f"{_describe(column)} in {struct.__name__} (decode/records.py)"
            )
    if whole:
        for name in table:
            if name not in fields and name not in computed:
                raise SchemaMismatch(
                    f"{where} has a column {name} that {struct.__name__} (decode/records.py) lacks"
                )
        order = [name for name in table if name not in computed]
        if order != list(fields):
            raise SchemaMismatch(
                f"{where}: {struct.__name__} (decode/records.py) lists the columns in another order "
                f"than the table ({', '.join(order)})"
            )


def _describe(column: Column) -> str:
    return column.type + ("" if column.nullable else " NOT NULL")


@cache
def struct_columns(struct: type[Row] | type[Update]) -> dict[str, Column]:
    """field name → the column its annotation asks for, in field order."""
    hints = typing.get_type_hints(struct, include_extras=True)
    return {name: _column(struct, name, hints[name]) for name in struct.__struct_fields__}


def _column(struct: type, name: str, hint: Any) -> Column:
    nullable = False
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        if len(args) == 1:
            hint = args[0]
    if typing.get_origin(hint) is Annotated:
        marks = [mark for mark in hint.__metadata__ if isinstance(mark, DuckType)]
        if marks:
            return Column(marks[0].name, nullable)
        hint = typing.get_args(hint)[0]
    duck_type = _PYTHON_TYPES.get(hint)
    if duck_type is None:
        raise TypeError(f"{struct.__name__}.{name}: no DuckDB type for {hint!r}; annotate it with a DuckType")
    return Column(duck_type, nullable)


_arrow_schemas: dict[type[Row] | type[Update], pa.Schema] = {}


def arrow_schema(cur: duckdb.DuckDBPyConnection, struct: type[Row] | type[Update]) -> pa.Schema:
    """The Arrow schema of `struct`'s columns, exactly as DuckDB exports them (asked once per Struct)."""
    schema = _arrow_schemas.get(struct)
    if schema is None:
        staged = set(struct.staged) if issubclass(struct, Row) else set()
        types = struct_columns(struct)
        columns = ", ".join(
            f"NULL::{types[name].type} AS {name}" if name in staged else name
            for name in struct.__struct_fields__
        )
        schema = cur.sql(f"SELECT {columns} FROM {struct.table} LIMIT 0").to_arrow_table().schema
        _arrow_schemas[struct] = schema
    return schema
