"""Web vitals across sessions: /api/metrics/web-vitals and the sessions behind each figure.

highlight.run sends LCP, INP, CLS, FCP and TTFB as OTLP gauges (also through pushMetrics), each point
with the page URL in the `group` attribute and the session in `highlight.session_id`; it resends the
same value every 30 s and reports CLS and INP again as they grow. So a sample is one session's last
report of a vital on one page, and a page's figure is the 75th percentile of its samples (as the
Chrome UX Report rates pages), rated with web.dev's thresholds. A page is its URL without query and
fragment. Points without a session (another SDK's gauges of the same names) are one sample each.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb
from litestar import Request, get

from hl_local.query.common import Query, answers, bad_request, execute, search_sql, time_range
from hl_local.query.metric_responses import (
    PageVitals,
    Rating,
    VitalFigure,
    VitalSession,
    VitalSessions,
    VitalThreshold,
    WebVitals,
)
from hl_local.store.db import Store

# web.dev: good at most, poor above (ms; CLS has no unit)
THRESHOLDS: Final = (
    VitalThreshold("LCP", "ms", 2500, 4000),
    VitalThreshold("INP", "ms", 200, 500),
    VitalThreshold("CLS", "", 0.1, 0.25),
    VitalThreshold("FCP", "ms", 1800, 3000),
    VitalThreshold("TTFB", "ms", 800, 1800),
)
_BY_NAME: Final = {t.name: t for t in THRESHOLDS}
MAX_PAGES: Final = 200
MAX_SESSIONS: Final = 200

# One row per (vital, session, page): the session's last report there. Points are first grouped by their
# attribute text (a session resends the same attributes every 30 s), so the page is parsed out of a few
# distinct attribute sets rather than out of every point (see ARCHITECTURE.md, Metrics).
_SAMPLES = """
WITH reports AS (
  SELECT metric_name, session_id, CASE WHEN session_id IS NULL THEN rowid END AS lone, attributes,
         arg_max(value, time_ns) AS value, max(time_ns) AS time_ns
  FROM metric_points
  WHERE metric_type = 'gauge' AND value IS NOT NULL AND list_contains(?, metric_name)
    AND ({where}) AND {range}
  GROUP BY ALL)
SELECT metric_name AS vital, coalesce(session_id, '#' || lone::VARCHAR) AS sample_of,
       any_value(session_id) AS session_id,
       regexp_replace(coalesce(json_extract_string(attributes, '$.group'), ''), '[?#].*$', '') AS page,
       arg_max(value, time_ns) AS value, max(time_ns) AS time_ns
FROM reports GROUP BY vital, sample_of, page
"""


def rating(vital: str, value: float) -> Rating:
    threshold = _BY_NAME[vital]
    return "good" if value <= threshold.good else "poor" if value > threshold.poor else "needs-improvement"


def _samples(search: str | None, start: str | None, end: str | None) -> tuple[str, list[Any]]:
    where, params = search_sql(search, "metrics")
    start_ns, end_ns = time_range(start, end)
    parts, range_params = ["TRUE"], []
    if start_ns is not None:
        parts.append("time_ns >= ?")
        range_params.append(start_ns)
    if end_ns is not None:
        parts.append("time_ns < ?")
        range_params.append(end_ns)
    sql = _SAMPLES.format(where=where, range=" AND ".join(parts))
    return sql, [list(_BY_NAME), *params, *range_params]


@get("/metrics/web-vitals", responses=answers(400))
async def web_vitals(
    request: Request[Any, Any, Any], search: Query = None, start: str | None = None, end: str | None = None
) -> WebVitals:
    """p75 of each vital per page (the pages with most sessions first, at most 200) and over all pages."""
    samples, params = _samples(search, start, end)
    sql = f"""
WITH s AS MATERIALIZED ({samples})
SELECT page, vital, quantile_cont(value, 0.75), count(*), NULL FROM s GROUP BY page, vital
UNION ALL SELECT page, NULL, NULL, NULL, count(DISTINCT sample_of) FROM s GROUP BY page
UNION ALL SELECT NULL, vital, quantile_cont(value, 0.75), count(*), NULL FROM s GROUP BY vital
"""
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> WebVitals:
        _, found = execute(cur, sql, params)
        pages: dict[str, PageVitals] = {}
        overall: dict[str, VitalFigure] = {}
        for page, vital, p75, samples_n, sessions in found:
            if page is None:
                overall[vital] = VitalFigure(p75, int(samples_n), rating(vital, p75))
                continue
            entry = pages.setdefault(page, PageVitals(page, 0, {}))
            if vital is None:
                entry.sessions = int(sessions)
            else:
                entry.vitals[vital] = VitalFigure(p75, int(samples_n), rating(vital, p75))
        ranked = sorted(pages.values(), key=lambda p: (-p.sessions, p.page))[:MAX_PAGES]
        return WebVitals(list(THRESHOLDS), overall, ranked)

    return await store.read(read)


@get("/metrics/web-vitals/sessions", responses=answers(400))
async def web_vitals_sessions(
    request: Request[Any, Any, Any],
    vital: str,
    page: str | None = None,
    search: Query = None,
    start: str | None = None,
    end: str | None = None,
) -> VitalSessions:
    """The sessions that reported `vital` (on `page`, or anywhere), the worst first (at most 200), each
    with its value and where it falls in the session's replay."""
    if vital not in _BY_NAME:
        raise bad_request(f"vital is one of {', '.join(_BY_NAME)}, not {vital!r}")
    samples, params = _samples(search, start, end)
    on_page = "AND s.page = ?" if page is not None else ""
    sql = (
        f"SELECT s.session_id, s.page, s.value, s.time_ns, s.time_ns // 1000000 - m.first_event_ms "
        f"FROM ({samples}) AS s LEFT JOIN session_summaries AS m ON m.session_id = s.session_id "
        f"WHERE s.vital = ? AND s.session_id IS NOT NULL {on_page} ORDER BY s.value DESC, s.session_id "
        f"LIMIT {MAX_SESSIONS}"
    )
    store: Store = request.app.state.store

    def read(cur: duckdb.DuckDBPyConnection) -> list[VitalSession]:
        _, found = execute(cur, sql, [*params, vital, *([page] if page is not None else [])])
        return [
            VitalSession(session_id, at_page, value, rating(vital, value), time_ns, offset)
            for session_id, at_page, value, time_ns, offset in found
        ]

    return VitalSessions(vital, page, await store.read(read))
