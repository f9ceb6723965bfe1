"""What `hl-local serve` prints while it runs (unless --quiet): new error groups, and a summary a minute.

- One line per new error group, as soon as its first error is committed: time, service, type and
  message, top frame (through its source map when one is loaded), and the group's URL in the UI.
  The writer hands the new group ids over in memory (`Writer.created_groups`); only their rows are
  read, once. At most GROUP_LINES_PER_MINUTE lines a minute: past that the summary counts the rest.
- One summary line per minute in which anything arrived, from the writer's row counters.

Lines go through a small queue to a thread that writes them: a terminal that stops reading (a
pipe nobody drains, a paused `less`) holds that thread, never the event loop. Colour only on a
terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

import duckdb

from hl_local.source.frames import Budget, Sources, decode_frames
from hl_local.store.db import Store
from hl_local.store.writer import Writer

TICK_S = 0.5
SUMMARY_S = 60.0
GROUP_LINES_PER_MINUTE = 20
MAX_MESSAGE_CHARS = 120
_QUEUED_LINES = 200

# what the summary names, in its order: writer row kind → (one, many)
_SUMMARY = {
    "spans": ("span", "spans"),
    "logs": ("log line", "log lines"),
    "errors": ("error", "errors"),
    "session_inits": ("new session", "new sessions"),
    "replay_chunks": ("replay push", "replay pushes"),
    "network_requests": ("network request", "network requests"),
    "metric_points": ("metric point", "metric points"),
}
_RED, _DIM, _BOLD, _RESET = "\033[31m", "\033[2m", "\033[1m", "\033[0m"


class Printer:
    """Writes lines from a thread; drops (and counts) what does not fit the queue."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lines: queue.Queue[str] = queue.Queue(_QUEUED_LINES)
        self.dropped = 0
        threading.Thread(target=self._run, name="hl-local-terminal", daemon=True).start()

    def print(self, line: str) -> None:
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def drain(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until every queued line is written."""
        deadline = time.monotonic() + timeout_s
        with self._lines.all_tasks_done:
            while self._lines.unfinished_tasks and (left := deadline - time.monotonic()) > 0:
                self._lines.all_tasks_done.wait(left)

    def _run(self) -> None:
        while True:
            line = self._lines.get()
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (OSError, ValueError):  # the terminal went away: nothing left to tell
                return
            finally:
                self._lines.task_done()


class Terminal:
    def __init__(
        self, store: Store, writer: Writer, sources: Sources | None, ui_url: str, out: TextIO = sys.stdout
    ):
        self._store, self._writer, self._sources, self._ui_url = store, writer, sources, ui_url
        self._colour = out.isatty()
        self._printer = Printer(out)
        self._seen_group = writer.created_groups.last
        self._counted = dict(writer.rows_by_kind)
        self._summary_at = time.monotonic() + SUMMARY_S
        self._lines_this_minute = 0
        self._new_groups = 0
        self._unshown_groups = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
            await self._new_groups_lines()
            if time.monotonic() >= self._summary_at:
                self._summary()
        await self._writer.settle()  # the errors deferred from the last requests are grouped now
        await self._new_groups_lines()  # what the last commits created, before the writer stops
        await asyncio.to_thread(self._printer.drain, 2.0)

    async def _new_groups_lines(self) -> None:
        ids, missed = self._writer.created_groups.since(self._seen_group)
        self._seen_group = self._writer.created_groups.last
        self._new_groups += len(ids) + missed
        room = max(0, GROUP_LINES_PER_MINUTE - self._lines_this_minute)
        self._unshown_groups += missed + max(0, len(ids) - room)
        if ids[:room]:
            # formatted in the read's worker thread: the top frame may load a source map from disk
            lines = await self._store.read(
                lambda cur: [self._group_line(*row) for row in _group_rows(cur, ids[:room])]
            )
            for line in lines:
                self._printer.print(line)
                self._lines_this_minute += 1

    def _group_line(
        self, group_id: str, title: str, kind: str, service: str | None, first_ns: int, frames: str | None
    ) -> str:
        at = time.strftime("%H:%M:%S", time.localtime(first_ns / 1e9))
        message = " ".join(title.split())
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        parts = [at, self._paint("new error", _RED + _BOLD), service or "-", f"{kind or 'Error'}: {message}"]
        top = self._top_frame(frames, first_ns)
        if top:
            parts.append(f"at {top}")
        parts.append(self._paint(f"{self._ui_url}/errors/{group_id}", _DIM))
        return "  ".join(parts)

    def _top_frame(self, frames_json: str | None, at_ns: int) -> str | None:
        frames = decode_frames(frames_json)
        if not frames:
            return None
        if self._sources is not None:
            shown = self._sources.frame(frames[0], at_ns, Budget(0))
            file, line, function = shown.file, shown.line, shown.function
            if shown.generated is None and file:
                where = self._sources.roots.locate(file)
                file = getattr(where, "shown", file)
        else:
            file, line, function = frames[0].file, frames[0].line, frames[0].function
        location = f"{file or '?'}" + (f":{line}" if line is not None else "")
        return f"{function} ({location})" if function else location

    def _summary(self) -> None:
        self._summary_at = time.monotonic() + SUMMARY_S
        now = dict(self._writer.rows_by_kind)
        counts = {kind: now.get(kind, 0) - self._counted.get(kind, 0) for kind in _SUMMARY}
        self._counted = now
        parts = [f"{n:,} {_SUMMARY[k][0] if n == 1 else _SUMMARY[k][1]}" for k, n in counts.items() if n > 0]
        if self._new_groups:
            parts.append(f"{self._new_groups:,} new error group{'s' if self._new_groups != 1 else ''}")
        if self._unshown_groups:
            parts.append(f"{self._unshown_groups:,} of them not printed ({self._ui_url}/errors)")
        if self._printer.dropped:
            parts.append(f"{self._printer.dropped:,} lines the terminal was too slow for")
            self._printer.dropped = 0
        self._lines_this_minute = self._new_groups = self._unshown_groups = 0
        if parts:
            at = time.strftime("%H:%M")
            self._printer.print(self._paint(f"{at}  last minute: " + ", ".join(parts), _DIM))

    def _paint(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self._colour else text


def _group_rows(
    cur: duckdb.DuckDBPyConnection, ids: Sequence[str]
) -> list[tuple[str, str, str, str | None, int, str | None]]:
    rows = cur.execute(
        "SELECT group_id, title, type, service_name, first_seen_ns, frames FROM error_groups "
        "WHERE group_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(ids)],
    ).fetchall()
    order = {group_id: i for i, group_id in enumerate(ids)}
    return sorted(rows, key=lambda row: order.get(row[0], 0))
