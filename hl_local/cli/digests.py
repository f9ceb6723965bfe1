"""Text views of what hl-local holds, for a coding agent (`hl-local mcp`): short, bounded, linked by id.

Progressive disclosure: `search` gives one line per item with the id the detail views take
(`error`, `trace`, `session`); `since` says what arrived after a moment. Every answer is at most
MAX_CHARS characters (cut with a line that says how to narrow it), lists at most MAX_ITEMS items,
log bodies and messages at most MAX_TEXT characters, stacks MAX_FRAMES frames (source lines for the
first CONTEXT_FRAMES that have them), traces MAX_SPANS spans, session timelines MAX_EVENTS events.
Times are UTC ISO 8601; offsets into a session are m:ss.mmm after its first recorded event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from hl_local.cli.client import Api

MAX_CHARS = 16_000
MAX_ITEMS = 50
MAX_TEXT = 300
MAX_FRAMES = 25
CONTEXT_FRAMES = 3
MAX_SPANS = 250
MAX_EVENTS = 200
MAX_LOGS = 15
SLOW_SHARE = 0.2  # a span is SLOW when it takes ≥ 20 % of its trace and is one of its 5 longest
SLOW_TOP = 5
SINCE_ITEMS = 10

SIGNALS = {
    "sessions": "/api/sessions",
    "errors": "/api/error-groups",
    "logs": "/api/logs",
    "traces": "/api/traces",
}


def bounded(lines: Iterable[str]) -> str:
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > MAX_CHARS:
            out.append(
                f"… cut at {MAX_CHARS:,} characters: narrow the query, a smaller limit, or a detail tool"
            )
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def short(text: str | None, limit: int = MAX_TEXT) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def iso(ns: int | float | None) -> str:
    if ns is None:
        return "?"
    seconds = ns / 1e9
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(ns // 1_000_000 % 1000):03d}Z"


def ms_text(duration_ns: int | float | None) -> str:
    if duration_ns is None:
        return "?"
    ms = duration_ns / 1e6
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.1f} ms"


def offset(ms: float | None) -> str:
    if ms is None:
        return "+?"
    whole = max(0, int(ms))
    return f"+{whole // 60000}:{whole // 1000 % 60:02d}.{whole % 1000:03d}"


def since_ms(text: str) -> int:
    """`15m`, `2h`, `30s`, `1d` ago; epoch milliseconds; or an ISO 8601 time."""
    text = text.strip()
    relative = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)", text)
    if relative:
        seconds = float(relative[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[relative[2]]
        return int((time.time() - seconds) * 1000)
    if text.isdigit():
        return int(text)
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a moment: give 15m, 2h, epoch milliseconds or an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or +01:00")
    return int(moment.timestamp() * 1000)


# ---------------------------------------------------------------- search


def search(
    api: Api, signal: str, query: str, start: str | None, end: str | None, limit: int, cursor: str | None
) -> str:
    path = SIGNALS.get(signal)
    if path is None:
        return f"unknown signal {signal!r}: one of {', '.join(SIGNALS)}"
    size = max(1, min(MAX_ITEMS, limit))
    page = api.get(path, query=query or None, start=start, end=end, limit=size, cursor=cursor)
    items = page["items"]
    lines = [f"{len(items)} {signal} (newest first){' matching ' + repr(query) if query else ''}:"]
    lines += [_ITEM_LINES[signal](item) for item in items]
    if page.get("next_cursor"):
        lines.append(f"more: call search again with cursor={page['next_cursor']!r}")
    lines.append(_NEXT_STEP[signal])
    return bounded(lines)


def _session_line(s: dict[str, Any]) -> str:
    who = s["identifier"] or "anonymous"
    return (f"{s['session_id']}  {iso(s['started_ns'])}  {ms_text(s['duration_ms'] * 1e6)}  {who}  "
            f"{s['page_count']} pages  {s['error_count']} errors  {short(s['first_url'], 120)}"
            + ("  LIVE" if s.get("live") else ""))  # fmt: skip


def _group_line(g: dict[str, Any]) -> str:
    return (f"{g['group_id']}  {g['type'] or 'Error'}: {short(g['title'], 160)}  x{g['occurrences']}  "
            f"last {iso(g['last_seen_ns'])}  {g['service_name'] or g['source']}  [{g['state']}]")  # fmt: skip


def _log_line(log: dict[str, Any]) -> str:
    trace = f"  trace={log['trace_id']}" if log["trace_id"] else ""
    service = log["service_name"] or log.get("source") or "-"
    return f"{iso(log['time_ns'])} {log['level'].upper()} {service}  {short(log['body'])}{trace}"


def _trace_line(t: dict[str, Any]) -> str:
    flags = "  HAS ERRORS" if t["has_errors"] else ""
    session = f"  session={t['session_id']}" if t.get("session_id") else ""
    size = f"{ms_text(t['duration_ns'])}  {t['span_count']} spans  {iso(t['start_ns'])}"
    root = f"{short(t['root_span_name'], 100)}  {t['service_name'] or '-'}"
    return f"{t['trace_id']}  {root}  {size}{flags}{session}"


_ITEM_LINES = {"sessions": _session_line, "errors": _group_line, "logs": _log_line, "traces": _trace_line}
_NEXT_STEP = {
    "sessions": "details: session(session_id) gives its timeline",
    "errors": "details: error(group_id) gives the stack with source lines and the latest occurrence",
    "logs": "details: trace(trace_id) gives the trace a line belongs to",
    "traces": "details: trace(trace_id) gives the span tree",
}


# ---------------------------------------------------------------- one error group


def error(api: Api, group_id: str) -> str:
    group = api.get(f"/api/error-groups/{group_id}", limit=5)
    lines = [
        f"{group['type'] or 'Error'}: {short(group['title'], 500)}",
        f"group {group['group_id']}  [{group['state']}]  {group['source']}  "
        f"service {group['service_name'] or '-'}",
        f"{group['occurrences']} occurrences, {group['affected_sessions']} sessions; "
        f"first {iso(group['first_seen_ns'])}, last {iso(group['last_seen_ns'])}",
        "",
        "stack (raise site first):",
        *stack_lines(group["frames"]),
    ]
    latest = group["occurrences_latest"][0] if group["occurrences_latest"] else None
    if latest is not None:
        lines += ["", *occurrence_lines(api.get(f"/api/errors/{latest['error_id']}"))]
    return bounded(lines)


def stack_lines(frames: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    shown = 0
    for frame in frames[:MAX_FRAMES]:
        where = f"{frame['file'] or '?'}" + "".join(f":{n}" for n in (frame["line"], frame["column"]) if n)
        lines.append(f"  at {frame['function'] or '(anonymous)'} ({where})")
        generated = frame.get("generated")
        note = frame.get("source_map")
        if generated:
            lines.append(f"     mapped from {generated['file']}:{generated['line']}:{generated['column']}")
        elif note and note["status"] != "applied":
            lines.append(f"     no source map applied: {short(note['detail'], 200)}")
        context = frame.get("context")
        if context and context["status"] == "ok" and shown < CONTEXT_FRAMES:
            shown += 1
            for number, text in enumerate(context["lines"], context["first_line"]):
                mark = ">" if number == frame["line"] else " "
                lines.append(f"     {mark}{number:5} | {text}")
            if context["modified_after"]:
                lines.append("     (the file changed after the error: its lines may have moved)")
        else:
            if frame.get("source"):  # the line as the stack printed it (Python)
                lines.append(f"     | {short(frame['source'], 200)}")
            if context and context["status"] not in ("ok", "no_file") and shown < CONTEXT_FRAMES:
                lines.append(f"     source not shown: {short(context['detail'], 200)}")
    if len(frames) > MAX_FRAMES:
        lines.append(f"  … {len(frames) - MAX_FRAMES} more frames")
    return lines or ["  (no parsed frames)"]


def occurrence_lines(e: dict[str, Any]) -> list[str]:
    lines = [f"latest occurrence {e['error_id']} at {iso(e['time_ns'])}: {short(e['message'], 500)}"]
    facts = [("url", e["url"]), ("service", e["service_name"]), ("version", e["service_version"]),
             ("environment", e["environment"]), ("request", e["request_id"])]  # fmt: skip
    lines += [f"  {name}: {short(str(value), 200)}" for name, value in facts if value]
    if e["session_id"]:
        lines.append(
            f"  session: {e['session_id']} at {offset(e['session_offset_ms'])} (session(session_id))"
        )
    if e["trace_id"]:
        lines.append(f"  trace: {e['trace_id']} span {e['span_id'] or '-'} (trace(trace_id))")
    if e["payload"] not in (None, "", {}):
        lines.append(f"  payload: {short(str(e['payload']), 800)}")
    logs = e["logs_around"]
    if logs:
        lines.append(f"  logs around it ({len(logs)}, the {min(MAX_LOGS, len(logs))} closest):")
        closest = sorted(logs, key=lambda log: abs(log["time_ns"] - e["time_ns"]))[:MAX_LOGS]
        lines += [f"    {_log_line(log)}" for log in sorted(closest, key=lambda log: log["time_ns"])]
    return lines


# ---------------------------------------------------------------- one trace


def trace(api: Api, trace_id: str) -> str:
    t = api.get(f"/api/traces/{trace_id}")
    spans = t["spans"]
    total = max(1, t["duration_ns"])
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_span_id"] if s["parent_span_id"] in ids else ""
        children.setdefault(parent, []).append(s)
    for kids in children.values():
        kids.sort(key=lambda s: s["start_ns"])
    roots = {s["span_id"] for s in children.get("", [])}
    longest = sorted((s for s in spans if s["span_id"] not in roots), key=lambda s: -s["duration_ns"])[
        :SLOW_TOP
    ]
    slow = {s["span_id"] for s in longest if s["duration_ns"] >= SLOW_SHARE * total}
    lines = [
        f"trace {t['trace_id']}: {len(spans)} spans, {ms_text(t['duration_ns'])}, from {iso(t['start_ns'])}"
    ]
    if t.get("session_id"):
        lines.append(f"session {t['session_id']} (session(session_id))")
    lines.append(
        "spans (offset from the trace's start, duration; SLOW: ≥ 20 % of the trace and among the 5 longest):"
    )
    printed = 0

    def walk(parent: str, depth: int) -> None:
        nonlocal printed
        for s in children.get(parent, []):
            if printed >= MAX_SPANS:
                return
            printed += 1
            marks = " SLOW" if s["span_id"] in slow else ""
            failed = _failure(s)
            marks += f" FAILED: {short(failed, 200)}" if failed is not None else ""
            at = offset((s["start_ns"] - t["start_ns"]) / 1e6)
            name = f"{short(s['name'], 120)} [{s['service_name'] or '-'}]"
            lines.append(f"{'  ' * depth}- {name} {at} {ms_text(s['duration_ns'])}{marks}")
            walk(s["span_id"], depth + 1)

    walk("", 0)
    if len(spans) > printed:
        lines.append(f"… {len(spans) - printed} more spans not shown")
    if t["errors"]:
        lines.append("errors:")
        lines += [
            f"  {e['type']}: {short(e['message'], 200)} (group {e['group_id']}: error(group_id))"
            for e in t["errors"][:10]
        ]
    worth = [log for log in t["logs"] if log["level"] in ("error", "warn", "fatal")]
    if worth:
        lines.append(f"warnings and errors logged ({len(worth)}):")
        lines += [f"  {_log_line(log)}" for log in worth[:MAX_LOGS]]
    return bounded(lines)


def _failure(span: dict[str, Any]) -> str | None:
    exceptions = [e for e in span["events"] if e["name"] == "exception"]
    if exceptions:
        attributes = exceptions[0]["attributes"]
        return f"{attributes.get('exception.type', 'exception')}: {attributes.get('exception.message', '')}"
    if span["status_code"] == 2:
        return span["status_message"] or "status ERROR"
    return None


# ---------------------------------------------------------------- what arrived since a moment


def since(api: Api, moment: str) -> str:
    start = since_ms(moment)
    groups = api.get("/api/error-groups", start=start, limit=100)["items"]
    new_groups = [g for g in groups if g["first_seen_ns"] >= start * 1_000_000]
    error_logs = api.get("/api/logs", query="level=error", start=start, limit=100)["items"]
    failed = api.get("/api/traces", query="has_errors=true", start=start, limit=100)["items"]
    traces = api.get("/api/traces", start=start, limit=100)["items"]
    sessions = api.get("/api/sessions", start=start, limit=100)["items"]

    def count(items: list[Any]) -> str:
        return "100+" if len(items) >= 100 else str(len(items))

    lines = [
        f"since {iso(start * 1_000_000)}:",
        f"  {count(new_groups)} new error groups; {count(groups)} groups with errors in all",
        f"  {count(error_logs)} error log lines; {count(traces)} traces, {count(failed)} with errors; "
        f"{count(sessions)} sessions",
    ]
    sections = [
        ("new error groups (error(group_id))", new_groups, _group_line),
        ("groups that happened again", [g for g in groups if g not in new_groups], _group_line),
        ("error log lines, newest first", error_logs, _log_line),
        ("traces with errors (trace(trace_id))", failed, _trace_line),
        ("sessions (session(session_id))", sessions, _session_line),
    ]
    for title, items, line_of in sections:
        if items:
            lines.append(f"{title}:")
            lines += [f"  {line_of(item)}" for item in items[:SINCE_ITEMS]]
            if len(items) > SINCE_ITEMS:
                lines.append(f"  … {len(items) - SINCE_ITEMS} more: search with start={start}")
    return bounded(lines)
