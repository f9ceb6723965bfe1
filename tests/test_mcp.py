"""`hl-local mcp`, driven by the official `mcp` SDK's own client over stdio, against a live server.

The server holds a real recorded browser session (tests/fixtures/browser/main.jsonl, as
highlight.run sent it), a trace of three spans with a slow one and a failing one, and the error
that failing span raised from a file in a temporary checkout (so the stack has source lines).
Every tool is called and its text checked; then the same server is stopped and the file is read
with `--db`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hl_local.cli.digests import MAX_CHARS
from tests.conftest import Server, clean_env, launch, wait_until
from tests.test_highlight_replay import Capture, send_all

SESSION = "lSsvZEWFPcsWiBiOysmO5ubp9f32"  # main.jsonl's
TRACE = "5b8efff798038103d269b633813fc60c"
CODE = "def charge(order):\n    total = order['total']\n    raise ValueError(f'card declined for {total}')\n"


def attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def span(span_id: str, parent: str, name: str, start_ms: int, end_ms: int, **extra: Any) -> dict[str, Any]:
    t0 = time.time_ns() - 5_000_000_000
    start, end = str(t0 + start_ms * 1_000_000), str(t0 + end_ms * 1_000_000)
    return {"traceId": TRACE, "spanId": span_id, "parentSpanId": parent, "name": name,
            "startTimeUnixNano": start, "endTimeUnixNano": end, **extra}  # fmt: skip


def trace_body(checkout: Path) -> dict[str, Any]:
    stack = "\n".join(
        [
            "Traceback (most recent call last):",
            f'  File "{checkout}/pay.py", line 3, in charge',
            "    raise ValueError(f'card declined for {total}')",
            "ValueError: card declined for 12",
        ]
    )
    event = {"timeUnixNano": str(time.time_ns()), "name": "exception", "attributes": [
        attribute("exception.type", "ValueError"), attribute("exception.message", "card declined for 12"),
        attribute("exception.stacktrace", stack)]}  # fmt: skip
    spans = [
        span("1111111111111111", "", "POST /checkout", 0, 1000),
        span("2222222222222222", "1111111111111111", "SELECT orders", 10, 700),
        span("3333333333333333", "1111111111111111", "charge card", 720, 990, events=[event],
             status={"code": 2, "message": "declined"}),
    ]  # fmt: skip
    resource = {"attributes": [attribute("service.name", "shop-api")]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / "pay.py").write_text(CODE)
    db = checkout / "hl.duckdb"
    ports = ["--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
    server = launch(["serve", "--no-open", *ports, "--db", str(db)], clean_env(), db, cwd=checkout)
    send_all(server, Capture.load("main"))
    assert httpx.post(f"{server.otlp_http_url}/v1/traces", json=trace_body(checkout)).status_code == 200
    wait_until(lambda: httpx.get(f"{server.ui_url}/api/error-groups", params={"query": "type=ValueError"})
               .json()["items"], 15, "the trace's error")  # fmt: skip
    yield server
    server.stop()


def call_all(
    args: list[str], calls: list[tuple[str, dict[str, Any]]]
) -> tuple[list[str], list[tuple[str, bool]]]:
    """(the tools listed, each call's (text, is_error)), through the SDK's stdio client."""

    async def main() -> tuple[list[str], list[tuple[str, bool]]]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "hl_local", "mcp", *args], env=clean_env()
        )
        with open(os.devnull, "w") as quiet:
            async with (
                stdio_client(params, errlog=quiet) as (read, write),
                ClientSession(read, write) as session,
            ):
                init = await session.initialize()
                assert init.instructions and "search" in init.instructions
                tools = [tool.name for tool in (await session.list_tools()).tools]
                results = []
                for name, arguments in calls:
                    result = await session.call_tool(name, arguments)
                    results.append((result.content[0].text, bool(result.is_error)))  # type: ignore[union-attr]
                return tools, results

    return anyio.run(main)


def group_id(server: Server, kind: str) -> str:
    items = httpx.get(f"{server.ui_url}/api/error-groups", params={"query": f"type={kind}"}).json()["items"]
    return str(items[0]["group_id"])


def test_every_tool_answers_bounded_text(served: Server) -> None:
    port = served.ui_url.rsplit(":", 1)[1]
    group = group_id(served, "ValueError")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search", {"signal": "errors", "query": "type=ValueError"}),
        ("search", {"signal": "logs", "query": "level=error", "limit": 2}),
        ("search", {"signal": "traces", "query": "service_name=shop-api"}),
        ("search", {"signal": "sessions"}),
        ("error", {"group_id": group}),
        ("trace", {"trace_id": TRACE}),
        ("session", {"session_id": SESSION}),
        ("since", {"moment": "1h"}),
        ("search", {"signal": "logs", "query": "level=("}),
        ("error", {"group_id": "no-such-group"}),
        ("since", {"moment": "yesterday-ish"}),
    ]
    tools, results = call_all(["--port", port], calls)
    assert tools == ["search", "error", "trace", "session", "since"]
    texts = [text for text, _ in results]
    assert all(len(text) <= MAX_CHARS + 200 for text in texts)
    errors, logs, traces, sessions, error, trace, session, since, bad_query, unknown, bad_moment = results

    assert errors[0].startswith("1 errors") and f"{group}  ValueError: card declined for 12  x1" in errors[0]
    assert logs[0].startswith("2 logs") and "more: call search again with cursor=" in logs[0]
    assert f"{TRACE}  POST /checkout  shop-api  1.00 s  3 spans" in traces[0]
    assert SESSION in sessions[0] and "user@example.com" in sessions[0]

    assert "stack (raise site first):\n  at charge (" in error[0] and "pay.py:3)" in error[0]
    assert "     >    3 |     raise ValueError(f'card declined for {total}')" in error[0]  # the file's line
    assert f"trace: {TRACE} span 3333333333333333 (trace(trace_id))" in error[0]

    lines = trace[0].splitlines()
    root = next(line for line in lines if line.startswith("- POST /checkout"))
    select = next(line for line in lines if "SELECT orders" in line)
    charge = next(line for line in lines if "charge card" in line)
    assert "[shop-api] +0:00.000 1.00 s" in root and "SLOW" not in root and "FAILED" not in root
    assert select.startswith("  - SELECT orders") and "690.0 ms SLOW" in select
    assert charge.startswith("  - charge card") and "FAILED: ValueError: card declined for 12" in charge
    assert "errors:\n  ValueError: card declined for 12" in trace[0]

    timeline = session[0]
    assert timeline.startswith(f"session {SESSION}: user@example.com")
    order = ["click #name", "input into input#name: '*************'", "console.error: console.error message",
             "ERROR window.onerror: Uncaught Error: Uncaught boom",
             "feedback: Great app, but checkout was slow", "track checkout",
             "page load http://127.0.0.1:8765/page2.html"]  # fmt: skip
    positions = [timeline.index(text) for text in order]
    assert positions == sorted(positions), timeline
    assert (
        timeline.count("page load http://127.0.0.1:8765/checkout/step2") == 1
    )  # Navigate + Reload: one line

    assert "new error groups (error(group_id)):" in since[0] and group in since[0]
    assert bad_query[1] and "expected" in bad_query[0]
    assert unknown[1] and "no error group 'no-such-group'" in unknown[0]
    assert bad_moment[1] and "is not a moment" in bad_moment[0]
    assert not any(is_error for _, is_error in results[:8])


def test_a_file_is_read_once_no_server_holds_it(served: Server) -> None:
    assert served.db_path is not None
    group = group_id(served, "ValueError")
    served.stop()
    _, [(text, failed)] = call_all(["--db", str(served.db_path)], [("error", {"group_id": group})])
    assert not failed and "ValueError: card declined for 12" in text
    # the checkout is not this mcp's working directory: the line as the stack printed it, and why
    assert "     | raise ValueError(f'card declined for {total}')" in text
    assert "source not shown:" in text and "is outside the source roots" in text
    _, [(gone, failed)] = call_all(["--port", "1"], [("since", {})])
    assert failed and "no hl-local answers at http://127.0.0.1:1" in gone
