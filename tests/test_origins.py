"""Where data may come from (`--allow-origin`) and what a replay may fetch (`?assets=blocked`).

Ingest accepts any page's Origin by default (the browser SDK posts cross-origin); `--allow-origin`
restricts it to the pages named, and requests without an Origin (backend SDKs) stay accepted. A
replay of a recording that names remote URLs makes the browser fetch them: in real Chromium, the
UI's blocked-assets mode must keep every such request from leaving.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_server, wait_until
from tests.test_highlight_replay import T0, push_body

LOGS = b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}'
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("origins") / "hl.duckdb"
    srv = start_server(db, "--allow-origin", "http://localhost:3000", "--allow-origin", "https://app.example")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("path", ["/v1/logs", "/public"])
def test_an_origin_not_allowed_is_refused_without_cors_headers(restricted: Server, path: str) -> None:
    before = restricted.stats()["logs"]
    url = f"{restricted.ui_url}{path}"
    headers = {**JSON, "origin": "http://evil.example"}
    body = (
        LOGS
        if path == "/v1/logs"
        else b'{"operationName":"initializeSession","variables":{"session_secure_id":"x"}}'
    )
    reply = httpx.post(url, content=body, headers=headers)
    assert reply.status_code == 403 and "--allow-origin" in reply.text
    assert "access-control-allow-origin" not in reply.headers
    pre = httpx.options(
        url, headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
    )
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    assert restricted.stats()["logs"] == before


def test_an_allowed_origin_and_requests_without_one_are_taken(restricted: Server) -> None:
    before = restricted.stats()["logs"]
    # bodies no other test sends: the same body again would be a resend, stored once
    first, another = (LOGS.replace(b'"x"', f'"allowed {n}"'.encode()) for n in (1, 2))
    allowed = httpx.post(
        f"{restricted.otlp_http_url}/v1/logs",
        content=first,
        headers={**JSON, "origin": "https://APP.example"},
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://APP.example"
    assert httpx.post(f"{restricted.otlp_http_url}/v1/logs", content=another, headers=JSON).status_code == 200
    assert restricted.stats()["logs"] == before + 2


def test_a_bad_allow_origin_is_a_usage_error() -> None:
    from tests.conftest import run_hl_local

    result = run_hl_local("--no-open", "--memory", "--allow-origin", "localhost:3000/path")
    assert result.returncode == 2 and "is not an origin" in result.stderr


class _Assets(http.server.BaseHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:
        _Assets.requested.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "image/svg+xml")
        self.end_headers()
        self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')

    def log_message(self, *args: object) -> None:
        pass


def recording_naming(url: str) -> list[dict[str, object]]:
    """A Meta and a FullSnapshot of a page with one remote image and one remote stylesheet link."""
    img = {"type": 2, "tagName": "img", "attributes": {"src": f"{url}/img.svg"}, "childNodes": [], "id": 5}
    text = {"type": 3, "textContent": "replayed page", "id": 6}
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": [img, text], "id": 4}
    head = {"type": 2, "tagName": "head", "attributes": {}, "childNodes": [], "id": 3}
    html = {"type": 2, "tagName": "html", "attributes": {}, "childNodes": [head, body], "id": 2}
    node = {"type": 0, "childNodes": [html], "id": 1}
    return [
        {"type": 4, "data": {"href": "http://shop.example/", "width": 800, "height": 600}, "timestamp": T0},
        {"type": 2, "data": {"node": node, "initialOffset": {"left": 0, "top": 0}}, "timestamp": T0 + 1},
        {"type": 3, "data": {"source": 2, "type": 2, "id": 4, "x": 1, "y": 1}, "timestamp": T0 + 2000},
    ]


def test_blocked_assets_keep_a_replay_from_fetching_what_its_recording_names(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assets = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Assets)
    threading.Thread(target=assets.serve_forever, daemon=True).start()
    asset_url = f"http://127.0.0.1:{assets.server_address[1]}"
    server = start_server(tmp_path / "hl.duckdb")
    try:
        session = "RemoteAssets0000000000000001"
        payload = {"events": {"events": recording_naming(asset_url)}, "messages": "", "resources": ""}
        reply = httpx.post(f"{server.ui_url}/public", json=push_body(session, str(T0), payload), timeout=30)
        assert reply.status_code == 200, reply.text
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            try:
                page = browser.new_page()
                page.goto(f"{server.ui_url}/sessions/{session}?assets=blocked")
                page.wait_for_function(
                    "() => document.querySelector('.replayer-wrapper iframe')"
                    "?.contentDocument?.body?.innerText?.includes('replayed page')",
                    timeout=30_000,
                )
                assert "Remote assets blocked" in page.inner_text(".replay-head")
                page.wait_for_timeout(500)  # give a blocked fetch the time it would have needed
                assert _Assets.requested == [], "blocked: nothing fetched from the recording's hosts"
                page.click(".assets-toggle")  # back to the default: the recording's assets load
                page.wait_for_function("() => !location.search.includes('assets=blocked')", timeout=30_000)
                wait_until(
                    lambda: "/img.svg" in _Assets.requested, timeout_s=30, what="the image to be fetched"
                )
                assert "Block remote assets" in page.inner_text(".replay-head")
            finally:
                browser.close()
    finally:
        server.stop()
        assets.shutdown()
        assets.server_close()
    assert json.dumps(_Assets.requested)


def init_session(server: Server, session: str, origin: str | None) -> None:
    headers = {**JSON, **({"origin": origin} if origin else {})}
    body = {"operationName": "initializeSession", "variables": {"session_secure_id": session}}
    assert httpx.post(f"{server.ui_url}/public", json=body, headers=headers).status_code == 200


def test_a_session_keeps_the_origin_that_first_sent_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "hl.duckdb")
    try:
        init_session(server, "FromTheShop00000000000000001", "http://localhost:3000")
        init_session(server, "FromTheShop00000000000000001", "http://evil.example")  # a later claim
        init_session(server, "NoOrigin00000000000000000001", None)
        shop = httpx.get(f"{server.ui_url}/api/sessions/FromTheShop00000000000000001").json()
        assert shop["origin"] == "http://localhost:3000"
        assert (
            httpx.get(f"{server.ui_url}/api/sessions/NoOrigin00000000000000000001").json()["origin"] is None
        )
    finally:
        server.stop()


def test_a_schema_3_file_is_migrated_when_it_opens(tmp_path: Path) -> None:
    from hl_local.store.schema import SCHEMA_VERSION
    from tests.test_migrations import as_older_schema

    db = tmp_path / "v2.duckdb"
    server = start_server(db)
    init_session(server, "BeforeTheMigration0000000001", "http://localhost:3000")
    assert server.stop() == 0
    as_older_schema(db, 3)  # no origin column, views made without it
    server = start_server(db)
    try:
        kept = httpx.get(f"{server.ui_url}/api/sessions/BeforeTheMigration0000000001").json()
        assert kept["session_id"] == "BeforeTheMigration0000000001" and kept["origin"] is None
        init_session(server, "AfterTheMigration00000000001", "http://localhost:3000")
        after = httpx.get(f"{server.ui_url}/api/sessions/AfterTheMigration00000000001").json()
        assert after["origin"] == "http://localhost:3000"
    finally:
        server.stop()
    assert server.query("SELECT value FROM hl_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
