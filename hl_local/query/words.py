"""Bare-word log searches answered from the words the writer counts per minute (log_tokens).

A search that is one indexed word (decode/tokens.py) has its matching lines counted per minute and
level already. The newest lines of a word are looked for only from the minute where enough of them
are, and only up to the last minute that has it; a level histogram sums the counts of the minutes
that fall wholly in one bucket, and matches lines one by one only in the minutes that a bucket's
bound or the range's edge cuts. Both are exact: every line with the word is counted in the minute
of its time, and the lines are still matched one by one wherever a count could not say.

A minute is `time_ns // MINUTE_NS * MINUTE_NS` as DuckDB computes it, truncated toward zero: the
minutes after time 0 hold [minute, minute + 1 min), while minute 0 and those before hold times on
both sides of them, so those are never taken whole.
"""

from __future__ import annotations

from itertools import pairwise

import duckdb

from hl_local.decode.tokens import indexed
from hl_local.query.kept import minute_grid
from hl_local.query.responses import Histogram, HistogramBucket
from hl_local.query.search import SearchSyntaxError, Term, parse_search
from hl_local.store.writes import MINUTE_NS

# Past this many time spans to count one by one, the histogram counts every line of its range.
_MAX_SPANS = 256


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


def _minutes(
    cur: duckdb.DuckDBPyConnection, word: str, lo: int | None = None, hi: int | None = None
) -> list[tuple[int, str, int]]:
    """(minute, level, lines) with the word, oldest first: every minute that may hold a time in
    [lo, hi] (see the module docstring: a minute may hold times up to a minute either side of it)."""
    sql = "SELECT bucket_ns, level, sum(lines) FROM log_tokens WHERE token = ?"
    params: list[object] = [word]
    if lo is not None:
        sql, params = f"{sql} AND bucket_ns > ?", [*params, lo - MINUTE_NS]
    if hi is not None:
        sql, params = f"{sql} AND bucket_ns <= ?", [*params, hi if hi >= 0 else hi + MINUTE_NS - 1]
    found = cur.execute(f"{sql} GROUP BY ALL HAVING sum(lines) > 0 ORDER BY bucket_ns", params).fetchall()
    return [(int(minute), str(level), int(n)) for minute, level, n in found]


def _times(minute: int) -> tuple[int, int]:
    """The first and last time a line counted in `minute` may have (see the module docstring)."""
    return (minute if minute > 0 else minute - MINUTE_NS + 1), minute + MINUTE_NS - 1


def _whole(minute: int, lo: int | None, hi: int | None) -> bool:
    """Whether every time of `minute` is in [lo, hi] (None: unbounded)."""
    first, last = _times(minute)
    return minute > 0 and (lo is None or first >= lo) and (hi is None or last <= hi)


def newest_window(
    cur: duckdb.DuckDBPyConnection, word: str, want: int, lower_ns: int | None, upper_ns: int | None
) -> tuple[int, int] | None:
    """[since, until): times that hold the newest `want` lines with `word` in [lower_ns, upper_ns]
    (or all of them); None when no line there has it (nothing can match).

    Only minutes wholly inside, and before `upper_ns` (a cursor's time: some lines of it may be on
    the page before), count toward `want`: a minute that a bound cuts may hold lines outside it. Its
    lines are still searched; the caller's own bounds keep those outside out.
    """
    totals: dict[int, int] = {}
    for minute, _, lines in _minutes(cur, word, lower_ns, upper_ns):
        totals[minute] = totals.get(minute, 0) + lines
    if not totals:
        return None
    until = max(totals) + MINUTE_NS  # no line with the word is newer
    inner = None if upper_ns is None else upper_ns - 1
    counted = 0
    for minute in sorted(totals, reverse=True):
        if _whole(minute, lower_ns, inner):
            counted += totals[minute]
            if counted >= want:
                return minute, until
    return _times(min(totals))[0], until


def _edge(
    cur: duckdb.DuckDBPyConnection,
    minutes: list[int],
    where: str,
    params: list[object],
    bounds: tuple[int | None, int | None],
    newest: bool,
) -> int | None:
    """The first (or last) time in `bounds` of a line matching `where`, read from the oldest (or
    newest) of `minutes` (those holding the word) on: only a minute cut by a bound can have none."""
    lo, hi = bounds
    aggregate = "max" if newest else "min"
    for minute in sorted(set(minutes), reverse=newest)[:2]:  # more: the counts disagree with the rows
        first, last = _times(minute)
        first, last = first if lo is None else max(first, lo), last if hi is None else min(last, hi)
        sql = f"SELECT {aggregate}(time_ns) FROM logs WHERE time_ns BETWEEN ? AND ? AND ({where})"
        (found,) = cur.execute(sql, [first, last, *params]).fetchone() or (None,)
        if found is not None:
            return int(found)
    return None


def histogram(
    cur: duckdb.DuckDBPyConnection, word: str, where: str, params: list[object], buckets: int
) -> Histogram | None:
    """The level histogram of every line with `word`, in buckets of whole minutes; None when the
    lines span less than `buckets` minutes (the caller counts them one by one)."""
    minutes = _minutes(cur, word)
    if not minutes:
        return Histogram(None, None, None, [])
    # The exact first and last times: one minute of lines each, the rest of the table skipped.
    lo = _edge(cur, [minutes[0][0]], where, params, (None, None), newest=False)
    hi = _edge(cur, [minutes[-1][0]], where, params, (None, None), newest=True)
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


def ranged_histogram(
    cur: duckdb.DuckDBPyConnection,
    word: str,
    where: str,
    params: list[object],
    bounds: tuple[int | None, int | None],
    buckets: int,
) -> Histogram | None:
    """The plain query's level histogram of the lines with `word` in `bounds` ([start, end], at least
    one given), from the counts; None when they cannot say (buckets narrower than a minute, a minute
    at or before time 0, one side open and no line), for the caller to count every line."""
    cur.execute("BEGIN TRANSACTION")  # counts and rows from one snapshot: some counts are subtracted
    try:
        found = _ranged_histogram(cur, word, where, params, bounds, buckets)
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")
    return found


def _ranged_histogram(
    cur: duckdb.DuckDBPyConnection,
    word: str,
    where: str,
    params: list[object],
    bounds: tuple[int | None, int | None],
    buckets: int,
) -> Histogram | None:
    minutes = _minutes(cur, word, *bounds)
    if any(minute <= 0 for minute, _, _ in minutes):
        return None
    held = [minute for minute, _, _ in minutes]
    # An open side is the matches' own first or last time, as in the plain query.
    lo = _edge(cur, held, where, params, bounds, newest=False) if bounds[0] is None else bounds[0]
    hi = _edge(cur, held, where, params, bounds, newest=True) if bounds[1] is None else bounds[1]
    if lo is None or hi is None:
        return None
    width = max(1, (hi - lo + buckets) // buckets)  # as the plain query's
    out = [HistogramBucket(lo + i * width, {}) for i in range(buckets)]
    if minutes and width < MINUTE_NS:
        return None
    totals: dict[int, dict[str, int]] = {}
    for minute, level, lines in minutes:
        totals.setdefault(minute, {})[level] = lines
    cut: dict[int, tuple[int, int, int]] = {}  # minute → the part of it inferred from its counts
    spans: list[tuple[int, int]] = []  # the other parts of the cut minutes: counted from the rows
    for minute, counts in totals.items():
        if minute > hi or minute + MINUTE_NS <= lo:  # beside the range (a side computed above)
            continue
        parts = _parts(minute, lo, hi, width)
        if len(parts) == 1:  # wholly in one bucket
            _add(out[parts[0][2]].counts, counts)
            continue
        longest = max(range(len(parts)), key=lambda i: parts[i][1] - parts[i][0])  # the most rows unread
        cut[minute] = parts[longest]
        spans += [(first, last) for i, (first, last, _) in enumerate(parts) if i != longest]
    spans = _merged(spans)
    if len(spans) > _MAX_SPANS:
        return None
    remaining = {minute: dict(totals[minute]) for minute in cut}
    for minute, part, level, n in _count_rows(cur, where, params, spans, lo, hi, width):
        remaining[minute][level] = remaining[minute].get(level, 0) - n
        if part >= 0:
            _add(out[part].counts, {level: n})
    for minute, (_, _, part) in cut.items():
        if any(n < 0 for n in remaining[minute].values()):
            return None  # the counts disagree with the rows: let the rows say
        if part >= 0:
            _add(out[part].counts, remaining[minute])
    return Histogram(lo, hi, width, out)


def _parts(minute: int, lo: int, hi: int, width: int) -> list[tuple[int, int, int]]:
    """A minute (> 0) cut at the range's edges and at bucket bounds: (first, last, part) with part a
    bucket index, -1 before the range or -2 after it. Buckets of a minute or more cut it at most once."""
    end = minute + MINUTE_NS
    bound = lo + ((minute - lo) // width + 1) * width  # the first bucket bound after the minute's start
    cuts = sorted({p for p in (lo, hi + 1, bound) if minute < p < end and p <= hi + 1})
    edges = [minute, *cuts, end]
    return [(a, z - 1, -1 if a < lo else -2 if a > hi else (a - lo) // width) for a, z in pairwise(edges)]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Time spans (first, last), sorted, with those that touch made one."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _count_rows(
    cur: duckdb.DuckDBPyConnection,
    where: str,
    params: list[object],
    spans: list[tuple[int, int]],
    lo: int,
    hi: int,
    width: int,
) -> list[tuple[int, int, str, int]]:
    """(minute, part as in _parts, level, lines) of the lines matching `where` within `spans`."""
    if not spans:
        return []
    within = " OR ".join("time_ns BETWEEN ? AND ?" for _ in spans)  # DuckDB skips row groups outside
    part = "CASE WHEN time_ns < ? THEN -1 WHEN time_ns > ? THEN -2 ELSE (time_ns - ?) // ? END"
    sql = (
        f"SELECT time_ns // {MINUTE_NS} * {MINUTE_NS}, {part}, level, count(*) FROM logs "
        f"WHERE ({within}) AND ({where}) GROUP BY ALL"
    )
    found = cur.execute(sql, [lo, hi, lo, width, *(t for span in spans for t in span), *params]).fetchall()
    return [(int(minute), int(p), str(level), int(n)) for minute, p, level, n in found]


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for level, n in more.items():
        if n:
            counts[level] = counts.get(level, 0) + n
