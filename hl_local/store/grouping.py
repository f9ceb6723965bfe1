"""Error grouping with Highlight's "classic" rules, so errors group the way its users expect.

A new error is scored against existing groups: +100 when the group already has the same
message, +10 when the group's top frame (index 0, the raise site) has the same META
(`file;function;line;column;`) or CODE (the source line) fingerprint, +1 for each fingerprint
of frames 1-4 it shares. The best group wins when its score exceeds `10 + max(#META, #CODE
among the new error's frames 1-4) - 1`; otherwise the error starts a new group. So the same
message always joins, and a different message needs the same raise site and the same callers.
As in Highlight, a group's fingerprints are replaced by its newest member's.

The writer thread owns one ErrorGrouper, loaded from the database at its first use; changes
are staged per transaction and applied only after COMMIT, so a rolled-back group leaves the
index as the database is.

`frames_for` (hl_local/source/frames.py) lets grouping compare a browser error by its original
frames when a source map for its bundle is already in memory. `created` hands the groups each
commit created to other threads (the terminal's "new error" lines) without a query.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SAME_MESSAGE, SAME_TOP_FRAME = 100, 10


@dataclass(frozen=True)
class Fingerprints:
    top: frozenset[str]  # META and CODE fingerprints of frame 0
    rest: frozenset[str]  # META and CODE fingerprints of frames 1-4
    rest_meta: int
    rest_code: int

    def to_json(self) -> str:
        return json.dumps({"top": sorted(self.top), "rest": sorted(self.rest), "rest_meta": self.rest_meta,
                           "rest_code": self.rest_code})  # fmt: skip

    @classmethod
    def from_json(cls, text: str | None) -> Fingerprints:
        data = json.loads(text) if text else {}
        return cls(frozenset(data.get("top", ())), frozenset(data.get("rest", ())),
                   data.get("rest_meta", 0), data.get("rest_code", 0))  # fmt: skip


def _meta(frame: dict[str, Any]) -> str | None:
    if not frame.get("file") and not frame.get("function"):
        return None
    parts = (frame.get("file"), frame.get("function"), frame.get("line"), frame.get("column"))
    return "meta:" + "".join(f"{p};" for p in parts if p not in (None, ""))


def _code(frame: dict[str, Any]) -> str | None:
    source = (frame.get("source") or "").strip()
    # A source line that is the stack text itself ("at f (file:1:2)") says nothing more than META.
    return None if not source or source.startswith("at ") else "code:" + source


def fingerprints(frames: list[dict[str, Any]]) -> Fingerprints:
    def of(frame: dict[str, Any]) -> list[str]:
        return [fp for fp in (_meta(frame), _code(frame)) if fp]

    top = frozenset(of(frames[0])) if frames else frozenset()
    rest_frames = frames[1:5]
    rest = frozenset(fp for frame in rest_frames for fp in of(frame))
    return Fingerprints(
        top,
        rest,
        sum(1 for f in rest_frames if _meta(f)),
        sum(1 for f in rest_frames if _code(f)),
    )


def new_group_id(message: str, prints: Fingerprints) -> str:
    seed = message + "\n" + "\n".join(sorted(prints.top))
    return hashlib.sha1(seed.encode()).hexdigest()[:16]


@dataclass
class _Staged:
    messages: dict[str, str] = field(default_factory=dict)
    prints: dict[str, Fingerprints] = field(default_factory=dict)


FramesFor = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class CreatedGroups:
    """Groups created by committed transactions, numbered: a reader keeps the last number it saw.

    Appended by the writer thread, read by any (deque appends and iteration over a copy are safe
    under the GIL); only the newest MAX are kept, so a reader that falls behind learns how many it missed.
    """

    MAX = 1000

    def __init__(self) -> None:
        self._ids: deque[tuple[int, str]] = deque(maxlen=self.MAX)
        self._count = itertools.count(1)
        self.last = 0

    def add(self, group_ids: Iterable[str]) -> None:
        for group_id in group_ids:
            number = next(self._count)
            self._ids.append((number, group_id))
            self.last = number

    def since(self, seen: int) -> tuple[list[str], int]:
        """(group ids numbered after `seen`, how many of those are no longer kept)."""
        kept = [(n, g) for n, g in list(self._ids) if n > seen]
        missed = (kept[0][0] - seen - 1) if kept else max(0, self.last - seen)
        return [g for _, g in kept], missed


class ErrorGrouper:
    def __init__(self, frames_for: FramesFor | None = None) -> None:
        self._frames_for = frames_for
        self.created = CreatedGroups()
        self._by_message: dict[str, str] = {}
        self._by_fingerprint: dict[str, set[str]] = {}  # top-frame fingerprint → groups
        self._prints: dict[str, Fingerprints] = {}
        self._staged = _Staged()

    def load(self, groups: Iterable[tuple[str, str | None]], messages: Iterable[tuple[str, str]]) -> None:
        """Groups as (group_id, fingerprints JSON) and known (message, group_id) pairs."""
        for group_id, prints in groups:
            self._set_prints(group_id, Fingerprints.from_json(prints))
        for message, group_id in messages:
            self._by_message[message] = group_id

    def group_ids(self) -> set[str]:
        return set(self._prints)

    def forget(self, group_ids: Iterable[str]) -> None:
        """Drop groups whose last error was pruned (store/retention.py): a new error then starts afresh."""
        gone = set(group_ids)
        if not gone:
            return
        for group_id in gone:
            old = self._prints.pop(group_id, None)
            for fp in old.top if old is not None else ():
                self._by_fingerprint.get(fp, set()).discard(group_id)
        self._by_message = {m: g for m, g in self._by_message.items() if g not in gone}

    def assign(self, message: str, frames: list[dict[str, Any]]) -> str:
        """The group of an error with `message` and `frames` (index 0 = raise site)."""
        prints = fingerprints(self._frames_for(frames) if self._frames_for else frames)
        best, best_score = None, -1
        for group_id in self._candidates(message, prints):
            score = self._score(group_id, message, prints)
            if score > best_score:
                best, best_score = group_id, score
        threshold = SAME_TOP_FRAME + max(prints.rest_meta, prints.rest_code) - 1
        group_id = best if best is not None and best_score > threshold else new_group_id(message, prints)
        self._staged.messages[message] = group_id
        self._staged.prints[group_id] = prints
        return group_id

    def prints_of(self, group_id: str) -> Fingerprints | None:
        return self._staged.prints.get(group_id) or self._prints.get(group_id)

    def commit(self) -> None:
        """The transaction committed: make the staged assignments part of the index."""
        self.created.add(g for g in self._staged.prints if g not in self._prints)
        self._by_message.update(self._staged.messages)
        for group_id, prints in self._staged.prints.items():
            self._set_prints(group_id, prints)
        self._staged = _Staged()

    def rollback(self) -> None:
        self._staged = _Staged()

    def _candidates(self, message: str, prints: Fingerprints) -> set[str]:
        found: set[str] = set()
        for lookup in (self._staged.messages, self._by_message):
            if message in lookup:
                found.add(lookup[message])
        for fp in prints.top:
            found |= self._by_fingerprint.get(fp, set())
        for group_id, staged in self._staged.prints.items():
            if staged.top & prints.top:
                found.add(group_id)
        return found

    def _score(self, group_id: str, message: str, prints: Fingerprints) -> int:
        score = 0
        if self._staged.messages.get(message, self._by_message.get(message)) == group_id:
            score += SAME_MESSAGE
        group_prints = self.prints_of(group_id)
        if group_prints is not None:
            if group_prints.top & prints.top:
                score += SAME_TOP_FRAME
            score += len(group_prints.rest & prints.rest)
        return score

    def _set_prints(self, group_id: str, prints: Fingerprints) -> None:
        old = self._prints.get(group_id)
        if old is not None:
            for fp in old.top:
                self._by_fingerprint.get(fp, set()).discard(group_id)
        self._prints[group_id] = prints
        for fp in prints.top:
            self._by_fingerprint.setdefault(fp, set()).add(group_id)
