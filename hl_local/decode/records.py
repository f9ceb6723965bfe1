"""The internal currency between decoders and the writer: one msgspec Struct per table row.

A row Struct's fields are its table's columns, in the table's order, each typed as DuckDB types
it (`Int32` for INTEGER, `str | None` for a nullable VARCHAR, …). When the store opens, every
Struct is checked against the table DuckDB really has (store/tables.py), so the decoders, the
DDL and the Arrow conversion cannot drift apart unnoticed.

Rows are `array_like` Structs: built positionally, as cheaply as tuples (measured: 0.23 µs a row
of 24 fields, against ~20 µs to decode a span), and turned into Arrow columns once per group
commit by the writer. `Update`s are partial rows for statements that change some columns of an
existing row (identify, properties, an error group's state).

`Batch` is everything one request produced, a list per kind of row: it is committed whole or
not at all.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final

import msgspec

# Attribute keys people filter on most (OpenTelemetry semantic conventions), each also kept in a
# column of spans and logs: an equality filter on a column is a dictionary-compressed scan, on
# JSON text a parse per row (~10x slower over 1M rows). The column holds exactly what the search
# compiler's JSON lookup would give, the item's attribute else its resource's, so a search means
# the same with or without it; the writer's INSERT computes it (store/writes.py). This is the one
# place they are declared: the DDL of both tables gets its columns from here (store/schema.py).
# Adding a key means a new SCHEMA_VERSION.
PROMOTED_ATTRIBUTES: Final[dict[str, str]] = {
    key: "attr_" + key.replace(".", "_")
    for key in (
        "http.method", "http.request.method", "http.route", "http.target", "http.status_code",
        "http.response.status_code", "url.path", "user.id", "enduser.id", "db.system", "rpc.method",
        "exception.type",
    )
}  # fmt: skip
PROMOTED_COLUMNS: Final[tuple[str, ...]] = tuple(PROMOTED_ATTRIBUTES.values())


class DuckType(msgspec.Struct, frozen=True):
    """The DuckDB type of a column whose Python type alone does not say it."""

    name: str


# Python types map to BIGINT, DOUBLE, VARCHAR, BOOLEAN; these name the other column types.
Int32 = Annotated[int, DuckType("INTEGER")]
UInt32 = Annotated[int, DuckType("UINTEGER")]
UInt64 = Annotated[int, DuckType("UBIGINT")]
UInt64List = Annotated[list[int], DuckType("UBIGINT[]")]
FloatList = Annotated[list[float], DuckType("DOUBLE[]")]
# A span's or log line's PROMOTED_ATTRIBUTES values, in that order, as the decoder found them.
PromotedValues = Annotated[list[str | None], DuckType("VARCHAR[]")]
# A log line's distinct indexed words (decode/tokens.py), separated by spaces: one string converts
# to Arrow at a fraction of a list's cost (a list of ~13 words doubled the log rows' conversion).
Tokens = str


class Row(msgspec.Struct, array_like=True, gc=False):
    """A whole row of `table`; `computed` names the table's columns the insert fills itself, from
    the fields `staged` names (fields that are not columns)."""

    table: ClassVar[str]
    computed: ClassVar[tuple[str, ...]] = ()
    staged: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def stored_fields(cls) -> tuple[str, ...]:
        """The fields that are columns of `table`, in order (staged ones come last, with defaults)."""
        return tuple(name for name in cls.__struct_fields__ if name not in cls.staged)


class Update(msgspec.Struct, array_like=True, gc=False):
    """Some columns of an existing row of `table`, for an UPDATE (or an upsert) of those columns."""

    table: ClassVar[str]


class SpanRow(Row):
    table = "spans"
    computed = PROMOTED_COLUMNS
    staged = ("promoted",)

    trace_id: str
    span_id: str
    parent_span_id: str
    trace_state: str
    flags: UInt32
    name: str
    kind: Int32
    start_ns: int
    end_ns: int
    duration_ns: int
    status_code: Int32
    status_message: str
    service_name: str
    service_version: str
    environment: str
    session_id: str | None
    request_id: str | None
    project_id: str | None
    source: str | None
    scope_name: str
    scope_version: str
    attributes: str
    resource_attributes: str
    events: str
    links: str
    received_ns: int
    # The promoted columns' values when the decoder looked them up (OTLP spans do: ~5 µs a span less
    # for the writer than its JSON lookup); None: the INSERT looks them up in the JSON text itself.
    promoted: PromotedValues | None = None


class LogRow(Row):
    table = "logs"
    computed = PROMOTED_COLUMNS
    staged = ("promoted", "tokens")

    time_ns: int
    observed_ns: int
    trace_id: str
    span_id: str
    flags: UInt32
    severity_text: str
    severity_number: Int32
    level: str
    body: str
    event_name: str
    service_name: str
    service_version: str
    environment: str
    session_id: str | None
    request_id: str | None
    project_id: str | None
    source: str | None
    scope_name: str
    scope_version: str
    attributes: str
    resource_attributes: str
    frames: str | None
    received_ns: int
    promoted: PromotedValues | None = None  # as SpanRow's
    # Its words for log_tokens when the decoder took them (OTLP records do); None: the INSERT does.
    tokens: Tokens | None = None


class MetricPointRow(Row):
    table = "metric_points"

    time_ns: int
    start_ns: int
    metric_name: str
    description: str
    unit: str
    metric_type: str
    temporality: Int32 | None
    is_monotonic: bool | None
    value: float | None
    count: UInt64 | None
    sum: float | None
    min: float | None
    max: float | None
    bucket_counts: UInt64List | None
    explicit_bounds: FloatList | None
    exp_scale: Int32 | None
    exp_zero_count: UInt64 | None
    exp_zero_threshold: float | None
    exp_positive_offset: Int32 | None
    exp_positive_counts: UInt64List | None
    exp_negative_offset: Int32 | None
    exp_negative_counts: UInt64List | None
    quantiles: str | None
    flags: UInt32
    exemplars: str
    service_name: str
    service_version: str
    environment: str
    session_id: str | None
    request_id: str | None
    project_id: str | None
    scope_name: str
    scope_version: str
    attributes: str
    resource_attributes: str
    received_ns: int


class SessionRow(Row):
    """What initializeSession says; identify and properties arrive later as Updates."""

    table = "sessions"

    session_id: str
    initialized: bool
    project_id: str | None
    client_id: str | None
    session_key: str | None
    sdk_version: str | None
    firstload_version: str | None
    client_config: str | None
    environment: str | None
    app_version: str | None
    service_name: str | None
    privacy_setting: str | None
    enable_strict_privacy: bool | None
    enable_recording_network_contents: bool | None
    disable_session_recording: bool | None
    network_recording_domains: str | None
    user_agent: str | None
    ip: str | None
    language: str | None
    identifier: str | None
    user_object: str | None
    properties: str | None
    started_ns: int
    last_activity_ns: int
    origin: str | None  # the page that sent initializeSession (its Origin header)


class SessionIdentity(Update):
    table = "sessions"

    session_id: str
    identifier: str | None
    user_object: str | None
    started_ns: int
    last_activity_ns: int


class SessionProperties(Update):
    table = "sessions"

    session_id: str
    properties: str | None
    started_ns: int
    last_activity_ns: int


class ReplayChunkRow(Row):
    table = "replay_chunks"

    session_id: str
    payload_id: str
    first_ms: int | None
    last_ms: int | None
    event_count: Int32
    has_full_snapshot: bool
    events: str
    is_beacon: bool
    has_session_unloaded: bool
    first_url: str | None
    page_count: Int32
    click_count: Int32
    error_count: Int32
    console_error_count: Int32
    first_interaction_ms: int | None
    last_interaction_ms: int | None
    active_ms: int
    has_rage_clicks: bool
    received_ns: int


class SessionEventRow(Row):
    table = "session_events"

    session_id: str
    payload_id: str
    time_ms: int
    sid: int | None
    kind: str
    payload: str
    selector: str | None
    text: str | None


class NetworkRequestRow(Row):
    table = "network_requests"

    session_id: str
    payload_id: str
    start_ms: float
    end_ms: float | None
    duration_ms: float | None
    initiator_type: str
    method: str | None
    url: str
    status: Int32 | None
    request_id: str | None
    trace_id: str | None
    request_headers: str | None
    request_body: str | None
    response_headers: str | None
    response_body: str | None
    response_size: int | None
    transfer_size: int | None
    encoded_body_size: int | None
    decoded_body_size: int | None
    next_hop_protocol: str | None
    timings: str | None
    url_blocked: bool | None


class WebsocketEventRow(Row):
    table = "websocket_events"

    session_id: str
    payload_id: str
    time_ms: float
    socket_id: str
    type: str
    url: str
    size: int | None
    message: str | None


class ErrorRow(Row):
    table = "errors"

    error_id: str
    time_ns: int
    source: str
    type: str
    message: str
    stack: str
    frames: str
    url: str | None
    error_source: str | None
    line_number: Int32 | None
    column_number: Int32 | None
    service_name: str | None
    service_version: str | None
    environment: str | None
    session_id: str | None
    payload_id: str | None
    request_id: str | None
    trace_id: str | None
    span_id: str | None
    payload: str | None
    received_ns: int
    group_id: str = ""  # assigned by the writer, which knows the groups (store/grouping.py)


class ErrorGroupRow(Row):
    table = "error_groups"

    group_id: str
    title: str
    type: str
    source: str
    service_name: str | None
    first_seen_ns: int
    last_seen_ns: int
    occurrences: int
    state: str
    state_changed_ns: int | None
    stack: str
    frames: str
    fingerprints: str


class ErrorGroupState(Update):
    table = "error_groups"

    group_id: str
    state: str
    state_changed_ns: int | None


class FeedbackRow(Row):
    table = "session_feedback"

    session_id: str
    time_ns: int
    user_name: str | None
    user_email: str | None
    verbatim: str
    received_ns: int


class RequestDigestRow(Row):
    """An OTLP request already stored, by a digest of its decoded body (see Batch.digest)."""

    table = "request_digests"

    digest: str
    received_ns: int


class PendingErrorsRow(Row):
    """Errors derived from OTLP that the writer stores later, in a bigger batch (store/error_writes.py):
    committed with their spans or log records so that a crash loses none of them."""

    table = "pending_errors"

    received_ns: int
    errors: bytes  # msgpack of list[ErrorRow]
    error_logs: bytes  # msgpack of list[ErrorLog]


class TraceSummaryRow(Row):
    """One trace's figures, which the writer keeps with SQL over the spans and errors it stores
    (store/writes.py); declared here so that the table is checked like the others."""

    table = "trace_summaries"

    trace_id: str
    start_ns: int | None
    end_ns: int | None
    span_count: int
    listed_span_count: int
    error_span_count: int
    error_count: int
    root_is_root: bool
    root_start_ns: int | None
    root_span_id: str | None
    root_span_name: str | None
    root_service_name: str | None
    first_received_ns: int
    received_ns: int
    session_id: str | None  # schema 6 (store/schema.py)
    request_id: str | None


class ErrorGroupBucketRow(Row):
    """Occurrences of a group in a minute, stored in one commit (kept with SQL, store/writes.py)."""

    table = "error_group_buckets"

    group_id: str
    bucket_ns: int
    occurrences: int
    received_ns: int


class ErrorGroupLinkRow(Row):
    """A session ('s:…') or trace ('t:…') some error of a group belongs to (kept with SQL)."""

    table = "error_group_links"

    group_id: str
    link: str
    received_ns: int


class LogTokenRow(Row):
    """Lines with a word, per minute, level and request (kept with SQL, store/writes.py)."""

    table = "log_tokens"

    token: str
    bucket_ns: int
    level: str
    lines: int
    received_ns: int


class FlagEvaluationRow(Row):
    """A feature flag evaluation an SDK recorded as a span event (LaunchDarkly's `feature_flag`)."""

    table = "flag_evaluations"

    trace_id: str
    span_id: str
    event_index: Int32
    time_ns: int
    session_id: str | None
    flag_key: str
    value: str | None
    variation_index: str | None
    reason_kind: str | None
    reason: str
    context_id: str | None
    context_keys: str | None
    provider: str | None
    set_id: str | None
    source: str | None
    service_name: str
    attributes: str
    received_ns: int


class ErrorLog(msgspec.Struct, array_like=True, gc=False):
    """The ERROR log line of an exception event, written only when its error is new, so a resent
    span batch or a duplicate event adds no second line."""

    error_id: str
    log: LogRow


class PackedRows(msgspec.Struct, array_like=True, gc=False):
    """One kind's rows already as Arrow columns, an Arrow IPC stream: what a decoder process sends
    (ingest/decoders.py) so that the server's process never builds those rows as Python objects."""

    kind: str
    rows: int
    ipc: bytes


class Batch(msgspec.Struct, kw_only=True):
    """Everything one request produced: it is committed whole or not at all.

    `push_key` (session_id, payload_id) marks a replay push: if that push is already stored,
    the whole batch is skipped, so a retried push adds nothing twice. `digest` does the same for
    an OTLP request: a digest of its decoded body, so an exporter's retry of a request whose
    acknowledgement was lost is stored once (store/commit.py says what this does not catch).
    """

    session_inits: list[SessionRow] = []
    session_identities: list[SessionIdentity] = []
    session_properties: list[SessionProperties] = []
    session_feedback: list[FeedbackRow] = []
    error_group_states: list[ErrorGroupState] = []
    replay_chunks: list[ReplayChunkRow] = []
    spans: list[SpanRow] = []
    logs: list[LogRow] = []
    metric_points: list[MetricPointRow] = []
    session_events: list[SessionEventRow] = []
    network_requests: list[NetworkRequestRow] = []
    websocket_events: list[WebsocketEventRow] = []
    errors: list[ErrorRow] = []
    error_logs: list[ErrorLog] = []
    flag_evaluations: list[FlagEvaluationRow] = []
    # `hl-local import` only: whole rows read back from a file (hl_local/imports/), merged into what
    # is stored instead of appended; see store/writes.py for how each is de-duplicated.
    imported_sessions: list[SessionRow] = []
    imported_spans: list[SpanRow] = []
    imported_logs: list[LogRow] = []
    imported_metric_points: list[MetricPointRow] = []
    imported_network_requests: list[NetworkRequestRow] = []
    packed: list[PackedRows] = []  # kinds whose rows came as Arrow columns (their lists are empty)
    push_key: tuple[str, str] | None = None
    digest: str | None = None

    @property
    def row_count(self) -> int:
        return sum(map(self.rows_of, KINDS)) + len(self.error_logs)

    def rows_of(self, kind: str) -> int:
        return len(getattr(self, kind)) + sum(p.rows for p in self.packed if p.kind == kind)

    def kinds(self) -> list[str]:
        """The kinds this batch has rows of."""
        return [kind for kind in KINDS if self.rows_of(kind)]


# Every row kind of a Batch (a field name) → the Struct of its rows. error_logs are written with
# their errors; error_groups only by the writer, after grouping.
KINDS: Final[dict[str, type[Row] | type[Update]]] = {
    "session_inits": SessionRow,
    "session_identities": SessionIdentity,
    "session_properties": SessionProperties,
    "session_feedback": FeedbackRow,
    "error_group_states": ErrorGroupState,
    "replay_chunks": ReplayChunkRow,
    "spans": SpanRow,
    "logs": LogRow,
    "metric_points": MetricPointRow,
    "session_events": SessionEventRow,
    "network_requests": NetworkRequestRow,
    "websocket_events": WebsocketEventRow,
    "errors": ErrorRow,
    "flag_evaluations": FlagEvaluationRow,
    "imported_sessions": SessionRow,
    "imported_spans": SpanRow,
    "imported_logs": LogRow,
    "imported_metric_points": MetricPointRow,
    "imported_network_requests": NetworkRequestRow,
}

# Every Struct that stands for a table's whole row: checked column by column when the store opens.
ROW_TYPES: Final[tuple[type[Row], ...]] = (
    SpanRow,
    LogRow,
    MetricPointRow,
    SessionRow,
    ReplayChunkRow,
    SessionEventRow,
    NetworkRequestRow,
    WebsocketEventRow,
    ErrorRow,
    ErrorGroupRow,
    FeedbackRow,
    RequestDigestRow,
    PendingErrorsRow,
    TraceSummaryRow,
    ErrorGroupBucketRow,
    ErrorGroupLinkRow,
    LogTokenRow,
    FlagEvaluationRow,
)
UPDATE_TYPES: Final[tuple[type[Update], ...]] = (SessionIdentity, SessionProperties, ErrorGroupState)
