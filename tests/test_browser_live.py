"""Live end to end: the real `highlight.run` 10.7.5 in headless Chromium, recording into hl-local.

Nothing is mocked. A page served by this test's own app server (another port, so hl-local is
cross-origin) loads the SDK's UMD bundle from npm and calls `H.init` with hl-local's `/public` and
OTLP base. Playwright types, clicks, logs, throws, identifies, tracks, sends feedback and makes the
page call the app's own API; the test waits until the SDK's requests carrying all of that have been
answered, stops hl-local and reads the DuckDB file.

Needs `npm` (the fixture installs tests/browser/package-lock.json when node_modules is missing) and
Debian's `/usr/bin/chromium`; the test is skipped, saying which is missing, only without one of them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Page, Request, Response, sync_playwright

from tests.conftest import Server

BROWSER_DIR = Path(__file__).parent / "browser"
SDK_DIR = BROWSER_DIR / "node_modules" / "highlight.run"
CHROMIUM = Path("/usr/bin/chromium")
SDK_VERSION = "10.7.5"
WAIT_S = 30.0  # every wait has this deadline; the whole test takes about 15 s

# Chromium as the research harness ran it: the SDK sends nothing while navigator.webdriver is true,
# so Blink's automation flag is off and Playwright's --enable-automation is left out. The machine may
# have no internet: keep Chromium from calling Google. Root needs --no-sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-blink-features=AutomationControlled",
]
CONFIG_SLOT = "/*HL_LOCAL_CONFIG*/ null"  # in tests/browser/index.html

CHECKOUT_BODY = {"name": "Alice", "items": 2}  # what the page posts: #name and two #add clicks
CHECKOUT_REPLY = {"order_id": "order-4711", "items": 2}

# (severity_text, level, body) of every console line the session should have
EXPECTED_CONSOLE = [
    ("log", "info", "live log message 42"),
    ("warn", "warn", "live warn message"),
    ("error", "error", "live error message"),
    ("Error", "error", "Uncaught Error: live uncaught boom"),  # the SDK's own line for the uncaught error
    ("INFO", "info", "H.track"),  # and for H.track
]

T = TypeVar("T")


@pytest.fixture(scope="session")
def sdk_bundle() -> Path:
    """highlight.run's UMD bundle, installed by npm from the committed lock file when missing.

    Also the place that skips: without npm or Chromium there is no live browser test.
    """
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: it installs highlight.run for the live browser test")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): the live browser test needs it")
    bundle = SDK_DIR / "dist" / "index.umd.js"
    if not bundle.exists():
        command = "ci" if (BROWSER_DIR / "package-lock.json").exists() else "install"
        done = subprocess.run(
            [npm, command, "--no-audit", "--no-fund"],
            cwd=BROWSER_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm {command} in {BROWSER_DIR} failed:\n{done.stdout}\n{done.stderr}")
    assert json.loads((SDK_DIR / "package.json").read_text())["version"] == SDK_VERSION
    return bundle


@dataclass
class AppRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class AppServer:
    """The app being recorded: serves the page and the SDK bundle, and has its own POST /api/checkout.

    No CORS: the page calls its API same-origin. Every request is kept, headers included, to compare
    with what the SDK says it sent.
    """

    page: bytes
    bundle: bytes
    requests: list[AppRequest] = field(default_factory=list)
    url: str = ""
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> AppRequest:
                length = int(self.headers.get("content-length") or 0)
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = AppRequest(self.command, self.path, headers, self.rfile.read(length))
                app.requests.append(request)
                return request

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record()
                if self.path == "/":
                    self._reply(200, app.page, "text/html; charset=utf-8")
                elif self.path == "/highlight.umd.js":
                    self._reply(200, app.bundle, "text/javascript")
                else:
                    self._reply(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                request = self._record()
                if self.path == "/api/checkout" and json.loads(request.body) == CHECKOUT_BODY:
                    self._reply(200, json.dumps(CHECKOUT_REPLY).encode(), "application/json")
                else:
                    self._reply(400, b"unexpected request", "text/plain")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, name="app-server", daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def calls(self, method: str, path: str) -> list[AppRequest]:
        return [r for r in list(self.requests) if r.method == method and r.path == path]


@contextmanager
def serving(page: str, server: Server, sdk_bundle: Path) -> Iterator[AppServer]:
    """The app serving tests/browser/`page`, its H.init pointed at `server`."""
    config = {"backendUrl": f"{server.ui_url}/public", "otlpEndpoint": server.otlp_http_url}
    template = (BROWSER_DIR / page).read_text()
    assert CONFIG_SLOT in template
    app = AppServer(template.replace(CONFIG_SLOT, json.dumps(config)).encode(), sdk_bundle.read_bytes())
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def app_server(server: Server, sdk_bundle: Path) -> Iterator[AppServer]:
    """The app, with the page's H.init pointed at this test's hl-local."""
    with serving("index.html", server, sdk_bundle) as app:
        yield app


@dataclass
class SdkCall:
    """One request the SDK made to hl-local, as the browser saw it."""

    operation: str  # the GraphQL operationName, or the OTLP path
    sent_at: float  # time.monotonic() when the request started
    session_id: str | None = None  # the GraphQL variables' session_secure_id
    payload_id: str | None = None  # and payload_id (pushes)
    trace_ids: set[str] = field(default_factory=set)  # of the spans in an OTLP trace export
    status: int | None = None  # once the response arrived


@dataclass
class Browser:
    page: Page
    calls: list[SdkCall]  # grows as Playwright delivers events (during any Playwright call)
    page_errors: list[str]


@pytest.fixture
def browser(app_server: AppServer, server: Server) -> Iterator[Browser]:
    """A Chromium page that does not look automated, recording the SDK's calls to hl-local."""
    calls: list[SdkCall] = []
    by_request: dict[Request, SdkCall] = {}

    def on_request(request: Request) -> None:
        if request.method != "POST":
            return
        if request.url == f"{server.ui_url}/public":
            body = json.loads(request.post_data or "{}")
            variables = body.get("variables") or {}
            call = SdkCall(
                body.get("operationName", ""),
                time.monotonic(),
                variables.get("session_secure_id"),
                variables.get("payload_id"),
            )
        elif request.url == f"{server.otlp_http_url}/v1/traces":
            export = json.loads(request.post_data or "{}")
            trace_ids = {
                span["traceId"]
                for resource in export.get("resourceSpans", [])
                for scope in resource.get("scopeSpans", [])
                for span in scope.get("spans", [])
            }
            call = SdkCall("/v1/traces", time.monotonic(), trace_ids=trace_ids)
        else:
            return
        by_request[request] = call
        calls.append(call)

    def on_response(response: Response) -> None:
        if call := by_request.get(response.request):
            call.status = response.status

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--enable-automation"],
        )
        try:
            context = chromium.new_context()
            # on the context: the SDK's worker requests are reported there too
            context.on("request", on_request)
            context.on("response", on_response)
            page = context.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            yield Browser(page, calls, page_errors)
        finally:
            chromium.close()


def poll(page: Page, condition: Callable[[], T], what: str) -> T:
    """Poll `condition`, letting Playwright deliver its events in between; fail after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")
        page.wait_for_timeout(100)  # the event pump between two polls
    return value


def answered(calls: list[SdkCall], operation: str, after: float = 0.0) -> list[SdkCall]:
    """The calls of `operation` sent after `after` that hl-local answered with 200."""
    return [c for c in list(calls) if c.operation == operation and c.sent_at > after and c.status == 200]


def test_browser_sdk_records_into_hl_local(
    sdk_bundle: Path,  # first: without npm or Chromium the test is skipped before anything starts
    server: Server,
    app_server: AppServer,
    browser: Browser,
) -> None:
    page = browser.page
    page.goto(f"{app_server.url}/", wait_until="load")
    assert page.evaluate("navigator.webdriver") is False, "the SDK records nothing under webdriver"
    # Only what happens once initializeSession has succeeded is sent, so wait for it first.
    (init,) = poll(page, lambda: answered(browser.calls, "initializeSession"), "initializeSession")
    page.wait_for_function("H.getRecordingState() === 'Recording'", timeout=WAIT_S * 1000)
    session_id = init.session_id
    assert isinstance(session_id, str) and len(session_id) == 28
    assert server.stats()["sessions"] == 1

    # What a user and the page do.
    page.fill("#name", "Alice")
    page.click("#add")
    page.click("#add")
    page.evaluate(
        """() => {
            console.log('live log message', 42)
            console.warn('live warn message')
            console.error('live error message')
        }"""
    )
    with page.expect_event("pageerror", timeout=WAIT_S * 1000):
        page.evaluate("failLater('live uncaught boom')")  # thrown from a setTimeout of the page's script
    page.evaluate(
        """() => {
            H.identify('user@example.com', {plan: 'pro'})
            H.track('checkout', {amount: 10})
            H.addSessionFeedback({
                verbatim: 'slow checkout', userName: 'Alice', userEmail: 'alice@example.com',
            })
        }"""
    )
    page.click("#checkout")  # the page POSTs /api/checkout and shows the order id
    page.wait_for_function(
        f"document.getElementById('status').textContent === 'ordered {CHECKOUT_REPLY['order_id']}'",
        timeout=WAIT_S * 1000,
    )
    done_at = time.monotonic()
    (checkout,) = app_server.calls("POST", "/api/checkout")
    assert "traceparent" in checkout.headers and "x-highlight-request" in checkout.headers, checkout.headers
    trace_id = checkout.headers["traceparent"].split("-")[1]

    # All of it is buffered in the page by now. The second push sent after this moment carries it
    # (the first may have been put together just before); spans are exported every 5 s.
    poll(page, lambda: len(answered(browser.calls, "PushSessionEvents", done_at)) >= 2, "two more pushes")
    poll(page, lambda: answered(browser.calls, "identifySession"), "identifySession")
    poll(page, lambda: answered(browser.calls, "addSessionFeedback"), "addSessionFeedback")
    poll(
        page,
        lambda: [c for c in answered(browser.calls, "/v1/traces") if trace_id in c.trace_ids],
        "the OTLP export with the span of the checkout request",
    )
    # The session the page itself reports (known to it once a push has saved its session data).
    assert page.evaluate("H.getSessionDetails().then(d => d.sessionSecureID)") == session_id
    page.close()
    assert server.stop() == 0
    assert browser.page_errors == ["live uncaught boom"]

    # ---- the session
    rows = server.query(
        "SELECT session_id, initialized, project_id, sdk_version, service_name, environment, user_agent,"
        " identifier, user_object, enable_recording_network_contents FROM sessions"
    )
    assert len(rows) == 1, rows
    (sid, initialized, project_id, sdk_version, service_name, environment, user_agent, identifier,
     user_object, network_contents) = rows[0]  # fmt: skip
    assert sid == session_id
    assert initialized is True
    assert project_id == "1"
    assert sdk_version == SDK_VERSION
    assert (service_name, environment) == ("live-test", "test")
    assert isinstance(user_agent, str) and "Chrome" in user_agent
    assert identifier == "user@example.com"
    assert json.loads(str(user_object)) == {"plan": "pro"}
    assert network_contents is True
    # every push hl-local acknowledged is a chunk, with what it adds to the session's figures
    stored = server.query(
        "SELECT payload_id, click_count, error_count FROM replay_chunks WHERE session_id = ?", [session_id]
    )
    acknowledged = {c.payload_id for c in answered(browser.calls, "PushSessionEvents")}
    assert len(acknowledged) >= 2 and acknowledged <= {row[0] for row in stored}, (acknowledged, stored)
    assert sum(int(str(row[1])) for row in stored) == 3  # #add twice and #checkout
    assert sum(int(str(row[2])) for row in stored) == 1  # the uncaught error

    # ---- the replay: one full snapshot, of this page, in the first chunk that has one
    chunks = server.query(
        "SELECT events FROM replay_chunks WHERE session_id = ? AND has_full_snapshot ORDER BY first_ms",
        [session_id],
    )
    assert len(chunks) == 1, "expected exactly one chunk with a full snapshot"
    snapshots = [e for e in json.loads(str(chunks[0][0])) if e["type"] == 2]
    assert len(snapshots) == 1
    snapshot = json.dumps(snapshots[0]["data"])
    assert "Live test shop" in snapshot and "Every order here is recorded by hl-local." in snapshot
    events = [
        event
        for (chunk,) in server.query("SELECT events FROM replay_chunks WHERE session_id = ?", [session_id])
        for event in json.loads(str(chunk))
    ]
    inputs = [e["data"] for e in events if e["type"] == 3 and e["data"].get("source") == 5]
    assert "*****" in [i.get("text") for i in inputs], inputs  # "Alice", masked by the default privacy

    # ---- custom events: the clicks and the Track
    clicks = server.query(
        "SELECT selector, text FROM session_events WHERE session_id = ? AND kind = 'Click' ORDER BY time_ms",
        [session_id],
    )
    assert clicks == [("#add", "Add to cart"), ("#add", "Add to cart"), ("#checkout", "Checkout")]
    tracks = server.query(
        "SELECT payload FROM session_events WHERE session_id = ? AND kind = 'Track'", [session_id]
    )
    assert [json.loads(str(p)) for (p,) in tracks] == [{"amount": 10, "event": "checkout"}]

    # ---- console messages (several can share a millisecond: compared unordered)
    console = server.query(
        "SELECT severity_text, level, body FROM logs WHERE source = 'frontend' AND session_id = ?",
        [session_id],
    )
    assert sorted(console) == sorted(EXPECTED_CONSOLE), console

    # ---- the uncaught error
    errors = server.query(
        "SELECT type, message, source, url, frames, service_name, environment FROM errors"
        " WHERE session_id = ?",
        [session_id],
    )
    assert len(errors) == 1, errors
    error_type, message, source, url, frames, error_service, error_environment = errors[0]
    assert (error_service, error_environment) == ("live-test", "test")  # what H.init said
    assert (error_type, message, source) == (
        "window.onerror",
        "Uncaught Error: live uncaught boom",
        "frontend",
    )
    assert url == f"{app_server.url}/"
    top = json.loads(str(frames))[0]
    assert (top["function"], top["file"]) == ("boom", f"{app_server.url}/")
    assert isinstance(top["line"], int) and top["line"] > 0

    # ---- the app's request, tied to what the app server received
    header_session, _, header_request = checkout.headers["x-highlight-request"].partition("/")
    assert header_session == session_id
    assert len(trace_id) == 32
    network = server.query(
        "SELECT method, status, request_id, trace_id, request_body, response_body, initiator_type"
        " FROM network_requests WHERE session_id = ? AND url = ?",
        [session_id, f"{app_server.url}/api/checkout"],
    )
    assert len(network) == 1, network
    method, status, request_id, network_trace_id, request_body, response_body, initiator = network[0]
    assert (method, status, initiator) == ("POST", 200, "fetch")
    assert request_id == header_request
    assert network_trace_id == trace_id
    assert json.loads(str(request_body)) == CHECKOUT_BODY
    assert json.loads(str(response_body)) == CHECKOUT_REPLY

    # ---- the browser's span of that request, over OTLP, with the same trace id and the session
    spans = server.query(
        "SELECT name, session_id, service_name FROM spans WHERE trace_id = ? AND kind = 3", [trace_id]
    )
    assert spans == [("HTTP POST", session_id, "live-test")]

    # ---- the feedback
    feedback = server.query(
        "SELECT user_name, user_email, verbatim FROM session_feedback WHERE session_id = ?", [session_id]
    )
    assert feedback == [("Alice", "alice@example.com", "slow checkout")]
