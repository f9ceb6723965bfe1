"""Big OTLP bodies decoded in the decoder processes (hl_local/ingest/decoders.py), end to end.

What a worker decodes must land exactly as an in-process decode does; a bad body is still a 400
that names the problem; a worker that dies costs no request; workers end with their server.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from bench.otlpgen import log_request
from tests.conftest import Server, start_server, trace_batch, wait_until

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def children(server: Server) -> list[int]:
    pid = server.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def post(server: Server, body: bytes) -> httpx.Response:
    return httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)


def stored(server: Server) -> list[list[tuple[object, ...]]]:
    """Every stored column but when the row was received, of spans, log lines and errors."""
    return [
        server.query(f"SELECT * EXCLUDE (received_ns) FROM {table} ORDER BY ALL")
        for table in ("spans", "logs", "errors")
    ]


def test_a_worker_decodes_what_the_server_would(tmp_path: Path) -> None:
    seed = 51
    body = trace_batch(seed)
    assert len(body) > 64 * 1024  # big enough to be decoded off the event loop
    answers = {}
    for decoders in ("0", "1"):
        server = start_server(tmp_path / f"d{decoders}.duckdb", "--decoders", decoders)
        try:
            assert len(children(server)) == int(decoders)
            reply = post(server, body)
            assert reply.status_code == 200, reply.text
            logs = httpx.post(f"{server.otlp_http_url}/v1/logs", content=log_request(seed), headers=PROTOBUF)
            assert logs.status_code == 200, logs.text
            stats = server.stats()
            errors = httpx.get(f"{server.ui_url}/api/error-groups", timeout=10).json()
        finally:
            assert server.stop() == 0
        answers[decoders] = (stats["spans"], stats["logs"], len(errors["items"]), stored(server))
    assert answers["1"][:2] == (512, 512 + stats["errors"])  # log records, and one line per error
    assert answers["1"] == answers["0"]


def test_a_bad_body_decoded_by_a_worker_is_a_400_that_says_why(tmp_path: Path) -> None:
    server = start_server(tmp_path / "bad.duckdb", "--decoders", "1")
    try:
        body = bytearray(trace_batch(52))
        body[10:14] = b"\xff\xff\xff\xff"  # a field header no ExportTraceServiceRequest has
        reply = post(server, bytes(body))
        assert reply.status_code == 400
        assert "protobuf" in reply.text
        assert server.stats()["spans"] == 0
        assert post(server, trace_batch(53)).status_code == 200  # the worker is still there
    finally:
        assert server.stop() == 0


def test_a_worker_that_dies_costs_no_request(tmp_path: Path) -> None:
    server = start_server(tmp_path / "dies.duckdb", "--decoders", "1")
    try:
        (worker,) = children(server)
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: worker not in children(server), what="the worker gone")
        for seed in (54, 55):  # the first finds the pool broken, the second goes straight to a thread
            reply = post(server, trace_batch(seed))
            assert reply.status_code == 200, reply.text
        assert server.stats()["spans"] == 1024
    finally:
        assert server.stop() == 0
    assert any("decoder process died" in line for line in server.output)


def test_workers_end_with_their_server(tmp_path: Path) -> None:
    for how in (signal.SIGINT, signal.SIGKILL):
        server = start_server(tmp_path / f"end{how}.duckdb", "--decoders", "2")
        workers = children(server)
        assert len(workers) == 2
        assert post(server, trace_batch(56)).status_code == 200
        # Ctrl-C in a terminal reaches the whole foreground process group: the server and its workers
        for pid in [server.process.pid, *workers] if how == signal.SIGINT else [server.process.pid]:
            os.kill(pid, how)
        code = server.stop()
        assert code == (0 if how == signal.SIGINT else -signal.SIGKILL)
        wait_until(lambda: not any(alive(pid) for pid in workers), what="the workers gone")  # noqa: B023
        if how == signal.SIGINT:  # the workers leave Ctrl-C to the server, quietly
            assert not any("Traceback" in line or "KeyboardInterrupt" in line for line in server.output)
