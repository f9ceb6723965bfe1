"""The faults found when hl-local was attacked (issue 13), each as the request that found it.

One server for the module: every test sends what broke it and checks the answer names the problem
(a 4xx, never a 500) and that nothing of a refused request was stored.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.conftest import Server, start_server

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
METRICS_SERVICE = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
DEEP = 100_000  # far past any recursion limit


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("attacked") / "hl.duckdb")
    try:
        yield srv
    finally:
        srv.stop()


def summary_request(name: str) -> bytes:
    """A valid OTLP Summary metric: its points' `sum` has no presence in the protobuf schema."""
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = name
    point = metric.summary.data_points.add()
    point.count, point.sum, point.time_unix_nano = 4, 10.5, 1_700_000_000_000_000_000
    for quantile, value in ((0.5, 2.0), (0.99, 4.0)):
        q = point.quantile_values.add()
        q.quantile, q.value = quantile, value
    return request.SerializeToString()


def test_a_protobuf_summary_metric_is_stored_over_http(server: Server) -> None:
    before = server.stats()["metric_points"]
    reply = httpx.post(
        f"{server.otlp_http_url}/v1/metrics", content=summary_request("http.summary"), headers=PROTOBUF
    )
    assert reply.status_code == 200, reply.text
    assert server.stats()["metric_points"] == before + 1


def test_a_protobuf_summary_metric_is_stored_over_grpc(server: Server) -> None:
    before = server.stats()["metric_points"]
    with grpc.insecure_channel(server.grpc_target) as channel:
        export = channel.unary_unary(METRICS_SERVICE)
        assert export(summary_request("grpc.summary"), timeout=10) == b""
    assert server.stats()["metric_points"] == before + 1


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def otlp_json_log(body_value: str) -> bytes:
    record = '{"timeUnixNano":"1","body":' + body_value + "}"
    return ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + record + "]}]}]}").encode()


def deep_any_value(depth: int) -> str:
    return '{"arrayValue":{"values":[' * depth + "]}}" * depth


@pytest.mark.parametrize(
    "body",
    [
        otlp_json_log(deep_any_value(5_000)),  # an AnyValue tree
        (
            '{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":'
            + deep_any_value(5_000)
            + "}]}}]}"
        ).encode(),
        ('{"resourceSpans":' + nested(DEEP) + "}").encode(),
    ],
    ids=["log-body", "resource-attribute", "bare-arrays"],
)
def test_deeply_nested_otlp_json_is_400(server: Server, body: bytes) -> None:
    before = server.stats()
    signal = "logs" if body.startswith(b'{"resourceLogs') else "traces"
    reply = httpx.post(f"{server.otlp_http_url}/v1/{signal}", content=body, headers=JSON, timeout=30)
    assert reply.status_code == 400, reply.text
    assert "deep" in reply.json()["message"] or "Expected" in reply.json()["message"]
    assert server.stats() == before


def push(session: str, payload: dict[str, Any] | bytes, payload_id: str = "1") -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    data = base64.b64encode(gzip.compress(raw)).decode()
    variables = {"session_secure_id": session, "payload_id": payload_id, "data": data}
    return {"operationName": "pushPayloadCompressed", "variables": variables, "query": "mutation x"}


def post_public(server: Server, body: dict[str, Any] | bytes) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.ui_url}/public", content=content, headers=JSON, timeout=30)


def assert_refused(server: Server, reply: httpx.Response, *words: str) -> None:
    assert reply.status_code == 400, reply.text
    message = reply.json()["errors"][0]["message"]
    for word in words:
        assert word in message, message


def test_deeply_nested_graphql_variables_are_400(server: Server) -> None:
    before = server.stats()
    body = ('{"operationName":"identifySession","variables":{"session_secure_id":"s","user_object":'
            + nested(DEEP) + "}}").encode()  # fmt: skip
    assert_refused(server, post_public(server, body), "deep")
    assert server.stats() == before


def test_deeply_nested_json_inside_a_compressed_push_is_400(server: Server) -> None:
    before = server.stats()
    payload = b'{"events":{"events":[]},"errors":[{"payload":' + nested(DEEP).encode() + b"}]}"
    assert_refused(server, post_public(server, push("deep-push", payload)), "deep")
    messages = json.dumps({"messages": [{"type": "log", "value": [json.loads(nested(400))]}]})
    deep_inner = {"events": {"events": []}, "messages": messages[:-2] + "," + nested(DEEP) + "]}"}
    reply = post_public(server, push("deep-push", deep_inner, "2"))
    assert reply.status_code == 400, reply.text
    assert server.stats() == before


def test_invalid_utf8_in_a_push_s_events_is_400(server: Server) -> None:
    before = server.stats()
    payload = b'{"events":{"events":[{"type":5,"timestamp":1,"data":{"tag":"x","payload":"\xff\xfe"}}]}}'
    assert_refused(server, post_public(server, push("bad-utf8", payload)), "UTF-8")
    assert server.stats() == before


def test_push_metrics_with_an_object_as_a_tag_name_ignores_the_tag(server: Server) -> None:
    before = server.stats()["metric_points"]
    metrics = [
        {"name": "fps", "value": 60, "session_secure_id": "m", "tags": [{"name": {"x": 1}, "value": "v"}]}
    ]
    reply = post_public(server, {"operationName": "pushMetrics", "variables": {"metrics": metrics}})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"data": {"pushMetrics": 1}}
    assert server.stats()["metric_points"] == before + 1


def test_a_session_id_with_a_slash_is_refused(server: Server) -> None:
    before = server.stats()
    reply = post_public(server, push("a/b", {"events": {"events": []}}))
    assert_refused(server, reply, "'/'")
    assert server.stats() == before


@pytest.mark.parametrize("missing", ["traceId", "spanId"])
def test_a_span_with_an_empty_id_is_refused(server: Server, missing: str) -> None:
    before = server.stats()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "s",
        missing: "",
    }
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    reply = httpx.post(f"{server.otlp_http_url}/v1/traces", content=body, headers=JSON)
    assert reply.status_code == 400
    assert f"empty {missing}" in reply.json()["message"]
    assert server.stats() == before


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8082@evil.example", "evil.example#@127.0.0.1", "127.0.0.1 evil.example", "evil.example"],
)
def test_the_api_refuses_a_host_that_only_starts_like_ours(server: Server, host: str) -> None:
    reply = httpx.get(f"{server.ui_url}/api/stats", headers={"host": host})
    if reply.status_code == 400:  # uvicorn's parser refuses some of them before the app sees them
        assert b"spans" not in reply.content
        return
    assert reply.status_code == 403
    assert "not allowed" in reply.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1", "LOCALHOST:1234", "[::1]:8082", "localhost:"])
def test_the_api_takes_a_loopback_host_in_every_valid_form(server: Server, host: str) -> None:
    assert httpx.get(f"{server.ui_url}/api/stats", headers={"host": host}).status_code == 200


def test_ui_routes_answer_head_with_the_get_headers(server: Server) -> None:
    for path in ("/", "/sessions/x", "/logs"):
        got = httpx.get(f"{server.ui_url}{path}")
        headed = httpx.head(f"{server.ui_url}{path}")
        assert headed.status_code == got.status_code == 200
        assert headed.content == b""
        assert headed.headers["content-type"] == got.headers["content-type"]
        assert headed.headers["etag"] == got.headers["etag"]
        assert int(headed.headers["content-length"]) == len(got.content)


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/app.css"])
def test_the_ui_content_type_names_its_charset_once(server: Server, path: str) -> None:
    content_type = httpx.get(f"{server.ui_url}{path}").headers["content-type"]
    assert content_type.count("charset") == 1, content_type
    assert content_type.endswith("; charset=utf-8")


def test_log_lists_carry_a_bounded_preview_and_one_line_gives_the_whole_body(server: Server) -> None:
    big = "".join(f"{i:07d} " for i in range(400_000))  # 3.2 MB
    record = {"body": {"stringValue": big}, "attributes": [{"key": "probe", "value": {"stringValue": "big"}}]}
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record] * 4}]}]}).encode()
    assert (
        httpx.post(f"{server.otlp_http_url}/v1/logs", content=body, headers=JSON, timeout=60).status_code
        == 200
    )
    listed = httpx.get(f"{server.ui_url}/api/logs", params={"query": "probe=big"}, timeout=60)
    assert listed.status_code == 200
    assert len(listed.content) < 100_000, "four 3.2 MB lines, listed in well under 100 KB"
    lines = listed.json()["items"]
    assert len(lines) == 4
    for line in lines:
        assert line["body"] == big[:2000]
        assert line["body_truncated"] is True and line["body_bytes"] == len(big)
    whole = httpx.get(f"{server.ui_url}/api/log-lines/{lines[0]['line_id']}", timeout=60)
    assert whole.status_code == 200
    assert whole.json()["body"] == big and whole.json()["body_truncated"] is False
    assert httpx.get(f"{server.ui_url}/api/log-lines/1-999999999").status_code == 404
    assert httpx.get(f"{server.ui_url}/api/log-lines/not-an-id").status_code == 400


def test_an_html_export_carries_whole_log_bodies_not_the_list_preview(server: Server) -> None:
    """The export page has no server to ask for the rest of a line, so it holds the whole body."""
    import re

    trace_id, span_id = "5e" * 16, "5e" * 8
    big = "".join(f"{i:07d} " for i in range(10_000))  # 80 KB
    span = {"traceId": trace_id, "spanId": span_id, "name": "export me", "startTimeUnixNano": "1",
            "endTimeUnixNano": "2"}  # fmt: skip
    record = {"body": {"stringValue": big}, "traceId": trace_id, "spanId": span_id}
    spans = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
    for path, body in (("/v1/traces", spans), ("/v1/logs", logs)):
        assert httpx.post(f"{server.otlp_http_url}{path}", json=body, timeout=60).status_code == 200
    [listed] = httpx.get(f"{server.ui_url}/api/traces/{trace_id}", timeout=30).json()["logs"]
    assert listed["body_truncated"] is True
    page = httpx.get(f"{server.ui_url}/api/export", params={"format": "html", "trace": trace_id}, timeout=60)
    assert page.status_code == 200, page.text
    packed = re.search(
        rb'<script type="application/octet-stream" id="hl-data">([^<]*)</script>', page.content
    )
    assert packed is not None
    data = json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    [line] = data["traces"][0]["logs"]
    assert line["body"] == big and line["body_truncated"] is False


def test_public_answers_an_oversized_chunked_body_with_a_graphql_413(server: Server) -> None:
    before = server.stats()

    def chunks() -> Iterator[bytes]:
        for _ in range(70):  # 70 MiB in 1 MiB chunks, no Content-Length
            yield b" " * (1024 * 1024)

    reply = httpx.post(f"{server.ui_url}/public", content=chunks(), headers=JSON, timeout=120)
    assert reply.status_code == 413
    error = reply.json()["errors"][0]
    assert "limit" in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"
    assert server.stats() == before


@pytest.mark.parametrize("param", ["start", "end"])
def test_a_time_out_of_range_is_400_not_500(server: Server, param: str) -> None:
    for path in ("/api/logs", "/api/logs/histogram", "/api/traces", "/api/sessions", "/api/error-groups"):
        reply = httpx.get(f"{server.ui_url}{path}", params={param: "99999999999999"})
        assert reply.status_code == 400, (path, reply.text)
        assert "out of range" in reply.json()["detail"]


def test_an_unexpected_failure_is_a_500_logged_once_with_its_traceback(tmp_path: Path) -> None:
    """A real one: a database whose view fails every read (tampered with while hl-local was stopped)."""
    import duckdb

    db = tmp_path / "hl.duckdb"
    start_server(db).stop()
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE OR REPLACE VIEW trace_sessions AS SELECT error('tampered') AS trace_id, "
                    "NULL::VARCHAR AS session_id")  # fmt: skip
    tampered = start_server(db)
    try:
        record = {"body": {"stringValue": "x"}, "traceId": "ab" * 16}
        body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]})
        assert httpx.post(f"{tampered.otlp_http_url}/v1/logs", content=body, headers=JSON).status_code == 200
        for _ in range(30):
            reply = httpx.get(f"{tampered.ui_url}/api/logs")
            assert reply.status_code == 500
            assert reply.json()["status_code"] == 500 and "log" in reply.json()["detail"]
    finally:
        tampered.stop()
    said = "\n".join(tampered.output)
    assert said.count("GET /api/logs failed unexpectedly") == 1, said
    assert said.count("Traceback (most recent call last)") == 1
    assert "tampered" in said
