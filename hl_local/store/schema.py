"""Creates the tables of a new file and checks the schema version of an existing one.

SCHEMA_VERSION history:
    1 — spans, logs, metric_points, hl_meta; sessions, replay_chunks, session_events,
        network_requests, websocket_events, errors, session_feedback, error_groups.
    2 — spans and logs: one `attr_*` column per key of PROMOTED_ATTRIBUTES (a version-1 file
        lacks them, so it is refused rather than read with those filters matching nothing);
        indexes on logs.trace_id and errors.trace_id; `listed_spans` without linked_session_id.
"""

from __future__ import annotations

from importlib import resources

import duckdb

from hl_local.errors import SchemaMismatch

SCHEMA_VERSION = 2

# Attribute keys people filter on most (OpenTelemetry semantic conventions), each also kept in a
# column of spans and logs: an equality filter on a column is a dictionary-compressed scan, on
# JSON text a parse per row (~10x slower over 1M rows). The column holds exactly what the search
# compiler's JSON lookup would give, the item's attribute else its resource's, so a search means
# the same with or without it. Adding a key here means a column in spans.sql and logs.sql and a
# new SCHEMA_VERSION.
PROMOTED_ATTRIBUTES: dict[str, str] = {
    key: "attr_" + key.replace(".", "_")
    for key in (
        "http.method", "http.request.method", "http.route", "http.target", "http.status_code",
        "http.response.status_code", "url.path", "user.id", "enduser.id", "db.system", "rpc.method",
        "exception.type",
    )
}  # fmt: skip
SCHEMA_FILES = (
    "meta.sql", "spans.sql", "logs.sql", "metric_points.sql", "sessions.sql", "replay_chunks.sql",
    "session_events.sql", "network_requests.sql", "websocket_events.sql", "errors.sql",
    "session_feedback.sql", "error_groups.sql", "views.sql",
)  # fmt: skip


def _ddl(name: str) -> str:
    return (resources.files("hl_local.store") / "schema" / name).read_text()


def ensure_schema(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create the schema in an empty file; refuse a file of another version with what to do."""
    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not tables:
        con.execute("BEGIN")
        for name in SCHEMA_FILES:
            con.execute(_ddl(name))
        con.execute("INSERT INTO hl_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute("COMMIT")
        return
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
        raise SchemaMismatch(
            f"{path} was written by {newer} hl-local (schema {found}, this one reads {SCHEMA_VERSION}); "
            f"open it with that version, or start with another --db PATH"
        )
