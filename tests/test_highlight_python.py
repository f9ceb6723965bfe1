"""Live end to end: the real Python `highlight-io` 0.10.2 SDK exporting to hl-local over OTLP/gRPC.

highlight-io pins OpenTelemetry 1.28, which clashes with the versions hl-local's own venv has, so it
runs in a venv of its own (tests/python_app/requirements.txt, every package pinned), made once and
kept under tests/.cache/ (or $HL_TEST_CACHE_DIR). The programs it runs are in tests/python_app/:

* driver.py: `H.trace` spans with a session and request id, logging at three levels,
  `H.record_exception`, `logging.exception`, `H.record_http_error`, errors that must group by
  stack and by message, and an uncaught exception that kills it. The test checks errors, frames,
  groups, log lines and spans in the database, then resolves a group and sends it a new occurrence.
* flask_app.py: a real Flask app with highlight-io's FlaskIntegration, serving a page that runs the
  real browser SDK (`highlight.run`, in Debian's Chromium as in tests/test_browser_live.py). The
  page calls the app, the app crashes, and the test follows the chain from the browser session to
  the backend trace, its error and its logs.

highlight-io exports every 5 s and when the interpreter exits (its `H.flush` left spans queued in
the research captures), so the tests wait for the driver to end, or poll hl-local with deadlines.
Skipped only when the venv cannot be made for lack of network (or, for the browser test, without
npm or Chromium).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, Response, sync_playwright

from tests import test_browser_live as live
from tests.conftest import Server, wait_until

PY_APP = Path(__file__).parent / "python_app"
REQUIREMENTS = PY_APP / "requirements.txt"
DRIVER = PY_APP / "driver.py"
FLASK_APP = PY_APP / "flask_app.py"
PAGE = PY_APP / "page.html"
CACHE_DIR = Path(os.environ.get("HL_TEST_CACHE_DIR") or Path(__file__).parent / ".cache")
WAIT_S = 40.0  # every wait's deadline: highlight-io exports every 5 s, the browser pushes every ~2 s

# pip's words for "could not reach the index": only then is a failed install a skip
NETWORK_ERRORS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "ProxyError",
)

SESSION_ID = "pySessionSecureId00000000001"  # as the browser SDK makes them: 28 characters
REQUEST_ID = "pyRequest01"
CHECKOUT_ORDER = {"name": "Alice", "items": 2}

# The browser SDK is the one tests/test_browser_live.py installs (a session fixture: skips without
# npm or Chromium).
sdk_bundle = live.sdk_bundle


# ---- the highlight-io venv ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def highlight_python() -> Path:
    """The python of a venv with highlight-io 0.10.2 and Flask, made once per requirements file."""
    return pinned_venv("highlight-py", REQUIREMENTS)


def pinned_venv(name: str, requirements: Path) -> Path:
    """The python of a venv of `requirements` (every package pinned), made once under CACHE_DIR.

    A lock keeps two pytest runs from building it at once; `.complete` is written last, so a
    build that was interrupted is started again.
    """
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    venv = CACHE_DIR / f"{name}-{digest}"
    python = venv / "bin" / "python"
    complete = venv / ".complete"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(venv, ignore_errors=True)
            started = time.monotonic()
            _make_venv(venv, python, requirements)
            complete.write_text(f"made in {time.monotonic() - started:.0f} s\n")
    return python


def _make_venv(venv: Path, python: Path, requirements: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300
    )
    if made.returncode != 0:
        pytest.fail(f"python -m venv {venv} failed:\n{made.stdout}\n{made.stderr}")
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # Every package is pinned, so no resolving; bytecode is compiled on first import, not for all.
    install += ["--no-deps", "--no-compile", "-r", str(requirements)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        shutil.rmtree(venv, ignore_errors=True)
        refused = [line for line in output.splitlines() if any(m in line for m in NETWORK_ERRORS)]
        if refused:
            pytest.skip(f"no network: pip could not install {requirements} from PyPI: {refused[-1][:300]}")
        pytest.fail(f"pip install -r {requirements} failed:\n{output[-4000:]}")


def child_env() -> dict[str, str]:
    """This environment for the SDK's processes, without settings that would change what it sends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON", "VIRTUAL_ENV"))}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1", "localhost"]))
    return {**env, "NO_PROXY": no_proxy, "no_proxy": no_proxy}


def marked_lines(path: Path) -> dict[str, int]:
    """Line numbers of the `# raise:NAME` comments of `path`, by NAME."""
    lines = path.read_text().splitlines()
    found = {m[1]: n for n, line in enumerate(lines, 1) if (m := re.search(r"# raise:([\w-]+)$", line))}
    assert found, f"no `# raise:` markers in {path}"
    return found


def frame(frames: object, index: int) -> tuple[object, object, object]:
    """(file, line, function) of frame `index` of a stored frames column (JSON text) or of the API's."""
    item = (frames if isinstance(frames, list) else json.loads(str(frames)))[index]
    return item["file"], item["line"], item["function"]


# ---- the Python SDK on its own -------------------------------------------------------------------


def run_driver(python: Path, server: Server, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run driver.py to its end: highlight-io exports what is queued while the interpreter exits."""
    command = [str(python), str(DRIVER), f"http://{server.grpc_target}", SESSION_ID, REQUEST_ID, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=child_env())


def api(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"{server.ui_url}{path}", json=body, timeout=10)
    assert response.status_code == 200, (method, path, response.status_code, response.text)
    return response.json()


def groups_by_title(server: Server) -> dict[str, dict[str, Any]]:
    return {g["title"]: g for g in api(server, "GET", "/api/error-groups")["error_groups"]}


# message → (type, raise-site marker, function at the raise site), for the errors the driver
# reports with a traceback (record_http_error sends a call stack instead: checked on its own)
RAISED = {
    "division by zero": ("ZeroDivisionError", "zero-division", "main"),
    "'cart-42'": ("KeyError", "logging-exception", "load_cart"),
    "order 1 could not be saved": ("ValueError", "same-site", "fail_order"),
    "order 2 could not be saved": ("ValueError", "same-site", "fail_order"),
    "uncaught worker failure": ("RuntimeError", "uncaught", "main"),
}
DECLINED = "payment declined"  # raised in charge_card and in refund_card, then charge_card again
# H.record_http_error's details → (the marker of its call, the status), both calls in main()
HTTP_ERRORS = {"Item not found": ("http-error", 404), "Cart is locked": ("http-error-2", 403)}


def test_highlight_python_sdk_errors_logs_and_spans(highlight_python: Path, server: Server) -> None:
    lines = marked_lines(DRIVER)
    driver = str(DRIVER)

    first = run_driver(highlight_python, server)
    # The uncaught exception ended it; H.trace recorded it before it escaped.
    assert first.returncode == 1, first.stderr
    assert first.stderr.rstrip().endswith("RuntimeError: uncaught worker failure"), first.stderr[-3000:]
    # The export calls returned (hl-local answers once committed) before the process ended.
    wait_until(lambda: server.stats()["errors"] >= 9, WAIT_S, "the driver's 9 errors")

    groups = groups_by_title(server)
    assert {title: g["occurrences"] for title, g in groups.items()} == {
        "division by zero": 1,
        "'cart-42'": 1,
        "Item not found": 1,
        "Cart is locked": 1,  # another detail from the same function: another group
        "order 1 could not be saved": 2,  # the same raise site and callers, another message
        DECLINED: 2,  # the same message from two places
        "uncaught worker failure": 1,
    }, groups
    assert all(g["state"] == "open" and g["affected_sessions"] == 1 for g in groups.values()), groups

    # Resolve the group, then the driver reports it again: it reopens.
    declined = groups[DECLINED]["group_id"]
    assert api(server, "PATCH", f"/api/error-groups/{declined}", {"state": "resolved"})["state"] == "resolved"
    resolved = api(server, "GET", f"/api/error-groups/{declined}")
    assert (resolved["state"], resolved["occurrences"]) == ("resolved", 2)
    again = run_driver(highlight_python, server, "--again")
    assert again.returncode == 0, again.stderr
    reopened = wait_until(
        lambda: (g := api(server, "GET", f"/api/error-groups/{declined}"))["occurrences"] == 3 and g,
        WAIT_S,
        "the third occurrence of the resolved group",
    )
    assert isinstance(reopened, dict)
    assert reopened["state"] == "open"
    assert reopened["state_changed_ns"] > resolved["state_changed_ns"]
    latest = reopened["occurrences_latest"]
    assert len(latest) == 3 and latest[0]["session_id"] == SESSION_ID
    assert frame(latest[0]["frames"], 0) == (driver, lines["charge"], "charge_card")

    assert server.stop() == 0

    # ---- spans: every span of a trace carries the session and request of H.trace
    spans = server.query(
        "SELECT name, trace_id, span_id, parent_span_id, session_id, request_id, service_name, environment"
        " FROM spans ORDER BY start_ns"
    )
    by_name = {row[0]: row for row in spans}
    assert [row[0] for row in spans] == ["checkout", "db.query", "cache.lookup", "worker", "again"], spans
    checkout_trace = by_name["checkout"][1]
    assert [row[1] for row in spans[:3]] == [checkout_trace] * 3
    assert by_name["checkout"][3] == ""
    assert by_name["db.query"][3] == by_name["checkout"][2]
    assert by_name["cache.lookup"][3] == by_name["db.query"][2]
    assert {row[4] for row in spans} == {SESSION_ID}
    assert [row[5] for row in spans] == [REQUEST_ID] * 3 + [f"{REQUEST_ID}-fatal", REQUEST_ID]
    assert {(row[6], row[7]) for row in spans} == {("py-driver", "ci")}
    linked = server.query("SELECT DISTINCT linked_session_id FROM linked_spans")
    assert linked == [(SESSION_ID,)]

    # ---- errors: type, message, stack, frames (index 0 = the raise site), ids, groups
    errors = server.query(
        "SELECT type, message, stack, frames, session_id, request_id, trace_id, span_id, group_id, payload,"
        " source, service_name, environment, line_number FROM errors ORDER BY time_ns"
    )
    assert len(errors) == 10, errors
    messages = collections.Counter(str(row[1]) for row in errors)
    assert messages == collections.Counter([*RAISED, *HTTP_ERRORS, DECLINED, DECLINED, DECLINED])
    for row in errors:
        assert (row[4], row[10], row[11], row[12]) == (SESSION_ID, "backend", "py-driver", "ci"), row
    worker_trace, again_trace = by_name["worker"][1], by_name["again"][1]
    for error_type, message, stack, frames, _, request, trace, span, _, payload, *_rest, line in errors:
        if message in RAISED:
            kind, marker, function = RAISED[str(message)]
            assert error_type == kind
            assert str(stack).startswith("Traceback (most recent call last):\n"), stack
            assert str(stack).rstrip().endswith(f"{kind}: {message}"), stack
            assert frame(frames, 0) == (driver, lines[marker], function), frames
            assert line == lines[marker]
        expected_trace = worker_trace if message == "uncaught worker failure" else checkout_trace
        if span == by_name["again"][2]:
            expected_trace = again_trace
        assert trace == expected_trace, (message, trace)
        assert request == (f"{REQUEST_ID}-fatal" if message == "uncaught worker failure" else REQUEST_ID)
        # kept in the payload: OpenTelemetry's record_exception says "False", even for the error that
        # escaped H.trace (recorded there before it escaped); record_http_error sends none
        escaped = json.loads(str(payload)).get("exception.escaped")
        assert escaped == (None if message in HTTP_ERRORS else "False"), payload
    by_message: dict[str, list[tuple[object, ...]]] = collections.defaultdict(list)
    for row in errors:
        by_message[str(row[1])].append(row)

    # the callers are in the frames too: the same call site for both orders
    for row in by_message["order 1 could not be saved"] + by_message["order 2 could not be saved"]:
        assert frame(row[3], 1) == (driver, lines["same-site-caller"], "main")
    # record_exception's attributes are the payload, flattened
    assert json.loads(str(by_message["division by zero"][0][9]))["order.id"] == 42
    # logging.exception: the log message and the logger ride along in the payload
    cart_payload = json.loads(str(by_message["'cart-42'"][0][9]))
    assert cart_payload["exception.detail"] == "cart could not be loaded", cart_payload
    assert (cart_payload["logger"], cart_payload["code.function"]) == ("driver", "main")
    assert frame(by_message["'cart-42'"][0][3], 1)[2] == "main"
    # the uncaught one: H.trace recorded it, so the SDK's context manager is its caller
    (uncaught,) = by_message["uncaught worker failure"]
    caller_file, _, caller = frame(uncaught[3], 1)
    assert str(caller_file).endswith("/highlight_io/sdk.py") and caller == "trace", uncaught[3]
    # record_http_error: traceback.format_stack() text taken inside the SDK, no header; frame 0 is
    # its caller, not the SDK line that took the stack (the same for every HTTP error)
    for detail, (marker, status) in HTTP_ERRORS.items():
        (http_error,) = by_message[detail]
        assert http_error[0] == "HTTPException"
        stack = str(http_error[2])
        assert not stack.startswith("Traceback") and stack.rstrip().endswith("traceback.format_stack()),")
        assert frame(http_error[3], 0) == (driver, lines[marker], "main"), http_error[3]
        assert http_error[13] == lines[marker]
        assert json.loads(str(http_error[9]))["http.status_code"] == status
    # payment declined: from charge_card, refund_card, and charge_card again
    assert [frame(row[3], 0) for row in by_message[DECLINED]] == [
        (driver, lines["charge"], "charge_card"),
        (driver, lines["refund"], "refund_card"),
        (driver, lines["charge"], "charge_card"),
    ]

    # groups: same message ⇒ one group; same raise site and callers ⇒ one group; else apart
    group_of = {message: {row[8] for row in rows} for message, rows in by_message.items()}
    assert all(len(ids) == 1 for ids in group_of.values()), group_of
    assert group_of["order 1 could not be saved"] == group_of["order 2 could not be saved"]
    distinct = {
        next(iter(ids)) for message, ids in group_of.items() if message != "order 2 could not be saved"
    }
    assert len(distinct) == 7, group_of
    stored_groups = server.query(
        "SELECT group_id, title, type, source, service_name, occurrences, state FROM error_groups"
    )
    assert sorted((row[1], row[2], row[5], row[6]) for row in stored_groups) == sorted(
        [
            ("'cart-42'", "KeyError", 1, "open"),
            ("Item not found", "HTTPException", 1, "open"),
            ("Cart is locked", "HTTPException", 1, "open"),
            ("division by zero", "ZeroDivisionError", 1, "open"),
            ("order 1 could not be saved", "ValueError", 2, "open"),
            (DECLINED, "RuntimeError", 3, "open"),  # reopened by its third occurrence
            ("uncaught worker failure", "RuntimeError", 1, "open"),
        ]
    )
    assert {row[0] for row in stored_groups} == distinct
    assert {(row[3], row[4]) for row in stored_groups} == {("backend", "py-driver")}

    # ---- logs: the three records, levels normalised, plus one ERROR line per exception event
    logs = server.query(
        "SELECT severity_text, level, body, session_id, request_id, trace_id, span_id, attributes"
        " FROM logs ORDER BY time_ns"
    )
    records = [row for row in logs if "exception.type" not in json.loads(str(row[7]))]
    assert [(row[0], row[1], row[2]) for row in records] == [
        ("INFO", "info", "driver info cart:42"),
        ("WARNING", "warn", "driver warning"),
        ("ERROR", "error", "driver error"),
    ]
    assert records[0][6] == by_name["cache.lookup"][2]  # logged inside cache.lookup
    for row in records:
        assert (row[3], row[4], row[5]) == (SESSION_ID, REQUEST_ID, checkout_trace), row
    derived = [row for row in logs if row not in records]
    assert collections.Counter(str(row[2]) for row in derived) == messages
    assert {(row[0], row[1], row[3]) for row in derived} == {("ERROR", "error", SESSION_ID)}
    error_spans = {(row[6], row[7], row[1]) for row in errors}
    assert {(row[5], row[6], row[2]) for row in derived} == error_spans
    linked_logs = server.query("SELECT DISTINCT linked_session_id FROM linked_logs")
    assert linked_logs == [(SESSION_ID,)]


# ---- browser SDK → Flask app with highlight-io -----------------------------------------------------


@dataclass
class FlaskApp:
    process: subprocess.Popen[str]
    url: str
    output: Path  # its stderr (logging's own output lines among them)

    def stop(self) -> int:
        """SIGTERM: the app exits through the interpreter's exit, where highlight-io exports the rest."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def flask_app(highlight_python: Path, server: Server, sdk_bundle: Path, tmp_path: Path) -> Iterator[FlaskApp]:
    """flask_app.py on a free port, its page's H.init pointed at this test's hl-local."""
    config = {"backendUrl": f"{server.ui_url}/public", "otlpEndpoint": server.otlp_http_url}
    template = PAGE.read_text()
    assert live.CONFIG_SLOT in template
    page = tmp_path / "page.html"
    page.write_text(template.replace(live.CONFIG_SLOT, json.dumps(config)))
    output = tmp_path / "flask_app.stderr"
    command = [
        str(highlight_python),
        str(FLASK_APP),
        f"http://{server.grpc_target}",
        str(page),
        str(sdk_bundle),
    ]
    with output.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=child_env())
    app = FlaskApp(process, "", output)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], WAIT_S)
        line = process.stdout.readline() if ready else ""
        match = re.match(r"listening (http://\S+)", line)
        assert match, f"flask_app.py did not start ({line!r}):\n{output.read_text()[-3000:]}"
        app.url = match[1]
        yield app
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            app.stop()
        if process.stdout:
            process.stdout.close()


@contextlib.contextmanager
def chromium_page(server: Server) -> Iterator[tuple[Page, list[live.SdkCall]]]:
    """A Chromium page launched as tests/test_browser_live.py does, recording the SDK's GraphQL calls."""
    calls: list[live.SdkCall] = []
    by_request: dict[Request, live.SdkCall] = {}

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url == f"{server.ui_url}/public":
            body = json.loads(request.post_data or "{}")
            variables = body.get("variables") or {}
            call = live.SdkCall(
                body.get("operationName", ""), time.monotonic(), variables.get("session_secure_id")
            )
            by_request[request] = call
            calls.append(call)

    def on_response(response: Response) -> None:
        if call := by_request.get(response.request):
            call.status = response.status

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(live.CHROMIUM),
            headless=True,
            args=live.CHROMIUM_ARGS,
            ignore_default_args=["--enable-automation"],
        )
        try:
            context = chromium.new_context()
            context.on("request", on_request)
            context.on("response", on_response)
            yield context.new_page(), calls
        finally:
            chromium.close()


def backend_arrived(server: Server) -> bool:
    """The Flask crash's error and both its log lines (the INFO record and the ERROR line) are in."""
    stats = server.stats()
    return stats["errors"] >= 1 and stats["logs"] - stats["console_messages"] >= 2


def test_browser_session_links_to_flask_trace_error_and_logs(
    sdk_bundle: Path,  # first: without npm or Chromium the test is skipped before anything starts
    highlight_python: Path,
    server: Server,
    flask_app: FlaskApp,
) -> None:
    checkout_url = f"{flask_app.url}/api/checkout"
    with chromium_page(server) as (page, calls):
        page.goto(f"{flask_app.url}/", wait_until="load")
        (init,) = live.poll(page, lambda: live.answered(calls, "initializeSession"), "initializeSession")
        page.wait_for_function("H.getRecordingState() === 'Recording'", timeout=WAIT_S * 1000)
        session_id = init.session_id
        assert isinstance(session_id, str) and len(session_id) == 28
        with page.expect_request(checkout_url) as sent:
            status = page.evaluate("order => checkout(order)", CHECKOUT_ORDER)
        assert status == 500
        headers = sent.value.all_headers()
        done_at = time.monotonic()
        header_session, _, request_id = headers["x-highlight-request"].partition("/")
        assert header_session == session_id and request_id, headers
        browser_trace_id = headers["traceparent"].split("-")[1]
        # The push that carries the request is the second one sent from now; the app exports its
        # spans and logs every 5 s.
        live.poll(
            page, lambda: len(live.answered(calls, "PushSessionEvents", done_at)) >= 2, "two more pushes"
        )
        live.poll(page, lambda: backend_arrived(server), "the Flask error and its log lines")
        page.close()
    assert flask_app.stop() == 0, flask_app.output.read_text()[-3000:]
    assert server.stop() == 0

    # ---- the session and its network request to the app
    assert server.query("SELECT session_id FROM sessions") == [(session_id,)]
    network = server.query(
        "SELECT method, status, request_id, trace_id, request_body, backend_trace_id"
        " FROM network_request_traces WHERE session_id = ? AND url = ?",
        [session_id, checkout_url],
    )
    assert len(network) == 1, network
    method, status_code, network_request_id, network_trace_id, request_body, backend_trace_id = network[0]
    assert (method, status_code) == ("POST", 500)
    assert (network_request_id, network_trace_id) == (request_id, browser_trace_id)
    assert json.loads(str(request_body)) == CHECKOUT_ORDER

    # ---- the Flask request's trace: FlaskIntegration took the session and request from the header
    flask_spans = server.query(
        "SELECT trace_id, session_id, request_id FROM spans WHERE service_name = 'flask-shop' AND name = ?",
        ["POST /api/checkout"],
    )
    assert len(flask_spans) == 1, flask_spans
    flask_trace, span_session, span_request = flask_spans[0]
    assert (span_session, span_request) == (session_id, request_id)
    assert backend_trace_id == flask_trace
    assert server.query("SELECT session_id FROM trace_sessions WHERE trace_id = ?", [flask_trace]) == [
        (session_id,)
    ]

    # ---- its error: once, though Flask reports the crash twice (signal and logger)
    errors = server.query(
        "SELECT type, message, frames, source, linked_session_id, request_id, group_id FROM linked_errors"
        " WHERE trace_id = ?",
        [flask_trace],
    )
    assert len(errors) == 1, errors
    error_type, message, frames, source, linked_session, error_request, group_id = errors[0]
    assert (error_type, message, source) == ("RuntimeError", "checkout failed for Alice", "backend")
    assert frame(frames, 0) == (str(FLASK_APP), marked_lines(FLASK_APP)["checkout"], "checkout")
    assert (linked_session, error_request) == (session_id, request_id)
    assert server.query("SELECT title, occurrences FROM error_groups WHERE group_id = ?", [group_id]) == [
        ("checkout failed for Alice", 1)
    ]
    # the backend error is the only error of the session: the page handled the 500 itself
    assert server.query("SELECT count(*) FROM linked_errors WHERE linked_session_id = ?", [session_id]) == [
        (1,)
    ]

    # ---- its logs: the app's INFO line and the ERROR line of the exception, in the session
    logs = server.query(
        "SELECT severity_text, level, body, linked_session_id FROM linked_logs WHERE trace_id = ?"
        " ORDER BY time_ns",
        [flask_trace],
    )
    assert logs == [
        ("INFO", "info", "checkout for Alice with 2 items", session_id),
        ("ERROR", "error", "checkout failed for Alice", session_id),
    ]
