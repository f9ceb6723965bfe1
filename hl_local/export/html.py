"""Export as one self-contained HTML page: the replay, its panels and the linked traces.

The page is the UI's export entry point (web/src/export/, built into hl_local/static/export.js and
export.css) with its data inside: the API's own answers for the session (its details, timeline,
console, network, errors, logs; every linked trace as `GET /api/traces/{id}` gives it), and the
rrweb events with keyframes as the events stream sends them. Both are gzip-compressed and
base64-encoded in `<script type="application/octet-stream">` elements, which browsers never run;
the page inflates them with the browser's own DecompressionStream, so nothing is fetched.

Guarantees, as in the UI: a Content-Security-Policy in the page lets only the page's own script
run (by its SHA-256) and allows no connection at all; the replay is rrweb-player's iframe,
sandboxed without scripts; recorded text is only ever rendered as text. Recorded images, fonts and
media may load when the page is opened online, as in the UI, so the replay looks as it did; no
referrer is sent. A trace export (no session) shows the trace's waterfall, logs and errors.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import msgspec

from hl_local import __version__
from hl_local.errors import ExportError
from hl_local.export.asgi import get
from hl_local.export.selection import Chosen, Selection, choose, chosen_ids, release

if TYPE_CHECKING:
    from litestar import Litestar

    from hl_local.store.db import Store

# Events compress ~8x at level 6 and barely better at 9, which takes twice as long (measured on
# the 30-minute bench session: see ARCHITECTURE.md).
GZIP_LEVEL = 6

CSP = (
    "default-src 'none'; script-src {script}; style-src 'unsafe-inline'; img-src * data: blob:; "
    "font-src * data:; media-src * data: blob:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


async def write_html(
    app: Litestar, store: Store, selection: Selection, out: Path
) -> tuple[Chosen, dict[str, int]]:
    """The page of the one session (or the one trace) `selection` names, at `out`."""
    chosen, sessions, traces = await store.read(lambda cur: _choose(cur, selection))
    if len(sessions) > 1 or (not sessions and len(traces) != 1):
        what = f"{len(sessions)} sessions" if sessions else f"{len(traces)} traces"
        raise ExportError(f"an HTML export holds one session (or one trace), and this chose {what}: "
                          "narrow it, or export them to .duckdb")  # fmt: skip
    parts: dict[str, bytes] = {"session": b"null"}
    events = b"[]"
    if sessions:
        base = f"/api/sessions/{sessions[0]}"
        parts["session"] = await get(app, base)
        for name in ("timeline", "console", "network", "errors", "logs"):
            parts[name] = await get(app, f"{base}/{name}")
        parts["logs"] = await _whole_bodies(app, parts["logs"], lambda answer: [answer["items"]])
        events = await get(app, f"{base}/events")
    else:
        for name in ("timeline", "console", "network", "errors", "logs"):
            parts[name] = b'{"items":[]}'
    trace_answers = [
        await _whole_bodies(app, await get(app, f"/api/traces/{trace_id}"), lambda answer: [answer["logs"]])
        for trace_id in traces
    ]
    parts["traces"] = b"[" + b",".join(trace_answers) + b"]"
    data = _document(parts)
    out.write_bytes(page(data, events, _title(parts["session"], traces)))
    counts = {"events": _length(events), "traces": len(traces)}
    for name in ("console", "network", "errors", "logs"):
        counts[name] = len(msgspec.json.decode(parts[name])["items"])
    return chosen, counts


def _choose(cur: duckdb.DuckDBPyConnection, selection: Selection) -> tuple[Chosen, list[str], list[str]]:
    cur.execute("BEGIN")
    try:
        chosen = choose(cur, selection)
        sessions, traces = chosen_ids(cur, chosen)
    finally:
        release(cur)
        cur.execute("ROLLBACK")
    return chosen, sessions, traces


async def _whole_bodies(
    app: Litestar, answer: bytes, lists: Callable[[dict[str, Any]], list[list[dict[str, Any]]]]
) -> bytes:
    """`answer` with every log line's whole body: lists carry a 2,000-character preview, and the
    file has no server to ask for the rest (GET /api/log-lines/{line_id} gives it here)."""
    if b'"body_truncated":true' not in answer:
        return answer
    decoded = msgspec.json.decode(answer)
    for lines in lists(decoded):
        for line in lines:
            if line.get("body_truncated") and line.get("line_id"):
                whole = msgspec.json.decode(await get(app, f"/api/log-lines/{line['line_id']}"))
                line.update(body=whole["body"], body_truncated=False)
    return msgspec.json.encode(decoded)


def _document(parts: dict[str, bytes]) -> bytes:
    head = msgspec.json.encode(
        {"format": 1, "exported_at_ms": int(time.time() * 1000), "hl_local_version": __version__}
    )
    body = b",".join(msgspec.json.encode(name) + b":" + value for name, value in parts.items())
    return head[:-1] + b"," + body + b"}"


def _length(events: bytes) -> int:
    return len(msgspec.json.decode(events, type=list[msgspec.Raw]))


def _title(session: bytes, traces: list[str]) -> str:
    if session != b"null":
        found = msgspec.json.decode(session)
        return f"Session {found.get('identifier') or found['session_id']}"
    return f"Trace {traces[0]}"


def _packed(data: bytes, level: int = GZIP_LEVEL) -> str:
    return base64.b64encode(gzip.compress(data, level, mtime=0)).decode()


def _bundle(name: str) -> str:
    try:
        return (resources.files("hl_local") / "static" / name).read_text()
    except FileNotFoundError:
        raise ExportError(
            f"the UI bundle has no {name}: rebuild it with `npm --prefix web run build` (or reinstall)"
        ) from None


def page(data: bytes, events: bytes, title: str) -> bytes:
    """The whole page: CSP, styles, the data elements, the packed bundle and its loader (by their hashes).

    The bundle (~245 KB) is stored gzip + base64 too (~110 KB) and run by the small loader, which
    the CSP allows by its hash as it allows the bundle by its own.
    """
    bundle = _bundle("export.js")
    # `</script` or `<!--` inside the loader would end it early; in JS, `<\/` and `<\!` mean the same.
    loader = _bundle("export-loader.js").replace("</script", "<\\/script").replace("<!--", "<\\!--")
    hashes = " ".join(f"'sha256-{_sha256(text)}'" for text in (loader, bundle))
    styles = _bundle("export.css").replace("</style", "<\\/style")
    policy = CSP.format(script=hashes)
    text = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hl-local {__version__}">
<title>{html.escape(title)} · hl-local</title>
<style>{styles}</style>
</head>
<body>
<div id="app"><noscript>This page needs JavaScript to replay the recording.</noscript></div>
<script type="application/octet-stream" id="hl-data">{_packed(data)}</script>
<script type="application/octet-stream" id="hl-events">{_packed(events)}</script>
<script type="application/octet-stream" id="hl-app">{_packed(bundle.encode(), 9)}</script>
<script type="module">{loader}</script>
</body>
</html>
"""
    return text.encode()


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
