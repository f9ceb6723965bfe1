"""OTLP attribute lists → JSON object text, plus the few keys promoted to columns.

Both wire encodings hand us each attribute as its own encoded bytes (a protobuf `KeyValue`
message, or one OTLP/JSON `{"key":…,"value":…}` object). Real telemetry repeats the same
attributes endlessly (`http.method=GET`, `service.name=…`), so each distinct encoding is decoded
once and its JSON fragment cached: measured 2.2x the spans/s of walking every `AnyValue`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

# key → (column, priority). Higher priority wins when several keys feed one column; the order
# follows Highlight's backend (`backend/otel/extract.go`), plus the current semconv
# `deployment.environment.name` that Highlight ignored.
PROMOTED_KEYS: dict[str, tuple[str, int]] = {
    "service.name": ("service_name", 1),
    "service.version": ("service_version", 1),
    "environment": ("environment", 1),
    "deployment.environment.name": ("environment", 2),
    "deployment.environment": ("environment", 3),
    "highlight_session_id": ("session_id", 1),
    "highlight.session_id": ("session_id", 2),
    "highlight.trace_id": ("request_id", 1),
    "highlight_project_id": ("project_id", 1),
    "x-highlight-project": ("project_id", 2),
    "highlight.project_id": ("project_id", 3),
    "Source": ("source", 1),
    "highlight.source": ("source", 2),
}

# A decoded attribute: key, Python value, `"key":value` JSON fragment, promoted column or None.
Attribute = tuple[str, Any, str, "tuple[str, int] | None"]
# Promoted column values found in one attribute list: column → (value, priority).
Promoted = dict[str, tuple[str, int]]

_json_encode = msgspec.json.Encoder().encode
# Bounds on the cache: big values (stack traces) are rare repeats and would crowd it out.
_MAX_CACHED_BLOB_BYTES = 512
_MAX_CACHE_ENTRIES = 100_000


def json_text(value: Any) -> str:
    """JSON text for a decoded value; NaN and infinities become strings, as OTLP/JSON writes them."""
    try:
        return _json_encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return _json_encode(_jsonable(value)).decode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _fragment_value(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return json_text(_jsonable(value))
    return json_text(value)


class AttributeDecoder:
    """Turns encoded attributes into JSON text; one instance per wire encoding."""

    def __init__(self, decode_one: Callable[[bytes], tuple[str, Any]], copy_blobs: bool = False) -> None:
        self._decode_one = decode_one
        self._copy_blobs = copy_blobs  # msgspec.Raw is not hashable: key the cache on a bytes copy
        self._cache: dict[bytes, Attribute] = {}

    def _miss(self, blob: bytes) -> Attribute:
        key, value = self._decode_one(blob)
        attribute = (key, value, f"{json_text(key)}:{_fragment_value(value)}", PROMOTED_KEYS.get(key))
        if len(blob) <= _MAX_CACHED_BLOB_BYTES:
            if len(self._cache) >= _MAX_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[blob] = attribute
        return attribute

    def to_json(self, blobs: Iterable[bytes], promoted: Promoted | None = None) -> str:
        """JSON object text for `blobs`; promoted keys found are recorded into `promoted`."""
        cache_get = self._cache.get
        fragments = []
        for blob in map(bytes, blobs) if self._copy_blobs else blobs:
            attribute = cache_get(blob) or self._miss(blob)
            fragments.append(attribute[2])
            column = attribute[3]
            if column is not None and promoted is not None:
                _promote(promoted, column, attribute[1])
        return "{" + ",".join(fragments) + "}"

    def to_dict(self, blobs: Iterable[bytes]) -> dict[str, Any]:
        cache_get = self._cache.get
        keys = map(bytes, blobs) if self._copy_blobs else blobs
        return {a[0]: a[1] for a in (cache_get(b) or self._miss(b) for b in keys)}


def _promote(promoted: Promoted, column: tuple[str, int], value: Any) -> None:
    if value is None or value == "" or isinstance(value, (list, dict)):
        return  # Python SDKs send "" when there is no session: absent, not a value
    name, priority = column
    current = promoted.get(name)
    if current is None or priority >= current[1]:
        promoted[name] = (value if isinstance(value, str) else json_text(value), priority)
