"""hl_local.query: the search language parsed to a tree, compiled to SQL, and run on real tables.

Parser tests assert trees; compiler tests execute the generated WHERE clause against an in-memory
DuckDB built from the real schema files and a few rows per signal, and assert which rows match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import duckdb
import pytest

from hl_local.query.compile import SIGNALS, compile_search
from hl_local.query.search import (
    And,
    Exists,
    Filter,
    Not,
    Or,
    SearchSyntaxError,
    Term,
    ValueGroup,
    parse_search,
)
from hl_local.store.schema import PROMOTED_ATTRIBUTES, SCHEMA_FILES, ddl
from hl_local.store.writes import WRITES


def f(key: str, value: str | None, op: str = "=") -> Filter:
    return Filter(key, op, None if value is None else Term(value))


def t(value: str, quoted: bool = False, regex: bool = False) -> Term:
    return Term(value, quoted, regex)


# --- parser: constructs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("", None),
        ("   ", None),
        ("error", t("error")),
        ("level=error", f("level", "error")),
        ("level:error", f("level", "error")),
        ("level = error", f("level", "error")),
        ("level != error", f("level", "error", "!=")),
        ("duration>1s", f("duration", "1s", ">")),
        ("duration>=1s", f("duration", "1s", ">=")),
        ("duration<1s", f("duration", "1s", "<")),
        ("duration<=1s", f("duration", "1s", "<=")),
        ("level!error", f("level", "error", "!")),
        ("level=", f("level", None)),
        ("level= b=1", And((f("level", None), f("b", "1")))),
        ("level= OR b=1", Or((f("level", None), f("b", "1")))),
        ("gorm.*", t("gorm.*")),
        ("service_name=*-graph", f("service_name", "*-graph")),
        ("/time(out)?/", And((t("/time"), t("out"), t("?/")))),  # quote a regex with ( ) : = < > !
        ("url=/^https?/", Filter("url", "=", t("^https?", regex=True))),
        ('"/a b\\d/"', t("a b\\d", quoted=True, regex=True)),
        ("user EXISTS", Exists("user")),
        ("user NOT EXISTS", Exists("user", negated=True)),
        ("level=(error OR warn)", Filter("level", "=", ValueGroup(Or((t("error"), t("warn")))))),
        ("level!=(error OR warn)", Filter("level", "!=", ValueGroup(Or((t("error"), t("warn")))))),
        ("level=(a AND b)", Filter("level", "=", ValueGroup(And((t("a"), t("b")))))),
        ("level=(NOT info)", Filter("level", "=", ValueGroup(Not(t("info"))))),
        ("level=NOT info", Filter("level", "=", ValueGroup(Not(t("info"))))),
        (
            "level=(a OR (b AND NOT c))",
            Filter("level", "=", ValueGroup(Or((t("a"), And((t("b"), Not(t("c")))))))),
        ),
        ("NOT error", Not(t("error"))),
        ("NOT NOT error", Not(Not(t("error")))),
        ("(error)", t("error")),
        ("a b c", And((t("a"), t("b"), t("c")))),
        ("a OR b OR c", Or((t("a"), t("b"), t("c")))),
        ("a AND b AND c", And((t("a"), t("b"), t("c")))),
    ],
)
def test_parse_constructs(query: str, tree: object) -> None:
    assert parse_search(query) == tree


def test_words_ids_values_and_quotes() -> None:
    assert parse_search("don't") == t("don't")  # a quote inside a word is a character
    assert parse_search("user@example.com") == t("user@example.com")
    assert parse_search("a/b") == t("a/b")
    assert parse_search("/") == t("/")  # too short to be a regex
    assert parse_search("//") == t("//")
    assert parse_search("-error") == t("-error")  # no `-` negation: part of the word
    assert parse_search("'single quoted'") == t("single quoted", quoted=True)
    assert parse_search("`back ticked`") == t("back ticked", quoted=True)
    assert parse_search('""') == t("", quoted=True)
    assert parse_search('key="a b"') == Filter("key", "=", t("a b", quoted=True))
    assert parse_search('url:"https://x.io/a?b=1"') == Filter(
        "url", "=", t("https://x.io/a?b=1", quoted=True)
    )


@pytest.mark.parametrize(
    ("query", "value"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r"`a\`b`", "a`b"),
        (r'"a\\b"', "a\\b"),
        (r'"C:\temp\new"', r"C:\temp\new"),  # other backslashes are kept as typed
        (r'"\w\w"', r"\w\w"),  # as Highlight's own Unquote test
        (r'"it\'s"', r"it\'s"),  # only the enclosing quote is escapable
        ('"naïve ☃ 日本"', "naïve ☃ 日本"),
    ],
)
def test_string_escapes(query: str, value: str) -> None:
    assert parse_search(query) == t(value, quoted=True)


def test_quoted_regex_is_kept_exactly() -> None:
    assert parse_search(r'msg="/\d+ \"ms\"/"') == Filter(
        "msg", "=", t(r"\d+ \"ms\"", quoted=True, regex=True)
    )


def test_positions_are_recorded() -> None:
    tree = parse_search('a=1  "x y"  b EXISTS')
    assert isinstance(tree, And)
    first, second, third = tree.items
    assert isinstance(first, Filter) and first.position == 0 and isinstance(first.value, Term)
    assert first.value.position == 2
    assert isinstance(second, Term) and second.position == 5
    assert isinstance(third, Exists) and third.position == 12


# --- parser: precedence ------------------------------------------------------------------------

A, B, C, D = f("a", "1"), f("b", "2"), f("c", "3"), f("d", "4")


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a=1 OR b=2 c=3", And((Or((A, B)), C))),  # implicit AND is the loosest
        ("a=1 OR b=2 AND c=3", Or((A, And((B, C))))),  # explicit AND binds tighter than OR
        ("a=1 AND b=2 OR c=3", Or((And((A, B)), C))),
        ("a=1 b=2 OR c=3", And((A, Or((B, C))))),
        ("a=1 OR b=2 c=3 OR d=4", And((Or((A, B)), Or((C, D))))),
        ("(a=1 OR b=2) AND c=3", And((Or((A, B)), C))),
        ("a=1 OR (b=2 c=3)", Or((A, And((B, C))))),
        ("NOT a=1 b=2", And((Not(A), B))),
        ("NOT a=1 AND b=2", And((Not(A), B))),
        ("NOT a=1 OR b=2", Or((Not(A), B))),
        ("NOT (a=1 OR b=2)", Not(Or((A, B)))),
        ("a=1 AND NOT b=2", And((A, Not(B)))),
        ("(a b) OR (c d)", Or((And((t("a"), t("b"))), And((t("c"), t("d")))))),
    ],
)
def test_precedence(query: str, tree: object) -> None:
    assert parse_search(query) == tree


QUIRK_QUERY = (
    'span_name="Chris Schmitz" duration>1us level:info source=(backend OR frontend) OR '
    "(service_name!=private-graph span_name=gorm.Query span_name!=(testing OR testing2)) AND "
    '("body query" asdf)'
)


def test_highlight_quirk_query_parses_to_its_plain_meaning() -> None:
    # Highlight's TestComplexSqlForSearch: k1 k2 k3 (k4 OR ((g1 g2 g3) AND (b1 b2))).
    k4 = Filter("source", "=", ValueGroup(Or((t("backend"), t("frontend")))))
    g = And(
        (
            f("service_name", "private-graph", "!="),
            f("span_name", "gorm.Query"),
            Filter("span_name", "!=", ValueGroup(Or((t("testing"), t("testing2"))))),
        )
    )
    b = And((t("body query", quoted=True), t("asdf")))
    assert parse_search(QUIRK_QUERY) == And(
        (
            Filter("span_name", "=", t("Chris Schmitz", quoted=True)),
            f("duration", "1us", ">"),
            f("level", "info"),
            Or((k4, And((g, b)))),
        )
    )


@pytest.mark.parametrize("spelling", ["AND", "and", "And", "aNd"])
def test_keywords_are_case_insensitive(spelling: str) -> None:
    assert parse_search(f"a=1 {spelling} b=2") == And((A, B))


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a=1 or b=2 and c=3", Or((A, And((B, C))))),
        ("not a=1", Not(A)),
        ("a=1 Or b=2", Or((A, B))),
        ("user exists", Exists("user")),
        ("user Not Exists", Exists("user", negated=True)),
        ("level=(error or warn)", Filter("level", "=", ValueGroup(Or((t("error"), t("warn")))))),
        ('"and" "OR" \'not\'', And((t("and", quoted=True), t("OR", quoted=True), t("not", quoted=True)))),
        ("android order notable", And((t("android"), t("order"), t("notable")))),  # whole words only
    ],
)
def test_keyword_spellings(query: str, tree: object) -> None:
    assert parse_search(query) == tree


# --- parser: errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message", "expected"),
    [
        ('"abc', 0, "unterminated string", 'a closing "'),
        ("a='x y", 2, "unterminated string", "a closing '"),
        ("a b)", 3, "unbalanced ')'", "a search term or the end"),
        (")", 0, "unbalanced ')'", "a search term"),
        ("(a b", 4, "expected ')' to close the '(' at character 0", "')'"),
        ("()", 1, "expected a search term after '(', found ')'", "a search term after '('"),
        ("a AND", 5, "expected a search term after 'AND'", "a search term after 'AND'"),
        ("a OR OR b", 5, "expected a search term after 'OR', found 'OR'", "a search term after 'OR'"),
        ("NOT", 3, "expected a search term after 'NOT'", "a search term after 'NOT'"),
        ("OR a", 0, "expected a search term, found 'OR'", "a search term"),
        ("=a", 0, "expected a key before '='", "a key"),
        ("(a=1) >2", 6, "expected a key before '>'", "a key"),
        ("level=(", 7, "expected a value after '('", "a value after '('"),
        ("level=(a b)", 9, "expected AND, OR or ')' in the value group", "AND, OR or ')'"),
        ("level=(a OR)", 11, "expected a value after 'OR', found ')'", "a value after 'OR'"),
        ("level=(a", 8, "expected ')' to close the '(' at character 6", "')'"),
        ("level=NOT", 9, "expected a value after 'NOT'", "a value after 'NOT'"),
        ("a/b=1", 0, "a key has other characters", "a key"),
        ('"a b"=1', 0, "a key cannot be quoted", "a key"),
        ('"a"b', 3, "expected a space, an operator or ')' after the closing \"", "a space"),
        ("a EXISTS EXISTS", 9, "expected a search term, found 'EXISTS'", "a search term"),
    ],
)
def test_syntax_errors(query: str, position: int, message: str, expected: str) -> None:
    with pytest.raises(SearchSyntaxError) as info:
        parse_search(query)
    assert info.value.position == position
    assert info.value.message.startswith(message)
    assert info.value.expected.startswith(expected)
    assert f"(at character {position})" in str(info.value)


def test_misplaced_keyword_says_to_quote_it() -> None:
    with pytest.raises(SearchSyntaxError, match="quote it to search for the word"):
        parse_search("OR")


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        compile_search("'open", "logs")


# --- compiler: a real schema with a few rows ---------------------------------------------------


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


MAY_1_10H = _ns("2024-05-01T10:00:00")
MAY_1_11H = _ns("2024-05-01T11:00:00")
APRIL = _ns("2024-04-01T00:00:00")

DEFAULTS: dict[str, dict[str, object]] = {
    "logs": {
        "time_ns": APRIL, "observed_ns": 0, "trace_id": "", "span_id": "", "flags": 0, "severity_text": "",
        "severity_number": 0, "level": "info", "body": "", "event_name": "", "service_name": "",
        "service_version": "", "environment": "", "scope_version": "", "attributes": "{}",
        "resource_attributes": "{}", "received_ns": 0,
    },
    "spans": {
        "trace_id": "t1", "parent_span_id": "", "trace_state": "", "flags": 0, "kind": 1, "start_ns": APRIL,
        "end_ns": APRIL, "duration_ns": 0, "status_code": 0, "status_message": "", "service_name": "",
        "service_version": "", "environment": "", "scope_name": "", "scope_version": "", "attributes": "{}",
        "resource_attributes": "{}", "events": "[]", "links": "[]", "received_ns": 0,
    },
    "errors": {
        "time_ns": APRIL, "source": "frontend", "type": "", "message": "", "stack": "", "frames": "[]",
        "received_ns": 0, "group_id": "g1",
    },
    "sessions": {"started_ns": APRIL, "last_activity_ns": APRIL},
    "replay_chunks": {
        "payload_id": "1", "event_count": 1, "has_full_snapshot": True, "events": "[]", "is_beacon": False,
        "has_session_unloaded": False, "page_count": 0, "click_count": 0, "error_count": 0,
        "console_error_count": 0, "active_ms": 0, "has_rage_clicks": False, "received_ns": 0,
    },
    "session_events": {"payload_id": "1", "time_ms": 0, "kind": "Navigate"},
    "metric_points": {
        "time_ns": APRIL, "start_ns": 0, "description": "", "unit": "", "flags": 0, "exemplars": "[]",
        "service_name": "", "service_version": "", "environment": "", "scope_name": "", "scope_version": "",
        "attributes": "{}", "resource_attributes": "{}", "received_ns": 0,
    },
    "network_requests": {"payload_id": "1", "start_ms": 0, "initiator_type": "fetch", "url": "/api/x"},
}  # fmt: skip

ROWS: dict[str, list[dict[str, object]]] = {
    "logs": [
        {"scope_name": "L1", "body": "Error connecting to database: timeout after 30s", "level": "error",
         "service_name": "api", "environment": "production", "trace_id": "abc123", "session_id": "s1",
         "time_ns": MAY_1_10H,
         "attributes": '{"http.status_code":500,"user":"alice","code.filepath":"app/db.py","empty":""}',
         "resource_attributes": '{"host.name":"web-1"}'},
        {"scope_name": "L2", "body": "user alice logged in", "level": "info", "service_name": "api",
         "environment": "production", "session_id": "s2", "time_ns": MAY_1_11H,
         "attributes": '{"http.status_code":200,"user":"alice","latency":1500000}',
         "resource_attributes": '{"host.name":"web-2"}'},
        {"scope_name": "L3", "body": "errors: 3 retries (error_code=E42)", "level": "warn",
         "service_name": "worker", "environment": "staging", "trace_id": "tr-x2",
         "attributes": '{"user":"bob","latency":2000000000}'},
        {"scope_name": "L4", "body": "50% done_now; path C:\\temp\\x", "level": "debug",
         "service_name": "worker", "attributes": '{"note":"it\'s \\"quoted\\""}'},
        {"scope_name": "L5", "body": "Café ünïcode ☃ naïve", "level": "info", "service_name": "frontend-app",
         "source": "frontend", "attributes": '{"a*b":"star"}'},
    ],
    "spans": [
        {"span_id": "S1", "name": "Chris Schmitz", "duration_ns": 2000, "source": "backend",
         "service_name": "private-graph", "kind": 2, "status_code": 2, "attributes": '{"level":"info"}'},
        {"span_id": "S2", "name": "gorm.Query", "duration_ns": 5_000_000_000, "source": "frontend",
         "service_name": "api", "kind": 3, "attributes": '{"level":"info","db.rows":12}'},
        {"span_id": "S3", "name": "body query asdf", "duration_ns": 500, "source": "backend",
         "service_name": "api", "trace_id": "tr-x2"},
        {"span_id": "S4", "name": "Chris Schmitz", "duration_ns": 2000, "source": "worker",
         "service_name": "private-graph", "attributes": '{"level":"info"}'},
    ],
    "errors": [
        {"error_id": "E1", "message": "TypeError: x is undefined", "type": "window.onerror",
         "url": "https://app.example.com/checkout?step=2", "session_id": "s1",
         "payload": '{"customer":"acme"}'},
        {"error_id": "E2", "message": "Network failure", "type": "custom", "payload": "not json at all",
         "trace_id": "tr-x2"},
        {"error_id": "E3", "message": "ResizeObserver loop limit exceeded", "type": "console.error"},
    ],
    "sessions": [
        {"session_id": "X1", "identifier": "alice@example.com", "environment": "production",
         "user_object": '{"plan":"pro"}', "properties": '{"tier":"gold"}',
         "ip": "10.0.0.1", "app_version": "1.2.0"},
        {"session_id": "X2", "environment": "dev"},
    ],
    "replay_chunks": [
        {"session_id": "X1", "first_ms": 0, "last_ms": 900_000, "page_count": 3, "error_count": 1,
         "has_rage_clicks": True, "active_ms": 120_000, "first_url": "https://app.example.com/"},
        {"session_id": "X2", "first_ms": 0, "last_ms": 10_000, "page_count": 1, "active_ms": 5_000},
    ],
    # X1 visited a second page; X2's recorded request started trace tr-x2 (a log, a span, an error)
    "session_events": [
        {"session_id": "X1", "payload": "https://app.example.com/"},
        {"session_id": "X1", "payload": "https://app.example.com/checkout"},
        {"session_id": "X2", "kind": "Click", "payload": "{}"},
    ],
    "network_requests": [{"session_id": "X2", "trace_id": "tr-x2"}],
    "metric_points": [
        {"metric_name": "http.requests", "metric_type": "sum", "value": 7, "service_name": "api",
         "attributes": '{"route":"/a"}', "scope_version": "M1"},
        {"metric_name": "LCP", "metric_type": "gauge", "value": 2400, "unit": "ms", "session_id": "X1",
         "attributes": '{"group":"https://app.example.com/","category":"WebVital"}', "scope_version": "M2",
         "time_ns": MAY_1_10H},
        {"metric_name": "latency", "metric_type": "histogram", "count": 3, "sum": 40, "unit": "ms",
         "resource_attributes": '{"host.name":"web-1"}', "scope_version": "M3"},
    ],
}  # fmt: skip

# signal → (table or view, the column that names a row)
TABLES = {
    "logs": ("logs", "scope_name"),
    "traces": ("spans", "span_id"),
    "errors": ("errors", "error_id"),
    "sessions": ("session_summaries", "session_id"),
    "metrics": ("metric_points", "scope_version"),
}
ALL = {
    "logs": {"L1", "L2", "L3", "L4", "L5"},
    "traces": {"S1", "S2", "S3", "S4"},
    "errors": {"E1", "E2", "E3"},
    "sessions": {"X1", "X2"},
    "metrics": {"M1", "M2", "M3"},
}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    for name in SCHEMA_FILES:
        connection.execute(ddl(name))
    promoted = ", ".join(PROMOTED_ATTRIBUTES.values())
    for table, rows in ROWS.items():
        # Spans and logs go in through the writer's own statement, which fills the promoted columns.
        through_writer = table in ("logs", "spans")
        staged = f"staged_{table}" if through_writer else table
        if through_writer:
            connection.execute(
                f"CREATE TEMP TABLE {staged} AS SELECT * EXCLUDE ({promoted}), NULL::VARCHAR[] AS promoted"
                f"{', NULL::VARCHAR AS tokens' if table == 'logs' else ''} FROM {table} LIMIT 0"
            )
        for row in rows:
            values = {**DEFAULTS[table], **row}
            columns = ", ".join(values)
            marks = ", ".join("?" * len(values))
            connection.execute(f"INSERT INTO {staged} ({columns}) VALUES ({marks})", list(values.values()))
        if through_writer:
            connection.execute(WRITES[table][0].format(rows=staged))
    yield connection
    connection.close()


def run(con: duckdb.DuckDBPyConnection, signal: str, query: str) -> set[str]:
    where, params = compile_search(query, signal)  # type: ignore[arg-type]
    table, key = TABLES[signal]
    return {row[0] for row in con.execute(f"SELECT {key} FROM {table} WHERE {where}", params).fetchall()}


CASES = [
    # bare terms: whole-token, case-insensitive for [A-Za-z0-9]+; contains otherwise
    ("logs", "error", {"L1", "L3"}),  # `Error connecting`, `(error_code=` (`_` separates tokens)
    ("logs", "err", set()),
    ("logs", "errors", {"L3"}),
    ("logs", "ERROR", {"L1", "L3"}),
    ("logs", '"error"', {"L1", "L3"}),  # quoting alone does not change the match (as Highlight)
    ("logs", "alice logged", {"L2"}),  # several bare terms are ANDed
    ("logs", '"logged in"', {"L2"}),
    ("logs", "LOGGED*", {"L2"}),
    ("logs", "conn*data", {"L1"}),
    ("logs", "done_now", {"L4"}),
    ("logs", '"d_ne"', set()),  # `_` is literal, not LIKE's any-character
    ("logs", '"0%"', {"L4"}),
    ("logs", '"5%"', set()),  # `%` is literal
    ("logs", '"C:\\temp"', {"L4"}),
    ("logs", "café", {"L5"}),
    ("logs", "CAFÉ", {"L5"}),
    ("logs", "☃", {"L5"}),
    ("logs", '""', ALL["logs"]),
    ("logs", '"/timeout after \\d+s/"', {"L1"}),
    ("logs", "/^Error/", {"L1"}),
    ("logs", "/^error/", {"L3"}),  # a regex is case-sensitive
    ("logs", '"/(?i)^error/"', {"L1", "L3"}),
    # reserved keys, exact
    ("logs", "level=error", {"L1"}),
    ("logs", "level:error", {"L1"}),
    ("logs", "level=Error", set()),
    ("logs", "level!=info", {"L1", "L3", "L4"}),
    ("logs", 'message="user alice logged in"', {"L2"}),
    ("logs", "message=alice", set()),  # the default key typed out is an exact match (as Highlight)
    ("logs", "trace_id=abc123", {"L1"}),
    ("logs", "secure_session_id=s1", {"L1"}),
    # the session a line belongs to: its own, else its trace's (a request X2's browser recorded)
    ("logs", "secure_session_id=X2", {"L3"}),
    ("logs", "session_id=(X2 OR s2)", {"L2", "L3"}),
    ("logs", "session_id!=X2", {"L1", "L2", "L4", "L5"}),
    ("logs", "session_id=X*", {"L3"}),
    ("logs", "has_session=true", {"L1", "L2", "L3"}),
    ("logs", "has_session=false", {"L4", "L5"}),
    ("logs", "source=frontend", {"L5"}),
    ("logs", "source!=frontend", {"L1", "L2", "L3", "L4"}),  # NULL source is "not frontend"
    ("logs", "environment=production service_name=api", {"L1", "L2"}),
    # wildcards and regexes on keys
    ("logs", "service_name=work*", {"L3", "L4"}),
    ("logs", "service_name=ork*", {"L3", "L4"}),  # contains, as Highlight (not starts-with)
    ("logs", "service_name=*END*", {"L5"}),
    ("logs", "service_name!=work*", {"L1", "L2", "L5"}),
    ("logs", "service_name=/^w.*r$/", {"L3", "L4"}),
    ("logs", "service_name=/^W/", set()),
    ("logs", "service_name!=/^w/", {"L1", "L2", "L5"}),
    # attributes (record first, then resource)
    ("logs", "user=alice", {"L1", "L2"}),
    ("logs", "user!=alice", {"L3", "L4", "L5"}),  # a missing attribute is "not alice"
    ("logs", "code.filepath=app/db.py", {"L1"}),
    ("logs", "host.name=web-1", {"L1"}),
    ("logs", "host.name=web*", {"L1", "L2"}),
    ("logs", 'note="it\'s \\"quoted\\""', {"L4"}),
    ("logs", "a*b=star", {"L5"}),  # `*` in a key is literal
    ("logs", "http.status_code=500", {"L1"}),
    ("logs", "http.status_code>=500", {"L1"}),
    ("logs", "http.status_code<300", {"L2"}),
    ("logs", "http.status_code>100", {"L1", "L2"}),
    ("logs", "latency>1ms", {"L2", "L3"}),  # attributes are in ns by default
    ("logs", "latency>1s", {"L3"}),
    ("logs", "latency<=1.5ms", {"L2"}),
    ("logs", "latency>1500000", {"L3"}),
    ("logs", "service_name>v", {"L3", "L4"}),  # text against text compares as text
    ("logs", "user>b", {"L3"}),
    ("logs", "user>5d", {"L1", "L2", "L3"}),  # not a known unit: text too
    # exists
    ("logs", "session_id EXISTS", {"L1", "L2", "L3"}),  # L3 through its trace
    ("logs", "session_id NOT EXISTS", {"L4", "L5"}),
    ("logs", "environment EXISTS", {"L1", "L2", "L3"}),  # '' is not there
    ("logs", "empty EXISTS", set()),
    ("logs", "empty NOT EXISTS", ALL["logs"]),
    ("logs", "host.name EXISTS", {"L1", "L2"}),
    ("logs", "user exists", {"L1", "L2", "L3"}),
    # timestamps
    ("logs", "timestamp>2024-04-15", {"L1", "L2"}),
    ("logs", 'timestamp>="2024-05-01T10:30:00Z"', {"L2"}),
    ("logs", 'timestamp<"2024-05-01T12:30:00+02:00"', {"L1", "L3", "L4", "L5"}),
    (
        "logs",
        f"timestamp={MAY_1_10H}",
        {"L1"},
    ),
    ("logs", f"timestamp>={MAY_1_11H // 1_000_000_000}s", {"L2"}),
    # value groups
    ("logs", "level=(error OR warn)", {"L1", "L3"}),
    ("logs", "level!=(error OR warn)", {"L2", "L4", "L5"}),
    ("logs", "level=(NOT info)", {"L1", "L3", "L4"}),
    ("logs", "level=(error AND warn)", set()),
    ("logs", "service_name=(api OR work*)", {"L1", "L2", "L3", "L4"}),
    ("logs", "user=(alice OR /^b/)", {"L1", "L2", "L3"}),
    ("logs", "latency>(1s OR 1ms)", {"L2", "L3"}),
    ("logs", "level=(error OR (NOT info AND NOT debug))", {"L1", "L3"}),
    # NOT and precedence
    ("logs", "NOT level=info", {"L1", "L3", "L4"}),
    ("logs", "NOT error", {"L2", "L4", "L5"}),
    ("logs", "NOT NOT error", {"L1", "L3"}),
    ("logs", "level=error OR level=warn service_name=worker", {"L3"}),
    ("logs", "level=error OR level=warn AND service_name=worker", {"L1", "L3"}),
    ("logs", "level=error or level=warn and service_name=worker", {"L1", "L3"}),
    ("logs", "(level=error OR level=warn) AND service_name=worker", {"L3"}),
    # filters that add nothing
    ("logs", "", ALL["logs"]),
    ("logs", "level=", ALL["logs"]),
    ("logs", "level!info", ALL["logs"]),
    ("logs", "NOT level=", ALL["logs"]),
    ("logs", "level= OR service_name=worker", {"L3", "L4"}),
    ("logs", "level= service_name=worker", {"L3", "L4"}),
    # traces
    ("traces", "duration>1s", {"S2"}),
    ("traces", "duration>=2us", {"S1", "S2", "S4"}),
    ("traces", "duration<1us", {"S3"}),
    ("traces", "duration>1.5us", {"S1", "S2", "S4"}),
    ("traces", "duration=2us", {"S1", "S4"}),
    ("traces", "duration=2000", {"S1", "S4"}),
    ("traces", "duration>1000ns", {"S1", "S2", "S4"}),
    ("traces", "duration<0.5s", {"S1", "S3", "S4"}),
    ("traces", "duration>1h", set()),
    ("traces", "duration=2*", {"S1", "S4"}),  # a wildcard matches the number's text
    ("traces", "has_errors=true", {"S1"}),
    ("traces", "has_errors=FALSE", {"S2", "S3", "S4"}),
    ("traces", "has_errors!=true", {"S2", "S3", "S4"}),
    ("traces", "span_kind=Server", {"S1"}),
    ("traces", "span_kind=*server*", {"S1"}),
    ("traces", "span_kind=(Client OR Server)", {"S1", "S2"}),
    ("traces", "span_name=gorm.Query", {"S2"}),
    ("traces", "gorm.Query", {"S2"}),
    ("traces", "gorm.*", {"S2"}),
    ("traces", "query", {"S2", "S3"}),
    ("traces", "db.rows>10", {"S2"}),
    ("traces", "db.rows<10", set()),
    ("traces", "level=info", {"S1", "S2", "S4"}),
    ("traces", "level NOT EXISTS", {"S3"}),
    ("traces", "status_code=2", {"S1"}),
    ("traces", "session_id=X2", {"S3"}),
    ("traces", "has_session=true", {"S3"}),
    ("traces", "secure_session_id NOT EXISTS", {"S1", "S2", "S4"}),
    ("traces", QUIRK_QUERY, {"S1"}),  # Highlight's SQL for it matches nothing: k1 and g2 contradict
    # (a b) OR (c d): Highlight's SQL is a AND b AND (c OR d), which matches none of these rows
    ("traces", "(service_name=api duration>1s) OR (source=backend has_errors=true)", {"S1", "S2"}),
    ("traces", "(service_name=api AND duration>1s) OR (source=backend AND has_errors=true)", {"S1", "S2"}),
    # errors
    ("errors", "TypeError", {"E1"}),
    ("errors", "undefined", {"E1"}),
    ("errors", "type=custom", {"E2"}),
    ("errors", "event=*failure*", {"E2"}),
    ("errors", 'url="https://app.example.com/checkout?step=2"', {"E1"}),
    ("errors", "url=*checkout*", {"E1"}),
    ("errors", "visited_url EXISTS", {"E1"}),
    ("errors", "customer=acme", {"E1"}),  # E2's payload is not JSON: no keys, no error
    ("errors", "customer NOT EXISTS", {"E2", "E3"}),
    ("errors", "has_session=true", {"E1", "E2"}),
    ("errors", "has_session=false", {"E3"}),
    ("errors", "secure_session_id=s1", {"E1"}),
    ("errors", "secure_session_id=X2", {"E2"}),
    ("errors", "type=(custom OR console.error)", {"E2", "E3"}),
    # sessions
    ("sessions", "alice", {"X1"}),
    ("sessions", "pro", {"X1"}),  # the user object's text is searched too
    ("sessions", "length>10m", {"X1"}),
    ("sessions", "length<1m", {"X2"}),
    ("sessions", "length=10s", {"X2"}),
    ("sessions", "length>=10000", {"X1", "X2"}),  # plain numbers are in the key's unit (ms)
    ("sessions", "active_length>=2m", {"X1"}),
    ("sessions", "active_length>1", {"X1", "X2"}),
    ("sessions", "pages_visited>2", {"X1"}),
    ("sessions", "has_errors=true", {"X1", "X2"}),  # X2: a backend error of the trace it started
    ("sessions", "has_errors=false", set()),
    ("sessions", "has_rage_clicks=false", {"X2"}),
    ("sessions", "identified=false", {"X2"}),
    ("sessions", "identifier=alice@example.com", {"X1"}),
    ("sessions", "identifier NOT EXISTS", {"X2"}),
    ("sessions", "plan=pro", {"X1"}),  # identify metadata
    ("sessions", "tier=gold", {"X1"}),  # session properties
    ("sessions", "email=*@example.com", {"X1"}),  # derived from the identifier, an email address
    ("sessions", "email=alice@example.com", {"X1"}),
    ("sessions", "email NOT EXISTS", {"X2"}),
    ("sessions", "first_url=*checkout*", set()),
    ("sessions", "visited_url=*checkout*", {"X1"}),  # any page, not only the first
    ("sessions", 'visited-url="https://app.example.com/"', {"X1"}),
    ("sessions", "visited_url!=*checkout*", {"X2"}),
    ("sessions", "environment=(production OR dev)", {"X1", "X2"}),
    ("sessions", "service_version=1.2.0", {"X1"}),
    ("sessions", "ip=10.0.0.1", {"X1"}),
    ("sessions", "viewed_by_me=false sample=abc completed=true", {"X1", "X2"}),  # ignored keys
    ("sessions", "excluded EXISTS", {"X1", "X2"}),
    # metrics
    ("metrics", "LCP", {"M2"}),
    ("metrics", "http.*", {"M1"}),
    ("metrics", "type=gauge", {"M2"}),
    ("metrics", "metric_unit=ms", {"M2", "M3"}),
    ("metrics", "value>1000", {"M2"}),
    ("metrics", "count>=3", {"M3"}),
    ("metrics", "route=/a", {"M1"}),
    ("metrics", "host.name=web-1", {"M3"}),  # resource attributes too
    ("metrics", "category=WebVital secure_session_id=X1", {"M2"}),
    ("metrics", "service_name=api", {"M1"}),
    ("metrics", "timestamp>2024-04-15", {"M2"}),
]


@pytest.mark.parametrize(("signal", "query", "expected"), CASES, ids=[f"{s}:{q}" for s, q, _ in CASES])
def test_matches(con: duckdb.DuckDBPyConnection, signal: str, query: str, expected: set[str]) -> None:
    assert run(con, signal, query) == expected


def test_key_not_value_negates(con: duckdb.DuckDBPyConnection) -> None:
    # Highlight ignores the NOT here and runs level=info; the parse tree says "level is not info".
    assert run(con, "logs", "level=NOT info") == {"L1", "L3", "L4"}
    assert run(con, "logs", "level!=NOT info") == {"L2", "L5"}


def test_compile_accepts_a_tree(con: duckdb.DuckDBPyConnection) -> None:
    tree = parse_search("level=error OR user=bob")
    assert compile_search(tree, "logs") == compile_search("level=error OR user=bob", "logs")
    assert compile_search(None, "logs") == ("TRUE", [])


def test_compiled_sql_golden() -> None:
    assert compile_search("level=error user!=(a OR b*) latency>1ms", "logs") == (
        "(coalesce(level = ?, false) AND NOT ((coalesce(coalesce(json_extract_string(attributes, ?), "
        "json_extract_string(resource_attributes, ?)) = ?, false) OR coalesce(coalesce("
        "json_extract_string(attributes, ?), json_extract_string(resource_attributes, ?)) ILIKE ? "
        "ESCAPE '\\', false))) AND coalesce(TRY_CAST(coalesce(json_extract_string(attributes, ?), "
        "json_extract_string(resource_attributes, ?)) AS DOUBLE) > ?, false))",
        ["error", '$."user"', '$."user"', "a", '$."user"', '$."user"', "%b%", '$."latency"',
         '$."latency"', 1_000_000],
    )  # fmt: skip
    assert compile_search("error", "traces") == (
        "(coalesce(name ILIKE ?, false) AND coalesce(regexp_matches(name, ?, 'i'), false))",
        [
            "%error%",
            "(?:^|[\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f])error(?:$|[\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f])",
        ],
    )


@pytest.mark.parametrize(
    ("signal", "query", "position", "message"),
    [
        ("traces", "duration>abc", 9, "duration takes a number"),
        ("traces", "duration>5d", 9, "unknown unit 'd'"),
        ("traces", "duration=(1s OR 5x)", 16, "unknown unit 'x'"),
        ("sessions", "pages_visited>2s", 14, "pages_visited is a count"),
        ("traces", "has_errors=maybe", 11, "has_errors is true or false"),
        ("traces", "has_errors>1", 11, "has_errors is true or false"),
        ("traces", "duration>1*", 9, "wildcards and regular expressions work with =, : and != only"),
        ("logs", "latency>/1/", 8, "wildcards and regular expressions"),
        ("logs", "timestamp>yesterday", 10, "timestamp takes a date-time"),
    ],
)
def test_values_that_do_not_fit_their_key(signal: str, query: str, position: int, message: str) -> None:
    with pytest.raises(SearchSyntaxError) as info:
        compile_search(query, signal)  # type: ignore[arg-type]
    assert info.value.position == position
    assert info.value.message.startswith(message)


def test_unknown_signal() -> None:
    with pytest.raises(ValueError, match="unknown signal 'events'"):
        compile_search("a", "events")  # type: ignore[arg-type]


# --- user text never becomes SQL text ----------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE logs; --",
    '"; DROP TABLE logs; --',
    "Robert'); DROP TABLE spans;--",
    "\\'; SELECT 1; --",
    "a\\\\' OR '1'='1",
    "☃ 日本語 ünïcödé \u202e",
    "100%_\\",
    '$."x"\') --',
    "*/ OR 1=1 /*",
]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fill(shape: str, value: str) -> str:
    return (
        shape.replace("{v}", _quote(value))
        .replace("{star}", _quote(value + "*"))
        .replace("{re}", _quote(f"/{value}/"))
    )


QUERY_SHAPES = [
    "{v}",
    "x-evil.key={v}",
    "service_name!={v}",
    "x-evil.key=({v} OR {star})",
    "x-evil.key>{v}",
    "NOT message={v} OR level=({v} AND NOT {v})",
    "service_name={re}",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("signal", ["logs", "traces", "errors", "sessions", "metrics"])
def test_hostile_values_are_only_parameters(con: duckdb.DuckDBPyConnection, signal: str, value: str) -> None:
    table, key = TABLES[signal]
    # A harmless value of the same shape: with a `*` if the value has one (a wildcard).
    same = "x*y" if "*" in value else "x y"
    for shape in QUERY_SHAPES:
        query = _fill(shape, value)
        try:
            where, params = compile_search(query, signal)  # type: ignore[arg-type]
        except SearchSyntaxError as exc:  # `key>*…`: refused as for any wildcard
            with pytest.raises(SearchSyntaxError, match=exc.message):
                compile_search(_fill(shape, same), signal)  # type: ignore[arg-type]
            continue
        # The SQL text is the same as for the harmless value: the value is only ever a parameter.
        assert where == compile_search(_fill(shape, same), signal)[0]  # type: ignore[arg-type]
        for fragment in ("DROP", "Robert", "☃", "x-evil", "1=1", "100%"):
            assert fragment not in where
        try:
            con.execute(f"SELECT {key} FROM {table} WHERE {where}", params).fetchall()
        except duckdb.InvalidInputException:  # a pattern RE2 rejects: an error, never SQL
            assert "{re}" in shape
    assert con.execute("SELECT count(*) FROM logs").fetchone() == (len(ROWS["logs"]),)
    assert con.execute("SELECT count(*) FROM spans").fetchone() == (len(ROWS["spans"]),)


def test_keys_in_a_tree_built_in_code_are_checked() -> None:
    with pytest.raises(SearchSyntaxError, match="a key has other characters"):
        compile_search(Filter('a"] OR 1=1 --', "=", Term("x")), "logs")
    with pytest.raises(SearchSyntaxError, match="a key has other characters"):
        compile_search(Exists("a'b"), "logs")


@pytest.mark.parametrize("signal", ["logs", "traces", "errors", "sessions", "metrics"])
def test_every_reserved_key_is_valid_sql(con: duckdb.DuckDBPyConnection, signal: str) -> None:
    samples = {"text": "x", "number": "1", "boolean": "true", "timestamp": "2024-05-01"}
    for key, field in SIGNALS[signal].fields.items():  # type: ignore[index]
        for query in (f"{key} EXISTS", f"{key}={samples[field.kind]}", f"{key}=*x*", f'{key}="/x/"'):
            run(con, signal, query)
        if field.kind != "boolean":
            run(con, signal, f"{key}>1")


# --- promoted attribute keys ----------------------------------------------------------------------

# (attributes, resource_attributes): every kind of value a promoted key can hold, on the item, on its
# resource, on both (the item's wins), twice in one object, and missing.
PROMOTED_CASES = [
    ('{"user.id":"u-1","http.status_code":500}', "{}"),
    ('{"user.id":"","http.status_code":"500"}', '{"user.id":"u-res"}'),
    ("{}", '{"user.id":"u-res","http.method":"GET"}'),
    ('{"http.status_code":1.5,"user.id":true}', "{}"),
    ('{"http.status_code":1e16,"user.id":["a","b"]}', "{}"),
    ('{"http.status_code":2.0,"user.id":{"n":1}}', '{"http.status_code":404}'),
    ('{"user.id":"first","user.id":"second"}', "{}"),
    ('{"http.method":null}', '{"http.method":"POST"}'),
    ("{}", "{}"),
]
PROMOTED_QUERIES = [
    "{k}=u-1", "{k}=u-res", '{k}=""', "{k}=true", "{k}=500", "{k}=1.5", "{k}=GET", "{k}=first",
    "{k}=second", "{k}!=u-1", "{k} EXISTS", "{k} NOT EXISTS", "{k}=*u*", "{k}>100", "{k}<=2",
    '{k}="/^u-/"', "{k}=(GET OR POST)",
]  # fmt: skip


@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_promoted_keys_mean_what_their_json_lookup_means(
    signal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A promoted key reads its column; the same search over the JSON text finds the same rows."""
    table, name = TABLES[signal]
    con = duckdb.connect(":memory:")
    for file in SCHEMA_FILES:
        con.execute(ddl(file))
    promoted = ", ".join(PROMOTED_ATTRIBUTES.values())
    # promoted NULL: the writer's INSERT looks the keys up in the JSON text (decoders that look them up
    # themselves are held to the same answers by test_decoded_promoted_values_are_the_json_lookup)
    con.execute(
        f"CREATE TEMP TABLE staged AS SELECT * EXCLUDE ({promoted}), NULL::VARCHAR[] AS promoted"
        f"{', NULL::VARCHAR AS tokens' if table == 'logs' else ''} FROM {table} LIMIT 0"
    )
    for i, (attributes, resource) in enumerate(PROMOTED_CASES):
        values = {**DEFAULTS[table], name: f"R{i}", "attributes": attributes, "resource_attributes": resource}
        if table == "spans":
            values["name"] = "GET /"
        columns, marks = ", ".join(values), ", ".join("?" * len(values))
        con.execute(f"INSERT INTO staged ({columns}) VALUES ({marks})", list(values.values()))
    con.execute(WRITES[table][0].format(rows="staged"))

    def found(query: str) -> set[str]:
        where, params = compile_search(query, signal)  # type: ignore[arg-type]
        return {row[0] for row in con.execute(f"SELECT {name} FROM {table} WHERE {where}", params).fetchall()}

    keys = ("user.id", "http.status_code", "http.method")
    with_columns = {(key, q): found(q.format(k=key)) for key in keys for q in PROMOTED_QUERIES}
    assert "attr_user_id" in compile_search("user.id=x", signal)[0]  # type: ignore[arg-type]
    monkeypatch.setitem(SIGNALS, signal, dataclasses.replace(SIGNALS[signal], promoted={}))  # type: ignore[index]
    assert "attr_user_id" not in compile_search("user.id=x", signal)[0]  # type: ignore[arg-type]
    for (key, query), rows in with_columns.items():
        assert rows == found(query.format(k=key)), (key, query)
    assert with_columns[("user.id", "{k}=u-res")] == {"R2"}  # the resource's value, when the item has none
    assert with_columns[("http.status_code", "{k}>100")] == {"R0", "R1", "R4"}
