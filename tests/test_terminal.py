"""The terminal: a line per new error group while serving (not with --quiet), and `hl-local tail`.

A real server; errors and logs from the stock OpenTelemetry JSON encoding over OTLP/HTTP; `tail` runs
as its own process, read line by line through a pipe (so plain lines, no colour).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, clean_env, hl_local_command, run_hl_local, start_server, wait_until
from tests.test_source_context import otlp_error


class Lines:
    """A process's output, line by line, read by a thread (a pipe must be drained to keep it moving)."""

    def __init__(self, stream: Any) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 15) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout_s} s; got:\n" + "\n".join(self.seen))


def log_record(body: str, level: str, service: str = "shop") -> dict[str, Any]:
    record = {"timeUnixNano": str(time.time_ns()), "severityText": level, "body": {"stringValue": body}}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}


def post(server: Server, path: str, body: dict[str, Any]) -> None:
    assert httpx.post(f"{server.otlp_http_url}{path}", json=body).status_code == 200


@pytest.fixture
def serving(db_path: Path) -> Iterator[tuple[Server, Lines]]:
    server = start_server(db_path)
    assert server.process.stdout is not None
    yield server, Lines(server.process.stdout)
    server.stop()


def group_ids(server: Server) -> dict[str, str]:
    items = httpx.get(f"{server.ui_url}/api/error-groups").json()["items"]
    return {g["type"]: g["group_id"] for g in items}


def test_each_new_error_group_prints_one_line(serving: tuple[Server, Lines]) -> None:
    server, lines = serving
    post(
        server,
        "/v1/traces",
        otlp_error("CartError", "cart 1 is empty", "Error: cart\n    at f (/app/x.js:1:2)"),
    )
    post(
        server,
        "/v1/traces",
        otlp_error("CartError", "cart 1 is empty", "Error: cart\n    at f (/app/x.js:1:2)"),
    )
    post(
        server, "/v1/traces", otlp_error("PayError", "card declined", "Error: pay\n    at g (/app/y.js:3:4)")
    )
    post(
        server, "/v1/traces", otlp_error("LastError", "the last one", "Error: last\n    at h (/app/z.js:5:6)")
    )
    last = lines.wait_for("LastError: the last one")
    groups = group_ids(server)
    new_lines = [line for line in lines.seen if "new error" in line]
    assert len(new_lines) == 3, new_lines  # CartError once, though it happened twice
    cart = next(line for line in new_lines if "CartError: cart 1 is empty" in line)
    assert cart.endswith(f"{server.ui_url}/errors/{groups['CartError']}")
    assert "at f (/app/x.js:1)" in cart and "\033[" not in cart  # the top frame; no colour in a pipe
    assert last.endswith(f"/errors/{groups['LastError']}")


def test_quiet_prints_no_error_lines(db_path: Path) -> None:
    server = start_server(db_path, "--quiet")
    post(server, "/v1/traces", otlp_error("QuietError", "shh", "Error: shh\n    at f (/app/x.js:1:2)"))
    wait_until(lambda: group_ids(server).get("QuietError"), 15, "the error group")
    server.stop()
    assert not [line for line in server.output if "new error" in line], server.output
    loud = start_server(db_path.with_name("loud.duckdb"))
    post(loud, "/v1/traces", otlp_error("LoudError", "hey", "Error: hey\n    at f (/app/x.js:1:2)"))
    wait_until(lambda: group_ids(loud).get("LoudError"), 15, "the error group")
    loud.stop()  # the lines of groups created before a stop are printed before it ends
    assert [line for line in loud.output if "new error" in line and "LoudError: hey" in line], loud.output


def test_tail_follows_new_lines_that_match(serving: tuple[Server, Lines]) -> None:
    server, _ = serving
    post(server, "/v1/logs", log_record("before tail started", "ERROR"))
    wait_until(lambda: httpx.get(f"{server.ui_url}/api/logs").json()["items"], 15, "the first line")
    port = server.ui_url.rsplit(":", 1)[1]
    tail = subprocess.Popen(
        hl_local_command("tail", "logs", "level=error", "--port", port, "--lines", "5"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(),
    )  # fmt: skip
    try:
        assert tail.stdout is not None
        lines = Lines(tail.stdout)
        assert "ERROR shop  before tail started" in lines.wait_for("before tail started")
        post(server, "/v1/logs", log_record("an info line tail must skip", "INFO"))
        post(server, "/v1/logs", log_record("payment failed for order 17", "ERROR", "billing"))
        post(server, "/v1/logs", log_record("second failure\nwith a second line", "error"))
        assert "ERROR billing  payment failed for order 17" in lines.wait_for("payment failed")
        lines.wait_for("second failure")
        assert lines.wait_for("with a second line").startswith("    ")  # a body's next lines, indented
        assert not [line for line in lines.seen if "tail must skip" in line or "before tail" in line][1:]
    finally:
        tail.terminate()
        tail.wait(timeout=10)
        if tail.stdout is not None:
            tail.stdout.close()


def test_tail_reads_a_file_and_says_what_is_wrong(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hl_local.cli import main  # in this process: the same code as the command, without four start-ups

    def tail(*args: str) -> tuple[int, str, str]:
        code = main(["tail", *args])
        out, err = capsys.readouterr()
        return code, out, err

    server = start_server(db_path)
    post(server, "/v1/logs", log_record("kept in the file", "WARN"))
    post(server, "/v1/traces", otlp_error("FileError", "in the file", "Error: f\n    at f (/app/x.js:1:2)"))
    wait_until(lambda: group_ids(server).get("FileError"), 15, "the error group")
    held = run_hl_local("tail", "--db", str(db_path))  # the command itself, once
    assert held.returncode == 1 and "follow the running hl-local instead" in held.stderr, held.stderr
    server.stop()
    code, out, err = tail("logs", "--db", str(db_path))
    assert code == 0 and "WARN  shop  kept in the file" in out, err
    code, out, err = tail("errors", "type=FileError", "--db", str(db_path))
    assert code == 0 and "FileError: in the file  ×1" in out, err  # noqa: RUF001
    code, _, err = tail("logs", "level=(", "--db", str(db_path))
    assert code == 2 and "expected" in err
    code, _, err = tail("--port", "1")
    assert code == 1 and "no hl-local answers at http://127.0.0.1:1" in err
    assert os.path.exists(db_path)


def test_the_minute_summary_counts_what_arrived() -> None:
    """The summary line, in process over a real store and writer (a minute is too long to wait for)."""
    import asyncio
    import io
    import json

    from hl_local.decode.otlp_json import decode_logs, decode_traces
    from hl_local.store.db import Store
    from hl_local.store.writer import Writer
    from hl_local.terminal import Terminal

    store = Store.open(None)
    writer = Writer(store)
    writer.start()
    out = io.StringIO()
    try:
        terminal = Terminal(store, writer, None, "http://127.0.0.1:8082", out)
        terminal._summary()  # nothing arrived: no line
        error = otlp_error("SummaryError", "summed", "Error: s\n    at f (/app/x.js:1:2)")

        async def send() -> None:
            await writer.write(decode_logs(json.dumps(log_record("one", "INFO")).encode()))
            await writer.write(decode_logs(json.dumps(log_record("two", "WARN")).encode()))
            await writer.write(decode_traces(json.dumps(error).encode()))
            await writer.settle()  # errors derived from OTLP are grouped after the acknowledgement
            await terminal._new_groups_lines()

        asyncio.run(send())
        terminal._summary()
        terminal._printer.drain(5)
    finally:
        writer.close()
        store.close()
    lines = out.getvalue().splitlines()
    assert lines[0].split("  ", 1)[1].startswith("new error  -  SummaryError: summed  at f (/app/x.js:1)")
    assert lines[1].endswith("last minute: 1 span, 2 log lines, 1 error, 1 new error group"), lines
    assert len(lines) == 2
