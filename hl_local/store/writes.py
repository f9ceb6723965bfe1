"""What the writer runs for each kind of row, in order. `{rows}` is the kind's Arrow rows.

Plain kinds append (or INSERT OR IGNORE where the table has a key). Session calls upsert into
`sessions`, creating the row if identify/properties/feedback come before initializeSession.
Several rows for one session can share a group commit, so updates first reduce their rows to
one per session. Pushes never touch `sessions`: a statement per group there cost ~20 ms.
"""

from __future__ import annotations

from hl_local.decode.records import PROMOTED_ATTRIBUTES, LogRow, MetricPointRow, NetworkRequestRow, SessionRow
from hl_local.decode.tokens import sql_tokens

MINUTE_NS = 60_000_000_000  # the buckets of what the writer counts ahead (errors, log words)

_CREATE_SESSIONS = (
    "INSERT OR IGNORE INTO sessions (session_id, started_ns, last_activity_ns) "
    "SELECT session_id, min({time}), max({time}) FROM {{rows}} GROUP BY session_id"
)

_INIT_UPDATES = ", ".join(
    f"{c} = coalesce(excluded.{c}, sessions.{c})"
    for c in (
        "project_id", "client_id", "session_key", "sdk_version", "firstload_version", "client_config",
        "environment", "app_version", "service_name", "privacy_setting", "enable_strict_privacy",
        "enable_recording_network_contents", "disable_session_recording", "network_recording_domains",
        "user_agent", "ip", "language",
    )
)  # fmt: skip

_LATEST_PER_SESSION = (
    "SELECT * FROM {rows} "  # one row per session: the latest
    "QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY last_activity_ns DESC) = 1"
)

_LATEST_STATE = (
    "SELECT * FROM {rows} "  # one row per group: the latest change
    "QUALIFY row_number() OVER (PARTITION BY group_id ORDER BY state_changed_ns DESC) = 1"
)


def _with_promoted(rows: str) -> str:
    """`rows` with the promoted attribute columns: from the decoder's `promoted` list when it has one,
    else computed as the search compiler's JSON lookup would.

    One `json_extract_string` with a list of paths parses each JSON text once for all the keys; CASE
    runs it only for the rows whose decoder did not look the keys up.
    """
    paths = ", ".join(f"'$.\"{key}\"'" for key in PROMOTED_ATTRIBUTES)
    columns = ", ".join(
        f"CASE WHEN promoted IS NULL THEN coalesce(_own[{i}], _resource[{i}]) "
        f"ELSE promoted[{i}] END AS {column}"
        for i, column in enumerate(PROMOTED_ATTRIBUTES.values(), start=1)
    )
    lookup = ", ".join(
        f"CASE WHEN promoted IS NULL THEN json_extract_string({column}, [{paths}]) END AS {alias}"
        for column, alias in (("attributes", "_own"), ("resource_attributes", "_resource"))
    )
    return f"SELECT * EXCLUDE (_own, _resource, promoted), {columns} FROM (SELECT *, {lookup} FROM {rows})"


# Each log line's words per minute and level (decode/tokens.py); lines whose decoder did not
# take their words have them taken here.
_LINE_TOKENS = sql_tokens("body").replace("{", "{{").replace("}", "}}")  # {rows} is formatted later
COUNT_LOG_TOKENS = (
    "INSERT INTO log_tokens BY NAME "
    f"SELECT token, time_ns // {MINUTE_NS} * {MINUTE_NS} AS bucket_ns, level, count(*) AS lines, received_ns "
    f"FROM (SELECT unnest(CASE WHEN tokens IS NULL THEN {_LINE_TOKENS} WHEN tokens = '' THEN []::VARCHAR[] "
    "ELSE string_split(tokens, ' ') END) AS token, "
    "time_ns, level, received_ns FROM {rows}) GROUP BY ALL"
)
COUNT_STORED_LOG_TOKENS = COUNT_LOG_TOKENS.format(rows="(SELECT *, NULL::VARCHAR AS tokens FROM logs)")


_WRAPPERS = "('highlight.log', 'highlight.go.log')"  # views.sql listed_spans leaves these out

# A trace's figures over some of its spans: as the trace list defines them, the root is the span
# without a parent, else the earliest span.
_TRACE_PARTS = f"""
SELECT trace_id,
       min(start_ns) AS start_ns,
       max(end_ns) AS end_ns,
       count(*) AS span_count,
       count(*) FILTER (WHERE name NOT IN {_WRAPPERS}) AS listed_span_count,
       count(*) FILTER (WHERE status_code = 2) AS error_span_count,
       0 AS error_count,
       bool_or(parent_span_id = '') AS root_is_root,
       coalesce(min(start_ns) FILTER (WHERE parent_span_id = ''), min(start_ns)) AS root_start_ns,
       coalesce(arg_min(span_id, start_ns) FILTER (WHERE parent_span_id = ''), arg_min(span_id, start_ns))
           AS root_span_id,
       coalesce(arg_min(name, start_ns) FILTER (WHERE parent_span_id = ''), arg_min(name, start_ns))
           AS root_span_name,
       coalesce(arg_min(service_name, start_ns) FILTER (WHERE parent_span_id = ''),
                arg_min(service_name, start_ns)) AS root_service_name,
       min(session_id) AS session_id,
       min(request_id) AS request_id,
       min(received_ns) AS first_received_ns,
       max(received_ns) AS received_ns
FROM {{rows}} GROUP BY trace_id
"""

# The stored root stays unless the new spans bring a better one: a parentless span where it had
# none, or an earlier span of the same kind.
_NEW_ROOT = (
    "(trace_summaries.root_span_id IS NULL OR (excluded.root_is_root AND NOT trace_summaries.root_is_root) "
    "OR (excluded.root_is_root = trace_summaries.root_is_root "
    "AND excluded.root_start_ns < trace_summaries.root_start_ns))"
)
_ROOT_UPDATES = ", ".join(
    f"{c} = CASE WHEN {_NEW_ROOT} THEN excluded.{c} ELSE trace_summaries.{c} END"
    for c in ("root_start_ns", "root_span_id", "root_span_name", "root_service_name")
)
UPSERT_TRACE_SUMMARIES = f"""
INSERT INTO trace_summaries BY NAME {_TRACE_PARTS}
ON CONFLICT (trace_id) DO UPDATE SET
    start_ns = least(trace_summaries.start_ns, excluded.start_ns),
    end_ns = greatest(trace_summaries.end_ns, excluded.end_ns),
    span_count = trace_summaries.span_count + excluded.span_count,
    listed_span_count = trace_summaries.listed_span_count + excluded.listed_span_count,
    error_span_count = trace_summaries.error_span_count + excluded.error_span_count,
    {_ROOT_UPDATES},
    root_is_root = trace_summaries.root_is_root OR excluded.root_is_root,
    session_id = least(trace_summaries.session_id, excluded.session_id),
    request_id = least(trace_summaries.request_id, excluded.request_id),
    first_received_ns = least(trace_summaries.first_received_ns, excluded.first_received_ns),
    received_ns = greatest(trace_summaries.received_ns, excluded.received_ns)
"""

# New errors count on their trace's summary (creating it when the errors come first).
COUNT_TRACE_ERRORS = """
INSERT INTO trace_summaries (trace_id, span_count, listed_span_count, error_span_count, error_count,
                             root_is_root, first_received_ns, received_ns)
SELECT trace_id, 0, 0, 0, count(*), false, min(received_ns), max(received_ns) FROM {rows}
WHERE trace_id IS NOT NULL AND trace_id <> '' GROUP BY trace_id
ON CONFLICT (trace_id) DO UPDATE SET error_count = trace_summaries.error_count + excluded.error_count,
    first_received_ns = least(trace_summaries.first_received_ns, excluded.first_received_ns),
    received_ns = greatest(trace_summaries.received_ns, excluded.received_ns)
"""

# New errors per group and minute, and the sessions (or, without one, the traces) they belong to.
_BUCKETS = f"""
SELECT group_id, time_ns // {MINUTE_NS} * {MINUTE_NS} AS bucket_ns, count(*) AS occurrences, received_ns
FROM {{rows}} GROUP BY ALL
"""  # per request (received_ns) too: retention removes a bucket row exactly with its errors
_LINKS = """
SELECT group_id, CASE WHEN session_id IS NOT NULL THEN 's:' || session_id ELSE 't:' || trace_id END AS link,
       max(received_ns) AS received_ns
FROM {rows} WHERE session_id IS NOT NULL OR (trace_id IS NOT NULL AND trace_id <> '') GROUP BY ALL
"""
COUNT_GROUP_ERRORS = (
    f"INSERT INTO error_group_buckets BY NAME {_BUCKETS}",
    f"INSERT INTO error_group_links BY NAME {_LINKS} ON CONFLICT DO UPDATE SET "
    "received_ns = greatest(error_group_links.received_ns, excluded.received_ns)",
)
COUNT_STORED_ERRORS = tuple(statement.format(rows="errors") for statement in COUNT_GROUP_ERRORS)


def summaries_of(traces: str | None = None) -> str:
    """Summaries made anew from the spans and errors stored, of the traces `traces` (a subquery of
    trace ids) or of all. A trace of that list with nothing left gets a row of zero counts."""
    among = f"trace_id IN {traces}" if traces else "TRUE"
    spans = _TRACE_PARTS.format(rows=f"(SELECT * FROM spans WHERE {among})")
    errors = (
        "SELECT trace_id, count(*) AS n, min(received_ns) AS first_ns, max(received_ns) AS last_ns "
        f"FROM errors WHERE trace_id <> '' AND {among} GROUP BY trace_id"
    )
    ids = (
        f"SELECT DISTINCT trace_id FROM {traces}"
        if traces
        else "SELECT trace_id FROM s UNION SELECT trace_id FROM e"
    )
    return f"""
INSERT OR REPLACE INTO trace_summaries BY NAME
WITH s AS ({spans}), e AS ({errors}), t AS ({ids})
SELECT t.trace_id, s.start_ns, s.end_ns, coalesce(s.span_count, 0) AS span_count,
       coalesce(s.listed_span_count, 0) AS listed_span_count,
       coalesce(s.error_span_count, 0) AS error_span_count, coalesce(e.n, 0) AS error_count,
       coalesce(s.root_is_root, false) AS root_is_root, s.root_start_ns, s.root_span_id,
       s.root_span_name, s.root_service_name, s.session_id, s.request_id,
       coalesce(least(s.first_received_ns, e.first_ns), 0) AS first_received_ns,
       coalesce(greatest(s.received_ns, e.last_ns), 0) AS received_ns
FROM t LEFT JOIN s USING (trace_id) LEFT JOIN e USING (trace_id)
"""


SUMMARISE_STORED_TRACES = summaries_of()

# Everything the writer keeps beside the rows, made anew from the rows a file holds (a migration,
# an export's new file).
SUMMARISE_STORED = (SUMMARISE_STORED_TRACES, *COUNT_STORED_ERRORS, COUNT_STORED_LOG_TOKENS)

# kind → statements, in the order kinds are written within one transaction.
WRITES: dict[str, tuple[str, ...]] = {
    "session_inits": (
        f"INSERT INTO sessions BY NAME {_LATEST_PER_SESSION} ON CONFLICT (session_id) DO UPDATE SET "
        f"initialized = true, {_INIT_UPDATES}, origin = coalesce(sessions.origin, excluded.origin), "
        "started_ns = least(sessions.started_ns, excluded.started_ns), "
        "last_activity_ns = greatest(sessions.last_activity_ns, excluded.last_activity_ns)",
    ),
    # replay_chunks is inserted by the writer itself: INSERT OR IGNORE … RETURNING decides which
    # pushes are new. Session counts are derived from the chunks when read (views.sql).
    "session_identities": (
        _CREATE_SESSIONS.format(time="last_activity_ns"),
        f"UPDATE sessions SET identifier = r.identifier, user_object = r.user_object, "
        f"last_activity_ns = greatest(sessions.last_activity_ns, r.last_activity_ns) "
        f"FROM ({_LATEST_PER_SESSION}) AS r WHERE sessions.session_id = r.session_id",
    ),
    "session_properties": (
        _CREATE_SESSIONS.format(time="last_activity_ns"),
        "UPDATE sessions SET properties = list_reduce(list_prepend(coalesce(sessions.properties, '{{}}'), "
        "r.patches), lambda a, b: json_merge_patch(a, b)), "
        "last_activity_ns = greatest(sessions.last_activity_ns, r.last_activity_ns) "
        "FROM (SELECT session_id, list(properties ORDER BY last_activity_ns) AS patches, "
        "max(last_activity_ns) AS last_activity_ns FROM {rows} GROUP BY session_id) AS r "
        "WHERE sessions.session_id = r.session_id",
    ),
    "session_feedback": (
        _CREATE_SESSIONS.format(time="received_ns"),
        "INSERT OR IGNORE INTO session_feedback BY NAME SELECT * FROM {rows}",
    ),
    "error_group_states": (
        "UPDATE error_groups SET state = r.state, state_changed_ns = r.state_changed_ns "
        f"FROM ({_LATEST_STATE}) AS r WHERE error_groups.group_id = r.group_id",
    ),
    # sorted by trace: a trace's spans sit together, so reading one trace touches fewer row groups
    "spans": (
        f"INSERT INTO spans BY NAME {_with_promoted('{rows}')} ORDER BY trace_id, start_ns",
        UPSERT_TRACE_SUMMARIES,
    ),
    "logs": (
        f"INSERT INTO logs BY NAME SELECT * EXCLUDE (tokens) FROM ({_with_promoted('{rows}')})",
        COUNT_LOG_TOKENS,
    ),
    "metric_points": ("INSERT INTO metric_points BY NAME SELECT * FROM {rows}",),
    "session_events": ("INSERT INTO session_events BY NAME SELECT * FROM {rows}",),
    "network_requests": ("INSERT INTO network_requests BY NAME SELECT * FROM {rows}",),
    "websocket_events": ("INSERT INTO websocket_events BY NAME SELECT * FROM {rows}",),
    # keyed by the span event: a resent span batch stores its evaluations once
    "flag_evaluations": ("INSERT OR IGNORE INTO flag_evaluations BY NAME SELECT * FROM {rows}",),
}

INSERT_PENDING = "INSERT INTO pending_errors BY NAME SELECT * FROM {rows}"

# only digests the writer has not stored lately (store/digests.py)
INSERT_DIGESTS = "INSERT INTO request_digests BY NAME SELECT * FROM {rows}"


def _not_stored_yet(table: str, columns: tuple[str, ...], rows: str, time: str = "time_ns") -> str:
    """`rows` less the copies `table` already holds, compared on `columns` (NULL equal to NULL).

    Tables without a key (logs, metric points, network requests outside a push) de-duplicate an
    import by content: the n-th copy of a row within the group is inserted only when the table
    holds fewer than n such rows, so a file imported twice adds nothing the second time, and rows
    repeated inside one import are all kept.
    The importer keeps identical rows in one request (hl_local/imports/), so a group sees them all.
    Stored rows are counted for the group's timestamps only: ~0.1 s per 5,000 rows against 2M
    (a correlated count per row took 7 s).
    """
    same = " AND ".join(f"h.{c} IS NOT DISTINCT FROM r.{c}" for c in columns)
    key = ", ".join(columns)
    return (
        f"(SELECT r.* EXCLUDE (_copy) FROM (SELECT *, row_number() OVER (PARTITION BY {key}) AS _copy "
        f"FROM {rows}) AS r LEFT JOIN (SELECT {key}, count(*) AS _n FROM {table} "
        f"WHERE {time} IN (SELECT {time} FROM {rows}) GROUP BY ALL) AS h ON {same} "
        "WHERE r._copy > coalesce(h._n, 0))"
    )


def _content(struct: type[LogRow] | type[MetricPointRow] | type[NetworkRequestRow]) -> tuple[str, ...]:
    """What makes two rows the same line: every column but when hl-local received it."""
    unstored = ("received_ns", *struct.staged)
    return tuple(name for name in struct.__struct_fields__ if name not in unstored)


# Spans have no key in the table (a resent request is known by its digest instead): an import
# leaves out the spans the target already holds by (trace_id, span_id), looked up within the
# traces of the batch only.
_NEW_SPANS = (
    "(SELECT r.* FROM {rows} AS r ANTI JOIN (SELECT trace_id, span_id FROM spans "
    "WHERE trace_id IN (SELECT trace_id FROM {rows})) AS h USING (trace_id, span_id))"
)
_NEW_LOGS = _not_stored_yet("logs", _content(LogRow), "{rows}")


# A session read back from an export: values the target lacks are filled in, none replaced.
_IMPORTED_SESSION_UPDATES = ", ".join(
    f"{c} = coalesce(sessions.{c}, excluded.{c})"
    for c in SessionRow.__struct_fields__
    if c not in ("session_id", "initialized", "started_ns", "last_activity_ns")
)

WRITES.update({
    "imported_sessions": (
        f"INSERT INTO sessions BY NAME {_LATEST_PER_SESSION} ON CONFLICT (session_id) DO UPDATE SET "
        f"initialized = sessions.initialized OR excluded.initialized, {_IMPORTED_SESSION_UPDATES}, "
        "started_ns = least(sessions.started_ns, excluded.started_ns), "
        "last_activity_ns = greatest(sessions.last_activity_ns, excluded.last_activity_ns)",
    ),
    "imported_spans": (  # summaries first: both statements see the same new spans
        UPSERT_TRACE_SUMMARIES.replace("{rows}", _NEW_SPANS),
        f"INSERT INTO spans BY NAME {_with_promoted(_NEW_SPANS)} ORDER BY trace_id, start_ns",
    ),
    "imported_logs": (  # words first: both statements see the same new lines
        COUNT_LOG_TOKENS.replace("{rows}", _NEW_LOGS),
        f"INSERT INTO logs BY NAME SELECT * EXCLUDE (tokens) FROM ({_with_promoted(_NEW_LOGS)})",
    ),
    "imported_metric_points": (
        "INSERT INTO metric_points BY NAME SELECT * FROM "
        + _not_stored_yet("metric_points", _content(MetricPointRow), "{rows}"),
    ),
    "imported_network_requests": (
        "INSERT INTO network_requests BY NAME SELECT * FROM "
        + _not_stored_yet("network_requests", _content(NetworkRequestRow), "{rows}", "start_ms"),
    ),
})  # fmt: skip

INSERT_CHUNKS = (
    "INSERT OR IGNORE INTO replay_chunks BY NAME SELECT * FROM {rows} RETURNING session_id, payload_id"
)

# Errors are written by the writer itself, after grouping (store/grouping.py).
INSERT_ERRORS = "INSERT OR IGNORE INTO errors BY NAME SELECT * FROM {rows} RETURNING error_id"

# A new occurrence updates counts and times, reopens a resolved group (an ignored one stays
# ignored), and brings its stack only if it is the newest: a late retry of an older error must
# not replace the stack the group shows.
UPSERT_ERROR_GROUPS = """
INSERT INTO error_groups BY NAME SELECT * FROM {rows}
ON CONFLICT (group_id) DO UPDATE SET
    first_seen_ns = least(error_groups.first_seen_ns, excluded.first_seen_ns),
    last_seen_ns = greatest(error_groups.last_seen_ns, excluded.last_seen_ns),
    occurrences = error_groups.occurrences + excluded.occurrences,
    state = CASE WHEN error_groups.state = 'resolved' THEN 'open' ELSE error_groups.state END,
    state_changed_ns = CASE WHEN error_groups.state = 'resolved' THEN excluded.last_seen_ns
                            ELSE error_groups.state_changed_ns END,
    stack = CASE WHEN excluded.last_seen_ns >= error_groups.last_seen_ns THEN excluded.stack
                 ELSE error_groups.stack END,
    frames = CASE WHEN excluded.last_seen_ns >= error_groups.last_seen_ns THEN excluded.frames
                  ELSE error_groups.frames END,
    fingerprints = excluded.fingerprints
"""
