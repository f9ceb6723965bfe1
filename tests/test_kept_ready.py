"""What the writer keeps ready beside the rows gives the same answers as the plain queries.

Each structure (store/writes.py) is updated in the transaction that stores the rows it summarises;
here real requests arrive in an awkward order (a trace split over requests, its root last, errors
before their spans, wrapper spans) through a real server, and each answer built from a structure
is held to the same answer computed from the rows alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.conftest import Server, start_server

T0 = 1_800_000_000_000_000_000
MS = 1_000_000


def span(
    trace: str, span_id: str, parent: str, name: str, start_ms: int, duration_ms: int, **extra: Any
) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "startTimeUnixNano": str(T0 + start_ms * MS),
        "endTimeUnixNano": str(T0 + (start_ms + duration_ms) * MS),
        **extra,
    }


def traces_body(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


def error_log(trace: str, at_ms: int, message: str = "", session: str = "") -> dict[str, Any]:
    attributes = [
        {"key": "exception.type", "value": {"stringValue": "ValueError"}},
        {"key": "exception.message", "value": {"stringValue": message or f"bad {trace[:4]}"}},
    ]
    if session:
        attributes.append({"key": "highlight.session_id", "value": {"stringValue": session}})  # fmt: skip
    record = {"timeUnixNano": str(T0 + at_ms * MS), "traceId": trace, "spanId": "1" * 16,
              "severityText": "ERROR", "body": {"stringValue": "failed"},
              "attributes": attributes}  # fmt: skip
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [record]}]}]}


A, B, C, D, E = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32)
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("logs", error_log(C, 5)),  # an error before any span of its trace
    ("traces", traces_body("api", [span(A, "a1" * 8, "ff" * 8, "child", 10, 5),
                                   span(B, "b1" * 8, "", "GET /b", 50, 9)])),
    ("traces", traces_body("db", [span(A, "a2" * 8, "a0" * 8, "query", 12, 1, status={"code": 2})])),
    ("traces", traces_body("web", [span(A, "a0" * 8, "", "GET /a", 9, 30)])),  # the root, last
    ("traces", traces_body("api", [span(C, "c1" * 8, "", "GET /c", 3, 2)])),
    ("traces", traces_body("api", [span(D, "d1" * 8, "", "highlight.log", 70, 1)])),  # a wrapper alone
    ("traces", traces_body("x", [span(E, "e2" * 8, "e0" * 8, "late", 90, 4),
                                 span(E, "e3" * 8, "e0" * 8, "early", 80, 4)])),
    # errors over 40 minutes, of three messages (three groups): with their own session, through a
    # trace whose span carries one (B, below), or with neither
    *[("logs", error_log([B, C, ""][k % 3], 120_000 * k + 7 * k, f"kind {k % 3}",
                         ["", "", "s-1", "s-2"][k % 4])) for k in range(21)],
    ("traces", traces_body("api", [span(B, "b2" * 8, "b1" * 8, "GET /b part", 51, 1,
                                        attributes=[{"key": "highlight.session_id",
                                                     "value": {"stringValue": "s-3"}}])])),
]  # fmt: skip


# What the tests compare: the API's answers (from the kept structures), taken before the server stops.
ANSWERS = {"traces": ("/api/traces", {"limit": 100}), "error_groups": ("/api/error-groups", {"limit": 100})}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """The server, stopped so that its file can be read, and what the API answered first."""
    srv = start_server(Path(tmp_path_factory.mktemp("kept")) / "hl.duckdb")
    try:
        with httpx.Client(timeout=30) as client:
            for signal, body in REQUESTS:
                assert client.post(f"{srv.otlp_http_url}/v1/{signal}", json=body).status_code == 200
            answers = {
                name: client.get(f"{srv.ui_url}{path}", params=params).json()
                for name, (path, params) in ANSWERS.items()
            }
    finally:
        assert srv.stop() == 0
    yield srv, answers


# The trace list as it was computed before the writer kept trace_summaries: every span of every trace.
PLAIN_TRACE_LIST = """
SELECT s.trace_id,
       coalesce(arg_min(s.span_id, s.start_ns) FILTER (WHERE s.parent_span_id = ''),
                arg_min(s.span_id, s.start_ns)) AS root_span_id,
       coalesce(arg_min(s.name, s.start_ns) FILTER (WHERE s.parent_span_id = ''),
                arg_min(s.name, s.start_ns)) AS root_span_name,
       coalesce(arg_min(s.service_name, s.start_ns) FILTER (WHERE s.parent_span_id = ''),
                arg_min(s.service_name, s.start_ns)) AS service_name,
       min(s.start_ns) AS start_ns,
       max(s.end_ns) - min(s.start_ns) AS duration_ns,
       count(*) AS span_count,
       bool_or(s.status_code = 2) OR EXISTS (SELECT 1 FROM errors AS e WHERE e.trace_id = s.trace_id)
           AS has_errors
FROM spans AS s
WHERE s.trace_id IN (SELECT trace_id FROM listed_spans)
GROUP BY s.trace_id
ORDER BY start_ns DESC, s.trace_id DESC
"""


def test_the_trace_list_is_the_summary_of_every_span(stored: tuple[Server, dict[str, Any]]) -> None:
    server, answers = stored
    listed = answers["traces"]["items"]
    assert [t["trace_id"] for t in listed] == [E, B, A, C]  # D holds only a wrapper span
    fields = ("trace_id", "root_span_id", "root_span_name", "service_name", "start_ns", "duration_ns",
              "span_count", "has_errors")  # fmt: skip
    got = [tuple(t[f] for f in fields) for t in listed]
    assert got == server.query(PLAIN_TRACE_LIST)
    by_id = {t[0]: t for t in got}
    assert by_id[A][1:4] == ("a0" * 8, "GET /a", "web")  # the parentless root, though it came last
    assert by_id[E][2] == "early"  # no parentless span: the earliest
    assert by_id[C][7] is True and by_id[E][7] is False  # C's first error came before its span


def test_the_error_group_list_is_the_count_of_every_error(stored: tuple[Server, dict[str, Any]]) -> None:
    server, answers = stored
    page = answers["error_groups"]
    start, width = page["start_ns"], page["bucket_ns"]
    assert width % 60_000_000_000 == 0 and start % 60_000_000_000 == 0  # whole minutes: from buckets
    got = {
        g["group_id"]: (g["range_occurrences"], g["affected_sessions"], g["sparkline"]) for g in page["items"]
    }
    server.stop()
    plain = {
        group_id: (n, sessions, [0] * 24)
        for group_id, n, sessions in server.query(
            "SELECT group_id, count(*), count(DISTINCT linked_session_id) FROM linked_errors "
            "GROUP BY group_id"
        )
    }
    for group_id, bucket, n in server.query(
        "SELECT group_id, least((time_ns - ?) // ?, 23), count(*) FROM errors GROUP BY ALL", [start, width]
    ):
        plain[str(group_id)][2][int(bucket)] = int(n)
    assert got == plain
    # "kind 0" (trace B) has s-1 and s-2 of its own and s-3 through B's span; C's first error none
    assert sorted(sessions for _, sessions, _ in got.values()) == [0, 2, 2, 3]


# --- log words --------------------------------------------------------------------------------------

WORD_LINES = [  # (minute, level, body): the word as a token in every case, and as part of other tokens
    (m, ["info", "warn", "error"][m % 3], body)
    for m in range(0, 90, 3)
    for body in (f"request timeout after {m} ms", "TIMEOUT, retrying", "timeouts pile up", "timeout2 x",
                 "time-out", "all good")
] + [(45, "info", "zqxrare once"), (87, "error", "Zqxrare: twice")]  # fmt: skip


def word_logs() -> dict[str, Any]:
    records = [
        {
            "timeUnixNano": str(T0 + (m * 60_000 + i) * MS),
            "severityText": level,
            "body": {"stringValue": body},
        }
        for i, (m, level, body) in enumerate(WORD_LINES)
    ]
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": records}]}]}


@pytest.fixture(scope="module")
def worded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A server given lines with words (and an exception event whose derived ERROR line has one)."""
    srv = start_server(Path(tmp_path_factory.mktemp("words")) / "hl.duckdb")
    attributes = [{"key": "exception.type", "value": {"stringValue": "TimeoutError"}},
                  {"key": "exception.message", "value": {"stringValue": "upstream timeout"}}]  # fmt: skip
    event = {"timeUnixNano": str(T0 + 30 * 60_000 * MS), "name": "exception", "attributes": attributes}
    errored = span("f" * 32, "f1" * 8, "", "GET /slow", 30 * 60_000, 5, events=[event])
    queries = {
        "histogram": ("/api/logs/histogram", {"query": "timeout", "buckets": 24}),
        "rare": ("/api/logs", {"query": "zqxrare", "limit": 100}),
        "common page 1": ("/api/logs", {"query": "TimeOut", "limit": 7}),
    }
    try:
        with httpx.Client(timeout=30) as client:
            assert client.post(f"{srv.otlp_http_url}/v1/logs", json=word_logs()).status_code == 200
            body = traces_body("api", [errored])
            assert client.post(f"{srv.otlp_http_url}/v1/traces", json=body).status_code == 200
            answers = {
                name: client.get(f"{srv.ui_url}{path}", params=p).json()
                for name, (path, p) in queries.items()
            }
            second = client.get(
                f"{srv.ui_url}/api/logs",
                params={"query": "timeout", "limit": 7, "cursor": answers["common page 1"]["next_cursor"]},
            )
            answers["common page 2"] = second.json()
    finally:
        assert srv.stop() == 0
    yield srv, answers


def _plain(server: Server, query: str) -> list[tuple[int, str, str]]:
    from hl_local.query.compile import compile_search

    where, params = compile_search(query, "logs")
    rows = server.query(
        f"SELECT time_ns, level, body FROM logs WHERE {where} ORDER BY time_ns DESC, rowid DESC", params
    )
    return [(int(t), str(level), str(body)) for t, level, body in rows]


def test_a_word_s_newest_lines_are_those_of_the_plain_search(worded: tuple[Server, dict[str, Any]]) -> None:
    server, answers = worded
    rare = [(line["time_ns"], line["level"], line["body"]) for line in answers["rare"]["items"]]
    assert rare == _plain(server, "zqxrare") and len(rare) == 2
    common = answers["common page 1"]["items"] + answers["common page 2"]["items"]
    assert [(line["time_ns"], line["level"], line["body"]) for line in common] == _plain(server, "timeout")[
        :14
    ]


def test_a_word_s_histogram_is_the_plain_count(worded: tuple[Server, dict[str, Any]]) -> None:
    server, answers = worded
    histogram = answers["histogram"]
    start, width, end = histogram["start_ns"], histogram["bucket_ns"], histogram["end_ns"]
    assert width % 60_000_000_000 == 0 and start % 60_000_000_000 == 0  # whole minutes: from the counts
    plain = [{} for _ in range(24)]
    lines = _plain(server, "timeout")
    for t, level, _ in lines:
        counts = plain[min((t - start) // width, 23)]
        counts[level] = counts.get(level, 0) + 1
    assert [b["counts"] for b in histogram["buckets"]] == plain
    assert end == max(t for t, _, _ in lines)
    assert any(body == "upstream timeout" for _, _, body in lines)  # the derived line, words taken in SQL
    assert sum(sum(b["counts"].values()) for b in histogram["buckets"]) == len(lines) == 30 * 2 + 1


# What each kept structure says, summed as readers sum it.
KEPT = {
    "traces": "SELECT * EXCLUDE (received_ns, first_received_ns) FROM trace_summaries ORDER BY trace_id",
    "buckets": "SELECT group_id, bucket_ns, sum(occurrences) FROM error_group_buckets GROUP BY ALL "
    "HAVING sum(occurrences) <> 0 ORDER BY ALL",
    "links": "SELECT group_id, link FROM error_group_links ORDER BY ALL",
    "words": "SELECT token, bucket_ns, level, sum(lines) FROM log_tokens GROUP BY ALL HAVING sum(lines) <> 0 "
    "ORDER BY ALL",
}


def _kept_now_and_anew(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], dict[str, Any]]:
    """The kept structures as they are, and as made from the rows left alone."""
    from hl_local.store.writes import SUMMARISE_STORED

    now = {name: con.execute(sql).fetchall() for name, sql in KEPT.items()}
    for table in ("trace_summaries", "error_group_buckets", "error_group_links", "log_tokens"):
        con.execute(f"DELETE FROM {table}")
    for statement in SUMMARISE_STORED:
        con.execute(statement)
    return now, {name: con.execute(sql).fetchall() for name, sql in KEPT.items()}


@pytest.mark.parametrize("share", [0.3, 0.6, 1.0])
def test_what_retention_removes_leaves_the_kept_structures_exact(
    stored: tuple[Server, dict[str, Any]], tmp_path: Path, share: float
) -> None:
    """Rows up to a received time go, table by table as retention prunes them (store/retention.py),
    then one session's console lines and errors: what is kept equals what the rows left give."""
    from hl_local.store.kept_retention import (
        AFTER_ROWS_DELETED,
        AFTER_SESSION_ROWS_DELETED,
        BEFORE_SESSION_ROWS_DELETED,
    )

    server, _ = stored
    assert server.db_path is not None
    copy = tmp_path / "pruned.duckdb"
    shutil.copy(server.db_path, copy)
    con = duckdb.connect(str(copy))
    try:
        received = "SELECT DISTINCT received_ns FROM spans UNION SELECT DISTINCT received_ns FROM errors"
        times = sorted(t for (t,) in con.execute(received).fetchall())
        bound = times[int(share * (len(times) - 1))]
        for table in ("spans", "logs", "errors"):
            con.execute(f"DELETE FROM {table} WHERE received_ns <= ?", [bound])
            for statement in AFTER_ROWS_DELETED[table]:
                con.execute(statement, {"bound": bound})
        kept, anew = _kept_now_and_anew(con)
        assert kept == anew
        if share == 1.0:
            assert not any(kept.values())  # everything went
            return
        assert kept["traces"] and kept["buckets"] and kept["words"]
        assert "s:s-2" in {link for _, link in kept["links"]}

        con.execute("UPDATE logs SET source = 'frontend' WHERE session_id = 's-2'")  # as a browser's
        con.execute("UPDATE errors SET source = 'frontend' WHERE session_id = 's-2'")
        session = {"sessions": ["s-2"]}
        for statement in BEFORE_SESSION_ROWS_DELETED:
            con.execute(statement, session)
        con.execute(
            "DELETE FROM logs WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions))", session
        )
        con.execute(
            "DELETE FROM errors WHERE source = 'frontend' AND session_id IN (SELECT unnest($sessions))",
            session,
        )
        for statement in AFTER_SESSION_ROWS_DELETED:
            con.execute(statement, session)
        kept, anew = _kept_now_and_anew(con)
        assert kept == anew
        assert "s:s-2" not in {link for _, link in kept["links"]}
    finally:
        con.close()
