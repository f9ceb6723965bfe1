"""`google.rpc.Status` bodies, encoded by hand: three small fields do not justify another package."""

from __future__ import annotations

import msgspec


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def status_protobuf(code: int, message: str, retry_after_s: int | None = None) -> bytes:
    """A serialized google.rpc.Status, with a google.rpc.RetryInfo detail when a delay is given."""
    out = _varint(1 << 3) + _varint(code) + _field(2, message.encode())
    if retry_after_s is not None:
        duration = _varint(1 << 3) + _varint(retry_after_s)
        retry_info = _field(1, duration)
        detail = _field(1, b"type.googleapis.com/google.rpc.RetryInfo") + _field(2, retry_info)
        out += _field(3, detail)
    return out


def status_json(code: int, message: str) -> bytes:
    return msgspec.json.encode({"code": code, "message": message})
