"""/api/metrics against a live hl-local fed by the real OpenTelemetry Python SDK and real browser captures.

The SDK sends a cumulative counter (two routes), a delta counter, an up-down counter, a histogram
with explicit bounds (cumulative: the second export carries the first's counts too), an exponential
histogram and a gauge, in two exports; the browser capture's OTLP exports bring highlight.run's web
vitals. Summaries, which the Python SDK cannot make, and the web vitals of two more sessions are OTLP
JSON written here. Every figure asserted is worked out by hand from what was recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from tests.api_schema import conforms
from tests.conftest import Server, start_server
from tests.test_highlight_replay import Capture, send_all

Json = dict[str, Any]
PAGE = "http://127.0.0.1:8765/index.html"  # the capture's first page, without its query
SIZES = [float(2**i) for i in range(1, 12)]  # recorded into the exponential histogram


@dataclass
class Seeded:
    server: Server
    browser_session: str

    def get(self, path: str, status: int = 200, **params: Any) -> Json:
        reply = httpx.get(f"{self.server.ui_url}{path}", params=params, timeout=30)
        assert reply.status_code == status, (path, params, reply.text)
        conforms(reply)
        answer: Json = reply.json()
        return answer

    def series(self, name: str, **params: Any) -> Json:
        return self.get("/api/metrics/series", name=name, **params)


def _tick() -> None:
    """Let the clock move on, so two collections never share a timestamp (not a wait for anything)."""
    mark = time.time_ns()
    while time.time_ns() < mark + 5_000_000:
        pass


def _send_sdk_metrics(server: Server) -> None:
    exporter = OTLPMetricExporter(endpoint=f"{server.otlp_http_url}/v1/metrics", timeout=10)
    resource = Resource.create({"service.name": "shop", "deployment.environment": "ci"})
    reader = InMemoryMetricReader()
    exp_view = View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation())
    provider = MeterProvider(resource=resource, metric_readers=[reader], views=[exp_view])
    delta_reader = InMemoryMetricReader(
        preferred_temporality={Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
    )
    delta_provider = MeterProvider(resource=resource, metric_readers=[delta_reader])
    meter, delta_meter = provider.get_meter("tests.metrics"), delta_provider.get_meter("tests.metrics")
    orders = meter.create_counter("orders", unit="1", description="orders placed")
    depth = meter.create_up_down_counter("queue.depth")
    latency = meter.create_histogram("latency", unit="ms", explicit_bucket_boundaries_advisory=[10, 20, 50])
    sizes = meter.create_histogram("payload.size", unit="By")
    temperature = meter.create_gauge("temperature", unit="Cel")
    jobs = delta_meter.create_counter("jobs.done")
    try:
        orders.add(3, {"route": "/a"})
        orders.add(1, {"route": "/b"})
        depth.add(5)
        for value in (5, 15, 15, 40):
            latency.record(value)
        for value in SIZES:
            sizes.record(value)
        temperature.set(20)
        jobs.add(5)
        for source in (reader, delta_reader):
            assert exporter.export(source.get_metrics_data()).name == "SUCCESS"
        _tick()
        orders.add(4, {"route": "/a"})
        depth.add(-2)
        latency.record(100)
        temperature.set(25)
        jobs.add(2)
        for source in (reader, delta_reader):
            assert exporter.export(source.get_metrics_data()).name == "SUCCESS"
    finally:
        exporter.shutdown()
        provider.shutdown()
        delta_provider.shutdown()


def _value(v: float) -> Json:
    return {"asDouble": v}


def _gauge_json(name: str, points: list[tuple[str, str, float, int]]) -> Json:
    """OTLP JSON of highlight.run's shape: a gauge per (session, page URL, value, time ns)."""
    data_points = [
        {
            "attributes": [
                {"key": "group", "value": {"stringValue": url}},
                {"key": "category", "value": {"stringValue": "WebVital"}},
                {"key": "highlight.session_id", "value": {"stringValue": session}},
            ],
            "timeUnixNano": str(at),
            **_value(value),
        }
        for session, url, value, at in points
    ]
    scope = {
        "scope": {"name": "highlight-browser"},
        "metrics": [{"name": name, "unit": "ms", "gauge": {"dataPoints": data_points}}],
    }
    return {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [scope]}]}


def _summary_json(at: int) -> Json:
    point = {
        "timeUnixNano": str(at),
        "startTimeUnixNano": str(at - 1),
        "count": "10",
        "sum": 200.0,
        "quantileValues": [{"quantile": 0.5, "value": 12.0}, {"quantile": 0.99, "value": 80.0}],
    }
    scope = {
        "scope": {"name": "tests"},
        "metrics": [{"name": "rpc.latency", "summary": {"dataPoints": [point]}}],
    }
    return {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [scope]}]}


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    server = start_server(None)
    try:
        _send_sdk_metrics(server)
        main = Capture.load("main")
        metrics_only = Capture("metrics", [r for r in main.sent if r["path"].endswith("/v1/metrics")])
        assert all(reply.status_code == 200 for _, reply in send_all(server, metrics_only))
        now = time.time_ns()
        vitals = _gauge_json("LCP", [
            ("VitalsSessionB000000000001", f"{PAGE}?step=1", 2000, now - 2_000_000),
            ("VitalsSessionB000000000001", f"{PAGE}?step=1", 3000, now - 1_000_000),  # its last report
            ("VitalsSessionC000000000001", f"{PAGE}#top", 5000, now),
        ])  # fmt: skip
        for body in (vitals, _summary_json(now)):
            reply = httpx.post(f"{server.otlp_http_url}/v1/metrics", json=body, timeout=10)
            assert reply.status_code == 200, reply.text
        [session] = main.session_ids
        yield Seeded(server, session)
    finally:
        server.stop()


def _listed(seeded: Seeded, **params: Any) -> dict[str, Json]:
    return {item["name"]: item for item in seeded.get("/api/metrics", **params)["items"]}


def _total(series: Json, group: str | None = None) -> float:
    [line] = [line for line in series["series"] if line["group"] == group]
    return sum(v for v in line["values"] if v is not None)


def _only(series: Json) -> float:
    """The one bucket's value of a series asked for with buckets=1."""
    [line] = series["series"]
    [value] = line["values"]
    assert value is not None
    return float(value)


def test_the_list_names_every_metric_with_its_type_and_group_keys(seeded: Seeded) -> None:
    listed = _listed(seeded)
    assert {
        "orders",
        "jobs.done",
        "queue.depth",
        "latency",
        "payload.size",
        "temperature",
        "rpc.latency",
        "LCP",
    } <= set(listed)
    orders = listed["orders"]
    assert (orders["metric_type"], orders["temporality"], orders["is_monotonic"]) == ("sum", 2, True)
    assert (orders["unit"], orders["description"], orders["services"]) == ("1", "orders placed", ["shop"])
    assert orders["points"] == 4  # two routes, two exports
    assert orders["aggregations"] == ["sum", "rate"] and "route" in orders["group_keys"]
    assert listed["queue.depth"]["aggregations"][0] == "last"  # a level, not a counter
    assert listed["latency"]["aggregations"][:5] == ["p95", "p50", "p75", "p90", "p99"]
    assert listed["payload.size"]["metric_type"] == "exponential_histogram"
    assert listed["temperature"]["aggregations"] == ["last", "avg", "min", "max"]
    assert listed["rpc.latency"]["metric_type"] == "summary"
    assert {"group", "category", "highlight.session_id"} <= set(listed["LCP"]["group_keys"])
    # searchable like every other signal
    assert set(_listed(seeded, query="type=histogram")) == {"latency"}
    assert set(_listed(seeded, query="service_name=shop metric_unit=Cel")) == {"temperature"}


def test_a_cumulative_counter_is_its_increase(seeded: Seeded) -> None:
    # /a: 3 then 7 (cumulative): 7 in all; /b: 1 then 1 again: 1
    assert _total(seeded.series("orders")) == 8
    grouped = seeded.series("orders", group_by="route")
    assert {line["group"] for line in grouped["series"]} == {"/a", "/b"}
    assert (_total(grouped, "/a"), _total(grouped, "/b")) == (7, 1)
    assert _total(seeded.series("orders", query="route=/a")) == 7
    # from just after the first export: the increase since the point before the range, not a spike
    first_ns = _listed(seeded)["orders"]["first_ns"]
    after_first = datetime.fromtimestamp((first_ns + 1000) / 1e9, UTC).isoformat()
    assert _total(seeded.series("orders", start=after_first)) == 4


def test_rate_is_the_increase_per_second(seeded: Seeded) -> None:
    listed = _listed(seeded)["orders"]
    start_ms, end_ms = listed["first_ns"] // 1_000_000 - 1000, listed["last_ns"] // 1_000_000 + 1000
    series = seeded.series("orders", agg="rate", buckets=1, start=start_ms, end=end_ms)
    assert series["bucket_ns"] == (end_ms - start_ms) * 1_000_000
    assert _only(series) == pytest.approx(8 / ((end_ms - start_ms) / 1000))


def test_a_delta_counter_sums_and_an_up_down_counter_is_a_level(seeded: Seeded) -> None:
    assert _only(seeded.series("jobs.done", buckets=1)) == 7
    assert _only(seeded.series("queue.depth", buckets=1)) == 3  # last: 5, then 3
    assert _only(seeded.series("queue.depth", buckets=1, agg="max")) == 5


def test_histogram_percentiles_interpolate_within_buckets(seeded: Seeded) -> None:
    # deltas of the cumulative points: 5 | 15 15 | 40 in the first export, 100 in the second
    latency = {
        agg: _only(seeded.series("latency", buckets=1, agg=agg)) for agg in ("p50", "p99", "count", "avg")
    }
    assert latency["count"] == 5
    assert latency["avg"] == pytest.approx((5 + 15 + 15 + 40 + 100) / 5)
    assert latency["p50"] == pytest.approx(10 + 10 * (2.5 - 1) / 2)  # rank 2.5 in (10, 20], holding 2
    assert latency["p99"] == pytest.approx(50 + 50 * (4.95 - 4))  # in (50, +inf) closed by max 100
    assert _only(seeded.series("latency", buckets=1, agg="max")) == 100
    # each export alone: the second bucket holds only the new observation (a delta, not 5 again)
    per_export = seeded.series("latency", buckets=2, agg="count")
    assert [v for v in per_export["series"][0]["values"]] == [4, 1]


def test_exponential_histogram_percentiles(seeded: Seeded) -> None:
    p50 = _only(seeded.series("payload.size", buckets=1, agg="p50"))
    median = sorted(SIZES)[len(SIZES) // 2]
    assert median * 0.9 <= p50 <= median * 1.1, p50  # within the bucket's width at the SDK's scale
    assert _only(seeded.series("payload.size", buckets=1, agg="count")) == len(SIZES)
    assert _only(seeded.series("payload.size", buckets=1, agg="max")) == max(SIZES)


def test_gauges_and_summaries(seeded: Seeded) -> None:
    assert _only(seeded.series("temperature", buckets=1)) == 25
    assert _only(seeded.series("temperature", buckets=1, agg="avg")) == 22.5
    assert _only(seeded.series("rpc.latency", buckets=1, agg="p50")) == 12
    assert _only(seeded.series("rpc.latency", buckets=1, agg="p95")) == 80  # the nearest quantile sent: 0.99
    assert _only(seeded.series("rpc.latency", buckets=1, agg="avg")) == 20


def test_series_refuses_what_it_cannot_show(seeded: Seeded) -> None:
    reply = seeded.get("/api/metrics/series", 400, name="orders", agg="p95")
    assert "orders is a sum: agg is one of sum, rate" in reply["detail"]
    assert "not a key" in seeded.get("/api/metrics/series", 400, name="orders", group_by="a b")["detail"]
    assert seeded.get("/api/metrics/series", 400, name="orders", buckets=0)["status_code"] == 400
    assert (
        seeded.get("/api/metrics/series", 404, name="no.such.metric")["detail"]
        == "no metric 'no.such.metric'"
    )
    assert seeded.get("/api/metrics/series", 400, name="orders", query="route=(a")["extra"]["position"] == 8


def test_web_vitals_p75_per_page_and_the_sessions_behind_them(seeded: Seeded) -> None:
    vitals = seeded.get("/api/metrics/web-vitals")
    assert {t["name"] for t in vitals["thresholds"]} == {"LCP", "INP", "CLS", "FCP", "TTFB"}
    pages = {page["page"]: page for page in vitals["pages"]}
    first = pages[PAGE]
    assert first["sessions"] == 3
    # LCP samples: the capture's 652 (sent twice), B's last report 3000, C's 5000 → p75 of three
    assert first["vitals"]["LCP"] == {"p75": 4000.0, "samples": 3, "rating": "needs-improvement"}
    assert first["vitals"]["FCP"] == {"p75": 652.0, "samples": 1, "rating": "good"}
    assert (
        first["vitals"]["INP"]["p75"] == 40
        and pages["http://127.0.0.1:8765/page2.html"]["vitals"]["INP"]["p75"] == 16
    )
    by_page = sum(page["vitals"]["LCP"]["samples"] for page in vitals["pages"] if "LCP" in page["vitals"])
    assert vitals["overall"]["LCP"]["samples"] == by_page > 3  # page2.html had one too

    behind = seeded.get("/api/metrics/web-vitals/sessions", vital="LCP", page=PAGE)["items"]
    assert [(s["session_id"], s["value"], s["rating"]) for s in behind] == [
        ("VitalsSessionC000000000001", 5000, "poor"),
        ("VitalsSessionB000000000001", 3000, "needs-improvement"),
        (seeded.browser_session, 652, "good"),
    ]
    assert behind[-1]["offset_ms"] is None  # only its metrics were sent here: no replay to point into
    assert seeded.get("/api/metrics/web-vitals/sessions", 400, vital="FID")["detail"].startswith(
        "vital is one of"
    )
