"""Sources: recorded frames → the frames the error views show, and the frames grouping compares.

`sourced` runs when an error is shown (in the API's worker thread): each bundled JavaScript frame goes
through its source map, and each frame (the original position when mapped) gets the lines around it
from the file on this machine, or the reason it has none. A `Budget` bounds how many frames of one
answer get their lines (an answer listing many errors stays small; the rest say `context: null`).

`for_grouping` runs on the writer thread while it groups an incoming error: frames 0-4 (all that
grouping looks at) through the maps already in memory, nothing read from disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec

from hl_local.config import Settings
from hl_local.query.responses import Frame, FrameContext, SourcedFrame, SourceMapNote
from hl_local.source.editor import editor_from_env, editor_url
from hl_local.source.files import Excerpt, FileText, SourceFiles, Unread, excerpt
from hl_local.source.maps import MapNote, Mapped, SourceMaps, is_bundle
from hl_local.source.roots import Located, SourceRoots, parse_source_root
from hl_local.source.watch import SourceWatcher

GROUPING_FRAMES = 5  # store/grouping.py fingerprints frames 0-4
_frames = msgspec.json.Decoder(list[Frame])


class Budget:
    """How many more frames of one answer get their source lines."""

    def __init__(self, frames: int = 128) -> None:
        self.frames = frames

    def take(self) -> bool:
        if self.frames <= 0:
            return False
        self.frames -= 1
        return True


class Sources:
    def __init__(self, roots: SourceRoots, editor: str | None = None, fetch_maps: bool = False) -> None:
        self.roots = roots
        self.editor = editor
        self.watcher = SourceWatcher(self._changed)
        self.files = SourceFiles(roots, on_read=self.watcher.add)
        self.maps = SourceMaps(roots, fetch_maps, on_read=self.watcher.add)
        self.version = 0  # bumped whenever a watched source or map changed (the UI refetches)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, cwd: Path | None = None) -> Sources:
        mappings = [parse_source_root(text) for text in settings.source_root]
        editor = settings.editor or editor_from_env()
        return cls(SourceRoots(mappings, cwd), editor, settings.fetch_source_maps)

    def close(self) -> None:
        self.watcher.close()

    def _changed(self, paths: set[str], created_or_removed: bool) -> None:
        real = {os.path.realpath(p) for p in paths}
        if created_or_removed:  # where a recorded path points may have changed
            self.roots.forget()
        shown = [path for path in real if self.files.evict(path)]
        if self.maps.changed(real) or shown:
            with self._lock:
                self.version += 1

    # ------------------------------------------------------------------ for the API

    def sourced(self, frames_json: str | None, at_ns: int | None, budget: Budget) -> list[SourcedFrame]:
        return [self.frame(frame, at_ns, budget) for frame in decode_frames(frames_json)]

    def frame(self, recorded: Frame, at_ns: int | None, budget: Budget) -> SourcedFrame:
        mapped: Mapped | None = None
        note: MapNote | None = None
        if is_bundle(recorded.file):
            assert recorded.file is not None
            mapped, note = self.maps.resolve(
                recorded.file, recorded.line, recorded.column, recorded.function, at_ns
            )
        context = self._context(recorded, mapped, at_ns) if budget.take() else None
        map_note = SourceMapNote(note.status, note.detail, note.origin) if note else None
        if mapped is None:
            return _as_sourced(recorded, map_note, context)
        function = mapped.function or recorded.function
        return SourcedFrame(
            mapped.file, mapped.line, mapped.column, function, None, recorded, map_note, context
        )

    def _context(self, recorded: Frame, mapped: Mapped | None, at_ns: int | None) -> FrameContext:
        if mapped is not None:
            if mapped.local is not None:
                return self._from_file(mapped.local, mapped.line, mapped.column, at_ns)
            if mapped.content is not None:
                return _from_lines(mapped.content, mapped.line, mapped.column, None, None, False)
            detail = (
                f"the map names {mapped.file}, which is not under a source root, and holds no sourcesContent"
            )
            return _problem("missing", detail)
        if not recorded.file or recorded.line is None:
            return _problem("no_file", "the frame names no file and line")
        where = self.roots.locate(recorded.file)
        if not isinstance(where, Located):
            return _problem(where.status, where.detail)
        return self._from_file(where, recorded.line, recorded.column, at_ns)

    def _from_file(self, where: Located, line: int, column: int | None, at_ns: int | None) -> FrameContext:
        text = self.files.text(where)
        if isinstance(text, Unread):
            return _problem(text.status, text.detail)
        url = editor_url(self.editor, where.path, line, column)
        return _from_lines(text.lines, line, column, where.path, url, _modified_after(text, at_ns))

    # ------------------------------------------------------------------ for grouping

    def for_grouping(self, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`frames` with frames 0-4 through the source maps in memory (their loading is started)."""
        out = list(frames)
        for i, frame in enumerate(frames[:GROUPING_FRAMES]):
            file = frame.get("file")
            if not isinstance(file, str) or not is_bundle(file):
                continue
            line, column, function = frame.get("line"), frame.get("column"), frame.get("function")
            mapped = self.maps.cached(
                file,
                line if isinstance(line, int) else None,
                column if isinstance(column, int) else None,
                function if isinstance(function, str) else None,
            )
            if mapped is not None:
                name = mapped.function or (function if isinstance(function, str) else None)
                out[i] = {"file": mapped.file, "line": mapped.line, "column": mapped.column, "function": name,
                          "source": None}  # fmt: skip
        return out


def decode_frames(frames_json: str | None) -> list[Frame]:
    if not frames_json:
        return []
    try:
        return _frames.decode(frames_json)
    except msgspec.DecodeError:  # our own encoder wrote it; an old row must still show
        return []


def plain(frames_json: str | None) -> list[SourcedFrame]:
    """Frames without maps or lines (no Sources: a tool building the OpenAPI document)."""
    return [_as_sourced(f, None, None) for f in decode_frames(frames_json)]


def _as_sourced(frame: Frame, note: SourceMapNote | None, context: FrameContext | None) -> SourcedFrame:
    return SourcedFrame(
        frame.file, frame.line, frame.column, frame.function, frame.source, None, note, context
    )


def sourced_or_plain(
    sources: Sources | None, frames_json: str | None, at_ns: int | None, budget: Budget
) -> list[SourcedFrame]:
    return sources.sourced(frames_json, at_ns, budget) if sources is not None else plain(frames_json)


class HasFrames(Protocol):
    """An error answer whose `frames` holds the stored JSON text until `source_all` replaces it."""

    frames: list[SourcedFrame]
    time_ns: int


def source_all(sources: Sources | None, errors: Sequence[HasFrames], budget: Budget) -> None:
    """Replace each error's stored frames text with its sourced frames (files are read: not on the loop)."""
    for error in errors:
        error.frames = sourced_or_plain(sources, stored_text(error.frames), error.time_ns, budget)


def stored_text(value: object) -> str | None:
    """The JSON text a query put in a field that is typed as what replaces it."""
    return value if isinstance(value, str) else None


def _modified_after(text: FileText, at_ns: int | None) -> bool:
    return at_ns is not None and text.mtime_ns > at_ns + 1_000_000_000


def _from_lines(
    lines: Sequence[str], line: int, column: int | None, path: str | None, url: str | None, modified: bool
) -> FrameContext:
    shown = excerpt(lines, line, column)
    if isinstance(shown, Unread):
        return FrameContext(shown.status, shown.detail, path, None, [], url, modified)
    assert isinstance(shown, Excerpt)
    return FrameContext("ok", None, path, shown.first_line, shown.lines, url, modified)


def _problem(status: Any, detail: str) -> FrameContext:
    return FrameContext(status, detail, None, None, [], None, False)
