"""Watching the source files that were shown, so an edit reaches the open error page at once.

watchfiles watches the directories of the files source context has read, each on its own (not
recursively): a checkout of 10,000 files costs nothing until its files are shown, and then one
inotify watch per directory shown (at most MAX_DIRS). Watching the roots recursively would put a
watch on every directory of the checkout, node_modules and .venv included, at start-up (see
ARCHITECTURE.md for what that measured). The set grows as files are read; a new directory restarts
the watch (watchfiles takes its paths once), which costs a few milliseconds.

Correctness does not depend on it: every cache hit is checked against a stat (files.py). This is
what makes a change visible without anyone asking: `on_change` evicts, and when a file that was
shown changed it bumps a version that /api/live turns into a refresh. Other files of a watched
directory (a log file the app writes next to its code) change nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
# watchfiles logs every batch of changes at INFO; litestar's logging shows INFO on the terminal, and a
# log file in a watched directory would then report its own growth for ever.
logging.getLogger("watchfiles").setLevel(logging.WARNING)

MAX_DIRS = 1024
DEBOUNCE_MS = 100  # an editor's save is often several events (write, rename, chmod)


class SourceWatcher:
    def __init__(self, on_change: Callable[[set[str], bool], None]) -> None:
        self._on_change = on_change
        self._dirs: set[str] = set()
        self._lock = threading.Lock()
        self._restart = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watching = threading.Event()  # set while a watch over the current set runs (tests wait on it)

    @property
    def directories(self) -> int:
        return len(self._dirs)

    def add(self, path: str) -> None:
        """Watch the directory of the file `path` (from then on)."""
        directory = os.path.dirname(path)
        with self._lock:
            if directory in self._dirs or len(self._dirs) >= MAX_DIRS or self._stop.is_set():
                return
            self._dirs.add(directory)
            self.watching.clear()
            self._restart.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hl-local-sources", daemon=True)
                self._thread.start()

    def close(self) -> None:
        with self._lock:  # under the lock: the thread cannot clear `_restart` between these and its check
            self._stop.set()
            self._restart.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        import watchfiles  # ~30 ms; only once a file was shown

        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                self._restart.clear()
                dirs = sorted(d for d in self._dirs if os.path.isdir(d))
            if not dirs:
                self._restart.wait()
                continue
            try:
                self.watching.set()
                for changes in watchfiles.watch(
                    *dirs,
                    watch_filter=None,  # the default filter drops .venv/, node_modules/: frames are there too
                    recursive=False,
                    debounce=DEBOUNCE_MS,
                    step=20,
                    stop_event=self._restart,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                    rust_timeout=1000,
                ):
                    # (paths, whether a file was created or removed: where recorded paths point may change)
                    created_or_removed = any(change != watchfiles.Change.modified for change, _ in changes)
                    self._on_change({path for _, path in changes}, created_or_removed)
            except Exception as exc:  # a directory removed meanwhile: drop the missing ones, go on
                log.debug("source watch restarts: %s", exc)
                with self._lock:
                    self._dirs = {d for d in self._dirs if os.path.isdir(d)}
                self._stop.wait(0.5)
