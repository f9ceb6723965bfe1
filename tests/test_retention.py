"""Retention: the oldest data goes first, consistently across tables, by age, by size, or by hand.

Old and new data are told apart by when hl-local received them: a batch sent, a moment recorded,
another batch sent later; a prune for "older than that moment" must take the first and keep the
second, whole sessions included, with error groups recounted.
"""

from __future__ import annotations

import json
import os
import pty
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, run_hl_local, start_server, wait_until
from tests.test_highlight_replay import T0, push_body, sdk_payload

JSON = {"content-type": "application/json"}
SESSION_TABLES = (
    "replay_chunks", "session_events", "network_requests", "websocket_events", "sessions", "session_feedback",
    "session_summaries",
)  # fmt: skip


def exception_span(trace: str, message: str, stack_line: int) -> dict[str, Any]:
    stack = "Traceback (most recent call last):\n"
    stack += f'  File "/app/shop.py", line {stack_line}, in pay\nValueError: {message}'
    event = {
        "name": "exception",
        "timeUnixNano": str(time.time_ns()),
        "attributes": [
            {"key": "exception.type", "value": {"stringValue": "ValueError"}},
            {"key": "exception.message", "value": {"stringValue": message}},
            {"key": "exception.stacktrace", "value": {"stringValue": stack}},
        ],
    }
    return {"traceId": trace, "spanId": trace[:16], "name": "pay", "startTimeUnixNano": str(time.time_ns()),
            "endTimeUnixNano": str(time.time_ns()), "events": [event]}  # fmt: skip


def send_backend(server: Server, trace: str, message: str) -> None:
    spans = {"resourceSpans": [{"scopeSpans": [{"spans": [exception_span(trace, message, 10)]}]}]}
    reply = httpx.post(f"{server.otlp_http_url}/v1/traces", content=json.dumps(spans), headers=JSON)
    assert reply.status_code == 200, reply.text
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": f"log of {trace}"},
                                                             "traceId": trace}]}]}]}  # fmt: skip
    assert (
        httpx.post(f"{server.otlp_http_url}/v1/logs", content=json.dumps(logs), headers=JSON).status_code
        == 200
    )


def send_session(server: Server, session: str, start_ms: int) -> None:
    calls = [
        {"operationName": "initializeSession", "variables": {"session_secure_id": session}},
        {
            "operationName": "addSessionFeedback",
            "variables": {"session_secure_id": session, "verbatim": "ok"},
        },
    ]
    for call in calls:
        assert httpx.post(f"{server.ui_url}/public", json=call, timeout=30).status_code == 200
    for i in range(2):
        payload_id = str(start_ms + i)
        body = push_body(session, payload_id, sdk_payload(session, payload_id, start_ms + i * 1000))
        reply = httpx.post(f"{server.ui_url}/public", json=body, timeout=30)
        assert reply.status_code == 200, reply.text


def moment_passes() -> int:
    """A moment strictly between what was sent before and what is sent after."""
    moment = time.time_ns()
    wait_until(lambda: time.time_ns() > moment + 300_000_000, what="0.3 s to pass")
    return moment


def prune_before(server: Server, moment_ns: int) -> dict[str, Any]:
    older_than = (time.time_ns() - moment_ns) / 1e9
    reply = httpx.delete(
        f"{server.ui_url}/api/data", params={"older_than": f"{older_than:.3f}s"}, timeout=120
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.fixture
def pruned(tmp_path: Path) -> Iterator[Server]:
    """Old data (a session, a backend trace with an error), a moment, new data of the same kinds."""
    server = start_server(tmp_path / "hl.duckdb", "--max-age", "0", "--max-size", "0")
    try:
        send_session(server, "OldSession000000000000000001", T0)
        send_backend(server, "a" * 32, "card declined")
        moment = moment_passes()
        send_session(server, "NewSession000000000000000001", T0 + 3_600_000)
        send_backend(server, "b" * 32, "card declined")
        answer = prune_before(server, moment)
        assert answer["cleared"] is False
        assert answer["removed"]["sessions"] == 1 and answer["removed"]["spans"] == 1
        assert server.stop() == 0
        yield server
    finally:
        server.stop()


def test_a_pruned_session_goes_whole_and_the_newer_one_stays(pruned: Server) -> None:
    for table in SESSION_TABLES:
        sessions = {row[0] for row in pruned.query(f"SELECT DISTINCT session_id FROM {table}")}
        assert sessions == {"NewSession000000000000000001"}, table
    console = pruned.query("SELECT DISTINCT session_id FROM logs WHERE source = 'frontend'")
    assert console == [("NewSession000000000000000001",)]
    frontend_errors = pruned.query("SELECT DISTINCT session_id FROM errors WHERE source = 'frontend'")
    assert frontend_errors == [("NewSession000000000000000001",)]


def test_old_backend_data_goes_and_new_data_stays(pruned: Server) -> None:
    assert pruned.query("SELECT DISTINCT trace_id FROM spans") == [("b" * 32,)]
    assert pruned.query("SELECT DISTINCT trace_id FROM logs WHERE trace_id <> ''") == [("b" * 32,)]
    assert pruned.query("SELECT trace_id FROM errors WHERE source = 'backend'") == [("b" * 32,)]


def test_error_groups_are_recounted_from_the_errors_left(pruned: Server) -> None:
    groups = pruned.query("SELECT group_id, occurrences, first_seen_ns, last_seen_ns FROM error_groups")
    truth = pruned.query(
        "SELECT group_id, count(*), min(time_ns), max(time_ns) FROM errors GROUP BY group_id"
    )
    assert sorted(groups) == sorted(truth)
    by_source = dict(pruned.query("SELECT source, occurrences FROM error_groups"))
    assert by_source == {"backend": 1, "frontend": 2}, "each group lost its old session's or trace's errors"
    dangling = pruned.query(
        "SELECT count(*) FROM errors WHERE group_id NOT IN (SELECT group_id FROM error_groups)"
    )
    assert dangling == [(0,)]


def test_max_age_prunes_by_itself(tmp_path: Path) -> None:
    server = start_server(tmp_path / "hl.duckdb", "--max-age", "2s")
    try:
        send_backend(server, "c" * 32, "old")
        assert server.stats()["spans"] == 1

        def aged_out() -> dict[str, Any] | None:
            stats, kept = server.stats(), server.retention()
            left = (stats["spans"], stats["logs"], stats["errors"], stats["error_groups"])
            return kept if left == (0, 0, 0, 0) and kept["pruned_rows"] >= 4 else None

        kept = wait_until(aged_out, timeout_s=20, what="the span, its error and logs to age out")
        assert isinstance(kept, dict)
        assert kept["max_age_s"] == 2 and kept["oldest_received_ns"] is None
        send_backend(server, "d" * 32, "new")  # still taking data afterwards
        assert server.stats()["spans"] == 1
    finally:
        server.stop()


def test_a_new_error_after_its_group_was_pruned_starts_the_group_again(tmp_path: Path) -> None:
    server = start_server(tmp_path / "hl.duckdb")
    try:
        send_backend(server, "e" * 32, "boom")
        prune_before(server, time.time_ns())
        assert server.stats()["error_groups"] == 0
        send_backend(server, "f" * 32, "boom")
        groups = httpx.get(f"{server.ui_url}/api/error-groups").json()["items"]
        assert [g["occurrences"] for g in groups] == [1]
    finally:
        server.stop()


def test_prune_and_clear_verbs_reach_the_running_server(tmp_path: Path) -> None:
    db = tmp_path / "hl.duckdb"
    server = start_server(db)
    try:
        send_backend(server, "1" * 32, "x")
        pruned = run_hl_local("prune", "--older-than", "0s", "--db", str(db))
        assert pruned.returncode == 0, pruned.stderr
        assert "spans 1" in pruned.stdout and "errors 1" in pruned.stdout
        assert server.stats()["spans"] == 0
        send_backend(server, "2" * 32, "y")
        cleared = run_hl_local("clear", "--db", str(db))  # not a terminal: it does not ask
        assert cleared.returncode == 0, cleared.stderr
        stats = server.stats()
        assert (stats["spans"], stats["logs"], stats["errors"], stats["error_groups"]) == (0, 0, 0, 0)
        send_backend(server, "3" * 32, "z")  # the recreated tables take data
        assert server.stats()["spans"] == 1
    finally:
        server.stop()


def test_prune_and_clear_on_a_stopped_database(tmp_path: Path) -> None:
    db = tmp_path / "hl.duckdb"
    server = start_server(db)
    send_backend(server, "4" * 32, "x")
    assert server.stop() == 0
    pruned = run_hl_local("prune", "--older-than", "0s", "--db", str(db))
    assert pruned.returncode == 0 and "spans 1" in pruned.stdout, pruned
    assert server.query("SELECT count(*) FROM spans") == [(0,)]
    cleared = run_hl_local("clear", "--yes", "--db", str(db))
    assert cleared.returncode == 0, cleared.stderr
    assert server.query("SELECT count(*) FROM logs") == [(0,)]
    assert run_hl_local("prune", "--db", str(db)).returncode == 2  # says how old: a usage error


def test_clear_asks_first_on_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "hl.duckdb"
    server = start_server(db)
    send_backend(server, "5" * 32, "x")
    assert server.stop() == 0
    pid, fd = pty.fork()
    if pid == 0:  # the child: hl-local clear on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "hl_local", "clear", "--db", str(db)])
    output = b""
    while b"[y/N]" not in output:
        output += os.read(fd, 1024)
    os.write(fd, b"n\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
    assert b"nothing removed" in output
    assert server.query("SELECT count(*) FROM spans") == [(1,)]


def test_info_shows_the_running_instance_s_ports_and_what_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "hl.duckdb"
    server = start_server(db, "--max-size", "1GiB", "--max-age", "3d")
    try:
        send_backend(server, "6" * 32, "x")
        info = run_hl_local("info", "--db", str(db))
        assert info.returncode == 0, info.stderr
        assert f"UI and API      {server.ui_url}" in info.stdout
        assert f"OTLP/HTTP       {server.otlp_http_url}" in info.stdout
        assert "running, pid" in info.stdout
        assert "(cap 1.0 GiB)" in info.stdout and "(kept 3 days)" in info.stdout
        assert "oldest item     20" in info.stdout
    finally:
        server.stop()


def test_a_second_hl_local_on_the_same_port_names_the_first(tmp_path: Path) -> None:
    server = start_server(tmp_path / "a.duckdb")
    try:
        port = server.ui_url.rsplit(":", 1)[1]
        result = run_hl_local("--no-open", "--port", port, "--db", str(tmp_path / "b.duckdb"))
        assert result.returncode == 1
        assert f"hl-local (pid {server.process.pid}) is already running here" in result.stderr
    finally:
        server.stop()


def test_a_step_that_costs_the_same_whatever_its_size_grows() -> None:
    """At millions of rows a step's fixed part (regrouping errors, resummarising the traces it cuts)
    is more than the budget: sized against the whole step, the errors' steps shrank to their
    minimum and pruned 250 rows a second. Sized against what lies beyond their quickest, they grow."""
    from hl_local.store.retention import _MAX_ROWS, _MIN_ROWS, STEP_BUDGET_S, Limits, Retention

    retention = Retention(None, Limits())
    fixed = 4 * STEP_BUDGET_S  # every step costs this, and a little more per row
    rows = _MIN_ROWS
    for _ in range(40):
        rows = retention._adapt("errors", rows, fixed + rows * 1e-6, _MIN_ROWS, _MAX_ROWS)
    assert rows > _MAX_ROWS // 2  # sized against the whole step: _MIN_ROWS
    # and where the rows are the cost, a step still keeps to the budget
    retention._adapt("spans", 1_000, STEP_BUDGET_S / 10, _MIN_ROWS, _MAX_ROWS)
    assert retention._adapt("spans", 10_000, 2 * STEP_BUDGET_S, _MIN_ROWS, _MAX_ROWS) < 10_000
