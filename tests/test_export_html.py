"""The HTML export in a real browser: downloaded from the UI's Export link, opened from disk with every
network request blocked, it replays the recorded page, and nothing recorded runs.

The hostile shop of test_ui_browser.py is recorded live by highlight.run 10.7.5 in Debian's
Chromium, and a backend span is added to the trace its checkout request started. The replay page's
"Export HTML" link downloads the file; a fresh browser context that aborts every request but the
file's own opens it: the recorded page shows in the sandboxed player, the console, network, errors
and traces panels hold what was recorded (as text), clicking the error seeks the replay to it, and
neither the recorded scripts nor the hostile markup ever ran. Screenshots, light and dark, go to
test-artifacts/export/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Route

from tests.conftest import Server
from tests.test_api_logs_traces import MS, span, traces_body
from tests.test_browser_live import (  # noqa: F401  (browser and sdk_bundle are fixtures)
    WAIT_S,
    AppServer,
    Browser,
    browser,
    poll,
    sdk_bundle,
    serving,
)
from tests.test_ui_browser import HOSTILE_CONSOLE, player_text, record_session

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "export"


@pytest.fixture
def app_server(server: Server, sdk_bundle: Path) -> Iterator[AppServer]:  # noqa: F811
    with serving("hostile.html", server, sdk_bundle) as app:
        yield app


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}.png"))
    page.emulate_media(color_scheme="light")


def test_the_html_export_replays_offline_and_runs_nothing_recorded(
    sdk_bundle: Path,  # noqa: F811 (first: without npm or Chromium the test is skipped before anything starts)
    server: Server,
    app_server: AppServer,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    session_id = record_session(browser, app_server)
    api = f"{server.ui_url}/api/sessions/{session_id}"
    network = httpx.get(f"{api}/network", timeout=30).json()["items"]
    checkout = next(r for r in network if r["url"].endswith("/api/checkout"))
    start_ns = int(checkout["start_ms"]) * MS
    backend_span = span(
        checkout["trace_id"], "9" * 16, "", "POST /api/checkout backend", start_ns + MS, 3 * MS
    )
    backend = traces_body("shop-backend", [backend_span])
    assert httpx.post(f"{server.otlp_http_url}/v1/traces", json=backend, timeout=30).status_code == 200
    [error] = httpx.get(f"{api}/errors", timeout=30).json()["items"]
    events = httpx.get(f"{api}/events", timeout=30).json()
    error_offset = error["time_ns"] / 1e6 - events[0]["timestamp"]

    # ---- the Export link of the replay page downloads one file
    pw_browser = browser.page.context.browser
    assert pw_browser is not None
    ui = pw_browser.new_context(accept_downloads=True).new_page()
    ui.goto(f"{server.ui_url}/sessions/{session_id}")
    with ui.expect_download(timeout=WAIT_S * 1000) as download:
        ui.get_by_role("link", name="HTML").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"hl-local-session-{session_id}.html"
    text = saved.read_text()
    assert "Content-Security-Policy" in text and "connect-src 'none'" in text
    assert HOSTILE_CONSOLE not in text  # recorded data are only inside the compressed blobs

    # ---- opened from disk, every request but the file's own aborted
    context = pw_browser.new_context(viewport={"width": 1440, "height": 900})
    url = saved.as_uri()
    aborted: list[str] = []

    def only_the_file(route: Route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_file)
    page = context.new_page()
    problems: list[str] = []
    refused: list[str] = []  # the sandbox and the CSP refusing recorded scripts: expected, counted
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if "Blocked script execution" in message.text or "Content Security Policy" in message.text:
            refused.append(message.text)
        elif "Failed to load resource" not in message.text:  # a recorded asset, blocked here
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.goto(url)
    iframe = page.locator(".replayer-wrapper iframe")
    iframe.wait_for(state="attached", timeout=WAIT_S * 1000)
    assert "allow-scripts" not in (iframe.get_attribute("sandbox") or "").split()
    poll(page, lambda: "Live test shop" in player_text(page), "the recorded page inside the player")
    assert "<script>window.top.__pwned = 'text'</script> is only text" in player_text(page)

    # ---- the panels, as text
    console = page.locator(".x-panel")
    poll(page, lambda: HOSTILE_CONSOLE in console.inner_text(), "the console message, as text")
    shoot(page, "session")
    page.get_by_role("tab", name="Network").click()
    row = page.locator(".x-row", has_text="/api/checkout")
    row.get_by_role("button", name="Details").click()
    assert "window.top.__pwned='body'" in row.inner_text()
    row.get_by_role("button", name="Backend trace").click()  # to the Traces tab, that trace open
    page.get_by_text("POST /api/checkout backend").wait_for(timeout=WAIT_S * 1000)
    shoot(page, "traces")

    # ---- clicking the error seeks the replay to it: both items are in the cart then
    page.get_by_role("tab", name="Errors").click()
    page.locator(".x-row", has_text="ui uncaught boom").locator("button.x-seek").click()
    head = page.get_by_label("Play head")
    expected = f"{int(error_offset // 60000)}:{int(error_offset // 1000 % 60):02d}"
    poll(page, lambda: head.inner_text().startswith(expected), f"the play head at {expected}")
    poll(page, lambda: "Item #2" in player_text(page), "the cart with two items at the error")
    shoot(page, "errors")

    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__recordedScriptRan") is None
    assert problems == [], problems
    assert refused, "the recorded page's scripts were not even attempted: is the payload in the replay?"
    assert url not in aborted and all(not a.startswith("file:") for a in aborted), aborted
    context.close()
