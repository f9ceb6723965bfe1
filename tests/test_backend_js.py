"""Backend SDKs against a live hl-local: errors, their groups, log levels and session linking.

Real clients only, each against a fresh hl-local process:
* `@highlight-run/node` 3.12.22 (OTLP/HTTP JSON, gzip, chunked) run by node from tests/node/;
* the stock OpenTelemetry JS SDK 2.12 / exporters 0.223 (OTLP/HTTP JSON), also from tests/node/;
* the stock OpenTelemetry Python SDK in this process (OTLP/HTTP protobuf), also used to drive the
  grouping rules and the error-group API.
Every error is raised on a line marked `at:NAME` (in the driver or in this file), which the tests
look up to check the frame the parsed stack puts first.

tests/node/node_modules is installed by `npm ci` from the committed lock when missing; without npm
the Node tests are skipped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Tracer

from tests.conftest import Server, wait_until

NODE_DIR = Path(__file__).resolve().parent / "node"
THIS_FILE = Path(__file__)  # as Python names it in tracebacks (node resolves symlinks, Python not)
NODE_TIMEOUT_S = 60
WAIT_S = 15.0


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/node with its node_modules, installed by `npm ci` from the committed lock when missing."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm is not installed: it installs the Node SDKs these tests run")
    pins: dict[str, str] = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]

    def installed() -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for name in pins:
            manifest = NODE_DIR / "node_modules" / name / "package.json"
            found[name] = json.loads(manifest.read_text())["version"] if manifest.exists() else None
        return found

    # One install for all the suite's worker processes: npm ci removes node_modules first, so a
    # second worker installing at the same time would pull the files from under the first.
    with (NODE_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed() != pins:
            command = [npm, "ci", "--no-audit", "--no-fund"]
            done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                pytest.fail(f"npm ci in {NODE_DIR} failed:\n{done.stdout}\n{done.stderr}")
    assert installed() == pins
    return NODE_DIR


def run_node(server: Server, script: str, *args: str) -> str:
    """Run a driver in tests/node against hl-local's OTLP/HTTP base; return its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "NODE_OPTIONS"))}
    done = subprocess.run(
        ["node", script, server.otlp_http_url, *args],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        env=env,
    )
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def marked_line(path: Path, name: str) -> int:
    """The 1-based number of the line ending with the comment `at:NAME` (`//` or `#`)."""
    pattern = re.compile(rf"(//|#) at:{re.escape(name)}$")
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert len(hits) == 1, f"{path.name} should mark exactly one line at:{name}, found {hits}"
    return hits[0]


def rows(server: Server, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
    """Rows of `sql` over the stopped server's database file, as {column: value}."""
    assert server.db_path is not None
    con = duckdb.connect(str(server.db_path), read_only=True)
    try:
        cursor = con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def by(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Index rows by a column whose values must be unique."""
    index = {item[key]: item for item in items}
    assert len(index) == len(items), f"{key} is not unique in {[item[key] for item in items]}"
    return index


def first_frame(error: dict[str, Any]) -> dict[str, Any]:
    frames = json.loads(error["frames"])
    assert frames, f"no frames parsed from {error['stack']!r}"
    return frames[0]


def api(server: Server, method: str, path: str, body: bytes | None = None) -> httpx.Response:
    return httpx.request(method, f"{server.ui_url}{path}", content=body, timeout=10)


def groups_by_title(server: Server) -> dict[str, dict[str, Any]]:
    reply = api(server, "GET", "/api/error-groups")
    assert reply.status_code == 200, reply.text
    return by(reply.json()["error_groups"], "title")


def wait_for_counts(server: Server, **expected: int) -> None:
    """Wait until /api/stats reaches at least `expected` (exact counts are asserted afterwards)."""

    def reached() -> bool:
        stats = server.stats()
        return all(stats[name] >= count for name, count in expected.items())

    wait_until(reached, WAIT_S, f"stats to reach {expected}")


# --- 1. @highlight-run/node ------------------------------------------------------------------------

NODE_SESSION = "hlNodeSess01"
NODE_SCRIPT = NODE_DIR / "highlight_node.cjs"
# body → level of every console line the driver writes (Node sends only lowercase text)
NODE_CONSOLE = {
    "node outside log": "info",
    "node outside warn": "warn",
    "node outside error": "error",
    "node child info": "info",
    "node inside log": "info",
    "node inside warn": "warn",
    "node inside error": "error",
    "node caught RangeError": "info",
}
NODE_INSIDE = {"node child info", "node inside log", "node inside warn", "node inside error"}


def test_highlight_node_sdk_errors_levels_and_session_links(server: Server, node_clients: Path) -> None:
    output = run_node(server, NODE_SCRIPT.name, NODE_SESSION, "req-node-1")
    assert "node caught RangeError" in output  # the SDK re-threw the error to the driver
    wait_for_counts(server, spans=4, errors=3, error_groups=3, logs=len(NODE_CONSOLE) + 3)

    groups = groups_by_title(server)
    assert set(groups) == {"cart is not JSON: {oops", "card declined", "consumed outside any span"}
    for title, kind, sessions in [
        ("cart is not JSON: {oops", "TypeError", 1),
        ("card declined", "RangeError", 1),
        ("consumed outside any span", "Error", 0),
    ]:
        group = groups[title]
        assert (group["type"], group["source"], group["service_name"]) == (kind, "backend", "hl-node-test")
        assert (group["occurrences"], group["state"], group["affected_sessions"]) == (1, "open", sessions)
    detail = api(server, "GET", f"/api/error-groups/{groups['card declined']['group_id']}").json()
    assert [o["session_id"] for o in detail["occurrences_latest"]] == [NODE_SESSION]
    assert detail["frames"][0]["function"] == "chargeCard"
    server.stop()

    spans = by(rows(server, "SELECT * FROM linked_spans"), "name")
    assert set(spans) == {"GET /api/cart", "db.query", "POST /api/pay", "highlight.error"}
    cart, child, pay, lone = (
        spans[n] for n in ("GET /api/cart", "db.query", "POST /api/pay", "highlight.error")
    )
    # runWithHeaders puts the session on its own span only; the user's child span has none
    assert (cart["session_id"], pay["session_id"]) == (NODE_SESSION, NODE_SESSION)
    assert child["session_id"] is None and child["parent_span_id"] == cart["span_id"]
    assert child["trace_id"] == cart["trace_id"] and child["linked_session_id"] == NODE_SESSION
    assert pay["trace_id"] != cart["trace_id"]
    assert lone["session_id"] is None and lone["linked_session_id"] is None
    assert {s["status_code"] for s in spans.values()} == {0}  # the SDK leaves the status unset

    errors = by(rows(server, "SELECT * FROM linked_errors"), "message")
    assert set(errors) == set(groups)
    for message, kind, span, marker, function in [
        ("cart is not JSON: {oops", "TypeError", cart, "caught", "parseCart"),
        ("card declined", "RangeError", pay, "thrown", "chargeCard"),
        ("consumed outside any span", "Error", lone, "outside", "main"),
    ]:
        error = errors[message]
        assert (error["type"], error["source"], error["environment"]) == (kind, "backend", "test")
        assert error["stack"].startswith(f"{kind}: {message}\n    at ")
        assert (error["trace_id"], error["span_id"]) == (span["trace_id"], span["span_id"])
        top = first_frame(error)
        where = (str(NODE_SCRIPT), marked_line(NODE_SCRIPT, marker), function)
        assert (top["file"], top["line"], top["function"]) == where
        assert (error["line_number"], error["column_number"]) == (top["line"], top["column"])
        assert error["group_id"] == groups[message]["group_id"]
        expected_session = span["session_id"]
        assert error["session_id"] == expected_session and error["linked_session_id"] == expected_session

    logs = rows(server, "SELECT * FROM linked_logs ORDER BY time_ns")
    console = by([log for log in logs if log["severity_text"] != "ERROR"], "body")
    assert {body: log["level"] for body, log in console.items()} == NODE_CONSOLE
    for body, log in console.items():
        # lowercase text and no number, as sent; and the JSON-quoted call-site stack on every line,
        # which made none of the three errors above
        assert (log["severity_text"], log["severity_number"]) == (NODE_CONSOLE[body], 0)
        stack = json.loads(log["attributes"])["exception.stacktrace"]
        assert stack.startswith('"Error\\n    at console.')
        if body in NODE_INSIDE:
            assert log["trace_id"] == cart["trace_id"] and log["session_id"] is None
            assert log["linked_session_id"] == NODE_SESSION
        else:
            assert log["trace_id"] == "" and log["linked_session_id"] is None
    assert console["node child info"]["span_id"] == child["span_id"]

    # each exception event is also an ERROR log line on its span, body = the message
    derived = by([log for log in logs if log["severity_text"] == "ERROR"], "body")
    assert set(derived) == set(errors)
    for message, log in derived.items():
        assert (log["level"], log["span_id"]) == ("error", errors[message]["span_id"])
        assert log["linked_session_id"] == errors[message]["linked_session_id"]


# --- 2. stock OpenTelemetry JS ---------------------------------------------------------------------

OTEL_JS_SCRIPT = NODE_DIR / "otel_js.cjs"
# body → (severity_text, severity_number, level) of every log line the driver emits
OTEL_JS_LOGS = {
    "otel-js debug": ("DEBUG", 5, "debug"),
    "otel-js info": ("INFO", 9, "info"),
    "otel-js warn": ("WARN", 13, "warn"),
    "otel-js error": ("ERROR", 17, "error"),
    "otel-js fatal": ("FATAL", 21, "fatal"),
    "otel-js warn by number only": ("", 14, "warn"),
    "otel-js failed to parse payload": ("ERROR", 17, "error"),
    "order 42 has no items": ("ERROR", 0, "error"),  # the recorded exception's own line
}


def test_stock_otel_js_exceptions_status_and_levels(server: Server, node_clients: Path) -> None:
    run_node(server, OTEL_JS_SCRIPT.name)
    wait_for_counts(server, spans=3, errors=2, error_groups=2, logs=len(OTEL_JS_LOGS))
    groups = groups_by_title(server)
    assert {title: (g["type"], g["occurrences"]) for title, g in groups.items()} == {
        "order 42 has no items": ("TypeError", 1),
        "payload is not JSON: {oops": ("SyntaxError", 1),
    }
    server.stop()

    spans = by(rows(server, "SELECT * FROM spans"), "name")
    assert set(spans) == {"GET /api/orders", "db.query", "payment.charge"}
    root = spans["GET /api/orders"]
    # an ERROR status without an exception event is not an error
    assert (spans["payment.charge"]["status_code"], spans["payment.charge"]["status_message"]) == (
        2,
        "gateway timeout",
    )
    assert {s["trace_id"] for s in spans.values()} == {root["trace_id"]}

    errors = by(rows(server, "SELECT * FROM linked_errors"), "type")
    assert set(errors) == {"TypeError", "SyntaxError"}
    for kind, message, span, marker, function in [
        ("TypeError", "order 42 has no items", spans["db.query"], "recorded", "loadOrder"),
        ("SyntaxError", "payload is not JSON: {oops", root, "logged", "parsePayload"),
    ]:
        error = errors[kind]
        assert (error["message"], error["span_id"], error["trace_id"]) == (message, span["span_id"],
                                                                           root["trace_id"])  # fmt: skip
        assert (error["service_name"], error["service_version"], error["environment"]) == (
            "otel-js-test",
            "2.12.1-test",
            "test",
        )
        top = first_frame(error)
        assert (top["file"], top["line"], top["column"], top["function"]) == (
            str(OTEL_JS_SCRIPT),
            marked_line(OTEL_JS_SCRIPT, marker),
            8,
            function,
        )
        assert error["group_id"] == groups[message]["group_id"]
        assert error["linked_session_id"] is None  # nothing in this trace names a session

    logs = by(rows(server, "SELECT * FROM logs"), "body")
    assert {body: (g["severity_text"], g["severity_number"], g["level"]) for body, g in logs.items()} == (
        OTEL_JS_LOGS
    )
    assert logs["order 42 has no items"]["span_id"] == spans["db.query"]["span_id"]
    assert {log["trace_id"] for log in logs.values()} == {root["trace_id"]}


# --- OpenTelemetry Python, in this process ---------------------------------------------------------


class RecordingLogExporter(LogRecordExporter):
    """The real OTLP/HTTP log exporter, keeping each export's result (the processor swallows failures)."""

    def __init__(self, server: Server) -> None:
        self.inner = OTLPLogExporter(endpoint=f"{server.otlp_http_url}/v1/logs", timeout=10)
        self.results: list[LogRecordExportResult] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self.inner.export(batch)
        self.results.append(result)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class PythonClient:
    """An OTel Python SDK set up as an app would, minus global state: spans are kept in memory and
    sent with `send` (synchronous: a success means hl-local committed them), so a batch can be resent.
    """

    def __init__(self, server: Server, service: str) -> None:
        resource = Resource.create({"service.name": service, "deployment.environment.name": "test"})
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer: Tracer = self.provider.get_tracer("tests.backend")
        self.http = OTLPSpanExporter(endpoint=f"{server.otlp_http_url}/v1/traces", timeout=10)
        self.log_provider = LoggerProvider(resource=resource)
        self.log_exporter = RecordingLogExporter(server)
        self.log_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.logger = logging.getLogger(f"hl_local_tests.backend.{service}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False  # never the root logger: the exporter's own logging would loop
        self.handler = LoggingHandler(level=logging.INFO, logger_provider=self.log_provider)
        self.logger.addHandler(self.handler)

    def send(self, spans: Sequence[ReadableSpan] | None = None) -> tuple[ReadableSpan, ...]:
        """Export the spans ended since the last send (or `spans`, again); return what was sent.

        Log records were exported as they were emitted; every export so far must have succeeded.
        """
        assert set(self.log_exporter.results) <= {LogRecordExportResult.SUCCESS}
        batch = tuple(spans) if spans is not None else self.memory.get_finished_spans()
        if spans is None:
            self.memory.clear()
        assert batch, "nothing to send"
        assert self.http.export(batch) == SpanExportResult.SUCCESS
        return batch

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.log_provider.shutdown()
        self.provider.shutdown()
        self.http.shutdown()


@pytest.fixture
def python_client(server: Server) -> Iterator[PythonClient]:
    client = PythonClient(server, "otel-py-test")
    try:
        yield client
    finally:
        client.close()


def hex_ids(span: Span | ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# Raise sites: each marked line is where frame 0 of its error must point.
def find_item(cart: dict[str, int], key: str) -> int:
    return cart[key]  # at:py-key


def divide(total: int, parts: int) -> float:
    return total / parts  # at:py-divide


def crash_worker() -> None:
    raise RuntimeError("worker crashed")  # at:py-crash


# --- 3. stock OpenTelemetry Python ------------------------------------------------------------------

PY_SESSION = "hlPySess01"


def test_stock_otel_python_errors_and_session_links(server: Server, python_client: PythonClient) -> None:
    client, log = python_client, python_client.logger
    with client.tracer.start_as_current_span(
        "GET /api/cart", attributes={"highlight.session_id": PY_SESSION}
    ) as root:
        with client.tracer.start_as_current_span("db.query") as child:
            log.info("py inside child")
            try:
                find_item({}, "missing")
            except KeyError:
                log.exception("py cart lookup failed")
        try:
            divide(1, 0)
        except ZeroDivisionError as exc:
            root.record_exception(exc)
        log.warning("py inside root")
    with pytest.raises(RuntimeError), client.tracer.start_as_current_span("worker.job") as job:
        crash_worker()
    log.info("py outside")
    client.send()
    assert len(client.log_exporter.results) == 4  # one synchronous export per record
    trace_id, root_id = hex_ids(root)
    child_id, job_ids = hex_ids(child)[1], hex_ids(job)
    groups = groups_by_title(server)
    assert {title: g["type"] for title, g in groups.items()} == {
        # the LoggingHandler sends str(args[0]); record_exception would send str(exc), "'missing'"
        "missing": "KeyError",
        "division by zero": "ZeroDivisionError",
        "worker crashed": "RuntimeError",
    }
    server.stop()

    errors = by(rows(server, "SELECT * FROM linked_errors"), "type")
    assert set(errors) == {"KeyError", "ZeroDivisionError", "RuntimeError"}
    for kind, ids, marker, function, session, linked in [
        ("KeyError", (trace_id, child_id), "py-key", "find_item", None, PY_SESSION),  # the log record
        ("ZeroDivisionError", (trace_id, root_id), "py-divide", "divide", PY_SESSION, PY_SESSION),
        ("RuntimeError", job_ids, "py-crash", "crash_worker", None, None),
    ]:
        error = errors[kind]
        assert error["stack"].startswith("Traceback (most recent call last):\n")
        assert (error["trace_id"], error["span_id"]) == ids
        assert (error["session_id"], error["linked_session_id"]) == (session, linked)
        assert (error["service_name"], error["environment"]) == ("otel-py-test", "test")
        top = first_frame(error)
        line = marked_line(THIS_FILE, marker)
        assert (top["file"], top["line"], top["function"]) == (str(THIS_FILE), line, function)
        assert top["source"] == THIS_FILE.read_text().splitlines()[line - 1].strip()
        assert len(json.loads(error["frames"])) >= 2  # the caller in this test is there too
        assert error["group_id"] == groups[error["message"]]["group_id"]

    spans = by(rows(server, "SELECT * FROM linked_spans"), "name")
    assert spans["db.query"]["session_id"] is None and spans["db.query"]["linked_session_id"] == PY_SESSION
    job_row = spans["worker.job"]
    assert (job_row["status_code"], job_row["status_message"]) == (2, "RuntimeError: worker crashed")
    [event] = json.loads(job_row["events"])
    # recorded by the SDK on the way out (1.45 marks it exception.escaped "False" all the same)
    assert (event["name"], event["attributes"]["exception.type"]) == ("exception", "RuntimeError")
    assert job_row["linked_session_id"] is None

    logs = by(rows(server, "SELECT * FROM linked_logs"), "body")
    assert {body: (g["severity_text"], g["level"]) for body, g in logs.items()} == {
        "py inside child": ("INFO", "info"),
        "py cart lookup failed": ("ERROR", "error"),
        "py inside root": ("WARN", "warn"),
        "py outside": ("INFO", "info"),
        "division by zero": ("ERROR", "error"),  # the ERROR line of the recorded exception
        "worker crashed": ("ERROR", "error"),
    }
    for body in ("py inside child", "py cart lookup failed", "py inside root"):
        assert logs[body]["session_id"] is None and logs[body]["linked_session_id"] == PY_SESSION
    assert logs["division by zero"]["session_id"] == PY_SESSION
    assert logs["py outside"]["trace_id"] == "" and logs["py outside"]["linked_session_id"] is None
    assert logs["worker crashed"]["linked_session_id"] is None


# --- 4. grouping and group state through the real server ------------------------------------------


def raise_here(message: str) -> None:
    raise ValueError(message)  # at:site-a


def raise_there(message: str) -> None:
    raise ValueError(message)  # at:site-b


def fail(message: str) -> None:
    raise LookupError(message)  # at:site-shared


def call_fail(message: str) -> None:
    fail(message)


def raise_elsewhere(message: str) -> None:
    raise OSError(message)  # at:site-other


def raise_and_report_twice(message: str) -> None:
    raise IndexError(message)  # at:site-twice


def recorded(client: PythonClient, name: str, raiser: Any, message: str, times: int = 1) -> ReadableSpan:
    """One span with the exception of `raiser(message)` recorded `times` times; sent at once."""
    with client.tracer.start_as_current_span(name, record_exception=False) as span:
        try:
            raiser(message)
        except Exception as exc:
            for _ in range(times):
                span.record_exception(exc)
    [sent] = client.send()
    assert len(sent.events) == times
    return sent


def group(server: Server, title: str) -> dict[str, Any]:
    return groups_by_title(server)[title]


def set_state(server: Server, group_id: str, state: str) -> None:
    reply = api(server, "PATCH", f"/api/error-groups/{group_id}", json.dumps({"state": state}).encode())
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"group_id": group_id, "state": state}


def test_grouping_and_group_state(server: Server, python_client: PythonClient) -> None:
    client = python_client
    # the same message from two places: one group
    recorded(client, "a", raise_here, "same message")
    recorded(client, "b", raise_there, "same message")
    same_message = group(server, "same message")
    assert same_message["occurrences"] == 2
    # the same raise site and callers, two messages: one group
    for message in ("shared site: first", "shared site: second"):
        recorded(client, "shared", call_fail, message)
    groups = groups_by_title(server)
    assert "shared site: second" not in groups
    shared = groups["shared site: first"]
    assert shared["occurrences"] == 2
    detail = api(server, "GET", f"/api/error-groups/{shared['group_id']}").json()
    assert {o["message"] for o in detail["occurrences_latest"]} == {
        "shared site: first",
        "shared site: second",
    }
    assert detail["frames"][0]["line"] == marked_line(THIS_FILE, "site-shared")
    # a different raise site and a different message: a group of its own
    recorded(client, "other", raise_elsewhere, "somewhere else")
    groups = groups_by_title(server)
    assert set(groups) == {"same message", "shared site: first", "somewhere else"}
    assert groups["somewhere else"]["occurrences"] == 1
    # one span with the same exception event twice (Flask reports a crash twice): one error
    twice = recorded(client, "twice", raise_and_report_twice, "reported twice", times=2)
    assert groups_by_title(server)["reported twice"]["occurrences"] == 1
    before = server.stats()
    assert (before["errors"], before["error_groups"]) == (6, 4)
    # a resent batch changes nothing
    client.send([twice])
    assert server.stats() == before
    assert groups_by_title(server)["reported twice"]["occurrences"] == 1

    # resolved, then a new occurrence: open again
    set_state(server, same_message["group_id"], "resolved")
    assert group(server, "same message")["state"] == "resolved"
    resolved_at = group(server, "same message")["state_changed_ns"]
    new = recorded(client, "again", raise_here, "same message")
    reopened = group(server, "same message")
    assert (reopened["state"], reopened["occurrences"]) == ("open", 3)
    assert reopened["state_changed_ns"] > resolved_at and reopened["last_seen_ns"] == new.events[0].timestamp
    # ignored, then a new occurrence: still ignored, still counted
    set_state(server, shared["group_id"], "ignored")
    recorded(client, "shared", call_fail, "shared site: third")
    ignored = group(server, "shared site: first")
    assert (ignored["state"], ignored["occurrences"]) == ("ignored", 3)
    listed = api(server, "GET", "/api/error-groups?state=ignored").json()["error_groups"]
    assert [g["group_id"] for g in listed] == [shared["group_id"]]

    # bad requests
    path = f"/api/error-groups/{shared['group_id']}"
    for body in (b'{"state": "done"}', b"not json", b'{"state": "open", "extra": 1}', b"{}"):
        reply = api(server, "PATCH", path, body)
        assert reply.status_code == 400, (body, reply.status_code, reply.text)
    assert group(server, "shared site: first")["state"] == "ignored"
    assert api(server, "PATCH", "/api/error-groups/no-such-group", b'{"state": "open"}').status_code == 404
    assert api(server, "GET", "/api/error-groups/no-such-group").status_code == 404
    server.stop()

    stored = rows(server, "SELECT group_id, count(*) AS n FROM errors GROUP BY group_id")
    assert {r["group_id"]: r["n"] for r in stored} == {
        g["group_id"]: g["occurrences"]
        for g in rows(server, "SELECT group_id, occurrences FROM error_groups")
    }
    error_lines = rows(
        server, "SELECT body FROM logs WHERE severity_text = 'ERROR' AND body = 'reported twice'"
    )
    assert len(error_lines) == 1
