"""A browser SDK push (PushSessionEvents, pushPayloadCompressed, pushPayload) → its rows.

`data` = base64(gzip(JSON payload)); inside it `messages`, `resources` and `web_socket_events` are
JSON *strings* holding JSON. The rrweb events are stored byte for byte and scanned once for what the
session's figures need (pages, clicks, active time, rage clicks); the console, errors and network
rows are push_rows.py's. Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import msgspec

from hl_local.decode.push_rows import console_row, error_row, resource_rows, socket_message_row
from hl_local.decode.records import Batch, ReplayChunkRow, SessionEventRow
from hl_local.decode.sdk_values import decode_json as _decode_json
from hl_local.decode.sdk_values import inner_list as _inner_list
from hl_local.decode.sdk_values import string as _string
from hl_local.errors import DecodeError

MAX_PAYLOAD_BYTES = 64 * 1024 * 1024  # a push's JSON after gunzip
ACTIVE_GAP_MS = 10_000  # interactions closer than this count as active time (Highlight's rule)
RAGE_CLICKS, RAGE_RADIUS_PX, RAGE_WINDOW_MS = 5, 8, 2_000  # Highlight's rage-click rule


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
    log_rows = [console_row(session_id, m, received_ns) for m in messages]
    error_rows = [
        error_row(session_id, payload_id, i, e, received_ns) for i, e in enumerate(payload.errors or [])
    ]
    network_rows, socket_rows = resource_rows(session_id, payload_id, payload.resources)
    socket_rows += [
        socket_message_row(session_id, payload_id, e)
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
