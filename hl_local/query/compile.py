"""Search trees → a parameterised DuckDB WHERE clause for one signal (logs, traces, errors, sessions).

User text never becomes SQL text. Every value is a `?` parameter; a key is either a reserved key of
the signal, which `SIGNALS` maps to fixed SQL, or an attribute, looked up with
`json_extract_string(column, ?)` and the JSON path `$."key"` passed as a parameter (keys are made of
`[A-Za-z0-9_.*-]` only, so the path needs no escaping; the compiler checks this for trees built in
code too). The few attribute keys the store promotes to columns (store/schema.py
PROMOTED_ATTRIBUTES) read their column instead: the writer fills it with what that lookup gives.

Meaning of each form (see docs/search.md for users):

- bare word of `[A-Za-z0-9]` only: whole-token, case-insensitive match on the default key, as
  ClickHouse's `hasTokenCaseInsensitive` (tokens are runs of ASCII letters/digits and non-ASCII
  characters; `err` does not match `error`, `error` matches `error_code`);
  other bare text: case-insensitive contains (`ILIKE '%text%'`); `/re/`: regular expression.
- `key=value` (or `:`): exact and case-sensitive; typed keys compare as their type (numbers with
  duration units, booleans, timestamps). `*` makes it a case-insensitive contains match with `*`
  as "anything" (`gorm.*` matches `%gorm.%`, as Highlight does); `/re/` is a regex search.
- `key!=…` is `NOT (key=…)`; a row without the key matches it.
- `< <= > >=`: numeric, with `h m s ms us ns` converted to the key's base unit (attributes: ns);
  a text key with a value that is not a number compares as text.
- `key EXISTS`: present and not ''. `NOT EXISTS`: the opposite.
- value groups apply the key and operator to every atom; `key!=(a OR b)` is `NOT (a OR b)`.
- `key=`, `key!value` and the signal's ignored keys add no filter: they drop out of AND/OR/NOT.

Every leaf is `coalesce(…, false)`, so NULL (a missing attribute) is simply false and NOT works as
two-valued logic.

A few keys also look past the row (`Field.also`): on logs, traces and errors the session keys are
the row's own session, else the session of its trace (views.sql `trace_sessions`, as the session
view links them); a session's `visited_url` is any page it visited (its Navigate and Reload
events), not only the first. The leaf is then applied twice, to the row's column and, inside a
subquery, to the linked column: `(leaf OR …IN (SELECT … WHERE leaf))`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Final, Literal

from hl_local.query.search import (
    And,
    Exists,
    Filter,
    Node,
    Not,
    Or,
    SearchSyntaxError,
    Term,
    ValueGroup,
    parse_search,
)
from hl_local.store.schema import PROMOTED_ATTRIBUTES

__all__ = ["SIGNALS", "Field", "FieldKind", "Related", "Signal", "SignalFields", "compile_search"]

FieldKind = Literal["text", "number", "boolean", "timestamp"]
Signal = Literal["logs", "traces", "errors", "sessions", "metrics"]

_MS_NS: Final = 1_000_000


@dataclass(frozen=True)
class Field:
    """A reserved key: fixed SQL, its type, and for numbers the column's unit in ns.

    `unit_ns` None on a number means a count: duration units are refused. `also` is where else the
    key's value may be found: (a condition with `{}` for the leaf, the column the leaf reads there).
    """

    sql: str
    kind: FieldKind = "text"
    unit_ns: int | None = None
    also: tuple[str, str] | None = None


@dataclass(frozen=True)
class SignalFields:
    """How one signal's queries resolve: the default (bare-term) text, reserved keys, attributes."""

    default: str
    fields: Mapping[str, Field]
    attributes: tuple[str, ...]  # JSON-object columns for any other key; the first non-NULL wins
    ignored: frozenset[str] = frozenset()  # accepted and meaningless here: no filter
    # attribute key → the column the writer fills with its lookup (store/schema.py PROMOTED_ATTRIBUTES)
    promoted: Mapping[str, str] = dataclasses.field(default_factory=dict)
    related: Related | None = None  # keys that are columns of related rows (feature flag evaluations)


@dataclass(frozen=True)
class Related:
    """Keys of rows in another table: a row matches a filter when any of its related rows does.

    `rows` selects the related rows' link values where `{condition}` holds; `link` is this row's
    column they are compared with. Each filter is its own "any": `feature_flag.key=a
    feature_flag.result.value=true` finds sessions that saw flag a, and some flag with value true.
    """

    link: str
    rows: str
    fields: Mapping[str, Field]


_TIME_NS: Final = Field("time_ns", "timestamp", 1)
_SPAN_KIND: Final = (
    "CASE kind WHEN 1 THEN 'Internal' WHEN 2 THEN 'Server' WHEN 3 THEN 'Client' "
    "WHEN 4 THEN 'Producer' WHEN 5 THEN 'Consumer' ELSE 'Unspecified' END"
)

# Highlight keys about its own bookkeeping (sampling, who viewed, billing, processing): no meaning here.
_SESSION_IGNORED: Final = frozenset(
    ("sample", "viewed_by_me", "viewed_by_anyone", "viewed", "excluded", "completed", "processed",
     "within_billing_quota")
)  # fmt: skip


# A row without a session of its own belongs to the session of its trace (`trace_id_sql`: the
# row's trace id, when it has one): what the session view shows under the session.
def _linked_session(trace_id_sql: str) -> dict[str, Field]:
    also = (
        f"(session_id IS NULL AND {trace_id_sql} IN (SELECT trace_id FROM trace_sessions WHERE {{}}))",
        "session_id",
    )
    has = (
        f"(coalesce(session_id, '') <> '' "
        f"OR coalesce({trace_id_sql} IN (SELECT trace_id FROM trace_sessions), false))"
    )
    return {
        "secure_session_id": Field("session_id", also=also),
        "session_id": Field("session_id", also=also),
        "has_session": Field(has, "boolean"),
    }


# The ids and service columns logs, spans and errors all carry (their `highlight.*` and resource keys).
def _correlation(trace_id_sql: str) -> dict[str, Field]:
    return {
        "trace_id": Field("trace_id"),
        "span_id": Field("span_id"),
        **_linked_session(trace_id_sql),
        "request_id": Field("request_id"),
        "service_name": Field("service_name"),
        "service_version": Field("service_version"),
        "environment": Field("environment"),
    }


# Highlight derived `email` from an identifier that is an email address (and the identify metadata's).
_SESSION_EMAIL: Final = (
    "coalesce(json_extract_string(user_object, '$.email'), "
    "CASE WHEN regexp_full_match(identifier, '[^@\\s]+@[^@\\s]+') THEN identifier END, "
    "json_extract_string(properties, '$.email'))"
)
# Every page of the session: Highlight's Navigate (first load, history changes) and Reload events.
_VISITED: Final = (
    "session_id IN (SELECT session_id FROM session_events WHERE kind IN ('Navigate', 'Reload') AND {})",
    "payload",
)
# The sessions list counts browser errors and the backend errors linked through traces (sessions.py).
_SESSION_HAS_ERRORS: Final = (
    "(error_count > 0 OR session_id IN (SELECT linked_session_id FROM linked_errors "
    "WHERE linked_session_id IS NOT NULL))"
)

# A feature flag evaluation's keys (OpenTelemetry's feature_flag.* names) → flag_evaluations columns.
_FLAG_FIELDS: Final = {
    "feature_flag.key": Field("flag_key"),
    "feature_flag.result.value": Field("value"),
    "feature_flag.result.variationIndex": Field("variation_index"),
    "feature_flag.result.reason.kind": Field("reason_kind"),
    "feature_flag.context.id": Field("context_id"),
    "feature_flag.provider.name": Field("provider"),
    "feature_flag.set.id": Field("set_id"),
}
_FLAG_ROWS: Final = "SELECT {link} FROM flag_evaluations WHERE {condition}"

SIGNALS: Final[Mapping[Signal, SignalFields]] = {
    "logs": SignalFields(
        default="body",
        fields={
            "level": Field("level"),
            "message": Field("body"),
            "severity_text": Field("severity_text"),
            "severity_number": Field("severity_number", "number"),
            **_correlation("nullif(trace_id, '')"),
            "source": Field("source"),
            "event_name": Field("event_name"),
            "timestamp": _TIME_NS,
        },
        attributes=("attributes", "resource_attributes"),
        promoted=PROMOTED_ATTRIBUTES,
    ),
    "traces": SignalFields(
        default="name",
        fields={
            "span_name": Field("name"),
            "duration": Field("duration_ns", "number", 1),
            "span_kind": Field(_SPAN_KIND),
            "has_errors": Field("(status_code = 2)", "boolean"),
            "status_code": Field("status_code", "number"),
            "status_message": Field("status_message"),
            **_correlation("trace_id"),
            "parent_span_id": Field("parent_span_id"),
            "trace_state": Field("trace_state"),
            "source": Field("source"),
            "timestamp": Field("start_ns", "timestamp", 1),
        },
        attributes=("attributes", "resource_attributes"),
        promoted=PROMOTED_ATTRIBUTES,
        related=Related("span_id", _FLAG_ROWS.replace("{link}", "span_id"), _FLAG_FIELDS),
    ),
    "errors": SignalFields(
        default="message",
        fields={
            "event": Field("message"),
            "message": Field("message"),
            "type": Field("type"),
            "source": Field("source"),
            "stack": Field("stack"),
            "url": Field("url"),
            "visited_url": Field("url"),
            **_correlation("trace_id"),
            "timestamp": _TIME_NS,
        },
        # `payload` is whatever the caller passed: only JSON text of an object has keys.
        attributes=("CASE WHEN json_valid(payload) THEN payload END",),
    ),
    "sessions": SignalFields(
        default="concat_ws(' ', identifier, user_object)",
        fields={
            "identifier": Field("identifier"),
            "identified": Field("(coalesce(identifier, '') <> '')", "boolean"),
            "secure_id": Field("session_id"),
            "secure_session_id": Field("session_id"),
            "session_id": Field("session_id"),
            "environment": Field("environment"),
            "service_name": Field("service_name"),
            "service_version": Field("app_version"),
            "sdk_version": Field("sdk_version"),
            "client_id": Field("client_id"),
            "active_length": Field("active_ms", "number", _MS_NS),
            "length": Field("duration_ms", "number", _MS_NS),
            "pages_visited": Field("page_count", "number"),
            "has_rage_clicks": Field("has_rage_clicks", "boolean"),
            "has_errors": Field(_SESSION_HAS_ERRORS, "boolean"),
            "first_url": Field("first_url"),
            "visited-url": Field("first_url", also=_VISITED),
            "visited_url": Field("first_url", also=_VISITED),
            "email": Field(_SESSION_EMAIL),
            "ip": Field("ip"),
            "user_agent": Field("user_agent"),
            "language": Field("language"),
            "timestamp": Field("started_ns", "timestamp", 1),
            "updated_at": Field("last_activity_ns", "timestamp", 1),
        },
        attributes=("properties", "user_object"),
        ignored=_SESSION_IGNORED,
        related=Related("session_id", _FLAG_ROWS.replace("{link}", "session_id"), _FLAG_FIELDS),
    ),
    "metrics": SignalFields(
        default="metric_name",
        fields={
            "metric_name": Field("metric_name"),
            "metric_description": Field("description"),
            "metric_unit": Field("unit"),
            "type": Field("metric_type"),
            "metric_type": Field("metric_type"),
            "value": Field("value", "number"),
            "count": Field("count", "number"),
            "sum": Field("sum", "number"),
            "min": Field("min", "number"),
            "max": Field("max", "number"),
            "secure_session_id": Field("session_id"),
            "session_id": Field("session_id"),
            "request_id": Field("request_id"),
            "service_name": Field("service_name"),
            "service_version": Field("service_version"),
            "environment": Field("environment"),
            "scope_name": Field("scope_name"),
            "timestamp": _TIME_NS,
            "start_timestamp": Field("start_ns", "timestamp", 1),
        },
        attributes=("attributes", "resource_attributes"),
    ),
}

_UNITS_NS: Final = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000, "ms": 1_000_000,
                    "us": 1_000, "ns": 1}  # fmt: skip
_NUMBER = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z]*)")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_KEY = re.compile(r"[A-Za-z0-9_.*\-]+")
# ASCII characters other than letters and digits: what separates tokens for hasTokenCaseInsensitive.
_SEPARATOR: Final = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_COMPARISONS: Final = frozenset({"<", "<=", ">", ">="})


def compile_search(query: str | Node | None, signal: Signal) -> tuple[str, list[object]]:
    """A WHERE condition for `signal`'s table (or view) and its parameters, in order.

    `query` is the query text or an already parsed tree. A query that filters nothing gives
    `("TRUE", [])`. Raises SearchSyntaxError for text that does not parse, and for values that do
    not fit their key (`duration>abc`, `has_errors=maybe`), with the value's position.
    """
    if signal not in SIGNALS:
        raise ValueError(f"unknown signal {signal!r}; expected one of {', '.join(SIGNALS)}")
    tree = parse_search(query) if isinstance(query, str) else query
    compiler = _Compiler(SIGNALS[signal])
    sql = compiler.node(tree) if tree is not None else None
    return (sql or "TRUE", compiler.params)


@dataclass(frozen=True)
class _Target:
    """What a key resolves to: SQL (with its own parameters), type and base unit."""

    key: str
    sql: str
    params: tuple[object, ...]
    kind: FieldKind
    unit_ns: int | None
    also: tuple[str, str] | None = None

    @property
    def text(self) -> str:
        return self.sql if self.kind == "text" else f"CAST({self.sql} AS VARCHAR)"


class _Compiler:
    def __init__(self, fields: SignalFields) -> None:
        self._fields = fields
        self.params: list[object] = []

    def node(self, node: Node) -> str | None:
        match node:
            case Term():
                return self._bare(node)
            case Filter():
                return self._filter(node)
            case Exists():
                return self._exists(node)
            case And(items):
                return _join([self.node(item) for item in items], "AND")
            case Or(items):
                return _join([self.node(item) for item in items], "OR")
            case Not(item):
                inner = self.node(item)
                return None if inner is None else f"NOT ({inner})"
        raise TypeError(f"not a search node: {node!r}")

    def _emit(self, sql: str, *params: object) -> str:
        self.params.extend(params)
        return f"coalesce({sql}, false)"

    # bare terms: the default key

    def _bare(self, term: Term) -> str | None:
        column = self._fields.default
        if term.regex:
            return self._emit(f"regexp_matches({column}, ?)", term.value)
        if _TOKEN.fullmatch(term.value):
            pattern = f"(?:^|{_SEPARATOR}){term.value}(?:$|{_SEPARATOR})"
            # The ILIKE is implied by the token match and ~4x cheaper: it spares the regex most rows
            # (measured on 1M log bodies: regex alone 389 ms, ILIKE alone 103 ms). Two leaves ANDed,
            # not one coalesce around the AND: DuckDB then runs the regex only on the ILIKE's matches
            # (within one coalesce it ran both on every row: 1.9 s instead of 0.2 s on 1.3M lines).
            # A token has no LIKE metacharacters, so no ESCAPE clause, which made the ILIKE ~1.8x slower.
            contains = self._emit(f"{column} ILIKE ?", f"%{term.value}%")
            regex = self._emit(f"regexp_matches({column}, ?, 'i')", pattern)
            return f"({contains} AND {regex})"
        if not term.value:
            return None
        return self._emit(f"{column} ILIKE ? ESCAPE '\\'", _contains_pattern(term.value))

    # keyed filters

    def _filter(self, node: Filter) -> str | None:
        if node.value is None or node.op == "!" or node.key in self._fields.ignored:
            return None
        related = self._fields.related
        if related is not None and node.key in related.fields:
            return self._related(related, node)
        target = self._target(node.key, node.position)
        if node.op == "!=":
            return f"NOT ({self._values(target, '=', node.value)})"
        return self._values(target, node.op, node.value)

    def _related(self, related: Related, node: Filter) -> str:
        """`link IN (the related rows matching)`; `!=` is NOT of the positive: no related row matches."""
        field = related.fields[node.key]
        target = _Target(node.key, field.sql, (), field.kind, field.unit_ns)
        assert node.value is not None  # _filter returned before for a filter without a value
        condition = self._values(target, "=" if node.op == "!=" else node.op, node.value)
        sql = f"coalesce({related.link} IN ({related.rows.format(condition=condition)}), false)"
        return f"NOT ({sql})" if node.op == "!=" else sql

    def _exists(self, node: Exists) -> str | None:
        if node.key in self._fields.ignored:
            return None
        related = self._fields.related
        if related is not None and node.key in related.fields:
            condition = f"coalesce({related.fields[node.key].sql} <> '', false)"
            sql = f"coalesce({related.link} IN ({related.rows.format(condition=condition)}), false)"
            return f"NOT ({sql})" if node.negated else sql
        target = self._target(node.key, node.position)
        sql = self._looking_further(target, lambda t: self._emit(f"{t.text} <> ''", *t.params))
        return f"NOT ({sql})" if node.negated else sql

    def _target(self, key: str, position: int) -> _Target:
        field = self._fields.fields.get(key)
        if field is not None:
            return _Target(key, field.sql, (), field.kind, field.unit_ns, field.also)
        if not _KEY.fullmatch(key):
            raise SearchSyntaxError(
                f"a key has other characters: keys are made of letters, digits, _ . - and * ({key!r})",
                position,
                "a key",
            )
        column = self._fields.promoted.get(key)
        if column is not None:
            return _Target(key, column, (), "text", 1)
        path = f'$."{key}"'
        lookups = [f"json_extract_string({column}, ?)" for column in self._fields.attributes]
        sql = lookups[0] if len(lookups) == 1 else f"coalesce({', '.join(lookups)})"
        return _Target(key, sql, (path,) * len(lookups), "text", 1)

    def _values(self, target: _Target, op: str, value: ValueGroup | Node) -> str:
        # A value group's And/Or/Not hold Values (Terms at the leaves), though typed as holding Nodes.
        match value:
            case ValueGroup(item):
                return self._values(target, op, item)
            case Term():
                return self._leaf(target, op, value)
            case And(items):
                return _join([self._values(target, op, item) for item in items], "AND") or "TRUE"
            case Or(items):
                return _join([self._values(target, op, item) for item in items], "OR") or "TRUE"
            case Not(item):
                return f"NOT ({self._values(target, op, item)})"
        raise TypeError(f"not a value: {value!r}")

    def _leaf(self, target: _Target, op: str, term: Term) -> str:
        return self._looking_further(target, lambda t: self._one_leaf(t, op, term))

    def _looking_further(self, target: _Target, leaf: Callable[[_Target], str]) -> str:
        """`leaf` on the target, or, for a key whose value may also be elsewhere, on both places."""
        if target.also is None:
            return leaf(target)
        condition, column = target.also
        inner = dataclasses.replace(target, sql=column, also=None)
        return f"({leaf(target)} OR coalesce({condition.format(leaf(inner))}, false))"

    def _one_leaf(self, target: _Target, op: str, term: Term) -> str:
        if op in _COMPARISONS:
            return self._compare(target, op, term)
        if term.regex:
            return self._emit(f"regexp_matches({target.text}, ?)", *target.params, term.value)
        if "*" in term.value:
            sql = f"{target.text} ILIKE ? ESCAPE '\\'"
            return self._emit(sql, *target.params, _contains_pattern(term.value))
        if target.kind == "text":
            return self._emit(f"{target.sql} = ?", *target.params, term.value)
        return self._emit(f"{target.sql} = ?", *target.params, _typed_value(target, term))

    def _compare(self, target: _Target, op: str, term: Term) -> str:
        if term.regex or "*" in term.value:
            raise SearchSyntaxError(
                f"wildcards and regular expressions work with =, : and != only, not {op}",
                term.position,
                "a number",
            )
        if target.kind == "boolean":
            raise _boolean_error(target, term)
        if target.kind != "text":
            return self._emit(f"{target.sql} {op} ?", *target.params, _typed_value(target, term))
        number = _number(term.value, target.unit_ns)
        if number is None:  # text that is not a number: compare as text
            return self._emit(f"{target.sql} {op} ?", *target.params, term.value)
        return self._emit(f"TRY_CAST({target.sql} AS DOUBLE) {op} ?", *target.params, number)


def _join(parts: Sequence[str | None], keyword: str) -> str | None:
    kept = [part for part in parts if part is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + f" {keyword} ".join(kept) + ")"


def _contains_pattern(value: str) -> str:
    """ILIKE pattern: `*` is any text, `%` `_` `\\` are literal, and the match is a contains."""
    pieces = [re.sub(r"([\\%_])", r"\\\1", piece) for piece in value.split("*")]
    pattern = "%".join(pieces)
    return ("" if value.startswith("*") else "%") + pattern + ("" if value.endswith("*") else "%")


# typed values


def _typed_value(target: _Target, term: Term) -> object:
    """The value as a typed key's type (number, boolean, timestamp); raises when it cannot be."""
    match target.kind:
        case "boolean":
            return _boolean(target, term)
        case "number":
            number = _number(term.value, target.unit_ns, target, term)
            if number is None:
                raise SearchSyntaxError(
                    f"{target.key} takes a number, not {term.value!r}", term.position, "a number"
                )
            return number
        case "timestamp":
            return _timestamp_ns(target, term)
    raise TypeError(f"unknown field kind {target.kind!r}")  # pragma: no cover


def _number(
    text: str, unit_ns: int | None, target: _Target | None = None, term: Term | None = None
) -> int | float | None:
    """`text` in the column's unit (`1s` → 1000 for a ms column); None if it is not a number.

    With `target` (a typed key) an unknown unit or a unit on a count raises instead.
    """
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    number, unit = Fraction(match[1]), match[2].lower()
    if unit:
        if unit not in _UNITS_NS or unit_ns is None:
            if target is None or term is None:
                return None
            raise _unit_error(target, term, unit)
        number = number * _UNITS_NS[unit] / unit_ns
    return int(number) if number.denominator == 1 else float(number)


def _unit_error(target: _Target, term: Term, unit: str) -> SearchSyntaxError:
    if target.unit_ns is None:
        message = f"{target.key} is a count: it takes a plain number, not {term.value!r}"
    else:
        message = f"unknown unit {unit!r} in {term.value!r}: use h, m, s, ms, us or ns"
    return SearchSyntaxError(message, term.position, "a number")


def _boolean(target: _Target, term: Term) -> bool:
    text = term.value.lower()
    if text not in ("true", "false"):
        raise _boolean_error(target, term)
    return text == "true"


def _boolean_error(target: _Target, term: Term) -> SearchSyntaxError:
    return SearchSyntaxError(
        f"{target.key} is true or false: write {target.key}=true or {target.key}=false",
        term.position,
        "true or false",
    )


def _timestamp_ns(target: _Target, term: Term) -> int | float:
    """Nanoseconds since the epoch, from a number (with a unit, else ns) or an ISO-8601 date-time."""
    number = _number(term.value, 1, target, term) if _NUMBER.fullmatch(term.value) else None
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(term.value)
    except ValueError:
        raise SearchSyntaxError(
            f'{target.key} takes a date-time like 2024-05-01 or "2024-05-01T12:00:00Z", not {term.value!r}',
            term.position,
            "a date-time",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
