"""`hl-local run`'s ending: read what the run captured, print the summary, decide the exit status."""

from __future__ import annotations

import contextlib
import itertools
import shlex
import signal
import sys
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import msgspec

from hl_local import __version__
from hl_local.cli.server_process import STOP_TIMEOUT_S, Stopped
from hl_local.errors import HlLocalError
from hl_local.query.run_summary import (
    SUMMARY_VERSION,
    Capture,
    InFlight,
    RunSummary,
    TopFrame,
    captured,
    opener,
)
from hl_local.store.db import Store

SHOWN = 20  # failed tests and error groups listed in the text; the JSON has them all
MESSAGE_CHARS = 160


@dataclass(frozen=True)
class Ended:
    """How the command and the server ended: what the summary is made from."""

    command: list[str]
    db: Path
    started_ns: int  # when the server was started
    duration_s: float  # how long the command ran
    returncode: int  # Popen's: negative when a signal ended the command
    stopped: Stopped
    server_lost: bool  # the server ended while the command ran
    fail_on_error: bool
    summary_json: Path | None


def finish(ended: Ended) -> int:
    """Print the summary (and write its JSON); the status `hl-local run` exits with."""
    status = 128 - ended.returncode if ended.returncode < 0 else ended.returncode
    try:
        capture = read_capture(ended.db, ended.started_ns)
    except (HlLocalError, duckdb.Error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"hl-local run: cannot read what the run captured from {ended.db}: {reason}", file=sys.stderr)
        return 1 if status == 0 and ended.fail_on_error else status
    exit_code, why = decide(status, capture, ended)
    summary = _summary(ended, status, exit_code, capture)
    print(render(summary, ended, why), file=sys.stderr, flush=True)
    if ended.summary_json is not None and not _write_json(ended.summary_json, summary):
        exit_code = exit_code or 1
    return exit_code


def read_capture(db: Path, since_ns: int) -> Capture:
    store = Store.open(db, read_only=True)
    try:
        return store.read_sync(lambda cur: captured(cur, since_ns, str(db)))
    finally:
        store.close()


def decide(status: int, capture: Capture, ended: Ended) -> tuple[int, str | None]:
    """`run`'s exit status, and why it is not the command's own (None when it is)."""
    if status != 0:
        return status, None
    if ended.server_lost:
        return 1, "the command succeeded, but hl-local stopped while it ran"
    if ended.stopped.killed:
        return 1, "the command succeeded, but hl-local had to be killed before it stored everything"
    errors = capture.counts.errors
    if ended.fail_on_error and errors:
        return 1, f"--fail-on-error, and {errors} error{'s' if errors != 1 else ''} were captured"
    return 0, None


def _summary(ended: Ended, status: int, exit_code: int, capture: Capture) -> RunSummary:
    db = str(ended.db)
    signal_name = None
    if ended.returncode < 0:
        try:
            signal_name = signal.Signals(-ended.returncode).name
        except ValueError:
            signal_name = f"signal {-ended.returncode}"
    stopped = ended.stopped
    in_flight = InFlight(stopped.pending_rows, round(stopped.waited_s * 1000), not stopped.killed)
    return RunSummary(
        summary_version=SUMMARY_VERSION,
        hl_local_version=__version__,
        command=ended.command,
        exit_code=exit_code,
        command_exit_code=status,
        command_signal=signal_name,
        failed_on_errors=status == 0 and exit_code == 1 and ended.fail_on_error and capture.counts.errors > 0,
        started_at=_iso(ended.started_ns),
        duration_ms=round(ended.duration_s * 1000),
        database=db,
        open=opener(db),
        open_tests=opener(db, tests_page(ended)) if capture.tests else None,
        in_flight=in_flight,
        counts=capture.counts,
        tests=capture.tests,
        failed_tests=capture.failed_tests,
        error_groups=capture.error_groups,
    )


def _iso(time_ns: int) -> str:
    moment = datetime.fromtimestamp(time_ns // 1_000_000 / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tests_page(ended: Ended) -> str:
    """The Traces page on this run's test spans (a time range: the file may hold earlier runs), failing
    tests (and tests whose telemetry holds an error) first."""
    end_ns = time.time_ns() + 1_000_000_000  # a second of slack for clocks that are not quite ours
    params = {"query": "test.case.name EXISTS", "sort": "errors",
              "start": _iso(ended.started_ns), "end": _iso(end_ns)}  # fmt: skip
    return "/traces?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def _write_json(path: Path, summary: RunSummary) -> bool:
    try:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(summary)) + b"\n")
    except OSError as exc:
        print(f"hl-local run: cannot write --summary-json {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


# ---------------------------------------------------------------- the text


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _one_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


def _shown_path(file: str | None) -> str:
    """A frame's file as the reader finds it: relative to here when it is below here."""
    if not file:
        return "?"
    with contextlib.suppress(ValueError):
        return str(Path(file).relative_to(Path.cwd()))
    return file


def _where(frame: TopFrame | None) -> str:
    if frame is None or not (frame.file or frame.function):
        return ""
    at = _shown_path(frame.file) + (f":{frame.line}" if frame.line is not None else "")
    return f"   {at}" + (f" in {frame.function}" if frame.function else "")


def render(summary: RunSummary, ended: Ended, why: str | None) -> str:
    counts = summary.counts
    if summary.command_signal:
        how = f"was ended by {summary.command_signal}"
    else:
        how = f"exited with status {summary.command_exit_code}"
    lines = [
        f"hl-local run: {shlex.join(summary.command)} {how} after {ended.duration_s:.1f} s",
        f"  stored {_plural(counts.spans, 'span')}, {_plural(counts.logs, 'log line')}, "
        f"{_plural(counts.metric_points, 'metric point')}, {_plural(counts.errors, 'error')}, "
        f"{_plural(counts.sessions, 'session')} in {summary.database}",
        "  " + _in_flight(ended.stopped),
    ]
    if summary.tests:
        tests = summary.tests
        lines.append(f"  tests: {tests.passed:,} passed, {tests.failed:,} failed, {tests.skipped:,} skipped")
    lines += _failed_tests(summary)
    lines += _error_groups(summary)
    if summary.open_tests:
        lines.append(f"  tests, failing first: {summary.open_tests}")
    lines.append(f"  open it: {summary.open}")
    if why:
        lines.append(f"hl-local run: exit status {summary.exit_code}: {why}")
    return "\n".join(lines)


def _in_flight(stopped: Stopped) -> str:
    if stopped.killed:
        return (f"hl-local did not stop within {STOP_TIMEOUT_S:.0f} s and was killed: what it had "
                "acknowledged is stored, anything still in flight is lost")  # fmt: skip
    rows, took = stopped.pending_rows, f"closed the file in {stopped.waited_s:.2f} s"
    if rows == 0:
        return f"nothing was still in flight; {took}"
    what = "what was still in flight" if rows is None else f"the {_plural(rows, 'row')} still in flight"
    return f"stored {what} and {took}"


def _failed_tests(summary: RunSummary) -> list[str]:
    failed = summary.failed_tests
    if not failed:
        return []
    lines = [f"  failed tests ({len(failed):,}):"]
    for test in failed[:SHOWN]:
        at = f"   {test.file}:{test.line}" if test.file and test.line is not None else ""
        lines.append(f"    {test.name}{at}")
        if not test.errors and test.failure:
            lines.append(f"      {_one_line(test.failure)}")
        # The same exception is often recorded twice: by the span that raised it and by the test.
        for group in itertools.groupby(test.errors, key=lambda error: error.group_id):
            error, times = next(group[1]), 1 + sum(1 for _ in group[1])
            repeat = f" ({times} times)" if times > 1 else ""
            lines.append(f"      {error.type}: {_one_line(error.message)}{repeat}{_where(error.top_frame)}")
        lines.append(f"      open: {test.open}")
    if len(failed) > SHOWN:
        lines.append(f"    … and {len(failed) - SHOWN:,} more (--summary-json lists them all)")
    return lines


def _error_groups(summary: RunSummary) -> list[str]:
    groups = summary.error_groups
    if not groups:
        return []
    new = sum(group.new for group in groups)
    lines = [f"  error groups ({len(groups):,}, {new:,} new):"]
    for group in groups[:SHOWN]:
        mark = "new " if group.new else ""
        times = _plural(group.occurrences, "time")
        lines.append(f"    {mark}{group.type}: {_one_line(group.message)} ({times}){_where(group.top_frame)}")
        lines.append(f"      open: {group.open}")
    if len(groups) > SHOWN:
        lines.append(f"    … and {len(groups) - SHOWN:,} more (--summary-json lists them all)")
    return lines
