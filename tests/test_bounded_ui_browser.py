"""What issue 13 shows in the UI, in real Chromium: a long log line's preview and its whole body on
request, what is kept in the top bar (size, cap, oldest item), and the page a session came from.

The API side of each is tested in test_attacked.py, test_retention.py and test_origins.py; this is
what a user sees of it (screenshots, light and dark, in test-artifacts/ui/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import Server, start_server
from tests.test_highlight_replay import T0, push_body
from tests.test_origins import recording_naming
from tests.test_ui_browser import shoot

JSON = {"content-type": "application/json"}
WAIT_MS = 30_000
SESSION = "SentFromTheShop0000000000001"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("bounded-ui") / "hl.duckdb", "--max-size", "2GiB", "--max-age", "3d"
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 800})
        finally:
            browser.close()


def test_a_long_log_line_shows_its_preview_and_loads_the_whole_body_on_request(
    server: Server, page: Page
) -> None:
    big = "".join(f"{i:07d} " for i in range(50_000))  # 400 KB: listed as its first 2,000 characters
    record = {"body": {"stringValue": big}, "severityText": "INFO"}
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}).encode()
    assert (
        httpx.post(f"{server.otlp_http_url}/v1/logs", content=body, headers=JSON, timeout=60).status_code
        == 200
    )

    page.goto(f"{server.ui_url}/logs")
    page.locator("button.log-row").first.click(timeout=WAIT_MS)
    detail = page.get_by_label("Log line")
    detail.get_by_text("The first 2,000 characters of").wait_for(timeout=WAIT_MS)
    assert len(detail.locator("pre.code").first.inner_text()) == 2000
    shoot(page, "log-preview")
    detail.get_by_role("button", name="Show the whole line").click()
    page.wait_for_function(
        "n => document.querySelector('aside.side pre.code')?.textContent?.length === n",
        arg=len(big),
        timeout=WAIT_MS,
    )
    assert detail.get_by_text("The first 2,000 characters of").count() == 0


def test_the_top_bar_says_what_is_kept(server: Server, page: Page) -> None:
    page.goto(f"{server.ui_url}/logs")
    storage = page.locator("header .storage")
    storage.wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelector('header .storage')?.textContent?.includes('since')")
    assert "of 2.0 GiB" in storage.inner_text()
    title = storage.get_attribute("title") or ""
    assert "kept 3 days" in title and "--max-size" in title


def test_a_session_s_details_say_which_page_sent_it(server: Server, page: Page) -> None:
    origin = {"origin": "http://localhost:3000"}
    init = {"operationName": "initializeSession", "variables": {"session_secure_id": SESSION}}
    assert httpx.post(f"{server.ui_url}/public", json=init, headers={**JSON, **origin}).status_code == 200
    payload = {
        "events": {"events": recording_naming("http://localhost:3000")},
        "messages": "",
        "resources": "",
    }
    pushed = httpx.post(f"{server.ui_url}/public", json=push_body(SESSION, str(T0), payload), headers=origin)
    assert pushed.status_code == 200, pushed.text

    page.goto(f"{server.ui_url}/sessions/{SESSION}")
    page.get_by_role("tab", name="Info").click(timeout=WAIT_MS)
    info = page.locator(".session-info")
    info.get_by_text("Sent from").wait_for(timeout=WAIT_MS)
    assert "http://localhost:3000" in info.inner_text()
    shoot(page, "session-origin")
