"""A one-word log search with a time range, answered from the writer's per-minute word counts
(query/words.py), gives the plain search's answer: its newest lines and its level histogram.

The lines with the word lie at several seconds of every minute, so each range here cuts minutes at
both edges (and a histogram's bucket bounds cut minutes inside it): those minutes' counts hold
lines on both sides of the cut, which only the rows can tell apart. The expected answers are
computed from the rows of the stopped server's file, as the plain query defines them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec
import pytest

from tests.conftest import Server, start_server

T0 = 1_800_000_000_000_000_000  # a whole minute
S, MIN = 1_000_000_000, 60_000_000_000
LEVELS = ("debug", "info", "warn", "error")
SECONDS = (2, 14, 29, 44, 58)  # where in each minute the lines are


def at(minute: int, second: float) -> int:
    return T0 + minute * MIN + int(second * S)


def lines() -> list[tuple[int, str, str]]:
    """(time, level, body): "flaky" in minutes 0-59 and 90-95 (none in 60-89), as a token in two
    bodies of five; "zebra" three times."""
    out = []
    for minute in [*range(60), *range(90, 96)]:
        for k, second in enumerate(SECONDS):
            level = LEVELS[(minute + k) % 4]
            for i, body in enumerate((f"flaky call {minute}", "FLAKY: retry", "flakyish", "all good")):
                out.append((at(minute, second + i / 1000), level, body))
    out += [
        (at(7, 30), "warn", "zebra seen"),
        (at(33, 1), "info", "a Zebra"),
        (at(51, 59.5), "error", "zebra!"),
    ]
    return out


def logs_body() -> dict[str, Any]:
    records = [
        {"timeUnixNano": str(t), "severityText": level, "body": {"stringValue": body}}
        for t, level, body in lines()
    ]
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": records}]}]}


# (word, start, end, buckets): the ranges' edges fall between lines of one minute
HISTOGRAMS = {
    "both edges cut, 7 buckets": ("flaky", at(3, 27.5), at(50, 41.25), 7),
    "one bucket": ("flaky", at(3, 27.5), at(50, 41.25), 1),
    "bounds at whole minutes": ("flaky", at(4, 0), at(46, 0), 6),
    "start only": ("flaky", at(10, 30), None, 24),
    "end only": ("flaky", None, at(40, 15), 24),
    "no line in range": ("flaky", at(62, 5), at(85, 3), 12),
    "buckets under a minute": ("flaky", at(3, 27.5), at(9, 41.25), 60),
    "rare word": ("zebra", at(2, 3), at(52, 0), 10),
}
# (word, start, end, limit)
LISTS = {
    "both edges cut": ("flaky", at(3, 27.5), at(50, 41.25), 7),
    "end cuts a full minute": ("flaky", at(0, 0), at(20, 3), 3),  # 2 of minute 20's 10 lines are in
    "fewer than the limit": ("zebra", at(7, 30), at(51, 59.5), 100),
    "no line in range": ("flaky", at(62, 5), at(85, 3), 10),
    "all of a range": ("flaky", at(58, 50), at(91, 15), 100),
}


def _params(start: int | None, end: int | None, **more: Any) -> dict[str, Any]:
    """The request's parameters: times in epoch milliseconds, as the UI sends them."""
    bounds = {"start": start, "end": end}
    assert all(t % 1_000_000 == 0 for t in bounds.values() if t is not None)
    return {**{k: str(t // 1_000_000) for k, t in bounds.items() if t is not None}, **more}


@pytest.fixture(scope="module")
def ranged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """The server's answers to each search above (and each list's second page), then stopped."""
    srv = start_server(Path(tmp_path_factory.mktemp("word-ranges")) / "hl.duckdb")
    answers: dict[str, Any] = {}
    try:
        with httpx.Client(timeout=30, base_url=srv.ui_url) as client:
            assert client.post(f"{srv.otlp_http_url}/v1/logs", json=logs_body()).status_code == 200
            for name, (word, start, end, buckets) in HISTOGRAMS.items():
                params = _params(start, end, query=word, buckets=buckets)
                answers[f"histogram: {name}"] = client.get("/api/logs/histogram", params=params).json()
            for name, (word, start, end, limit) in LISTS.items():
                params = _params(start, end, query=word, limit=limit)
                first = client.get("/api/logs", params=params).json()
                more = {"cursor": first["next_cursor"]} if first["next_cursor"] else None
                second = client.get("/api/logs", params={**params, **more}).json() if more else None
                answers[f"list: {name}"] = (first, second)
    finally:
        assert srv.stop() == 0
    yield srv, answers


def _plain(server: Server, word: str, start: int | None, end: int | None) -> list[tuple[int, str, str]]:
    """The plain search's lines in [start, end], newest first (as the list orders them)."""
    from hl_local.query.compile import compile_search

    where, params = compile_search(word, "logs")
    rows = server.query(
        f"SELECT time_ns, level, body FROM logs WHERE {where} AND time_ns >= ? AND time_ns <= ? "
        "ORDER BY time_ns DESC, rowid DESC",
        [*params, start if start is not None else -(2**63), end if end is not None else 2**63 - 1],
    )
    return [(int(t), str(level), str(body)) for t, level, body in rows]


def _plain_histogram(found: list[tuple[int, str, str]], start: int | None, end: int | None, buckets: int
                     ) -> dict[str, Any]:  # fmt: skip
    """The histogram logs.py's plain query gives: [start, end] (an open side: the lines' own) in
    `buckets` buckets of ceil((end - start + 1) / buckets)."""
    if not found and (start is None or end is None):
        raise AssertionError("no test here asks this")
    lo = start if start is not None else min(t for t, _, _ in found)
    hi = end if end is not None else max(t for t, _, _ in found)
    width = max(1, (hi - lo + buckets) // buckets)
    counts: list[dict[str, int]] = [{} for _ in range(buckets)]
    for t, level, _ in found:
        bucket = counts[(t - lo) // width]
        bucket[level] = bucket.get(level, 0) + 1
    out = [{"start_ns": lo + i * width, "counts": c} for i, c in enumerate(counts)]
    return {"start_ns": lo, "end_ns": hi, "bucket_ns": width, "buckets": out}


@pytest.mark.parametrize("name", HISTOGRAMS)
def test_a_word_s_histogram_over_a_range_is_the_plain_count(
    ranged: tuple[Server, dict[str, Any]], name: str
) -> None:
    server, answers = ranged
    word, start, end, buckets = HISTOGRAMS[name]
    found = _plain(server, word, start, end)
    assert answers[f"histogram: {name}"] == _plain_histogram(found, start, end, buckets)
    assert bool(found) == (name != "no line in range")


@pytest.mark.parametrize("name", [n for n in HISTOGRAMS if n != "buckets under a minute"])
def test_the_counts_answer_a_ranged_histogram(ranged: tuple[Server, dict[str, Any]], name: str) -> None:
    """The counts say, rather than every line of the range being matched (None: they could not)."""
    from hl_local.query.compile import compile_search
    from hl_local.query.words import ranged_histogram

    server, answers = ranged
    word, start, end, buckets = HISTOGRAMS[name]
    where, params = compile_search(word, "logs")
    assert server.db_path is not None
    con = duckdb.connect(str(server.db_path), read_only=True)
    try:
        counted = ranged_histogram(con, word, where, list(params), (start, end), buckets)
    finally:
        con.close()
    assert counted is not None
    assert msgspec.to_builtins(counted) == answers[f"histogram: {name}"]


@pytest.mark.parametrize("name", LISTS)
def test_a_word_s_newest_lines_in_a_range_are_the_plain_search_s(
    ranged: tuple[Server, dict[str, Any]], name: str
) -> None:
    server, answers = ranged
    word, start, end, limit = LISTS[name]
    first, second = answers[f"list: {name}"]
    found = _plain(server, word, start, end)
    got = [(line["time_ns"], line["level"], line["body"]) for line in first["items"]]
    assert got == found[:limit]
    if second is not None:  # the next page, with the same range
        got = [(line["time_ns"], line["level"], line["body"]) for line in second["items"]]
        assert got == found[limit : 2 * limit]
    assert (first["next_cursor"] is not None) == (len(found) > limit)
    assert found or name == "no line in range"


def test_no_line_in_range_is_known_from_the_counts(ranged: tuple[Server, dict[str, Any]]) -> None:
    from hl_local.query.words import newest_window

    server, _ = ranged
    assert server.db_path is not None
    con = duckdb.connect(str(server.db_path), read_only=True)
    try:
        assert newest_window(con, "flaky", 11, at(62, 5), at(85, 3)) is None  # nothing to scan
        # an end cutting minute 20: its 10 lines count nothing toward the 4 wanted, 2 being after it
        since, until = newest_window(con, "flaky", 4, at(0, 0), at(20, 3)) or (0, 0)
        assert since == at(19, 0) and until == at(21, 0)
    finally:
        con.close()
