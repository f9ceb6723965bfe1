"""Row Structs against the tables DuckDB really has (store/tables.py): drift is a start-up error.

A file whose table gained, lost or retyped a column (as a hand-edited DDL would leave it) must
not start: hl-local names the table and the column on one line and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest

from hl_local.decode.records import KINDS, ROW_TYPES, UPDATE_TYPES, Batch, Row, UInt32
from hl_local.errors import SchemaMismatch
from hl_local.store.db import Store
from hl_local.store.schema import ensure_schema
from hl_local.store.tables import Column, check_rows, struct_columns
from tests.conftest import run_hl_local
from tests.test_cli import free_ports, one_error_line


def new_database(path: Path) -> None:
    Store.open(path).close()


def alter(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("ALTER TABLE websocket_events ADD COLUMN origin VARCHAR", ["websocket_events", "origin", "lacks"]),
        ("ALTER TABLE websocket_events DROP COLUMN message", ["websocket_events", "no column message"]),
        (
            "ALTER TABLE websocket_events ALTER COLUMN size TYPE INTEGER",
            ["websocket_events", "size", "INTEGER", "BIGINT", "WebsocketEventRow"],
        ),
        (
            "ALTER TABLE websocket_events ALTER COLUMN url DROP NOT NULL",
            ["websocket_events", "url", "VARCHAR in the database", "VARCHAR NOT NULL in WebsocketEventRow"],
        ),
    ],
    ids=["column-the-struct-lacks", "field-the-table-lacks", "other-type", "other-nullability"],
)
def test_a_table_that_drifted_from_its_struct_is_refused_at_start(
    tmp_path: Path, sql: str, named: list[str]
) -> None:
    db = tmp_path / "drifted.duckdb"
    new_database(db)
    alter(db, sql)
    line = one_error_line(run_hl_local(*free_ports("--db", str(db))))
    for part in named:
        assert part in line, line


def test_every_struct_matches_a_new_database(tmp_path: Path) -> None:
    """Opening checks every row and update Struct; a new file passes, and so does a reopened one."""
    db = tmp_path / "fresh.duckdb"
    new_database(db)
    store = Store.open(db)  # checked again on an existing file
    try:
        tables = {
            row[0] for row in store.cursor().execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
    finally:
        store.close()
    assert {struct.table for struct in ROW_TYPES} == tables - {"hl_meta"}  # every table has its Struct
    assert {struct.table for struct in UPDATE_TYPES} <= tables


def test_every_kind_of_a_batch_has_its_struct() -> None:
    """Batch's list fields and KINDS name the same kinds, each with the Struct its rows are."""
    fields = {f.name: f.type for f in msgspec.structs.fields(Batch)}
    for kind, struct in KINDS.items():
        assert fields[kind] == list[struct], kind


class _Wide(Row):
    table = "websocket_events"

    session_id: str
    payload_id: str
    time_ms: float
    socket_id: str
    type: str
    url: str
    size: int | None
    message: str | None
    origin: str | None  # a field the table lacks


def test_a_struct_field_the_table_lacks_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect(":memory:")
    ensure_schema(con, ":memory:")
    monkeypatch.setattr("hl_local.store.tables.ROW_TYPES", (_Wide,))
    with pytest.raises(SchemaMismatch, match="table websocket_events has no column origin, but _Wide"):
        check_rows(con)


@pytest.mark.parametrize(
    ("hint", "column"),
    [
        (str, Column("VARCHAR", False)),
        (str | None, Column("VARCHAR", True)),
        (int, Column("BIGINT", False)),
        (UInt32, Column("UINTEGER", False)),
        (UInt32 | None, Column("UINTEGER", True)),
        (list[float] | None, None),  # a list needs its DuckType
    ],
)
def test_annotations_name_their_duckdb_type(hint: Any, column: Column | None) -> None:
    struct = msgspec.defstruct("Probe", [("field", hint)], bases=(Row,), array_like=True)
    struct.table = "probe"
    if column is None:
        with pytest.raises(TypeError, match="annotate it with a DuckType"):
            struct_columns(struct)
    else:
        assert struct_columns(struct) == {"field": column}


def _subclasses(kind: type) -> list[type]:
    return [sub for child in kind.__subclasses__() for sub in (child, *_subclasses(child))]


def test_every_ingest_failure_has_one_answer_for_all_protocols() -> None:
    """OTLP/HTTP, gRPC and /public answer through one mapping: every IngestError kind is in it."""
    from hl_local.errors import IngestError, Overloaded
    from hl_local.ingest.failures import answer_for

    for kind in _subclasses(IngestError):
        exc = kind() if issubclass(kind, Overloaded) else kind("why")
        answer = answer_for(exc, "test")
        assert answer.message == str(exc)
        assert answer.http_status != 500 or kind.__name__ == "WriteFailed", kind
        assert (answer.retry_after_s is not None) == issubclass(kind, Overloaded), kind
    unexpected = answer_for(RuntimeError("boom"), "test")
    assert (unexpected.http_status, unexpected.grpc_code.name) == (500, "INTERNAL")
