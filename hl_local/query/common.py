"""What every endpoint shares: time ranges, limits, opaque cursors, search → SQL, rows → Structs, errors.

Lists are newest first. A cursor is the sort key of the last item returned, base64url-encoded
JSON: the next page asks for what sorts strictly after it, so pages never skip or repeat a row
even while new data arrives.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import duckdb
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter
from litestar.types import ExceptionHandlersMap

from hl_local.query.compile import Signal, compile_search
from hl_local.query.responses import ErrorBody, ParameterProblem, SearchErrorAt
from hl_local.query.search import SearchSyntaxError
from hl_local.query.structs import structs

if TYPE_CHECKING:
    from hl_local.source.frames import Sources

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

# `query` is a name litestar reserves (the query-string mapping): the parameter is renamed in Python only.
Query = Annotated[str | None, QueryParameter(name="query")]


class BadRequest(HTTPException):
    status_code = 400


def bad_request(message: str, at: SearchErrorAt | None = None) -> BadRequest:
    extra = {"position": at.position, "expected": at.expected} if at is not None else None
    return BadRequest(detail=message, extra=extra)


_WHEN = {
    400: "a parameter or the query is not valid: `detail` says why (`extra` where, for a query)",
    403: "the request's Host is not this server's (a DNS-rebinding guard)",
    404: "there is no such item",
    503: "the database was opened with --read-only: nothing can be changed",
}


def answers(*codes: int) -> dict[int, ResponseSpec]:
    """The error answers of an /api handler (403 for every one), for the OpenAPI document: ErrorBody."""
    return {
        code: ResponseSpec(ErrorBody, description=_WHEN[code], generate_examples=False)
        for code in sorted({403, *codes})
    }


_extra_types = SearchErrorAt | list[ParameterProblem] | None


def error_body(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Every HTTP error under /api as one ErrorBody (what litestar answers, typed)."""
    try:
        extra = msgspec.convert(exc.extra, _extra_types)
    except msgspec.ValidationError:  # an `extra` of another shape: the detail still says what happened
        extra = None
    body = ErrorBody(exc.status_code, exc.detail, extra)
    return Response(body, status_code=exc.status_code, headers=exc.headers)


API_ERRORS: ExceptionHandlersMap = {HTTPException: error_body}  # of every /api router


def limit_of(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def time_ns(value: str | None, name: str) -> int | None:
    """A time parameter: ISO 8601, or epoch milliseconds (what a browser's Date.now() gives)."""
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        ns = int(value) * 1_000_000
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(f"{name} must be ISO 8601 or epoch milliseconds, not {value!r}") from None
        ns = int(moment.timestamp() * 1_000_000) * 1000
    if not -(2**63) <= ns < 2**63:  # times are BIGINT nanoseconds: years 1678-2262
        raise bad_request(f"{name} {value!r} is out of range (years 1678 to 2262)")
    return ns


def time_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    start_ns, end_ns = time_ns(start, "start"), time_ns(end, "end")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise bad_request("start is after end")
    return start_ns, end_ns


def search_sql(query: str | None, signal: Signal) -> tuple[str, list[Any]]:
    """The WHERE clause for `query`; a syntax error is a 400 that says where and what was expected."""
    try:
        where, params = compile_search(query or "", signal)
    except SearchSyntaxError as exc:
        raise bad_request(str(exc), SearchErrorAt(exc.position, exc.expected)) from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return where, list(params)


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, size: int) -> tuple[Any, ...] | None:
    if not cursor:
        return None
    try:
        key = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad_request("cursor is not one this server gave out") from None
    if not isinstance(key, list) or len(key) != size:
        raise bad_request("cursor is not one this server gave out")
    return tuple(key)


def execute(
    cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of `sql`; a search DuckDB cannot run is a 400."""
    try:
        result = cur.execute(sql, params)
    except duckdb.InvalidInputException as exc:  # e.g. a /regex/ RE2 cannot compile
        raise bad_request(f"the query cannot run: {str(exc).splitlines()[0]}") from None
    return [d[0] for d in result.description], result.fetchall()


def fetch(cur: duckdb.DuckDBPyConnection, cls: type[S], sql: str, params: Sequence[object]) -> list[S]:
    """The rows of `sql` as `cls` Structs: its SELECT names the Struct's fields, in order."""
    return structs(cls, *execute(cur, sql, params))


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> list[dict[str, Any]]:
    """The rows of `sql` as dicts, for reading a few values (not for answers: those are Structs)."""
    names, found = execute(cur, sql, params)
    return [dict(zip(names, row, strict=True)) for row in found]


def newest_first(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    column: str,
    fetch: Callable[[str, list[Any]], list[T]],
    want: int,
    bounds: tuple[int | None, ...],
) -> list[T]:
    """A newest-first page, looked for among the newest rows first, in growing windows.

    `fetch(condition, params)` runs the page's query with one more condition; `bounds` are the
    request's lower bound on `column` first, then upper bounds (end, cursor). Telemetry is stored in
    about the order it happened, so a window is "`column` at least that of the row stored n rows
    before the last" (n = 1024 x `want`, then 8x more each time, the last window unbounded), and
    DuckDB's per-row-group min/max of `column` skip everything older: the newest page of a rare
    word reads the newest slice of the table, not all of it. Exact whatever the order: when a window
    holds `want` rows it holds the page, since every row outside it is older than every row inside.
    """
    start, *ends = bounds
    upper = min((b for b in ends if b is not None), default=None)
    (count,) = cur.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,)
    back = 1024 * want
    while back < count:
        (cut,) = cur.execute(f"SELECT {column} FROM {table} WHERE rowid = ?", [count - back]).fetchone() or (
            None,
        )
        if cut is None or (start is not None and cut <= start):
            break
        if upper is None or cut <= upper:  # else this window holds nothing the page may show
            found = fetch(f"{column} >= ?", [cut])
            if len(found) >= want:
                return found
        back *= 8
    return fetch("TRUE", [])


# Up to this many trace ids are looked up with a constant IN list, which DuckDB pushes through the
# trace_sessions aggregate into the span scans; more are joined to the whole view instead.
_IN_LIST_MAX = 256


def sessions_of_traces(cur: duckdb.DuckDBPyConnection, trace_ids: Iterable[str]) -> dict[str, str]:
    """trace id → its session (views.sql `trace_sessions`), for these traces only.

    Joining a page of rows to the view would resolve the session of every trace in the store first.
    """
    ids = sorted({trace_id for trace_id in trace_ids if trace_id})
    if not ids:
        return {}
    # A trace whose spans carry a session has that one (the view's first rank): read from its
    # summary alone, 5 ms for 76 traces at 5M spans where the view took 16.
    found = _sessions_among(cur, "SELECT trace_id, session_id FROM trace_summaries", ids)
    rest = [trace_id for trace_id in ids if trace_id not in found]
    if rest:
        found.update(_sessions_among(cur, "SELECT trace_id, session_id FROM trace_sessions", rest))
    return found


def _sessions_among(cur: duckdb.DuckDBPyConnection, select: str, ids: list[str]) -> dict[str, str]:
    """trace id → session of `select` (rows of trace_id, session_id), for these traces only.

    (NULL sessions are left out here: `AND session_id IS NOT NULL` made DuckDB scan every summary,
    13 ms instead of 5.)
    """
    if len(ids) <= _IN_LIST_MAX:
        sql = f"{select} WHERE trace_id IN ({', '.join('?' * len(ids))})"
        params: list[object] = list(ids)
    else:
        sql = f"SELECT t.* FROM ({select}) AS t SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS trace_id) AS i "
        sql += "ON i.trace_id = t.trace_id"
        params = [ids]
    found = cur.execute(sql, params).fetchall()
    return {str(trace_id): str(session_id) for trace_id, session_id in found if session_id is not None}


class Linkable(Protocol):
    """A row that belongs to a session directly or through its trace (log lines, spans)."""

    trace_id: str
    session_id: str | None
    linked_session_id: str | None


class OfOneTrace(Protocol):
    """A row of a trace known to the caller (its spans, log lines and errors)."""

    session_id: str | None
    linked_session_id: str | None


L = TypeVar("L", bound=Linkable)
T1 = TypeVar("T1", bound=OfOneTrace)


def link_sessions(cur: duckdb.DuckDBPyConnection, items: list[L]) -> list[L]:
    """Set each item's `linked_session_id` as the linked_* views do: its own session, else its trace's."""
    found = sessions_of_traces(cur, (item.trace_id for item in items if item.session_id is None))
    for item in items:
        own = item.session_id
        item.linked_session_id = own if own is not None else found.get(item.trace_id)
    return items


def link_to(items: list[T1], trace_session_id: str | None) -> list[T1]:
    """Set the `linked_session_id` of one trace's items: their own session, else the trace's."""
    for item in items:
        own = item.session_id
        item.linked_session_id = own if own is not None else trace_session_id
    return items


def time_where(column: str, start_ns: int | None, end_ns: int | None) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if start_ns is not None:
        parts.append(f"{column} >= ?")
        params.append(start_ns)
    if end_ns is not None:
        parts.append(f"{column} <= ?")
        params.append(end_ns)
    return " AND ".join(parts) or "TRUE", params


def cursor_key(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The cursor's sort key, each part of the expected type (bool is not an int here)."""
    key = decode_cursor(cursor, len(types))
    if key is not None and not all(type(part) is kind for part, kind in zip(key, types, strict=True)):
        raise bad_request("cursor is not one this server gave out")
    return key


def after_key(columns: tuple[str, ...], key: tuple[Any, ...] | None) -> tuple[str, list[Any]]:
    """Rows sorting strictly after `key` in `ORDER BY columns DESC`: the next page of a list."""
    if key is None:
        return "TRUE", []
    column, *rest = columns
    if not rest:
        return f"{column} < ?", [key[0]]
    inner_sql, inner_params = after_key(tuple(rest), key[1:])
    return f"({column} < ? OR ({column} = ? AND {inner_sql}))", [key[0], key[0], *inner_params]


@dataclass(frozen=True, slots=True)
class Listing:
    """One newest-first list request as SQL pieces: the search, the time range on the sort key's
    first column, the page size, and the rows after the cursor's key."""

    where: str
    params: list[Any]
    start_ns: int | None
    end_ns: int | None
    size: int
    after: tuple[Any, ...] | None
    range_sql: str
    range_params: list[Any]
    after_sql: str
    after_params: list[Any]

    @property
    def bounds(self) -> tuple[int | None, ...]:
        """`newest_first`'s bounds: the range's start, then its end and the cursor's time."""
        return (self.start_ns, self.end_ns, self.after[0] if self.after else None)


def listing(
    signal: Signal,
    query: str | None,
    start: str | None,
    end: str | None,
    limit: int | None,
    cursor: str | None,
    key: tuple[tuple[str, type], ...],
) -> Listing:
    """Parse a list request whose rows sort by `key` ((column, type) pairs, time first), newest first."""
    where, params = search_sql(query, signal)
    start_ns, end_ns = time_range(start, end)
    columns, types = zip(*key, strict=True)
    after = cursor_key(cursor, *types)
    range_sql, range_params = time_where(columns[0], start_ns, end_ns)
    after_sql, after_params = after_key(columns, after)
    size = limit_of(limit)
    return Listing(
        where, params, start_ns, end_ns, size, after, range_sql, range_params, after_sql, after_params
    )


def page(items: list[T], limit: int, key: Callable[[T], tuple[Any, ...]]) -> tuple[list[T], str | None]:
    """(the page, the next page's cursor): `items` holds up to limit + 1 rows, the extra one only says
    that there is a next page."""
    more = len(items) > limit
    items = items[:limit]
    return items, encode_cursor(key(items[-1])) if more else None


# Set in the scope of an export's in-process requests (export/asgi.py): a file sent to someone else
# carries no lines of this machine's source files and no links into its editor.
FOR_EXPORT = "hl_local.for_export"


def sources_of(request: Request[Any, Any, Any]) -> Sources | None:
    """The server's source context (source/frames.py), or None where frames get none: an export."""
    if request.scope.get("state", {}).get(FOR_EXPORT):
        return None
    sources: Sources | None = request.app.state.get("sources")
    return sources
