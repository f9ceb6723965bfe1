"""What retention (store/retention.py) does to the tables the writer keeps beside the rows.

Rows go by their received time (up to a bound), or whole browser sessions go. The kept tables are
made so that both stay exact without reading what was deleted:
- `error_group_buckets` and `log_tokens` hold one row per request (received_ns) and key, so the
  rows of requests up to the bound go with them;
- an `error_group_links` row carries the newest received time of its errors, so it goes when its
  newest error does;
- a trace summary goes when everything of its trace is gone (`received_ns` is the newest), and is
  made anew from what is left when only part of it went (`first_received_ns` is the oldest).
A session's console lines and errors go by session, not by time: their words and occurrences are
taken back first, as rows of negative counts with the same received times (so they leave with
the rows they cancel), and the session's links go unless other errors of the group have it.
"""

from __future__ import annotations

from hl_local.store.writes import COUNT_LOG_TOKENS, MINUTE_NS, summaries_of

_STRADDLING = "(SELECT trace_id FROM trace_summaries WHERE first_received_ns <= $bound)"
_RESUMMARISE = (
    "DELETE FROM trace_summaries WHERE received_ns <= $bound",  # nothing of it is left
    summaries_of(_STRADDLING),  # some of it is left
    f"DELETE FROM trace_summaries WHERE trace_id IN {_STRADDLING} AND span_count = 0 AND error_count = 0",
)

# table pruned → statements run after its rows up to `$bound` (received_ns) were deleted
AFTER_ROWS_DELETED: dict[str, tuple[str, ...]] = {
    "spans": ("DELETE FROM request_digests WHERE received_ns <= $bound", *_RESUMMARISE),
    "logs": ("DELETE FROM log_tokens WHERE received_ns <= $bound",),
    "errors": (
        "DELETE FROM error_group_buckets WHERE received_ns <= $bound",
        "DELETE FROM error_group_links WHERE received_ns <= $bound",
        *_RESUMMARISE,
    ),
}

_SESSION_LINES = "logs WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions))"
_SESSION_ERRORS = "errors WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions))"

# run before the session's console lines and errors are deleted (retention's SESSION_PRUNES)
BEFORE_SESSION_ROWS_DELETED = (
    COUNT_LOG_TOKENS.replace("count(*) AS lines", "-count(*) AS lines").format(
        rows=f"(SELECT *, NULL::VARCHAR AS tokens FROM {_SESSION_LINES})"
    ),
    "INSERT INTO error_group_buckets BY NAME "
    f"SELECT group_id, time_ns // {MINUTE_NS} * {MINUTE_NS} AS bucket_ns, -count(*) AS occurrences, "
    f"received_ns FROM {_SESSION_ERRORS} GROUP BY ALL",
    "UPDATE trace_summaries SET error_count = trace_summaries.error_count - r.n "
    f"FROM (SELECT trace_id, count(*) AS n FROM {_SESSION_ERRORS} AND trace_id <> '' GROUP BY ALL) AS r "
    "WHERE trace_summaries.trace_id = r.trace_id",
)

# run after them
AFTER_SESSION_ROWS_DELETED = (
    "DELETE FROM error_group_links WHERE link IN (SELECT 's:' || unnest($sessions)) AND NOT EXISTS "
    "(SELECT 1 FROM errors AS e WHERE e.group_id = error_group_links.group_id "
    "AND e.session_id = substr(error_group_links.link, 3))",
)
