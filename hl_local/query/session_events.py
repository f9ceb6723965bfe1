"""/api/sessions/{id}/events: a session's rrweb events, streamed, with synthetic keyframes.

Chunk by chunk, each chunk's events as the browser sent them (plus the keyframes replay/cache.py
computes), so a long recording is never one JSON document in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import duckdb
import msgspec
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.response import Stream

from hl_local.query.common import answers
from hl_local.query.session_responses import RrwebEvent
from hl_local.replay.cache import Key, KeyframeCache
from hl_local.store.db import Store

CHUNK_BATCH = 256  # replay chunks read per query while streaming events
FULL_SNAPSHOT, META = 2, 4

# One read of the stream: (chunks read, the last one's (first_ms, payload_id), its events' JSON texts).
_Batch = tuple[int, tuple[int, str] | None, list[bytes]]


def exists(cur: duckdb.DuckDBPyConnection, session_id: str) -> None:
    """A 404 unless the session initialized or pushed something."""
    found = cur.execute(
        "SELECT 1 FROM sessions WHERE session_id = ? UNION ALL "
        "(SELECT 1 FROM replay_chunks WHERE session_id = ? LIMIT 1) LIMIT 1",
        [session_id, session_id],
    ).fetchall()
    if not found:
        raise NotFoundException(f"no session {session_id!r}")


class _EventKey(msgspec.Struct):
    timestamp: float = 0
    sid: int = msgspec.field(default=0, name="_sid")
    type: int = -1


_raw_events = msgspec.json.Decoder(list[msgspec.Raw])
_event_keys = msgspec.json.Decoder(list[_EventKey])


def _sorted_events(text: str) -> list[tuple[tuple[float, int], int, msgspec.Raw]]:
    """A chunk's events as ((timestamp, _sid), type, raw bytes), in (timestamp, _sid) order."""
    raw, keys = _raw_events.decode(text), _event_keys.decode(text)
    events = [((k.timestamp, k.sid or 0), k.type, r) for k, r in zip(keys, raw, strict=True)]
    events.sort(key=lambda e: e[0])
    return events


def _as_sent(text: str) -> bytes | None:
    """A chunk's events as stored, without the array's brackets, when they are already in
    (timestamp, _sid) order (rrweb records in order: nearly always); None when they need sorting.

    Sending the stored text as it is spares decoding and copying each event: ~10x the throughput.
    """
    keys = [(k.timestamp, k.sid or 0) for k in _event_keys.decode(text)]
    if any(a > b for a, b in itertools.pairwise(keys)):
        return None
    inner = text.strip()[1:-1].strip()
    return inner.encode()


def _start_key(cur: duckdb.DuckDBPyConnection, session_id: str, from_ms: int) -> tuple[float, int]:
    """Where a player starting at `from_ms` must start: the Meta before the last FullSnapshot at or
    before it (the events in between rebuild the page as it was at `from_ms`).

    Only the chunks' keys are listed; their events are read one chunk at a time, newest first.
    """
    keys = cur.execute(
        "SELECT payload_id, has_full_snapshot FROM replay_chunks WHERE session_id = ? AND first_ms <= ? "
        "ORDER BY first_ms DESC, payload_id DESC",
        [session_id, from_ms],
    ).fetchall()
    snapshot: tuple[float, int] | None = None
    for payload_id, has_full_snapshot in keys:
        if snapshot is None and not has_full_snapshot:
            continue
        [(text,)] = cur.execute(
            "SELECT events FROM replay_chunks WHERE session_id = ? AND payload_id = ?",
            [session_id, payload_id],
        ).fetchall()
        events = [e for e in _sorted_events(text) if e[0][0] <= from_ms]
        if snapshot is None:
            snapshot = next((e[0] for e in reversed(events) if e[1] == FULL_SNAPSHOT), None)
            events = [e for e in events if e[0] <= snapshot] if snapshot is not None else []
        meta = next((e[0] for e in reversed(events) if e[1] == META), None)
        if meta is not None:
            return meta
    return snapshot if snapshot is not None else (float(from_ms), -(2**62))


def _keyframe_cache(request: Request[Any, Any, Any]) -> KeyframeCache:
    state = request.app.state
    if "keyframes" not in state:
        state.keyframes = KeyframeCache()
    cache: KeyframeCache = state.keyframes
    return cache


def _merged(
    events: list[tuple[tuple[float, int], int, msgspec.Raw]],
    frames: list[tuple[Key, bytes]],
    start: Key | None,
    to_ms: int | None,
) -> list[bytes]:
    """A chunk's events with its keyframes in place (a keyframe follows the events it includes),
    from `start` and up to `to_ms`."""

    def wanted(key: Key) -> bool:
        return (start is None or key >= start) and (to_ms is None or key[0] <= to_ms)

    parts: list[bytes] = []
    at = 0
    for (timestamp, sid), _type, raw in events:
        key = (timestamp, sid, 0)
        while at < len(frames) and frames[at][0] < key:
            parts += [frames[at][1]] if wanted(frames[at][0]) else []
            at += 1
        if wanted(key):
            parts.append(bytes(raw))
    parts += [encoded for key, encoded in frames[at:] if wanted(key)]
    return parts


_EVENTS = ResponseSpec(
    list[RrwebEvent],
    description="the rrweb events as recorded (a JSON array, streamed), with synthetic keyframes",
    generate_examples=False,
)


@get(
    "/sessions/{session_id:str}/events",
    media_type="application/json",
    responses={200: _EVENTS, **answers(400, 404)},
)
async def session_events(
    request: Request[Any, Any, Any],
    session_id: str,
    from_ms: int | None = None,
    to_ms: int | None = None,
    keyframes: bool = True,
) -> Stream:
    """Every rrweb event of the session as one JSON array, streamed chunk by chunk, with synthetic
    keyframes (`"hl_keyframe": true`) unless `keyframes=false`."""
    store: Store = request.app.state.store
    await store.read(lambda cur: exists(cur, session_id))
    entry = _keyframe_cache(request).entry(session_id) if keyframes else None

    def find_start(cur: duckdb.DuckDBPyConnection, from_ms: int) -> Key:
        timestamp, sid = _start_key(cur, session_id, from_ms)
        start: Key = (timestamp, sid, 0)
        through = cur.execute(
            "SELECT coalesce(first_ms, 0), payload_id FROM replay_chunks WHERE session_id = ? "
            "AND coalesce(first_ms, 0) <= ? ORDER BY coalesce(first_ms, 0) DESC, payload_id DESC LIMIT 1",
            [session_id, from_ms],
        ).fetchall()
        if entry is not None and through:
            entry.ensure(cur, session_id, through[0])
            synthetic = entry.start_before(from_ms)
            start = max(start, synthetic) if synthetic is not None else start
        return start

    start = None
    if from_ms is not None:
        start = await store.read(lambda cur: find_start(cur, from_ms))

    def batch(cur: duckdb.DuckDBPyConnection, after: tuple[int, str] | None) -> _Batch:
        clauses: list[str] = ["session_id = ?"]
        args: list[object] = [session_id]
        if after:
            clauses.append("(coalesce(first_ms, 0) > ? OR (coalesce(first_ms, 0) = ? AND payload_id > ?))")
            args += [after[0], after[0], after[1]]
        if start is not None:  # chunks that end before the start hold nothing to send
            clauses.append("coalesce(last_ms, first_ms, 0) >= ?")
            args.append(int(start[0]))
        if to_ms is not None:
            clauses.append("coalesce(first_ms, 0) <= ?")
            args.append(to_ms)
        sql = (
            "SELECT coalesce(first_ms, 0), payload_id, events, last_ms FROM replay_chunks "
            f"WHERE {' AND '.join(clauses)} ORDER BY coalesce(first_ms, 0), payload_id LIMIT ?"
        )
        chunks = cur.execute(sql, [*args, CHUNK_BATCH]).fetchall()
        if entry is not None and chunks:
            texts = {(first_ms, payload_id): text for first_ms, payload_id, text, _ in chunks}
            entry.ensure(cur, session_id, (chunks[-1][0], chunks[-1][1]), texts)
        parts: list[bytes] = []
        for first_ms, payload_id, text, last_ms in chunks:
            frames = entry.frames_of((first_ms, payload_id)) if entry is not None else []
            inside = (start is None or first_ms > start[0]) and (to_ms is None or (last_ms or 0) <= to_ms)
            whole = _as_sent(text) if inside and not frames else None
            if whole is not None:
                parts += [whole] if whole else []
            else:
                parts += _merged(_sorted_events(text), frames, start, to_ms)
        last = (chunks[-1][0], chunks[-1][1]) if chunks else None
        return len(chunks), last, parts

    async def body() -> AsyncIterator[bytes]:
        yield b"["
        first, after = True, None
        while True:

            def read(cur: duckdb.DuckDBPyConnection, after: tuple[int, str] | None = after) -> _Batch:
                return batch(cur, after)

            count, after, parts = await store.read(read)
            if parts:
                yield (b"" if first else b",") + b",".join(parts)
                first = False
            if count < CHUNK_BATCH:
                break
        yield b"]"

    return Stream(body(), media_type="application/json")
