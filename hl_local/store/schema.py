"""Creates the tables of a new file and checks the schema version of an existing one.

SCHEMA_VERSION history:
    1 — spans, logs, metric_points, hl_meta; sessions, replay_chunks, session_events,
        network_requests, websocket_events, errors, session_feedback, error_groups.
    2 — spans and logs: one `attr_*` column per key of decode/records.py PROMOTED_ATTRIBUTES (a
        version-1 file lacks them, so it is refused rather than read with those filters matching
        nothing);
        indexes on logs.trace_id and errors.trace_id; `listed_spans` without linked_session_id.
    3 — `flag_evaluations` (feature flag span events); `browser_network_spans` (the browser's own
        request spans as network requests) and `session_network_requests`; frontend errors that
        arrived over OTLP count in `session_summaries.error_count`.
"""

from __future__ import annotations

from importlib import resources

import duckdb

from hl_local.decode.records import PROMOTED_ATTRIBUTES as PROMOTED_ATTRIBUTES
from hl_local.decode.records import PROMOTED_COLUMNS
from hl_local.errors import SchemaMismatch
from hl_local.store.tables import check_rows

SCHEMA_VERSION = 3

SCHEMA_FILES = (
    "meta.sql", "spans.sql", "logs.sql", "metric_points.sql", "sessions.sql", "replay_chunks.sql",
    "session_events.sql", "network_requests.sql", "websocket_events.sql", "errors.sql",
    "session_feedback.sql", "error_groups.sql", "flag_evaluations.sql", "views.sql",
)  # fmt: skip


_PROMOTED_MARK = "-- @promoted_attributes"


def ddl(name: str) -> str:
    """The statements of one schema file, with the promoted attribute columns in place."""
    text = (resources.files("hl_local.store") / "schema" / name).read_text()
    if _PROMOTED_MARK in text:
        text = text.replace(_PROMOTED_MARK, ",\n".join(f"    {c} VARCHAR" for c in PROMOTED_COLUMNS))
    return text


def ensure_schema(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create the schema in an empty file, or check an existing file's version; then check that every
    row Struct matches its table (store/tables.py)."""
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if tables:
        _check_version(con, tables, path)
    else:
        con.execute("BEGIN")
        for name in SCHEMA_FILES:
            con.execute(ddl(name))
        con.execute("INSERT INTO hl_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    check_rows(con)


def check_schema(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """For a file opened read-only: check its version and tables, never create or migrate anything."""
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not tables:
        raise SchemaMismatch(
            f"{path} is an empty DuckDB file, not an hl-local database; choose another --db PATH"
        )
    _check_version(con, tables, path, read_only=True)
    check_rows(con)


def _check_version(
    con: duckdb.DuckDBPyConnection, tables: set[str], path: str, read_only: bool = False
) -> None:
    """Refuse a file of another version, or one that is not ours, with what to do."""
    if "hl_meta" not in tables:
        raise SchemaMismatch(
            f"{path} is a DuckDB file but not an hl-local database; choose another --db PATH"
        )
    row = con.execute("SELECT value FROM hl_meta WHERE key = 'schema_version'").fetchall()
    text = row[0][0] if row else "0"
    if not text.isdigit():
        raise SchemaMismatch(f"{path} has a schema version of {text!r}, which no hl-local wrote; "
                             "choose another --db PATH")  # fmt: skip
    found = int(text)
    if found != SCHEMA_VERSION:
        newer = "a newer" if found > SCHEMA_VERSION else "an older"
        if read_only:  # a file someone sent is never changed, not even to bring it up to date
            raise SchemaMismatch(
                f"{path} was written by {newer} hl-local (schema {found}, this one reads {SCHEMA_VERSION}) "
                "and --read-only never changes a file: open it with that version, or open a copy "
                "without --read-only"
            )
        raise SchemaMismatch(
            f"{path} was written by {newer} hl-local (schema {found}, this one reads {SCHEMA_VERSION}); "
            f"open it with that version, or start with another --db PATH"
        )
