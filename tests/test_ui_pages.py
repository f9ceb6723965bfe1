"""The web UI in Debian's Chromium: what a user would notice if it broke, on real recorded traffic.

One hl-local and one browser for the module. First with nothing stored (the first-run page, with the
ports this server really bound), then fed the real browser capture `main` (highlight.run 10.7.5), a
backend trace started by one of its recorded requests (with an exception and a log line), and
metrics from the real OpenTelemetry Python SDK. Then: the replay's keyboard shortcuts after playback
and seeks, deep links that open the right tab with the right item, back links that keep the list's
search, Enter that searches what was typed, click-to-filter, a live session whose replay grows, and
the metrics page drawing a counter, a histogram and a gauge. New pages are photographed in both themes
into test-artifacts/ui/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import Server, start_server
from tests.test_api_logs_traces import attrs, log, logs_body, span, traces_body
from tests.test_api_metrics import _send_sdk_metrics
from tests.test_browser_live import CHROMIUM, CHROMIUM_ARGS, WAIT_S, poll
from tests.test_highlight_replay import Capture, push_body, sdk_payload, send_all
from tests.test_ui_browser import shoot

MS = 1_000_000
CHILD = "c" * 16
STACK = "CartError: the cart is gone\n    at echo (/srv/api.js:7:3)"
PLAYER_TEXT = (
    "() => document.querySelector('.replayer-wrapper iframe')?.contentDocument?.body?.innerText ?? ''"
)


@dataclass
class Ui:
    server: Server
    page: Page
    problems: list[str]

    def go(self, path: str) -> None:
        self.page.goto(f"{self.server.ui_url}{path}")

    def api(self, path: str, **params: Any) -> Any:
        reply = httpx.get(f"{self.server.ui_url}{path}", params=params, timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def params(self) -> dict[str, list[str]]:
        return parse_qs(urlparse(self.page.url).query)


@pytest.fixture(scope="module")
def ui() -> Iterator[Ui]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): the UI tests need it")
    server = start_server(None)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = chromium.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.set_default_timeout(WAIT_S * 1000)
                problems: list[str] = []
                page.on("pageerror", lambda e: problems.append(f"page error: {e} at {page.url}\n{e.stack}"))
                page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
                yield Ui(server, page, problems)
            finally:
                chromium.close()
    finally:
        server.stop()


@dataclass
class Seeded:
    session_id: str
    trace_id: str  # the backend trace a recorded fetch started
    request_url: str
    frontend_group: str
    backend_group: str


@pytest.fixture(scope="module")
def seeded(ui: Ui) -> Seeded:
    """Fed after the first-run test has seen the store empty (fixtures run when first asked for)."""
    server = ui.server
    assert all(reply.status_code == 200 for _, reply in send_all(server, Capture.load("main")))
    [session] = [s for s in ui.api("/api/sessions")["items"] if s["duration_ms"] > 30_000]
    fetches = [r for r in ui.api(f"/api/sessions/{session['session_id']}/network")["items"] if r["trace_id"]]
    request = fetches[0]
    at = int(request["start_ms"]) * MS
    exception = {
        "timeUnixNano": str(at + 2 * MS),
        "name": "exception",
        "attributes": attrs({"exception.type": "CartError", "exception.message": "the cart is gone",
                             "exception.stacktrace": STACK}),
    }  # fmt: skip
    root = request["trace_id"][:16]  # any span id: the browser's span is the parent, here unknown
    spans = [
        span(
            request["trace_id"], CHILD, root, "POST /api/echo", at + MS, 3 * MS, status=2, events=[exception]
        )
    ]
    line = log(
        at + 2 * MS, "warn", "echo hit a missing cart", request["trace_id"], CHILD, {"cart.id": "c-17"}
    )
    with httpx.Client(timeout=30) as client:
        for path, body in (
            ("/v1/traces", traces_body("echo-api", spans)),
            ("/v1/logs", logs_body("echo-api", [line])),
        ):
            assert client.post(f"{server.otlp_http_url}{path}", json=body).status_code == 200
    _send_sdk_metrics(server)
    groups = ui.api("/api/error-groups")["items"]
    frontend = next(g for g in groups if g["type"] == "window.onerror")
    backend = next(g for g in groups if g["type"] == "CartError")
    return Seeded(
        session["session_id"], request["trace_id"], request["url"], frontend["group_id"], backend["group_id"]
    )


# ---------------------------------------------------------------- first run, shortcuts


def test_first_run_page_shows_setup_with_the_real_ports(ui: Ui) -> None:
    ui.go("/")
    setup = ui.page.locator(".first-run")
    setup.wait_for()
    text = setup.inner_text()
    server = ui.server
    grpc_port = server.grpc_target.rsplit(":", 1)[1]
    assert f'backendUrl: "{server.ui_url}/public"' in text
    assert f'otlpEndpoint: "{server.otlp_http_url}"' in text and "tracingOrigins: true" in text
    assert "networkRecording: { enabled: true, recordHeadersAndBody: true }" in text
    assert "configureHighlightProxy: false" in text and "withHighlightConfig" in text
    assert f'otlp_endpoint="http://127.0.0.1:{grpc_port}"' in text  # the Python SDK speaks gRPC
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT={server.otlp_http_url}" in text
    assert (
        f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{grpc_port}\nOTEL_EXPORTER_OTLP_PROTOCOL=grpc" in text
    )
    shoot(ui.page, "first-run")


def test_question_mark_lists_the_shortcuts(ui: Ui) -> None:
    ui.go("/")
    ui.page.locator(".first-run").wait_for()
    ui.page.keyboard.press("?")
    dialog = ui.page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert "play / pause" in dialog.inner_text() and "zoom in / out" in dialog.inner_text()
    shoot(ui.page, "shortcuts")
    ui.page.keyboard.press("Escape")
    dialog.wait_for(state="detached")


def test_the_overview_once_data_arrived(ui: Ui, seeded: Seeded) -> None:
    ui.go("/")
    cards = ui.page.get_by_label("What was received")
    cards.wait_for()
    poll(ui.page, lambda: "Metric points" in cards.inner_text(), "the counts")
    assert "the cart is gone" in ui.page.locator(".newest-errors").inner_text()
    shoot(ui.page, "home")


# ---------------------------------------------------------------- the replay


def _play_head_ms(page: Page) -> int:
    return int(page.get_by_role("slider", name="Timeline").get_attribute("aria-valuenow") or 0)


def _paused(page: Page) -> bool:
    return page.get_by_role("button", name="Play", exact=True).count() == 1


def test_replay_shortcuts_keep_working_after_playback_and_seeks(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go(f"/sessions/{seeded.session_id}")
    page.locator(".replayer-wrapper iframe").wait_for(state="attached")
    page.get_by_role("tab", name="Console").wait_for()
    # playing past the typing (highlight.run recorded focus moves between 0.8 s and 4.3 s)
    page.keyboard.press(" ")
    poll(page, lambda: not _paused(page), "playback to start with space")
    poll(page, lambda: _play_head_ms(page) > 5000, "the play head past the recorded focus changes")
    assert page.evaluate("document.activeElement?.tagName") != "IFRAME"
    page.keyboard.press(" ")
    poll(page, lambda: _paused(page), "space to pause after playback")
    paused_at = _play_head_ms(page)
    page.keyboard.press("ArrowRight")
    poll(page, lambda: _play_head_ms(page) >= paused_at + 4900, "→ to skip 5 s")
    # a seek by clicking the timeline, then the keys again
    slider = page.get_by_role("slider", name="Timeline")
    box = slider.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    poll(page, lambda: _play_head_ms(page) > 20_000, "the click to seek")
    sought = _play_head_ms(page)
    page.keyboard.press("ArrowLeft")
    poll(page, lambda: _play_head_ms(page) <= sought - 4900, "← after a seek")
    page.keyboard.press(" ")
    poll(page, lambda: not _paused(page), "space after a seek")
    page.keyboard.press(" ")
    poll(page, lambda: _paused(page), "space again")
    assert ui.problems == [], ui.problems


def _page_events(at: int) -> list[dict[str, Any]]:
    """A Meta and a full snapshot of a small page, as rrweb records them (ids as rrweb numbers them)."""
    text = {"type": 3, "textContent": "a page that keeps recording", "id": 6}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [text], "id": 5}
    head = {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 4}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [head, body], "id": 3}
    doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 2}
    document = {"type": 0, "childNodes": [doctype, html], "id": 1}
    meta = {"href": "http://localhost:3000/live", "width": 1000, "height": 600}
    return [
        {"type": 4, "data": meta, "timestamp": at, "_sid": 1},
        {
            "type": 2,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": at + 1,
            "_sid": 2,
        },
    ]


def _moves(at: int, sid: int) -> list[dict[str, Any]]:
    positions = [{"x": 5, "y": 5, "id": 5, "timeOffset": 0}]
    return [{"type": 3, "data": {"source": 1, "positions": positions}, "timestamp": at, "_sid": sid}]


def test_a_live_session_replay_grows(ui: Ui) -> None:
    page = ui.page
    session = "LiveGrowingSession000000001"
    now = int(time.time() * 1000)
    events = [*_page_events(now), *_moves(now + 300, 3)]
    first = push_body(session, str(now), sdk_payload(session, str(now), now, events=events))
    assert httpx.post(f"{ui.server.ui_url}/public", json=first, timeout=30).status_code == 200
    ui.go(f"/sessions/{session}")
    page.get_by_text("live", exact=True).wait_for()
    head = page.get_by_label("Play head")
    poll(page, lambda: head.inner_text().endswith("/ 0:00"), "the first push's length")
    poll(page, lambda: "keeps recording" in str(page.evaluate(PLAYER_TEXT)), "the recorded page")
    # the page keeps what it has; a push eight seconds later extends the recording
    later = now + 8000
    second = push_body(session, str(later), sdk_payload(session, str(later), later, events=_moves(later, 4)))
    assert httpx.post(f"{ui.server.ui_url}/public", json=second, timeout=30).status_code == 200
    poll(page, lambda: head.inner_text().endswith("/ 0:08"), "the replay to grow to 8 s without a reload")
    assert ui.problems == [], ui.problems


# ---------------------------------------------------------------- deep links and back links


def test_replay_at_from_an_error_opens_its_tab_with_it_selected(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go(f"/errors/{seeded.frontend_group}")
    occurrence = page.get_by_label("Occurrence")
    occurrence.get_by_role("link", name=re.compile("Replay at")).click()
    poll(page, lambda: "/sessions/" in page.url, "the replay")
    params = ui.params()
    assert params["tab"] == ["errors"] and params["error"][0]
    page.get_by_role("tab", name=re.compile("Errors")).wait_for()
    assert page.get_by_role("tab", name=re.compile("Errors")).get_attribute("aria-selected") == "true"
    [newest] = ui.api(f"/api/error-groups/{seeded.frontend_group}", limit=1)["occurrences_latest"]
    assert params["error"] == [newest["error_id"]]  # the occurrence the panel showed
    asked = page.locator(".seek-row.asked")
    asked.wait_for()
    assert newest["message"] in asked.inner_text()
    assert asked.get_by_role("button", name="Stack").get_attribute("aria-expanded") == "true"


def test_replay_at_from_a_trace_opens_the_network_tab_with_its_request(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go(f"/traces/{seeded.trace_id}")
    page.locator(".group-head").get_by_role("link", name=re.compile("Replay at")).click()
    poll(page, lambda: "/sessions/" in page.url, "the replay")
    assert ui.params()["tab"] == ["network"] and ui.params()["trace"] == [seeded.trace_id]
    assert page.get_by_role("tab", name=re.compile("Network")).get_attribute("aria-selected") == "true"
    asked = page.locator(".seek-row.asked")
    asked.wait_for()
    detail = asked.locator(".detail")
    detail.wait_for()
    assert seeded.request_url in detail.inner_text() and seeded.trace_id in detail.inner_text()
    # the backend error and line of that trace are the session's too
    page.get_by_role("tab", name=re.compile("Logs")).click()
    page.get_by_text("echo hit a missing cart").wait_for()
    shoot(page, "replay-network-deep-link")


def test_back_links_keep_the_search_and_range(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go("/errors?query=type%3Dwindow.onerror&range=30d&state=all")
    page.locator("a.group-row").first.click()
    poll(page, lambda: re.search(r"/errors/[^?]+", page.url), "the group page")
    page.get_by_role("link", name="← Errors").click()
    poll(page, lambda: urlparse(page.url).path == "/errors", "the list again")
    assert ui.params() == {"query": ["type=window.onerror"], "range": ["30d"], "state": ["all"]}
    assert page.get_by_role("searchbox", name="Search").input_value() == "type=window.onerror"


# ---------------------------------------------------------------- search


def test_enter_runs_the_search_as_typed(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go("/logs")
    box = page.get_by_role("searchbox", name="Search")
    box.click()
    box.type("level=w")
    page.get_by_role("listbox").wait_for()  # a suggestion is open ("warn")
    page.keyboard.press("Enter")
    poll(page, lambda: ui.params().get("query") == ["level=w"], "the typed query, not the suggestion")
    page.get_by_text("No log line matches this search").wait_for()
    box.fill("level=warn")
    page.keyboard.press("Enter")
    poll(page, lambda: ui.params().get("query") == ["level=warn"], "the second query")
    page.get_by_text("echo hit a missing cart").first.wait_for()
    # the box's clear button clears it: an input event with nothing left searches everything
    box.fill("")
    poll(page, lambda: "query" not in ui.params(), "the cleared search")
    # a trace id pasted on the Traces page opens that trace
    ui.go("/traces")
    traces_box = page.get_by_role("searchbox", name="Search")
    traces_box.fill(seeded.trace_id.upper())
    page.keyboard.press("Enter")
    poll(page, lambda: urlparse(page.url).path == f"/traces/{seeded.trace_id}", "the pasted trace")


def test_attribute_values_filter_the_list(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go("/logs?query=level%3Dwarn")
    page.get_by_text("echo hit a missing cart").first.click()
    page.get_by_label("Log line").get_by_role("link", name="c-17").click()
    poll(page, lambda: ui.params().get("query") == ["level=warn cart.id=c-17"], "the attribute's filter")
    page.get_by_text("echo hit a missing cart").first.wait_for()


# ---------------------------------------------------------------- metrics


def _chart_points(page: Page) -> int:
    """Points drawn by the chart's lines (each path's segments), or bars."""
    return int(
        page.evaluate(
            "() => [...document.querySelectorAll('.chart path.line')].reduce((n, p) => "
            "n + (p.getAttribute('d').match(/[ML]/g) || []).length, 0) "
            "+ document.querySelectorAll('.chart rect.bar').length"
        )
    )


def test_the_metrics_page_draws_a_real_sdks_counter_histogram_and_gauge(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go("/metrics")
    page.get_by_label("Metrics", exact=True).get_by_role("link", name=re.compile("^orders")).click()
    panel = page.get_by_label("Metric orders")
    panel.wait_for()
    poll(page, lambda: _chart_points(page) >= 2, "the counter's line")
    page.get_by_label("Group by").select_option("route")
    poll(
        page,
        lambda: {"/a", "/b"} <= set(panel.locator(".legend-list").inner_text().split()),
        "a line per route",
    )
    # hovering shows the values of a bucket
    svg = panel.locator(".chart svg")
    box = svg.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    tip = panel.locator(".chart-tip")
    tip.wait_for()
    assert "/a" in tip.inner_text() and "/b" in tip.inner_text()
    shoot(page, "metrics")
    # clicking a bucket narrows the shared range to it
    page.mouse.click(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    poll(page, lambda: "start" in ui.params() and "end" in ui.params(), "the narrowed range")
    for name, shown in (("latency", "p95"), ("temperature", "last value")):
        ui.go(f"/metrics?metric={name}")
        panel = page.get_by_label(f"Metric {name}")
        panel.wait_for()
        show = panel.get_by_label("Show")  # chosen once the metric's type is known
        wanted = shown.split()[0]
        poll(page, lambda s=show, w=wanted: s.input_value() == w, f"{name}: {shown} by default")
        poll(page, lambda: _chart_points(page) >= 1, f"the {name} chart")
    assert ui.problems == [], ui.problems


def test_web_vitals_per_page_lead_to_their_sessions(ui: Ui, seeded: Seeded) -> None:
    page = ui.page
    ui.go("/metrics?view=vitals")
    table = page.locator(".vitals-table")
    table.wait_for()
    row = table.locator("tr", has_text="http://127.0.0.1:8765/index.html")
    row.get_by_role("button", name=re.compile("ms")).first.click()
    behind = page.get_by_label("Sessions behind the figure")
    behind.wait_for()
    link = behind.get_by_role("link", name=re.compile("session"))
    link.first.wait_for()
    assert seeded.session_id in (link.first.get_attribute("href") or "")
    shoot(page, "vitals")
