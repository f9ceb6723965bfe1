"""Files of an older schema are migrated when opened, keeping everything they hold."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest

from hl_local.store.db import Store
from hl_local.store.schema import SCHEMA_VERSION
from tests.conftest import span_keys, start_server, trace_batch


def stored_batch(db: Path) -> None:
    """`trace_batch(7)` stored in the file at `db` by a real server, stopped after."""
    server = start_server(db)
    try:
        reply = httpx.post(f"{server.otlp_http_url}/v1/traces", content=trace_batch(7),
                           headers={"content-type": "application/x-protobuf"}, timeout=30)  # fmt: skip
        assert reply.status_code == 200
    finally:
        assert server.stop() == 0


def views_before_6() -> str:
    """views.sql as schemas 2-5 made it: trace_sessions read the spans, not trace_summaries."""
    from hl_local.store.schema import ddl

    return ddl("views.sql").replace("trace_summaries", "spans")


def as_schema_5(db: Path) -> None:
    """Turn a current file into what schema 5 was: trace summaries without their session and request id."""
    from hl_local.store.schema import drop_views_and_macros

    con = duckdb.connect(str(db))
    try:
        drop_views_and_macros(con)
        con.execute("ALTER TABLE trace_summaries DROP COLUMN session_id")
        con.execute("ALTER TABLE trace_summaries DROP COLUMN request_id")
        con.execute("UPDATE hl_meta SET value = '5' WHERE key = 'schema_version'")
        con.execute(views_before_6())
    finally:
        con.close()


def test_a_schema_5_file_gets_the_sessions_of_its_traces(tmp_path: Path) -> None:
    db = tmp_path / "v5.duckdb"
    stored_batch(db)
    traces = sorted({t for t, _ in span_keys(trace_batch(7))})
    by_spans = "SELECT trace_id, min(session_id), min(request_id) FROM spans GROUP BY ALL ORDER BY ALL"
    with duckdb.connect(str(db)) as con:  # one more trace with a session, and one with a request id
        con.execute("UPDATE spans SET session_id = 's-' || trace_id, request_id = 'r-' || trace_id "
                    "WHERE trace_id = ?", [traces[0]])  # fmt: skip
        expected = con.execute(by_spans).fetchall()
    assert [t for t, _, r in expected if r is not None] == [traces[0]]
    as_schema_5(db)

    Store.open(db).close()

    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM hl_meta WHERE key = 'schema_version'").fetchall() == [
            (str(SCHEMA_VERSION),)
        ]
        kept = con.execute("SELECT trace_id, session_id, request_id FROM trace_summaries ORDER BY ALL")
        assert kept.fetchall() == expected
        linked = con.execute("SELECT trace_id, session_id FROM trace_sessions ORDER BY ALL").fetchall()
        assert linked == [(t, s) for t, s, _ in expected if s is not None]


def as_older_schema(db: Path, version: int) -> None:
    """Turn a current file into what schema 4 was (spans keyed by (trace_id, span_id), no digests
    nor kept tables), schema 3 (also no sessions.origin) or schema 2 (also no flag_evaluations),
    with the views and macros made again over those tables, as such a file has them."""
    from hl_local.store.schema import drop_views_and_macros

    con = duckdb.connect(str(db))
    try:
        con.execute("BEGIN")
        drop_views_and_macros(con)
        con.execute("DROP INDEX spans_by_trace")
        con.execute("CREATE TABLE spans_copy AS SELECT * FROM spans")
        con.execute("DELETE FROM spans")
        for table in ("request_digests", "pending_errors", "trace_summaries", "error_group_buckets",
                      "error_group_links", "log_tokens"):  # fmt: skip
            con.execute(f"DROP TABLE {table}")
        if version <= 3:
            con.execute("ALTER TABLE sessions DROP COLUMN origin")
        if version <= 2:
            con.execute("DROP TABLE flag_evaluations")
        con.execute("UPDATE hl_meta SET value = ? WHERE key = 'schema_version'", [str(version)])
        con.execute("COMMIT")
        con.execute("ALTER TABLE spans ADD PRIMARY KEY (trace_id, span_id)")
        con.execute("INSERT INTO spans SELECT * FROM spans_copy")
        con.execute("DROP TABLE spans_copy")
        con.execute("CREATE INDEX spans_by_trace ON spans (trace_id)")
        con.execute(views_before_6())
    finally:
        con.close()


@pytest.mark.parametrize("version", [2, 3, 4])
def test_an_older_file_is_migrated_with_its_spans(tmp_path: Path, version: int) -> None:
    db = tmp_path / f"v{version}.duckdb"
    stored_batch(db)
    as_older_schema(db, version)
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'spans' "
                           "AND constraint_type = 'PRIMARY KEY'").fetchall() == [(1,)]  # fmt: skip

    Store.open(db).close()

    with duckdb.connect(str(db), read_only=True) as con:
        version = con.execute("SELECT value FROM hl_meta WHERE key = 'schema_version'").fetchall()
        assert version == [(str(SCHEMA_VERSION),)]
        keys = set(con.execute("SELECT trace_id, span_id FROM spans").fetchall())
        assert keys == span_keys(trace_batch(7))
        assert con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'spans' "
                           "AND constraint_type = 'PRIMARY KEY'").fetchall() == [(0,)]  # fmt: skip
        assert con.execute("SELECT count(*) FROM request_digests").fetchall() == [(0,)]
        traces = {t for t, _ in keys}
        summaries = con.execute("SELECT trace_id, span_count FROM trace_summaries").fetchall()
        assert {t for t, _ in summaries} == traces  # the migration summarised what the file held
        assert sum(n for _, n in summaries) == len(keys)
    again = start_server(db)  # and it serves: the views were rebuilt
    try:
        assert again.stats()["spans"] == len(keys)
    finally:
        assert again.stop() == 0
