"""What /api/metrics answers, as msgspec Structs (the other endpoints: responses.py)."""

from __future__ import annotations

from typing import Literal

import msgspec

MetricType = Literal["gauge", "sum", "histogram", "exponential_histogram", "summary"]
# sum: a counter's increase in the bucket; rate: that per second; last/avg/min/max of the values;
# count: histogram observations; pNN: a percentile of a histogram's observations (or a summary's quantile)
Aggregation = Literal["sum", "rate", "last", "avg", "min", "max", "count", "p50", "p75", "p90", "p95", "p99"]
Rating = Literal["good", "needs-improvement", "poor"]


class MetricSummary(msgspec.Struct):
    """One metric name with what its points say about it (the newest point's unit and description)."""

    name: str
    metric_type: MetricType  # the type most of its points have
    unit: str
    description: str
    temporality: int | None  # 1 delta, 2 cumulative (sums and histograms)
    is_monotonic: bool | None  # sums: a counter (true) or an up-down counter
    services: list[str]
    points: int  # in the range, matching the query
    first_ns: int
    last_ns: int
    aggregations: list[Aggregation]  # what the series can show, the default first
    group_keys: list[str]  # what the series can be grouped by: reserved keys, then attribute keys seen


class MetricList(msgspec.Struct):
    items: list[MetricSummary]


class SeriesLine(msgspec.Struct):
    group: str | None  # the group-by key's value (null: the points without it, or no group-by)
    values: list[float | None]  # one per bucket; null where the bucket has no point
    points: int


class MetricSeries(msgspec.Struct):
    """One metric over [start_ns, end_ns) in equal buckets, one line per group (the busiest first)."""

    name: str
    metric_type: MetricType
    unit: str
    description: str
    agg: Aggregation
    aggregations: list[Aggregation]
    group_by: str | None
    start_ns: int
    end_ns: int
    bucket_ns: int
    series: list[SeriesLine]
    other_groups: int  # groups left out (only the busiest are drawn)
    points: int  # the points read


class VitalThreshold(msgspec.Struct):
    """web.dev's thresholds: good at most `good`, poor above `poor`."""

    name: str
    unit: str
    good: float
    poor: float


class VitalFigure(msgspec.Struct):
    p75: float
    samples: int  # (session, page) pairs that reported it
    rating: Rating


class PageVitals(msgspec.Struct):
    page: str  # the `group` attribute (the page URL) without its query and fragment
    sessions: int
    vitals: dict[str, VitalFigure]


class WebVitals(msgspec.Struct):
    thresholds: list[VitalThreshold]
    overall: dict[str, VitalFigure]
    pages: list[PageVitals]  # the pages with the most sessions first


class VitalSession(msgspec.Struct):
    session_id: str
    page: str
    value: float  # the session's last report of the vital on that page
    rating: Rating
    time_ns: int
    offset_ms: int | None  # into the session's replay, when it was recorded


class VitalSessions(msgspec.Struct):
    vital: str
    page: str | None
    items: list[VitalSession]  # the worst first
