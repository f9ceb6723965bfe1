"""One metric's points → a value per (time bucket, group), by what the metric's type means.

- **Gauges** (and up-down counters sent cumulative, which hold a level): `last` (the newest point of
  the bucket), `avg`, `min`, `max` of the values.
- **Counters** (monotonic sums, and sums sent as deltas): `sum` is the increase within the bucket,
  `rate` that per second. A delta point is its own increase; a cumulative point's increase is its
  value minus the previous point of the same stream (same attributes, resource, scope and service),
  or its whole value when the stream starts or was reset (another `start_ns`, or a smaller value).
  The previous point is looked for before the range too, so the first bucket is not a spike.
- **Histograms**: `p50` … `p99` from the bucket counts, `avg` (sum / count), `count` and `rate` of the
  observations, `min`, `max`. Cumulative points become deltas as counters do, bucket by bucket. A
  percentile is found by summing the counts of every point in the bucket (per set of bounds) and
  interpolating linearly inside the histogram bucket that holds the rank, as Prometheus'
  `histogram_quantile` does; the open first and last buckets are closed by the points' `min` and
  `max` when the SDK sent them (else 0 or the first bound, and the last bound).
- **Exponential histograms**: the same, after bringing every point to the smallest scale among them
  (an index at scale s is index >> (s - smallest) at the smallest), in Python: SDKs send few of these.
- **Summaries**: the quantile the SDK computed that is nearest to the one asked for, averaged over the
  bucket's points (quantiles of different points cannot be combined exactly); `avg` and `count` from
  their count and sum.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import duckdb
import msgspec

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
    groups: list[str | None] | None  # the groups to keep (None: all)
    agg: Aggregation


def compute(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    """(value per (bucket, group), points per group) for `q`."""
    if q.metric_type == "gauge" or (q.metric_type == "sum" and not q.counter):
        return _gauge(cur, q)
    if q.metric_type == "sum":
        return _counter(cur, q)
    if q.metric_type == "histogram":
        return _histogram(cur, q)
    if q.metric_type == "exponential_histogram":
        return _exponential(cur, q)
    return _summary(cur, q)


def _points(q: SeriesQuery, columns: str, *, history: bool) -> tuple[str, list[Any]]:
    """SELECT `columns`, grp, bucket (and stream) of the query's points. With `history`, points before
    the range are kept too (their bucket is negative), for the previous point of a cumulative stream."""
    keep = "TRUE"
    keep_params: list[Any] = []
    if q.groups is not None:
        keep = "(list_contains(?, grp) OR (grp IS NULL AND ?))"
        keep_params = [[g for g in q.groups if g is not None], None in q.groups]
    since = "TRUE" if history else "time_ns >= ?"
    sql = (
        # before the range: -1 (DuckDB's // truncates toward zero, which would make it bucket 0)
        f"SELECT * FROM (SELECT {columns}, {q.group_sql} AS grp, "
        "CASE WHEN time_ns < ? THEN -1 ELSE (time_ns - ?) // ? END::BIGINT AS bucket, "
        "hash(attributes, resource_attributes, scope_name, service_name) AS stream FROM metric_points "
        f"WHERE metric_name = ? AND metric_type = ? AND ({q.where}) AND time_ns < ? AND {since}) WHERE {keep}"
    )
    params = [*q.group_params, q.start_ns, q.start_ns, q.bucket_ns, q.name, q.metric_type, *q.params]
    params.append(q.end_ns)
    return sql, [*params, *([] if history else [q.start_ns]), *keep_params]


def _counts(rows: Iterable[tuple[Any, ...]]) -> dict[str | None, int]:
    counts: dict[str | None, int] = defaultdict(int)
    for row in rows:
        counts[row[1]] += int(row[-1])
    return dict(counts)


def _gauge(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    value = {"last": "arg_max(value, time_ns)", "avg": "avg(value)", "min": "min(value)", "max": "max(value)"}
    points, params = _points(q, "time_ns, value", history=False)
    sql = f"SELECT bucket, grp, {value.get(q.agg, 'avg(value)')}, count(*) FROM ({points}) GROUP BY ALL"
    _, found = execute(cur, sql, params)
    return {(b, g): v for b, g, v, _ in found if v is not None}, _counts(found)


# A cumulative point continues its stream's previous one: same start, and no reset.
_CONTINUES = "temporality = 2 AND prev_start = start_ns AND {value} >= prev_{value}"
_PREVIOUS = "WINDOW w AS (PARTITION BY stream ORDER BY time_ns)"


def _counter(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    points, params = _points(q, "time_ns, start_ns, temporality, value", history=True)
    continues = _CONTINUES.format(value="value")
    sql = (
        f"SELECT bucket, grp, sum(CASE WHEN {continues} THEN value - prev_value ELSE value END), count(*) "
        f"FROM (SELECT *, lag(value) OVER w AS prev_value, lag(start_ns) OVER w AS prev_start "
        f"FROM ({points}) {_PREVIOUS}) WHERE bucket >= 0 GROUP BY ALL"
    )
    _, found = execute(cur, sql, params)
    per = q.bucket_ns / 1e9 if q.agg == "rate" else 1.0
    return {(b, g): v / per for b, g, v, _ in found if v is not None}, _counts(found)


def _histogram(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    points, params = _points(
        q,
        "time_ns, start_ns, temporality, count, sum, min, max, bucket_counts, explicit_bounds",
        history=True,
    )
    continues = _CONTINUES.format(value="count") + " AND len(prev_counts) = len(bucket_counts)"
    deltas = f"""
WITH d AS (SELECT bucket, grp, explicit_bounds AS bounds, min, max,
  CASE WHEN {continues} THEN list_transform(bucket_counts, lambda c, i: c::BIGINT - prev_counts[i]::BIGINT)
       ELSE list_transform(bucket_counts, lambda c: c::BIGINT) END AS counts,
  CASE WHEN {continues} THEN count - prev_count ELSE count END AS n,
  CASE WHEN {continues} THEN sum - prev_sum ELSE sum END AS s
FROM (SELECT *, lag(bucket_counts) OVER w AS prev_counts, lag(count) OVER w AS prev_count,
             lag(sum) OVER w AS prev_sum, lag(start_ns) OVER w AS prev_start FROM ({points}) {_PREVIOUS})
WHERE bucket >= 0)"""
    if q.agg not in PERCENTILES:
        sql = (
            f"{deltas} SELECT bucket, grp, sum(n)::DOUBLE, sum(s), min(min), max(max), count(*) "
            "FROM d GROUP BY ALL"
        )
        _, found = execute(cur, sql, params)
        return {(b, g): v for b, g, *rest in found if (v := _moments(q, rest)) is not None}, _counts(found)
    sql = (
        f"{deltas} SELECT bucket, grp, bounds, i, sum(c), min(mn), max(mx), count(*) FROM "
        "(SELECT bucket, grp, bounds, min AS mn, max AS mx, unnest(counts) AS c, "
        "generate_subscripts(counts, 1) AS i FROM d WHERE counts IS NOT NULL) GROUP BY ALL"
    )
    _, found = execute(cur, sql, params)
    # (bucket, group) → bounds → counts per histogram bucket, and the observed min and max
    shapes: dict[tuple[int, str | None], dict[tuple[float, ...], dict[int, int]]] = defaultdict(dict)
    extremes: dict[tuple[int, str | None], tuple[float | None, float | None]] = {}
    points_of: dict[str | None, int] = defaultdict(int)
    for bucket, grp, bounds, i, c, low, high, n in found:
        cell = (bucket, grp)
        shapes[cell].setdefault(tuple(bounds or ()), {})[int(i)] = int(c)
        extremes[cell] = _widen(extremes.get(cell), low, high)
        if i == 1:
            points_of[grp] += int(n)
    out: Cells = {}
    for cell, by_bounds in shapes.items():
        low, high = extremes[cell]
        ranges = [
            r for bounds, counts in by_bounds.items() for r in _explicit_ranges(bounds, counts, low, high)
        ]
        value = quantile(ranges, PERCENTILES[q.agg])
        if value is not None:
            out[cell] = value
    return out, dict(points_of)


def _moments(q: SeriesQuery, rest: list[Any]) -> float | None:
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


def _widen(
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


# ---------------------------------------------------------------- exponential histograms and summaries


class _Quantile(msgspec.Struct):
    quantile: float
    value: float


_quantiles = msgspec.json.Decoder(list[_Quantile])


def _exponential(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    columns = (
        "time_ns, start_ns, temporality, count, sum, min, max, exp_scale, exp_zero_count, "
        "exp_positive_offset, exp_positive_counts, exp_negative_offset, exp_negative_counts"
    )
    points, params = _points(q, columns, history=True)
    _, found = execute(cur, f"{points} ORDER BY stream, time_ns", params)
    scales = [row[7] for row in found if row[7] is not None]
    scale = min(scales, default=0)
    previous: dict[int, tuple[int, int, Counter[tuple[int, int]]]] = {}  # stream → (start, count, buckets)
    cells: dict[tuple[int, str | None], Counter[tuple[int, int]]] = defaultdict(Counter)
    moments: dict[tuple[int, str | None], list[float]] = defaultdict(lambda: [0.0, 0.0])
    extremes: dict[tuple[int, str | None], tuple[float | None, float | None]] = {}
    points_of: dict[str | None, int] = defaultdict(int)
    for _, start, temporality, count, total, low, high, *shape, grp, bucket, stream in found:
        buckets = _exp_buckets(scale, *shape)
        n, sum_ = count or 0, total or 0.0
        prev = previous.get(stream)
        previous[stream] = (start, count or 0, buckets)
        if temporality == 2 and prev is not None and prev[0] == start and (count or 0) >= prev[1]:
            buckets = buckets - prev[2]
            n -= prev[1]
        if bucket < 0:
            continue
        cell = (bucket, grp)
        cells[cell].update(buckets)
        moments[cell][0] += n
        moments[cell][1] += sum_
        extremes[cell] = _widen(extremes.get(cell), low, high)
        points_of[grp] += 1
    out: Cells = {}
    base = 2.0 ** (2.0**-scale)
    for cell, buckets in cells.items():
        if q.agg in PERCENTILES:
            low, high = extremes[cell]
            value = quantile(_exp_ranges(base, buckets, low, high), PERCENTILES[q.agg])
        else:
            n, total = moments[cell]
            value = {"count": n, "rate": n / (q.bucket_ns / 1e9), "avg": total / n if n else None}.get(q.agg)
            if q.agg in ("min", "max"):
                value = extremes[cell][0 if q.agg == "min" else 1]
        if value is not None:
            out[cell] = float(value)
    return out, dict(points_of)


def _exp_buckets(to_scale: int, *shape: Any) -> Counter[tuple[int, int]]:
    """(sign, index at `to_scale`) → count of a point (scale, zero count, positive offset and counts,
    negative offset and counts); sign 0 is the zero bucket."""
    scale, zero, p_off, p_counts, n_off, n_counts = shape
    shift = (scale or 0) - to_scale
    out: Counter[tuple[int, int]] = Counter()
    if zero:
        out[(0, 0)] += zero
    for sign, offset, counts in ((1, p_off or 0, p_counts or []), (-1, n_off or 0, n_counts or [])):
        for i, n in enumerate(counts):
            if n:
                out[(sign, (offset + i) >> shift)] += n
    return out


def _exp_ranges(
    base: float, buckets: Counter[tuple[int, int]], low: float | None, high: float | None
) -> list[Range]:
    ranges: list[Range] = []
    for (sign, index), n in buckets.items():
        if n <= 0:
            continue
        if sign == 0:
            ranges.append((0.0, 0.0, n))
            continue
        lower, upper = base**index, base ** (index + 1)
        if sign < 0:
            lower, upper = -upper, -lower
        if low is not None:
            lower = max(lower, min(low, upper))
        if high is not None:
            upper = min(upper, max(high, lower))
        ranges.append((lower, upper, n))
    return ranges


def _summary(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    points, params = _points(q, "time_ns, start_ns, temporality, count, sum, quantiles", history=True)
    _, found = execute(cur, f"{points} ORDER BY stream, time_ns", params)
    wanted = PERCENTILES.get(q.agg)
    values: dict[tuple[int, str | None], list[float]] = defaultdict(list)
    moments: dict[tuple[int, str | None], list[float]] = defaultdict(lambda: [0.0, 0.0])
    previous: dict[int, tuple[int, int, float]] = {}
    points_of: dict[str | None, int] = defaultdict(int)
    for _time, start, temporality, count, total, text, grp, bucket, stream in found:
        n, s = count or 0, total or 0.0
        prev = previous.get(stream)
        previous[stream] = (start, n, s)
        if temporality != 1 and prev is not None and prev[0] == start and n >= prev[1]:
            n, s = n - prev[1], s - prev[2]  # summaries' count and sum are cumulative
        if bucket < 0:
            continue
        cell = (bucket, grp)
        points_of[grp] += 1
        moments[cell][0] += n
        moments[cell][1] += s
        if wanted is not None and text:
            try:
                found_q = _quantiles.decode(text)
            except msgspec.DecodeError:
                continue
            if found_q:
                values[cell].append(min(found_q, key=lambda x: abs(x.quantile - wanted)).value)
    out: Cells = {}
    if wanted is not None:
        out = {cell: sum(v) / len(v) for cell, v in values.items() if v}
    else:
        for cell, (n, s) in moments.items():
            if q.agg == "count":
                out[cell] = n
            elif n:
                out[cell] = s / n
    return out, dict(points_of)
