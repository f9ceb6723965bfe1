"""Metrics over HTTP: the metric names, one metric as a bucketed series, and web vitals across sessions.

- `GET /api/metrics`: every metric name with points matching `query` (metrics search language) in
  the range: type, unit, services, point count, what its series can show and be grouped by.
- `GET /api/metrics/series?name=`: one metric over the range in `buckets` equal buckets, aggregated
  as its type means (query/metric_series.py), one line per value of `group_by` (the busiest 10).
- `GET /api/metrics/web-vitals`: LCP, INP, CLS, FCP and TTFB as highlight.run reports them (gauges
  with the page URL in the `group` attribute and the session in `highlight.session_id`): each
  session's last report per page, then the 75th percentile per page, rated by web.dev's thresholds.
- `GET /api/metrics/web-vitals/sessions?vital=&page=`: the sessions behind one of those figures.

Time ranges are half-open: `start` inclusive, `end` exclusive; an open side is the points' own.
"""

from __future__ import annotations

import re
from typing import Any, Final

import duckdb
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException

from hl_local.query.common import API_ERRORS, Query, answers, bad_request, execute, search_sql, time_range
from hl_local.query.metric_responses import (
    Aggregation,
    MetricList,
    MetricSeries,
    MetricSummary,
    MetricType,
    SeriesLine,
)
from hl_local.query.metric_series import (
    Cells,
    SeriesQuery,
    aggregations,
    counter_series,
    gauge_series,
    histogram_series,
)
from hl_local.query.metric_sketches import exponential_series, summary_series
from hl_local.query.web_vitals import web_vitals, web_vitals_sessions
from hl_local.store.db import Store

DEFAULT_BUCKETS, MAX_BUCKETS = 60, 500
MAX_GROUPS: Final = 10
MAX_METRICS: Final = 1000
# Keys a series can be grouped by besides the points' attributes (the column of each).
GROUP_COLUMNS: Final = {
    "service_name": "service_name",
    "service_version": "service_version",
    "environment": "environment",
    "session_id": "session_id",
    "scope_name": "scope_name",
}
_KEY: Final = re.compile(r"[A-Za-z0-9_.\-]+")


def _range_sql(start_ns: int | None, end_ns: int | None) -> tuple[str, list[Any]]:
    parts, params = ["TRUE"], []
    if start_ns is not None:
        parts.append("time_ns >= ?")
        params.append(start_ns)
    if end_ns is not None:
        parts.append("time_ns < ?")
        params.append(end_ns)
    return " AND ".join(parts), params


@get("/metrics", responses=answers(400))
async def list_metrics(
    request: Request[Any, Any, Any], search: Query = None, start: str | None = None, end: str | None = None
) -> MetricList:
    """Metric names with a point matching `query` in [start, end), by name (at most 1,000)."""
    where, params = search_sql(search, "metrics")
    in_range, range_params = _range_sql(*time_range(start, end))
    matched = f"SELECT rowid AS row_id, * FROM metric_points WHERE ({where}) AND {in_range}"
    all_params = [*params, *range_params]
    # per (name, type, service) first, then the newest point's unit and description by row id: arg_max
    # over the text columns of every point cost twice as much (at 1M points: 580 → 310 ms)
    sql = f"""
WITH g AS (SELECT metric_name, metric_type, service_name, count(*) AS n, min(time_ns) AS first_ns,
                  max(time_ns) AS last_ns, arg_max(row_id, time_ns) AS newest FROM ({matched}) GROUP BY ALL)
SELECT g.metric_name, g.metric_type, g.service_name, g.n, g.first_ns, g.last_ns, p.unit, p.description,
       p.temporality, p.is_monotonic
FROM g JOIN (SELECT rowid AS r, unit, description, temporality, is_monotonic FROM metric_points
             WHERE rowid IN (SELECT newest FROM g)) AS p ON p.r = g.newest
"""
    # attribute keys from each distinct attribute set (they repeat: a few sets per metric, not a key
    # list per point)
    keys_sql = f"""
WITH sets AS (SELECT DISTINCT metric_name, attributes FROM ({matched}))
SELECT metric_name, list(DISTINCT key ORDER BY key) FROM
  (SELECT metric_name, unnest(json_keys(attributes)) AS key FROM sets WHERE attributes LIKE '{{%')
GROUP BY metric_name
"""
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> MetricList:
        _, found = execute(cur, sql, all_params)
        _, keyed = execute(cur, keys_sql, all_params)
        keys = {name: [k for k in found_keys if _KEY.fullmatch(k)] for name, found_keys in keyed}
        return MetricList([_summary(name, rows, keys.get(name, [])) for name, rows in _by_name(found)])

    return await store.read(read)


def _by_name(rows: list[tuple[Any, ...]]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    named: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        named.setdefault(row[0], []).append(row)
    return sorted(named.items())[:MAX_METRICS]


def _summary(name: str, rows: list[tuple[Any, ...]], keys: list[str]) -> MetricSummary:
    """One metric from its rows per (type, service): the type most points have; the newest's unit."""
    points_by_type: dict[MetricType, int] = {}
    for row in rows:
        points_by_type[row[1]] = points_by_type.get(row[1], 0) + int(row[3])
    kind = max(points_by_type, key=lambda t: (points_by_type[t], t))
    *_, unit, description, temporality, monotonic = max(rows, key=lambda row: row[5])
    services = sorted({row[2] for row in rows if row[2]})
    return MetricSummary(
        name, kind, unit, description, temporality, monotonic, services, sum(points_by_type.values()),
        min(row[4] for row in rows), max(row[5] for row in rows), aggregations(kind, temporality, monotonic),
        [*GROUP_COLUMNS, *keys],
    )  # fmt: skip


def compute(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    """(value per (bucket, group), points per group) of `q`'s metric, by what its type means."""
    if q.metric_type == "gauge" or (q.metric_type == "sum" and not q.counter):
        return gauge_series(cur, q)  # gauges, and sums that hold a level
    if q.metric_type == "sum":
        return counter_series(cur, q)
    if q.metric_type == "histogram":
        return histogram_series(cur, q)
    if q.metric_type == "exponential_histogram":
        return exponential_series(cur, q)
    return summary_series(cur, q)


def _group_sql(group_by: str | None) -> tuple[str, list[Any]]:
    if not group_by:
        return "NULL::VARCHAR", []
    if group_by in GROUP_COLUMNS:
        return f"nullif({GROUP_COLUMNS[group_by]}, '')", []
    if not _KEY.fullmatch(group_by):
        raise bad_request(f"group_by {group_by!r} is not a key: letters, digits, _ . and - only")
    path = f'$."{group_by}"'
    lookup = "coalesce(json_extract_string(attributes, ?), json_extract_string(resource_attributes, ?))"
    return lookup, [path, path]


@get("/metrics/series", responses=answers(400, 404))
async def metric_series(
    request: Request[Any, Any, Any],
    name: str,
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
    buckets: int = DEFAULT_BUCKETS,
    group_by: str | None = None,
    agg: Aggregation | None = None,
) -> MetricSeries:
    """`name` over [start, end) (default: its points' own span) in `buckets` buckets, aggregated by
    `agg` (default: the first its type offers), one line per `group_by` value (the 10 with most points)."""
    if not 1 <= buckets <= MAX_BUCKETS:
        raise bad_request(f"buckets must be between 1 and {MAX_BUCKETS}")
    where, params = search_sql(search, "metrics")
    start_ns, end_ns = time_range(start, end)
    group_sql, group_params = _group_sql(group_by)
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> MetricSeries:
        in_range, range_params = _range_sql(start_ns, end_ns)
        _, found = execute(
            cur,
            "SELECT mode(metric_type), arg_max(unit, time_ns), arg_max(description, time_ns), "
            "arg_max(temporality, time_ns), arg_max(is_monotonic, time_ns), min(time_ns), max(time_ns), "
            f"count(*) FROM metric_points WHERE metric_name = ? AND ({where}) AND {in_range}",
            [name, *params, *range_params],
        )
        kind, unit, description, temporality, monotonic, first, last, _ = found[0]
        if kind is None:
            kind, unit, description, temporality, monotonic = _newest(cur, name)
        metric_type: MetricType = kind
        offered = aggregations(metric_type, temporality, monotonic)
        chosen = agg or offered[0]
        if chosen not in offered:
            raise bad_request(f"{name} is a {metric_type}: agg is one of {', '.join(offered)}, not {chosen}")
        lo = start_ns if start_ns is not None else (first if first is not None else 0)
        hi = end_ns if end_ns is not None else (last + 1 if last is not None else lo + 1)
        width = max(1, -(-(hi - lo) // buckets))
        q = SeriesQuery(
            name, metric_type, metric_type == "sum" and bool(monotonic or temporality == 1), where, params,
            lo, hi, width, buckets, group_sql, group_params, chosen,
        )  # fmt: skip
        cells, points_of = compute(cur, q)
        # the busiest groups are drawn, the others only counted
        ranked = sorted(points_of, key=lambda g: (-points_of[g], g is None, g or ""))
        groups, others = ranked[:MAX_GROUPS], max(0, len(ranked) - MAX_GROUPS)
        lines = [
            SeriesLine(group, [cells.get((b, group)) for b in range(buckets)], points_of.get(group, 0))
            for group in (groups if group_by else [None])
        ]
        return MetricSeries(
            name, metric_type, unit, description, chosen, offered, group_by or None, lo, hi, width, lines,
            others, sum(points_of.values()),
        )  # fmt: skip

    return await store.read(read)


def _newest(cur: duckdb.DuckDBPyConnection, name: str) -> tuple[Any, ...]:
    """What the metric's newest point says about it (when no point matched: the series is empty)."""
    found = cur.execute(
        "SELECT metric_type, unit, description, temporality, is_monotonic FROM metric_points "
        "WHERE metric_name = ? ORDER BY time_ns DESC LIMIT 1",
        [name],
    ).fetchall()
    if not found:
        raise NotFoundException(f"no metric {name!r}")
    return tuple(found[0])


router = Router(
    path="/api",
    route_handlers=[list_metrics, metric_series, web_vitals, web_vitals_sessions],
    exception_handlers=API_ERRORS,
)
