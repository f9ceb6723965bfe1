"""A progress line on a terminal (stderr), nothing when piped: for anything that takes over a second."""

from __future__ import annotations

import sys
import time

_EVERY_S = 0.1  # redraws at most 10 times a second


class Progress:
    """`update(done, total)` redraws `label  42%  12.3 / 29.0 MiB` in place; `done()` clears it."""

    def __init__(self, label: str, unit: str = "bytes") -> None:
        self._label = label
        self._unit = unit
        self._shown = sys.stderr.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._width = 0

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self._shown or now - self._drawn_at < _EVERY_S or now - self._started < 1.0:
            return  # quick work shows no bar at all
        self._drawn_at = now
        share = min(1.0, done / total) if total else 0.0
        filled = int(share * 24)
        if self._unit == "bytes":
            amount = f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB"
        else:
            amount = f"{done:,} / {total:,} {self._unit}"
        text = f"{self._label}  [{'#' * filled}{'.' * (24 - filled)}] {share:4.0%}  {amount}"
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def done(self) -> None:
        if self._shown and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0
