"""An error group in depth: its occurrences over time, what they have in common, the sessions they hit.

- `GET /api/error-groups/{id}/chart`: occurrences (and distinct sessions) per bucket of the range.
- `GET /api/error-groups/{id}/facets`: occurrences by service, environment, version, browser, OS and
  page URL (the browser and OS from the User-Agent of the session each error belongs to).
- `GET /api/error-groups/{id}/sessions`: the sessions with an occurrence, each with where the first one
  falls in its replay.

An error belongs to a session as everywhere else: its own, else its trace's (views.sql
`linked_errors`), looked up for this group's errors only. Ranges are half-open: `start` inclusive,
`end` exclusive; without them, the group's first and last occurrence.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final

import duckdb
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException

from hl_local.query.common import API_ERRORS, answers, bad_request, execute, sessions_of_traces, time_range
from hl_local.query.responses import (
    AffectedSession,
    AffectedSessions,
    ErrorGroupChart,
    ErrorGroupFacets,
    Facet,
    FacetValue,
)
from hl_local.store.db import Store

DEFAULT_BUCKETS, MAX_BUCKETS = 48, 500
FACET_VALUES: Final = 8
MAX_SESSIONS: Final = 200


def _linked(
    cur: duckdb.DuckDBPyConnection, group_id: str, start_ns: int | None, end_ns: int | None
) -> tuple[str, list[Any]]:
    """SQL of the group's errors in the range with `linked_session_id`, and its parameters; a 404 for a
    group that does not exist."""
    if not cur.execute("SELECT count(*) FROM error_groups WHERE group_id = ?", [group_id]).fetchall()[0][0]:
        raise NotFoundException(f"no error group {group_id!r}")
    parts: list[str] = ["group_id = ?"]
    params: list[Any] = [group_id]
    if start_ns is not None:
        parts.append("time_ns >= ?")
        params.append(start_ns)
    if end_ns is not None:
        parts.append("time_ns < ?")
        params.append(end_ns)
    where = " AND ".join(parts)
    missing = cur.execute(
        f"SELECT DISTINCT trace_id FROM errors WHERE {where} AND session_id IS NULL AND trace_id IS NOT NULL",
        params,
    ).fetchall()
    found = sessions_of_traces(cur, (row[0] for row in missing))
    sql = (
        "SELECT e.*, coalesce(e.session_id, m.session_id) AS linked_session_id FROM errors AS e "
        "LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS trace_id, unnest(?::VARCHAR[]) AS session_id) AS m "
        f"ON e.session_id IS NULL AND m.trace_id = e.trace_id WHERE {' AND '.join('e.' + p for p in parts)}"
    )
    return sql, [list(found), list(found.values()), *params]


@get("/error-groups/{group_id:str}/chart", responses=answers(400, 404))
async def group_chart(
    request: Request[Any, Any, Any],
    group_id: str,
    start: str | None = None,
    end: str | None = None,
    buckets: int = DEFAULT_BUCKETS,
) -> ErrorGroupChart:
    """Occurrences and affected sessions per bucket of [start, end) (default: first to last occurrence)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise bad_request(f"buckets must be between 1 and {MAX_BUCKETS}")
    start_ns, end_ns = time_range(start, end)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> ErrorGroupChart:
        linked, params = _linked(cur, group_id, start_ns, end_ns)
        first, last = cur.execute(f"SELECT min(time_ns), max(time_ns) FROM ({linked})", params).fetchall()[0]
        lo = start_ns if start_ns is not None else (first if first is not None else 0)
        hi = end_ns if end_ns is not None else (last + 1 if last is not None else lo + 1)
        width = max(1, -(-(hi - lo) // buckets))
        _, found = execute(
            cur,
            "SELECT least(greatest((time_ns - ?) // ?, 0), ?) AS bucket, count(*), "
            f"count(DISTINCT linked_session_id) FROM ({linked}) GROUP BY bucket",
            [lo, width, buckets - 1, *params],
        )
        counts, sessions = [0] * buckets, [0] * buckets
        for bucket, n, touched in found:
            counts[int(bucket)], sessions[int(bucket)] = int(n), int(touched)
        return ErrorGroupChart(group_id, lo, hi, width, counts, sessions)

    return await store.read(read)


# What a facet counts: (key, label, SQL over the linked errors joined to their session as `s`)
_FACETS: Final = (
    ("service", "Service", "e.service_name"),
    ("environment", "Environment", "coalesce(e.environment, s.environment)"),
    ("version", "Version", "coalesce(e.service_version, s.app_version)"),
    ("url", "URL", "regexp_replace(e.url, '[?#].*$', '')"),
)


@get("/error-groups/{group_id:str}/facets", responses=answers(400, 404))
async def group_facets(
    request: Request[Any, Any, Any], group_id: str, start: str | None = None, end: str | None = None
) -> ErrorGroupFacets:
    """The group's occurrences in the range counted by service, environment, version, browser, OS, URL."""
    start_ns, end_ns = time_range(start, end)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> ErrorGroupFacets:
        linked, params = _linked(cur, group_id, start_ns, end_ns)
        joined = f"({linked}) AS e LEFT JOIN sessions AS s ON s.session_id = e.linked_session_id"
        columns = ", ".join(f"nullif({sql}, '') AS {key}" for key, _, sql in _FACETS)
        _, found = execute(
            cur, f"SELECT {columns}, s.user_agent, count(*) FROM {joined} GROUP BY ALL", params
        )
        tallies: dict[str, Counter[str | None]] = {
            key: Counter() for key in (*(f[0] for f in _FACETS), "browser", "os")
        }
        total = 0
        for *values, user_agent, n in found:
            total += n
            for (key, _, _), value in zip(_FACETS, values, strict=True):
                tallies[key][value] += n
            browser, system = user_agent_parts(user_agent)
            tallies["browser"][browser] += n
            tallies["os"][system] += n
        labels = {key: label for key, label, _ in _FACETS} | {"browser": "Browser", "os": "OS"}
        order = ("service", "environment", "version", "browser", "os", "url")
        return ErrorGroupFacets(group_id, total, [_facet(key, labels[key], tallies[key]) for key in order])

    return await store.read(read)


def _facet(key: str, label: str, tally: Counter[str | None]) -> Facet:
    ranked = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    shown = [FacetValue(value, count) for value, count in ranked[:FACET_VALUES]]
    return Facet(key, label, shown, sum(count for _, count in ranked[FACET_VALUES:]))


_BROWSERS: Final = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:HeadlessChrome|Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[\d.]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS: Final = (
    ("Windows", re.compile(r"Windows NT")),
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def user_agent_parts(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser and major version, operating system) of a User-Agent; None where it does not say."""
    if not user_agent:
        return None, None
    browser = next(
        (f"{name} {m[1]}" for name, pattern in _BROWSERS if (m := pattern.search(user_agent))), None
    )
    if browser is not None and "HeadlessChrome" in user_agent:
        browser += " (headless)"
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    return browser, system


@get("/error-groups/{group_id:str}/sessions", responses=answers(400, 404))
async def group_sessions(
    request: Request[Any, Any, Any], group_id: str, start: str | None = None, end: str | None = None
) -> AffectedSessions:
    """Sessions with an occurrence of the group in the range, the most recently affected first (at most
    200): how many, the first one and its offset into the replay."""
    start_ns, end_ns = time_range(start, end)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> list[AffectedSession]:
        linked, params = _linked(cur, group_id, start_ns, end_ns)
        sql = f"""
WITH hit AS (SELECT linked_session_id AS session_id, count(*) AS n, arg_min(error_id, time_ns) AS first_id,
                    min(time_ns) AS first_ns, max(time_ns) AS last_ns
             FROM ({linked}) WHERE linked_session_id IS NOT NULL GROUP BY ALL
             ORDER BY last_ns DESC, session_id LIMIT {MAX_SESSIONS})
SELECT h.session_id, s.identifier, s.environment, s.user_agent, s.started_ns, h.n, h.first_id, h.first_ns,
       h.last_ns, h.first_ns // 1000000 - s.first_event_ms
FROM hit AS h LEFT JOIN session_summaries AS s ON s.session_id = h.session_id
ORDER BY h.last_ns DESC, h.session_id
"""
        _, found = execute(cur, sql, params)
        return [AffectedSession(*row) for row in found]

    return AffectedSessions(group_id, await store.read(read))


router = Router(
    path="/api", route_handlers=[group_chart, group_facets, group_sessions], exception_handlers=API_ERRORS
)
