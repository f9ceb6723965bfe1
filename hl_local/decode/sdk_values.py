"""Small coercions for the values the Highlight browser SDK sends (any JSON, loosely typed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from hl_local.decode.attributes import json_text
from hl_local.errors import DecodeError

decode_json = msgspec.json.decode


def string(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json_text(value)


def object_text(value: Any, what: str) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):  # some clients send the object JSON-encoded
        try:
            value = decode_json(value)
        except msgspec.DecodeError:
            raise DecodeError(f"{what} is neither an object nor JSON text of one") from None
    if not isinstance(value, dict):
        raise DecodeError(f"{what} must be an object")
    return json_text(value)


def iso_ns(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000) * 1000


def int32(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and abs(value) < 2**31 else None


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def inner_list(value: Any, key: str) -> list[dict[str, Any]]:
    """`messages` etc.: JSON text holding {key: [...]}, or the object itself, or absent."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = decode_json(value)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"payload {key} is not valid JSON text: {exc}") from None
    if isinstance(value, dict):
        value = value.get(key, [])
    if not isinstance(value, list):
        raise DecodeError(f"payload {key} must hold a list")
    return [item for item in value if isinstance(item, dict)]
