"""/api/overview: what the home page shows, whether anything was stored yet, and where to send data.

With nothing stored the UI shows set-up snippets built from `addresses`: the ports this server
really listens on (port 0 picks one), which `runtime.serve` puts in the app's state once it bound
them. With data it shows the counts, when each signal last arrived and the newest error groups.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb
import msgspec
from litestar import Request, Router, get

from hl_local.query.common import API_ERRORS, answers, fetch
from hl_local.query.responses import State
from hl_local.store.db import Store

NEWEST_GROUPS: Final = 5


class Addresses(msgspec.Struct):
    """Where this server listens, as SDK settings want it."""

    ui_url: str  # the UI, the API, /public and OTLP/HTTP too
    otlp_http_url: str  # OTLP/HTTP's own port: the base URL (the SDKs add /v1/traces…)
    otlp_grpc_url: str  # http://host:port, as OTEL_EXPORTER_OTLP_ENDPOINT takes it with grpc
    backend_url: str  # highlight.run's backendUrl


class SignalCounts(msgspec.Struct):
    sessions: int
    errors: int
    error_groups: int
    logs: int
    spans: int
    metric_points: int


class LastReceived(msgspec.Struct):
    """When each signal's newest row arrived (ns); null: never."""

    sessions: int | None
    errors: int | None
    logs: int | None
    traces: int | None
    metrics: int | None


class GroupBrief(msgspec.Struct):
    group_id: str
    title: str
    type: str
    source: str
    service_name: str | None
    occurrences: int
    last_seen_ns: int
    state: State


class Overview(msgspec.Struct):
    empty: bool  # nothing stored at all: the first-run page
    counts: SignalCounts
    last_received: LastReceived
    newest_errors: list[GroupBrief]  # the open groups seen most recently
    addresses: Addresses | None  # null when the app runs without a server (the OpenAPI builder)


_LAST = (
    "SELECT (SELECT max(last_activity_ns) FROM session_summaries), (SELECT max(received_ns) FROM errors), "
    "(SELECT max(received_ns) FROM logs), (SELECT max(received_ns) FROM spans), "
    "(SELECT max(received_ns) FROM metric_points)"
)
_GROUPS = (
    f"SELECT {', '.join(GroupBrief.__struct_fields__)} FROM error_groups WHERE state = 'open' "
    f"ORDER BY last_seen_ns DESC, group_id LIMIT {NEWEST_GROUPS}"
)


@get("/overview", responses=answers())
async def overview(request: Request[Any, Any, Any]) -> Overview:
    """Counts per signal, when each last received data, the newest open error groups, and the addresses."""
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> Overview:
        counts = store.counts()
        figures = SignalCounts(*(counts[name] for name in SignalCounts.__struct_fields__))
        last = LastReceived(*cur.execute(_LAST).fetchall()[0])
        groups = fetch(cur, GroupBrief, _GROUPS, [])
        empty = not any(counts[name] for name in ("spans", "logs", "metric_points", "sessions", "errors"))
        return Overview(empty, figures, last, groups, request.app.state.get("addresses"))

    return await store.read(read)


router = Router(path="/api", route_handlers=[overview], exception_handlers=API_ERRORS)
