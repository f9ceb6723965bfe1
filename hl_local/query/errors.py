"""Error groups over HTTP: list them, read one with its latest occurrences, change its state.

The full query API (search, paging, sparklines) builds on this; these three are what the
grouping needs to be usable: a group's state is the user's, and it reopens on a new occurrence.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import duckdb
import msgspec
from litestar import Request, Router, get, patch
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from hl_local.decode.records import Batch
from hl_local.store.db import Store

State = Literal["open", "resolved", "ignored"]

_GROUP_COLUMNS = (
    "group_id, title, type, source, service_name, first_seen_ns, last_seen_ns, occurrences, state, "
    "state_changed_ns"
)
_AFFECTED_SESSIONS = (
    "(SELECT count(DISTINCT linked_session_id) FROM linked_errors AS e WHERE e.group_id = g.group_id)"
)


class StateChange(msgspec.Struct, forbid_unknown_fields=True):
    state: State


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@get("/")
async def list_groups(
    request: Request,
    group_state: Annotated[State | None, Parameter(query="state")] = None,  # `state` is litestar's name
    limit: int = 100,
) -> dict[str, Any]:
    store: Store = request.app.state.store
    where, params = ("WHERE state = ?", [group_state]) if group_state else ("", [])
    sql = (
        f"SELECT {_GROUP_COLUMNS}, {_AFFECTED_SESSIONS} AS affected_sessions FROM error_groups AS g "
        f"{where} ORDER BY last_seen_ns DESC LIMIT ?"
    )
    groups = await store.read(lambda cur: _rows(cur, sql, [*params, max(1, min(limit, 1000))]))
    return {"error_groups": groups}


@get("/{group_id:str}")
async def one_group(request: Request, group_id: str, occurrences: int = 20) -> dict[str, Any]:
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        groups = _rows(
            cur,
            f"SELECT {_GROUP_COLUMNS}, stack, frames, {_AFFECTED_SESSIONS} AS affected_sessions "
            "FROM error_groups AS g WHERE group_id = ?",
            [group_id],
        )
        if not groups:
            raise NotFoundException(f"no error group {group_id!r}")
        latest = _rows(
            cur,
            "SELECT error_id, time_ns, type, message, stack, frames, url, service_name, environment, "
            "linked_session_id AS session_id, request_id, trace_id, span_id, payload "
            "FROM linked_errors WHERE group_id = ? ORDER BY time_ns DESC LIMIT ?",
            [group_id, max(1, min(occurrences, 500))],
        )
        return {**groups[0], "occurrences_latest": latest}

    return await store.read(read)


@patch("/{group_id:str}")
async def change_state(request: Request, group_id: str) -> dict[str, Any]:
    """`{"state": "open" | "resolved" | "ignored"}`; the writer applies it like any write."""
    try:
        change = msgspec.json.decode(await request.body(), type=StateChange)
    except msgspec.DecodeError as exc:
        raise _bad_request(f'body must be {{"state": "open" | "resolved" | "ignored"}}: {exc}') from None
    store: Store = request.app.state.store
    exists = await store.read(
        lambda cur: cur.execute("SELECT count(*) FROM error_groups WHERE group_id = ?", [group_id]).fetchall()
    )
    if not exists[0][0]:
        raise NotFoundException(f"no error group {group_id!r}")
    await request.app.state.writer.write(
        Batch({"error_group_states": [(group_id, change.state, time.time_ns())]})
    )
    return {"group_id": group_id, "state": change.state}


def _bad_request(message: str) -> Exception:
    from litestar.exceptions import ValidationException

    return ValidationException(message)


error_groups_router = Router(path="/api/error-groups", route_handlers=[list_groups, one_group, change_state])
