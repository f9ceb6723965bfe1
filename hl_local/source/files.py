"""Reading source files under the roots: bounded, cached, and refused with a reason.

A file is opened with O_NOFOLLOW | O_NONBLOCK (the real path was resolved already, so its last part
is no symlink; a FIFO does not block the open), must be a regular file, and on Linux the opened file's
own path (/proc/self/fd) must still be under the roots: a directory swapped for a symlink after the
check is refused. Files over MAX_FILE_BYTES are "too large", a NUL byte in the first 8 KiB is
"binary"; other text is UTF-8 with bad bytes replaced.

The cache holds the lines of the most recently read files, up to CACHE_BYTES of text. Each hit costs
one stat (size, mtime, inode compared), so an edit is never missed even where the watcher is not
told (a network filesystem, an inotify limit); the watcher (watch.py) evicts at once and tells the UI.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from hl_local.source.roots import Located, Refused, SourceRoots

MAX_FILE_BYTES = 10 * 1024 * 1024  # a large bundle; Python and TypeScript sources are far smaller
CACHE_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = 400  # minified code is one huge line: a window around the column instead
CONTEXT_LINES = 5
_BINARY_PROBE = 8192
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PROC_FD = "/proc/self/fd"

Problem = Literal["missing", "unreadable", "binary", "too_large", "not_a_file", "refused", "no_such_line"]


@dataclass(frozen=True, slots=True)
class Unread:
    status: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class FileText:
    lines: list[str]
    size: int
    mtime_ns: int
    inode: int


@dataclass(frozen=True, slots=True)
class Excerpt:
    first_line: int  # number of lines[0], 1-based
    lines: list[str]


def read_bytes(roots: SourceRoots, located: Located, max_bytes: int = MAX_FILE_BYTES) -> bytes | Unread:
    """The file's bytes, or why not (see the module docstring for the checks)."""
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(located.path, flags)
    except FileNotFoundError:
        return Unread("missing", f"{located.path} does not exist (any more)")
    except (IsADirectoryError, NotADirectoryError):
        return Unread("not_a_file", f"{located.path} is not a file")
    except PermissionError:
        return Unread("unreadable", f"{located.path} is not readable by hl-local (permission denied)")
    except OSError as exc:  # ELOOP: the last part became a symlink after the check
        return Unread("unreadable", f"{located.path} could not be opened: {exc.strerror or exc}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Unread("not_a_file", f"{located.path} is not a regular file")
        if os.path.isdir(_PROC_FD):
            opened = os.readlink(f"{_PROC_FD}/{fd}")
            if isinstance(roots.contain(opened), Refused):
                return Unread("refused", f"{located.path} resolved outside the source roots when opened")
        if info.st_size > max_bytes:
            size = f"{info.st_size:,} bytes (source context reads up to {max_bytes:,})"
            return Unread("too_large", f"{located.path} is {size}")
        chunks, left = [], max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            return Unread("too_large", f"{located.path} grew past {max_bytes:,} bytes while read")
        return data
    except OSError as exc:
        return Unread("unreadable", f"{located.path} could not be read: {exc.strerror or exc}")
    finally:
        os.close(fd)


def split_lines(text: str) -> list[str]:
    # \r\n, \r and \n, as Python and V8 count lines (str.splitlines also splits on \f, \x1c, …)
    return _LINE_BREAK.split(text)


def excerpt(
    lines: Sequence[str], line: int, column: int | None = None, radius: int = CONTEXT_LINES
) -> Excerpt | Unread:
    """`radius` lines before and after `line` (1-based), each clipped to MAX_LINE_CHARS."""
    count = len(lines) - (1 if lines and lines[-1] == "" else 0)
    if not 1 <= line <= count:
        return Unread("no_such_line", f"the file has {count} lines, the frame names line {line}")
    first, last = max(1, line - radius), min(count, line + radius)
    shown = [clip(lines[n - 1], column if n == line else None) for n in range(first, last + 1)]
    return Excerpt(first, shown)


def clip(text: str, column: int | None = None) -> str:
    """A line cut to MAX_LINE_CHARS; around `column` (1-based) when that is further right."""
    if len(text) <= MAX_LINE_CHARS:
        return text
    start = 0
    if column is not None and column > MAX_LINE_CHARS * 3 // 4:
        start = min(column - 1 - MAX_LINE_CHARS // 2, len(text) - MAX_LINE_CHARS)
    head = "…" if start > 0 else ""
    tail = "…" if start + MAX_LINE_CHARS < len(text) else ""
    return head + text[start : start + MAX_LINE_CHARS] + tail


def decode_text(data: bytes) -> str | None:
    """UTF-8 text (bad bytes replaced), or None for binary content."""
    if b"\x00" in data[:_BINARY_PROBE]:
        return None
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


class SourceFiles:
    """Lines of files under the roots, cached (LRU by bytes) and checked against a stat on every hit."""

    def __init__(self, roots: SourceRoots, on_read: Callable[[str], None] | None = None) -> None:
        self.roots = roots
        self._on_read = on_read
        self._cache: OrderedDict[str, FileText] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.reads = 0  # files read from disk (not from the cache), for tests and benchmarks

    def text(self, located: Located) -> FileText | Unread:
        with self._lock:
            cached = self._cache.get(located.path)
        if cached is not None:
            try:
                info = os.stat(located.path)
            except OSError:
                info = None
            if info and (info.st_size, info.st_mtime_ns, info.st_ino) == (
                cached.size,
                cached.mtime_ns,
                cached.inode,
            ):
                with self._lock:
                    self._cache.move_to_end(located.path)
                return cached
            self.evict(located.path)
        return self._read(located)

    def evict(self, path: str) -> bool:
        with self._lock:
            gone = self._cache.pop(path, None)
            if gone is not None:
                self._bytes -= gone.size
        return gone is not None

    def _read(self, located: Located) -> FileText | Unread:
        try:
            info = os.stat(located.path)
        except OSError:
            info = None
        data = read_bytes(self.roots, located)
        if isinstance(data, Unread):
            return data
        text = decode_text(data)
        if text is None:
            return Unread("binary", f"{located.path} is a binary file")
        self.reads += 1
        entry = FileText(
            split_lines(text), len(data), info.st_mtime_ns if info else 0, info.st_ino if info else 0
        )
        with self._lock:
            self._cache[located.path] = entry
            self._bytes += entry.size
            while self._bytes > CACHE_BYTES and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._bytes -= old.size
        if self._on_read is not None:
            self._on_read(located.path)
        return entry
