"""What the writer runs for each kind of row, in order. `{rows}` is the kind's Arrow rows.

Plain kinds append (or INSERT OR IGNORE where the table has a key). Session calls upsert into
`sessions`, creating the row if identify/properties/feedback come before initializeSession.
Several rows for one session can share a group commit, so updates first reduce their rows to
one per session. Pushes never touch `sessions`: a statement per group there cost ~20 ms.
"""

from __future__ import annotations

from hl_local.decode.records import PROMOTED_ATTRIBUTES, LogRow, MetricPointRow, NetworkRequestRow, SessionRow

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
    """`rows` with the promoted attribute columns, computed as the search compiler's JSON lookup would.

    One `json_extract_string` with a list of paths parses each JSON text once for all the keys.
    """
    paths = ", ".join(f"'$.\"{key}\"'" for key in PROMOTED_ATTRIBUTES)
    columns = ", ".join(
        f"coalesce(_own[{i}], _resource[{i}]) AS {column}"
        for i, column in enumerate(PROMOTED_ATTRIBUTES.values(), start=1)
    )
    return (
        f"SELECT * EXCLUDE (_own, _resource), {columns} FROM (SELECT *, "
        f"json_extract_string(attributes, [{paths}]) AS _own, "
        f"json_extract_string(resource_attributes, [{paths}]) AS _resource FROM {rows})"
    )


# kind → statements, in the order kinds are written within one transaction.
WRITES: dict[str, tuple[str, ...]] = {
    "session_inits": (
        f"INSERT INTO sessions BY NAME {_LATEST_PER_SESSION} ON CONFLICT (session_id) DO UPDATE SET "
        f"initialized = true, {_INIT_UPDATES}, started_ns = least(sessions.started_ns, excluded.started_ns), "
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
    "spans": (f"INSERT OR IGNORE INTO spans BY NAME {_with_promoted('{rows}')}",),
    "logs": (f"INSERT INTO logs BY NAME {_with_promoted('{rows}')}",),
    "metric_points": ("INSERT INTO metric_points BY NAME SELECT * FROM {rows}",),
    "session_events": ("INSERT INTO session_events BY NAME SELECT * FROM {rows}",),
    "network_requests": ("INSERT INTO network_requests BY NAME SELECT * FROM {rows}",),
    "websocket_events": ("INSERT INTO websocket_events BY NAME SELECT * FROM {rows}",),
    # keyed by the span event: a resent span batch stores its evaluations once
    "flag_evaluations": ("INSERT OR IGNORE INTO flag_evaluations BY NAME SELECT * FROM {rows}",),
}


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
    return tuple(name for name in struct.__struct_fields__ if name != "received_ns")


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
    "imported_logs": (
        "INSERT INTO logs BY NAME " + _with_promoted(_not_stored_yet("logs", _content(LogRow), "{rows}")),
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
