"""Live: LaunchDarkly's observability and session-replay plugins (Highlight's successors) in Chromium.

`@launchdarkly/observability` and `@launchdarkly/session-replay` 1.1.23 (which wrap highlight.run
10.7.5) are plugins of a LaunchDarkly client: `launchdarkly-js-client-sdk` 3.9.5 ("v3", its UMD
bundle) and `@launchdarkly/js-client-sdk` 4.10.3 ("v4", an ES module), all from
tests/browser/package-lock.json. The page (tests/browser/launchdarkly.html) sets only hl-local's
endpoints (`backendUrl`, `otel.otlpEndpoint`); flags come from a bootstrap and the client's
streaming and events are off, so nothing calls LaunchDarkly. The replay plugin's pushes carry only
rrweb events: console, network and errors arrive as OTLP spans, and the session must look as a
`highlight.run` one does (tests/launchdarkly_session.py).

`HL_LOCAL_RECORD_FIXTURES=1` writes what the SDKs sent to hl-local into
tests/fixtures/browser/launchdarkly-<client>.jsonl, which tests/test_launchdarkly_replay.py replays
byte for byte without a browser.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Request, Response, sync_playwright

from tests.conftest import Server
from tests.launchdarkly_session import (
    CHECKOUT_BODY,
    CHECKOUT_REPLY,
    CLIENT_SIDE_ID,
    Expected,
    check_session,
)
from tests.test_browser_live import BROWSER_DIR, CHROMIUM, CHROMIUM_ARGS, CONFIG_SLOT, WAIT_S, sdk_bundle

__all__ = ["sdk_bundle"]  # the fixture that installs tests/browser's packages (or skips)

MODULES = BROWSER_DIR / "node_modules"
ASSETS = {  # what the page loads → the npm package file
    "/observability.umd.js": MODULES / "@launchdarkly/observability/dist/index.umd.js",
    "/session-replay.umd.js": MODULES / "@launchdarkly/session-replay/dist/index.umd.js",
    "/ldclient.min.js": MODULES / "launchdarkly-js-client-sdk/dist/ldclient.min.js",
    "/js-client-sdk.js": MODULES / "@launchdarkly/js-client-sdk/dist/index.js",
}
FIXTURES = Path(__file__).parent / "fixtures" / "browser"
RECORD = os.environ.get("HL_LOCAL_RECORD_FIXTURES") == "1"
# The span names whose export the test waits for: everything the page did, in OTLP.
AWAITED_SPANS = {"HTTP POST", "highlight.exception", "launchdarkly.track", "evaluation",
                 "launchdarkly.js.log"}  # fmt: skip


@dataclass
class Sent:
    """A request the SDKs sent to hl-local, in the fixtures' record format."""

    record: dict[str, Any]
    span_names: set[str] = field(default_factory=set)
    status: int | None = None


class App:
    """The recorded app: the page, the SDK files, and POST /api/checkout (whose headers it keeps)."""

    def __init__(self, page: bytes) -> None:
        self.page = page
        self.checkout_headers: dict[str, str] = {}
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/":
                    self._reply(200, app.page, "text/html; charset=utf-8")
                elif self.path in ASSETS:
                    self._reply(200, ASSETS[self.path].read_bytes(), "text/javascript")
                else:
                    self._reply(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/api/checkout" and json.loads(body) == CHECKOUT_BODY:
                    app.checkout_headers = {k.lower(): v for k, v in self.headers.items()}
                    self._reply(200, json.dumps(CHECKOUT_REPLY).encode(), "application/json")
                else:
                    self._reply(400, b"unexpected request", "text/plain")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, name="ld-app", daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def app(server: Server, sdk_bundle: Path, client: str) -> Iterator[App]:
    config = {
        "backendUrl": f"{server.ui_url}/public",
        "otlpEndpoint": server.otlp_http_url,
        "client": client,
        "clientSideId": CLIENT_SIDE_ID,
    }
    template = (BROWSER_DIR / "launchdarkly.html").read_text()
    assert CONFIG_SLOT in template
    app = App(template.replace(CONFIG_SLOT, json.dumps(config)).encode())
    try:
        yield app
    finally:
        app.stop()


def _span_names(body: bytes) -> set[str]:
    export = json.loads(body or b"{}")
    return {
        span["name"]
        for resource in export.get("resourceSpans", [])
        for scope in resource.get("scopeSpans", [])
        for span in scope.get("spans", [])
    }


@pytest.mark.parametrize("client", ["v3", "v4"])
def test_launchdarkly_session_looks_like_a_highlight_session(
    sdk_bundle: Path, server: Server, app: App, client: str
) -> None:
    sent: list[Sent] = []
    by_request: dict[Request, Sent] = {}

    def on_request(request: Request) -> None:
        if request.method != "POST" or not request.url.startswith((server.ui_url, server.otlp_http_url)):
            return
        body = request.post_data_buffer or b""
        graphql = request.url == f"{server.ui_url}/public"
        record: dict[str, Any] = {
            "seq": len(sent) + 1,
            "ts": time.time(),
            "kind": "graphql" if graphql else "otlp",
            "method": "POST",
            "path": request.url.removeprefix(server.ui_url if graphql else server.otlp_http_url),
            "headers": sorted(request.headers.items()),
            "body_len": len(body),
            "body_b64": base64.b64encode(body).decode(),
        }
        if graphql:
            record["operationName"] = json.loads(body).get("operationName")
        item = Sent(record, _span_names(body) if record["path"] == "/v1/traces" else set())
        by_request[request] = item
        sent.append(item)

    def on_response(response: Response) -> None:
        if item := by_request.get(response.request):
            item.status = item.record["response_status"] = response.status

    def answered(what: str, after: float = 0.0) -> list[Sent]:
        return [
            s for s in list(sent)
            if what in (s.record.get("operationName"), s.record["path"]) and s.status == 200
            and s.record["ts"] > after
        ]  # fmt: skip

    def poll(page: Any, condition: Any, what: str) -> Any:
        deadline = time.monotonic() + WAIT_S
        while not (value := condition()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")
            page.wait_for_timeout(100)
        return value

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            ignore_default_args=["--enable-automation"],
        )  # fmt: skip
        try:
            context = chromium.new_context()
            context.on("request", on_request)
            context.on("response", on_response)
            page = context.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(f"{app.url}/", wait_until="load")
            page.wait_for_function("window.ldReady !== undefined", timeout=WAIT_S * 1000)
            page.evaluate("ldReady")
            (init,) = poll(page, lambda: answered("initializeSession"), "initializeSession")
            init_body = json.loads(base64.b64decode(init.record["body_b64"]))
            session_id = init_body["variables"]["session_secure_id"]
            (sampling,) = poll(page, lambda: answered("GetSamplingConfig"), "GetSamplingConfig")
            poll(page, lambda: answered("PushSessionEvents"), "the first push")

            page.fill("#name", "Alice")
            page.click("#add")
            page.click("#add")
            page.evaluate(
                """() => {
                    console.log('ld log message', 42)
                    console.warn('ld warn message')
                    console.error('ld error message')
                }"""
            )
            with page.expect_event("pageerror", timeout=WAIT_S * 1000):
                page.evaluate("failLater('ld uncaught boom')")
            page.evaluate(
                """() => {
                    ldClient.track('checkout-started', {amount: 10})
                    ldClient.variation('banner-text', 'none')
                    try { throw new Error('consumed boom') } catch (e) {
                        Observability.LDObserve.recordError(e, 'while paying', {orderId: '42'})
                    }
                }"""
            )
            page.click("#checkout")  # evaluates new-checkout, then POSTs /api/checkout
            page.wait_for_function(
                "document.getElementById('status').textContent.startsWith('ordered order-4711')",
                timeout=WAIT_S * 1000,
            )
            done_at = time.time()
            trace_id = app.checkout_headers["traceparent"].split("-")[1]
            # spans are exported every 5 s; the replay keeps pushing every 2 s
            poll(
                page,
                lambda: {n for s in answered("/v1/traces") for n in s.span_names} >= AWAITED_SPANS,
                "the OTLP exports of everything the page did",
            )
            poll(page, lambda: len(answered("PushSessionEvents", done_at)) >= 2, "two more pushes")
            page.close()
        finally:
            chromium.close()
    assert page_errors == ["ld uncaught boom"]
    # GetSamplingConfig is answered "sample everything", under the field the SDK reads
    again = httpx.post(f"{server.ui_url}/public", content=base64.b64decode(sampling.record["body_b64"]))
    assert again.json() == {"data": {"sampling": {"spans": [], "logs": []}}}

    expected = Expected(session_id, app.url, trace_id, client)
    check_session(server.ui_url, expected)
    if RECORD:
        _write_fixture(client, [s.record for s in sent if s.status is not None], expected)


def _write_fixture(client: str, records: list[dict[str, Any]], expected: Expected) -> None:
    """The requests as sent, then a last line with what the replay must find (ids, the page's URL)."""
    lines = [json.dumps(r) for r in records]
    lines.append(json.dumps({"expected": expected.__dict__}))
    (FIXTURES / f"launchdarkly-{client}.jsonl").write_text("\n".join(lines) + "\n")
