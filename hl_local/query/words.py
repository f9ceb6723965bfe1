"""Bare-word log searches answered from the words the writer counts per minute (log_tokens).

A search that is one indexed word (decode/tokens.py) has its matching lines counted per minute and
level already: the newest lines of a rare word are looked for only from the minute where enough of
them are, and, over a span of at least one minute per bucket, a level histogram is those counts
summed in buckets of whole minutes. Both are exact: every line with the word is counted in the
minute of its time, and the lines are still matched one by one wherever a count could not say.
"""

from __future__ import annotations

import duckdb

from hl_local.decode.tokens import indexed
from hl_local.query.kept import minute_grid
from hl_local.query.responses import Histogram, HistogramBucket
from hl_local.query.search import SearchSyntaxError, Term, parse_search
from hl_local.store.writes import MINUTE_NS


def indexed_word(query: str | None) -> str | None:
    """The indexed word a search consists of, lower-cased; None for any other search."""
    if not query:
        return None
    try:
        tree = parse_search(query)
    except SearchSyntaxError:
        return None
    if isinstance(tree, Term) and not tree.regex and tree.value.isalnum() and indexed(tree.value):
        return tree.value.lower()
    return None


def _minutes(cur: duckdb.DuckDBPyConnection, word: str) -> list[tuple[int, str, int]]:
    """(minute, level, lines) with the word, oldest first."""
    found = cur.execute(
        "SELECT bucket_ns, level, sum(lines) FROM log_tokens WHERE token = ? GROUP BY ALL "
        "HAVING sum(lines) > 0 ORDER BY bucket_ns",
        [word],
    ).fetchall()
    return [(int(minute), str(level), int(n)) for minute, level, n in found]


def newest_window(cur: duckdb.DuckDBPyConnection, word: str, want: int, upper_ns: int | None) -> int | None:
    """A time from which at least `want` lines with `word` (at or before `upper_ns`) are found, else
    the first minute that has it at all; None when no line has it (nothing can match)."""
    totals: dict[int, int] = {}
    for minute, _, lines in _minutes(cur, word):
        totals[minute] = totals.get(minute, 0) + lines
    if not totals:
        return None
    counted = 0
    for minute in sorted(totals, reverse=True):
        if upper_ns is not None and minute > upper_ns:
            continue
        if upper_ns is None or minute + MINUTE_NS <= upper_ns:  # a minute the bound cuts counts nothing
            counted += totals[minute]
        if counted >= want:
            return minute
    return min(totals)


def histogram(
    cur: duckdb.DuckDBPyConnection, word: str, where: str, params: list[object], buckets: int
) -> Histogram | None:
    """The level histogram of every line with `word`, in buckets of whole minutes; None when the
    lines span less than `buckets` minutes (the caller counts them one by one)."""
    minutes = _minutes(cur, word)
    if not minutes:
        return Histogram(None, None, None, [])
    first, last = minutes[0][0], minutes[-1][0]
    # The exact first and last times: one minute of lines each, the rest of the table skipped.
    edge = f"FROM logs WHERE time_ns >= ? AND time_ns < ? AND ({where})"
    (lo,) = cur.execute(f"SELECT min(time_ns) {edge}", [first, first + MINUTE_NS, *params]).fetchone() or (
        None,
    )
    (hi,) = cur.execute(f"SELECT max(time_ns) {edge}", [last, last + MINUTE_NS, *params]).fetchone() or (
        None,
    )
    if lo is None or hi is None:
        return None
    grid = minute_grid(lo, hi + 1, buckets)
    if grid is None:
        return None
    start, width = grid
    out = [HistogramBucket(start + i * width, {}) for i in range(buckets)]
    for minute, level, lines in minutes:
        counts = out[min((minute - start) // width, buckets - 1)].counts
        counts[level] = counts.get(level, 0) + lines
    return Histogram(start, hi, width, out)
