"""The requests LaunchDarkly's browser SDKs sent (recorded by tests/test_launchdarkly_browser.py into
tests/fixtures/browser/launchdarkly-<client>.jsonl), replayed byte for byte into a fresh hl-local,
beside highlight.run's own capture: the LaunchDarkly sessions look as the live test saw them, and the
highlight.run session (which sends its requests both in its pushes and as spans) lists each once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, start_server
from tests.launchdarkly_session import Expected, check_session, get
from tests.test_highlight_replay import FORWARDED, Capture, send_all

FIXTURES = Path(__file__).parent / "fixtures" / "browser"
CLIENTS = ("v3", "v4")


def load(client: str) -> tuple[list[dict[str, Any]], Expected]:
    text = (FIXTURES / f"launchdarkly-{client}.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    return lines[:-1], Expected(**lines[-1]["expected"])


def replay(server: Server, records: list[dict[str, Any]]) -> list[httpx.Response]:
    replies = []
    with httpx.Client(timeout=30) as client:
        for record in records:
            base = server.ui_url if record["kind"] == "graphql" else server.otlp_http_url
            headers = {k: v for k, v in record["headers"] if k.lower() in FORWARDED}
            content = base64.b64decode(record["body_b64"])
            replies.append(client.post(base + record["path"], content=content, headers=headers))
    return replies


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Expected]]]:
    server = start_server(tmp_path_factory.mktemp("ld-replay") / "hl.duckdb")
    try:
        expected = {}
        for client in CLIENTS:
            records, expected[client] = load(client)
            replies = replay(server, records)
            assert [r.status_code for r in replies] == [200] * len(records)
        assert all(reply.status_code == 200 for _, reply in send_all(server, Capture.load("main")))
        yield server, expected
    finally:
        server.stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_recorded_launchdarkly_session(client: str, replayed: tuple[Server, dict[str, Expected]]) -> None:
    server, expected = replayed
    check_session(server.ui_url, expected[client])


def test_sampling_config_is_sample_everything(replayed: tuple[Server, dict[str, Expected]]) -> None:
    server, _ = replayed
    records, _ = load("v3")
    (ask,) = [r for r in records if r.get("operationName") == "GetSamplingConfig"]
    reply = httpx.post(f"{server.ui_url}/public", content=base64.b64decode(ask["body_b64"]), timeout=10)
    assert reply.json() == {"data": {"sampling": {"spans": [], "logs": []}}}


def test_highlight_run_requests_are_listed_once(replayed: tuple[Server, dict[str, Expected]]) -> None:
    """highlight.run sends each fetch/XHR in its push and as a span: the session lists it once."""
    server, _ = replayed
    capture = Capture.load("main")
    for session_id in capture.session_ids:
        pushed = [
            r
            for push in capture.session_pushes(session_id)
            for r in push.resources
            if r.get("initiatorType") != "websocket"  # WebSocket open/close: websocket_events
        ]
        network = get(server.ui_url, f"/api/sessions/{session_id}/network")["items"]
        assert len(network) == len(pushed) > 0
        assert all(item["payload_id"].isdigit() for item in network)  # every one from a push
        console = get(server.ui_url, f"/api/sessions/{session_id}/console")["items"]
        assert len(console) == sum(len(push.messages) for push in capture.session_pushes(session_id))
        session = get(server.ui_url, f"/api/sessions/{session_id}")
        assert session["error_count"] == sum(len(push.errors) for push in capture.session_pushes(session_id))
