"""`--read-only`: a file someone sent is opened, shown, and never changed.

Real servers on a real file: every ingest endpoint (OTLP/HTTP protobuf and JSON, OTLP/gRPC, the
browser SDK's /public) answers 503 saying why, a change through the API is refused the same way,
and after the server stops the file and its folder are byte for byte what they were (a WAL left
by a killed writer included). A file of an older schema says so instead of being migrated.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
from pathlib import Path

import duckdb
import grpc
import httpx
import pytest

from tests.conftest import run_hl_local, start_server, trace_batch

TRACES_SERVICE = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def folder_state(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file of `folder`: content digest and modification time."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with spans in it, and a WAL: its writer was killed before any checkpoint."""
    db = tmp_path_factory.mktemp("sent") / "sent.duckdb"
    server = start_server(db)
    for seed in (1, 2):
        reply = httpx.post(f"{server.otlp_http_url}/v1/traces", content=trace_batch(seed),
                           headers={"content-type": "application/x-protobuf"}, timeout=30)  # fmt: skip
        assert reply.status_code == 200
    server.stop(signal.SIGKILL)
    assert db.with_name("sent.duckdb.wal").exists(), "the test needs a WAL left behind"
    return db


@pytest.fixture
def written(template: Path, tmp_path: Path) -> Path:
    """A copy of the template, WAL and all, for one test."""
    for name in ("sent.duckdb", "sent.duckdb.wal"):
        shutil.copy2(template.with_name(name), tmp_path / name)
    return tmp_path / "sent.duckdb"


def test_nothing_is_stored_and_the_file_is_unchanged(written: Path) -> None:
    before = folder_state(written.parent)
    server = start_server(written, env={"HL_LOCAL_READ_ONLY": "1"})
    try:
        assert "read-only" in server.database
        stats = server.stats()
        assert stats["read_only"] is True and stats["spans"] == 1024  # the WAL's rows are shown
        group = httpx.get(f"{server.ui_url}/api/error-groups", timeout=30).json()["items"][0]["group_id"]
        refusals = [
            httpx.post(f"{server.otlp_http_url}/v1/traces", content=trace_batch(3),
                       headers={"content-type": "application/x-protobuf"}),
            httpx.post(f"{server.ui_url}/v1/logs", json={"resourceLogs": []}),
            httpx.post(f"{server.ui_url}/public", json={"operationName": "initializeSession"}),
            httpx.patch(f"{server.ui_url}/api/error-groups/{group}", json={"state": "resolved"}),
        ]  # fmt: skip
        for reply in refusals:
            assert reply.status_code == 503, (reply.request.url, reply.text)
            assert "read-only" in reply.text and "retry-after" not in reply.headers
        with grpc.insecure_channel(server.grpc_target) as channel:
            export = channel.unary_unary(TRACES_SERVICE)
            with pytest.raises(grpc.RpcError) as refused:
                export(trace_batch(4), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "read-only" in (refused.value.details() or "")
        assert server.stats()["spans"] == 1024
        # a second reader may open the same file at the same time (the flag, where the first had HL_LOCAL_)
        other = start_server(written, "--read-only")
        assert other.stats()["spans"] == 1024
        other.stop()
    finally:
        assert server.stop() == 0
    assert "the file was not changed" in "\n".join(server.output)
    assert folder_state(written.parent) == before


def test_an_older_schema_is_named_not_migrated(written: Path) -> None:
    # what a file written by schema 1 looks like to this version: its version row says 1
    with duckdb.connect(str(written)) as con:
        con.execute("UPDATE hl_meta SET value = '1' WHERE key = 'schema_version'")
    before = folder_state(written.parent)
    done = run_hl_local("--db", str(written), "--read-only", "--no-open", "--port", "0",
                        "--otlp-http-port", "0", "--otlp-grpc-port", "0")  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "older hl-local (schema 1" in line and "--read-only never changes a file" in line, line
    assert folder_state(written.parent) == before


def test_read_only_usage_errors(tmp_path: Path) -> None:
    cases = [
        (["--read-only", "--memory"], 2, "--read-only opens a file"),
        (
            ["--read-only", "--db", str(tmp_path / "t.duckdb"), "--forward", "http://127.0.0.1:9"],
            2,
            "nothing to",
        ),
        (["--read-only", "--db", str(tmp_path / "missing.duckdb")], 1, "no such file"),
    ]
    for args, code, text in cases:
        done = run_hl_local(
            *args, "--no-open", "--port", "0", "--otlp-http-port", "0", "--otlp-grpc-port", "0"
        )
        assert done.returncode == code, (args, done.stderr)
        assert text in done.stderr, done.stderr
    assert not (tmp_path / "missing.duckdb").exists()
