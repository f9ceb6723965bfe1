"""What one `hl-local run` captured, read from its database: counts, tests, errors (RunSummary).

"This run" is every row its server received: the server lived only for the run and held the file
alone, so `received_ns >= the run's start` selects it even in a file that earlier runs appended to.
Tests are spans with the OpenTelemetry `test.case.name` attribute (the pytest plugin's, or any other
test instrumentation's). `--summary-json` writes RunSummary as it is; docs/ci.md has its JSON Schema
(msgspec.json.schema(RunSummary), checked by a test).

Deliberately free of litestar: `run` imports this module after its command, when start-up cost is
part of what the user waits for.
"""

from __future__ import annotations

import shlex
from typing import Any

import duckdb
import msgspec

SUMMARY_VERSION = 1
SHOWN_ERRORS_PER_TEST = 10  # a test whose telemetry holds hundreds of errors shows its first ten


class Counts(msgspec.Struct):
    """Rows stored during the run, per signal; sessions: browser sessions active during it."""

    spans: int
    logs: int
    metric_points: int
    errors: int
    sessions: int


class Outcomes(msgspec.Struct):
    """Test spans by `test.case.result.status`."""

    passed: int
    failed: int
    skipped: int


class TopFrame(msgspec.Struct):
    """Where an error was raised (its first parsed frame)."""

    file: str | None
    line: int | None
    column: int | None
    function: str | None


class CapturedError(msgspec.Struct):
    """One error occurrence, with the command that opens the UI on it."""

    error_id: str
    group_id: str
    type: str
    message: str
    top_frame: TopFrame | None
    open: str


class ErrorGroupOfRun(msgspec.Struct):
    """An error group with occurrences in this run; `new` when none came before it."""

    group_id: str
    type: str
    message: str  # of its newest occurrence in this run
    occurrences: int  # in this run
    new: bool
    top_frame: TopFrame | None
    error_id: str  # its newest occurrence in this run
    open: str


class FailedTest(msgspec.Struct):
    """A test span whose `test.case.result.status` is `fail`, with the errors of its trace."""

    name: str  # test.case.name (pytest: the node id)
    suite: str | None
    file: str | None
    line: int | None
    failure: str | None  # the span's status message: what failed, in a line
    trace_id: str
    errors: list[CapturedError]  # its own failure and what its code raised, oldest first (at most 10)
    open: str


class InFlight(msgspec.Struct):
    """What the server was still storing when the command ended, and how long storing it took."""

    pending_rows: int | None  # rows received but not yet committed (null: the server did not answer)
    waited_ms: int
    complete: bool  # false when the server did not stop in time and was killed


class Capture(msgspec.Struct):
    counts: Counts
    tests: Outcomes | None  # null when no test span arrived
    failed_tests: list[FailedTest]
    error_groups: list[ErrorGroupOfRun]  # new groups first, then by occurrences


class RunSummary(msgspec.Struct):
    """`hl-local run`'s summary, as printed to stderr and written by `--summary-json`."""

    summary_version: int
    hl_local_version: str
    command: list[str]
    exit_code: int  # what `hl-local run` exited with
    command_exit_code: int  # the command's own status, 128 + N when signal N ended it
    command_signal: str | None  # e.g. "SIGTERM", when a signal ended the command
    failed_on_errors: bool  # --fail-on-error turned the command's 0 into 1
    started_at: str  # when the run's server started, ISO 8601 UTC
    duration_ms: int  # how long the command ran
    database: str
    open: str  # the command that opens the database in the UI
    open_tests: str | None  # ... on the Traces page listing this run's tests, failing ones first
    in_flight: InFlight
    counts: Counts
    tests: Outcomes | None
    failed_tests: list[FailedTest]
    error_groups: list[ErrorGroupOfRun]


def opener(db: str, page: str | None = None) -> str:
    """The shell command that opens `db` in the UI, on `page` (a UI path) when given."""
    return shlex.join(["hl-local", "--db", db, *([page] if page else [])])


def error_page(group_id: str, error_id: str) -> str:
    return f"/errors/{group_id}?error={error_id}"


_frames = msgspec.json.Decoder(list[TopFrame])


def top_frame(frames_json: str | None) -> TopFrame | None:
    """The raise site of a stored `frames` column (JSON text, raise site first)."""
    if not frames_json:
        return None
    try:
        frames = _frames.decode(frames_json)
    except msgspec.DecodeError:
        return None
    return frames[0] if frames else None


def _attribute(key: str) -> str:
    return f"json_extract_string(attributes, '$.\"{key}\"')"


def captured(cur: duckdb.DuckDBPyConnection, since_ns: int, db: str) -> Capture:
    """What the server received since `since_ns`; `db` is the file as the user named it (for `open`)."""
    return Capture(
        counts=_counts(cur, since_ns),
        tests=_test_counts(cur, since_ns),
        failed_tests=_failed_tests(cur, since_ns, db),
        error_groups=_error_groups(cur, since_ns, db),
    )


def _counts(cur: duckdb.DuckDBPyConnection, since_ns: int) -> Counts:
    tables = ("spans", "logs", "metric_points", "errors")
    parts = [f"(SELECT count(*) FROM {table} WHERE received_ns >= $since)" for table in tables]
    parts.append("(SELECT count(*) FROM session_summaries WHERE last_activity_ns >= $since)")
    row = cur.execute("SELECT " + ", ".join(parts), {"since": since_ns}).fetchone()
    assert row is not None
    return Counts(*(int(value) for value in row))


_TEST_SPANS = f"""
SELECT trace_id, start_ns, status_message,
       {_attribute("test.case.name")} AS name,
       {_attribute("test.case.result.status")} AS status,
       {_attribute("test.suite.name")} AS suite,
       {_attribute("code.file.path")} AS file,
       TRY_CAST({_attribute("code.line.number")} AS BIGINT) AS line
FROM spans
WHERE received_ns >= $since AND {_attribute("test.case.name")} IS NOT NULL
"""


def _test_counts(cur: duckdb.DuckDBPyConnection, since_ns: int) -> Outcomes | None:
    sql = f"SELECT status, count(*) FROM ({_TEST_SPANS}) GROUP BY status"
    by_status = {status: int(n) for status, n in cur.execute(sql, {"since": since_ns}).fetchall()}
    if not by_status:
        return None
    return Outcomes(by_status.get("pass", 0), by_status.get("fail", 0), by_status.get("skipped", 0))


def _failed_tests(cur: duckdb.DuckDBPyConnection, since_ns: int, db: str) -> list[FailedTest]:
    sql = f"SELECT * FROM ({_TEST_SPANS}) WHERE status = 'fail' ORDER BY start_ns, name"
    failed = cur.execute(sql, {"since": since_ns}).fetchall()
    errors = _errors_of_traces(cur, since_ns, [row[0] for row in failed], db)
    return [
        FailedTest(
            name=name,
            suite=suite,
            file=file,
            line=line,
            failure=status_message or None,
            trace_id=trace_id,
            errors=errors.get(trace_id, [])[:SHOWN_ERRORS_PER_TEST],
            open=opener(db, f"/traces/{trace_id}"),
        )
        for trace_id, _start, status_message, name, _status, suite, file, line in failed
    ]


def _errors_of_traces(
    cur: duckdb.DuckDBPyConnection, since_ns: int, trace_ids: list[str], db: str
) -> dict[str, list[CapturedError]]:
    if not trace_ids:
        return {}
    rows = cur.execute(
        "SELECT trace_id, error_id, group_id, type, message, frames FROM errors "
        "WHERE received_ns >= ? AND trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY time_ns, error_id",
        [since_ns, trace_ids],
    ).fetchall()
    found: dict[str, list[CapturedError]] = {}
    for trace_id, error_id, group_id, kind, message, frames in rows:
        error = CapturedError(
            error_id, group_id, kind, message, top_frame(frames), opener(db, error_page(group_id, error_id))
        )
        found.setdefault(trace_id, []).append(error)
    return found


_ERROR_GROUPS = """
WITH run AS (SELECT * FROM errors WHERE received_ns >= $since),
before AS (
    SELECT DISTINCT group_id FROM errors
    WHERE received_ns < $since AND group_id IN (SELECT group_id FROM run)
)
SELECT group_id,
       arg_max(type, (time_ns, error_id)) AS type,
       arg_max(message, (time_ns, error_id)) AS message,
       count(*) AS occurrences,
       group_id NOT IN (SELECT group_id FROM before) AS new,
       arg_max(frames, (time_ns, error_id)) AS frames,
       arg_max(error_id, (time_ns, error_id)) AS error_id,
       min(time_ns) AS first_ns
FROM run
GROUP BY group_id
ORDER BY new DESC, occurrences DESC, first_ns, group_id
"""


def _error_groups(cur: duckdb.DuckDBPyConnection, since_ns: int, db: str) -> list[ErrorGroupOfRun]:
    rows: list[tuple[Any, ...]] = cur.execute(_ERROR_GROUPS, {"since": since_ns}).fetchall()
    return [
        ErrorGroupOfRun(
            group_id=group_id,
            type=kind,
            message=message,
            occurrences=int(occurrences),
            new=bool(new),
            top_frame=top_frame(frames),
            error_id=error_id,
            open=opener(db, error_page(group_id, error_id)),
        )
        for group_id, kind, message, occurrences, new, frames, error_id, _first in rows
    ]
