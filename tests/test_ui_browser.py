"""The web UI in a real browser, on a session recorded live by the real `highlight.run`.

A page with hostile markup (an `onerror` image, a script, `<script>` in console text, a request
header and a request body) is recorded into hl-local by highlight.run 10.7.5 in Debian's
Chromium, as in test_browser_live.py. The UI then opens it: the sessions list shows it, the
replay shows the recorded page as it was at the moment asked for, the panels list the console
message, the request and the error, clicking the error seeks the player, and no recorded payload
ever runs in hl-local's page. Every view (sessions, replay, errors, an error group, logs,
traces, a trace) is photographed in both themes into test-artifacts/ui/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page

from tests.conftest import Server
from tests.test_browser_live import (  # noqa: F401  (browser and sdk_bundle are fixtures)
    WAIT_S,
    AppServer,
    Browser,
    answered,
    browser,
    poll,
    sdk_bundle,
    serving,
)
from tests.test_highlight_replay import push_body, sdk_payload

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "ui"
HOSTILE_CONSOLE = "<img src=x onerror=\"window.top.__pwned='console'\">"


@pytest.fixture
def app_server(server: Server, sdk_bundle: Path) -> Iterator[AppServer]:  # noqa: F811
    """The hostile shop, its H.init pointed at this test's hl-local (used by the `browser` fixture)."""
    with serving("hostile.html", server, sdk_bundle) as app:
        yield app


def record_session(browser: Browser, app_server: AppServer) -> str:  # noqa: F811
    """Drive the shop like a user; return the session id once hl-local acknowledged all of it."""
    page = browser.page
    page.goto(f"{app_server.url}/", wait_until="load")
    (init,) = poll(page, lambda: answered(browser.calls, "initializeSession"), "initializeSession")
    page.wait_for_function("H.getRecordingState() === 'Recording'", timeout=WAIT_S * 1000)
    page.fill("#name", "Alice")
    page.click("#add")
    page.wait_for_timeout(400)  # the recording's clicks land apart in time, as a user's do
    page.click("#add")
    page.evaluate(f"console.log({json.dumps(HOSTILE_CONSOLE)})")
    page.evaluate("console.warn('ui test warning')")
    with page.expect_event("pageerror", timeout=WAIT_S * 1000):
        page.evaluate("failLater('ui uncaught boom')")
    page.click("#checkout")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('checkout')")
    done_at = time.monotonic()
    poll(page, lambda: len(answered(browser.calls, "PushSessionEvents", done_at)) >= 2, "two more pushes")
    poll(page, lambda: answered(browser.calls, "/v1/traces", done_at), "the browser's spans (every 5 s)")
    page.close()
    assert isinstance(init.session_id, str)
    return init.session_id


def player_text(page: Page) -> str:
    """The text of the replayed page (the player's iframe is same-origin, so its DOM is readable)."""
    return str(
        page.evaluate(
            "() => document.querySelector('.replayer-wrapper iframe')?.contentDocument?.body?.innerText ?? ''"
        )
    )


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{scheme}.png"))
    page.emulate_media(color_scheme="light")


def test_the_ui_replays_a_recorded_session(
    sdk_bundle: Path,  # noqa: F811 (first: without npm or Chromium the test is skipped before anything starts)
    server: Server,
    app_server: AppServer,
    browser: Browser,  # noqa: F811
) -> None:
    session_id = record_session(browser, app_server)
    api = f"{server.ui_url}/api/sessions/{session_id}"
    events = httpx.get(f"{api}/events", timeout=30).json()
    start = events[0]["timestamp"]
    markers = httpx.get(f"{api}/timeline", timeout=30).json()["items"]
    clicks = [m["time_ms"] - start for m in markers if m["kind"] == "click"]
    [error] = httpx.get(f"{api}/errors", timeout=30).json()["items"]
    error_offset = error["time_ns"] / 1e6 - start
    assert clicks[1] < error_offset, (clicks, error_offset)  # the error came after the second add

    context = browser.page.context.browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[union-attr]
    ui = context.new_page()
    problems: list[str] = []
    ui.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    blocked: list[str] = []  # the sandbox refusing recorded scripts: expected, and counted

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if "Blocked script execution" in message.text and "sandboxed" in message.text:
            blocked.append(message.text)
        else:
            problems.append(f"console {message.type}: {message.text}")

    ui.on("console", on_console)

    # ---- the sessions list
    ui.goto(f"{server.ui_url}/sessions")
    row = ui.locator("a.session-row")
    row.wait_for(timeout=WAIT_S * 1000)
    assert row.count() == 1
    assert "anonymous" in row.inner_text()  # nothing identified this user
    assert row.get_attribute("href") == f"/sessions/{session_id}"
    assert row.locator(".live-dot").count() == 1  # its last push was seconds ago
    # a session that starts now appears without a reload (server-sent events)
    now_ms = int(time.time() * 1000)
    newcomer = push_body("LiveNewcomerSession00000001", str(now_ms), sdk_payload("x", str(now_ms), now_ms))
    assert httpx.post(f"{server.ui_url}/public", json=newcomer, timeout=30).status_code == 200
    ui.locator("a.session-row[href='/sessions/LiveNewcomerSession00000001']").wait_for(timeout=WAIT_S * 1000)
    assert ui.locator("a.session-row").count() == 2
    shoot(ui, "sessions")

    # ---- the replay, opened just before the first click: the page as it was, cart empty
    ui.goto(f"{server.ui_url}/sessions/{session_id}?t={int(clicks[0]) - 200}")
    iframe = ui.locator(".replayer-wrapper iframe")
    iframe.wait_for(state="attached", timeout=WAIT_S * 1000)
    sandbox = iframe.get_attribute("sandbox") or ""
    assert "allow-scripts" not in sandbox.split(), sandbox
    poll(ui, lambda: "Live test shop" in player_text(ui), "the recorded page inside the player")
    assert "Item #1" not in player_text(ui)
    assert "<script>window.top.__pwned = 'text'</script> is only text" in player_text(ui)

    # ---- panels: the console message, the request, the error
    console = ui.locator(".panel .rows")
    poll(ui, lambda: HOSTILE_CONSOLE in console.inner_text(), "the console message, as text")
    assert "ui test warning" in console.inner_text()
    ui.get_by_role("tab", name="Network").click()
    request = ui.locator(".seek-row", has_text="/api/checkout")
    request.wait_for(timeout=WAIT_S * 1000)
    request.get_by_role("button", name="Details").click()  # the row's ▸
    detail = ui.locator(".detail").inner_text()
    assert "window.top.__pwned='body'" in detail and '<img src=x onerror="window.top.__pwned=1">' in detail
    shoot(ui, "replay-network")
    ui.get_by_role("tab", name="Errors").click()
    error_row = ui.locator(".seek-row", has_text="ui uncaught boom")
    error_row.wait_for(timeout=WAIT_S * 1000)

    # ---- clicking the error seeks the player to it: the cart then holds both items
    error_row.locator("button.seek").click()
    head = ui.get_by_label("Play head")
    expected = f"{int(error_offset // 60000)}:{int(error_offset // 1000 % 60):02d}"
    poll(ui, lambda: head.inner_text().startswith(expected), f"the play head at {expected}")
    poll(ui, lambda: "Item #2" in player_text(ui), "the cart with two items at the error")
    slider = ui.get_by_role("slider", name="Timeline")
    assert abs(int(slider.get_attribute("aria-valuenow") or 0) - error_offset) < 1000
    shoot(ui, "replay-errors")

    # ---- the other views, over the same session's data
    ui.goto(f"{server.ui_url}/errors")
    ui.get_by_text("ui uncaught boom").first.wait_for(timeout=WAIT_S * 1000)
    shoot(ui, "errors")
    ui.goto(f"{server.ui_url}/errors/{error['group_id']}")
    ui.get_by_text("ui uncaught boom").first.wait_for(timeout=WAIT_S * 1000)
    # the selected occurrence, with the console lines around it (its session's)
    ui.get_by_label("Occurrence").get_by_text("ui test warning").wait_for(timeout=WAIT_S * 1000)
    shoot(ui, "error-group")
    ui.goto(f"{server.ui_url}/logs")
    ui.get_by_text("ui test warning").first.wait_for(timeout=WAIT_S * 1000)
    assert HOSTILE_CONSOLE in ui.locator("main").inner_text()
    shoot(ui, "logs")
    traces = httpx.get(f"{server.ui_url}/api/traces", timeout=30).json()["items"]
    assert traces, "the browser's spans were acknowledged"
    ui.goto(f"{server.ui_url}/traces")
    ui.get_by_text(traces[0]["root_span_name"]).first.wait_for(timeout=WAIT_S * 1000)
    shoot(ui, "traces")
    ui.goto(f"{server.ui_url}/traces/{traces[0]['trace_id']}")
    ui.get_by_text(traces[0]["root_span_name"]).first.wait_for(timeout=WAIT_S * 1000)
    shoot(ui, "trace")

    # ---- nothing recorded ran in hl-local's page or in the replay
    assert ui.evaluate("window.__pwned") is None
    assert ui.evaluate("window.__recordedScriptRan") is None
    assert problems == [], problems
    assert blocked, "the recorded page's scripts were not even attempted: is the payload in the replay?"
    context.close()
