"""Highlight browser SDK (`highlight.run`) GraphQL operations → rows. Pure functions, no I/O.

The SDK posts `{"query", "variables", "operationName"}` to its `backendUrl`. A push carries
`data` = base64(gzip(JSON payload)); inside it `messages`, `resources` and `web_socket_events`
are JSON *strings* holding JSON. Wire facts: shared/docs/highlight-browser-protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from hl_local.decode.attributes import json_text
from hl_local.decode.otlp import normalise_level
from hl_local.decode.records import (
    Batch,
    ErrorRow,
    FeedbackRow,
    LogRow,
    MetricPointRow,
    NetworkRequestRow,
    ReplayChunkRow,
    SessionEventRow,
    SessionIdentity,
    SessionProperties,
    SessionRow,
    WebsocketEventRow,
)
from hl_local.errors import DecodeError

MAX_PAYLOAD_BYTES = 64 * 1024 * 1024  # a push's JSON after gunzip
ACTIVE_GAP_MS = 10_000  # interactions closer than this count as active time (Highlight's rule)
RAGE_CLICKS, RAGE_RADIUS_PX, RAGE_WINDOW_MS = 5, 8, 2_000  # Highlight's rage-click rule

# Headers older SDKs sent in clear; the current one redacts them itself.
REDACTED_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "proxy-authorization", "token", "x-api-key", "x-auth-token"}
)

_decode_json = msgspec.json.decode


class GraphQLRequest(msgspec.Struct, gc=False):
    query: str = ""
    variables: dict[str, Any] | None = None
    operationName: str | None = None  # the wire's own camelCase name


_FIRST_FIELD = re.compile(r"\{\s*(\w+)")


def parse_request(body: bytes) -> GraphQLRequest:
    try:
        request = msgspec.json.decode(body, type=GraphQLRequest)
    except msgspec.DecodeError as exc:
        raise DecodeError(
            f"body is not a GraphQL request (JSON with query, variables, operationName): {exc}"
        ) from None
    return request


def operation_name(request: GraphQLRequest) -> str:
    """The operation: `operationName`, else the first field of the selection set."""
    if request.operationName:
        return request.operationName
    match = _FIRST_FIELD.search(request.query)
    return match.group(1) if match else ""


# ---------------------------------------------------------------- session calls


@dataclass(frozen=True)
class Client:
    """What initializeSession learns from the HTTP request itself."""

    user_agent: str | None
    ip: str | None
    language: str | None
    origin: str | None = None


def _string(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json_text(value)


def session_id_of(variables: dict[str, Any]) -> str:
    session_id = variables.get("session_secure_id")
    if not isinstance(session_id, str) or not session_id:
        raise DecodeError("variables.session_secure_id is missing or not a string")
    # The id is a path segment of the session's page and API (/sessions/<id>): a "/" in it could
    # never be opened. The SDK's own ids are 28 letters and digits.
    if "/" in session_id:
        raise DecodeError(f"variables.session_secure_id {session_id[:64]!r} contains '/'")
    return session_id


def initialize_session(variables: dict[str, Any], client: Client) -> Batch:
    now = time.time_ns()
    domains = variables.get("network_recording_domains")
    row = SessionRow(
        session_id_of(variables),
        True,
        _string(variables.get("organization_verbose_id")),
        _string(variables.get("client_id") or variables.get("id")),
        _string(variables.get("session_key")),
        _string(variables.get("clientVersion")),
        _string(variables.get("firstloadVersion")),
        _string(variables.get("clientConfig")),
        _string(variables.get("environment")),
        _string(variables.get("appVersion")),
        _string(variables.get("serviceName")),
        _string(variables.get("privacy_setting")),
        _bool(variables.get("enable_strict_privacy")),
        _bool(variables.get("enable_recording_network_contents")),
        _bool(variables.get("disable_session_recording")),
        json_text(domains) if domains is not None else None,
        client.user_agent,
        client.ip,
        client.language,
        None,  # identifier, user_object and properties come with identify and addSessionProperties
        None,
        None,
        now,
        now,
        client.origin,
    )
    return Batch(session_inits=[row])


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _object_text(value: Any, what: str) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):  # some clients send the object JSON-encoded
        try:
            value = _decode_json(value)
        except msgspec.DecodeError:
            raise DecodeError(f"{what} is neither an object nor JSON text of one") from None
    if not isinstance(value, dict):
        raise DecodeError(f"{what} must be an object")
    return json_text(value)


def identify_session(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    identifier = variables.get("user_identifier")
    user_object = _object_text(variables.get("user_object"), "variables.user_object")
    row = SessionIdentity(session_id_of(variables), _string(identifier), user_object, now, now)
    return Batch(session_identities=[row])


def add_session_properties(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    properties = _object_text(variables.get("properties_object"), "variables.properties_object")
    return Batch(session_properties=[SessionProperties(session_id_of(variables), properties, now, now)])


def add_session_feedback(variables: dict[str, Any]) -> Batch:
    now = time.time_ns()
    verbatim = variables.get("verbatim")
    if not isinstance(verbatim, str):
        raise DecodeError("variables.verbatim is missing")
    time_ns = _iso_ns(variables.get("timestamp")) or now
    row = FeedbackRow(
        session_id_of(variables),
        time_ns,
        _string(variables.get("user_name")),
        _string(variables.get("user_email")),
        verbatim,
        now,
    )
    return Batch(session_feedback=[row])


def _iso_ns(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000) * 1000


def push_metrics(variables: dict[str, Any]) -> Batch:
    """pushMetrics (schema only in 10.x): each metric becomes a gauge point of its session."""
    metrics = variables.get("metrics")
    if not isinstance(metrics, list):
        raise DecodeError("variables.metrics must be a list")
    now = time.time_ns()
    rows: list[MetricPointRow] = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            raise DecodeError("every metric needs a name")
        tags = metric.get("tags")
        tags = tags if isinstance(tags, list) else []
        attributes = {
            t["name"]: t.get("value") for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)
        }
        for key in ("category", "group", "parent_span_id"):
            if metric.get(key) is not None:
                attributes[key] = metric[key]
        time_ns = _iso_ns(metric.get("timestamp")) or now
        session_id = _string(metric.get("session_secure_id"))
        rows.append(
            _gauge_point(time_ns, metric["name"], _float(metric.get("value")), session_id, attributes, now)
        )
    return Batch(metric_points=rows)


def _gauge_point(
    time_ns: int, name: str, value: float | None, session_id: str | None, attributes: dict[str, Any], now: int
) -> MetricPointRow:
    return MetricPointRow(
        time_ns=time_ns, start_ns=0, metric_name=name, description="", unit="", metric_type="gauge",
        temporality=None, is_monotonic=None, value=value, count=None, sum=None, min=None, max=None,
        bucket_counts=None, explicit_bounds=None, exp_scale=None, exp_zero_count=None,
        exp_zero_threshold=None, exp_positive_offset=None, exp_positive_counts=None,
        exp_negative_offset=None, exp_negative_counts=None, quantiles=None, flags=0, exemplars="[]",
        service_name="", service_version="", environment="", session_id=session_id, request_id=None,
        project_id=None, scope_name="highlight.run", scope_version="", attributes=json_text(attributes),
        resource_attributes="{}", received_ns=now,
    )  # fmt: skip


# ---------------------------------------------------------------- pushes


class _EventsWrapper(msgspec.Struct, gc=False):
    events: msgspec.Raw = msgspec.Raw(b"[]")


class Payload(msgspec.Struct, gc=False):
    """The decoded push. `events` stays raw: it is stored byte for byte."""

    events: _EventsWrapper | None = None
    messages: Any = None  # JSON text of {"messages": [...]} (or already an object: legacy pushPayload)
    resources: Any = None
    web_socket_events: Any = None
    errors: list[dict[str, Any]] | None = None
    is_beacon: bool = False
    has_session_unloaded: bool = False


class _EventHead(msgspec.Struct, gc=False):
    type: int = -1
    timestamp: float = 0
    sid: int | None = msgspec.field(default=None, name="_sid")
    data: msgspec.Raw = msgspec.Raw(b"null")


class _Custom(msgspec.Struct, gc=False):
    tag: str = ""
    payload: msgspec.Raw = msgspec.Raw(b"null")


class _Incremental(msgspec.Struct, gc=False):
    source: int = -1
    type: int | None = None
    x: float | None = None
    y: float | None = None


class _Meta(msgspec.Struct, gc=False):
    href: str | None = None


_META, _FULL_SNAPSHOT, _INCREMENTAL, _CUSTOM = 4, 2, 3, 5
_MOUSE_INTERACTION, _CLICK = 2, 2
# Incremental sources that are a person doing something (not DOM mutations, fonts, canvas...).
_USER_SOURCES = frozenset({1, 2, 3, 5, 6, 7, 12, 14})
# A page: Navigate (first load, pushState, popstate) or Reload (a load that continues the
# session). The SDK emits history changes twice in a row, so a repeat of the same URL is one page.
_PAGE_TAGS = frozenset({"Navigate", "Reload"})

Click = tuple[float, float, float]  # time ms, x, y


def decode_push_data(data: Any) -> Payload:
    """`data` of PushSessionEvents / pushPayloadCompressed: base64 → gzip → JSON."""
    if not isinstance(data, str) or not data:
        raise DecodeError("variables.data must be a non-empty string (base64 of gzipped JSON)")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("variables.data is not valid base64") from None
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib
    try:
        plain = inflate.decompress(compressed, MAX_PAYLOAD_BYTES + 1)
    except zlib.error as exc:
        raise DecodeError(f"variables.data is not gzip data: {exc}") from None
    if len(plain) > MAX_PAYLOAD_BYTES:
        raise DecodeError(f"variables.data inflates to over {MAX_PAYLOAD_BYTES} bytes")
    if not inflate.eof:
        raise DecodeError("variables.data is truncated gzip data")
    return _payload(plain)


def _payload(plain: bytes | str) -> Payload:
    try:
        return msgspec.json.decode(plain, type=Payload)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"the push payload is not the JSON the SDK sends: {exc}") from None


def legacy_payload(variables: dict[str, Any]) -> Payload:
    """pushPayload: the payload's fields given directly as variables."""
    return _payload(msgspec.json.encode(variables))


def _inner_list(value: Any, key: str) -> list[dict[str, Any]]:
    """`messages` etc.: JSON text holding {key: [...]}, or the object itself, or absent."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = _decode_json(value)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"payload {key} is not valid JSON text: {exc}") from None
    if isinstance(value, dict):
        value = value.get(key, [])
    if not isinstance(value, list):
        raise DecodeError(f"payload {key} must hold a list")
    return [item for item in value if isinstance(item, dict)]


@dataclass
class PushResult:
    batch: Batch
    clicks_tail: list[Click]  # the last clicks, for rage clicks that span pushes


def push_to_batch(
    session_id: str, payload_id: str, payload: Payload, previous_clicks: list[Click] | None = None
) -> PushResult:
    """All rows of one push, for the writer to store (or skip whole if the push is a repeat)."""
    received_ns = time.time_ns()
    raw_events = bytes(payload.events.events) if payload.events is not None else b"[]"
    try:
        heads = msgspec.json.decode(raw_events, type=list[_EventHead])
        events_text = raw_events.decode()  # msgspec.Raw keeps the bytes as sent, valid UTF-8 or not
    except msgspec.DecodeError as exc:
        raise DecodeError(f"payload events are not rrweb events: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload events are not valid UTF-8 (byte {exc.start})") from None
    scan = _scan_events(session_id, payload_id, heads, previous_clicks or [])
    messages = _inner_list(payload.messages, "messages")
    log_rows = [_console_row(session_id, m, received_ns) for m in messages]
    error_rows = [
        _error_row(session_id, payload_id, i, e, received_ns) for i, e in enumerate(payload.errors or [])
    ]
    network_rows, socket_rows = _resource_rows(session_id, payload_id, payload.resources)
    socket_rows += [
        _socket_message_row(session_id, payload_id, e)
        for e in _inner_list(payload.web_socket_events, "webSocketEvents")
    ]
    chunk = ReplayChunkRow(
        session_id,
        payload_id,
        scan.first_ms,
        scan.last_ms,
        len(heads),
        scan.has_full_snapshot,
        events_text,
        payload.is_beacon,
        payload.has_session_unloaded,
        scan.first_url,
        scan.pages,
        scan.clicks,
        len(error_rows),
        sum(1 for row in log_rows if row.level == "error"),
        scan.interactions[0] if scan.interactions else None,
        scan.interactions[-1] if scan.interactions else None,
        _active_ms(scan.interactions),
        scan.rage,
        received_ns,
    )
    batch = Batch(
        replay_chunks=[chunk],
        session_events=scan.custom_rows,
        logs=log_rows,
        errors=error_rows,
        network_requests=network_rows,
        websocket_events=socket_rows,
        push_key=(session_id, payload_id),
    )
    return PushResult(batch, scan.clicks_tail)


@dataclass
class _Scan:
    first_ms: int | None = None
    last_ms: int | None = None
    has_full_snapshot: bool = False
    first_url: str | None = None
    pages: int = 0
    last_page_url: str | None = None
    clicks: int = 0
    rage: bool = False
    interactions: list[int] = field(default_factory=list)
    custom_rows: list[SessionEventRow] = field(default_factory=list)
    clicks_tail: list[Click] = field(default_factory=list)


def _scan_events(session_id: str, payload_id: str, heads: list[_EventHead], previous: list[Click]) -> _Scan:
    scan = _Scan()
    mouse_clicks: list[Click] = []
    times = [int(h.timestamp) for h in heads if h.timestamp]
    if times:
        scan.first_ms, scan.last_ms = min(times), max(times)
    for head in heads:
        try:
            _scan_event(session_id, payload_id, head, scan, mouse_clicks)
        except msgspec.DecodeError:
            continue  # an event of an unexpected shape is still stored and replayed, just not indexed
    scan.interactions.sort()
    # A set: a retried push (same payload id) must not count its clicks twice.
    window = sorted({*previous, *mouse_clicks})
    scan.rage = _has_rage_clicks(window)
    scan.clicks_tail = window[-(RAGE_CLICKS - 1) :]
    return scan


def _scan_event(
    session_id: str, payload_id: str, head: _EventHead, scan: _Scan, mouse_clicks: list[Click]
) -> None:
    if head.type == _FULL_SNAPSHOT:
        scan.has_full_snapshot = True
    elif head.type == _META and scan.first_url is None:
        scan.first_url = _decode_json(head.data, type=_Meta).href
    elif head.type == _INCREMENTAL:
        data = _decode_json(head.data, type=_Incremental)
        if data.source in _USER_SOURCES:
            scan.interactions.append(int(head.timestamp))
        if data.source == _MOUSE_INTERACTION and data.type == _CLICK and data.x is not None:
            mouse_clicks.append((head.timestamp, data.x, data.y or 0.0))
    elif head.type == _CUSTOM:
        row = _custom_row(session_id, payload_id, head)
        scan.custom_rows.append(row)
        kind = row.kind
        if kind in _PAGE_TAGS:
            url = row.payload
            if url != scan.last_page_url:
                scan.pages += 1
                scan.last_page_url = url
            if scan.first_url is None:
                scan.first_url = url
        elif kind == "Click":
            scan.clicks += 1


def _custom_row(session_id: str, payload_id: str, head: _EventHead) -> SessionEventRow:
    try:
        custom = _decode_json(head.data, type=_Custom)
    except msgspec.DecodeError:
        custom = _Custom(tag="", payload=head.data)
    payload = _decode_json(custom.payload)
    selector = text = None
    if custom.tag == "Click" and isinstance(payload, dict):
        selector = _string(payload.get("clickSelector") or payload.get("clickTarget"))
        text = _string(payload.get("clickTextContent"))
    elif custom.tag == "Focus" and isinstance(payload, str):
        selector = payload
    payload_text = payload if isinstance(payload, str) else bytes(custom.payload).decode()
    return SessionEventRow(
        session_id, payload_id, int(head.timestamp), head.sid, custom.tag, payload_text, selector, text
    )


def _active_ms(interactions: list[int]) -> int:
    if not interactions:
        return 0
    return sum(gap for a, b in itertools.pairwise(interactions) if (gap := b - a) <= ACTIVE_GAP_MS)


def _has_rage_clicks(clicks: list[Click]) -> bool:
    """5 clicks within 8 px of the first of them, inside 2 s."""
    for i, (t0, x0, y0) in enumerate(clicks):
        near = 1
        for t, x, y in clicks[i + 1 :]:
            if t - t0 > RAGE_WINDOW_MS:
                break
            if (x - x0) ** 2 + (y - y0) ** 2 <= RAGE_RADIUS_PX**2:
                near += 1
                if near >= RAGE_CLICKS:
                    return True
    return False


# ---------------------------------------------------------------- console, errors, network


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


def _console_row(session_id: str, message: dict[str, Any], received_ns: int) -> LogRow:
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
        time_ns, time_ns, "", "", 0, kind, 0, normalise_level(_console_level(kind), 0), body, "",
        "", "", "", session_id, None, None, "frontend", "", "", attributes_json, "{}",
        json_text(frames) if frames else None, received_ns,
    )  # fmt: skip


def _console_level(kind: str) -> str:
    return "error" if kind in ("Error", "assert") else ("info" if kind in ("count", "dir", "table") else kind)


def _unquote(event: str) -> str:
    """The SDK JSON-quotes some error texts ("\\"Uncaught Error: boom\\"", '["a","b"]')."""
    if event[:1] in ('"', "["):
        try:
            value = _decode_json(event)
        except msgspec.DecodeError:
            return event
        if isinstance(value, str):
            return _unquote(value)
        if isinstance(value, list):
            return " ".join(_unquote(v) if isinstance(v, str) else json_text(v) for v in value)
    return event


def _error_row(
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


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and abs(value) < 2**31 else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


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


def _resource_rows(
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


def _socket_message_row(session_id: str, payload_id: str, event: dict[str, Any]) -> WebsocketEventRow:
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
