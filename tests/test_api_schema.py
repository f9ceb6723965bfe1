"""The OpenAPI document describes every /api answer: a named schema with properties for every 200,
ErrorBody for every error, and the document a running server serves is the one built in process
(what tools/api_types.py generates the UI's types from). The API tests check real answers against
it (tests/api_schema.py); here, the document itself, the error bodies, and the JSON text columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from hl_local.app import openapi_document
from hl_local.query.responses import Frame, LogLine
from hl_local.query.structs import checked_json, structs, trusted_json
from tests.api_schema import check, conforms, document
from tests.conftest import Server, start_server

Json = dict[str, Any]
REF = "#/components/schemas/"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = start_server(None)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def doc(server: Server) -> Json:
    return document(server.ui_url)


def component(doc: Json, schema: Json) -> tuple[str, Json]:
    """The named component a `$ref` schema points to."""
    assert set(schema) == {"$ref"} and schema["$ref"].startswith(REF), schema
    name = schema["$ref"].removeprefix(REF)
    assert name in doc["components"]["schemas"], name
    return name, doc["components"]["schemas"][name]


def api_operations(doc: Json) -> Iterator[tuple[str, str, Json]]:
    for path, item in doc["paths"].items():
        if path.startswith("/api/"):
            for method, operation in item.items():
                yield path, method, operation


def test_every_api_get_answers_a_named_schema_with_properties(doc: Json) -> None:
    gets = [(path, operation) for path, method, operation in api_operations(doc) if method == "get"]
    assert len(gets) >= 20  # every endpoint of docs/api.md
    for path, operation in gets:
        [(media_type, body)] = operation["responses"]["200"]["content"].items()
        if path == "/api/export":  # a file to download: a .duckdb, an .html page or OTLP/JSON lines
            assert media_type == "application/octet-stream"
            continue
        schema = body["schema"]
        if schema.get("type") == "array":  # the events stream: a JSON array of rrweb events
            assert path == "/api/sessions/{session_id}/events", path
            schema = schema["items"]
        name, found = component(doc, schema)
        assert found.get("properties"), f"{path}: {name} has no properties"
        assert media_type == ("text/event-stream" if path == "/api/live" else "application/json"), path


def test_every_api_error_answer_is_the_error_body(doc: Json) -> None:
    for path, method, operation in api_operations(doc):
        errors = {code: r for code, r in operation["responses"].items() if not code.startswith("2")}
        assert "403" in errors, f"{method} {path}: the Host guard's 403 is not listed"
        for code, response in errors.items():
            [(_, body)] = response["content"].items()
            assert component(doc, body["schema"])[0] == "ErrorBody", (method, path, code)


def test_every_schema_a_document_names_is_in_it(doc: Json) -> None:
    def refs(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            if "$ref" in value:
                yield value["$ref"]
            for item in value.values():
                yield from refs(item)
        elif isinstance(value, list):
            for item in value:
                yield from refs(item)

    named = set(doc["components"]["schemas"])
    assert {ref.removeprefix(REF) for ref in refs(doc)} <= named
    # no schema is left as a bare `{}` where a JSON column's shape is known (stored JSON is typed)
    log_line = doc["components"]["schemas"]["LogLine"]["properties"]
    assert log_line["attributes"] == {"additionalProperties": {}, "type": "object"}
    assert {"items": {"$ref": f"{REF}Frame"}, "type": "array"} in log_line["frames"]["oneOf"]


def test_the_served_document_is_the_one_built_in_process(doc: Json) -> None:
    assert openapi_document() == doc


def test_error_answers_are_error_bodies(server: Server) -> None:
    base = server.ui_url
    cases: list[tuple[httpx.Response, int, set[str]]] = [
        (httpx.get(f"{base}/api/logs", params={"query": "level=(error"}), 400, {"position", "expected"}),
        (httpx.get(f"{base}/api/logs", params={"limit": "many"}), 400, set()),  # litestar's own check
        (httpx.get(f"{base}/api/logs", params={"cursor": "@@"}), 400, set()),
        (httpx.get(f"{base}/api/sessions/nope"), 404, set()),
        (httpx.get(f"{base}/api/traces/nope"), 404, set()),
        (httpx.get(f"{base}/api/errors/nope"), 404, set()),
        (httpx.get(f"{base}/api/stats", headers={"host": "evil.example"}), 403, set()),
        (httpx.patch(f"{base}/api/error-groups/nope", json={"state": "done"}), 400, set()),
        (httpx.patch(f"{base}/api/error-groups/nope", json={"state": "open"}), 404, set()),
    ]
    for reply, status, at in cases:
        assert reply.status_code == status, (reply.request.url, reply.text)
        body = conforms(reply)
        assert body["status_code"] == status and body["detail"], body
        if at:
            assert set(body["extra"]) == at and isinstance(body["extra"]["position"], int), body
    bad_type = cases[1][0].json()
    assert bad_type["extra"] == [
        {"message": "Expected `int | null`, got `str`", "key": "limit", "source": "query"}
    ]


def test_the_checker_finds_what_does_not_fit(doc: Json) -> None:
    line = {"items": [], "next_cursor": None}
    page = {"$ref": f"{REF}LogPage"}
    assert check(line, page, doc) == []
    assert check({**line, "extra": 1}, page, doc) == ["$: 'extra' is not in the document"]
    assert check({"items": []}, page, doc) == ["$: 'next_cursor' is missing"]
    assert check({**line, "next_cursor": 1}, page, doc)  # neither a string nor null
    assert check({"status": "ok", "version": True}, {"$ref": f"{REF}Health"}, doc)  # a bool is no string
    assert check({"counts": {"info": True}, "start_ns": 1}, {"$ref": f"{REF}HistogramBucket"}, doc)


def test_json_text_columns_are_sent_as_json() -> None:
    encode = msgspec.json.encode
    assert encode(trusted_json('{"a": [1]}')) == b'{"a": [1]}'  # as stored: no parsing
    assert trusted_json(None) is None and trusted_json("") is None
    assert encode(checked_json('{"a":1}')) == b'{"a":1}'
    assert encode(checked_json("not json at all")) == b'"not json at all"'  # what an SDK sent, as a string
    assert encode(checked_json("[1,]")) == b'"[1,]"'  # DuckDB's JSON reader takes this; JSON does not
    assert checked_json(None) is None and checked_json("") is None


def test_structs_refuse_a_query_that_is_not_their_fields() -> None:
    frames = structs(Frame, ["file", "line", "column", "function", "source"], [("a.py", 1, None, "f", None)])
    assert frames == [Frame("a.py", 1, None, "f", None)]
    with pytest.raises(TypeError, match="LogLine has fields"):
        structs(LogLine, ["time_ns", "level"], [(1, "info")])
    skipped = structs(Frame, ["rowid", *Frame.__struct_fields__], [(7, "b.py", 2, 3, "g", "x()")], skip=1)
    assert skipped == [Frame("b.py", 2, 3, "g", "x()")]
