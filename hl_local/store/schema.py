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
    4 — sessions.origin: the Origin header of initializeSession.
    5 — `request_digests` (a resent OTLP request is recognised by its body's digest), spans
        without their (trace_id, span_id) primary key, `pending_errors` (errors the writer stores
        later, in bigger batches), and kept by the writer beside the rows: `trace_summaries` (one
        row per trace), `error_group_buckets` (occurrences per group and minute) and
        `error_group_links` (the sessions and traces of a group's errors), `log_tokens` (the
        words of log lines per minute and level).
    6 — trace_summaries.session_id and .request_id (its spans' least), which `trace_sessions`
        reads instead of every span.
    A file of version 2 to 5 is migrated when it opens read-write (MIGRATIONS), in one
    transaction; views are created again after (`s.*` in a view is fixed when it is made).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import duckdb

from hl_local.decode.records import PROMOTED_ATTRIBUTES as PROMOTED_ATTRIBUTES
from hl_local.decode.records import PROMOTED_COLUMNS
from hl_local.errors import SchemaMismatch
from hl_local.store.tables import check_rows
from hl_local.store.writes import SUMMARISE_STORED, SUMMARISE_STORED_TRACES

SCHEMA_VERSION = 6

SCHEMA_FILES = (
    "meta.sql", "spans.sql", "logs.sql", "metric_points.sql", "sessions.sql", "replay_chunks.sql",
    "session_events.sql", "network_requests.sql", "websocket_events.sql", "errors.sql",
    "session_feedback.sql", "error_groups.sql", "flag_evaluations.sql", "request_digests.sql",
    "pending_errors.sql", "trace_summaries.sql", "error_group_buckets.sql", "log_tokens.sql", "views.sql",
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
    if found in MIGRATIONS and not read_only:
        try:
            _migrate(con, found)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise SchemaMismatch(
                f"{path} is a schema-{found} file hl-local could not migrate ({reason}); "
                "choose another --db PATH"
            ) from None
        return
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


def recreate_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every table and view but hl_meta and create them empty (`hl-local clear`, in the caller's
    transaction)."""
    drop_views_and_macros(con)
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name <> 'hl_meta'"
    ).fetchall():
        con.execute(f'DROP TABLE "{name}"')
    for name in SCHEMA_FILES:
        if name != "meta.sql":
            con.execute(ddl(name))


def _flag_evaluations(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 → 3: the flag_evaluations table."""
    con.execute(ddl("flag_evaluations.sql"))


def _session_origin(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3 → 4: sessions.origin; no row is rewritten."""
    con.execute("ALTER TABLE sessions ADD COLUMN origin VARCHAR")


def _spans_without_key(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 4 → 5: spans rebuilt without their primary key (DuckDB cannot drop a constraint), and
    the tables the writer keeps beside the rows, filled from what the file holds."""
    con.execute("DROP INDEX IF EXISTS spans_by_trace")
    con.execute("ALTER TABLE spans RENAME TO spans_v4")
    con.execute(ddl("spans.sql"))
    con.execute("INSERT INTO spans SELECT * FROM spans_v4 ORDER BY trace_id, start_ns")
    con.execute("DROP TABLE spans_v4")
    for name in ("request_digests", "pending_errors", "trace_summaries", "error_group_buckets", "log_tokens"):
        con.execute(ddl(f"{name}.sql"))
    for statement in SUMMARISE_STORED:
        con.execute(statement)


def _trace_sessions_kept(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 5 → 6: each trace summary's session and request id; the summaries are made anew
    from the spans and errors stored, as the writer keeps them."""
    con.execute("ALTER TABLE trace_summaries ADD COLUMN session_id VARCHAR")
    con.execute("ALTER TABLE trace_summaries ADD COLUMN request_id VARCHAR")
    con.execute(SUMMARISE_STORED_TRACES)


# found version → the steps that bring a file of that version to SCHEMA_VERSION
MIGRATIONS: dict[int, tuple[Callable[[duckdb.DuckDBPyConnection], None], ...]] = {
    2: (_flag_evaluations, _session_origin, _spans_without_key),
    3: (_session_origin, _spans_without_key),
    4: (_spans_without_key,),  # its trace_summaries are made with the columns of schema 6
    5: (_trace_sessions_kept,),
}


def _migrate(con: duckdb.DuckDBPyConnection, found: int) -> None:
    """The steps from `found` in one transaction, the views (which name the tables) made again after."""
    con.execute("BEGIN")
    try:
        drop_views_and_macros(con)
        for step in MIGRATIONS[found]:
            step(con)
        con.execute(ddl("views.sql"))
        con.execute("UPDATE hl_meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def drop_views_and_macros(con: duckdb.DuckDBPyConnection) -> None:
    """What views.sql creates (views, then the macros they call), so it can run again."""
    for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        con.execute(f'DROP VIEW "{name}"')
    macros = con.execute(
        "SELECT DISTINCT function_name, function_type FROM duckdb_functions() "
        "WHERE NOT internal AND function_type IN ('macro', 'table_macro')"
    ).fetchall()
    for name, kind in macros:
        con.execute(f'DROP MACRO {"TABLE " if kind == "table_macro" else ""}"{name}"')
