"""What the writer runs for each kind of row, in order. `{rows}` is the kind's Arrow rows.

Plain kinds append (or INSERT OR IGNORE where the table has a key). Session kinds upsert or
fold counts into `sessions`, creating the row if a push or call arrives before (or without)
initializeSession. Several rows for one session can share a group commit, so updates first
reduce their rows to one per session.
"""

from __future__ import annotations

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

# The push's own counts folded into its session. Active time also counts the gap between the
# session's last interaction and the push's first one, when under 10 s (Highlight's threshold).
_FOLD_CHUNKS = """
UPDATE sessions SET
    push_count = sessions.push_count + c.pushes,
    event_count = sessions.event_count + c.events,
    page_count = sessions.page_count + c.pages,
    click_count = sessions.click_count + c.clicks,
    error_count = sessions.error_count + c.errors,
    console_error_count = sessions.console_error_count + c.console_errors,
    has_rage_clicks = sessions.has_rage_clicks OR c.rage,
    first_event_ms = least(sessions.first_event_ms, c.first_ms),
    last_event_ms = greatest(sessions.last_event_ms, c.last_ms),
    first_url = coalesce(sessions.first_url, c.first_url),
    active_ms = sessions.active_ms + c.active_ms + CASE
        WHEN c.first_interaction_ms - sessions.last_interaction_ms BETWEEN 0 AND 10000
        THEN c.first_interaction_ms - sessions.last_interaction_ms ELSE 0 END,
    last_interaction_ms = greatest(sessions.last_interaction_ms, c.last_interaction_ms),
    last_activity_ns = greatest(sessions.last_activity_ns, c.received_ns)
FROM (
    SELECT session_id, count(*) AS pushes, sum(event_count) AS events, sum(page_count) AS pages,
           sum(click_count) AS clicks, sum(error_count) AS errors,
           sum(console_error_count) AS console_errors, bool_or(has_rage_clicks) AS rage,
           min(first_ms) AS first_ms, max(last_ms) AS last_ms, arg_min(first_url, first_ms) AS first_url,
           min(first_interaction_ms) AS first_interaction_ms,
           max(last_interaction_ms) AS last_interaction_ms, sum(active_ms) AS active_ms,
           max(received_ns) AS received_ns
    FROM {rows} GROUP BY session_id
) AS c
WHERE sessions.session_id = c.session_id
"""

# kind → statements, in the order kinds are written within one transaction.
WRITES: dict[str, tuple[str, ...]] = {
    "session_inits": (
        f"INSERT INTO sessions BY NAME {_LATEST_PER_SESSION} ON CONFLICT (session_id) DO UPDATE SET "
        f"initialized = true, {_INIT_UPDATES}, started_ns = least(sessions.started_ns, excluded.started_ns), "
        "last_activity_ns = greatest(sessions.last_activity_ns, excluded.last_activity_ns)",
    ),
    # replay_chunks is inserted by the writer itself (INSERT OR IGNORE … RETURNING decides which
    # pushes are new); these statements then run with only the new chunks.
    "replay_chunks": (
        _CREATE_SESSIONS.format(time="received_ns"),
        _FOLD_CHUNKS,
    ),
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
    "spans": ("INSERT OR IGNORE INTO spans BY NAME SELECT * FROM {rows}",),
    "logs": ("INSERT INTO logs BY NAME SELECT * FROM {rows}",),
    "metric_points": ("INSERT INTO metric_points BY NAME SELECT * FROM {rows}",),
    "session_events": ("INSERT INTO session_events BY NAME SELECT * FROM {rows}",),
    "network_requests": ("INSERT INTO network_requests BY NAME SELECT * FROM {rows}",),
    "websocket_events": ("INSERT INTO websocket_events BY NAME SELECT * FROM {rows}",),
    "errors": ("INSERT OR IGNORE INTO errors BY NAME SELECT * FROM {rows}",),
}

INSERT_CHUNKS = (
    "INSERT OR IGNORE INTO replay_chunks BY NAME SELECT * FROM {rows} RETURNING session_id, payload_id"
)
