"""Fixtures: a real hl-local process on free ports, and helpers to talk to it.

Every live test starts `python -m hl_local` as a subprocess (the same entry point users run),
with its own database file and port 0 everywhere, and reads the real ports from its start-up lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
START_TIMEOUT_S = 20


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
    output: list[str] = field(default_factory=list)

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.ui_url}/api/stats", timeout=10).json()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout_s)
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
    args = [sys.executable, "-m", "hl_local", "serve", "--no-open",
            "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"]  # fmt: skip
    args += ["--db", str(db_path)] if db_path is not None else ["--memory"]
    args += list(extra)
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    server = Server(process, db_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    assert process.stdout is not None
    while not server.grpc_target or not server.ui_url or not server.otlp_http_url:
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
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("hl-local did not start in time:\n" + "\n".join(server.output))
    return server


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
