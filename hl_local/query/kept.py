"""Answers read from what the writer keeps ready beside the rows (store/writes.py), where a scan of
every row could not be fast at 10M: error groups' sessions and their occurrences per minute."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from hl_local.query.common import sessions_of_traces
from hl_local.store.writes import MINUTE_NS


def affected_sessions(cur: duckdb.DuckDBPyConnection, group_ids: list[str]) -> dict[str, int]:
    """group id → how many sessions its errors belong to, as `linked_errors` links them: an error's
    own session, else its trace's (resolved now, for the traces of errors without a session)."""
    counts = dict.fromkeys(group_ids, 0)
    if not group_ids:
        return counts
    links = cur.execute(
        "SELECT group_id, link FROM error_group_links WHERE group_id IN (SELECT unnest(?::VARCHAR[]))",
        [group_ids],
    ).fetchall()
    traces = sessions_of_traces(cur, (link[2:] for _, link in links if link.startswith("t:")))
    sessions: dict[str, set[str]] = {group_id: set() for group_id in group_ids}
    for group_id, link in links:
        session = link[2:] if link.startswith("s:") else traces.get(link[2:])
        if session is not None:
            sessions[group_id].add(session)
    counts.update({group_id: len(found) for group_id, found in sessions.items()})
    return counts


def minute_grid(lo: int, hi: int, buckets: int) -> tuple[int, int] | None:
    """(start, width) of `buckets` buckets of whole minutes from lo's minute that cover [lo, hi), or
    None when the span is too short for minute-wide buckets."""
    start = lo // MINUTE_NS * MINUTE_NS
    minutes = -(-(hi - start) // (MINUTE_NS * buckets))  # minutes per bucket, rounded up
    return (start, minutes * MINUTE_NS) if hi - start >= MINUTE_NS * buckets else None


def sparklines(
    cur: duckdb.DuckDBPyConnection, group_ids: Iterable[str], start: int, width: int, buckets: int
) -> dict[str, list[int]]:
    """Each group's occurrences in `buckets` buckets of `width` from `start` (a minute_grid), summed
    from the per-minute counts: exact, since every minute falls in one bucket."""
    lines = {group_id: [0] * buckets for group_id in group_ids}
    if lines:
        for group_id, bucket, count in cur.execute(
            "SELECT group_id, least(greatest((bucket_ns - ?) // ?, 0), ?) AS bucket, sum(occurrences) "
            "FROM error_group_buckets WHERE group_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL",
            [start, width, buckets - 1, list(lines)],
        ).fetchall():
            lines[group_id][bucket] = int(count)
    return lines
