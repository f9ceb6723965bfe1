"""Reading request bodies within bounds: wire size, and decompressed size (a gzip bomb is a 413)."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from hl_local.errors import BodyTimeout, BodyTooLarge, DecodeError, Overloaded, UnsupportedMedia
from hl_local.ingest.decoders import DecoderPool

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024 * 1024  # what the OTLP spec recommends a receiver accept
MAX_DECODED_BYTES = 64 * 1024 * 1024


# Bodies at least this big are decoded in a worker thread: a 512-span batch takes ~25 ms to decode,
# and on the event loop it would hold every other request (a UI query, /health) for all of it.
# In a thread, the GIL's 1 ms switch interval lets the loop answer in between.
DECODE_IN_THREAD_BYTES = 64 * 1024


# Bytes of bodies being read, waiting to be decoded, decoded and waiting for their commit, in all:
# past this, a request is answered 503 + Retry-After at once instead of queueing (48 parallel 16 MB
# bodies took 2.7 GB and 14 s before). Decoded rows take ~3-5x their body in memory.
MAX_IN_FLIGHT_BYTES = 128 * 1024 * 1024
# A request that cannot start decoding within this is answered 503: exporters time out after 10 s.
DECODE_WAIT_S = 5.0
# A body must keep coming: each part within BODY_IDLE_S, the whole within BODY_TIMEOUT_S (64 MiB
# over loopback takes well under a second).
BODY_IDLE_S, BODY_TIMEOUT_S = 15.0, 60.0


class InFlight:
    """The bytes of request bodies in hl-local's hands, bounded (event loop only: no lock)."""

    def __init__(self, limit: int = MAX_IN_FLIGHT_BYTES) -> None:
        self.limit = limit
        self.used = 0

    @asynccontextmanager
    async def held(self) -> AsyncIterator[Reservation]:
        reservation = Reservation(self)
        try:
            yield reservation
        finally:
            self.used -= reservation.bytes

    def take(self, reservation: Reservation, n: int) -> None:
        # One body is always let in, however big (within MAX_BODY_BYTES): it could never fit otherwise.
        if self.used + n > self.limit and self.used > reservation.bytes:
            raise Overloaded(f"hl-local holds {self.used >> 20} MiB of request bodies already; retry shortly")
        self.used += n
        reservation.bytes += n


class Reservation:
    def __init__(self, owner: InFlight) -> None:
        self._owner = owner
        self.bytes = 0

    def grow(self, n: int) -> None:
        self._owner.take(self, n)


in_flight = InFlight()

_decoders: anyio.CapacityLimiter | None = None
_pool: DecoderPool | None = None


def use_decoder_pool(pool: DecoderPool | None) -> None:
    """Decode big OTLP bodies in `pool`'s processes from now on (None: in a thread of this one)."""
    global _pool, _decoders
    _pool = pool
    _decoders = None  # sized anew at the next decode


async def decode_off_loop(decode: Callable[[bytes], T], body: bytes) -> T:
    """`decode(body)`, in a worker thread when the body is big enough to hold the loop up.

    OTLP bodies go to the decoder processes when there are some (ingest/decoders.py), one per
    process at a time. Otherwise one decoding thread at a time: with several, threads fighting over
    the GIL cut span ingest to a third (measured 4.5k vs 13k spans/s). A body that waits
    DECODE_WAIT_S for its turn is refused (Overloaded), so the client hears 503 before its own timeout.
    """
    global _decoders
    if len(body) < DECODE_IN_THREAD_BYTES:
        return decode(body)
    pool = _pool if _pool is not None and _pool.takes(decode) else None
    if _decoders is None:
        _decoders = anyio.CapacityLimiter(_pool.workers if _pool is not None else 1)
    with anyio.move_on_after(DECODE_WAIT_S) as waited:
        await _decoders.acquire()
    if waited.cancelled_caught:
        raise Overloaded("hl-local is behind decoding requests; retry shortly")
    try:
        if pool is not None:
            return await pool.decode(decode, body)
        return await anyio.to_thread.run_sync(decode, body)
    finally:
        _decoders.release()


async def read_request_body(request: Request[Any, Any, Any], reservation: Reservation | None = None) -> bytes:
    """The request's decoded body, within the bounds (BodyTooLarge, DecodeError, UnsupportedMedia,
    Overloaded when `reservation` cannot grow to hold it)."""
    try:
        return await read_body(
            request.stream(),
            request.headers.get("content-length"),
            request.headers.get("content-encoding"),
            reservation=reservation,
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
    reservation: Reservation | None = None,
) -> bytes:
    """The decoded body; chunked or not, refused as soon as a bound is crossed."""
    if content_length is not None and content_length.isdigit() and int(content_length) > max_body_bytes:
        raise BodyTooLarge(f"body of {content_length} bytes is over the {max_body_bytes}-byte limit")
    inflater = _inflater(content_encoding)
    grow = reservation.grow if reservation is not None else (lambda n: None)
    if content_length is not None and content_length.isdigit():
        grow(int(content_length))  # refused before reading a byte when it cannot fit
    parts: list[bytes] = []
    wire_bytes = decoded_bytes = 0
    async for chunk in _in_time(chunks):
        wire_bytes += len(chunk)
        if wire_bytes > max_body_bytes:
            raise BodyTooLarge(f"body is over the {max_body_bytes}-byte limit")
        if inflater is None:
            if content_length is None:
                grow(len(chunk))
            parts.append(chunk)
            continue
        produced = _inflate_into(parts, inflater, chunk, max_decoded_bytes - decoded_bytes)
        decoded_bytes += produced
        grow(produced)
    if inflater is not None and not inflater.eof and wire_bytes:
        raise DecodeError(f"{content_encoding} body is truncated")
    return b"".join(parts)


async def _in_time(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks, as long as each comes within BODY_IDLE_S and all within BODY_TIMEOUT_S (else 408):
    600 clients sending a body a byte now and then held their connections and memory forever."""
    deadline = time.monotonic() + BODY_TIMEOUT_S
    iterator = aiter(chunks)
    while True:
        wait = min(BODY_IDLE_S, deadline - time.monotonic())
        try:
            # asyncio's own timeout: anyio's fail_after took ~16 % of the event loop's time at
            # 500 browser pushes/s (a cancel scope per part of every body)
            async with asyncio.timeout(max(wait, 0)):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise BodyTimeout(
                f"the body did not arrive in time (each part within {BODY_IDLE_S:.0f} s, "
                f"all of it within {BODY_TIMEOUT_S:.0f} s)"
            ) from None
        yield chunk


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
