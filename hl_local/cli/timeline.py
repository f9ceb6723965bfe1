"""One browser session as a textual timeline, for a coding agent (`hl-local mcp`'s `session` tool).

In time order, with offsets after the session's first recorded event: page loads (the first URL and
each navigation), clicks, inputs (from the rrweb events: the element, as the recording names it, and
the value typed, as recorded, which the SDK may have masked), console errors and warnings, failed
requests (status 0 or ≥ 400) with the backend trace each started, errors, track/identify/feedback
events. At most MAX_EVENTS lines: errors, failed requests and console errors come first when some
must be left out, and the answer says what was.
"""

from __future__ import annotations

from typing import Any

from hl_local.cli.client import Api
from hl_local.cli.digests import MAX_EVENTS, bounded, iso, ms_text, offset, short

MAX_EVENTS_READ = 100_000  # a longer recording's inputs are left out (its other lines are not)
REPEAT_MS = 1000  # the same line again this soon is the same thing said twice
INPUT_MERGE_MS = 2000  # keystrokes into one element this close together are one line
_INCREMENTAL, _FULL_SNAPSHOT, _MUTATION, _INPUT = 3, 2, 0, 5

Entry = tuple[float, int, str]  # (ms since the first event, priority: 0 = keep first, the line)


def session(api: Api, session_id: str) -> str:
    s = api.get(f"/api/sessions/{session_id}")
    first = s["first_event_ms"] or s["started_ns"] / 1e6
    header = [
        f"session {s['session_id']}: {s['identifier'] or 'anonymous'}, from {iso(s['started_ns'])}, "
        f"{ms_text(s['duration_ms'] * 1e6)} ({ms_text(s['active_ms'] * 1e6)} active), "
        f"{s['page_count']} pages, "
        f"{s['click_count']} clicks, {s['error_count']} errors"
        + (", rage clicks" if s["has_rage_clicks"] else ""),
        f"browser: {short(s['user_agent'], 160)}; environment {s['environment'] or '-'}; "
        f"service {s['service_name'] or '-'}",
    ]
    entries: list[Entry] = []
    if s["first_url"]:
        entries.append((0, 2, f"page load {short(s['first_url'], 200)}"))
    entries += _markers(api, session_id, first)
    entries += _console(api, session_id, first)
    entries += _network(api, session_id, first)
    entries += _errors(api, session_id, first)
    notes: list[str] = []
    if s["event_count"] <= MAX_EVENTS_READ:
        entries += _inputs(api, session_id, first)
    else:
        notes.append(f"(inputs left out: {s['event_count']:,} recorded events)")
    entries = _without_repeats(entries)
    kept = sorted(entries, key=lambda e: (e[1], e[0]))[:MAX_EVENTS]
    left_out = len(entries) - len(kept)
    lines = [*header, "timeline (offset after the first recorded event):"]
    lines += [f"  {offset(at)}  {text}" for at, _, text in sorted(kept, key=lambda e: e[0])]
    if left_out:
        lines.append(f"  … {left_out} clicks, inputs and page loads left out (at most {MAX_EVENTS} lines)")
    return bounded(lines + notes)


def _without_repeats(entries: list[Entry]) -> list[Entry]:
    """One line where the SDK said the same twice (a reload is a Navigate and a Reload event)."""
    out: list[Entry] = []
    last: dict[str, float] = {}
    for entry in sorted(entries, key=lambda e: e[0]):
        if entry[0] - last.get(entry[2], -REPEAT_MS - 1) > REPEAT_MS:
            out.append(entry)
        last[entry[2]] = entry[0]
    return out


def _markers(api: Api, session_id: str, first: float) -> list[Entry]:
    out: list[Entry] = []
    for m in api.get(f"/api/sessions/{session_id}/timeline")["items"]:
        kind, at = m["kind"], m["time_ms"] - first
        if kind == "click":
            out.append((at, 2, f"click {short(m['label'], 120)}" + _selector(m["detail"])))
        elif kind == "navigate":
            out.append((at, 2, f"page load {short(m['label'], 200)}"))
        elif kind in ("track", "identify"):
            out.append((at, 1, f"{kind} {short(m['label'], 200)}"))
        elif kind == "feedback":
            out.append((at, 0, f"feedback: {short(m['detail']['verbatim'], 200)}"))
    return out


def _selector(detail: dict[str, Any]) -> str:
    selector = detail.get("selector")
    return f" ({short(selector, 80)})" if selector else ""


def _console(api: Api, session_id: str, first: float) -> list[Entry]:
    lines = api.get(f"/api/sessions/{session_id}/console")["items"]
    return [
        (
            line["time_ns"] / 1e6 - first,
            0,
            f"console.{line['severity_text'] or line['level']}: {short(line['body'])}",
        )
        for line in lines
        if line["level"] in ("error", "warn")
    ]


def _network(api: Api, session_id: str, first: float) -> list[Entry]:
    out: list[Entry] = []
    for r in api.get(f"/api/sessions/{session_id}/network")["items"]:
        status = r["status"]
        if status is not None and 0 < status < 400:
            continue
        if r["initiator_type"] not in ("fetch", "xmlhttprequest"):
            continue
        backend = (
            f"; backend trace {r['backend_trace_id']} (trace(trace_id))" if r["backend_trace_id"] else ""
        )
        took = f" in {r['duration_ms']:,.0f} ms" if r["duration_ms"] is not None else ""
        what = f"{r['method'] or 'GET'} {short(r['url'], 160)}"
        out.append(
            (r["start_ms"] - first, 0, f"request failed: {what} -> {status or 'no response'}{took}{backend}")
        )
    return out


def _errors(api: Api, session_id: str, first: float) -> list[Entry]:
    out: list[Entry] = []
    for e in api.get(f"/api/sessions/{session_id}/errors")["items"]:
        frames = e["frames"]
        top = ""
        if frames:
            f = frames[0]
            top = f" at {f['function'] or '(anonymous)'} ({f['file'] or '?'}:{f['line'] or '?'})"
        at = e["offset_ms"] if e["offset_ms"] is not None else e["time_ns"] / 1e6 - first
        out.append((at, 0, f"ERROR {e['type']}: {short(e['message'], 200)}{top} (group {e['group_id']})"))
    return out


def _inputs(api: Api, session_id: str, first: float) -> list[Entry]:
    """Input events of the recording, one line per element typed into (keystrokes merged)."""
    events = api.get(f"/api/sessions/{session_id}/events", keyframes="false")
    names: dict[int, str] = {}
    out: list[Entry] = []
    last: tuple[int, float] | None = None
    for event in events:
        data = event.get("data") or {}
        if event.get("type") == _FULL_SNAPSHOT:
            _name_nodes(data.get("node"), names)
        elif event.get("type") == _INCREMENTAL and data.get("source") == _MUTATION:
            for add in data.get("adds") or ():
                _name_nodes(add.get("node"), names)
        elif event.get("type") == _INCREMENTAL and data.get("source") == _INPUT:
            node, at = int(data.get("id") or 0), float(event["timestamp"]) - first
            value = "checked" if data.get("isChecked") else repr(short(str(data.get("text", "")), 60))
            line = (at, 1, f"input into {names.get(node, f'element {node}')}: {value}")
            if last is not None and last[0] == node and at - last[1] <= INPUT_MERGE_MS and out:
                out[-1] = (out[-1][0], 1, line[2])  # the value after the last keystroke, at the first
            else:
                out.append(line)
            last = (node, at)
    return out


def _name_nodes(node: Any, names: dict[int, str]) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        if current.get("type") == 2 and isinstance(current.get("id"), int):
            attributes = current.get("attributes") or {}
            tag = str(current.get("tagName") or "element")
            for key, template in (("id", "#{}"), ("name", "[name={}]"), ("placeholder", "[placeholder={}]")):
                if attributes.get(key):
                    tag += template.format(short(str(attributes[key]), 40))
                    break
            names[current["id"]] = tag
        stack.extend(current.get("childNodes") or ())
