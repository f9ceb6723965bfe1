"""Series of the metric types summed up point by point in Python: exponential histograms and summaries.

SDKs send few of these; see metric_series.py for what each aggregation means. Exponential histograms
are brought to the smallest scale among the points read (an index at scale s is index >> (s - smallest)
there) and their percentiles interpolated as explicit ones; a summary's value is the quantile the SDK
computed nearest to the one asked for, averaged over the bucket's points.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import duckdb
import msgspec

from hl_local.query.common import execute
from hl_local.query.metric_series import PERCENTILES, Cells, Range, SeriesQuery, points_sql, quantile, widen


class _Quantile(msgspec.Struct):
    quantile: float
    value: float


_quantiles = msgspec.json.Decoder(list[_Quantile])


def exponential_series(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    columns = (
        "time_ns, start_ns, temporality, count, sum, min, max, exp_scale, exp_zero_count, "
        "exp_positive_offset, exp_positive_counts, exp_negative_offset, exp_negative_counts"
    )
    points, params = points_sql(q, columns, history=True)
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
        extremes[cell] = widen(extremes.get(cell), low, high)
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


def summary_series(cur: duckdb.DuckDBPyConnection, q: SeriesQuery) -> tuple[Cells, dict[str | None, int]]:
    points, params = points_sql(q, "time_ns, start_ns, temporality, count, sum, quantiles", history=True)
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
