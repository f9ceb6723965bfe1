"""The promoted attribute columns a decoder fills hold exactly what the JSON lookup would.

OTLP decoders look PROMOTED_ATTRIBUTES keys up themselves (store/writes.py then copies them into
the attr_* columns); anything else leaves `promoted` None and the writer's INSERT runs DuckDB's
`json_extract_string` over the JSON text. A search must mean the same either way, so for every
kind of value, on the item, on its resource, on both, repeated and missing, both paths must store
the same columns.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import duckdb
import msgspec
import pytest

from hl_local.decode import otlp_json, otlp_proto
from hl_local.decode.records import PROMOTED_ATTRIBUTES, LogRow, SpanRow
from hl_local.store.arrow import to_arrow
from hl_local.store.schema import SCHEMA_FILES, ddl
from hl_local.store.writes import WRITES

# OTLP/JSON AnyValues of every kind
VALUES: list[dict[str, Any]] = [
    {"stringValue": "GET"},
    {"stringValue": ""},
    {"stringValue": 'a"b\\c\nü'},
    {"intValue": "500"},
    {"intValue": -3},
    {"intValue": str(2**62)},
    {"doubleValue": 1.5},
    {"doubleValue": 2.0},
    {"doubleValue": 1e16},
    {"doubleValue": 1e-7},
    {"doubleValue": 0.1},
    {"doubleValue": 1e21},
    {"doubleValue": "Infinity"},
    {"doubleValue": "NaN"},
    {"boolValue": True},
    {"boolValue": False},
    {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 1}]}},
    {"kvlistValue": {"values": [{"key": "n", "value": {"doubleValue": 2.5}}]}},
    {"bytesValue": "AAEC"},
    {},
]
KEYS = list(PROMOTED_ATTRIBUTES)[:3]  # http.method, http.request.method, http.route


def _attributes(i: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(item attributes, resource attributes) for case i: item only, resource only, both, repeated."""
    value = VALUES[i % len(VALUES)]
    other = VALUES[(i * 7 + 3) % len(VALUES)]
    shape = i % 4
    item = [{"key": KEYS[0], "value": value}] if shape in (0, 2, 3) else []
    if shape == 3:
        item.append({"key": KEYS[0], "value": other})  # repeated: the first counts
    resource = [{"key": KEYS[0], "value": other}, {"key": KEYS[1], "value": value}] if shape in (1, 2) else []
    item.append({"key": "unrelated", "value": {"stringValue": "x"}})
    return item, resource


def _logs_request() -> dict[str, Any]:
    resource_logs = []
    for i in range(len(VALUES) * 4):
        item, resource = _attributes(i)
        record = {"timeUnixNano": str(1_000 + i), "body": {"stringValue": f"R{i}"}, "attributes": item}
        resource_logs.append({"resource": {"attributes": resource}, "scopeLogs": [{"logRecords": [record]}]})
    return {"resourceLogs": resource_logs}


def _traces_request() -> dict[str, Any]:
    resource_spans = []
    for i in range(len(VALUES) * 4):
        item, resource = _attributes(i)
        span = {
            "traceId": f"{i:032x}",
            "spanId": f"{i + 1:016x}",
            "name": f"R{i}",
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
            "attributes": item,
        }
        resource_spans.append({"resource": {"attributes": resource}, "scopeSpans": [{"spans": [span]}]})
    return {"resourceSpans": resource_spans}


def _as_protobuf(signal: str, body: dict[str, Any]) -> bytes:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest() if signal == "traces" else ExportLogsServiceRequest()
    # proto3's JSON mapping writes bytes in base64 where OTLP/JSON writes ids in hex
    text = json.dumps(body)
    for resource_spans in body.get("resourceSpans", []):
        for span in resource_spans["scopeSpans"][0]["spans"]:
            for field in ("traceId", "spanId"):
                text = text.replace(
                    f'"{span[field]}"', f'"{base64.b64encode(bytes.fromhex(span[field])).decode()}"'
                )
    return json_format.Parse(text, message).SerializeToString()


def _stored(rows: list[SpanRow] | list[LogRow], table: str) -> dict[str, tuple[object, ...]]:
    con = duckdb.connect(":memory:")
    for name in SCHEMA_FILES:
        con.execute(ddl(name))
    con.register("r", to_arrow(con, rows))
    con.execute(WRITES[table][0].format(rows="r"))
    columns = ", ".join(PROMOTED_ATTRIBUTES.values())
    label = "name" if table == "spans" else "body"
    return {row[0]: row[1:] for row in con.execute(f"SELECT {label}, {columns} FROM {table}").fetchall()}


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
@pytest.mark.parametrize("signal", ["traces", "logs"])
def test_decoded_promoted_values_are_the_json_lookup(signal: str, encoding: str) -> None:
    body = _traces_request() if signal == "traces" else _logs_request()
    if encoding == "json":
        decode = otlp_json.decode_traces if signal == "traces" else otlp_json.decode_logs
        batch = decode(msgspec.json.encode(body))
    else:
        decode = otlp_proto.decode_traces if signal == "traces" else otlp_proto.decode_logs
        batch = decode(_as_protobuf(signal, body))
    rows = batch.spans if signal == "traces" else batch.logs
    table = "spans" if signal == "traces" else "logs"
    assert all(row.promoted is not None for row in rows), "OTLP decoders look the keys up themselves"
    decoded = _stored(rows, table)
    looked_up = _stored([msgspec.structs.replace(row, promoted=None) for row in rows], table)
    assert decoded == looked_up
    assert any(values[0] is not None for values in decoded.values())  # something was promoted
