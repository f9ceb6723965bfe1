"""The rest of the Highlight family against a live hl-local, each SDK driven for real from npm.

* `@launchdarkly/observability-node` 1.3.0 on `@launchdarkly/node-server-sdk` 9.13.7 (tests/node/
  ld_node.cjs): Highlight's Node SDK as LaunchDarkly ships it, with feature flag evaluations;
* `@highlight-run/cloudflare` 3.1.0 and the Next.js edge wrapper of `@highlight-run/next` 7.9.38
  (tests/node/cloudflare.cjs): OpenTelemetry's web SDK on a server, OTLP/JSON over fetch, console
  calls as `log` events of `highlight.log` spans;
* `@highlight-run/nest` 3.6.34 in a real NestJS 12 app (tests/node/nest.cjs);
* `@highlight-run/pino` 0.1.6 as a pino 10 transport (tests/node/pino.cjs);
* `launchdarkly-observability` 1.3.4 (Python, OTLP/gRPC, asks GetSamplingConfig) on
  `launchdarkly-server-sdk`, in a venv of its own (tests/python_ld/).

The browser session they belong to is a recorded LaunchDarkly one (tests/fixtures/browser/
launchdarkly-v3.jsonl, replayed): each backend request carries its `X-Highlight-Request` and the
traceparent of its checkout request, as the browser SDK adds them, and must be linked to it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, start_server, wait_until
from tests.launchdarkly_session import Expected, get
from tests.test_backend_js import NODE_DIR, NODE_TIMEOUT_S, node_clients
from tests.test_highlight_python import child_env, pinned_venv
from tests.test_launchdarkly_replay import load, replay

__all__ = ["node_clients"]  # the fixture that installs tests/node (or skips)

PY_LD = Path(__file__).parent / "python_ld"
SPAN_ID = "b7ad6b7169203331"  # the parent span id the backend requests carry in their traceparent


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Expected]]:
    """One hl-local with the recorded LaunchDarkly browser session in it."""
    server = start_server(tmp_path_factory.mktemp("family") / "hl.duckdb")
    try:
        records, expected = load("v3")
        assert all(reply.status_code == 200 for reply in replay(server, records))
        yield server, expected
    finally:
        server.stop()


def node(server: Server, script: str, *args: str, flags: tuple[str, ...] = ()) -> str:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("OTEL_", "NODE_OPTIONS"))}
    done = subprocess.run(
        ["node", *flags, script, server.otlp_http_url, *args],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=NODE_TIMEOUT_S, env=env,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def traceparent(expected: Expected) -> str:
    return f"00-{expected.trace_id}-{SPAN_ID}-01"


def items(server: Server, path: str, **params: Any) -> list[Any]:
    found: list[Any] = get(server.ui_url, path, **params)["items"]
    return found


def session_logs(server: Server, expected: Expected, service: str) -> list[Any]:
    return [
        line for line in items(server, f"/api/sessions/{expected.session_id}/logs", limit=1000)
        if line["service_name"] == service
    ]  # fmt: skip


def test_launchdarkly_node(node_clients: Path, family: tuple[Server, Expected]) -> None:
    server, expected = family
    node(server, "ld_node.cjs", f"{server.ui_url}/public", expected.session_id, traceparent(expected))
    # the request span continues the browser's checkout trace and carries the session
    spans = items(server, "/api/spans", query=f"service_name=ld-node-test trace_id={expected.trace_id}")
    assert [s["name"] for s in spans] == ["POST /api/checkout"], spans
    assert spans[0]["session_id"] == expected.session_id
    # its log lines and its error belong to the browser session
    lines = {line["body"]: line for line in session_logs(server, expected, "ld-node-test")}
    assert {"ld node checkout flag true", "ld node warn", "ld node payment failed"} <= set(lines), lines
    assert lines["ld node warn"]["level"] == "warn"
    errors = [
        e for e in items(server, f"/api/sessions/{expected.session_id}/errors") if e["source"] == "backend"
    ]
    (error,) = [e for e in errors if e["message"] == "ld node payment failed"]
    assert (error["type"], error["service_name"], error["trace_id"]) == (
        "Error",
        "ld-node-test",
        expected.trace_id,
    )
    assert error["payload"]["orderId"] == "42"
    # the server-side evaluation is on the trace, and finds the session and the trace by search
    trace = get(server.ui_url, f"/api/traces/{expected.trace_id}")
    events = [e for s in trace["spans"] for e in s["events"] if e["name"].startswith("feature_flag")]
    assert any(e["attributes"]["feature_flag.key"] == "new-checkout" for e in events), events
    found = items(server, "/api/traces", query="feature_flag.key=new-checkout service_name=ld-node-test")
    assert [t["trace_id"] for t in found] == [expected.trace_id]


@pytest.mark.parametrize("flavour", ["worker", "next-edge"])
def test_cloudflare_worker_and_next_edge(
    node_clients: Path, family: tuple[Server, Expected], flavour: str
) -> None:
    server, expected = family
    flags = ("--conditions=edge", "--import", "./edge_runtime.mjs") if flavour == "next-edge" else ()
    out = node(server, "cloudflare.cjs", expected.session_id, traceparent(expected), flavour, flags=flags)
    assert "status 200" in out
    service = {"worker": "cf-worker-test", "next-edge": "next-edge-test"}[flavour]
    # the request span continues the browser's trace, so it is the session's (X-Highlight-Request is
    # not read by this SDK: it looks the header up by its mixed-case name in lower-cased headers)
    request_path = {"worker": "POST /api/order", "next-edge": "POST - https://worker.example/api/edge"}[
        flavour
    ]
    spans = {s["name"]: s for s in items(server, "/api/spans", query=f"service_name={service}")}
    assert "highlight.log" not in spans  # the console's wrapper spans are not listed
    assert set(spans) == {request_path, *(["error"] if flavour == "worker" else [])}  # consumeError's span
    request = spans[request_path]
    assert request["trace_id"] == expected.trace_id and request["source"] is None  # a backend
    traced = items(server, f"/api/sessions/{expected.session_id}/network")
    assert any(n["backend_trace_id"] == expected.trace_id for n in traced), traced
    # console calls are log lines (each on its own highlight.log span), with their levels
    logs = {
        line["body"]: line["level"] for line in items(server, "/api/logs", query=f"service_name={service}")
    }
    wanted = {
        "worker": {"cf worker log": "info", "cf worker warn": "warn", "cf worker failed": "error"},
        "next-edge": {"next edge log": "info", "next edge error": "error"},
    }[flavour]
    assert logs == wanted, logs
    if flavour == "worker":
        (group,) = [g for g in items(server, "/api/error-groups") if g["title"] == "cf worker failed"]
        assert (group["type"], group["source"]) == ("TypeError", "backend")


def test_nest(node_clients: Path, family: tuple[Server, Expected]) -> None:
    server, expected = family
    assert "status 200 500" in node(server, "nest.cjs", expected.session_id, traceparent(expected))
    spans = {s["name"]: s for s in items(server, "/api/spans", query="service_name=nest-test")}
    assert spans["GET /api/fail"]["session_id"] == expected.session_id
    assert spans["GET /api/ok"]["session_id"] == expected.session_id
    lines = {line["body"] for line in items(server, "/api/logs", query="service_name=nest-test", limit=1000)}
    assert {"nest handled order 42", "Nest application successfully started"} <= lines, lines
    errors = [
        e
        for e in items(server, f"/api/sessions/{expected.session_id}/errors")
        if e["message"] == "nest order failed"
    ]
    (error,) = errors
    assert (error["type"], error["service_name"]) == ("RangeError", "nest-test")
    assert error["payload"]["http.url"] == "/api/fail"  # a span attribute, merged into the payload
    assert error["frames"][0]["file"].endswith("nest.cjs")


def test_pino(node_clients: Path, family: tuple[Server, Expected]) -> None:
    server, _ = family
    node(server, "pino.cjs")

    def arrived() -> list[Any]:
        found = items(server, "/api/logs", query="service_name=pino-test")
        return found if len(found) >= 4 else []

    lines = {line["body"]: line for line in wait_until(arrived, 15, "the pino lines")}  # type: ignore[union-attr]
    assert {b: line["level"] for b, line in lines.items()} == {
        "pino order placed": "info",
        "pino stock low": "warn",
        "pino payment failed": "error",
        "pino debug line": "debug",
    }
    assert lines["pino order placed"]["attributes"]["orderId"] == "42"


@pytest.fixture(scope="session")
def launchdarkly_python() -> Path:
    return pinned_venv("launchdarkly-py", PY_LD / "requirements.txt")


def test_launchdarkly_python(launchdarkly_python: Path, family: tuple[Server, Expected]) -> None:
    server, expected = family
    done = subprocess.run(
        [str(launchdarkly_python), str(PY_LD / "driver.py"), f"http://{server.grpc_target}",
         f"{server.ui_url}/public", expected.session_id, traceparent(expected)],
        capture_output=True, text=True, timeout=120, env=child_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # its GetSamplingConfig, as its httpx logs it
    assert f'POST {server.ui_url}/public "HTTP/1.1 200 OK"' in done.stderr
    (span,) = items(server, "/api/spans", query="service_name=ld-python-test")
    assert (span["name"], span["trace_id"], span["session_id"]) == (
        "POST /api/checkout",
        expected.trace_id,
        expected.session_id,
    )
    lines = {line["body"]: line for line in session_logs(server, expected, "ld-python-test")}
    assert lines["ld python checkout flag True"]["level"] == "warn"
    errors = items(server, f"/api/sessions/{expected.session_id}/errors")
    (error,) = [e for e in errors if e["service_name"] == "ld-python-test"]
    assert (error["type"], error["message"], error["payload"]["orderId"]) == ("KeyError", "'cart'", "42")
    assert error["frames"][0]["file"].endswith("driver.py")
    found = items(server, "/api/traces", query="feature_flag.key=new-checkout service_name=ld-python-test")
    assert [t["trace_id"] for t in found] == [expected.trace_id]
