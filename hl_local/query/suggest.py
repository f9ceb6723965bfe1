"""Search suggestions: the keys a signal can be searched by, and the values a key takes.

Both look at the newest rows only (`SAMPLE_ROWS`), so they stay fast however much is stored.

- `GET /api/suggest/keys?signal=&prefix=`: the signal's reserved keys (compile.SIGNALS), then its
  most frequent attribute keys, each with the number of sampled rows that have it.
- `GET /api/suggest/values?signal=&key=&prefix=`: the most frequent values of a reserved key or
  an attribute in the sampled rows, with counts.

Prefixes match case-insensitively. Keys the search language cannot spell are not suggested.
"""

from __future__ import annotations

import re
from typing import Any, Final

import duckdb
from litestar import Request, Router, get

from hl_local.query.common import API_ERRORS, answers, bad_request, execute, fetch
from hl_local.query.compile import SIGNALS, Signal
from hl_local.query.responses import KeySuggestion, KeySuggestions, ValueSuggestion, ValueSuggestions
from hl_local.store.db import Store

SAMPLE_ROWS: Final = 10_000
MAX_SUGGESTIONS: Final = 50
_KEY: Final = re.compile(r"[A-Za-z0-9_.\-]+")  # what compile accepts, less the `*` of a pattern

# Each signal's table (or view) and the column that orders it newest first.
_SOURCES: Final[dict[Signal, tuple[str, str]]] = {
    "logs": ("logs", "time_ns"),
    "traces": ("spans", "start_ns"),
    "errors": ("errors", "time_ns"),
    "sessions": ("session_summaries", "started_ns"),
    "metrics": ("metric_points", "time_ns"),
}


def _object(sql: str) -> str:
    """`sql` when it is JSON text of an object, else NULL (json_keys needs an object)."""
    return f"CASE WHEN json_valid({sql}) AND json_type({sql}) = 'OBJECT' THEN {sql} END"


@get("/suggest/keys", responses=answers(400))
async def suggest_keys(request: Request[Any, Any, Any], signal: Signal, prefix: str = "") -> KeySuggestions:
    """Reserved keys first (`count` null, `type` their search type), then attribute keys, most frequent
    first (`type` null); at most 50 in all."""
    fields = SIGNALS[signal]
    wanted = prefix.lower()
    keyed = {**fields.fields, **(fields.related.fields if fields.related else {})}
    reserved = [
        KeySuggestion(key, "reserved", field.kind, None)
        for key, field in sorted(keyed.items())
        if key.lower().startswith(wanted)
    ][:MAX_SUGGESTIONS]
    table, newest = _SOURCES[signal]
    columns = ", ".join(f"{_object(sql)} AS a{i}" for i, sql in enumerate(fields.attributes))
    unnested = " UNION ALL ".join(
        f"SELECT rn, unnest(json_keys(a{i})) AS key FROM recent WHERE a{i} IS NOT NULL"
        for i in range(len(fields.attributes))
    )
    sql = (
        f"WITH recent AS (SELECT row_number() OVER () AS rn, * FROM (SELECT {columns} FROM {table} "
        f"ORDER BY {newest} DESC LIMIT {SAMPLE_ROWS})), keys AS ({unnested}) "
        "SELECT key, count(DISTINCT rn) AS count FROM keys "
        "WHERE starts_with(lower(key), ?) AND regexp_full_match(key, ?) AND NOT list_contains(?, key) "
        "GROUP BY key ORDER BY count DESC, key LIMIT ?"
    )
    params = [wanted, _KEY.pattern, list(keyed), MAX_SUGGESTIONS - len(reserved)]
    store: Store = request.app.state.store
    attributes = (
        await store.read(lambda cur: execute(cur, sql, params)[1]) if len(reserved) < MAX_SUGGESTIONS else []
    )
    found = [KeySuggestion(key, "attribute", None, count) for key, count in attributes]
    return KeySuggestions(signal, reserved + found)


@get("/suggest/values", responses=answers(400))
async def suggest_values(
    request: Request[Any, Any, Any], signal: Signal, key: str, prefix: str = ""
) -> ValueSuggestions:
    """The most frequent non-empty values of `key` first, at most 50."""
    fields = SIGNALS[signal]
    field = fields.fields.get(key)
    table, newest = _SOURCES[signal]
    if fields.related is not None and key in fields.related.fields:  # the related rows' own values
        field = fields.related.fields[key]
        table, newest = "flag_evaluations", "time_ns"
    if field is not None:
        value_sql = field.sql if field.kind == "text" else f"CAST({field.sql} AS VARCHAR)"
        value_params: list[Any] = []
    elif _KEY.fullmatch(key):
        lookups = [f"json_extract_string({sql}, ?)" for sql in fields.attributes]
        value_sql = f"coalesce({', '.join(lookups)})" if len(lookups) > 1 else lookups[0]
        value_params = [f'$."{key}"'] * len(lookups)
    else:
        raise bad_request(f"{key!r} is not a key the search language can use")
    sql = (
        f"WITH recent AS (SELECT {value_sql} AS value FROM {table} "
        f"ORDER BY {newest} DESC LIMIT {SAMPLE_ROWS}) "
        "SELECT value, count(*) AS count FROM recent WHERE value IS NOT NULL AND value <> '' "
        "AND starts_with(lower(value), ?) GROUP BY value ORDER BY count DESC, value LIMIT ?"
    )
    params = [*value_params, prefix.lower(), MAX_SUGGESTIONS]
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> list[ValueSuggestion]:
        return fetch(cur, ValueSuggestion, sql, params)

    values = await store.read(read)
    return ValueSuggestions(signal, key, "reserved" if field is not None else "attribute", values)


router = Router(path="/api", route_handlers=[suggest_keys, suggest_values], exception_handlers=API_ERRORS)
