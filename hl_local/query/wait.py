"""/api/wait: wait, bounded, until at least N rows of a signal match a search.

A test in any language can then assert on telemetry without racing the ingest: "3 spans named
checkout within 10 s" is one GET that answers as soon as they are stored, or after the timeout
with `arrived: false`, never later (nor later than the server's shutdown). Rows count from the
moment they are committed, so what an SDK's flush got acknowledged is counted at once.

The count is re-run only when the writer has committed rows of the signal's kinds (the counters
/api/live watches), at most every POLL_S; while waiting it stops at `count` rows (LIMIT), and the
answer then counts them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

import duckdb
import msgspec
from litestar import Request, get

from hl_local.query.common import (
    API_ERRORS,
    Query,
    answers,
    bad_request,
    execute,
    search_sql,
    time_range,
    time_where,
)
from hl_local.query.compile import Signal
from hl_local.query.live import TOPICS
from hl_local.store.db import Store
from hl_local.store.writer import Writer

WaitSignal = Literal["spans", "logs", "errors", "sessions"]
MAX_TIMEOUT_S = 300.0
MAX_COUNT = 1_000_000
POLL_S = 0.05  # 20 counts a second at most, however fast commits come


class Waited(msgspec.Struct):
    """Whether `count` matching rows arrived within the timeout, how many match, and how long it took."""

    arrived: bool
    count: int  # rows matching now (may exceed what was asked)
    waited_ms: int


# signal → (search language signal, table or view, its time column, the writer's row kinds)
_SOURCES: dict[WaitSignal, tuple[Signal, str, str, tuple[str, ...]]] = {
    "spans": ("traces", "listed_spans", "start_ns", TOPICS["traces"]),
    "logs": ("logs", "logs", "time_ns", TOPICS["logs"]),
    "errors": ("errors", "errors", "time_ns", ("errors",)),
    "sessions": ("sessions", "session_summaries", "started_ns", TOPICS["sessions"]),
}


@get("/api/wait", responses=answers(400), exception_handlers=API_ERRORS)
async def wait_for(
    request: Request[Any, Any, Any],
    signal: WaitSignal,
    search: Query = None,
    count: int = 1,
    timeout_s: float = 10.0,
    start: str | None = None,
    end: str | None = None,
) -> Waited:
    """Answer once at least `count` rows of `signal` match `query` within [start, end], or after
    `timeout_s` seconds (at most 300) with `arrived: false`."""
    if not 1 <= count <= MAX_COUNT:
        raise bad_request(f"count must be between 1 and {MAX_COUNT:,}")
    if not 0 <= timeout_s <= MAX_TIMEOUT_S:
        raise bad_request(f"timeout_s must be between 0 and {MAX_TIMEOUT_S:.0f}")
    search_signal, table, time_column, kinds = _SOURCES[signal]
    where, params = search_sql(search, search_signal)
    range_sql, range_params = time_where(time_column, *time_range(start, end))
    matching = f"SELECT 1 FROM {table} WHERE ({where}) AND {range_sql}"
    store: Store = request.app.state.store
    writer: Writer = request.app.state.writer

    def counter(limit: int | None) -> Callable[[duckdb.DuckDBPyConnection], int]:
        def count_rows(cur: duckdb.DuckDBPyConnection) -> int:
            sql = f"SELECT count(*) FROM ({matching}{' LIMIT ?' if limit else ''})"
            _names, rows = execute(cur, sql, [*params, *range_params, *([limit] if limit else [])])
            return int(rows[0][0])

        return count_rows

    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout_s
    seen: tuple[int, ...] | None = None
    while True:
        commits = tuple(writer.commits_by_kind.get(kind, 0) for kind in kinds)  # before counting
        if commits != seen:
            seen = commits
            if await store.read(counter(count)) >= count:
                break
        remaining = deadline - loop.time()
        if remaining <= 0 or _server_stopping(request):
            break
        await asyncio.sleep(min(POLL_S, remaining))
    found = await store.read(counter(None))
    return Waited(found >= count, found, round((loop.time() - started) * 1000))


def _server_stopping(request: Request[Any, Any, Any]) -> bool:
    """A wait must not hold the server's shutdown back (uvicorn would wait 5 s for it)."""
    server = request.app.state.get("server")
    return bool(server is not None and server.should_exit)
