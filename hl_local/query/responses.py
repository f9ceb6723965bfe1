"""What every /api endpoint answers, as msgspec Structs (a session's parts: session_responses.py):
the OpenAPI document and web/src/api.gen.ts are generated from these (docs/api.md).

Fields are in the order the queries select them (query/structs.py checks it). JSON text columns
are `msgspec.Raw` fields marked with what the JSON holds: `Stored[...]` where our own encoder wrote
the text, `AsSent[...]` where it is what an SDK sent and may not be JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from hl_local.query.compile import FieldKind, Signal
from hl_local.query.structs import JsonText

# ---------------------------------------------------------------- JSON the columns hold


class Frame(msgspec.Struct):
    """One stack frame; index 0 of a list is the raise/throw site."""

    file: str | None
    line: int | None
    column: int | None
    function: str | None
    source: str | None  # the source line, when the stack printed one (Python)


ContextStatus = Literal[
    "ok", "no_file", "outside_roots", "missing", "not_a_file", "refused", "unreadable", "binary", "too_large",
    "no_such_line",
]  # fmt: skip
MapStatus = Literal["applied", "no_map", "not_covered", "changed_since", "unreadable", "no_bundle"]


class FrameContext(msgspec.Struct):
    """The lines around a frame from the file on this machine (hl_local/source/), or why there are none."""

    status: ContextStatus
    detail: str | None  # why not, when status is not "ok"
    path: str | None  # the local file read (its real path, under a source root)
    first_line: int | None  # the number of lines[0]
    lines: list[str]  # up to 5 before the frame's line, the line, 5 after; long lines clipped
    editor_url: str | None  # opens the file at the line in the --editor
    modified_after: bool  # the file changed after the error: the lines may have moved


class SourceMapNote(msgspec.Struct):
    """Whether a source map resolved a bundled JavaScript frame, and where the map came from."""

    status: MapStatus
    detail: str
    origin: str | None  # the map: a path under a source root, a loopback URL, or inline in the bundle


class SourcedFrame(Frame):
    """A frame as the error views show it: through its source map where one applied, with its lines."""

    generated: Frame | None  # the frame as recorded (minified), when a source map resolved it
    source_map: SourceMapNote | None  # null: not a bundled JavaScript frame
    context: FrameContext | None  # null: not looked up in this answer (docs/api.md says which)


class SpanEvent(msgspec.Struct):
    time_ns: int
    name: str
    attributes: dict[str, Any]


class SpanLink(msgspec.Struct):
    trace_id: str
    span_id: str
    trace_state: str
    attributes: dict[str, Any]


JsonObject = Annotated[msgspec.Raw, JsonText(dict[str, Any])]
Frames = Annotated[msgspec.Raw, JsonText(list[Frame])]
SpanEvents = Annotated[msgspec.Raw, JsonText(list[SpanEvent])]
SpanLinks = Annotated[msgspec.Raw, JsonText(list[SpanLink])]
AnyJson = Annotated[msgspec.Raw, JsonText(Any, trusted=False)]  # JSON if the text was, else the text
SentObject = Annotated[msgspec.Raw, JsonText(dict[str, Any], trusted=False)]
SentStrings = Annotated[msgspec.Raw, JsonText(list[str], trusted=False)]

State = Literal["open", "resolved", "ignored"]


# ---------------------------------------------------------------- errors and basics


class SearchErrorAt(msgspec.Struct):
    """Where a query stopped parsing (0-based character offset) and what would have been valid there."""

    position: int
    expected: str


class ParameterProblem(msgspec.Struct):
    """A request parameter litestar could not read (wrong type, missing)."""

    message: str
    key: str | None = None
    source: str | None = None


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every /api error: 400 (bad parameter or query), 403 (foreign Host), 404, 405, 500."""

    status_code: int
    detail: str
    extra: SearchErrorAt | list[ParameterProblem] | None = None


class Health(msgspec.Struct):
    status: Literal["ok"]
    version: str
    service: Literal["hl-local"] = "hl-local"  # how a second hl-local recognises this one on its port
    pid: int = 0


class RetentionInfo(msgspec.Struct):
    """How much is kept and for how long (store/retention.py); sizes in bytes, 0 caps mean none."""

    file_bytes: int | None  # the database file and its WAL on disk; null in memory
    data_bytes: int | None  # what of it holds data (DuckDB's used blocks and the WAL)
    max_size_bytes: int
    max_age_s: int
    oldest_received_ns: int | None  # the oldest item kept, by when it was received
    last_pruned_ns: int | None
    pruned_rows: int  # rows removed since hl-local started
    longest_step_ms: float  # the longest one prune step held the writer (and so ingest) up
    longest_checkpoint_ms: float  # the longest checkpoint after a prune (it makes the space reusable)


class PruneAnswer(msgspec.Struct):
    """DELETE /api/data: what went (rows per table; `sessions` counts sessions)."""

    cleared: bool  # everything was removed
    cutoff_ns: int | None  # data received before this went
    removed: dict[str, int]


class ForwardStats(msgspec.Struct):
    """One `--forward` upstream: requests sent on, waiting, retried, and dropped (and why)."""

    url: str
    queued: int  # requests waiting to be sent
    sent: int  # requests the upstream accepted
    retried: int  # attempts that failed and were tried again
    dropped: int  # requests given up on, the three reasons below together
    dropped_queue_full: int  # the queue was full when the request arrived
    dropped_refused: int  # the upstream answered an error that retrying cannot fix (a 400, 401, 413…)
    dropped_retries_exhausted: int  # still failing when the retry budget ran out
    last_error: str | None


class Stats(msgspec.Struct):
    """Row counts, the writer's queue, and where the data is."""

    spans: int
    logs: int
    metric_points: int
    sessions: int
    replay_events: int
    console_messages: int
    network_requests: int
    errors: int
    error_groups: int
    pending_rows: int
    database: str
    read_only: bool  # opened with --read-only: nothing is stored
    forward: list[ForwardStats]  # one per --forward URL
    retention: RetentionInfo


# ---------------------------------------------------------------- logs


class LogLine(msgspec.Struct):
    time_ns: int
    observed_ns: int
    trace_id: str  # '' without trace context
    span_id: str
    flags: int
    severity_text: str
    severity_number: int
    level: str
    body: str  # in lists, the first 2,000 characters (body_truncated says if that is all of it)
    body_bytes: int  # the whole body's length in bytes
    body_truncated: bool
    line_id: str | None  # GET /api/log-lines/{line_id} gives the line with its whole body
    event_name: str
    service_name: str
    service_version: str
    environment: str
    session_id: str | None  # its own
    linked_session_id: str | None  # its own, else its trace's
    request_id: str | None
    project_id: str | None
    source: str | None  # 'frontend' for browser console lines
    scope_name: str
    scope_version: str
    attributes: JsonObject
    resource_attributes: JsonObject
    frames: Frames | None


class LogPage(msgspec.Struct):
    items: list[LogLine]
    next_cursor: str | None


class HistogramBucket(msgspec.Struct):
    start_ns: int
    counts: dict[str, int]  # level → lines


class Histogram(msgspec.Struct):
    """No matching line: every field null and no buckets (unless the range was given)."""

    start_ns: int | None
    end_ns: int | None
    bucket_ns: int | None
    buckets: list[HistogramBucket]


# ---------------------------------------------------------------- spans and traces


class Span(msgspec.Struct):
    trace_id: str
    span_id: str
    parent_span_id: str  # '' for a root span
    trace_state: str
    flags: int
    name: str
    kind: int  # OTLP SpanKind
    start_ns: int
    end_ns: int
    duration_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    service_name: str
    service_version: str
    environment: str
    session_id: str | None
    linked_session_id: str | None
    request_id: str | None
    project_id: str | None
    source: str | None
    scope_name: str
    scope_version: str
    attributes: JsonObject
    resource_attributes: JsonObject
    events: SpanEvents
    links: SpanLinks


class SpanPage(msgspec.Struct):
    items: list[Span]
    next_cursor: str | None


class TraceRow(msgspec.Struct):
    trace_id: str
    root_span_id: str
    root_span_name: str
    service_name: str
    start_ns: int
    duration_ns: int
    span_count: int
    has_errors: bool
    session_id: str | None


class TracePage(msgspec.Struct):
    items: list[TraceRow]
    next_cursor: str | None


class ErrorColumns(msgspec.Struct):
    """The columns every view of an error occurrence shows (a base: never an answer by itself)."""

    error_id: str
    group_id: str
    time_ns: int
    source: str  # frontend or backend
    type: str
    message: str
    stack: str
    frames: Frames
    url: str | None
    error_source: str | None
    line_number: int | None
    column_number: int | None
    service_name: str | None
    service_version: str | None
    environment: str | None
    request_id: str | None
    trace_id: str | None
    span_id: str | None
    payload: AnyJson | None


class TraceError(ErrorColumns):
    # Through source maps, with lines for the first 128 frames of the answer (source_all fills it).
    frames: list[SourcedFrame]  # type: ignore[assignment]  # ErrorColumns' stored text, sourced
    session_id: str | None
    linked_session_id: str | None


class Trace(msgspec.Struct):
    trace_id: str
    session_id: str | None
    start_ns: int
    duration_ns: int
    spans: list[Span]
    logs: list[LogLine]
    errors: list[TraceError]


# ---------------------------------------------------------------- error groups


class _GroupColumns(msgspec.Struct):
    group_id: str
    title: str
    type: str
    source: str
    service_name: str | None
    first_seen_ns: int
    last_seen_ns: int
    occurrences: int  # all of the group's errors
    state: State
    state_changed_ns: int | None


class ErrorGroup(_GroupColumns):
    affected_sessions: int
    range_occurrences: int  # its errors in the range that match the query
    sparkline: list[int]  # those per bucket


class ErrorGroupPage(msgspec.Struct):
    items: list[ErrorGroup]
    next_cursor: str | None
    start_ns: int  # the sparklines' range and bucket width
    end_ns: int
    bucket_ns: int
    error_groups: list[ErrorGroup]  # the same as items (its older name)


class Occurrence(ErrorColumns):
    # Through source maps; lines for the first occurrence of a page only. (The query puts the stored
    # JSON text here, hl_local/source/frames.py `source_all` replaces it.)
    frames: list[SourcedFrame]  # type: ignore[assignment]  # ErrorColumns' stored text, sourced
    session_id: str | None  # its own, else its trace's


class ErrorGroupDetail(_GroupColumns):
    stack: str  # the newest occurrence's
    frames: list[SourcedFrame]
    affected_sessions: int
    occurrences_latest: list[Occurrence]
    next_cursor: str | None


class ErrorDetail(Occurrence):
    group_title: str | None
    session_offset_ms: int | None  # after the session's first recorded event
    logs_around: list[LogLine]


class ErrorGroupChart(msgspec.Struct):
    """A group's occurrences over [start_ns, end_ns) in equal buckets, and the sessions they touched."""

    group_id: str
    start_ns: int
    end_ns: int
    bucket_ns: int
    counts: list[int]
    sessions: list[int]  # distinct sessions per bucket (own or through the error's trace)


class FacetValue(msgspec.Struct):
    value: str | None  # null: the occurrences that do not say
    count: int


class Facet(msgspec.Struct):
    key: str  # service, environment, version, browser, os, url
    label: str
    values: list[FacetValue]  # the most frequent first (at most 8)
    other: int  # occurrences with a value not listed


class ErrorGroupFacets(msgspec.Struct):
    group_id: str
    occurrences: int  # in the range
    facets: list[Facet]


class AffectedSession(msgspec.Struct):
    session_id: str
    identifier: str | None
    environment: str | None
    user_agent: str | None
    started_ns: int | None  # null: the session is named by telemetry but was never recorded
    occurrences: int  # of this group, in the session
    first_error_id: str
    first_error_ns: int
    last_error_ns: int
    offset_ms: int | None  # the first occurrence's moment in the replay


class AffectedSessions(msgspec.Struct):
    group_id: str
    items: list[AffectedSession]  # the most recently affected first


class StateChange(msgspec.Struct, forbid_unknown_fields=True):
    state: State


class StateChanged(msgspec.Struct):
    group_id: str
    state: State


# ---------------------------------------------------------------- suggestions and the live stream


class KeySuggestion(msgspec.Struct):
    key: str
    kind: Literal["reserved", "attribute"]
    type: FieldKind | None  # a reserved key's search type
    count: int | None  # an attribute key's sampled rows


class KeySuggestions(msgspec.Struct):
    signal: Signal
    keys: list[KeySuggestion]


class ValueSuggestion(msgspec.Struct):
    value: str
    count: int


class ValueSuggestions(msgspec.Struct):
    signal: Signal
    key: str
    kind: Literal["reserved", "attribute"]
    values: list[ValueSuggestion]


Topic = Literal["sessions", "errors", "logs", "traces", "network", "metrics"]


class LiveChange(msgspec.Struct):
    """The data of one `change` event of /api/live."""

    topics: list[Topic]
