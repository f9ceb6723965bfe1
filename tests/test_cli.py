"""The `hl-local` command as users run it: version, start-up errors, environment, output, `info`.

Every test runs the real `python -m hl_local` (or the `hl-local` console script) as a subprocess.
A start-up failure must be one line on stderr that says what is wrong, never a traceback.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import grpc
import httpx
import pytest

from hl_local import __version__
from hl_local.store.schema import SCHEMA_VERSION
from tests.conftest import (
    Server,
    clean_env,
    hl_local_command,
    launch,
    run_hl_local,
    span_keys,
    start_server,
    trace_batch,
    wait_until,
)

FAIL_WITHIN_S = 10  # generous: a failing start-up takes ~1 s here
PROTOBUF = {"content-type": "application/x-protobuf"}
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def free_ports(*args: str) -> list[str]:
    return ["--no-open", "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0", *args]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failed start-up's only stderr line, after checking it is a clean, non-zero exit."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("hl-local: "), lines[0]
    return lines[0]


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def post_traces(server: Server, body: bytes) -> None:
    reply = httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)
    assert reply.status_code == 200, reply.text


# --- version --------------------------------------------------------------------------------------


def _head_commit() -> str:
    root = Path(__file__).parent.parent
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert head.returncode == 0, head.stderr
    return head.stdout.strip()[:12]


def test_version_from_module() -> None:
    result = run_hl_local("--version")
    assert result.returncode == 0
    # a checkout names its HEAD, and says when tracked files differ from it
    assert re.fullmatch(
        rf"hl-local {re.escape(__version__)} \(commit {_head_commit()}(-dirty)?\)", result.stdout.strip()
    )


def test_version_from_console_script() -> None:
    script = Path(sys.executable).parent / "hl-local"
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, env=clean_env()
    )
    assert result.returncode == 0
    assert result.stdout.startswith(f"hl-local {__version__} (commit {_head_commit()}")


# --- ports ----------------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("flag", ["--port", "--otlp-http-port", "--otlp-grpc-port"])
def test_busy_port_is_one_line_error(flag: str, busy_port: int, tmp_path: Path) -> None:
    db = tmp_path / "hl.duckdb"
    started = time.monotonic()
    result = run_hl_local(*free_ports("--db", str(db), flag, str(busy_port)), timeout_s=FAIL_WITHIN_S)
    assert time.monotonic() - started < FAIL_WITHIN_S
    line = one_error_line(result)
    assert f":{busy_port}" in line
    assert "in use" in line
    assert not db.exists(), "a busy port is found before the database is created"


def test_busy_grpc_port_is_not_shared_with_reuseport(tmp_path: Path) -> None:
    """Even a listener that allows SO_REUSEPORT must not share its port with hl-local's gRPC server."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_hl_local(*free_ports("--memory", "--otlp-grpc-port", str(port)), timeout_s=FAIL_WITHIN_S)
    line = one_error_line(result)
    assert f":{port}" in line and "in use" in line


@pytest.mark.parametrize("value", ["70000", "-1", "http"])
def test_port_out_of_range_is_an_error_without_traceback(value: str) -> None:
    result = run_hl_local(*free_ports("--memory", "--otlp-grpc-port", value), timeout_s=FAIL_WITHIN_S)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--otlp-grpc-port" in result.stderr and value in result.stderr


# --- the database file ----------------------------------------------------------------------------


def test_database_held_by_another_hl_local(db_path: Path) -> None:
    first = start_server(db_path)
    try:
        result = run_hl_local(*free_ports("--db", str(db_path)), timeout_s=FAIL_WITHIN_S)
        line = one_error_line(result)
        assert str(db_path) in line
        assert f"pid {first.process.pid}" in line
        assert first.process.poll() is None, "the first hl-local keeps running"
        assert httpx.get(f"{first.ui_url}/health", timeout=5).status_code == 200
    finally:
        assert first.stop() == 0


def _regular_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-regular-file"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize("where", ["under-a-file", "proc", "a-directory", "not-duckdb"])
def test_unusable_path_is_one_line_error(where: str, tmp_path: Path) -> None:
    """Paths that fail for root too (tests may run as root, where chmod does not stop writes)."""
    if where == "under-a-file":
        db = _regular_file(tmp_path) / "x.duckdb"
    elif where == "proc":
        db = Path("/proc/hl-local/x.duckdb")
    elif where == "a-directory":
        db = tmp_path
    else:
        db = tmp_path / "garbage.duckdb"
        db.write_bytes(b"this is not a DuckDB file\n" * 1000)
    result = run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S)
    line = one_error_line(result)
    assert str(db) in line
    assert "cannot use" in line


def test_duckdb_file_of_another_program(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (42)")
    line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
    assert str(db) in line
    assert "not an hl-local database" in line
    info = one_error_line(run_hl_local("info", "--db", str(db)))
    assert str(db) in info and "not an hl-local database" in info
    with duckdb.connect(str(db), read_only=True) as con:  # left exactly as it was
        tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == {"t"}
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]


def _meta_only_file(path: Path, schema_version: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE hl_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        con.execute("INSERT INTO hl_meta VALUES ('schema_version', ?)", [schema_version])


def test_file_from_a_newer_hl_local(tmp_path: Path) -> None:
    db = tmp_path / "future.duckdb"
    _meta_only_file(db, "999")
    line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
    assert str(db) in line
    assert "newer" in line
    assert "999" in line and re.search(rf"\b{SCHEMA_VERSION}\b", line), "names both schema versions"
    with duckdb.connect(str(db), read_only=True) as con:  # not migrated, not touched
        assert con.execute("SELECT key, value FROM hl_meta").fetchall() == [("schema_version", "999")]
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(1,)]


def test_file_from_an_older_hl_local(tmp_path: Path) -> None:
    # Schema 1 had no promoted attribute columns: read as it is, `http.method=GET` would find nothing.
    db = tmp_path / "old.duckdb"
    _meta_only_file(db, "1")
    line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
    assert str(db) in line
    assert "older" in line
    assert re.search(r"schema 1\b", line) and re.search(rf"\b{SCHEMA_VERSION}\b", line), line
    with duckdb.connect(str(db), read_only=True) as con:  # not migrated, not touched
        assert con.execute("SELECT key, value FROM hl_meta").fetchall() == [("schema_version", "1")]
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(1,)]


def test_file_with_a_garbled_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "garbled.duckdb"
    _meta_only_file(db, "one")
    line = one_error_line(run_hl_local(*free_ports("--db", str(db)), timeout_s=FAIL_WITHIN_S))
    assert str(db) in line


# --- environment ----------------------------------------------------------------------------------


def test_every_option_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "from-env.duckdb"
    env = clean_env(
        {
            "HL_LOCAL_DB": str(db),
            "HL_LOCAL_HOST": "localhost",
            "HL_LOCAL_PORT": "0",
            "HL_LOCAL_OTLP_HTTP_PORT": "0",
            "HL_LOCAL_OTLP_GRPC_PORT": "0",
            "HL_LOCAL_NO_OPEN": "1",
            "HL_LOCAL_MAX_PENDING_ROWS": "1000",
        }
    )
    server = launch([], env, db)  # no arguments at all
    try:
        assert server.database == str(db)
        assert server.ui_url.startswith("http://localhost:") and port_of(server.ui_url) != 0
        assert server.otlp_http_url.startswith("http://localhost:") and port_of(server.otlp_http_url) != 0
        assert server.grpc_target.startswith("localhost:") and port_of(server.grpc_target) != 0
        assert httpx.get(f"{server.ui_url}/health", timeout=5).status_code == 200
    finally:
        assert server.stop() == 0
    assert db.exists()


def test_flags_win_over_the_environment(tmp_path: Path, busy_port: int) -> None:
    env_db, flag_db = tmp_path / "env.duckdb", tmp_path / "flag.duckdb"
    env = clean_env({"HL_LOCAL_DB": str(env_db), "HL_LOCAL_PORT": str(busy_port), "HL_LOCAL_MEMORY": "1"})
    server = launch(["--db", str(flag_db), *free_ports()], env, flag_db)
    try:
        assert server.database == str(flag_db), "--db beats both HL_LOCAL_DB and HL_LOCAL_MEMORY"
        assert port_of(server.ui_url) != busy_port
    finally:
        assert server.stop() == 0
    assert flag_db.exists() and not env_db.exists()


def test_memory_flag_beats_the_database_from_the_environment(tmp_path: Path) -> None:
    env_db = tmp_path / "env.duckdb"
    server = launch(["--memory", *free_ports()], clean_env({"HL_LOCAL_DB": str(env_db)}))
    try:
        assert server.database.startswith(":memory:")
    finally:
        assert server.stop() == 0
    assert not env_db.exists()


def test_bad_environment_value_is_one_line_error() -> None:
    result = run_hl_local(*free_ports("--memory"), env=clean_env({"HL_LOCAL_MAX_PENDING_ROWS": "lots"}))
    line = one_error_line(result)
    assert "HL_LOCAL_MAX_PENDING_ROWS" in line and "lots" in line


# --- start-up output ------------------------------------------------------------------------------


def test_startup_prints_real_listeners_and_the_database(db_path: Path) -> None:
    server = start_server(db_path)
    try:
        assert server.database == str(db_path)
        ports = {port_of(server.ui_url), port_of(server.otlp_http_url), port_of(server.grpc_target)}
        assert len(ports) == 3 and 0 not in ports, server.output
        assert [line.split()[0] for line in server.output[:5]] == [
            "hl-local",
            "OTLP/HTTP",
            "OTLP/gRPC",
            "Highlight",
            "database",
        ]
        assert f"{server.ui_url}/public" in server.output[3]
        # Every printed address really answers.
        assert httpx.get(f"{server.ui_url}/health", timeout=5).status_code == 200
        post_traces(server, trace_batch(1))
        with grpc.insecure_channel(server.grpc_target) as channel:
            channel.unary_unary(TRACE_EXPORT)(trace_batch(2), timeout=30)
        assert server.stats()["spans"] == 1024
    finally:
        assert server.stop() == 0


def test_memory_keeps_nothing(tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    env = clean_env({"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")})
    server = launch(["--memory", *free_ports()], env, cwd=work)
    try:
        assert "nothing is kept" in server.database
        post_traces(server, trace_batch(3))
        assert server.stats()["spans"] == 512
    finally:
        assert server.stop() == 0
    assert list(tmp_path.rglob("*")) == [work], "no file is created anywhere"


def test_default_database_path(tmp_path: Path) -> None:
    env = clean_env({"XDG_DATA_HOME": str(tmp_path / "xdg")})
    expected = tmp_path / "xdg" / "hl-local" / "hl-local.duckdb"
    server = launch(free_ports(), env, expected)
    try:
        assert server.database == str(expected)
    finally:
        assert server.stop() == 0
    assert expected.exists()


def test_spawn_to_first_health_200(tmp_path: Path) -> None:
    """Measured and printed; asserted only against a generous bound."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    process = subprocess.Popen(
        hl_local_command(*free_ports("--db", str(tmp_path / "hl.duckdb"), "--port", str(port))),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )

    def healthy() -> bool:
        assert process.poll() is None, "hl-local exited during start-up"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, timeout_s=10, what="/health to answer 200")
        elapsed = time.monotonic() - started
        print(f"\nhl-local: spawn to first /health 200 in {elapsed:.3f} s")
        assert elapsed < 10
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


# --- info -----------------------------------------------------------------------------------------


def _info_counts(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("counts"))
    return {name: int(n) for name, n in re.findall(r"(\w+) (\d+)", line)}


def test_info_on_a_stopped_and_a_running_database(db_path: Path) -> None:
    server = start_server(db_path)
    try:
        for seed in (11, 12):
            post_traces(server, trace_batch(seed))
        expected = len(span_keys(trace_batch(11)) | span_keys(trace_batch(12)))

        # Held by the running server: counts come from it (same --port as the running one).
        held = run_hl_local("info", "--db", str(db_path), "--port", str(port_of(server.ui_url)))
        assert held.returncode == 0, held.stderr
        assert str(db_path) in held.stdout
        assert "from the running hl-local" in held.stdout
        assert _info_counts(held.stdout)["spans"] == expected

        # Held, but by nothing that says where it listens (no run file: another program, or an
        # hl-local older than the run file) and nothing answers on the given port: says so.
        db_path.with_name(db_path.name + ".run.json").unlink()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        unreachable = run_hl_local("info", "--db", str(db_path), "--port", str(closed_port))
        assert unreachable.returncode == 0 and "Traceback" not in unreachable.stderr
        assert "held by another process" in unreachable.stdout
        served = server.stats()
    finally:
        assert server.stop() == 0

    stopped = run_hl_local("info", "--db", str(db_path))
    assert stopped.returncode == 0, stopped.stderr
    assert f"database        {db_path}" in stopped.stdout
    assert "from the file" in stopped.stdout
    counts = _info_counts(stopped.stdout)
    # the spans, and the ERROR log lines of their exception events: what the server reported
    assert (counts["spans"], counts["logs"], counts["metric_points"]) == (expected, served["logs"], 0)
    assert served["logs"] > 0


def test_info_without_a_database_yet(tmp_path: Path) -> None:
    db = tmp_path / "not-yet.duckdb"
    result = run_hl_local("info", "--db", str(db))
    assert result.returncode == 0
    assert str(db) in result.stdout and "no database yet" in result.stdout
    assert not db.exists(), "info never creates the file"


def test_a_bad_environment_value_does_not_break_help() -> None:
    result = run_hl_local("serve", "--help", env=clean_env({"HL_LOCAL_PORT": "abc"}))
    assert result.returncode == 0, result.stderr
    assert "HL_LOCAL_PORT" in result.stdout  # each option names its variable


def test_memory_and_db_flags_together_are_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    result = run_hl_local(*free_ports("--memory", "--db", str(db)))
    assert result.returncode == 2
    assert "--memory" in one_error_line(result) and not db.exists()
