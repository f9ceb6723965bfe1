"""Source maps: a minified JavaScript frame → the original file, line, column and function.

Where a map comes from, for a frame whose file is a bundle (`http://localhost:5173/assets/app.js`,
`/srv/app/dist/server.js`):
1. the bundle on this machine (roots.py: `--source-root URL=DIR`, else the URL's path under a root
   or its dist/, build/, public/ … folder), then its `sourceMappingURL` comment (a `data:` URL, or a
   file beside it, which must be under the roots too), else `<bundle>.map` beside it;
2. only with `--fetch-source-maps`, and only from a loopback address (fetch.py): the bundle from the
   app's own dev server, then the map its `SourceMap` header or comment names, on a loopback address
   as well. Nothing else ever connects anywhere.

Parsing and lookups are symbolic's (Sentry's Python bindings to the Rust `sourcemap` crate; a
1.2 MB map parses in ~9 ms where a pure-Python VLQ decoder took ~120 ms, and it names the original
function by finding the minified name in the bundle). Python's own source-map packages on PyPI
(`sourcemap` 0.2.1, `python-sourcemaps`, `libsourcemap`, `py-sourcemap`) were last released in
2015-2018.

A map does not apply, and the answer says why, when: no bundle or map is found (`no_bundle`,
`no_map`), it cannot be parsed (`unreadable`), it has no mapping on the frame's line (`not_covered`),
or the bundle was rebuilt after the error happened (`changed_since`: its map describes the new build).

Loaded maps stay in memory (MAX_MAPS, least recently used out); "no map" answers are kept for
NEGATIVE_TTL_S. A change the watcher reports to a bundle or map file drops what it had from them.
`cached` answers from memory only and asks a background thread to load what is missing: the writer
calls it while grouping, where no file may be read.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import re
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hl_local.source.fetch import fetch_loopback
from hl_local.source.files import Unread, decode_text, read_bytes, split_lines
from hl_local.source.roots import Located, Refused, SourceRoots

if TYPE_CHECKING:
    from symbolic.sourcemap import SourceMapView, SourceView

log = logging.getLogger(__name__)

MAX_BUNDLE_BYTES = 32 * 1024 * 1024
MAX_MAPS = 32
FOUND_KEPT = 10_000  # frame lookups remembered per map
NEGATIVE_TTL_S = 10.0
REBUILT_SLACK_NS = 1_000_000_000  # a bundle written in the same second as the error is not "after" it
_BUNDLE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx")
_MAP_COMMENT = re.compile(rb"[#@][ \t]*sourceMappingURL[ \t]*=[ \t]*(\S+)[ \t]*(?:\*/)?[ \t]*$", re.M)
_TAIL_BYTES = 64 * 1024  # the comment is the bundle's last line; an inline map can be long

MapStatus = Literal["applied", "no_map", "not_covered", "changed_since", "unreadable", "no_bundle"]


@dataclass(frozen=True, slots=True)
class MapNote:
    status: MapStatus
    detail: str
    origin: str | None = None  # where the map came from: a path, a URL, or "inline in <bundle>"


@dataclass(frozen=True, slots=True)
class Mapped:
    """A frame's original position."""

    file: str  # as shown: relative to its root when found locally, else the map's source name
    line: int  # 1-based
    column: int  # 1-based
    function: str | None
    local: Located | None  # the original file on this machine, under the roots
    content: list[str] | None  # its lines from the map's sourcesContent


@dataclass(slots=True)
class _Loaded:
    view: SourceMapView
    bundle: SourceView | None  # the minified code, for function names
    line_count: int
    origin: str
    map_dir: str | None  # where relative sources are, for a map read from disk
    bundle_mtime_ns: int | None
    files: tuple[str, ...]  # local files it was read from (bundle, map): a change to one drops it
    contents: dict[int, list[str] | None] = field(default_factory=dict)
    # (line, column, function) → the lookup's answer: stacks repeat, a function-name lookup scans the bundle
    found: dict[tuple[int, int | None, str | None], tuple[Mapped | None, MapNote]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class _Missing:
    note: MapNote
    until: float


def is_bundle(file: str | None) -> bool:
    """A JavaScript file (path or URL) that a source map may describe."""
    if not file:
        return False
    path = urllib.parse.urlsplit(file).path if "://" in file else file
    return path.endswith(_BUNDLE_SUFFIXES) and "/node_modules/" not in path


class SourceMaps:
    def __init__(
        self, roots: SourceRoots, fetch: bool = False, on_read: Callable[[str], None] | None = None
    ) -> None:
        self.roots = roots
        self.fetch = fetch
        self._on_read = on_read
        self._maps: OrderedDict[str, _Loaded | _Missing] = OrderedDict()
        self._lock = threading.Lock()
        self._wanted: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._pending: set[str] = set()
        self._loader: threading.Thread | None = None
        self.loads = 0  # maps parsed, for tests and benchmarks

    # ------------------------------------------------------------------ asking

    def resolve(
        self, file: str, line: int | None, column: int | None, function: str | None, at_ns: int | None
    ) -> tuple[Mapped | None, MapNote]:
        """The original position of a bundle frame (loading its map if needed), and what happened."""
        loaded = self._get(_key(file))
        if isinstance(loaded, MapNote):
            return None, loaded
        return self._lookup(loaded, line, column, function, at_ns)

    def cached(self, file: str, line: int | None, column: int | None, function: str | None) -> Mapped | None:
        """Like resolve, from memory only; a map not loaded yet is loaded in the background."""
        key = _key(file)
        with self._lock:
            entry = self._maps.get(key)
        if entry is None:
            self._want(key)
            return None
        if isinstance(entry, _Missing):
            if entry.until < time.monotonic():
                self._want(key)
            return None
        mapped, _ = self._lookup(entry, line, column, function, None)
        return mapped

    def changed(self, paths: set[str]) -> bool:
        """Files changed on disk: forget maps read from them (True if there were), and "no map" answers."""
        dropped = False
        with self._lock:
            for key, entry in list(self._maps.items()):
                if isinstance(entry, _Missing):
                    del self._maps[key]
                elif paths.intersection(entry.files):
                    del self._maps[key]
                    dropped = True
        return dropped

    # ------------------------------------------------------------------ loading

    def _get(self, key: str) -> _Loaded | MapNote:
        with self._lock:
            entry = self._maps.get(key)
            if entry is not None:
                self._maps.move_to_end(key)
        if isinstance(entry, _Loaded) and (
            entry.bundle_mtime_ns is None or _mtime_ns(entry.files[0]) == entry.bundle_mtime_ns
        ):
            return entry  # (a rebuild the watcher did not report is noticed by the bundle's mtime)
        if isinstance(entry, _Missing) and entry.until >= time.monotonic():
            return entry.note
        loaded = self._load(key)
        with self._lock:
            self._maps[key] = (
                loaded if isinstance(loaded, _Loaded) else _Missing(loaded, time.monotonic() + NEGATIVE_TTL_S)
            )
            while len(self._maps) > MAX_MAPS:
                self._maps.popitem(last=False)
        return loaded

    def _want(self, key: str) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            if self._loader is None:
                self._loader = threading.Thread(target=self._load_wanted, name="hl-local-maps", daemon=True)
                self._loader.start()
        self._wanted.put(key)

    def _load_wanted(self) -> None:
        while True:
            key = self._wanted.get()
            try:
                self._get(key)
            except Exception:  # a background load must never end the thread
                log.exception("loading the source map of %s failed", key)
            finally:
                with self._lock:
                    self._pending.discard(key)

    def _load(self, key: str) -> _Loaded | MapNote:
        where = self.roots.locate(key)
        if isinstance(where, Located):
            return self._load_local(where)
        if self.fetch and key.startswith(("http://", "https://")):
            return self._load_fetched(key)
        hint = "" if self.fetch else "; pass --fetch-source-maps to ask the app's dev server on localhost"
        return MapNote("no_bundle", f"the bundle is not on this machine: {where.detail}{hint}")

    def _load_local(self, bundle: Located) -> _Loaded | MapNote:
        data = read_bytes(self.roots, bundle, MAX_BUNDLE_BYTES)
        if isinstance(data, Unread):
            return MapNote("no_bundle", data.detail)
        mtime = _mtime_ns(bundle.path)
        files = [bundle.path]
        reference = _map_reference(data)
        if reference is not None and reference.startswith(b"data:"):
            map_bytes: bytes | MapNote = _data_url(reference)
            origin, map_dir = f"inline in {bundle.shown}", os.path.dirname(bundle.path)
        else:
            name = urllib.parse.unquote(reference.decode(errors="replace")) if reference else None
            if name is not None and "://" in name and not name.startswith("file://"):
                return MapNote("no_map", f"{bundle.shown} names its map at {name[:200]}, not on this machine")
            candidate = (
                os.path.join(os.path.dirname(bundle.path), name.removeprefix("file://")) if name else None
            )
            map_file = self.roots.contain(os.path.realpath(candidate or bundle.path + ".map"))
            if isinstance(map_file, Refused):
                return MapNote("no_map", map_file.detail)
            map_bytes = _read_map(self.roots, map_file, bundle, named=name is not None)
            origin, map_dir = map_file.shown, os.path.dirname(map_file.path)
            files.append(map_file.path)
        if isinstance(map_bytes, MapNote):
            return map_bytes
        for path in files:
            if self._on_read is not None:
                self._on_read(path)
        return self._parse(map_bytes, data, origin, map_dir, mtime, tuple(files))

    def _load_fetched(self, url: str) -> _Loaded | MapNote:
        got = fetch_loopback(url, MAX_BUNDLE_BYTES)
        if isinstance(got, str):
            return MapNote("no_bundle", got)
        data, headers = got
        reference = headers.get("sourcemap") or headers.get("x-sourcemap")
        named = reference.encode() if reference else _map_reference(data)
        if named is not None and named.startswith(b"data:"):
            map_bytes: bytes | MapNote = _data_url(named)
            origin = f"inline in {url}"
        else:
            map_url = urllib.parse.urljoin(url, named.decode(errors="replace") if named else url + ".map")
            fetched = fetch_loopback(map_url, MAX_BUNDLE_BYTES)
            map_bytes = MapNote("no_map", fetched) if isinstance(fetched, str) else fetched[0]
            origin = map_url
        if isinstance(map_bytes, MapNote):
            return MapNote("no_map", map_bytes.detail)
        return self._parse(map_bytes, data, origin, None, None, ())

    def _parse(
        self,
        map_bytes: bytes,
        bundle: bytes,
        origin: str,
        map_dir: str | None,
        mtime: int | None,
        files: tuple[str, ...],
    ) -> _Loaded | MapNote:
        try:
            from symbolic.sourcemap import SourceMapView, SourceView
        except ImportError:  # no wheel for this platform (Windows)
            return MapNote(
                "unreadable", "source maps need the `symbolic` package, which is not installed here"
            )
        except OSError as exc:  # its Rust library would not load (a build that left it out)
            return MapNote("unreadable", f"source maps need symbolic's library, which did not load: {exc}")
        try:
            view = SourceMapView.from_json_bytes(map_bytes)
        except Exception as exc:  # symbolic raises its own error kinds
            return MapNote("unreadable", f"{origin} is not a source map symbolic can read: {exc}", origin)
        self.loads += 1
        lines = bundle.count(b"\n") + (0 if bundle.endswith(b"\n") else 1)
        return _Loaded(view, SourceView.from_bytes(bundle), lines, origin, map_dir, mtime, files)

    # ------------------------------------------------------------------ looking up

    def _lookup(
        self, loaded: _Loaded, line: int | None, column: int | None, function: str | None, at_ns: int | None
    ) -> tuple[Mapped | None, MapNote]:
        origin = loaded.origin
        if (
            loaded.bundle_mtime_ns is not None
            and at_ns is not None
            and loaded.bundle_mtime_ns > at_ns + REBUILT_SLACK_NS
        ):
            built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(loaded.bundle_mtime_ns / 1e9))
            detail = f"the bundle was rebuilt at {built}, after this error: its map describes the new build"
            return None, MapNote("changed_since", detail, origin)
        if line is None:
            return None, MapNote("not_covered", "the frame has no line number", origin)
        key = (line, column, function)
        found = loaded.found.get(key)
        if found is None:
            found = self._find(loaded, line, column, function)
            if len(loaded.found) >= FOUND_KEPT:
                loaded.found.clear()
            loaded.found[key] = found
        return found

    def _find(
        self, loaded: _Loaded, line: int, column: int | None, function: str | None
    ) -> tuple[Mapped | None, MapNote]:
        origin = loaded.origin
        if line > loaded.line_count:
            return None, MapNote(
                "not_covered", f"the bundle has {loaded.line_count} lines, not {line}", origin
            )
        col = max(0, (column or 1) - 1)
        if function and loaded.bundle is not None:
            token = loaded.view.lookup(line - 1, col, function.split(".")[-1], loaded.bundle)
        else:
            token = loaded.view.lookup(line - 1, col)
        if token is None or token.dst_line != line - 1 or token.src is None:
            return None, MapNote("not_covered", f"the map has no mapping on line {line}", origin)
        local, content = self._original(loaded, token.src, token.src_id)
        shown = local.shown if local is not None else token.src
        mapped = Mapped(
            shown, token.src_line + 1, token.src_col + 1, token.function_name or None, local, content
        )
        return mapped, MapNote("applied", f"mapped by {origin}", origin)

    def _original(
        self, loaded: _Loaded, source: str, src_id: int | None
    ) -> tuple[Located | None, list[str] | None]:
        content: list[str] | None = None
        if src_id is not None:
            if src_id not in loaded.contents:
                text = loaded.view.get_source_contents(src_id)
                loaded.contents[src_id] = split_lines(text) if text else None
            content = loaded.contents[src_id]
        if loaded.map_dir is not None and "://" not in source and not os.path.isabs(source):
            found = self.roots.contain(os.path.realpath(os.path.join(loaded.map_dir, source)))
        else:
            found = self.roots.locate(source)
        if isinstance(found, Located) and os.path.isfile(found.path):
            return found, content
        return None, content


def _key(file: str) -> str:
    """A bundle's identity: its URL or path without query and fragment (`app.js?v=3` is app.js)."""
    return file.split("#")[0].split("?")[0] if "://" in file else file


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _map_reference(bundle: bytes) -> bytes | None:
    found = _MAP_COMMENT.findall(bundle[-_TAIL_BYTES:])
    return found[-1] if found else None


def _data_url(url: bytes) -> bytes | MapNote:
    head, comma, body = url.partition(b",")
    if not comma:
        return MapNote("unreadable", "the bundle's inline source map is not a data: URL")
    try:
        if head.endswith(b";base64"):
            return base64.b64decode(body, validate=False)
        return urllib.parse.unquote_to_bytes(body)
    except ValueError as exc:
        return MapNote("unreadable", f"the bundle's inline source map does not decode: {exc}")


def _read_map(roots: SourceRoots, map_file: Located, bundle: Located, named: bool) -> bytes | MapNote:
    data = read_bytes(roots, map_file, MAX_BUNDLE_BYTES)
    if isinstance(data, Unread):
        if data.status == "missing" and not named:
            beside = os.path.basename(map_file.path)
            return MapNote(
                "no_map", f"{bundle.shown} has no sourceMappingURL comment and no {beside} beside it"
            )
        return MapNote("no_map", data.detail)
    if decode_text(data) is None:
        return MapNote("unreadable", f"{map_file.shown} is binary, not a source map")
    return data
