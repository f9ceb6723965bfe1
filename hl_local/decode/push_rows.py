"""A push's console messages, errors, network resources and WebSocket events → rows."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from hl_local.decode.attributes import json_text
from hl_local.decode.frontend import unquote as _unquote
from hl_local.decode.levels import console_level
from hl_local.decode.records import ErrorRow, LogRow, NetworkRequestRow, WebsocketEventRow
from hl_local.decode.sdk_values import inner_list as _inner_list
from hl_local.decode.sdk_values import int32 as _int
from hl_local.decode.sdk_values import iso_ns as _iso_ns
from hl_local.decode.sdk_values import number as _float
from hl_local.decode.sdk_values import object_text as _object_text
from hl_local.decode.sdk_values import string as _string
from hl_local.errors import DecodeError

# Headers older SDKs sent in clear; the current one redacts them itself.
REDACTED_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authorization", "token", "x-api-key", "x-auth-token"}
)


def _frames(trace: Any) -> list[dict[str, Any]]:
    """The SDK's error-stack-parser frames, in our frame shape."""
    if not isinstance(trace, list):
        return []
    frames = []
    for frame in trace:
        if isinstance(frame, dict):
            frames.append(
                {
                    "file": frame.get("fileName"),
                    "line": frame.get("lineNumber"),
                    "column": frame.get("columnNumber"),
                    "function": frame.get("functionName"),
                    "source": frame.get("source"),
                }
            )
    return frames


def _ms_to_ns(value: Any, default: int) -> int:
    # via whole microseconds: epoch ms x 1e6 as a float would land a few ns off
    return int(float(value) * 1000) * 1000 if isinstance(value, (int, float)) and value > 0 else default


def console_row(session_id: str, message: dict[str, Any], received_ns: int) -> LogRow:
    kind = _string(message.get("type")) or "log"
    values = message.get("value")
    if kind == "Error" and isinstance(values, list):  # an uncaught error: the SDK JSON-quotes its text
        values = [_unquote(v) if isinstance(v, str) else v for v in values]
    body = (
        " ".join(v if isinstance(v, str) else json_text(v) for v in values)
        if isinstance(values, list)
        else ""
    )
    attributes = message.get("attributes")
    try:
        attributes_json = _object_text(attributes, "message attributes") if attributes else "{}"
    except DecodeError:
        attributes_json = json_text({"attributes": attributes})
    time_ns = _ms_to_ns(message.get("time"), received_ns)
    frames = _frames(message.get("trace"))
    return LogRow(
        time_ns, time_ns, "", "", 0, kind, 0, console_level(kind), body, "",
        "", "", "", session_id, None, None, "frontend", "", "", attributes_json, "{}",
        json_text(frames) if frames else None, received_ns,
    )  # fmt: skip


def error_row(
    session_id: str, payload_id: str, index: int, error: dict[str, Any], received_ns: int
) -> ErrorRow:
    event = _string(error.get("event")) or ""
    frames = _frames(error.get("stackTrace"))
    error_id = (
        _string(error.get("id"))
        or hashlib.sha1(f"{session_id}/{payload_id}/{index}/{event}".encode()).hexdigest()
    )
    stack = "\n".join(f["source"] for f in frames if isinstance(f.get("source"), str))
    payload = error.get("payload")
    return ErrorRow(
        error_id,
        _iso_ns(error.get("timestamp")) or received_ns,
        "frontend",
        _string(error.get("type")) or "",
        _unquote(event),
        stack,
        json_text(frames),
        _string(error.get("url")),
        _string(error.get("source")),
        _int(error.get("lineNumber")),
        _int(error.get("columnNumber")),
        None,
        None,
        None,
        session_id,
        payload_id,
        None,
        None,
        None,
        payload if isinstance(payload, str) else (json_text(payload) if payload is not None else None),
        received_ns,
    )


def _headers(value: Any) -> tuple[dict[str, Any], str | None]:
    """Headers with credentials redacted, and the X-Highlight-Request request id if present."""
    if not isinstance(value, dict):
        return {}, None
    clean: dict[str, Any] = {}
    request_id = None
    for name, header in value.items():
        lower = str(name).lower()
        clean[name] = "[REDACTED]" if lower in REDACTED_HEADERS else header
        if lower == "x-highlight-request" and isinstance(header, str):
            request_id = request_id_from_header(header)
    return clean, request_id


def request_id_from_header(value: str) -> str | None:
    """`<session>/<request>`; XHR can send it twice comma-joined: the first one counts."""
    first = value.split(",", 1)[0].strip()
    _, _, request = first.partition("/")
    return request or None


def trace_id_from_traceparent(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    parts = value.strip().split("-")
    return parts[1].lower() if len(parts) >= 4 and len(parts[1]) == 32 else None


_TIMING_SKIP = frozenset({"name", "initiatorType", "requestResponsePairs", "transferSize", "encodedBodySize",
                          "decodedBodySize", "nextHopProtocol", "socketId", "type"})  # fmt: skip


def resource_rows(
    session_id: str, payload_id: str, resources: Any
) -> tuple[list[NetworkRequestRow], list[WebsocketEventRow]]:
    network: list[NetworkRequestRow] = []
    sockets: list[WebsocketEventRow] = []
    push_ms = float(payload_id) if payload_id.isdigit() else time.time() * 1000
    for resource in _inner_list(resources, "resources"):
        if resource.get("initiatorType") == "websocket":
            when = _float(resource.get("startTimeAbs")) or _float(resource.get("responseEndAbs")) or push_ms
            socket_id = _string(resource.get("socketId")) or ""
            kind, url = _string(resource.get("type")) or "", _string(resource.get("name")) or ""
            sockets.append(WebsocketEventRow(session_id, payload_id, when, socket_id, kind, url, None, None))
            continue
        network.append(_network_row(session_id, payload_id, resource, push_ms))
    return network, sockets


def _network_row(
    session_id: str, payload_id: str, resource: dict[str, Any], push_ms: float
) -> NetworkRequestRow:
    start = _float(resource.get("startTimeAbs"))
    end = _float(resource.get("responseEndAbs"))
    if start is None:  # the browser's own relative entry: offsets are relative to the push
        offset = _float(resource.get("offsetStartTime"))
        start = push_ms + offset if offset is not None else push_ms
        duration = _float(resource.get("duration"))
        end = start + duration if duration is not None else None
    pairs = resource.get("requestResponsePairs")
    request = pairs.get("request") if isinstance(pairs, dict) else None
    response = pairs.get("response") if isinstance(pairs, dict) else None
    request = request if isinstance(request, dict) else {}
    response = response if isinstance(response, dict) else {}
    request_headers, header_request_id = _headers(request.get("headers"))
    response_headers, _ = _headers(response.get("headers"))
    traceparent = next((v for k, v in request_headers.items() if str(k).lower() == "traceparent"), None)
    timings = {k: v for k, v in resource.items() if k not in _TIMING_SKIP}
    status = response.get("status", resource.get("responseStatus"))
    initiator = _string(resource.get("initiatorType")) or "other"
    # Without a recorded request, a page load is a GET; a fetch/XHR's method is unknown (POST is common).
    unknown_method = bool(request) or initiator in ("fetch", "xmlhttprequest")
    return NetworkRequestRow(
        session_id,
        payload_id,
        start,
        end,
        end - start if end is not None else None,
        initiator,
        _string(request.get("verb")) or (None if unknown_method else "GET"),
        _string(request.get("url")) or _string(resource.get("name")) or "",
        _int(status),
        _string(request.get("id")) or header_request_id,
        trace_id_from_traceparent(traceparent),
        json_text(request_headers) if request else None,
        _body(request.get("body")),
        json_text(response_headers) if response else None,
        _body(response.get("body")),
        _int(response.get("size")),
        _int(resource.get("transferSize")),
        _int(resource.get("encodedBodySize")),
        _int(resource.get("decodedBodySize")),
        _string(resource.get("nextHopProtocol")),
        json_text(timings),
        pairs.get("urlBlocked")
        if isinstance(pairs, dict) and isinstance(pairs.get("urlBlocked"), bool)
        else None,
    )


def _body(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json_text(value)


def socket_message_row(session_id: str, payload_id: str, event: dict[str, Any]) -> WebsocketEventRow:
    return WebsocketEventRow(
        session_id,
        payload_id,
        _float(event.get("timeStamp")) or 0.0,
        _string(event.get("socketId")) or "",
        _string(event.get("type")) or "",
        _string(event.get("name")) or "",
        _int(event.get("size")),
        _string(event.get("message")),
    )
