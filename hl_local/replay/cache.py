"""Keyframes per session, computed when a session's events are first read and kept in memory.

A session's entry covers a prefix of its chunks in stream order, (first_ms, payload_id), and keeps
the `Keyframer` positioned after them: a live session's new pushes extend it chunk by chunk. If a
chunk appears inside the covered prefix (a push that arrived late), the entry starts over; that is
checked with one count per extension. Entries are bounded in number, least recently used first out;
a server restart recomputes them on the next read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import duckdb
import msgspec

from hl_local.replay.keyframes import Keyframer

ChunkKey = tuple[int, str]
Key = tuple[float, int, int]  # (timestamp, _sid, 0 for a recorded event / 1 for a keyframe)
MAX_SESSIONS = 8
# a chunk at or before (first_ms, payload_id) in stream order
_AT_MOST = "(coalesce(first_ms, 0) < ? OR (coalesce(first_ms, 0) = ? AND payload_id <= ?))"

_decode_events = msgspec.json.Decoder(list[Any])


@dataclass
class SessionKeyframes:
    keys: list[ChunkKey] = field(default_factory=list)  # chunks covered, in stream order
    frames: dict[ChunkKey, list[tuple[Key, bytes]]] = field(default_factory=dict)  # emitted in that chunk
    starts: list[Key] = field(default_factory=list)  # every keyframe's key, ascending
    keyframer: Keyframer = field(default_factory=Keyframer)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.keys, self.frames, self.starts, self.keyframer = [], {}, [], Keyframer()

    def ensure(
        self,
        cur: duckdb.DuckDBPyConnection,
        session_id: str,
        through: ChunkKey,
        texts: dict[ChunkKey, str] | None = None,
    ) -> None:
        """Cover every chunk up to and including `through` (texts the caller already read are reused)."""
        with self.lock:
            if self.keys and not self._prefix_intact(cur, session_id):
                self.reset()
            if self.keys and self.keys[-1] >= through:
                return
            after = self.keys[-1] if self.keys else None
            clauses, args = [_AT_MOST], [session_id, through[0], through[0], through[1]]
            if after:
                clauses.append(f"NOT {_AT_MOST}")
                args += [after[0], after[0], after[1]]
            missing = cur.execute(
                "SELECT coalesce(first_ms, 0), payload_id FROM replay_chunks WHERE session_id = ? "
                f"AND {' AND '.join(clauses)} ORDER BY coalesce(first_ms, 0), payload_id",
                args,
            ).fetchall()
            for first_ms, payload_id in missing:
                key = (first_ms, payload_id)
                text = (texts or {}).get(key)
                if text is None:
                    [(text,)] = cur.execute(
                        "SELECT events FROM replay_chunks WHERE session_id = ? AND payload_id = ?",
                        [session_id, payload_id],
                    ).fetchall()
                self._cover(key, text)

    def _prefix_intact(self, cur: duckdb.DuckDBPyConnection, session_id: str) -> bool:
        [(count,)] = cur.execute(
            f"SELECT count(*) FROM replay_chunks WHERE session_id = ? AND {_AT_MOST}",
            [session_id, self.keys[-1][0], *self.keys[-1]],
        ).fetchall()
        return int(count) == len(self.keys)

    def _cover(self, key: ChunkKey, text: str) -> None:
        try:
            events = [e for e in _decode_events.decode(text) if isinstance(e, dict)]
        except msgspec.DecodeError:
            events = []
        events.sort(key=_event_key)  # the same stable order as the stream's
        emitted: list[tuple[Key, bytes]] = []
        keyframer = self.keyframer
        for event in events:
            at = _event_key(event)
            if keyframer.due(at[0]):
                (timestamp, sid), encoded = keyframer.emit()
                emitted.append(((timestamp, sid, 1), encoded))
                self.starts.append((timestamp, sid, 1))
            keyframer.step(event, at)
        self.keys.append(key)
        if emitted:
            self.frames[key] = emitted

    def start_before(self, ms: int) -> Key | None:
        """The key of the last keyframe at or before `ms` (the caller covered the chunks up to it)."""
        with self.lock:
            found = [k for k in self.starts if k[0] <= ms]
            return found[-1] if found else None

    def frames_of(self, key: ChunkKey) -> list[tuple[Key, bytes]]:
        with self.lock:
            return list(self.frames.get(key, ()))


def _event_key(event: dict[str, Any]) -> tuple[float, int]:
    timestamp, sid = event.get("timestamp"), event.get("_sid")
    return (
        timestamp if isinstance(timestamp, int | float) else 0,
        sid if isinstance(sid, int) else 0,
    )


class KeyframeCache:
    """The sessions' entries, least recently used dropped past MAX_SESSIONS."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._entries: OrderedDict[str, SessionKeyframes] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_sessions

    def entry(self, session_id: str) -> SessionKeyframes:
        with self._lock:
            found = self._entries.get(session_id)
            if found is None:
                found = self._entries[session_id] = SessionKeyframes()
            self._entries.move_to_end(session_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return found
