"""`hl-local export` and `hl-local import`, with real processes, on a recorded session and its backend.

One hl-local gets the real `highlight.run` captures (main and defaults) and, over OTLP/HTTP, backend
traces linked to main's session in each way the views link them: by the traceparent of its fetch,
by the X-Highlight-Request id of its XHR (as highlight.trace_id), and by highlight.session_id on a
root span; with logs, an exception event and an exception log record. Beside them: a trace of
another service raising the same error (so its error group has an occurrence main's export must not
count), a log line of nobody, and the defaults session. The file is then exported, the export is
opened read-only in a second hl-local next to the source (also read-only), and the API's answers
are compared; the other formats are read back by DuckDB and by `hl-local import`.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.conftest import Server, run_hl_local, start_server
from tests.test_api_logs_traces import EXCEPTION, MS, T0, log, logs_body, span, traces_body
from tests.test_highlight_replay import Capture, send_all

Json = dict[str, Any]
TRACE_XHR, TRACE_DIRECT, TRACE_OTHER = "ab" * 16, "cd" * 16, "ef" * 16
TABLES = ("sessions", "replay_chunks", "session_events", "network_requests", "websocket_events",
          "session_feedback", "spans", "logs", "errors", "error_groups", "metric_points")  # fmt: skip


@dataclass
class Source:
    db: Path
    main_id: str
    defaults_id: str
    fetch_trace: str  # the traceparent trace of main's fetch
    folder: Path

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def _backend(server: Server, main_id: str, fetch: Json, xhr: Json) -> None:
    """Backend telemetry linked to main's session in the three ways, and some that is not."""
    at = (int(fetch["start_ms"]) + 5) * MS
    raised = {"exception.type": "KeyError", "exception.message": "order 7"}
    exception_log = log(at + 9 * MS, "error", "refund failed", TRACE_DIRECT, "2" * 16, attributes=raised)
    with httpx.Client(timeout=30) as client:
        bodies = [
            ("/v1/traces", traces_body("shop-api", [
                span(fetch["trace_id"], "1" * 16, "", "POST /api/echo", at, 20 * MS),
                span(fetch["trace_id"], "3" * 16, "1" * 16, "charge card", at + MS, 5 * MS, 2,
                     events=[EXCEPTION]),
                span(TRACE_XHR, "4" * 16, "", "GET /api/echo", at + 50 * MS, 8 * MS,
                     attributes={"highlight.trace_id": xhr["request_id"]}),
                span(TRACE_DIRECT, "5" * 16, "", "refund", at + 90 * MS, 30 * MS,
                     attributes={"highlight.session_id": main_id}),
                span(TRACE_DIRECT, "2" * 16, "5" * 16, "load order", at + 91 * MS, 10 * MS),
            ])),
            ("/v1/traces", traces_body("batch", [  # the same error, elsewhere: the group counts it too
                span(TRACE_OTHER, "6" * 16, "", "nightly", T0, 40 * MS, 2, events=[EXCEPTION]),
            ])),
            ("/v1/logs", logs_body("shop-api", [
                log(at + 2 * MS, "info", "charging", fetch["trace_id"], "3" * 16),
                log(at + 52 * MS, "warn", "slow echo", TRACE_XHR, "4" * 16),
                exception_log,
                log(at + 200 * MS, "info", "session note", attributes={"highlight.session_id": main_id}),
                log(T0 + 5 * MS, "info", "nobody's line"),
            ])),
        ]  # fmt: skip
        for path, body in bodies:
            reply = client.post(f"{server.otlp_http_url}{path}", json=body)
            assert reply.status_code == 200, reply.text


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    folder = tmp_path_factory.mktemp("export")
    db = folder / "source.duckdb"
    main, defaults = Capture.load("main"), Capture.load("defaults")
    [main_id], [defaults_id] = main.session_ids, defaults.session_ids
    server = start_server(db)
    try:
        send_all(server, main)
        send_all(server, defaults)
        network = httpx.get(f"{server.ui_url}/api/sessions/{main_id}/network", timeout=30).json()["items"]
        fetch = next(r for r in network if r["method"] == "POST" and r["trace_id"])
        xhr = next(r for r in network if r["method"] == "GET" and r["request_id"])
        _backend(server, main_id, fetch, xhr)
    finally:
        server.stop()
    found = Source(db, main_id, defaults_id, fetch["trace_id"], folder)
    [(occurrences,)] = found.query("SELECT max(occurrences) FROM error_groups WHERE source = 'backend'")
    assert occurrences == 2, "the shared error group counts the other service's occurrence"
    return found


def export(source: Source, *args: str) -> Path:
    out = Path(args[args.index("-o") + 1])
    done = run_hl_local("export", "--db", str(source.db), *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported "), done.stdout
    return out


@pytest.fixture(scope="module")
def session_file(source: Source) -> Path:
    return export(source, "--session", source.main_id, "-o", str(source.folder / "main.duckdb"))


@pytest.fixture(scope="module")
def servers(source: Source, session_file: Path) -> Iterator[tuple[Server, Server]]:
    """The source and the export, each opened read-only by its own hl-local, side by side."""
    original = start_server(source.db, "--read-only")
    try:
        exported = start_server(session_file, "--read-only")
        try:
            yield original, exported
        finally:
            for client in _clients.values():
                client.close()
            exported.stop()
    finally:
        original.stop()


_clients: dict[str, httpx.Client] = {}


def answer(server: Server, path: str, **params: Any) -> Any:
    client = _clients.setdefault(server.ui_url, httpx.Client(base_url=server.ui_url, timeout=30))
    reply = client.get(path, params=params)
    assert reply.status_code == 200, (path, reply.text)
    return reply.json()


def same(original: Server, exported: Server, path: str, **params: Any) -> Any:
    """The answer of `path`, which must be the same from the source and from the export."""
    before, after = answer(original, path, **params), answer(exported, path, **params)
    assert without_line_ids(after) == without_line_ids(before), path
    return after


def without_line_ids(value: Any) -> Any:
    """A log line's `line_id` is its place in its own file (time and rowid), not part of the line."""
    if isinstance(value, dict):
        return {k: without_line_ids(v) for k, v in value.items() if k != "line_id"}
    if isinstance(value, list):
        return [without_line_ids(v) for v in value]
    return value


def test_the_export_shows_the_session_linked_as_the_source_does(
    source: Source, servers: tuple[Server, Server]
) -> None:
    original, exported = servers
    base = f"/api/sessions/{source.main_id}"
    [listed] = answer(exported, "/api/sessions")["items"]  # main only, and as the source lists it
    assert listed == next(
        s for s in answer(original, "/api/sessions")["items"] if s["session_id"] == source.main_id
    )
    same(original, exported, base)
    events = same(original, exported, f"{base}/events")
    assert len(events) > 200
    same(original, exported, f"{base}/timeline")
    assert same(original, exported, f"{base}/console")["items"]
    network = same(original, exported, f"{base}/network")["items"]
    backend = {r["backend_trace_id"] for r in network} - {None}
    assert {source.fetch_trace, TRACE_XHR} <= backend  # traceparent and request id, as linked at the source
    errors = same(original, exported, f"{base}/errors")["items"]
    logs = same(original, exported, f"{base}/logs")["items"]
    assert {"charging", "slow echo", "session note", "refund failed"} <= {line["body"] for line in logs}
    for error in errors:
        same(original, exported, f"/api/errors/{error['error_id']}")

    # every trace of the session, and no other
    traces = {t["trace_id"] for t in answer(exported, "/api/traces", limit=1000)["items"]}
    browser = {row[0] for row in source.query("SELECT DISTINCT trace_id FROM spans WHERE session_id = ?",
                                              [source.main_id])}  # fmt: skip
    assert traces == browser | {source.fetch_trace, TRACE_XHR, TRACE_DIRECT}
    for trace_id in traces:
        trace = same(original, exported, f"/api/traces/{trace_id}")  # its spans, logs, errors, session
        assert trace["session_id"] == source.main_id
    lines = {line["body"] for line in answer(exported, "/api/logs", limit=1000)["items"]}
    assert "nobody's line" not in lines and "nobody's line" in {
        line["body"] for line in answer(original, "/api/logs", limit=1000)["items"]
    }


def test_error_groups_count_what_the_file_holds(source: Source, servers: tuple[Server, Server]) -> None:
    original, exported = servers
    groups = answer(exported, "/api/error-groups", limit=1000)["items"]
    held = answer(exported, "/api/stats")["errors"]
    assert sum(g["occurrences"] for g in groups) == held
    shared = next(g for g in groups if g["title"] == "card declined")
    detail = answer(exported, f"/api/error-groups/{shared['group_id']}")
    assert detail["occurrences"] == 1 and len(detail["occurrences_latest"]) == 1
    at_source = answer(original, f"/api/error-groups/{shared['group_id']}")
    assert at_source["occurrences"] == 2  # the other service's occurrence stayed behind
    assert {k: detail[k] for k in ("title", "type", "source", "state")} == {
        k: at_source[k] for k in ("title", "type", "source", "state")
    }


def test_a_search_and_a_trace_choose_what_ids_do(source: Source, session_file: Path) -> None:
    query = f"secure_id={source.main_id} identifier=user@example.com"
    by_query = export(source, "--query", query, "-o", str(source.folder / "q.duckdb"))
    assert _counts(by_query) == _counts(session_file)
    one = export(source, "--trace", TRACE_XHR, "-o", str(source.folder / "t.duckdb"))
    counts = _counts(one)
    assert counts["spans"] == 1 and counts["logs"] == 1 and counts["sessions"] == 0
    assert counts["network_requests"] == 1  # the XHR that started it, so it keeps its session
    with duckdb.connect(str(one), read_only=True) as con:
        sql = "SELECT session_id FROM trace_sessions WHERE trace_id = ?"
        assert con.execute(sql, [TRACE_XHR]).fetchall() == [(source.main_id,)]
    by_errors = export(
        source, "--signal", "errors", "--query", "type=KeyError", "-o", str(source.folder / "e.duckdb")
    )
    assert _counts(by_errors)["spans"] == 2  # the trace of the exception log record, whole


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}


def test_importing_an_export_twice_stores_it_once(source: Source, session_file: Path) -> None:
    target = source.folder / "target.duckdb"
    first = run_hl_local("import", "--db", str(target), str(session_file))
    assert first.returncode == 0, first.stderr
    after_one = _counts(target)
    assert after_one == _counts(session_file)
    second = run_hl_local("import", "--db", str(target), str(session_file))
    assert second.returncode == 0, second.stderr
    assert "nothing new" in second.stdout
    assert _counts(target) == after_one
    # into the very database it came from: everything is already there, logs and points included
    copy = source.folder / "copy.duckdb"
    shutil.copy(source.db, copy)
    back = run_hl_local("import", "--db", str(copy), str(session_file))
    assert back.returncode == 0, back.stderr
    assert _counts(copy) == source.counts()
    with duckdb.connect(str(target), read_only=True) as con:  # groups made by the target's writer
        [(groups, occurrences, errors)] = con.execute(
            "SELECT count(*), sum(occurrences), (SELECT count(*) FROM errors) FROM error_groups"
        ).fetchall()
    assert occurrences == errors and groups >= 2


def test_parquet_holds_every_table(source: Source) -> None:
    folder = export(source, "--format", "parquet", "-o", str(source.folder / "parquet"))
    expected = source.counts()
    with duckdb.connect() as con:
        for table in TABLES:
            path = str(folder / f"{table}.parquet")
            assert (
                con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchall()[0][0]
                == expected[table]
            )
        columns = [
            d[0]
            for d in con.execute(
                "SELECT * FROM read_parquet(?) LIMIT 0", [str(folder / "spans.parquet")]
            ).description
        ]
    assert columns[:3] == ["trace_id", "span_id", "parent_span_id"] and "attr_http_method" in columns


def test_otlp_json_round_trips_through_duckdb_and_import(source: Source) -> None:
    path = export(source, "-o", str(source.folder / "all.jsonl.gz"))
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    spans = sum(
        len(s["spans"]) for line in lines for r in line.get("resourceSpans", []) for s in r["scopeSpans"]
    )
    assert spans == source.counts()["spans"]
    with duckdb.connect() as con:  # DuckDB reads the Collector's format as it is
        shape = "{resourceSpans: 'STRUCT(scopeSpans STRUCT(spans JSON[])[])[]'}"
        [(read,)] = con.execute(
            "SELECT sum(len(s.spans)) FROM (SELECT unnest(resourceSpans) AS r FROM read_json(?, "
            f"format = 'newline_delimited', columns = {shape})), unnest(r.scopeSpans) AS u(s)",
            [str(path)],
        ).fetchall()
    assert read == spans
    target = source.folder / "from-otlp.duckdb"
    for _ in range(2):  # the second import adds nothing
        done = run_hl_local("import", "--db", str(target), str(path))
        assert done.returncode == 0, done.stderr
        counts = _counts(target)
        want = source.counts()
        for table in ("spans", "logs", "metric_points"):
            assert counts[table] == want[table], table
        [(backend_errors,)] = source.query("SELECT count(*) FROM errors WHERE source = 'backend'")
        assert counts["errors"] == backend_errors  # derived again from the spans and log records


def test_a_bad_line_is_reported_and_the_rest_imported(tmp_path: Path) -> None:
    good = {"resourceSpans": [{"scopeSpans": [{"spans": [span("12" * 16, "1" * 16, "", "kept", T0, MS)]}]}]}
    bad_id = {"resourceSpans": [{"scopeSpans": [{"spans": [span("zz", "2" * 16, "", "lost", T0, MS)]}]}]}
    later = logs_body("svc", [log(T0, "info", "after the bad lines")])
    lines = [json.dumps(good), '{"resourceSpans": [', json.dumps(bad_id), "", json.dumps(later)]
    path = tmp_path / "collector.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "t.duckdb"
    done = run_hl_local("import", "--db", str(db), str(path))
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert [line.split(": ", 1)[0] for line in errors] == [f"{path}:2", f"{path}:3"], done.stderr
    assert "traceId" in errors[1]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT name FROM spans").fetchall() == [("kept",)]
        assert con.execute("SELECT body FROM logs").fetchall() == [("after the bad lines",)]


def test_export_errors_are_one_line(source: Source, session_file: Path) -> None:
    cases = [
        (["--session", "nope", "-o", str(source.folder / "x.duckdb")], 1, "no session 'nope'"),
        (["--session", source.main_id, "-o", str(session_file)], 1, "already exists"),
        (["--session", source.main_id, "-o", str(source.folder / "x.txt")], 1, "cannot tell the format"),
        (["-o", str(source.folder / "x.html")], 2, "one session"),
        (["--signal", "metrics", "--query", "", "-o", str(source.folder / "x.duckdb")], 2, "--signal"),
        (
            ["--query", "level=(", "--signal", "logs", "-o", str(source.folder / "x.duckdb")],
            1,
            "does not parse",
        ),
    ]
    for args, code, text in cases:
        done = run_hl_local("export", "--db", str(source.db), *args)
        assert done.returncode == code, (args, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("hl-local: ") and text in line, line
    assert not (source.folder / "x.duckdb").exists()
    assert not [p for p in source.folder.iterdir() if ".partial-" in p.name]


def test_export_while_the_database_is_held_asks_the_running_server(source: Source) -> None:
    db = source.folder / "held.duckdb"
    shutil.copy(source.db, db)
    server = start_server(db)
    try:
        port = server.ui_url.rsplit(":", 1)[1]
        out = source.folder / "held-main.html"
        done = run_hl_local(
            "export", "--db", str(db), "--port", port, "--session", source.main_id, "-o", str(out)
        )
        assert done.returncode == 0, done.stderr
        assert out.read_bytes().startswith(b"<!doctype html>")
        reply = httpx.get(f"{server.ui_url}/api/export", params={"format": "duckdb", "session": "nope"})
        assert reply.status_code == 404 and "no session" in reply.json()["detail"]
        reply = httpx.get(f"{server.ui_url}/api/export", params={"format": "parquet"})
        assert reply.status_code == 400
        reply = httpx.get(f"{server.ui_url}/api/export", params={"format": "duckdb", "trace": TRACE_DIRECT})
        assert reply.status_code == 200
        assert reply.headers["content-disposition"].startswith("attachment")
        downloaded = source.folder / "downloaded.duckdb"
        downloaded.write_bytes(reply.content)
        assert _counts(downloaded)["spans"] == 2
        refused = run_hl_local("import", "--db", str(db), str(downloaded))  # an import needs the file itself
        assert refused.returncode == 1 and "stop it and import again" in refused.stderr, refused.stderr
    finally:
        server.stop()
