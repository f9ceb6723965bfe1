"""One metric's points → a value per (time bucket, group), by what the metric's type means.

- **Gauges** (and up-down counters sent cumulative, which hold a level): `last` (the newest point of
  the bucket), `avg`, `min`, `max` of the values.
- **Counters** (monotonic sums, and sums sent as deltas): `sum` is the increase within the bucket,
  `rate` that per second. A delta point is its own increase. A cumulative stream's (same attributes,
  resource, scope and service) increase in a bucket is its last value there minus its last value in
  the bucket it was seen in before, or its whole last value when the stream starts or was reset
  (another `start_ns`, or a smaller value; a reset inside one bucket loses what came before it
  there). The bucket before is looked for before the range too, so the first bucket is not a spike.
- **Histograms**: `p50` … `p99` from the bucket counts, `avg` (sum / count), `count` and `rate` of the
  observations, `min`, `max`. Cumulative streams become deltas between buckets as counters do. A
  percentile is found by summing the counts of every point in the bucket (per set of bounds) and
  interpolating linearly inside the histogram bucket that holds the rank, as Prometheus'
  `histogram_quantile` does; the open first and last buckets are closed by the points' `min` and
  `max` when the SDK sent them (else 0 or the first bound, and the last bound).
- **Exponential histograms** and **summaries**: metric_sketches.py.

Gauges, counters and histograms are aggregated per (stream, bucket) in SQL first (see `_per_stream`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import duckdb

from hl_local.query.common import execute
from hl_local.query.metric_responses import Aggregation, MetricType

PERCENTILES: Final[dict[str, float]] = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}
_HISTOGRAM_AGGS: Final[list[Aggregation]] = ["p95", "p50", "p75", "p90", "p99", "avg", "count", "rate",
                                              "min", "max"]  # fmt: skip


def aggregations(metric_type: str, temporality: int | None, is_monotonic: bool | None) -> list[Aggregation]:
    """What a metric's series can show, the default first."""
    if metric_type == "sum" and (is_monotonic or temporality == 1):
        return ["sum", "rate"]
    if metric_type in ("histogram", "exponential_histogram"):
        return list(_HISTOGRAM_AGGS)
    if metric_type == "summary":
        return ["p50", "p90", "p95", "p99", "avg", "count"]
    return ["last", "avg", "min", "max"]  # gauges and levels


Cells = dict[tuple[int, str | None], float]


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """The points to read (one metric and type, matching `where`, before `end_ns`) and how to bucket them."""

    name: str
    metric_type: MetricType
    counter: bool  # a sum whose points are increases (monotonic, or sent as deltas)
    where: str
    params: list[Any]
    start_ns: int
    end_ns: int  # exclusive
    bucket_ns: int
    buckets: int
    group_sql: str  # 'NULL' without a group-by
    group_params: list[Any]
    agg: Aggregation


# The bucket of a point; before the range: -1 (DuckDB's // truncates toward zero: it would be 0)
_BUCKET = "CASE WHEN time_ns < ? THEN -1 ELSE (time_ns - ?) // ? END::BIGINT"
# A stream: the points of one series (its attributes, resource, scope and service).
_STREAM = "hash(attributes, resource_attributes, scope_name, service_name)"
# What a group-by can read of a stream (metrics.py GROUP_COLUMNS, and its attributes).
_STREAM_COLUMNS = ", ".join(
    f"any_value({c}) AS {c}"
    for c in ("attributes", "resource_attributes", "service_name", "service_version", "environment",
              "session_id", "scope_name")
)  # fmt: skip


def _filtered(q: SeriesQuery, *, history: bool) -> tuple[str, list[Any]]:
    """FROM … WHERE of the query's points; with `history`, the points before the range too (bucket -1),
    where a cumulative stream's previous point may be."""
    since = "TRUE" if history else "time_ns >= ?"
    sql = f"FROM metric_points WHERE metric_name = ? AND metric_type = ? AND ({q.where}) AND time_ns < ?"
    sql += f" AND {since}"
    return sql, [q.name, q.metric_type, *q.params, q.end_ns, *([] if history else [q.start_ns])]


def points_sql(q: SeriesQuery, columns: str, *, history: bool) -> tuple[str, list[Any]]:
    """SELECT `columns`, grp, bucket and stream of each of the query's points (for the types summed up
    in Python, point by point)."""
    source, params = _filtered(q, history=history)
    sql = f"SELECT {columns}, {q.group_sql} AS grp, {_BUCKET} AS bucket, {_STREAM} AS stream {source}"
    return sql, [*q.group_params, q.start_ns, q.start_ns, q.bucket_ns, *params]


def _per_stream(q: SeriesQuery, aggregates: str, *, history: bool) -> tuple[str, list[Any]]:
    """One row per (stream, bucket) of the query's points: `aggregates`, `points`, `grp` (the group-by
    key's value) and `stream`. Aggregating a stream's points first means the group-by key is read once
    per stream and bucket, not once per point (its JSON lookup was most of a series' time)."""
    source, params = _filtered(q, history=history)
    inner = (
        f"SELECT {_STREAM} AS stream, {_BUCKET} AS bucket, {_STREAM_COLUMNS}, count(*) AS points, "
        f"{aggregates} FROM (SELECT rowid AS row_id, * {source}) GROUP BY stream, bucket"
    )
    sql = f"SELECT {q.group_sql} AS grp, * FROM ({inner})"
    return sql, [*q.group_params, q.start_ns, q.start_ns, q.bucket_ns, *params]


def gauge_series(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    per, params = _per_stream(
        q,
        "sum(value) AS total, count(value) AS n, arg_max(value, time_ns) AS last, max(time_ns) AS last_ns, "
        "min(value) AS low, max(value) AS high",
        history=False,
    )
    value = {"last": "arg_max(last, last_ns)", "min": "min(low)", "max": "max(high)"}.get(
        q.agg, "sum(total) / sum(n)"
    )
    _, found = execute(cur, f"SELECT bucket, grp, {value}, sum(points) FROM ({per}) GROUP BY ALL", params)
    return {(b, g): v for b, g, v, _ in found if v is not None}, _counts(found)


def _counts(rows: Iterable[tuple[Any, ...]]) -> dict[str | None, int]:
    """points per group, of rows (bucket, grp, …, points)."""
    counts: dict[str | None, int] = defaultdict(int)
    for row in rows:
        counts[row[1]] += int(row[-1])
    return dict(counts)


def counter_series(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    # A stream's increase in a bucket: its last value minus its last value in the bucket it was seen in
    # before (same start, not smaller), else its last value (it started or was reset). Deltas: their sum.
    per, params = _per_stream(
        q,
        "any_value(temporality) AS t, arg_max(value, time_ns) AS last, arg_max(start_ns, time_ns) AS st, "
        "sum(value) AS total",
        history=True,
    )
    sql = (
        f"WITH d AS (SELECT bucket, grp, points, CASE WHEN t <> 2 THEN total "
        "WHEN lag(st) OVER w = st AND last >= lag(last) OVER w THEN last - lag(last) OVER w "
        "ELSE last END AS inc "
        f"FROM ({per}) WINDOW w AS (PARTITION BY stream ORDER BY bucket)) "
        "SELECT bucket, grp, sum(inc), sum(points) FROM d WHERE bucket >= 0 GROUP BY ALL"
    )
    _, found = execute(cur, sql, params)
    per_s = q.bucket_ns / 1e9 if q.agg == "rate" else 1.0
    return {(b, g): v / per_s for b, g, v, _ in found if v is not None}, _counts(found)


def histogram_series(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    source, source_params = _filtered(q, history=True)
    (width,) = cur.execute(
        f"SELECT max(len(bucket_counts)) FILTER (WHERE temporality <> 2) {source}", source_params
    ).fetchall()[0]
    # Delta points add up bucket by bucket: a sum per position (there is no element-wise list sum), read
    # only when there are delta points, as reading list elements is slow (1.2 s per 400k points x 15).
    sums = ", ".join(f"sum(bucket_counts[{i}])" for i in range(1, (width or 0) + 1)) or "NULL"
    per, params = _per_stream(
        q,
        "any_value(temporality) AS t, arg_max(row_id, time_ns) AS last_row, "
        "arg_max(count, time_ns) AS last_count, arg_max(sum, time_ns) AS last_sum, "
        "arg_max(start_ns, time_ns) AS st, min(min) AS low, max(max) AS high, "
        f"sum(count) AS n, sum(sum) AS s, list_value({sums}) AS counts",
        history=True,
    )
    # The last point's lists, looked up by row id for these rows only: arg_max over the list columns
    # read every point's lists (0.8 s for 400k histogram points; the whole query with this ~0.5 s).
    sql = (
        f"WITH a AS ({per}) SELECT a.grp, a.stream, a.bucket, a.t, m.bucket_counts, a.last_count, "
        "a.last_sum, a.st, m.explicit_bounds, a.low, a.high, a.n, a.s, a.counts, a.points FROM a LEFT JOIN "
        "(SELECT rowid AS r, bucket_counts, explicit_bounds FROM metric_points "
        "WHERE rowid IN (SELECT last_row FROM a)) AS m ON m.r = a.last_row ORDER BY a.stream, a.bucket"
    )
    _, found = execute(cur, sql, params)
    cells: dict[tuple[int, str | None], _HistogramCell] = {}
    points_of: dict[str | None, int] = defaultdict(int)
    previous: dict[int, _Last] = {}  # stream → its last point in an earlier bucket
    for grp, stream, bucket, t, last_counts, *rest in found:
        last_count, last_sum, st, bounds, low, high, n, s, counts, points = rest
        if t == 2:  # cumulative: since the stream's last point in an earlier bucket, if it continues
            last = _Last(st, last_count or 0, last_sum or 0.0, [int(c) for c in last_counts or []])
            counts, n, s = _since(previous.get(stream), last)
            previous[stream] = last
        if bucket >= 0:
            cell = cells.setdefault((bucket, grp), _HistogramCell())
            cell.add(tuple(bounds or ()), [int(c or 0) for c in (counts or [])], n or 0, s or 0.0, low, high)
            points_of[grp] += int(points)
    return {key: v for key, cell in cells.items() if (v := cell.value(q)) is not None}, dict(points_of)


def _since(prev: _Last | None, last: _Last) -> tuple[list[int], int, float]:
    """A cumulative histogram's counts, count and sum since `prev`, when `last` continues it."""
    if (
        prev is not None
        and prev.start == last.start
        and last.count >= prev.count
        and len(prev.counts) == len(last.counts)
    ):
        return (
            [a - b for a, b in zip(last.counts, prev.counts, strict=True)],
            last.count - prev.count,
            last.sum - prev.sum,
        )
    return last.counts, last.count, last.sum


@dataclass(frozen=True, slots=True)
class _Last:
    start: int
    count: int
    sum: float
    counts: list[int]


class _HistogramCell:
    """The observations of one (bucket, group): counts per set of bounds, their count, sum, min, max."""

    def __init__(self) -> None:
        self.shapes: dict[tuple[float, ...], list[int]] = {}
        self.n = 0
        self.s = 0.0
        self.low: float | None = None
        self.high: float | None = None

    def add(
        self,
        bounds: tuple[float, ...],
        counts: list[int],
        n: int,
        s: float,
        low: float | None,
        high: float | None,
    ) -> None:
        known = self.shapes.get(bounds)
        self.shapes[bounds] = (
            counts if known is None else [a + b for a, b in zip(known, counts, strict=False)]
        )
        self.n += n
        self.s += s
        self.low, self.high = widen((self.low, self.high), low, high)

    def value(self, q: SeriesQuery) -> float | None:
        if q.agg in PERCENTILES:
            ranges = [
                r
                for bounds, counts in self.shapes.items()
                for r in _explicit_ranges(bounds, dict(enumerate(counts, 1)), self.low, self.high)
            ]
            return quantile(ranges, PERCENTILES[q.agg])
        return moments(q, [self.n, self.s, self.low, self.high, None])


def moments(q: SeriesQuery, rest: list[Any]) -> float | None:
    """count, rate, avg, min or max of a bucket's histogram points: (count, sum, min, max, points)."""
    n, s, low, high, _ = rest
    match q.agg:
        case "count":
            return float(n) if n is not None else None
        case "rate":
            return float(n) / (q.bucket_ns / 1e9) if n is not None else None
        case "avg":
            return float(s) / float(n) if n and s is not None else None
        case "min":
            return low  # type: ignore[no-any-return]  # a DOUBLE column
        case "max":
            return high  # type: ignore[no-any-return]
    return None


def widen(
    known: tuple[float | None, float | None] | None, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    if known is None:
        return low, high
    lows = [v for v in (known[0], low) if v is not None]
    highs = [v for v in (known[1], high) if v is not None]
    return (min(lows) if lows else None), (max(highs) if highs else None)


Range = tuple[float, float, int]  # lower, upper, observations


def _explicit_ranges(
    bounds: tuple[float, ...], counts: dict[int, int], low: float | None, high: float | None
) -> list[Range]:
    """An explicit histogram's buckets as ranges: (-inf, b0], (b0, b1], …, (b_last, +inf), closed by
    the observed min and max (else 0 or b0 below, and b_last above)."""
    ranges: list[Range] = []
    for i in range(1, len(bounds) + 2):
        n = counts.get(i, 0)
        if n <= 0:
            continue
        first, last = (bounds[0], bounds[-1]) if bounds else (0.0, 0.0)
        lower = bounds[i - 2] if i >= 2 else (low if low is not None else min(0.0, first))
        upper = bounds[i - 1] if i <= len(bounds) else (high if high is not None else last)
        if low is not None:
            lower = max(lower, min(low, upper))
        if high is not None:
            upper = min(upper, max(high, lower))
        ranges.append((lower, upper, n))
    return ranges


def quantile(ranges: list[Range], q: float) -> float | None:
    """The q-quantile of observations spread evenly within each (lower, upper] range."""
    ranges = sorted(r for r in ranges if r[2] > 0)
    total = sum(r[2] for r in ranges)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for lower, upper, n in ranges:
        if seen + n >= rank:
            return lower + (upper - lower) * max(0.0, rank - seen) / n
        seen += n
    return ranges[-1][1]
