"""`hl-local run -- CMD` with real processes: status passthrough, signals, the environment real SDKs
read, parallel runs, the summary and its JSON, and the bad inputs that must stop before CMD starts.

Every run starts a real `hl-local serve` child (~1-2 s here); CMDs are real programs: the stock
OpenTelemetry Python SDK (tests/run_project/otel_app.py) and a real pytest project
(tests/run_project/check_shop.py, with the plugin; see tests/test_pytest_plugin.py for the rest).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec
import pytest

from hl_local.cli.run import OPTIONS
from hl_local.query.run_summary import RunSummary
from tests.conftest import clean_env, hl_local_command, run_hl_local, start_server, wait_until
from tests.test_forward import Capture

PROJECT = Path(__file__).parent / "run_project"
OTEL_APP = PROJECT / "otel_app.py"
DOCS = Path(__file__).parent.parent / "docs" / "ci.md"
RUN_TIMEOUT_S = 120  # a whole run: server start, CMD, stop, summary; on a loaded 2-core machine

# CMD for the status tests: writes its environment to argv[1], exits with argv[2]
DUMP_ENV = (
    "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w')); sys.exit(int(sys.argv[2]))"
)
# CMD for the signal tests: says it is ready (argv[1]), records the signals it gets (argv[2]), exits 3
CATCH_SIGNALS = """
import pathlib, signal, sys, time
got = []
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda signum, frame: got.append(signum))
pathlib.Path(sys.argv[1]).write_text("ready")
deadline = time.monotonic() + 60
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(float(sys.argv[3]))  # a window in which a second, duplicate delivery would arrive
pathlib.Path(sys.argv[2]).write_text(",".join(map(str, got)))
sys.exit(3)
"""


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_hl_local("run", *args, cwd=cwd, env=clean_env(env), timeout_s=RUN_TIMEOUT_S)


def query(db: Path, sql: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hl-local: ")
    return lines[0]


# ---------------------------------------------------------------- status and environment


def test_status_of_the_command_and_its_environment(tmp_path: Path) -> None:
    # 0 and 1 are passed through in the tests of real SDKs below (otel_app exits 0; pytest 1)
    status = 7
    inherited = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example:4318/v1/traces"}
    result = run(tmp_path, "--", sys.executable, "-c", DUMP_ENV, "env.json", str(status), env=inherited)
    assert result.returncode == status, result.stderr
    assert f"exited with status {status}" in result.stderr
    env = json.loads((tmp_path / "env.json").read_text())
    http, grpc, ui = (
        env["HL_LOCAL_OTLP_HTTP_ENDPOINT"],
        env["HL_LOCAL_OTLP_GRPC_ENDPOINT"],
        env["HL_LOCAL_URL"],
    )
    for url in (http, grpc, ui):
        assert url.startswith("http://127.0.0.1:") and not url.endswith((":0", ":4317", ":4318", ":8082"))
    assert len({http, grpc, ui}) == 3, "three free ports"
    assert env["HL_LOCAL_BACKEND_URL"] == f"{ui}/public"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == http
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    for signal_name in ("traces", "logs", "metrics"):
        upper = signal_name.upper()
        assert env[f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"] == f"{http}/v1/{signal_name}", (
            "the inherited one loses"
        )
        assert env[f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"] == "http/protobuf"
    assert (tmp_path / "hl-local-run.duckdb").exists(), "the default database, in the working directory"
    assert not (tmp_path / "hl-local-run.duckdb.wal").exists(), "checkpointed: the file alone is complete"


def test_a_signal_to_run_ends_the_command_and_is_its_status(tmp_path: Path) -> None:
    script = tmp_path / "catch.py"
    script.write_text(
        CATCH_SIGNALS.replace("signal.SIGINT, signal.SIGTERM", "signal.SIGINT,")
    )  # TERM: default
    args = hl_local_command("run", "--", sys.executable, str(script), "ready", "got", "0")
    process = subprocess.Popen(
        args, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: (tmp_path / "ready").exists(), RUN_TIMEOUT_S, "the command to start")
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert b"was ended by SIGTERM" in err, "forwarded to the command, which it ended; run summarised"


def test_sigint_without_a_terminal_goes_to_the_command_once(tmp_path: Path) -> None:
    """As a CI runner cancelling a job sends it: to `run`'s pid only."""
    script = tmp_path / "catch.py"
    script.write_text(CATCH_SIGNALS)
    args = hl_local_command("run", "--", sys.executable, str(script), "ready", "got", "0.3")
    process = subprocess.Popen(
        args, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: (tmp_path / "ready").exists(), RUN_TIMEOUT_S, "the command to start")
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        process.kill()
    assert (tmp_path / "got").read_text() == str(int(signal.SIGINT)), "delivered to the command, once"
    assert process.returncode == 3, err.decode()
    assert b"exited with status 3" in err, "run outlived the signal and summarised"


def test_ctrl_c_on_a_terminal_reaches_the_command_once(tmp_path: Path) -> None:
    """The terminal sends SIGINT to its whole foreground group (run and CMD): run must not add its own."""
    script = tmp_path / "catch.py"
    script.write_text(CATCH_SIGNALS)
    master, slave = os.openpty()
    # a new session whose controlling terminal is the pty, then `hl-local run` in it
    with_tty = (
        "import fcntl, os, sys, termios; os.setsid(); fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    run_it = hl_local_command("run", "--", sys.executable, str(script), "ready", "got", "0.5")
    args = [sys.executable, "-c", with_tty, *run_it]
    process = subprocess.Popen(args, cwd=tmp_path, env=clean_env(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = bytearray()
    reader = threading.Thread(target=_drain, args=(master, output), daemon=True)
    reader.start()
    try:
        wait_until(lambda: (tmp_path / "ready").exists(), RUN_TIMEOUT_S, "the command to start")
        os.write(master, b"\x03")  # Ctrl-C
        process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        process.kill()
        reader.join(10)
        os.close(master)
    assert (tmp_path / "got").read_text() == str(int(signal.SIGINT)), bytes(output).decode(errors="replace")
    assert process.returncode == 3
    assert b"exited with status 3" in output


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the last process holding the terminal ends
            return
        if not chunk:
            return
        into += chunk


# ---------------------------------------------------------------- real SDKs, the summary


def test_otel_sdk_without_an_endpoint_lands_and_fail_on_error(tmp_path: Path) -> None:
    first = run(tmp_path, "--", sys.executable, str(OTEL_APP), "http", "work")
    assert first.returncode == 0, first.stderr
    db = tmp_path / "hl-local-run.duckdb"
    assert {name for (name,) in query(db, "SELECT name FROM spans")} == {"work", "parse"}
    assert query(db, "SELECT body FROM logs WHERE body LIKE 'hello%'") == [("hello from work",)]
    ((kind, message),) = query(db, "SELECT type, message FROM errors")
    assert kind == "ValueError" and "not a number" in message
    assert "stored 2 spans" in first.stderr and "1 error" in first.stderr

    summary_path = tmp_path / "summary.json"
    args = [
        "--fail-on-error",
        "--summary-json",
        str(summary_path),
        "--",
        sys.executable,
        str(OTEL_APP),
        "http",
    ]
    second = run(tmp_path, *args)
    assert second.returncode == 1, "--fail-on-error: the command's 0 becomes 1"
    assert "exit status 1: --fail-on-error, and 1 error were captured" in second.stderr
    summary = msgspec.json.decode(summary_path.read_bytes(), type=RunSummary)
    assert (summary.exit_code, summary.command_exit_code, summary.failed_on_errors) == (1, 0, True)
    assert summary.counts.spans == 2 and summary.counts.errors == 1, "this run's rows only"
    assert query(db, "SELECT count(*) FROM spans") == [(4,)], "appended to the first run's"
    (group,) = summary.error_groups
    assert group.type == "ValueError" and group.new is False, "the first run saw this group already"
    assert (
        group.open == f"hl-local --db hl-local-run.duckdb '/errors/{group.group_id}?error={group.error_id}'"
    )


def test_grpc_exporters_with_otlp_protocol_grpc(tmp_path: Path) -> None:
    result = run(
        tmp_path, "--otlp-protocol", "grpc", "--", sys.executable, str(OTEL_APP), "grpc", "over-grpc"
    )
    assert result.returncode == 0, result.stderr
    db = tmp_path / "hl-local-run.duckdb"
    assert {name for (name,) in query(db, "SELECT name FROM spans")} == {"over-grpc", "parse"}
    assert query(db, "SELECT count(*) FROM logs WHERE body = 'hello from over-grpc'") == [(1,)]


def test_forward_flags_and_environment_reach_the_server(tmp_path: Path) -> None:
    """serve's --forward options, as run passes them on to its server (the header as CI gives a secret)."""
    capture = Capture()
    try:
        args = ["--forward", capture.url]
        env = {"HL_LOCAL_FORWARD_HEADER": "x-api-key=s3cret"}
        result = run(tmp_path, *args, "--", sys.executable, str(OTEL_APP), "http", "sent-on", env=env)
        assert result.returncode == 0, result.stderr
        traces = [seen for seen in capture.seen if seen.path == "/v1/traces"]
        assert traces, "the server drains its forward queue before it says it stopped"
        assert all(seen.headers["x-api-key"] == "s3cret" for seen in traces)
    finally:
        capture.close()
    spans = {span for (span,) in query(tmp_path / "hl-local-run.duckdb", "SELECT name FROM spans")}
    assert spans == {"sent-on", "parse"}, "and stored them too"


def test_two_runs_in_parallel(tmp_path: Path) -> None:
    runs = {}
    for name in ("left", "right"):
        (tmp_path / name).mkdir()
        args = hl_local_command("run", "--", sys.executable, str(OTEL_APP), "http", name)
        runs[name] = subprocess.Popen(
            args, cwd=tmp_path / name, env=clean_env(), stderr=subprocess.PIPE, text=True
        )
    for name, process in runs.items():
        _out, err = process.communicate(timeout=RUN_TIMEOUT_S)
        assert process.returncode == 0, err
        spans = {span for (span,) in query(tmp_path / name / "hl-local-run.duckdb", "SELECT name FROM spans")}
        assert spans == {name, "parse"}, "each run stored its own command's spans only"


def test_pytest_under_run_summary_and_failing_tests_first(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pytest.ini", "check_shop.py"):
        shutil.copy(PROJECT / name, project / name)
    summary_path = project / "summary.json"
    result = run(project, "--summary-json", str(summary_path), "--", sys.executable, "-m", "pytest", "-q")
    assert result.returncode == 1, result.stdout + result.stderr  # pytest's own: one test failed
    raise_line = next(n for n, line in enumerate((PROJECT / "check_shop.py").read_text().splitlines(), 1)
                      if line.endswith("# raise:checkout"))  # fmt: skip

    # In the file: a span per test with the semantic-convention attributes, the app's span its child.
    db = project / "hl-local-run.duckdb"
    rows = query(db, "SELECT trace_id, span_id, parent_span_id, name, attributes FROM spans")
    tests = {
        name: (trace, span, json.loads(attrs)) for trace, span, parent, name, attrs in rows if parent == ""
    }
    assert set(tests) == {f"check_shop.py::{name}" for name in ("test_checkout_passes", "test_checkout_fails",
                                                                 "test_not_today")}  # fmt: skip
    for name, (_trace, _span, attributes) in tests.items():
        assert attributes["test.case.name"] == name
        assert (
            attributes["test.suite.name"] == "check_shop.py"
            and attributes["code.file.path"] == "check_shop.py"
        )
        assert isinstance(attributes["code.line.number"], int)
    statuses = {
        name.split("::")[1]: attrs["test.case.result.status"] for name, (_, _, attrs) in tests.items()
    }
    assert statuses == {
        "test_checkout_passes": "pass",
        "test_checkout_fails": "fail",
        "test_not_today": "skipped",
    }
    children = {(trace, parent) for trace, _span, parent, name, _attrs in rows if name == "checkout"}
    assert children == {
        tests[f"check_shop.py::{name}"][:2] for name in ("test_checkout_passes", "test_checkout_fails")
    }

    summary = msgspec.json.decode(summary_path.read_bytes(), type=RunSummary)
    assert summary.tests is not None and (
        summary.tests.passed,
        summary.tests.failed,
        summary.tests.skipped,
    ) == (1, 1, 1)
    (failed,) = summary.failed_tests
    assert failed.name == "check_shop.py::test_checkout_fails"
    assert (failed.file, failed.suite, failed.failure) == (
        "check_shop.py",
        "check_shop.py",
        "KeyError: 'sku-missing'",
    )
    assert failed.errors and {error.type for error in failed.errors} == {"KeyError"}
    frame = failed.errors[0].top_frame
    assert frame is not None and frame.file is not None and frame.file.endswith("check_shop.py")
    assert (frame.line, frame.function) == (raise_line, "checkout")
    assert failed.open == f"hl-local --db hl-local-run.duckdb /traces/{failed.trace_id}"
    (group,) = summary.error_groups
    assert (group.type, group.message, group.new) == ("KeyError", "'sku-missing'", True)
    text = result.stderr
    assert "tests: 1 passed, 1 failed, 1 skipped" in text
    assert "check_shop.py::test_checkout_fails   check_shop.py:" in text
    assert f"KeyError: 'sku-missing' (2 times)   check_shop.py:{raise_line} in checkout" in text
    assert f"new KeyError: 'sku-missing' (2 times)   check_shop.py:{raise_line} in checkout" in text
    assert summary.open_tests and summary.open_tests in text

    # The "tests, failing first" link: the Traces page's own API answer for it lists the failure first.
    page = summary.open_tests.split(" ", 3)[3].strip("'")
    server = start_server(project / "hl-local-run.duckdb")
    try:
        path, _, params = page.partition("?")
        traces = httpx.get(f"{server.ui_url}/api{path}?{params}", timeout=30).json()["items"]
        assert traces[0]["root_span_name"] == "check_shop.py::test_checkout_fails"
        assert [t["has_errors"] for t in traces] == [True, False, False]
    finally:
        server.stop()


# ---------------------------------------------------------------- bad input, before CMD starts


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    for args in ([], ["--"]):
        result = run(tmp_path, *args)
        assert result.returncode == 2
        assert "give the command to run after --" in one_line(result)
    assert not (tmp_path / "hl-local-run.duckdb").exists()


def test_a_command_that_cannot_be_started(tmp_path: Path) -> None:
    missing = run(tmp_path, "--", "no-such-command-hl-local")
    assert missing.returncode == 127
    assert "no-such-command-hl-local: command not found" in one_line(missing)
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    not_executable = run(tmp_path, "--", "./script.sh")
    assert not_executable.returncode == 126
    assert "not an executable file" in one_line(not_executable)
    assert not (tmp_path / "hl-local-run.duckdb").exists(), "no server was started for it"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_busy_port_and_held_database_never_start_the_command(tmp_path: Path, busy_port: int) -> None:
    touch = [sys.executable, "-c", "open('started', 'w')"]
    busy = run(tmp_path, "--port", str(busy_port), "--", *touch)
    assert busy.returncode == 1
    assert f":{busy_port} (already in use)" in one_line(busy)
    held_db = tmp_path / "held.duckdb"
    server = start_server(held_db)
    try:
        held = run(tmp_path, "--db", str(held_db), "--", *touch)
    finally:
        server.stop()
    assert held.returncode == 1
    assert "is already open in" in one_line(held)
    assert not (tmp_path / "started").exists(), "the command never ran half-configured"


def test_help_lists_every_option() -> None:
    result = run_hl_local("run", "--help")
    assert result.returncode == 0
    for option in OPTIONS:
        assert option.flag in result.stdout
    assert "-- CMD [ARGS...]" in result.stdout
    assert "--no-open" not in result.stdout and "--memory" not in result.stdout
    assert "--read-only" not in result.stdout, "a capture that may not write stores nothing"


def test_summary_json_schema_in_the_docs_is_current() -> None:
    text = DOCS.read_text()
    start = text.index("```json\n", text.index("<!-- summary schema -->")) + len("```json\n")
    documented = json.loads(text[start : text.index("```", start)])
    assert documented == msgspec.json.schema(RunSummary), "put msgspec.json.schema(RunSummary) in docs/ci.md"
