"""Reading request bodies within bounds: wire size, and decompressed size (a gzip bomb is a 413)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from hl_local.errors import BodyTooLarge, DecodeError, UnsupportedMedia

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024 * 1024  # what the OTLP spec recommends a receiver accept
MAX_DECODED_BYTES = 64 * 1024 * 1024


# Bodies at least this big are decoded in a worker thread: a 512-span batch takes ~25 ms to decode,
# and on the event loop it would hold every other request (a UI query, /health) for all of it.
# In a thread, the GIL's 1 ms switch interval lets the loop answer in between.
DECODE_IN_THREAD_BYTES = 64 * 1024


_decoders: anyio.CapacityLimiter | None = None


async def decode_off_loop(decode: Callable[[bytes], T], body: bytes) -> T:
    """`decode(body)`, in a worker thread when the body is big enough to hold the loop up.

    One decoding thread at a time: with several, threads fighting over the GIL cut span ingest
    to a third (measured 4.5k vs 13k spans/s).
    """
    global _decoders
    if len(body) < DECODE_IN_THREAD_BYTES:
        return decode(body)
    if _decoders is None:
        _decoders = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(decode, body, limiter=_decoders)


async def read_request_body(request: Request[Any, Any, Any]) -> bytes:
    """The request's decoded body, within the bounds (BodyTooLarge, DecodeError, UnsupportedMedia)."""
    try:
        return await read_body(
            request.stream(), request.headers.get("content-length"), request.headers.get("content-encoding")
        )
    except RequestEntityTooLarge:
        # litestar's own stream limit (MAX_BODY_BYTES + 1) can trip before our reader on a chunked body
        raise BodyTooLarge(f"body is over the {MAX_BODY_BYTES}-byte limit") from None


async def read_body(
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    content_encoding: str | None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
) -> bytes:
    """The decoded body; chunked or not, refused as soon as a bound is crossed."""
    if content_length is not None and content_length.isdigit() and int(content_length) > max_body_bytes:
        raise BodyTooLarge(f"body of {content_length} bytes is over the {max_body_bytes}-byte limit")
    inflater = _inflater(content_encoding)
    parts: list[bytes] = []
    wire_bytes = decoded_bytes = 0
    async for chunk in chunks:
        wire_bytes += len(chunk)
        if wire_bytes > max_body_bytes:
            raise BodyTooLarge(f"body is over the {max_body_bytes}-byte limit")
        if inflater is None:
            parts.append(chunk)
            continue
        decoded_bytes += _inflate_into(parts, inflater, chunk, max_decoded_bytes - decoded_bytes)
    if inflater is not None and not inflater.eof and wire_bytes:
        raise DecodeError(f"{content_encoding} body is truncated")
    return b"".join(parts)


def _inflater(content_encoding: str | None) -> _Inflater | None:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflater(zlib.MAX_WBITS | 16, "gzip")
    if encoding == "deflate":
        return _Inflater(zlib.MAX_WBITS | 32, "deflate")  # zlib-wrapped; raw deflate is detected below
    raise UnsupportedMedia(
        f"Content-Encoding {content_encoding!r} is not supported (use gzip, deflate or none)"
    )


class _Inflater:
    def __init__(self, wbits: int, name: str) -> None:
        self.name = name
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    @property
    def eof(self) -> bool:
        return self._inflate.eof

    def inflate(self, data: bytes, max_length: int) -> tuple[bytes, bytes]:
        """Inflated bytes (at most `max_length`) and the input still to be fed back in."""
        if self._inflate.eof:
            # gzip allows members back to back (RFC 1952 2.2; `gzip.decompress` reads them all):
            # dropping the later ones would lose data behind a 200. Anything else is an error.
            if self.name != "gzip":
                raise zlib.error(f"data after the end of the {self.name} stream")
            self._inflate = zlib.decompressobj(self._wbits)
        if not self._started and self.name == "deflate" and data[:1] and (data[0] & 0x0F) != 8:
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some clients send
        self._started = True
        out = self._inflate.decompress(data, max_length)
        if self._inflate.eof:
            return out, self._inflate.unused_data  # bytes after this stream's end: the next member
        return out, self._inflate.unconsumed_tail


def _inflate_into(parts: list[bytes], inflater: _Inflater, chunk: bytes, budget: int) -> int:
    produced = 0
    data = chunk
    try:
        while data:
            out, data = inflater.inflate(data, budget - produced + 1)
            produced += len(out)
            if produced > budget:
                raise BodyTooLarge("decompressed body is over the limit")
            parts.append(out)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {inflater.name} data: {exc}") from None
    return produced
