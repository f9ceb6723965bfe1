"""Fixtures: a real hl-local process on free ports, and helpers to talk to it.

Every live test starts `python -m hl_local` as a subprocess (the same entry point users run),
with its own database file and port 0 everywhere, and reads the real ports from its start-up lines.
"""

from __future__ import annotations

import compileall
import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
START_TIMEOUT_S = 20


def pytest_configure(config: pytest.Config) -> None:
    """Compile hl_local's bytecode once, before the tests start their hundreds of servers.

    Python keeps it in __pycache__ by itself, as on a user's machine, unless PYTHONDONTWRITEBYTECODE
    is set (as it is where CI runs): then every start-up compiled every module anew, ~0.3 s each.
    """
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without workers
        compileall.compile_dir(Path(__file__).parent.parent / "hl_local", quiet=1)


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> object:
    """Poll `condition` until it returns something truthy; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Server:
    """A running hl-local process."""

    process: subprocess.Popen[str]
    db_path: Path | None
    ui_url: str = ""
    otlp_http_url: str = ""
    grpc_target: str = ""
    database: str = ""  # as printed: a path, or ":memory: (nothing is kept)"
    output: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, int]:
        """/api/stats' counts (without `retention`: its sizes move whenever DuckDB checkpoints)."""
        stats = httpx.get(f"{self.ui_url}/api/stats", timeout=10).json()
        stats.pop("retention", None)
        return stats

    def retention(self) -> dict[str, Any]:
        """/api/stats' `retention`: sizes, caps, the oldest item, pruning."""
        kept: dict[str, Any] = httpx.get(f"{self.ui_url}/api/stats", timeout=10).json()["retention"]
        return kept

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()  # reading the rest of its output below would otherwise wait forever
            self.process.wait()
            raise
        finally:
            if self.process.stdout and not self.process.stdout.closed:
                self.output.extend(self.process.stdout.read().splitlines())
                self.process.stdout.close()
        return code

    def query(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        """Read the database file directly (the server must be stopped: DuckDB locks the file)."""
        assert self.db_path is not None
        con = duckdb.connect(str(self.db_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def start_server(db_path: Path | None, *extra: str, env: dict[str, str] | None = None) -> Server:
    """Start hl-local on free ports and return once it prints its listeners."""
    args = ["serve", "--no-open", "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]
    args += ["--db", str(db_path)] if db_path is not None else ["--memory"]
    args += list(extra)
    return launch(args, {**os.environ, **(env or {})}, db_path)


def hl_local_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hl_local", *args]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the caller's HL_LOCAL_* settings (HL_LOCAL_DEBUG is kept), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HL_LOCAL_") or k == "HL_LOCAL_DEBUG"}
    return {**env, **(extra or {})}


def run_hl_local(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 30, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m hl_local ARGS` to completion (for commands and start-ups that must fail)."""
    return subprocess.run(
        hl_local_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env or clean_env(),
        cwd=cwd,
    )


_launched: list[Server] = []


def _kill(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)
        if server.process.stdout and not server.process.stdout.closed:
            server.process.stdout.close()


@pytest.fixture(autouse=True)
def _no_server_outlives_its_test() -> Iterator[None]:
    """A test that fails half-way must not leave its hl-local running (and its pipe unread).

    Servers of wider-scoped fixtures start before this fixture and are left to them.
    """
    mark = len(_launched)
    yield
    _kill(_launched[mark:])
    del _launched[mark:]


@pytest.fixture(scope="session", autouse=True)
def _no_server_outlives_the_session() -> Iterator[None]:
    yield
    _kill(_launched)


def launch(
    args: list[str],
    env: dict[str, str],
    db_path: Path | None = None,
    cwd: Path | None = None,
    program: list[str] | None = None,
) -> Server:
    """Start `python -m hl_local ARGS` or `program ARGS` (stderr into stdout); parse its start-up lines."""
    command = [*program, *args] if program else hl_local_command(*args)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )
    server = Server(process, db_path)
    _launched.append(server)
    deadline = time.monotonic() + START_TIMEOUT_S
    assert process.stdout is not None
    while not (server.grpc_target and server.ui_url and server.otlp_http_url and server.database):
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=5)
            raise AssertionError("hl-local exited during start-up:\n" + "\n".join(server.output))
        server.output.append(line.rstrip())
        if m := re.match(r"hl-local UI and API\s+(\S+)", line):
            server.ui_url = m.group(1)
        elif m := re.match(r"OTLP/HTTP\s+(\S+)/v1/traces", line):
            server.otlp_http_url = m.group(1)
        elif m := re.match(r"OTLP/gRPC\s+(\S+)", line):
            server.grpc_target = m.group(1)
        elif m := re.match(r"database\s+(.+)", line):
            server.database = m.group(1).strip()
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("hl-local did not start in time:\n" + "\n".join(server.output))
    return server


@functools.cache
def _trace_template() -> bytes:
    from bench.otlpgen import trace_request

    return trace_request(0, 512)


def trace_batch(seed: int) -> bytes:
    """512 realistic spans (bench/otlpgen.py), in traces whose ids are unique to `seed`.

    Rewriting the trace ids of one generated request costs ~4 ms where generating one costs ~75 ms.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(_trace_template())
    prefix = seed.to_bytes(8, "big")
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.trace_id = prefix + span.trace_id[8:]
    return request.SerializeToString()


def span_keys(body: bytes) -> set[tuple[str, str]]:
    """The (trace_id, span_id) pairs, in lower-case hex as stored, of a serialized trace request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    return {
        (span.trace_id.hex(), span.span_id.hex())
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    }


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hl.duckdb"


@pytest.fixture
def server(db_path: Path) -> Iterator[Server]:
    """A fresh hl-local with its own database file; stopped (SIGTERM) after the test."""
    srv = start_server(db_path)
    try:
        yield srv
    finally:
        srv.stop()
